// The fuzz check loop's cost per case, excluding the network: what
// robustness.fuzz spends on one CoAP case besides the datagrams themselves.
//   - raw (baseline): the same I/O without the harness: per case a fresh
//     connected UDP socket sends the case's datagrams, a fresh socket pings
//     the device and awaits its RST (what the probe does).
//   - runCampaign on pre-generated cases (the raw row's, in the same order,
//     drawn from the mix as a campaign draws them): the loop alone (the
//     fast-check property, sendCase with its transcript, the invalid-reply
//     oracle, the probe, the latency watch).
//   - runCampaign on the robustness.fuzz CoAP mix: the loop plus generating
//     each case, as in a run.
// The harness's cost per case is a loop row minus the raw row; the title
// gets both differences after the run (target: under 50 µs). The device is
// in-process on 127.0.0.1 and answers pings only; the campaign's deliberate
// waits (5 ms settle before each probe, reply collection) are made instant,
// so what is left is the harness's own work and the sockets.
//
// The campaign is asynchronous and suites are timed synchronously: it runs in
// a worker thread (./check-loop-worker.ts, from dist/: the build must be
// current) while this thread blocks until the worker answers. Every call
// runs a whole campaign of BATCH cases, so its set-up (the probe before the
// first case, fast-check's) is spread over them; the raw row pings once more
// per call to match.

import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { packageRoot } from '../../core/paths.js';
import type { Suite, TaskStats } from '../hot-paths.js';
import type { LoopKind, LoopReply, LoopRequest, ReadyInfo } from './check-loop-worker.js';

/** Cases per campaign (per tinybench call). */
const BATCH = 50;
/** Cases each kind runs once in the worker before timing, to warm its JIT. */
const WARM_CASES = 2000;
/** Issue 7's target for the harness's cost per case, µs. */
export const CHECK_LOOP_TARGET_US = 50;
/** Bound on one call (start-up included): a campaign of BATCH cases takes tens of ms. */
const CALL_TIMEOUT_MS = 120_000;

const ROWS: readonly { readonly kind: LoopKind; readonly name: string }[] = [
  { kind: 'raw', name: 'raw UDP: the case\'s datagrams + a ping round trip (no harness)' },
  { kind: 'loop-pool', name: 'runCampaign, pre-generated cases (the loop alone)' },
  { kind: 'loop-mix', name: 'runCampaign, robustness.fuzz CoAP mix (generation + loop)' },
];

/** The compiled worker: beside this file in dist/, or, when this runs from source (vitest), its dist/ twin. */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return join(dirname(here), 'check-loop-worker.js');
  const root = packageRoot();
  return join(root, 'dist', relative(root, dirname(here)), 'check-loop-worker.js');
}

/** A worker thread called synchronously: post a request, block on a shared flag until it answers. */
class LoopWorker {
  private readonly port: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  readonly info: ReadyInfo;

  constructor(file: string) {
    if (!existsSync(file)) throw new Error(`bench check-loop: ${file} is missing: build first (npm run build)`);
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(file, { workerData: { port: port2, flag: this.flag, warmCases: WARM_CASES, campaignCases: BATCH }, transferList: [port2] });
    // Neither keeps the process alive: it ends when the bench does.
    worker.unref();
    port1.unref();
    this.port = port1;
    const ready = this.await('start-up') as ReadyInfo | LoopReply;
    if ('ok' in ready && !ready.ok) throw new Error(`bench check-loop: the worker did not start: ${ready.error}`);
    this.info = ready as ReadyInfo;
  }

  run(kind: LoopKind, cases: number): LoopReply & { ok: true } {
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage({ kind, cases } satisfies LoopRequest);
    const r = this.await(`${kind} × ${cases}`) as LoopReply;
    if (!r.ok) throw new Error(`bench check-loop: ${kind}: ${r.error}`);
    return r;
  }

  private await(what: string): unknown {
    const deadline = Date.now() + CALL_TIMEOUT_MS;
    for (;;) {
      const m = receiveMessageOnPort(this.port);
      if (m) {
        Atomics.store(this.flag, 0, 0);
        return m.message;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`bench check-loop: the worker did not answer ${what} within ${CALL_TIMEOUT_MS} ms`);
      // Wakes when the worker sets the flag; if it is set and the message is not in yet, sleeps a millisecond.
      if (Atomics.wait(this.flag, 0, 0, Math.min(left, 1000)) === 'not-equal') Atomics.wait(this.flag, 0, 1, 1);
    }
  }
}

const meanOf = (tasks: readonly TaskStats[], name: string) => tasks.find((t) => t.name === name)?.meanUs ?? NaN;

export function checkLoop(): Suite {
  const w = new LoopWorker(workerFile());
  // Check once that every row runs its cases, and that the loop probes after each case and finds nothing.
  for (const { kind } of ROWS) {
    const r = w.run(kind, 3);
    if (r.cases !== 3 || r.probes !== 4 || r.findings !== 0 || r.ended !== 'cases') {
      throw new Error(`bench check-loop: ${kind} ran ${r.cases} cases with ${r.probes} probes and ${r.findings} findings, ended ${r.ended}; expected 3 cases, 4 probes, none`);
    }
  }
  const [raw, pool, mix] = ROWS.map((r) => r.name) as [string, string, string];
  const { meanSteps, meanBytes } = w.info;
  return {
    id: 'check-loop',
    title:
      `CoAP fuzz check loop per case, excluding the network: runCampaign against an in-process device on 127.0.0.1 that answers pings, ` +
      `settle and reply waits made instant, ${BATCH} cases per campaign (cases ${meanSteps.toFixed(1)} datagrams, ${Math.round(meanBytes)} bytes on average)`,
    unit: 'case',
    tasks: ROWS.map(({ kind, name }) => ({
      name,
      ...(kind === 'raw' ? { baseline: true } : {}),
      batch: BATCH,
      fn: () => w.run(kind, BATCH).cases,
    })),
    summary: (tasks) => {
      const base = meanOf(tasks, raw);
      const us = (row: string) => (meanOf(tasks, row) - base).toFixed(1);
      return `harness cost per case (loop row − raw row): ${us(mix)} µs with generation, ${us(pool)} µs without (target < ${CHECK_LOOP_TARGET_US} µs)`;
    },
  };
}
