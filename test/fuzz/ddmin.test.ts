// Delta debugging: ddmin finds the known minimal subset of synthetic
// failures, returns 1-minimal results for any predicate, never asks the same
// question twice, and stops on its test count and deadline with the smallest
// failing subset so far. minimizeCase cuts steps, then bytes, and its labels
// say so. Seeded, bounded property runs.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FuzzCase } from '../../harness/model/index.js';
import { ddmin, minimizeCase } from '../../harness/fuzz/ddmin.js';

const RUNS = { seed: 20240611, numRuns: 100 } as const;
const FOREVER = { maxTests: 100_000, deadlineMs: Number.POSITIVE_INFINITY } as const;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** A predicate that records what it was asked. */
function recorded<T>(pred: (s: readonly T[]) => boolean) {
  const asked: string[] = [];
  const fails = async (s: readonly T[]) => {
    asked.push(JSON.stringify(s));
    return pred(s);
  };
  return { fails, asked };
}

describe('ddmin', () => {
  it('fails iff the input holds both 3 and 7: finds exactly [3, 7]', async () => {
    const { fails, asked } = recorded<number>((s) => s.includes(3) && s.includes(7));
    const r = await ddmin(range(20), fails, FOREVER);
    expect(r).toEqual({ items: [3, 7], tests: asked.length, complete: true });
    expect(new Set(asked).size).toBe(asked.length);
  });

  it('any set of required items: finds exactly that set, in input order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }).chain((n) => fc.tuple(fc.constant(n), fc.uniqueArray(fc.nat({ max: n - 1 }), { minLength: 1, maxLength: Math.min(n, 5) }))),
        async ([n, needed]) => {
          const r = await ddmin(range(n), async (s) => needed.every((x) => s.includes(x)), FOREVER);
          expect(r.complete).toBe(true);
          expect(r.items).toEqual([...needed].sort((a, b) => a - b));
        },
      ),
      RUNS,
    );
  });

  it('any predicate: a complete result fails and is 1-minimal; no subset is tested twice', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 0, max: 0xffff }), async (n, salt) => {
        // A pseudo-random, non-monotone predicate; the whole input fails by assumption.
        const hash = (s: readonly number[]) => s.reduce((h, x) => Math.imul(h ^ (x + 1), 0x9e3779b1) >>> 0, salt + s.length);
        const pred = (s: readonly number[]) => s.length === n || hash(s) % 3 === 0;
        const { fails, asked } = recorded<number>(pred);
        const r = await ddmin(range(n), fails, FOREVER);
        expect(r.complete).toBe(true);
        expect(r.tests).toBe(asked.length);
        expect(new Set(asked).size).toBe(asked.length);
        expect(r.items.length === n || pred(r.items)).toBe(true);
        if (r.items.length > 1) for (const x of r.items) expect(pred(r.items.filter((y) => y !== x))).toBe(false);
      }),
      RUNS,
    );
  });

  it('empty and single inputs: nothing to test', async () => {
    const never = async () => {
      throw new Error('must not be called');
    };
    expect(await ddmin([], never, FOREVER)).toEqual({ items: [], tests: 0, complete: true });
    expect(await ddmin(['x'], never, FOREVER)).toEqual({ items: ['x'], tests: 0, complete: true });
  });

  it('stops at maxTests with a failing subset, complete=false', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 12 }), async (maxTests) => {
        const pred = (s: readonly number[]) => s.includes(3) && s.includes(7);
        const { fails, asked } = recorded<number>(pred);
        const r = await ddmin(range(64), fails, { maxTests, deadlineMs: Number.POSITIVE_INFINITY });
        expect(asked.length).toBeLessThanOrEqual(maxTests);
        expect(r.tests).toBe(asked.length);
        expect(pred(r.items)).toBe(true);
        if (!r.complete) expect(asked.length).toBe(maxTests);
      }),
      RUNS,
    );
    const r = await ddmin(range(64), async (s) => s.includes(3) && s.includes(7), { maxTests: 5, deadlineMs: Number.POSITIVE_INFINITY });
    expect(r.complete).toBe(false);
    expect(r.items.length).toBeGreaterThan(2);
  });

  it('stops at the deadline (on its clock) and starts no test after it', async () => {
    let clock = 1000;
    const calls: number[] = [];
    const r = await ddmin(
      range(64),
      async (s) => {
        calls.push(clock);
        clock += 10; // every test takes 10 ms
        return s.includes(3) && s.includes(7);
      },
      { maxTests: 1000, deadlineMs: 1055, now: () => clock },
    );
    expect(r.complete).toBe(false);
    expect(calls.length).toBe(6);
    expect(calls.every((t) => t < 1055)).toBe(true);
    expect(r.items).toContain(3);
    expect(r.items).toContain(7);
  });

  it('a deadline already past and maxTests 0 leave the input as it is', async () => {
    const fails = async () => true;
    expect(await ddmin([1, 2, 3], fails, { maxTests: 10, deadlineMs: 0 })).toEqual({ items: [1, 2, 3], tests: 0, complete: false });
    expect(await ddmin([1, 2, 3], fails, { maxTests: 0, deadlineMs: Number.POSITIVE_INFINITY })).toEqual({ items: [1, 2, 3], tests: 0, complete: false });
  });

  it('a bad bound is a RangeError', async () => {
    await expect(ddmin([1], async () => true, { maxTests: -1, deadlineMs: 0 })).rejects.toThrow(RangeError);
    await expect(ddmin([1], async () => true, { maxTests: 1.5, deadlineMs: 0 })).rejects.toThrow(/maxTests 1.5/);
    await expect(ddmin([1], async () => true, { maxTests: 1, deadlineMs: Number.NaN })).rejects.toThrow(/deadlineMs/);
  });
});

