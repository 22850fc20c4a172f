// Seeds: one per run; each instance derives its own from (run seed, instance id).

import { describe, expect, it } from 'vitest';
import { deriveSeed, newRunSeed, parseSeed } from '../../harness/core/seed.js';

const isSeed = (n: number) => Number.isInteger(n) && n >= 1 && n <= 0x7fffffff;

describe('deriveSeed', () => {
  it('is deterministic, and pinned: changing it would break replay of stored findings', () => {
    expect(deriveSeed(42, 'auth.brute-force@broker')).toBe(deriveSeed(42, 'auth.brute-force@broker'));
    expect(deriveSeed(42, 'auth.brute-force@broker')).toBe(2088864824);
    expect(deriveSeed(1, 'a')).toBe(757995991);
    expect(deriveSeed(0x7fffffff, 'auth.default-credentials@web')).toBe(1987522795);
  });

  it('differs per instance id', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `auth.check-${i % 50}@iface-${Math.floor(i / 50)}`);
    const seeds = new Set(ids.map((id) => deriveSeed(1234, id)));
    expect(seeds.size).toBe(ids.length);
    // ids that differ in one character only
    expect(deriveSeed(7, 'auth.x@a')).not.toBe(deriveSeed(7, 'auth.x@b'));
    expect(deriveSeed(7, 'ab')).not.toBe(deriveSeed(7, 'ba'));
  });

  it('differs per run seed', () => {
    const seeds = new Set(Array.from({ length: 1000 }, (_, i) => deriveSeed(i + 1, 'auth.brute-force@broker')));
    expect(seeds.size).toBe(1000);
  });

  it('is always a positive 31-bit integer, whatever the run seed', () => {
    for (const run of [0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, -1, -0x80000000, 123456789]) {
      for (const id of ['', 'x', 'auth.default-credentials@broker', 'ü@ß', 'a'.repeat(1000)]) {
        const s = deriveSeed(run, id);
        expect(isSeed(s), `${run} ${id} -> ${s}`).toBe(true);
      }
    }
  });
});

describe('parseSeed', () => {
  it.each([
    ['1', 1],
    ['42', 42],
    ['2147483647', 0x7fffffff],
    ['0042', 42],
  ] as const)('%j -> %d', (text, n) => {
    expect(parseSeed(text)).toBe(n);
  });

  it.each(['', '0', '2147483648', '4294967296', '12345678901', '-5', '1.5', ' 12', '12 ', '12a', '0x10', '1e3'])('refuses %j', (text) => {
    expect(parseSeed(text)).toBeUndefined();
  });

  it('accepts every seed newRunSeed makes', () => {
    for (let i = 0; i < 200; i++) {
      const s = newRunSeed();
      expect(isSeed(s)).toBe(true);
      expect(parseSeed(String(s))).toBe(s);
    }
  });
});
