// The RDFW v1 image format of the reference device (pure, no sockets): the
// version counter, building and parsing an image byte for byte, and each way
// verifyImage refuses one, hardened and under each update flaw.

import { createHash, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  buildImage,
  parseImage,
  productField,
  verifyImage,
  versionCounter,
  versionString,
  type ParsedImage,
  type VerifyContext,
} from '../../../targets/reference-device/firmware-image.js';
import type { Flaw } from '../../../targets/reference-device/index.js';

const vendorKey = generateKeyPairSync('ed25519');
const otherKey = generateKeyPairSync('ed25519');
const payload = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 37 + 11) & 0xff));
const product = { vendor: 'Gauntlet', model: 'RD-1' };
const image = (version: string | number = '2.0.0', key: KeyObject = vendorKey.privateKey, body = payload): Buffer => buildImage({ version, payload: body, ...product }, key);
const ctx = (flaws: Flaw[] = [], currentVersion = '1.0.0'): VerifyContext => ({ flaws, currentVersion, ...product });
const check = (img: Buffer, flaws: Flaw[] = [], current = '1.0.0') => verifyImage(img, vendorKey.publicKey, ctx(flaws, current));
const reason = (img: Buffer, flaws: Flaw[] = [], current = '1.0.0') => {
  const v = check(img, flaws, current);
  return v.ok ? `installs ${v.version}` : v.reason;
};
const parsed = (img: Buffer): ParsedImage => {
  const p = parseImage(img);
  if (typeof p === 'string') throw new Error(p);
  return p;
};
/** A copy with one byte XORed. */
const flip = (img: Buffer, at: number): Buffer => {
  const out = Buffer.from(img);
  out[at < 0 ? out.length + at : at]! ^= 0x01;
  return out;
};
const zeroSignature = (img: Buffer): Buffer => Buffer.concat([img.subarray(0, img.length - 64), Buffer.alloc(64)]);

describe('RDFW version counter', () => {
  it('packs major.minor.patch into a u32 and back', () => {
    expect(versionCounter('2.0.0')).toBe(0x0002_0000);
    expect(versionCounter('0.9.0')).toBe(0x0000_0900);
    expect(versionCounter('1.2.3')).toBe(0x0001_0203);
    expect(versionCounter('65535.255.255')).toBe(0xffff_ffff);
    for (const v of ['0.0.0', '1.0.0', '2.0.0', '0.9.0', '300.4.255', '65535.255.255']) expect(versionString(versionCounter(v))).toBe(v);
    expect(versionString(0x0002_0000)).toBe('2.0.0');
  });

  it('refuses what does not fit', () => {
    for (const v of ['2.0', '1.256.0', '1.0.256', '65536.0.0', 'x.y.z', '', ' 1.0.0', '-1.0.0']) expect(() => versionCounter(v), v).toThrow(RangeError);
    for (const c of [-1, 0x1_0000_0000, 1.5, NaN]) expect(() => versionString(c), String(c)).toThrow(RangeError);
  });
});

