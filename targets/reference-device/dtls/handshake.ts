// DTLS handshake messages (RFC 6347 4.2.2 header; RFC 5246 7.4 bodies; RFC
// 4279 PSK key exchange): reading the fragments of a record, encoding the
// server's messages, parsing the client's. Parsers return undefined on any
// malformed input and never throw.

export const HANDSHAKE_TYPE = {
  clientHello: 1,
  serverHello: 2,
  helloVerifyRequest: 3,
  serverKeyExchange: 12,
  serverHelloDone: 14,
  clientKeyExchange: 16,
  finished: 20,
} as const;

export const HANDSHAKE_HEADER_LENGTH = 12;
/** Longest handshake message accepted: PSK handshakes need a few hundred bytes. */
export const MAX_MESSAGE_LENGTH = 16 * 1024;

export const EXTENSION = { extendedMasterSecret: 0x0017, renegotiationInfo: 0xff01 } as const;
/** RFC 5746 3.3: the signalling suite value meaning "secure renegotiation supported". */
export const RENEGOTIATION_SCSV = 0x00ff;

export interface HandshakeFragment {
  readonly type: number;
  /** Length of the whole message. */
  readonly length: number;
  readonly seq: number;
  readonly offset: number;
  readonly body: Buffer;
}

export type FragmentsResult =
  | { readonly ok: true; readonly fragments: readonly HandshakeFragment[] }
  /** `inconsistent`: the fragment header contradicts itself or the record (the dtls-crash-fragment trigger). */
  | { readonly ok: false; readonly inconsistent: string };

/**
 * The handshake fragments of one record's plaintext (a record may carry
 * several). Fragments of messages longer than MAX_MESSAGE_LENGTH are left out.
 */
export function parseFragments(data: Buffer): FragmentsResult {
  const fragments: HandshakeFragment[] = [];
  let at = 0;
  while (at < data.length) {
    if (data.length - at < HANDSHAKE_HEADER_LENGTH) return { ok: false, inconsistent: `${data.length - at} trailing bytes are no handshake header` };
    const type = data.readUInt8(at);
    const length = data.readUIntBE(at + 1, 3);
    const seq = data.readUInt16BE(at + 4);
    const offset = data.readUIntBE(at + 6, 3);
    const fragmentLength = data.readUIntBE(at + 9, 3);
    if (offset + fragmentLength > length) {
      return { ok: false, inconsistent: `fragment_offset ${offset} + fragment_length ${fragmentLength} > length ${length}` };
    }
    if (at + HANDSHAKE_HEADER_LENGTH + fragmentLength > data.length) {
      return { ok: false, inconsistent: `fragment_length ${fragmentLength} runs past the record (${data.length - at - HANDSHAKE_HEADER_LENGTH} bytes left)` };
    }
    const body = data.subarray(at + HANDSHAKE_HEADER_LENGTH, at + HANDSHAKE_HEADER_LENGTH + fragmentLength);
    if (length <= MAX_MESSAGE_LENGTH) fragments.push({ type, length, seq, offset, body });
    at += HANDSHAKE_HEADER_LENGTH + fragmentLength;
  }
  return { ok: true, fragments };
}

/** True if the fragment is a whole message. */
export function isWhole(f: HandshakeFragment): boolean {
  return f.offset === 0 && f.body.length === f.length;
}

/** A whole message with its 12-byte header, as it is also hashed into the transcript (RFC 6347 4.2.6). */
export function encodeMessage(type: number, seq: number, body: Buffer): Buffer {
  return encodeFragment(type, seq, body.length, 0, body);
}

function encodeFragment(type: number, seq: number, length: number, offset: number, part: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HANDSHAKE_HEADER_LENGTH + part.length);
  out.writeUInt8(type, 0);
  out.writeUIntBE(length, 1, 3);
  out.writeUInt16BE(seq, 4);
  out.writeUIntBE(offset, 6, 3);
  out.writeUIntBE(part.length, 9, 3);
  part.copy(out, HANDSHAKE_HEADER_LENGTH);
  return out;
}

/** A message split into fragments of at most `maxBody` body bytes, each to go into its own record. */
export function fragmentMessage(type: number, seq: number, body: Buffer, maxBody: number): Buffer[] {
  if (body.length <= maxBody) return [encodeMessage(type, seq, body)];
  const out: Buffer[] = [];
  for (let offset = 0; offset < body.length; offset += maxBody) {
    out.push(encodeFragment(type, seq, body.length, offset, body.subarray(offset, offset + maxBody)));
  }
  return out;
}

