// Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating
// Failure-Inducing Input", 2002): ddmin shrinks a failing list to a
// 1-minimal one, where removing any single item makes the failure go away.
// The campaign uses it for mutated cases, whose failure often needs only a
// few of the seed's steps and bytes; fast-check's own shrinking works on the
// mutation descriptors, ddmin on the bytes they produced.
// Pure, no I/O: the caller's `fails` sends a candidate to the device. Every
// run is bounded by a test count and a deadline; on the bound it stops with
// the smallest failing subset found so far and says it did not complete.

import type { FuzzCase, FuzzStep } from '../model/index.js';

export interface DdminBound {
  /** Most calls of `fails` (cached answers are free). */
  readonly maxTests: number;
  /** The time, on `now`'s clock, after which no further test starts. */
  readonly deadlineMs: number;
  /** The clock, default Date.now. */
  readonly now?: () => number;
}

export interface DdminResult<T> {
  readonly items: T[];
  /** Calls of `fails` made. */
  readonly tests: number;
  /** False when the bound stopped it: `items` fails but may not be 1-minimal. */
  readonly complete: boolean;
}

function checkBound(bound: DdminBound): void {
  if (!Number.isInteger(bound.maxTests) || bound.maxTests < 0) throw new RangeError(`ddmin: maxTests ${bound.maxTests} is not a whole number >= 0`);
  if (Number.isNaN(bound.deadlineMs)) throw new RangeError('ddmin: deadlineMs is not a number');
}

/** `items` in `n` chunks of near-equal size, in order. */
function split<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = start + Math.floor((items.length - start) / (n - i));
    out.push(items.slice(start, end));
    start = end;
  }
  return out;
}

/**
 * Zeller's ddmin. `items` is taken to fail (it is not tested again) and the
 * empty list to pass. Tests run one at a time, in a fixed order, so a
 * deterministic `fails` gives a deterministic result.
 */
export async function ddmin<T>(items: readonly T[], fails: (subset: readonly T[]) => Promise<boolean>, bound: DdminBound): Promise<DdminResult<T>> {
  checkBound(bound);
  const now = bound.now ?? Date.now;
  const cache = new Map<string, boolean>();
  let tests = 0;
  /** true/false: the answer; undefined: the bound is reached. */
  const test = async (subset: readonly number[]): Promise<boolean | undefined> => {
    const key = subset.join(',');
    const known = cache.get(key);
    if (known !== undefined) return known;
    if (tests >= bound.maxTests || now() >= bound.deadlineMs) return undefined;
    tests++;
    const r = await fails(subset.map((i) => items[i]!));
    cache.set(key, r);
    return r;
  };
  const result = (c: readonly number[], complete: boolean): DdminResult<T> => ({ items: c.map((i) => items[i]!), tests, complete });

  let current = items.map((_, i) => i);
  let n = 2;
  // Each round either shrinks `current` or doubles `n` up to |current|: at most 2|items| rounds.
  while (current.length >= 2) {
    const chunks = split(current, Math.min(n, current.length));
    let next: number[] | undefined;
    // Reduce to a subset.
    for (const chunk of chunks) {
      const r = await test(chunk);
      if (r === undefined) return result(current, false);
      if (r) {
        next = chunk;
        n = 2;
        break;
      }
    }
    // Reduce to a complement (with two chunks these are the chunks again: cached).
    if (!next) {
      for (let i = 0; i < chunks.length; i++) {
        const complement = chunks.flatMap((c, k) => (k === i ? [] : c));
        const r = await test(complement);
        if (r === undefined) return result(current, false);
        if (r) {
          next = complement;
          n = Math.max(n - 1, 2);
          break;
        }
      }
    }
    if (next) {
      current = next;
      continue;
    }
    // Increase granularity; at single items with nothing removable, current is 1-minimal.
    if (n >= current.length) break;
    n = Math.min(2 * n, current.length);
  }
  return result(current, true);
}

/** Chunks per byte-level ddmin pass: a step is cut in about this many pieces, then finer ones. */
const BYTE_CHUNKS = 64;

const concat = (parts: readonly Uint8Array[]): Uint8Array => Buffer.concat(parts);

function chunksOf(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

const totalBytes = (steps: readonly FuzzStep[]) => steps.reduce((n, s) => n + s.bytes.length, 0);

/**
 * Minimises a failing case: ddmin over its steps, then over each remaining
 * step's bytes, first in chunks of about 1/64 of the step, then finer down
 * to single bytes. The bound covers the whole run (tests and deadline).
 * Labels say what ddmin did: the case's `… (ddmin: 3 of 7 steps, 12 of 40
 * bytes)`, a cut step's `… (ddmin: 12 of 40 bytes)`.
 */
export async function minimizeCase(
  c: FuzzCase,
  fails: (c: FuzzCase) => Promise<boolean>,
  bound: DdminBound,
): Promise<{ readonly case: FuzzCase; readonly tests: number; readonly complete: boolean }> {
  checkBound(bound);
  let tests = 0;
  const left = (): DdminBound => ({ ...bound, maxTests: Math.max(0, bound.maxTests - tests) });
  const withSteps = (steps: readonly FuzzStep[]): FuzzCase => ({ label: c.label, steps });

  const bySteps = await ddmin(c.steps, (steps) => fails(withSteps(steps)), left());
  tests += bySteps.tests;
  let complete = bySteps.complete;
  const steps: FuzzStep[] = [...bySteps.items];

  for (let i = 0; i < steps.length && complete; i++) {
    const original = steps[i]!;
    let bytes = original.bytes;
    let size = Math.max(1, Math.ceil(bytes.length / BYTE_CHUNKS));
    // Each pass is finer than the one before (size at most a quarter of the last): a handful of passes.
    for (;;) {
      const chunks = chunksOf(bytes, size);
      if (chunks.length >= 2) {
        const r = await ddmin(chunks, (cs) => fails(withSteps(steps.map((s, k) => (k === i ? { ...s, bytes: concat(cs) } : s)))), left());
        tests += r.tests;
        bytes = concat(r.items);
        if (!r.complete) complete = false;
      }
      if (!complete || size === 1) break;
      size = Math.max(1, Math.min(Math.ceil(bytes.length / BYTE_CHUNKS), Math.floor(size / 4)));
    }
    if (bytes.length !== original.bytes.length) steps[i] = { bytes, label: `${original.label} (ddmin: ${bytes.length} of ${original.bytes.length} bytes)` };
  }

  const before = totalBytes(c.steps);
  const after = totalBytes(steps);
  const note = `ddmin: ${steps.length} of ${c.steps.length} steps, ${after} of ${before} bytes${complete ? '' : '; stopped at its bound, may not be minimal'}`;
  return { case: { label: `${c.label} (${note})`, steps }, tests, complete };
}