describe('minimizeCase', () => {
  const step = (label: string, hex: string) => ({ label, bytes: Uint8Array.from(Buffer.from(hex, 'hex')) });
  const CASE: FuzzCase = {
    label: 'seed mqtt/publish-qos2: step 3 PUBLISH qos 2->3',
    steps: [step('CONNECT', '101000044d5154540402003c0004abcd'), step('SUBSCRIBE', '8205000100'), step('PUBLISH', '3605dead00beef'), step('PUBREL', '62020007'), step('DISCONNECT', 'e000')],
  };
  /** The device "crashes" on any step holding de ad in a row, after a CONNECT-like step somewhere. */
  const crashes = async (c: FuzzCase) => {
    const hexes = c.steps.map((s) => Buffer.from(s.bytes).toString('hex'));
    return hexes.some((h) => h.startsWith('10')) && hexes.some((h) => /^(..)*dead/.test(h));
  };

  it('keeps the steps and bytes the failure needs, and says so in the labels', async () => {
    const r = await minimizeCase(CASE, crashes, FOREVER);
    expect(r.complete).toBe(true);
    expect(await crashes(r.case)).toBe(true);
    expect(r.case.steps.map((s) => Buffer.from(s.bytes).toString('hex'))).toEqual(['10', 'dead']);
    expect(r.case.steps.map((s) => s.label)).toEqual(['CONNECT (ddmin: 1 of 16 bytes)', 'PUBLISH (ddmin: 2 of 7 bytes)']);
    expect(r.case.label).toBe('seed mqtt/publish-qos2: step 3 PUBLISH qos 2->3 (ddmin: 2 of 5 steps, 3 of 34 bytes)');
  });

  it('an untouched step keeps its label', async () => {
    const one: FuzzCase = { label: 'x', steps: [step('A', 'aa'), step('B', 'bb')] };
    const r = await minimizeCase(one, async (c) => c.steps.some((s) => s.bytes[0] === 0xbb), FOREVER);
    expect(r.case).toEqual({ label: 'x (ddmin: 1 of 2 steps, 1 of 2 bytes)', steps: [step('B', 'bb')] });
  });

  it('large steps are cut in chunks first: a 64 KiB step costs far fewer tests than its bytes', async () => {
    const big = new Uint8Array(65536).fill(0x41);
    big[40000] = 0xde;
    big[40001] = 0xad;
    const c: FuzzCase = { label: 'big', steps: [step('CONNECT', '10'), { label: 'blob', bytes: big }] };
    const r = await minimizeCase(c, crashes, FOREVER);
    expect(r.complete).toBe(true);
    expect(Buffer.from(r.case.steps[1]!.bytes).toString('hex')).toBe('dead');
    expect(r.tests).toBeLessThan(2000);
  });

  it('respects the bound over all its passes and says it stopped', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 30 }), async (maxTests) => {
        let calls = 0;
        const r = await minimizeCase(CASE, async (c) => (calls++, crashes(c)), { maxTests, deadlineMs: Number.POSITIVE_INFINITY });
        expect(calls).toBe(r.tests);
        expect(calls).toBeLessThanOrEqual(maxTests);
        expect(await crashes(r.case)).toBe(true);
        expect(r.case.label.endsWith(r.complete ? 'bytes)' : '; stopped at its bound, may not be minimal)')).toBe(true);
      }),
      { ...RUNS, numRuns: 31 },
    );
  });
});