export interface ClientHello {
  readonly version: number;
  readonly random: Buffer;
  readonly sessionId: Buffer;
  readonly cookie: Buffer;
  readonly suites: readonly number[];
  readonly compressions: Buffer;
  /** Extension type to data; the first of duplicates wins. */
  readonly extensions: ReadonlyMap<number, Buffer>;
  /** Every field but the cookie and the extensions, as on the wire: what the cookie covers. */
  readonly cookieInput: Buffer;
}

/** A cursor over a buffer whose reads return undefined past the end. */
class Reader {
  private at = 0;
  constructor(private readonly data: Buffer) {}
  get left(): number {
    return this.data.length - this.at;
  }
  get position(): number {
    return this.at;
  }
  uint(bytes: 1 | 2 | 3): number | undefined {
    if (this.left < bytes) return undefined;
    const v = this.data.readUIntBE(this.at, bytes);
    this.at += bytes;
    return v;
  }
  bytes(n: number): Buffer | undefined {
    if (this.left < n) return undefined;
    const v = this.data.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  /** A vector with a 1-, 2- or 3-byte length prefix. */
  vector(lengthBytes: 1 | 2 | 3): Buffer | undefined {
    const n = this.uint(lengthBytes);
    return n === undefined ? undefined : this.bytes(n);
  }
}

export function parseClientHello(body: Buffer): ClientHello | undefined {
  const r = new Reader(body);
  const version = r.uint(2);
  const random = r.bytes(32);
  const sessionId = r.vector(1);
  const afterSessionId = r.position;
  const cookie = r.vector(1);
  const afterCookie = r.position;
  const suiteBytes = r.vector(2);
  const compressions = r.vector(1);
  const afterCompressions = r.position;
  if (version === undefined || random === undefined || sessionId === undefined || cookie === undefined) return undefined;
  if (suiteBytes === undefined || compressions === undefined) return undefined;
  if (sessionId.length > 32 || suiteBytes.length < 2 || suiteBytes.length % 2 !== 0 || compressions.length < 1) return undefined;
  const suites: number[] = [];
  for (let i = 0; i < suiteBytes.length; i += 2) suites.push(suiteBytes.readUInt16BE(i));
  const extensions = new Map<number, Buffer>();
  if (r.left > 0) {
    const block = r.vector(2);
    if (block === undefined || r.left !== 0) return undefined;
    const e = new Reader(block);
    while (e.left > 0) {
      const type = e.uint(2);
      const data = e.vector(2);
      if (type === undefined || data === undefined) return undefined;
      if (!extensions.has(type)) extensions.set(type, data);
    }
  }
  const cookieInput = Buffer.concat([body.subarray(0, afterSessionId), body.subarray(afterCookie, afterCompressions)]);
  return { version, random, sessionId, cookie, suites, compressions, extensions, cookieInput };
}

export function encodeHelloVerifyRequest(version: number, cookie: Buffer): Buffer {
  const out = Buffer.allocUnsafe(3 + cookie.length);
  out.writeUInt16BE(version, 0);
  out.writeUInt8(cookie.length, 2);
  cookie.copy(out, 3);
  return out;
}

export interface ServerHelloFields {
  readonly version: number;
  readonly random: Buffer;
  readonly suite: number;
  /** [type, data] pairs, in order; none = no extensions block. */
  readonly extensions: readonly (readonly [number, Buffer])[];
}

export function encodeServerHello(h: ServerHelloFields): Buffer {
  const head = Buffer.allocUnsafe(2 + 32 + 1 + 2 + 1);
  head.writeUInt16BE(h.version, 0);
  h.random.copy(head, 2);
  head.writeUInt8(0, 34); // empty session_id: sessions are not cached for resumption
  head.writeUInt16BE(h.suite, 35);
  head.writeUInt8(0, 37); // compression: null
  if (h.extensions.length === 0) return head;
  const exts = h.extensions.map(([type, data]) => {
    const e = Buffer.allocUnsafe(4 + data.length);
    e.writeUInt16BE(type, 0);
    e.writeUInt16BE(data.length, 2);
    data.copy(e, 4);
    return e;
  });
  const block = Buffer.concat(exts);
  const length = Buffer.allocUnsafe(2);
  length.writeUInt16BE(block.length, 0);
  return Buffer.concat([head, length, block]);
}

/** RFC 4279 2: ServerKeyExchange carries only psk_identity_hint<0..2^16-1>. */
export function encodePskServerKeyExchange(hint: Buffer): Buffer {
  const out = Buffer.allocUnsafe(2 + hint.length);
  out.writeUInt16BE(hint.length, 0);
  hint.copy(out, 2);
  return out;
}

/** RFC 4279 2: ClientKeyExchange carries only psk_identity<0..2^16-1>. */
export function parsePskClientKeyExchange(body: Buffer): Buffer | undefined {
  const r = new Reader(body);
  const identity = r.vector(2);
  return identity !== undefined && r.left === 0 ? identity : undefined;
}
