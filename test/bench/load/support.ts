// What the load-generator tests share: an Io on 127.0.0.1 and the
// assertions that a path was really measured.

import { expect } from 'vitest';
import { createScopeGuard } from '../../../harness/core/scope.js';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import type { PathResult } from '../../../harness/model/index.js';
import type { Io } from '../../../harness/protocols/common/io.js';

/** Scope: 127.0.0.1 only. */
export const loadIo = (peer: string, timeoutMs: number, over: Partial<Io> = {}): Io => ({
  scope: createScopeGuard({ source: `${peer} load test`, scope: { hosts: ['127.0.0.1'], allowNonLoopback: false } }),
  transcript: new TranscriptRecorder(),
  timeoutMs,
  peer,
  ...over,
});

export const explain = (r: PathResult) => JSON.stringify(r, null, 1);

/** Ops completed, each with a latency sample; `noErrors` also demands a clean run (TCP: nothing is lost on loopback). */
export function expectMeasured(r: PathResult, { noErrors = true } = {}): void {
  expect(r.skipped, explain(r)).toBeUndefined();
  expect(r.ops, explain(r)).toBeGreaterThan(0);
  if (noErrors) expect(r.errors, explain(r)).toBe(0);
  expect(r.rate).toBeGreaterThan(0);
  expect(r.elapsedMs).toBeGreaterThan(0);
  expect(r.latency?.samples).toBe(r.ops);
  expect(r.latency!.p50Ms).toBeGreaterThan(0);
  expect(r.latency!.p99Ms).toBeGreaterThanOrEqual(r.latency!.p50Ms);
}
