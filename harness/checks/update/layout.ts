// Firmware image surgery from a declared ImageLayout, pure (no I/O). The
// CRC-32 is a small table-driven IEEE 802.3 one written here because Node 20
// has no crc32 (zlib.crc32 arrived in Node 22) and a dependency for twenty
// lines is not worth it. Offsets may be negative (from the end); every range
// is resolved against the length of the image it is applied to, so a
// signature declared at -64 stays the last 64 bytes after an insert.

import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { ByteRange, ImageLayout } from '../../model/index.js';

export interface Span {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

/** An offset against a length: negative counts from the end; clamped to [0, length]. */
export function resolveOffset(at: number, length: number): number {
  const o = at < 0 ? length + at : at;
  return Math.min(Math.max(o, 0), length);
}

/** [start, end) against an image length; no end = to the end; never inverted. */
export function resolveRange(range: ByteRange, length: number): Span {
  const start = resolveOffset(range.start, length);
  const end = range.end === undefined ? length : resolveOffset(range.end, length);
  return { start, end: Math.max(start, end) };
}

export type MutationKind = 'flip' | 'set' | 'insert' | 'delete';

export interface Mutation {
  readonly kind: MutationKind;
  readonly offset: number;
  /** flip: the bit (0..7); set / insert: the byte; delete: unused. */
  readonly value?: number;
}

/** A new image with one mutation applied; the input is never changed. Offsets past the end clamp to it. */
export function applyMutation(image: Uint8Array, m: Mutation): Buffer {
  const src = Buffer.from(image);
  const at = Math.min(Math.max(m.offset, 0), src.length);
  switch (m.kind) {
    case 'flip': {
      if (at >= src.length) return src;
      src[at] = src[at]! ^ (1 << ((m.value ?? 0) & 7));
      return src;
    }
    case 'set': {
      if (at >= src.length) return src;
      src[at] = (m.value ?? 0) & 0xff;
      return src;
    }
    case 'insert':
      return Buffer.concat([src.subarray(0, at), Buffer.from([(m.value ?? 0) & 0xff]), src.subarray(at)]);
    case 'delete':
      if (at >= src.length) return src;
      return Buffer.concat([src.subarray(0, at), src.subarray(at + 1)]);
  }
}

export function describeMutation(m: Mutation): string {
  const hex = (v: number | undefined) => `0x${((v ?? 0) & 0xff).toString(16).padStart(2, '0')}`;
  switch (m.kind) {
    case 'flip':
      return `flip bit ${(m.value ?? 0) & 7} at offset ${m.offset}`;
    case 'set':
      return `set byte ${hex(m.value)} at offset ${m.offset}`;
    case 'insert':
      return `insert byte ${hex(m.value)} at offset ${m.offset}`;
    case 'delete':
      return `delete the byte at offset ${m.offset}`;
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, reflected, init and xor-out 0xFFFFFFFF): "123456789" -> 0xCBF43926. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export type Digest = ImageLayout['digests'][number];

/** The bytes a declared digest should hold for `image` (sha256: 32; crc32: 4, big-endian). */
export function digestOf(kind: Digest['kind'], data: Uint8Array): Buffer {
  if (kind === 'sha256') return createHash('sha256').update(data).digest();
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(data));
  return out;
}

/** Rewrites every declared digest, in declaration order (a later one may cover an earlier one). Fields that do not fit are left alone. */
export function recomputeDigests(image: Uint8Array, layout: ImageLayout | undefined): Buffer {
  const out = Buffer.from(image);
  for (const d of layout?.digests ?? []) {
    const span = resolveRange(d.covers, out.length);
    const value = digestOf(d.kind, out.subarray(span.start, span.end));
    const at = resolveOffset(d.at, out.length);
    if (at + value.length <= out.length) value.copy(out, at);
  }
  return out;
}

/** Why the declared digests do not match `image` (recomputing them changes it), or undefined when they do. */
export function digestMismatch(image: Uint8Array, layout: ImageLayout | undefined): string | undefined {
  const src = Buffer.from(image);
  for (const d of layout?.digests ?? []) {
    const span = resolveRange(d.covers, src.length);
    const value = digestOf(d.kind, src.subarray(span.start, span.end));
    const at = resolveOffset(d.at, src.length);
    if (at + value.length > src.length) return `the ${d.kind} field at ${d.at} does not fit in a ${src.length}-byte image`;
    if (!value.equals(src.subarray(at, at + value.length))) {
      return `the ${d.kind} at ${d.at} over [${span.start}, ${span.end}) is not the ${d.kind} of those bytes`;
    }
  }
  return undefined;
}

export type SignatureField = NonNullable<ImageLayout['signature']>;

/** Where the signature is in an image of this length. */
export function signatureSpan(sig: SignatureField, length: number): Span {
  const start = resolveOffset(sig.at, length);
  return { start, end: Math.min(start + sig.length, length) };
}

/** The image with its signature bytes zeroed (digests recomputed, so only the signature is wrong). */
export function stripSignature(image: Uint8Array, layout: ImageLayout & { signature: SignatureField }): Buffer {
  const out = Buffer.from(image);
  const s = signatureSpan(layout.signature, out.length);
  out.fill(0, s.start, s.end);
  return recomputeDigests(out, layout);
}

/**
 * The image with its signature bytes removed altogether. Digests are left as
 * they were: they still describe the unchanged bytes, while ranges declared
 * from the end would now resolve to other bytes.
 */
export function cutSignature(image: Uint8Array, layout: ImageLayout & { signature: SignatureField }): Buffer {
  const src = Buffer.from(image);
  const s = signatureSpan(layout.signature, src.length);
  return Buffer.concat([src.subarray(0, s.start), src.subarray(s.end)]);
}

/** What the signature signs: the declared `covers`, or else every byte but the signature's own. */
export function signedBytes(image: Uint8Array, sig: SignatureField): Buffer {
  const src = Buffer.from(image);
  if (sig.covers) {
    const c = resolveRange(sig.covers, src.length);
    return src.subarray(c.start, c.end);
  }
  const s = signatureSpan(sig, src.length);
  return Buffer.concat([src.subarray(0, s.start), src.subarray(s.end)]);
}

/** Re-signs with an Ed25519 key that is not the vendor's (a fresh one unless given); digests recomputed first. */
export function resignEd25519(image: Uint8Array, layout: ImageLayout & { signature: SignatureField }, key?: KeyObject): { image: Buffer; publicKey: KeyObject } {
  const privateKey = key ?? generateKeyPairSync('ed25519').privateKey;
  const out = recomputeDigests(image, layout);
  const signature = sign(null, signedBytes(out, layout.signature), privateKey);
  const s = signatureSpan(layout.signature, out.length);
  signature.copy(out, s.start, 0, Math.min(signature.length, s.end - s.start));
  // Digests that cover the signature must see the new one.
  const final = recomputeDigests(out, layout);
  return { image: final, publicKey: createPublicKey(privateKey) };
}

export type VersionField = NonNullable<ImageLayout['version']>;

/** The big-endian unsigned version field. */
export function readVersionField(image: Uint8Array, field: VersionField): bigint {
  const at = resolveOffset(field.at, image.length);
  let v = 0n;
  for (let i = 0; i < field.length; i++) v = (v << 8n) | BigInt(image[at + i] ?? 0);
  return v;
}

/** A new image with the version field set (big-endian, truncated to the field's width). */
export function writeVersionField(image: Uint8Array, field: VersionField, value: bigint): Buffer {
  const out = Buffer.from(image);
  const at = resolveOffset(field.at, out.length);
  let v = value;
  for (let i = field.length - 1; i >= 0; i--) {
    if (at + i < out.length) out[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Why the layout does not fit the image (a field outside it), or undefined. */
export function layoutMismatch(image: Uint8Array, layout: ImageLayout | undefined): string | undefined {
  if (!layout) return undefined;
  const n = image.length;
  const fits = (at: number, len: number) => {
    const o = at < 0 ? n + at : at;
    return o >= 0 && o + len <= n;
  };
  if (layout.signature && !fits(layout.signature.at, layout.signature.length)) return `the signature (${layout.signature.length} bytes at ${layout.signature.at}) is outside the ${n}-byte image`;
  if (layout.version && !fits(layout.version.at, layout.version.length)) return `the version field (${layout.version.length} bytes at ${layout.version.at}) is outside the ${n}-byte image`;
  if (layout.payload) {
    const p = resolveRange(layout.payload, n);
    if (p.end <= p.start) return `the payload range is empty in the ${n}-byte image`;
  }
  return digestMismatch(image, layout);
}
