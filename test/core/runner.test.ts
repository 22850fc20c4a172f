// The runner with fake checks against a tiny real target: an HTTP server on
// 127.0.0.1 port 0 answers the liveness probe; a port with nothing behind it
// plays a dead target.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GauntletError } from '../../harness/core/errors.js';
import { plan, type PlannedCheck } from '../../harness/core/planner.js';
import { runChecks, type RunnerOptions } from '../../harness/core/runner.js';
import { targetFromObject } from '../../harness/core/target-file.js';
import type { Check, CheckContext, CheckOutcome, CheckResult, RunEvent, RunMeta, Target } from '../../harness/model/index.js';

const META: RunMeta = {
  id: 'run-1',
  seed: 4242,
  startedAt: '2026-01-01T00:00:00.000Z',
  target: 'tiny',
  targetSource: 'test',
  profile: 'test',
  harnessVersion: '0.0.0',
  flaws: [],
  argv: [],
  node: process.version,
  platform: process.platform,
};

let server: Server | undefined;
let probes = 0;
let livePort = 0;
let deadPort = 0;

async function listen(): Promise<Server> {
  const s = createServer((_req, res) => {
    probes++;
    res.end('ok');
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return s;
}

async function closeServer(s: Server | undefined): Promise<void> {
  if (!s || !s.listening) return;
  s.closeAllConnections();
  await new Promise<void>((resolve) => s.close(() => resolve()));
}

beforeEach(async () => {
  probes = 0;
  server = await listen();
  livePort = (server.address() as AddressInfo).port;
  // A port that was just free: nothing listens there.
  const tmp = await listen();
  deadPort = (tmp.address() as AddressInfo).port;
  await closeServer(tmp);
});

afterEach(async () => {
  await closeServer(server);
  server = undefined;
});

function tinyTarget(): Target {
  return targetFromObject(
    {
      format: 'gauntlet-target/1',
      name: 'tiny',
      scope: { hosts: ['127.0.0.1'] },
      interfaces: [
        { id: 'web', protocol: 'http', url: `http://127.0.0.1:${livePort}` },
        { id: 'dead', protocol: 'http', url: `http://127.0.0.1:${deadPort}` },
      ],
    },
    'test',
    {},
  );
}

type Run = (ctx: CheckContext) => Promise<CheckOutcome>;

function fakeCheck(id: string, run: Run, over: Partial<Check> = {}): Check & { calls: number } {
  const check = {
    id,
    title: `title of ${id}`,
    catalog: [],
    requirements: ['REQ-1', 'REQ-2'],
    protocols: ['http'] as const,
    phase: 'main' as const,
    severity: 'medium' as const,
    remedy: `remedy of ${id}`,
    timeoutMs: 5000,
    applies: () => undefined,
    ...over,
    calls: 0,
    run(ctx: CheckContext) {
      check.calls++;
      return run(ctx);
    },
  };
  return check;
}

const outcome = (verdict: CheckOutcome['verdict'], over: Partial<CheckOutcome> = {}): CheckOutcome => ({ verdict, reason: `said ${verdict}`, findings: [], ...over });
const draft = (summary: string, severity?: 'critical') => ({ summary, evidence: { observed: `saw ${summary}`, transcript: [] }, ...(severity ? { severity } : {}) });

interface Harness {
  events: RunEvent[];
  controller: AbortController;
  replays: { instanceId: string; fileId: string }[];
  run(checks: Check[], opts?: { only?: string[]; onEvent?: (e: RunEvent) => void; target?: Target }): Promise<{ results: readonly CheckResult[]; interrupted: boolean; plan: PlannedCheck[] }>;
}

function harness(): Harness {
  const h: Harness = {
    events: [],
    controller: new AbortController(),
    replays: [],
    async run(checks, opts = {}) {
      const target = opts.target ?? tinyTarget();
      const planned = plan(target, { name: 't', source: 't', description: '', checks: checks.map((c) => c.id), requirements: [] }, checks, {
        runSeed: 4242,
        only: opts.only ?? checks.map((c) => `${c.id}@web`),
      });
      const options: RunnerOptions = {
        target,
        plan: planned,
        meta: META,
        signal: h.controller.signal,
        ioTimeoutMs: 300,
        budget: { numRuns: 10, timeMs: 1000 },
        dispatch: async (e) => {
          h.events.push(e);
          opts.onEvent?.(e);
        },
        replayCommand: (f) => {
          h.replays.push(f);
          return `gauntlet replay findings/${f.fileId}.json`;
        },
      };
      const out = await runChecks(options);
      return { ...out, plan: planned };
    },
  };
  return h;
}

const ends = (events: RunEvent[]) => events.flatMap((e) => (e.type === 'check-end' ? [e.result] : []));
const types = (events: RunEvent[]) => events.map((e) => e.type);

describe('runChecks', () => {
  it('turns pass/fail/skipped/inconclusive outcomes into check-end events in plan order', async () => {
    const h = harness();
    const checks = [
      fakeCheck('t.pass', async () => outcome('pass')),
      fakeCheck('t.fail', async () => outcome('fail', { findings: [draft('bad')] })),
      fakeCheck('t.skipped', async () => outcome('skipped')),
      fakeCheck('t.inconclusive', async () => outcome('inconclusive', { cases: 3 })),
    ];
    const { results, interrupted } = await h.run(checks);
    expect(interrupted).toBe(false);
    const got = ends(h.events);
    expect(got.map((r) => [r.instance.id, r.verdict, r.reason])).toEqual([
      ['t.pass@web', 'pass', 'said pass'],
      ['t.fail@web', 'fail', 'said fail'],
      ['t.skipped@web', 'skipped', 'said skipped'],
      ['t.inconclusive@web', 'inconclusive', 'said inconclusive'],
    ]);
    expect(results).toEqual(got);
    expect(got[3]!.cases).toBe(3);
    expect(got[0]).toMatchObject({ title: 'title of t.pass', requirements: ['REQ-1', 'REQ-2'], instance: { checkId: 't.pass', interfaceId: 'web' } });
    expect(types(h.events)).toEqual(['run-begin', ...Array(4).fill(['check-begin', 'check-end']).flat(), 'run-end']);
    const begins = h.events.flatMap((e) => (e.type === 'check-begin' ? [[e.instanceId, e.index, e.total]] : []));
    expect(begins).toEqual([
      ['t.pass@web', 1, 4],
      ['t.fail@web', 2, 4],
      ['t.skipped@web', 3, 4],
      ['t.inconclusive@web', 4, 4],
    ]);
    const end = h.events.at(-1)!;
    expect(end).toMatchObject({ type: 'run-end', interrupted: false, summary: { pass: 1, fail: 1, skipped: 1, inconclusive: 1, error: 0 } });
    // liveness before and after each of the four
    expect(probes).toBe(8);
    expect(checks.every((c) => c.calls === 1)).toBe(true);
  });

  it('run-begin carries the meta and the plan without the check objects', async () => {
    const h = harness();
    await h.run([fakeCheck('t.pass', async () => outcome('pass'))]);
    const begin = h.events[0]!;
    expect(begin.type).toBe('run-begin');
    if (begin.type !== 'run-begin') return;
    expect(begin.run).toEqual(META);
    expect(begin.plan).toHaveLength(1);
    expect(begin.plan[0]).not.toHaveProperty('check');
    expect(begin.plan[0]).toMatchObject({ id: 't.pass@web', checkId: 't.pass', interfaceId: 'web', title: 'title of t.pass' });
  });

  it('a check that throws a plain Error is verdict error, code CHECK_CRASHED', async () => {
    const h = harness();
    const { results } = await h.run([fakeCheck('t.crash', async () => Promise.reject(new TypeError('cannot read x of undefined')))]);
    expect(results[0]).toMatchObject({ verdict: 'error', errorCode: 'CHECK_CRASHED', reason: 't.crash@web threw: cannot read x of undefined', findings: [] });
  });

  it('a check that throws synchronously is caught the same way', async () => {
    const h = harness();
    const { results } = await h.run([
      fakeCheck('t.sync', () => {
        throw new Error('sync boom');
      }),
    ]);
    expect(results[0]).toMatchObject({ verdict: 'error', errorCode: 'CHECK_CRASHED' });
    expect(h.events.at(-1)).toMatchObject({ type: 'run-end' });
  });

  it('a check stopped by the real scope guard is verdict error with SCOPE_VIOLATION', async () => {
    const h = harness();
    const { results } = await h.run([
      fakeCheck('t.scope', async (ctx) => {
        ctx.scope.assert('192.0.2.1', 'http web');
        return outcome('pass');
      }),
      fakeCheck('t.thrown', async () => {
        throw new GauntletError('SCOPE_VIOLATION', 'no');
      }),
    ]);
    expect(results.map((r) => [r.verdict, r.errorCode])).toEqual([
      ['error', 'SCOPE_VIOLATION'],
      ['error', 'SCOPE_VIOLATION'],
    ]);
    expect(results[0]!.reason).toContain('refusing to contact 192.0.2.1');
  });

  it('a check that never resolves is CHECK_TIMEOUT after its timeoutMs, and its signal is aborted', async () => {
    const h = harness();
    let aborted = false;
    const started = Date.now();
    const { results } = await h.run([
      fakeCheck(
        't.hang',
        (ctx) =>
          new Promise<never>(() => {
            ctx.signal.addEventListener('abort', () => (aborted = true));
          }),
        { timeoutMs: 150 },
      ),
      fakeCheck('t.next', async () => outcome('pass')),
    ]);
    expect(results.map((r) => [r.verdict, r.errorCode])).toEqual([
      ['error', 'CHECK_TIMEOUT'],
      ['pass', undefined],
    ]);
    expect(results[0]!.reason).toBe('t.hang@web ran past its 150ms bound');
    expect(aborted).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a target dead before the check: inconclusive, and the check does not run', async () => {
    const h = harness();
    const check = fakeCheck('t.never', async () => outcome('pass'));
    const { results } = await h.run([check], { only: ['t.never@dead'] });
    expect(check.calls).toBe(0);
    expect(results[0]).toMatchObject({ verdict: 'inconclusive', instance: { interfaceId: 'dead' } });
    expect(results[0]!.reason).toMatch(/^target not answering before the check: unreachable: ECONNREFUSED/);
  });

  it('a planned skip (applies() said why) is skipped without a probe or a run', async () => {
    const h = harness();
    const check = fakeCheck('t.na', async () => outcome('pass'), { applies: () => 'not for this one' });
    const { results } = await h.run([check]);
    expect(check.calls).toBe(0);
    expect(probes).toBe(0);
    expect(results[0]).toMatchObject({ verdict: 'skipped', reason: 'not for this one' });
  });

  it('a check returning fail without findings is a harness error', async () => {
    const h = harness();
    const { results } = await h.run([fakeCheck('t.empty-fail', async () => outcome('fail'))]);
    expect(results[0]).toMatchObject({ verdict: 'error', errorCode: 'CHECK_CRASHED', reason: 't.empty-fail@web returned fail without a finding' });
  });

  it('findings get ids <instance>#n, file ids, the check’s remedy and severity, and a replay command', async () => {
    const h = harness();
    const { results } = await h.run([fakeCheck('t.bad', async () => outcome('fail', { findings: [draft('one'), draft('two', 'critical')] }))]);
    const [a, b] = results[0]!.findings;
    expect(a).toEqual({
      id: 't.bad@web#1',
      fileId: 't.bad--web--1',
      checkId: 't.bad',
      instanceId: 't.bad@web',
      interfaceId: 'web',
      severity: 'medium',
      summary: 'one',
      remedy: 'remedy of t.bad',
      requirements: ['REQ-1', 'REQ-2'],
      evidence: { observed: 'saw one', transcript: [] },
      replay: 'gauntlet replay findings/t.bad--web--1.json',
    });
    expect(b).toMatchObject({ id: 't.bad@web#2', fileId: 't.bad--web--2', severity: 'critical' });
    expect(h.replays).toEqual([
      { instanceId: 't.bad@web', fileId: 't.bad--web--1' },
      { instanceId: 't.bad@web', fileId: 't.bad--web--2' },
    ]);
  });

  it('file ids are file-name safe', async () => {
    const h = harness();
    const { results } = await h.run([fakeCheck('t.odd/../x', async () => outcome('fail', { findings: [draft('x')] }))]);
    expect(results[0]!.findings[0]!.fileId).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(results[0]!.findings[0]!.fileId).not.toContain('/');
  });

  it('caseDone emits case events in order, between check-begin and check-end, and counts them', async () => {
    const h = harness();
    const { results } = await h.run([
      fakeCheck('t.cases', async (ctx) => {
        ctx.caseDone('first');
        ctx.caseDone('second');
        await new Promise((r) => setTimeout(r, 5));
        ctx.caseDone('third');
        return outcome('pass');
      }),
    ]);
    expect(types(h.events)).toEqual(['run-begin', 'check-begin', 'case', 'case', 'case', 'check-end', 'run-end']);
    expect(h.events.filter((e) => e.type === 'case')).toEqual([
      { type: 'case', instanceId: 't.cases@web', n: 1, summary: 'first' },
      { type: 'case', instanceId: 't.cases@web', n: 2, summary: 'second' },
      { type: 'case', instanceId: 't.cases@web', n: 3, summary: 'third' },
    ]);
    expect(results[0]!.cases).toBe(3);
  });

  it('hands the check its context: instance, interface, bounds, principals', async () => {
    const h = harness();
    let seen: CheckContext | undefined;
    const { plan: planned } = await h.run([
      fakeCheck('t.ctx', async (ctx) => {
        seen = ctx;
        return outcome('pass');
      }),
    ]);
    expect(seen!.iface).toMatchObject({ id: 'web', port: livePort });
    expect(seen!.instance).toEqual({ id: 't.ctx@web', checkId: 't.ctx', interfaceId: 'web', seed: planned[0]!.seed });
    expect(seen!.ioTimeoutMs).toBe(300);
    expect(seen!.budget).toEqual({ numRuns: 10, timeMs: 1000 });
    expect(seen!.principal('nobody')).toBeUndefined();
  });

  it('runs the fresh phase first and reports it before the main phase', async () => {
    const h = harness();
    const order: string[] = [];
    const main = fakeCheck('t.main', async () => (order.push('main'), outcome('pass')));
    const fresh = fakeCheck('t.fresh', async () => (order.push('fresh'), outcome('pass')), { phase: 'fresh' });
    await h.run([main, fresh]);
    expect(order).toEqual(['fresh', 'main']);
    expect(ends(h.events).map((r) => r.instance.id)).toEqual(['t.fresh@web', 't.main@web']);
  });

  it('a target that stops answering during a passing check makes it inconclusive and drops findings', async () => {
    const h = harness();
    const { results } = await h.run([
      fakeCheck('t.kills', async () => {
        await closeServer(server);
        return outcome('pass');
      }),
    ]);
    expect(results[0]!.verdict).toBe('inconclusive');
    expect(results[0]!.reason).toMatch(/^target stopped answering during the check/);
  });

  it('a fail stays a fail with its findings when the target dies afterwards', async () => {
    const h = harness();
    const { results } = await h.run([
      fakeCheck('t.crashes-device', async () => {
        await closeServer(server);
        return outcome('fail', { findings: [draft('crashed it')] });
      }),
    ]);
    expect(results[0]!.verdict).toBe('fail');
    expect(results[0]!.reason).toContain('target stopped answering afterwards');
    expect(results[0]!.findings).toHaveLength(1);
  });

  // BUG harness/core/runner.ts:240-246 — the dead-target branch runs before the
  // "fail must carry a finding" rule, so a check that says fail without a
  // finding and happens to kill the target gets verdict fail with no finding
  // (no evidence, no replay command) instead of a harness error.
  // Fix: check `outcome.verdict === 'fail' && findings.length === 0` first.
  it('a fail without findings is an error even when the target died', async () => {
    const h = harness();
    const { results } = await h.run([
      fakeCheck('t.empty-fail-kills', async () => {
        await closeServer(server);
        return outcome('fail');
      }),
    ]);
    expect(results[0]).toMatchObject({ verdict: 'error', errorCode: 'CHECK_CRASHED' });
  });

  it('aborting mid-run: run-end interrupted=true, the current check inconclusive, the rest never run', async () => {
    const h = harness();
    const later = fakeCheck('t.later', async () => outcome('pass'));
    const first = fakeCheck('t.first', async (ctx) => {
      ctx.caseDone('one');
      await ctx.sleep(10_000); // rejects with ABORTED when the run is aborted
      return outcome('pass');
    });
    const started = Date.now();
    const { results, interrupted } = await h.run([first, later], {
      onEvent: (e) => {
        if (e.type === 'case') h.controller.abort();
      },
    });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(interrupted).toBe(true);
    expect(later.calls).toBe(0);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ verdict: 'inconclusive', reason: 'interrupted before the check finished' });
    expect(h.events.some((e) => e.type === 'check-begin' && e.instanceId === 't.later@web')).toBe(false);
    expect(h.events.at(-1)).toMatchObject({ type: 'run-end', interrupted: true, summary: { inconclusive: 1, pass: 0 } });
  });

  it('a pass returned after the abort is not trusted: inconclusive, findings dropped', async () => {
    const h = harness();
    const { results } = await h.run([
      fakeCheck('t.ignores-abort', async (ctx) => {
        ctx.caseDone('x');
        await new Promise((r) => setTimeout(r, 20));
        return outcome('pass');
      }),
    ], { onEvent: (e) => e.type === 'case' && h.controller.abort() });
    expect(results[0]).toMatchObject({ verdict: 'inconclusive', reason: 'interrupted before the check finished', findings: [] });
  });

  // BUG harness/core/runner.ts:239 — after an abort, a check that returns fail
  // (it did find something) goes on to the after-probe with the run's aborted
  // signal; undici refuses at once, so the runner records "target stopped
  // answering afterwards (unreachable: 20)" on a device that is fine (an
  // inconclusive/skipped outcome likewise becomes "target stopped answering
  // during the check"). Fix: skip the after-probe when signal.aborted, or
  // probe with a signal of its own.
  it('after an abort, a fail is not blamed on a dead target that is alive', async () => {
    const h = harness();
    const { results } = await h.run([
      fakeCheck('t.found-then-abort', async (ctx) => {
        ctx.caseDone('x');
        await new Promise((r) => setTimeout(r, 20));
        return outcome('fail', { findings: [draft('found it')] });
      }),
    ], { onEvent: (e) => e.type === 'case' && h.controller.abort() });
    expect(server!.listening).toBe(true);
    expect(results[0]!.verdict).toBe('fail');
    expect(results[0]!.reason).not.toContain('stopped answering');
  });

  it('an already-aborted run still emits run-begin and run-end, and runs nothing', async () => {
    const h = harness();
    h.controller.abort();
    const check = fakeCheck('t.pass', async () => outcome('pass'));
    const { results, interrupted } = await h.run([check]);
    expect(check.calls).toBe(0);
    expect(results).toEqual([]);
    expect(interrupted).toBe(true);
    expect(types(h.events)).toEqual(['run-begin', 'run-end']);
  });

  it('an empty plan still emits run-begin and run-end, not interrupted', async () => {
    const h = harness();
    const { results, interrupted } = await h.run([], { only: [] });
    expect(results).toEqual([]);
    expect(interrupted).toBe(false);
    expect(types(h.events)).toEqual(['run-begin', 'run-end']);
    expect(h.events[1]).toMatchObject({ summary: { pass: 0, fail: 0, inconclusive: 0, error: 0, skipped: 0 } });
  });

  it('every check crashing still ends with run-end counting the errors', async () => {
    const h = harness();
    await h.run([fakeCheck('t.a', async () => Promise.reject(new Error('a'))), fakeCheck('t.b', async () => Promise.reject('not even an Error'))]);
    expect(h.events.at(-1)).toMatchObject({ type: 'run-end', interrupted: false, summary: { error: 2 } });
    expect(ends(h.events)[1]!.reason).toBe('t.b@web threw: not even an Error');
  });
});
