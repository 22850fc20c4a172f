// Helpers the hot-path suites share (the contract itself is in ../hot-paths.ts).

/** Calls `op` n times; sums what it returns so the calls stay observable. */
export function repeat(n: number, op: () => number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += op();
  return sum;
}

/** Calls `op` on the items in turn, n calls in all, from where the last call left off; sums what it returns. */
export function cycler<T>(items: readonly T[], op: (item: T) => number): (n: number) => number {
  if (items.length === 0) throw new Error('bench: nothing to cycle over');
  let i = 0;
  return (n) => {
    let sum = 0;
    for (let k = 0; k < n; k++) {
      sum += op(items[i]!);
      i = i + 1 === items.length ? 0 : i + 1;
    }
    return sum;
  };
}

/** Total bytes of a case's steps. */
export const caseBytes = (c: { readonly steps: readonly { readonly bytes: Uint8Array }[] }): number => c.steps.reduce((n, s) => n + s.bytes.length, 0);

export const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