describe('RDFW build and parse', () => {
  it('lays the image out byte for byte and signs [0, 128+N)', () => {
    const img = image();
    expect(img.length).toBe(128 + payload.length + 64);
    expect(img.toString('latin1', 0, 4)).toBe('RDFW');
    expect(img[4]).toBe(1);
    expect(img.subarray(5, 8).equals(Buffer.alloc(3))).toBe(true);
    expect(img.readUInt32BE(8)).toBe(0x0002_0000);
    expect(img.subarray(12, 44).equals(createHash('sha256').update(payload).digest())).toBe(true);
    expect(img.readUInt32BE(44)).toBe(payload.length);
    expect(img.subarray(48, 64).equals(Buffer.concat([Buffer.from('Gauntlet'), Buffer.alloc(8)]))).toBe(true);
    expect(img.subarray(64, 80).equals(Buffer.concat([Buffer.from('RD-1'), Buffer.alloc(12)]))).toBe(true);
    expect(img.subarray(80, 128).equals(Buffer.alloc(48))).toBe(true);
    expect(img.subarray(128, 128 + payload.length).equals(payload)).toBe(true);
    const sig = img.subarray(128 + payload.length);
    expect(verify(null, img.subarray(0, 128 + payload.length), vendorKey.publicKey, sig)).toBe(true);
    expect(verify(null, img.subarray(0, 128), vendorKey.publicKey, sig)).toBe(false);
  });

  it('round-trips through parseImage', () => {
    const img = image('3.1.4');
    const p = parsed(img);
    expect(p).toMatchObject({ formatVersion: 1, version: 0x0003_0104, versionString: '3.1.4', payloadLength: payload.length, vendor: 'Gauntlet', model: 'RD-1' });
    expect(p.payload.equals(payload)).toBe(true);
    expect(p.digest.equals(createHash('sha256').update(payload).digest())).toBe(true);
    expect(p.manifest.equals(img.subarray(0, 128))).toBe(true);
    expect(p.signed.equals(img.subarray(0, img.length - 64))).toBe(true);
    expect(p.signature.equals(img.subarray(-64))).toBe(true);
    // A raw counter works too, and an empty payload is a valid image.
    expect(parsed(image(0x0001_0000, vendorKey.privateKey, Buffer.alloc(0)))).toMatchObject({ versionString: '1.0.0', payloadLength: 0 });
  });

  it('signs the manifest only when asked (the manifest-only-signature vendor build)', () => {
    const img = buildImage({ version: '2.0.0', payload, ...product }, vendorKey.privateKey, { coverage: 'manifest' });
    expect(verify(null, img.subarray(0, 128), vendorKey.publicKey, img.subarray(-64))).toBe(true);
    expect(img.subarray(0, img.length - 64).equals(image().subarray(0, img.length - 64))).toBe(true);
  });

  it('refuses product names that do not fit the 16-byte ASCII fields', () => {
    expect(() => productField('A'.repeat(17))).toThrow(RangeError);
    expect(() => productField('')).toThrow(RangeError);
    expect(() => productField('Gäuntlet')).toThrow(RangeError);
    expect(() => buildImage({ version: '1.0.0', payload, vendor: 'Gauntlet', model: 'model\u0000x' }, vendorKey.privateKey)).toThrow(RangeError);
  });

  it('parseImage names what is wrong with a malformed image', () => {
    const img = image();
    const bad = (b: Buffer) => {
      const p = parseImage(b);
      return typeof p === 'string' ? p : 'parsed';
    };
    expect(bad(Buffer.alloc(0))).toMatch(/shorter than/);
    expect(bad(img.subarray(0, 191))).toMatch(/shorter than/);
    expect(bad(Buffer.concat([Buffer.from('RDFX'), img.subarray(4)]))).toMatch(/magic/);
    const v2 = Buffer.from(img);
    v2[4] = 2;
    expect(bad(v2)).toMatch(/format version 2/);
    expect(bad(img.subarray(0, img.length - 1))).toMatch(/does not match the image size/);
    expect(bad(Buffer.concat([img, Buffer.alloc(1)]))).toMatch(/does not match the image size/);
    const longer = Buffer.from(img);
    longer.writeUInt32BE(payload.length + 1, 44);
    expect(bad(longer)).toMatch(/payload length/);
    // Reserved bytes are not checked by the parser (the signature covers them).
    expect(bad(flip(img, 100))).toBe('parsed');
  });
});

describe('RDFW verification (hardened)', () => {
  it('accepts a well-formed, genuine, newer image', () => {
    expect(check(image())).toEqual({ ok: true, version: '2.0.0' });
  });

  it('refuses each defect with its reason', () => {
    const img = image();
    expect(reason(img.subarray(0, img.length - 1))).toBe('malformed');
    expect(reason(Buffer.from('not an image'))).toBe('malformed');
    expect(reason(buildImage({ version: '2.0.0', payload, vendor: 'Acme', model: 'RD-1' }, vendorKey.privateKey))).toBe('wrong-product');
    expect(reason(buildImage({ version: '2.0.0', payload, vendor: 'Gauntlet', model: 'RD-2' }, vendorKey.privateKey))).toBe('wrong-product');
    expect(reason(flip(img, 128 + 10))).toBe('digest-mismatch'); // payload
    expect(reason(flip(img, 20))).toBe('digest-mismatch'); // the digest field
    expect(reason(flip(img, 9))).toBe('bad-signature'); // the version field
    expect(reason(flip(img, 100))).toBe('bad-signature'); // reserved
    expect(reason(flip(img, -1))).toBe('bad-signature'); // the signature
    expect(reason(image('2.0.0', otherKey.privateKey))).toBe('bad-signature');
    expect(reason(zeroSignature(img))).toBe('bad-signature');
    expect(reason(image('1.0.0'))).toBe('not-newer');
    expect(reason(image('0.9.0'))).toBe('not-newer');
    expect(reason(image('2.0.0'), [], '2.0.0')).toBe('not-newer');
    expect(reason(image('2.0.1'), [], '2.0.0')).toBe('installs 2.0.1');
  });

  it('checks in order: product, digest, signature, version', () => {
    // An old image signed by another key with a bad digest for another product: the product is named first.
    const worst = flip(buildImage({ version: '0.1.0', payload, vendor: 'Acme', model: 'X' }, otherKey.privateKey), 130);
    expect(reason(worst)).toBe('wrong-product');
    expect(reason(flip(image('0.1.0', otherKey.privateKey), 130))).toBe('digest-mismatch');
    expect(reason(image('0.1.0', otherKey.privateKey))).toBe('bad-signature');
  });
});

