// Smoke test of the hot-path benchmarks: every suite builds (building checks
// that its rows compute the same thing) and runs on a tiny budget to finite,
// positive numbers. No timing assertion: speed is measured by `npm run bench`.
// Also: the case mix the generation and check-loop suites draw is exactly
// robustness.fuzz's (casesFor) on the example target, so the bench cannot
// drift from what a run generates.

import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hotPathSuites, runSuite, type BenchTiming } from '../../harness/bench/hot-paths.js';
import { EXAMPLE_TARGET, fuzzMix } from '../../harness/bench/suites/arbitraries.js';
import { casesFor } from '../../harness/checks/robustness/fuzz.js';
import { packageRoot } from '../../harness/core/paths.js';
import { loadTargetFile } from '../../harness/core/target-file.js';
import { fuzzPrincipal } from '../../harness/fuzz/sentinel.js';
import type { CheckContext, FuzzCase, FuzzProtocol } from '../../harness/model/index.js';

const TINY: BenchTiming = { timeMs: 20, warmupMs: 0 };
const suites = hotPathSuites();

const positiveFinite = (n: number) => Number.isFinite(n) && n > 0;

describe('hot-path benchmarks', () => {
  it('has every suite, unique ids, at most one baseline each', () => {
    expect(suites.map((s) => s.id)).toEqual([
      'mqtt-connect-encode',
      'mqtt-connack-parse',
      'mqtt-publish-encode',
      'mqtt-publish-decode',
      'coap-codec',
      'coap-decode',
      'coap-encode',
      'dtls-codec',
      'http-request-parse',
      'dictionary',
      'derive-seed',
      'near-miss-arbitrary',
      'generate-mqtt',
      'generate-coap',
      'generate-http',
      'generate-dtls',
      'mutate',
      'check-loop',
    ]);
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
    if (suite.summary) expect(r.title.startsWith(`${suite.title}; `)).toBe(true);
    else expect(r.title).toBe(suite.title);
    // The check loop's title says the harness's cost per case (a difference of rows: may come out negative on a noisy host).
    if (suite.id === 'check-loop') expect(r.title).toMatch(/harness cost per case \(loop row − raw row\): -?\d+\.\d µs with generation, -?\d+\.\d µs without \(target < 50 µs\)$/);
  });
});

describe('the bench case mix', () => {
  const target = loadTargetFile(join(packageRoot(), EXAMPLE_TARGET.file), EXAMPLE_TARGET.env);
  const drawn = (a: fc.Arbitrary<FuzzCase>) =>
    fc.sample(a, { seed: 4242, numRuns: 60 }).map((c) => ({ label: c.label, steps: c.steps.map((s) => `${s.label} ${Buffer.from(s.bytes).toString('hex')}`) }));

  it.each(['mqtt', 'coap', 'http'] as const)('%s: draws exactly what robustness.fuzz draws for the example target', async (protocol: FuzzProtocol) => {
    const iface = target.interfaces.find((i) => i.protocol === protocol)!;
    // MQTT cases run in the fuzz principal's session; the HTTP ones without a session (casesFor would log in for one).
    const principal = protocol === 'mqtt' ? fuzzPrincipal(target) : undefined;
    const { cases } = await casesFor({ target } as unknown as CheckContext, iface, principal);
    expect(drawn(fuzzMix(protocol).mix)).toEqual(drawn(cases));
  });
});
