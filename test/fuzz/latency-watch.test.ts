// LatencyWatch keeps its window sorted as probes come and go instead of
// sorting it for every probe: the verdicts are those of the plain rule (the
// median of the last `latencyWindow` probe times against the median of the
// first ones), checked here against that rule written out, on random series.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_THRESHOLDS, LatencyWatch } from '../../harness/fuzz/oracles.js';
import type { FuzzThresholds } from '../../harness/model/index.js';

/** The rule as written before: sort copies, every time. */
function reference(t: FuzzThresholds): (ms: number) => string | undefined {
  const base: number[] = [];
  const window: number[] = [];
  const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return (ms) => {
    if (base.length < t.latencyWindow) {
      base.push(ms);
      return undefined;
    }
    window.push(ms);
    if (window.length > t.latencyWindow) window.shift();
    if (window.length < t.latencyWindow) return undefined;
    const b = median(base);
    const w = median(window);
    return w > b * t.latencyFactor && w - b > t.latencyFloorMs ? `${w} ${b}` : undefined;
  };
}

describe('LatencyWatch', () => {
  it('judges every probe as the plain median rule does', () => {
    const series = fc.array(fc.oneof(fc.integer({ min: 0, max: 40 }), fc.double({ min: 0, max: 3000, noNaN: true }), fc.constantFrom(1, 2, 2, 5, 400)), { maxLength: 120 });
    const thresholds = fc.record({ latencyWindow: fc.integer({ min: 1, max: 9 }), latencyFactor: fc.constantFrom(1, 2, 10), latencyFloorMs: fc.constantFrom(0, 5, 250) });
    fc.assert(
      fc.property(series, thresholds, (xs, th) => {
        const t = { ...DEFAULT_THRESHOLDS, ...th };
        const w = new LatencyWatch(t);
        const ref = reference(t);
        for (const ms of xs) {
          const v = w.add(ms);
          const r = ref(ms);
          expect(v === undefined).toBe(r === undefined);
          if (v && r) {
            const [wm, bm] = r.split(' ').map(Number) as [number, number];
            expect(v.detail).toContain(`probe median ${wm.toFixed(1)} ms over the last ${t.latencyWindow} cases, baseline ${bm.toFixed(1)} ms`);
          }
        }
      }),
      { numRuns: 300, seed: 42 },
    );
  });
});
