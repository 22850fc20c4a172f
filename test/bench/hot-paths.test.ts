// Smoke test of the hot-path benchmarks: every suite builds (building checks
// that its rows compute the same thing) and runs on a tiny budget to finite,
// positive numbers. No timing assertion: speed is measured by `npm run bench`.

import { describe, expect, it } from 'vitest';
import { hotPathSuites, runSuite, type BenchTiming } from '../../harness/bench/hot-paths.js';

const TINY: BenchTiming = { timeMs: 20, warmupMs: 0 };
const suites = hotPathSuites();

const positiveFinite = (n: number) => Number.isFinite(n) && n > 0;

describe('hot-path benchmarks', () => {
  it('has the seven suites, unique ids, at most one baseline each', () => {
    expect(suites.map((s) => s.id)).toEqual(['mqtt-connect-encode', 'mqtt-connack-parse', 'coap-codec', 'dtls-codec', 'dictionary', 'derive-seed', 'near-miss-arbitrary']);
    for (const s of suites) {
      expect(s.tasks.length).toBeGreaterThan(0);
      expect(new Set(s.tasks.map((t) => t.name)).size).toBe(s.tasks.length);
      expect(s.tasks.filter((t) => t.baseline).length).toBeLessThanOrEqual(1);
    }
  });

  it.each(suites.map((s) => [s.id, s] as const))('%s runs and yields positive, finite numbers', (_id, suite) => {
    const r = runSuite(suite, TINY);
    expect(r.id).toBe(suite.id);
    expect(r.tasks.map((t) => t.name)).toEqual(suite.tasks.map((t) => t.name));
    const hasBaseline = suite.tasks.some((t) => t.baseline);
    for (const t of r.tasks) {
      expect(positiveFinite(t.opsPerSec), `${t.name} ops/s ${t.opsPerSec}`).toBe(true);
      expect(positiveFinite(t.meanUs), `${t.name} mean ${t.meanUs}`).toBe(true);
      expect(Number.isFinite(t.p99Us) && t.p99Us >= 0, `${t.name} p99 ${t.p99Us}`).toBe(true);
      expect(Number.isInteger(t.samples) && t.samples > 0).toBe(true);
      if (hasBaseline && !t.baseline) expect(positiveFinite(t.xBaseline ?? NaN), `${t.name} x baseline ${t.xBaseline}`).toBe(true);
      else expect(t.xBaseline).toBeUndefined();
    }
  });
});
