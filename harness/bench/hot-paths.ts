// Micro-benchmarks of the harness's hot paths, each beside its baseline
// where one exists (a library, the floor of the same work done by hand, or
// the same I/O without the harness), so a regression shows as a ratio:
// codecs per protocol, the dictionary, seeds, fuzz case generation per
// protocol, mutation of corpus seeds, and the fuzz check loop's cost per
// case. The suites are in ./suites (one file per family); this file keeps
// the contract, the list and the runner. Speed is measured here, never
// asserted in tests: test/bench only proves every suite runs.
//
// Each tinybench sample times a batch of operations, because single calls of
// ~100 ns are below what a timer read can resolve; all figures are per
// operation (sample time / batch), so p99 is the p99 of a batch's mean.

import { Bench } from 'tinybench';
import { caseGeneration, dtlsCaseGeneration } from './suites/arbitraries.js';
import { dictionary, nearMissCredentials } from './suites/auth.js';
import { checkLoop } from './suites/check-loop.js';
import { coapCodec, coapDecode, coapEncode } from './suites/coap.js';
import { dtlsCodec } from './suites/dtls.js';
import { httpRequestParse } from './suites/http.js';
import { mqttConnackParse, mqttConnectEncode, mqttPublishDecode, mqttPublishEncode } from './suites/mqtt.js';
import { mutation } from './suites/mutation.js';
import { seeds } from './suites/seed.js';

export interface BenchTiming {
  /** Measured time per task (ms), not counting warm-up. */
  readonly timeMs: number;
  /** Warm-up time per task (ms); 0 = no warm-up. */
  readonly warmupMs: number;
}

/** ~0.4 s per task: the ~57 tasks take about 30 s together on two cores (the issue's budget for them: 40 s). */
export const DEFAULT_TIMING: BenchTiming = { timeMs: 300, warmupMs: 100 };

export interface BenchTask {
  readonly name: string;
  /** The suite's yardstick (one per suite at most); other rows get an "x baseline" ratio against it. */
  readonly baseline?: boolean;
  /** Operations per call of `fn`. */
  readonly batch: number;
  /** Does `batch` operations; returns something derived from them so none is optimised away. */
  readonly fn: () => unknown;
}

export interface Suite {
  readonly id: string;
  readonly title: string;
  /** What one "op" is. */
  readonly unit: string;
  readonly tasks: readonly BenchTask[];
  /** A clause added to the title after the run, from the figures (a difference of two rows, say). */
  readonly summary?: (tasks: readonly TaskStats[]) => string;
}

export interface TaskStats {
  readonly name: string;
  readonly baseline: boolean;
  readonly batch: number;
  readonly opsPerSec: number;
  readonly meanUs: number;
  readonly p99Us: number;
  /** tinybench samples (calls of the task), each of `batch` ops. */
  readonly samples: number;
  /** opsPerSec / the baseline's opsPerSec; undefined for the baseline itself or a suite without one. */
  readonly xBaseline?: number;
}

export interface SuiteResult {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly tasks: readonly TaskStats[];
}

// ---------------------------------------------------------------- running

/**
 * Builds every suite; each checks once that its rows compute the same thing
 * before timing them. Codecs first, then generation, mutation and the check
 * loop (which starts a worker thread, see suites/check-loop.ts).
 */
export function hotPathSuites(): Suite[] {
  return [
    mqttConnectEncode(),
    mqttConnackParse(),
    mqttPublishEncode(),
    mqttPublishDecode(),
    coapCodec(),
    coapDecode(),
    coapEncode(),
    dtlsCodec(),
    httpRequestParse(),
    dictionary(),
    seeds(),
    nearMissCredentials(),
    caseGeneration('mqtt'),
    caseGeneration('coap'),
    caseGeneration('http'),
    dtlsCaseGeneration(),
    mutation(),
    checkLoop(),
  ];
}

export function runSuite(suite: Suite, timing: BenchTiming = DEFAULT_TIMING): SuiteResult {
  const bench = new Bench({
    name: suite.id,
    time: timing.timeMs,
    iterations: 8,
    warmup: timing.warmupMs > 0,
    warmupTime: timing.warmupMs,
    warmupIterations: 4,
    throws: true,
  });
  for (const t of suite.tasks) bench.add(t.name, t.fn);
  // Every task is synchronous: runSync keeps promise overhead out of the samples.
  bench.runSync();
  const raw = suite.tasks.map((t): Omit<TaskStats, 'xBaseline'> => {
    const r = bench.getTask(t.name)?.result;
    if (!r || r.error || !r.latency) throw new Error(`bench ${suite.id}: "${t.name}" produced no result${r?.error ? `: ${r.error.message}` : ''}`);
    // Latencies are ms per call; a call is `batch` ops. Mean latency, not tinybench's
    // mean of per-sample throughputs, which fast outliers inflate.
    const meanUs = (r.latency.mean * 1000) / t.batch;
    return {
      name: t.name,
      baseline: t.baseline === true,
      batch: t.batch,
      opsPerSec: 1e6 / meanUs,
      meanUs,
      p99Us: ((r.latency.p99 ?? r.latency.max) * 1000) / t.batch,
      samples: r.latency.samples.length,
    };
  });
  const base = raw.find((s) => s.baseline);
  const tasks = raw.map((s) => (base && !s.baseline ? { ...s, xBaseline: s.opsPerSec / base.opsPerSec } : s));
  return {
    id: suite.id,
    title: suite.summary ? `${suite.title}; ${suite.summary(tasks)}` : suite.title,
    unit: suite.unit,
    tasks,
  };
}