describe('RDFW verification under the update flaws', () => {
  it('unsigned-accepted: an all-zero signature is not verified, any other one is', () => {
    expect(reason(zeroSignature(image()), ['unsigned-accepted'])).toBe('installs 2.0.0');
    expect(reason(image('2.0.0', otherKey.privateKey), ['unsigned-accepted'])).toBe('bad-signature');
    expect(reason(zeroSignature(flip(image(), 130)), ['unsigned-accepted'])).toBe('digest-mismatch');
    expect(reason(zeroSignature(image('0.9.0')), ['unsigned-accepted'])).toBe('not-newer');
  });

  it('digest-only: no signature is verified, the digest still is', () => {
    expect(reason(image('2.0.0', otherKey.privateKey), ['digest-only'])).toBe('installs 2.0.0');
    expect(reason(zeroSignature(image()), ['digest-only'])).toBe('installs 2.0.0');
    expect(reason(flip(image(), 130), ['digest-only'])).toBe('digest-mismatch');
    expect(reason(image('0.9.0', otherKey.privateKey), ['digest-only'])).toBe('not-newer');
  });

  it('manifest-only-signature: the signature covers [0, 128) and the payload digest is not checked', () => {
    const manifestSigned = buildImage({ version: '2.0.0', payload, ...product }, vendorKey.privateKey, { coverage: 'manifest' });
    expect(reason(manifestSigned, ['manifest-only-signature'])).toBe('installs 2.0.0');
    expect(reason(flip(manifestSigned, 130), ['manifest-only-signature'])).toBe('installs 2.0.0');
    // Same length, any payload behind the genuine manifest.
    const swapped = Buffer.concat([manifestSigned.subarray(0, 128), Buffer.alloc(payload.length, 0xee), manifestSigned.subarray(-64)]);
    expect(reason(swapped, ['manifest-only-signature'])).toBe('installs 2.0.0');
    expect(reason(flip(manifestSigned, 9), ['manifest-only-signature'])).toBe('bad-signature');
    expect(reason(image(), ['manifest-only-signature'])).toBe('bad-signature'); // signed over the whole image
    expect(reason(manifestSigned)).toBe('bad-signature'); // hardened: a manifest-only signature does not verify
  });

  it('rollback-allowed: the version is not compared; everything else still is', () => {
    expect(reason(image('0.9.0'), ['rollback-allowed'])).toBe('installs 0.9.0');
    expect(reason(image('1.0.0'), ['rollback-allowed'])).toBe('installs 1.0.0');
    expect(reason(image('0.9.0', otherKey.privateKey), ['rollback-allowed'])).toBe('bad-signature');
    expect(reason(flip(image('0.9.0'), 130), ['rollback-allowed'])).toBe('digest-mismatch');
  });

  it('the other flaws change nothing here', () => {
    const others: Flaw[] = ['update-no-auth', 'brick-on-interrupt', 'verbose-errors', 'anonymous-http'];
    expect(reason(image(), others)).toBe('installs 2.0.0');
    expect(reason(zeroSignature(image()), others)).toBe('bad-signature');
    expect(reason(image('2.0.0', otherKey.privateKey), others)).toBe('bad-signature');
    expect(reason(flip(image(), 130), others)).toBe('digest-mismatch');
    expect(reason(image('0.9.0'), others)).toBe('not-newer');
    // A Set works as well as an array.
    expect(verifyImage(image('0.9.0'), vendorKey.publicKey, { ...ctx(), flaws: new Set<Flaw>(['rollback-allowed']) })).toEqual({ ok: true, version: '0.9.0' });
  });
});
