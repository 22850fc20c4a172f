// The reference device's firmware image format "RDFW" v1: building a signed
// image, parsing one, and the install-time verification (product, payload
// digest, Ed25519 signature, anti-rollback) with the update flaws that weaken
// it. Layout (all integers big-endian):
//
//   offset  size  field
//   0       4     magic "RDFW"
//   4       1     format version = 1
//   5       3     reserved, zero
//   8       4     version counter, u32: major<<16 | minor<<8 | patch (2.0.0 = 0x00020000)
//   12      32    SHA-256 of the payload
//   44      4     payload length N, u32
//   48      16    vendor, ASCII, NUL-padded
//   64      16    model, ASCII, NUL-padded
//   80      48    reserved, zero
//   128     N     payload
//   128+N   64    Ed25519 signature over bytes [0, 128+N)
//
// The manifest is bytes [0, 128). Reserved bytes are written as zero and not
// checked on parse (the signature covers them).

import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import type { Flaw } from './flaws.js';

export const IMAGE_MAGIC = 'RDFW';
export const IMAGE_FORMAT_VERSION = 1;
export const MANIFEST_BYTES = 128;
export const SIGNATURE_BYTES = 64;
/** Field offsets and sizes of the manifest. */
export const FIELD = Object.freeze({
  magic: { at: 0, length: 4 },
  format: { at: 4, length: 1 },
  version: { at: 8, length: 4 },
  digest: { at: 12, length: 32 },
  payloadLength: { at: 44, length: 4 },
  vendor: { at: 48, length: 16 },
  model: { at: 64, length: 16 },
});

export interface ImageFields {
  /** "2.0.0", or the raw u32 counter. */
  readonly version: string | number;
  readonly payload: Buffer;
  /** At most 16 ASCII characters each. */
  readonly vendor: string;
  readonly model: string;
}

export interface BuildOptions {
  /**
   * What the signature covers: the whole image [0, 128+N) (the format; the
   * default), or the manifest [0, 128) only: how the vendor build of a unit
   * with the manifest-only-signature flaw signs.
   */
  readonly coverage?: 'image' | 'manifest';
}

export interface ParsedImage {
  readonly formatVersion: number;
  /** The u32 version counter. */
  readonly version: number;
  /** The counter as "major.minor.patch". */
  readonly versionString: string;
  /** The SHA-256 the manifest declares for the payload. */
  readonly digest: Buffer;
  readonly payloadLength: number;
  /** Vendor and model up to their first NUL. */
  readonly vendor: string;
  readonly model: string;
  /** Bytes [0, 128). */
  readonly manifest: Buffer;
  readonly payload: Buffer;
  /** Bytes [0, 128+N): what the signature covers. */
  readonly signed: Buffer;
  readonly signature: Buffer;
}

export type RejectReason = 'malformed' | 'wrong-product' | 'digest-mismatch' | 'bad-signature' | 'not-newer';

export type Verification =
  | { readonly ok: true; readonly version: string }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

export interface VerifyContext {
  /** The unit's flaws (only the update ones matter here). */
  readonly flaws: ReadonlySet<Flaw> | readonly Flaw[];
  /** The running version ("1.0.0"); the image must be strictly newer. */
  readonly currentVersion: string;
  readonly vendor: string;
  readonly model: string;
}

const VERSION = /^(\d{1,5})\.(\d{1,3})\.(\d{1,3})$/;

/** "2.0.0" -> 0x00020000. Throws a RangeError for anything that does not fit major<=65535, minor and patch<=255. */
export function versionCounter(version: string): number {
  const m = VERSION.exec(version);
  const [major, minor, patch] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [NaN, NaN, NaN];
  if (!m || major > 0xffff || minor > 0xff || patch > 0xff) {
    throw new RangeError(`expected a version like 2.0.0 (major up to 65535, minor and patch up to 255), got ${JSON.stringify(version)}`);
  }
  return ((major << 16) | (minor << 8) | patch) >>> 0;
}

/** 0x00020000 -> "2.0.0". Throws a RangeError for anything that is not a u32. */
export function versionString(counter: number): string {
  if (!Number.isInteger(counter) || counter < 0 || counter > 0xffff_ffff) throw new RangeError(`expected a u32 version counter, got ${counter}`);
  return `${counter >>> 16}.${(counter >>> 8) & 0xff}.${counter & 0xff}`;
}

/** A vendor or model field: ASCII, NUL-padded to 16 bytes. Throws a RangeError if it does not fit. */
export function productField(text: string): Buffer {
  if (!/^[\x20-\x7e]{1,16}$/.test(text)) throw new RangeError(`expected 1 to 16 printable ASCII characters, got ${JSON.stringify(text)}`);
  const out = Buffer.alloc(16);
  out.write(text, 'latin1');
  return out;
}

