// The DTLS record layer framing (RFC 6347 4.1): splitting a datagram into
// records and encoding one record. Protection (MAC, encryption) lives in
// record-protection.ts; this file never looks inside a fragment.

export const CONTENT_TYPE = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const;

/** Protocol versions on the wire: DTLS counts down (RFC 6347 4.1: 1.0 = {254,255}, 1.2 = {254,253}). */
export const DTLS_1_0 = 0xfeff;
export const DTLS_1_2 = 0xfefd;

export const RECORD_HEADER_LENGTH = 13;
/** RFC 5246 6.2.3: a protected fragment may not exceed 2^14 + 2048 bytes. */
export const MAX_RECORD_FRAGMENT = 16384 + 2048;
/** Sequence numbers are 48 bits (RFC 6347 4.1). */
export const MAX_SEQUENCE = 2 ** 48 - 1;
/** More records than this in one datagram are not read (a 64 KiB datagram could otherwise carry 5000 empty ones). */
const MAX_RECORDS_PER_DATAGRAM = 32;

export interface DtlsRecord {
  readonly type: number;
  readonly version: number;
  readonly epoch: number;
  readonly seq: number;
  readonly fragment: Buffer;
}

/**
 * The records of a datagram, in order. Reading stops at the first header that
 * is cut short or whose length runs past the datagram or the RFC limit: RFC
 * 6347 4.1.2.7 lets invalid records be discarded, and a lying length leaves no
 * way to find the next record boundary.
 */
export function parseRecords(datagram: Buffer): DtlsRecord[] {
  const records: DtlsRecord[] = [];
  let at = 0;
  while (at + RECORD_HEADER_LENGTH <= datagram.length && records.length < MAX_RECORDS_PER_DATAGRAM) {
    const length = datagram.readUInt16BE(at + 11);
    if (length > MAX_RECORD_FRAGMENT || at + RECORD_HEADER_LENGTH + length > datagram.length) break;
    records.push({
      type: datagram.readUInt8(at),
      version: datagram.readUInt16BE(at + 1),
      epoch: datagram.readUInt16BE(at + 3),
      seq: datagram.readUIntBE(at + 5, 6),
      fragment: datagram.subarray(at + RECORD_HEADER_LENGTH, at + RECORD_HEADER_LENGTH + length),
    });
    at += RECORD_HEADER_LENGTH + length;
  }
  return records;
}

export function encodeRecord(r: DtlsRecord): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + r.fragment.length);
  out.writeUInt8(r.type, 0);
  out.writeUInt16BE(r.version, 1);
  out.writeUInt16BE(r.epoch, 3);
  out.writeUIntBE(r.seq, 5, 6);
  out.writeUInt16BE(r.fragment.length, 11);
  r.fragment.copy(out, RECORD_HEADER_LENGTH);
  return out;
}

/** Epoch and sequence number as the 8-byte seq_num of MAC and AEAD inputs (RFC 6347 4.1.2.1). */
export function sequenceBytes(epoch: number, seq: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeUInt16BE(epoch, 0);
  out.writeUIntBE(seq, 2, 6);
  return out;
}

/** Groups encoded records into datagrams of at most `mtu` bytes (a record larger than that goes alone). */
export function packDatagrams(records: readonly Buffer[], mtu: number): Buffer[] {
  const datagrams: Buffer[] = [];
  let current: Buffer[] = [];
  let size = 0;
  for (const r of records) {
    if (current.length > 0 && size + r.length > mtu) {
      datagrams.push(Buffer.concat(current));
      current = [];
      size = 0;
    }
    current.push(r);
    size += r.length;
  }
  if (current.length > 0) datagrams.push(Buffer.concat(current));
  return datagrams;
}
