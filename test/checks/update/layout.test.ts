// Image surgery from a declared layout (pure), and the pure pieces of the
// update checks: regions and labels of update.tamper, cut points, size
// variants and who update.authorization tries.

import { createHash, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ImageLayout, Target, UpdatePath } from '../../../harness/model/index.js';
import {
  applyMutation,
  crc32,
  cutSignature,
  digestMismatch,
  layoutMismatch,
  readVersionField,
  recomputeDigests,
  resignEd25519,
  resolveRange,
  stripSignature,
  writeVersionField,
} from '../../../harness/checks/update/layout.js';
import { caseLabel, regionsOf, tamperArbitrary, tamperedImage } from '../../../harness/checks/update/tamper.js';
import { cutPoints } from '../../../harness/checks/update/interrupted.js';
import { OVERSIZE_CAP_BYTES, sizeVariants } from '../../../harness/checks/update/truncated-oversized.js';
import { outsiders } from '../../../harness/checks/update/authorization.js';

/** "IMG!" | u32 version | sha256(payload) at 8 | crc32 of [0, 40) at 40 | payload at 44 | 64-byte signature. */
const LAYOUT = {
  payload: { start: 44, end: -64 },
  version: { at: 4, length: 4 },
  signature: { at: -64, length: 64, algorithm: 'ed25519' as const, covers: { start: 0, end: -64 } },
  digests: [
    { kind: 'sha256' as const, at: 8, covers: { start: 44, end: -64 } },
    { kind: 'crc32' as const, at: 40, covers: { start: 0, end: 40 } },
  ],
} satisfies ImageLayout;

function image(payloadBytes = 100): Buffer {
  const payload = Buffer.alloc(payloadBytes, 0xab);
  const img = Buffer.alloc(44 + payloadBytes + 64, 0x11);
  img.write('IMG!', 0, 'latin1');
  img.writeUInt32BE(7, 4);
  createHash('sha256').update(payload).digest().copy(img, 8);
  img.writeUInt32BE(crc32(img.subarray(0, 40)), 40);
  payload.copy(img, 44);
  return img;
}

