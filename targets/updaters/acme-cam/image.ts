// The "ACME" firmware image format of the Acme IP camera emulator: building a
// signed image, and the camera's own parser and verifier (length, CRC-32,
// RSA signature). An image is
//
//   offset  size  field
//        0     4  magic "ACM1"
//        4     1  header version (1)
//        5     1  reserved (0)
//        6     2  firmware version, u16 big-endian = major*100 + minor (5.3 -> 503)
//        8     8  reserved (0)
//       16     4  CRC-32 (IEEE 802.3, zlib's) of the payload, u32 big-endian
//       20     4  payload length, u32 big-endian
//       24     8  reserved (0)
//       32     n  payload
//     32+n   256  RSA-2048 PKCS#1 v1.5 SHA-256 signature over bytes [0, 32+n)
//
// Versions are "major.minor" strings everywhere (the info page, the target
// file), minor 0..99.

import { createSign, createVerify, type KeyObject } from 'node:crypto';

export const MAGIC = Buffer.from('ACM1', 'latin1');
export const HEADER_VERSION = 1;
export const HEADER_BYTES = 32;
export const SIGNATURE_BYTES = 256;
export const VERSION_OFFSET = 6;
export const CRC_OFFSET = 16;
export const LENGTH_OFFSET = 20;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 (IEEE, reflected, init and xor-out 0xFFFFFFFF), as zlib computes it.
 * The camera's own, not the harness's (harness/checks/update/layout.ts): a
 * device sharing the harness's code would agree with a bug in it.
 */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** "5.3" -> 503. Throws on anything else. */
export function versionCode(version: string): number {
  const m = /^(\d{1,3})\.(\d{1,2})$/.exec(version);
  const code = m ? Number(m[1]) * 100 + Number(m[2]) : NaN;
  if (!Number.isInteger(code) || code > 0xffff) throw new Error(`expected a version like 5.3 (major.minor, minor < 100), got "${version}"`);
  return code;
}

/** 503 -> "5.3". */
export function versionString(code: number): string {
  return `${Math.floor(code / 100)}.${code % 100}`;
}

/** Builds a signed image of `version` around `payload`. */
export function buildImage(opts: { version: string; payload: Buffer; privateKey: KeyObject }): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt8(HEADER_VERSION, 4);
  header.writeUInt16BE(versionCode(opts.version), VERSION_OFFSET);
  header.writeUInt32BE(crc32(opts.payload), CRC_OFFSET);
  header.writeUInt32BE(opts.payload.length, LENGTH_OFFSET);
  const signed = Buffer.concat([header, opts.payload]);
  const signature = createSign('sha256').update(signed).sign(opts.privateKey);
  if (signature.length !== SIGNATURE_BYTES) throw new Error(`expected an RSA-2048 key (signature of ${signature.length} bytes)`);
  return Buffer.concat([signed, signature]);
}

export type ImageVerdict =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly reason: 'format' | 'length' | 'crc' | 'signature'; readonly detail: string };

/** The header alone: magic and version field, as far as the bytes go. */
export function readHeader(image: Buffer): { ok: true; version: number } | { ok: false; detail: string } {
  if (image.length < HEADER_BYTES) return { ok: false, detail: `image of ${image.length} bytes has no complete header` };
  if (!image.subarray(0, 4).equals(MAGIC)) return { ok: false, detail: 'bad magic' };
  if (image.readUInt8(4) !== HEADER_VERSION) return { ok: false, detail: `unsupported header version ${image.readUInt8(4)}` };
  return { ok: true, version: image.readUInt16BE(VERSION_OFFSET) };
}

/** The camera's full verification: header, exact length, payload CRC, then the signature with `publicKey`. */
export function verifyImage(image: Buffer, publicKey: KeyObject): ImageVerdict {
  const h = readHeader(image);
  if (!h.ok) return { ok: false, reason: 'format', detail: h.detail };
  const payloadLength = image.readUInt32BE(LENGTH_OFFSET);
  const expected = HEADER_BYTES + payloadLength + SIGNATURE_BYTES;
  if (image.length !== expected) return { ok: false, reason: 'length', detail: `header says ${expected} bytes, got ${image.length}` };
  const payload = image.subarray(HEADER_BYTES, HEADER_BYTES + payloadLength);
  if (crc32(payload) !== image.readUInt32BE(CRC_OFFSET)) return { ok: false, reason: 'crc', detail: 'payload CRC-32 mismatch' };
  const signed = image.subarray(0, image.length - SIGNATURE_BYTES);
  const signature = image.subarray(image.length - SIGNATURE_BYTES);
  let valid = false;
  try {
    valid = createVerify('sha256').update(signed).verify(publicKey, signature);
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, reason: 'signature', detail: 'signature does not verify with the camera key' };
  return { ok: true, version: h.version };
}