export const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** A signed RDFW v1 image. */
export function buildImage(fields: ImageFields, privateKey: KeyObject, opts: BuildOptions = {}): Buffer {
  const counter = typeof fields.version === 'number' ? (versionString(fields.version), fields.version) : versionCounter(fields.version);
  const n = fields.payload.length;
  const image = Buffer.alloc(MANIFEST_BYTES + n + SIGNATURE_BYTES);
  image.write(IMAGE_MAGIC, FIELD.magic.at, 'latin1');
  image.writeUInt8(IMAGE_FORMAT_VERSION, FIELD.format.at);
  image.writeUInt32BE(counter, FIELD.version.at);
  sha256(fields.payload).copy(image, FIELD.digest.at);
  image.writeUInt32BE(n, FIELD.payloadLength.at);
  productField(fields.vendor).copy(image, FIELD.vendor.at);
  productField(fields.model).copy(image, FIELD.model.at);
  fields.payload.copy(image, MANIFEST_BYTES);
  const covered = image.subarray(0, opts.coverage === 'manifest' ? MANIFEST_BYTES : MANIFEST_BYTES + n);
  sign(null, covered, privateKey).copy(image, MANIFEST_BYTES + n);
  return image;
}

const text = (field: Buffer): string => {
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('latin1');
};

/** The fields of an image, or why it is not a well-formed RDFW v1 image (its lengths must match its size exactly). */
export function parseImage(buf: Buffer): ParsedImage | string {
  if (buf.length < MANIFEST_BYTES + SIGNATURE_BYTES) return `${buf.length} bytes: shorter than a manifest and a signature (${MANIFEST_BYTES + SIGNATURE_BYTES})`;
  if (buf.toString('latin1', 0, 4) !== IMAGE_MAGIC) return 'bad magic (expected "RDFW")';
  const formatVersion = buf.readUInt8(FIELD.format.at);
  if (formatVersion !== IMAGE_FORMAT_VERSION) return `unknown format version ${formatVersion}`;
  const payloadLength = buf.readUInt32BE(FIELD.payloadLength.at);
  if (MANIFEST_BYTES + payloadLength + SIGNATURE_BYTES !== buf.length) {
    return `payload length ${payloadLength} does not match the image size ${buf.length} (expected ${MANIFEST_BYTES + payloadLength + SIGNATURE_BYTES})`;
  }
  const version = buf.readUInt32BE(FIELD.version.at);
  const end = MANIFEST_BYTES + payloadLength;
  return {
    formatVersion,
    version,
    versionString: versionString(version),
    digest: Buffer.from(buf.subarray(FIELD.digest.at, FIELD.digest.at + FIELD.digest.length)),
    payloadLength,
    vendor: text(buf.subarray(FIELD.vendor.at, FIELD.vendor.at + 16)),
    model: text(buf.subarray(FIELD.model.at, FIELD.model.at + 16)),
    manifest: buf.subarray(0, MANIFEST_BYTES),
    payload: buf.subarray(MANIFEST_BYTES, end),
    signed: buf.subarray(0, end),
    signature: buf.subarray(end, end + SIGNATURE_BYTES),
  };
}

function signatureValid(data: Buffer, publicKey: KeyObject, signature: Buffer): boolean {
  try {
    return verify(null, data, publicKey, signature);
  } catch {
    return false;
  }
}

/**
 * Whether a unit installs an image, in the device's order: well-formed; vendor
 * and model are the unit's (the whole 16-byte fields); the payload's SHA-256 is
 * the manifest's; the Ed25519 signature over [0, 128+N) verifies with the
 * unit's key; the version is strictly newer than the running one. The flaws:
 * - unsigned-accepted: an all-zero signature is not verified (any other is);
 * - digest-only: the signature is not verified at all;
 * - manifest-only-signature: the signature is verified over [0, 128) only and
 *   the payload digest is not checked;
 * - rollback-allowed: the version is not compared.
 */
export function verifyImage(buf: Buffer, publicKey: KeyObject, ctx: VerifyContext): Verification {
  const flaws: ReadonlySet<Flaw> = ctx.flaws instanceof Set ? ctx.flaws : new Set(ctx.flaws as readonly Flaw[]);
  const img = parseImage(buf);
  if (typeof img === 'string') return { ok: false, reason: 'malformed', detail: img };

  const vendorField = buf.subarray(FIELD.vendor.at, FIELD.vendor.at + 16);
  const modelField = buf.subarray(FIELD.model.at, FIELD.model.at + 16);
  if (!vendorField.equals(productField(ctx.vendor)) || !modelField.equals(productField(ctx.model))) {
    return { ok: false, reason: 'wrong-product', detail: `image for ${JSON.stringify(img.vendor)} ${JSON.stringify(img.model)}, unit is ${JSON.stringify(ctx.vendor)} ${JSON.stringify(ctx.model)}` };
  }

  const manifestOnly = flaws.has('manifest-only-signature');
  if (!manifestOnly && !sha256(img.payload).equals(img.digest)) {
    return { ok: false, reason: 'digest-mismatch', detail: 'the payload does not match the SHA-256 in the manifest' };
  }

  const unsigned = img.signature.every((b) => b === 0);
  const skipSignature = flaws.has('digest-only') || (unsigned && flaws.has('unsigned-accepted'));
  if (!skipSignature && !signatureValid(manifestOnly ? img.manifest : img.signed, publicKey, img.signature)) {
    return { ok: false, reason: 'bad-signature', detail: unsigned ? 'the image is unsigned' : 'the signature does not verify with the vendor key' };
  }

  if (!flaws.has('rollback-allowed') && img.version <= versionCounter(ctx.currentVersion)) {
    return { ok: false, reason: 'not-newer', detail: `image version ${img.versionString} is not newer than the running ${ctx.currentVersion}` };
  }
  return { ok: true, version: img.versionString };
}