describe('layout', () => {
  it('resolves ranges: negative offsets from the end, no end = to the end, clamped, never inverted', () => {
    expect(resolveRange({ start: 128, end: -64 }, 1000)).toEqual({ start: 128, end: 936 });
    expect(resolveRange({ start: -10 }, 1000)).toEqual({ start: 990, end: 1000 });
    expect(resolveRange({ start: 0, end: 5000 }, 1000)).toEqual({ start: 0, end: 1000 });
    expect(resolveRange({ start: 50, end: 10 }, 1000)).toEqual({ start: 50, end: 50 });
  });

  it('CRC-32 (IEEE) matches the check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });

  it('applies each mutation kind without touching the input', () => {
    const src = Buffer.from([1, 2, 3, 4]);
    expect([...applyMutation(src, { kind: 'flip', offset: 1, value: 3 })]).toEqual([1, 2 ^ 8, 3, 4]);
    expect([...applyMutation(src, { kind: 'set', offset: 2, value: 0xff })]).toEqual([1, 2, 0xff, 4]);
    expect([...applyMutation(src, { kind: 'insert', offset: 0, value: 9 })]).toEqual([9, 1, 2, 3, 4]);
    expect([...applyMutation(src, { kind: 'insert', offset: 4, value: 9 })]).toEqual([1, 2, 3, 4, 9]);
    expect([...applyMutation(src, { kind: 'delete', offset: 3 })]).toEqual([1, 2, 3]);
    expect([...src]).toEqual([1, 2, 3, 4]);
  });

  it('recomputes digests in declaration order (the CRC covers the SHA-256 field)', () => {
    const img = image();
    expect(layoutMismatch(img, LAYOUT)).toBeUndefined();
    const mutated = applyMutation(img, { kind: 'flip', offset: 60, value: 0 });
    expect(digestMismatch(mutated, LAYOUT)).toMatch(/sha256 at 8/);
    const fixed = recomputeDigests(mutated, LAYOUT);
    expect(digestMismatch(fixed, LAYOUT)).toBeUndefined();
    expect(fixed.subarray(44).equals(mutated.subarray(44))).toBe(true);
    // Ranges follow the new length: after an insert the digests still cover payload and header.
    const longer = recomputeDigests(applyMutation(img, { kind: 'insert', offset: 50, value: 1 }), LAYOUT);
    expect(digestMismatch(longer, LAYOUT)).toBeUndefined();
    expect(recomputeDigests(img, LAYOUT).equals(img)).toBe(true);
  });

  it('zeroes or cuts the signature, digests intact', () => {
    const img = image();
    const zeroed = stripSignature(img, LAYOUT);
    expect(zeroed.length).toBe(img.length);
    expect(zeroed.subarray(-64).every((b) => b === 0)).toBe(true);
    expect(zeroed.subarray(0, -64).equals(img.subarray(0, -64))).toBe(true);
    const cut = cutSignature(img, LAYOUT);
    expect(cut.length).toBe(img.length - 64);
    expect(cut.equals(img.subarray(0, -64))).toBe(true);
  });

  it('re-signs with a fresh Ed25519 key over the declared range', () => {
    const img = image();
    const { image: signed, publicKey } = resignEd25519(img, LAYOUT);
    expect(signed.subarray(0, -64).equals(img.subarray(0, -64))).toBe(true);
    expect(verify(null, signed.subarray(0, -64), publicKey, signed.subarray(-64))).toBe(true);
    const again = resignEd25519(img, LAYOUT);
    expect(again.image.subarray(-64).equals(signed.subarray(-64))).toBe(false);
  });

  it('reads and writes the version field big-endian', () => {
    const img = image();
    expect(readVersionField(img, LAYOUT.version)).toBe(7n);
    const w = writeVersionField(img, LAYOUT.version, 0x01020304n);
    expect([...w.subarray(4, 8)]).toEqual([1, 2, 3, 4]);
    expect(readVersionField(w, LAYOUT.version)).toBe(0x01020304n);
    const wide = { at: 0, length: 8 };
    expect(readVersionField(writeVersionField(Buffer.alloc(8), wide, 0xffeeddccbbaa9988n), wide)).toBe(0xffeeddccbbaa9988n);
  });

  it('says when the declared layout does not fit the image', () => {
    expect(layoutMismatch(Buffer.alloc(10), LAYOUT)).toMatch(/signature .* outside/);
    const img = image();
    img[9] = img[9]! ^ 1;
    expect(layoutMismatch(img, LAYOUT)).toMatch(/not the sha256/);
  });
});

describe('update.tamper cases', () => {
  const path: UpdatePath = { id: 'up', kind: 'http-upload', via: 'web', method: 'POST', path: '/fw', contentType: 'application/octet-stream' };

  it('aims at payload, manifest and signature; the whole image without a layout', () => {
    expect(regionsOf(208, LAYOUT).map((r) => [r.name, r.start, r.end])).toEqual([
      ['payload', 44, 144],
      ['manifest', 0, 44],
      ['signature', 144, 208],
    ]);
    expect(regionsOf(208, undefined)).toEqual([{ name: 'image', start: 0, end: 208 }]);
  });

  it('labels a case with kind, absolute offset, region and digests', () => {
    const [payload] = regionsOf(208, LAYOUT);
    const c = { path, region: payload!, at: 3, kind: 'flip' as const, value: 11, recompute: true };
    expect(caseLabel(c, { digests: true, paths: 1 })).toBe('flip bit 3 at offset 47 (payload byte 3), digests recomputed');
    expect(caseLabel({ ...c, recompute: false }, { digests: true, paths: 2 })).toBe('flip bit 3 at offset 47 (payload byte 3), original digests through up');
    expect(tamperedImage(image(), LAYOUT, c).equals(image())).toBe(false);
  });

  it('draws offsets inside their region and never recomputes without declared digests', () => {
    const regions = regionsOf(208, LAYOUT);
    for (const c of fc.sample(tamperArbitrary([path], regions, false), { numRuns: 200, seed: 1 })) {
      expect(c.at).toBeGreaterThanOrEqual(0);
      expect(c.region.start + c.at).toBeLessThan(c.region.end);
      expect(c.recompute).toBe(false);
    }
  });
});

describe('size, cut and principal plans', () => {
  it('cuts half way and after 128 bytes, inside the image', () => {
    expect(cutPoints(1000)).toEqual([500, 128]);
    expect(cutPoints(256)).toEqual([128]);
    expect(cutPoints(100)).toEqual([50]);
  });

  it('truncates at half and length-1; pads one byte past the maximum, or 1 MiB, capped at 16 MiB', () => {
    const img = Buffer.alloc(1000, 1);
    const withMax = sizeVariants(img, 4096);
    expect(withMax.images.map((i) => i.image.length)).toEqual([500, 999, 4097]);
    expect(sizeVariants(img, undefined).images.at(-1)!.image.length).toBe(1000 + 1024 * 1024);
    const huge = sizeVariants(img, OVERSIZE_CAP_BYTES + 5);
    expect(huge.images).toHaveLength(2);
    expect(huge.notes[0]).toMatch(/above the .* cap/);
  });

  it('authorization tries no session, then every principal whose role differs from the installer', () => {
    const target = {
      principals: [
        { name: 'admin', user: 'a', pass: 'a', role: 'admin' },
        { name: 'ops', user: 'o', pass: 'o', role: 'admin' },
        { name: 'viewer', user: 'v', pass: 'v', role: 'viewer' },
      ],
    } as unknown as Target;
    const path: UpdatePath = { id: 'up', kind: 'http-upload', via: 'web', method: 'POST', path: '/fw', as: 'admin', contentType: 'x' };
    expect(outsiders(target, path)).toEqual([null, 'viewer']);
    expect(outsiders(target, { ...path, as: undefined })).toEqual([]);
  });
});
