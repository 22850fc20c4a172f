// gauntlet merge: synthetic shard logs written to tmp dirs (through the same
// reporters a live run uses), merged, and compared with the single run's
// report; then every way a set of directories can fail to be one run.

import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shardPlan } from '../../harness/core/shard.js';
import type { CheckResult, Finding, PlannedInstance, ProfileSummary, Report, RunEvent, RunMeta, Verdict } from '../../harness/model/index.js';
import { EventLogReporter, readEventLog } from '../../harness/report/event-log.js';
import { mergeEvents, mergeOrders, mergePlans, mergeRunDirs, readShardRun, checkShards, withoutShardOption } from '../../harness/report/merge.js';
import { EVENTS_FILE, JUNIT_FILE, REPORT_FILE } from '../../harness/report/paths.js';
import { buildReport } from '../../harness/report/report-builder.js';
import { reportWriters } from '../../harness/report/report-set.js';
import { eventLogLineSchema, reportSchema } from '../../harness/report/schemas.js';
import { feed } from './synthetic-run.js';
import { gauntletErrorOf } from '../support/errors.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'gauntlet-merge-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const META: RunMeta = {
  id: 'single',
  seed: 42,
  startedAt: '2026-01-01T10:00:00.000Z',
  target: 'reference-device',
  targetSource: 'builtin:reference-device',
  profile: 'default',
  harnessVersion: '0.1.0',
  flaws: ['anonymous-mqtt'],
  argv: ['run', '--seed', '42', '--flaws', 'anonymous-mqtt'],
  node: 'v20.20.0',
  platform: 'linux-x64',
};

const PROFILE: ProfileSummary = {
  name: 'default',
  description: 'synthetic',
  requirements: [
    { id: 'REQ-AUTH', title: 'authentication', checks: ['auth.anonymous-access', 'auth.default-credentials'], status: 'covered' },
    { id: 'REQ-NET', title: 'network', checks: ['access.exposed-surface', 'transport.plaintext'], status: 'covered' },
    { id: 'REQ-UPD', title: 'updates', checks: ['update.tamper'], status: 'covered' },
  ],
};

const p = (checkId: string, interfaceId: string, skipReason?: string): PlannedInstance => ({
  id: `${checkId}@${interfaceId}`,
  checkId,
  interfaceId,
  seed: checkId.length * 1000 + interfaceId.length,
  title: `title of ${checkId}`,
  requirements: [`REQ:${checkId}`],
  ...(skipReason ? { skipReason } : {}),
});

/** In plan order: by check (phase, profile order), then by interface (target order). */
const PLAN: PlannedInstance[] = [
  p('auth.default-credentials', 'mqtt'),
  p('auth.default-credentials', 'coap'),
  p('auth.default-credentials', 'http'),
  p('auth.anonymous-access', 'mqtt'),
  p('auth.anonymous-access', 'http'),
  p('access.exposed-surface', 'target'),
  p('transport.plaintext', 'target'),
  p('transport.dtls-replay', 'coap'),
  p('robustness.fuzz', 'coap'),
  p('update.tamper', 'http', 'no declared update path'),
];
const COST: Record<string, number> = { 'robustness.fuzz': 20_000, 'auth.default-credentials': 9000, 'update.tamper': 0 };
const cost = (x: PlannedInstance) => COST[x.checkId] ?? 1000;

const VERDICT: Record<string, Verdict> = {
  'auth.anonymous-access@mqtt': 'fail',
  'transport.dtls-replay@coap': 'error',
  'robustness.fuzz@coap': 'inconclusive',
  'update.tamper@http': 'skipped',
};

function resultOf(x: PlannedInstance): CheckResult {
  const verdict = VERDICT[x.id] ?? 'pass';
  const fileId = `${x.checkId}--${x.interfaceId}--1`;
  const finding: Finding = {
    id: `${x.id}#1`,
    fileId,
    checkId: x.checkId,
    instanceId: x.id,
    interfaceId: x.interfaceId,
    severity: 'high',
    summary: `${x.id} accepted an anonymous session`,
    remedy: 'refuse it',
    requirements: x.requirements,
    evidence: { observed: 'CONNACK 0', transcript: [{ t: 1, dir: 'sent', peer: x.interfaceId, decoded: 'CONNECT' }] },
    replay: `gauntlet replay s/findings/${fileId}.json`,
  };
  return {
    instance: { id: x.id, checkId: x.checkId, interfaceId: x.interfaceId, seed: x.seed },
    title: x.title,
    requirements: x.requirements,
    verdict,
    reason: `${verdict} because`,
    durationMs: cost(x) / 10,
    cases: 3,
    findings: verdict === 'fail' ? [finding] : [],
    ...(verdict === 'error' ? { errorCode: 'CHECK_TIMEOUT' } : {}),
  };
}

interface RunOptions {
  readonly shard?: { index: number; total: number; planIds?: readonly string[] };
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** End this many instances, begin the next, and stop without run-end (a killed run). */
  readonly killedAfter?: number;
}

/** Events as the runner emits them for `plan`. */
function runEvents(plan: readonly PlannedInstance[], meta: RunMeta, o: RunOptions = {}): RunEvent[] {
  // run.shard.planIds is read loosely by merge (RunMeta may not declare it yet).
  const run = { ...meta, ...(o.shard ? { shard: o.shard, argv: [...meta.argv, '--shard', `${o.shard.index}/${o.shard.total}`] } : {}), startedAt: o.startedAt ?? meta.startedAt } as RunMeta;
  const events: RunEvent[] = [{ type: 'run-begin', run, plan, profile: PROFILE }];
  events.push({ type: 'note', text: 'provisioning: done' });
  const results: CheckResult[] = [];
  for (const [i, x] of plan.entries()) {
    if (o.killedAfter !== undefined && i > o.killedAfter) break;
    events.push({ type: 'check-begin', instanceId: x.id, index: i + 1, total: plan.length });
    events.push({ type: 'case', instanceId: x.id, n: 1, summary: 'case 1' });
    if (o.killedAfter !== undefined && i === o.killedAfter) break;
    const r = resultOf(x);
    results.push(r);
    events.push({ type: 'check-end', result: r });
  }
  if (o.killedAfter === undefined) {
    const summary = { pass: 0, fail: 0, inconclusive: 0, error: 0, skipped: 0 };
    for (const r of results) summary[r.verdict]++;
    events.push({ type: 'run-end', finishedAt: o.finishedAt ?? '2026-01-01T10:05:00.000Z', durationMs: 300_000, summary, interrupted: false });
  }
  return events;
}

/** A run directory as a live run writes it: events.jsonl and the report files. */
async function writeRun(dir: string, events: readonly RunEvent[]): Promise<string> {
  mkdirSync(dir, { recursive: true });
  await feed(events, new EventLogReporter(join(dir, EVENTS_FILE)), ...reportWriters(dir));
  return dir;
}

/** Shards of PLAN as `gauntlet run --shard i/n` writes them; `planIds: false` as logs from before run.shard.planIds. */
async function writeShards(total = 4, meta: RunMeta = META, only?: number[], planIds = true): Promise<string[]> {
  const dirs: string[] = [];
  for (let i = 1; i <= total; i++) {
    if (only && !only.includes(i)) continue;
    const slice = shardPlan(PLAN, { index: i, total }, cost);
    const shard = planIds ? { index: i, total, planIds: PLAN.map((x) => x.id) } : { index: i, total };
    const events = runEvents(slice, { ...meta, id: `shard-${i}` }, { shard, startedAt: `2026-01-01T10:0${i}:00.000Z`, finishedAt: `2026-01-01T10:1${i}:00.000Z` });
    dirs.push(await writeRun(join(tmp, `s${i}`), events));
  }
  return dirs;
}

const readJson = (path: string): Report => JSON.parse(readFileSync(path, 'utf8')) as Report;
/** What must agree between a sharded and an unsharded run. */
const essence = (r: Report) =>
  [...r.checks]
    .map((c) => ({ id: c.id, verdict: c.verdict, reason: c.reason, findings: c.findings.map((f) => f.file), cases: c.cases }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));


describe('merge of four shards', () => {
  it('gives the single run\'s checks, verdicts, findings and requirement matrix', async () => {
    const single = buildReport(runEvents(PLAN, META));
    const dirs = await writeShards();
    // Every shard got something: the test is about merging, not about empty slices.
    for (const d of dirs) expect(readShardRun(d).begin.plan.length).toBeGreaterThan(0);

    const r = await mergeRunDirs(dirs, join(tmp, 'merged'), { runId: 'merged-1' });
    const merged = readJson(join(tmp, 'merged', REPORT_FILE));
    expect(essence(merged)).toEqual(essence(single));
    expect(merged.checks.map((c) => c.id)).toEqual(PLAN.map((x) => x.id));
    expect(merged.summary).toEqual(single.summary);
    expect(merged.requirements).toEqual(single.requirements);
    expect(r.report.summary).toEqual(single.summary);
    expect(r.shards.missing).toEqual([]);

    expect(merged.run.id).toBe('merged-1');
    expect(merged.run.shard).toBeUndefined();
    expect(merged.run.startedAt).toBe('2026-01-01T10:01:00.000Z');
    expect(merged.run.finishedAt).toBe('2026-01-01T10:14:00.000Z');
    expect(merged.run.durationMs).toBe(13 * 60_000);
    expect(merged.run.interrupted).toBe(false);
    expect(merged.run.argv).toEqual(META.argv);
    expect(merged.run).toMatchObject({ seed: 42, profile: 'default', target: 'reference-device', flaws: ['anonymous-mqtt'] });

    const junit = readFileSync(join(tmp, 'merged', JUNIT_FILE), 'utf8');
    expect(junit.match(/<testcase /g)).toHaveLength(PLAN.length);
    expect(junit).not.toContain('name="shard"');
  });

  it('without the recorded plan (older logs) the merged order still keeps every shard\'s order', async () => {
    const dirs = await writeShards(4, META, undefined, false);
    const r = await mergeRunDirs(dirs, join(tmp, 'merged'));
    expect(essence(r.report)).toEqual(essence(buildReport(runEvents(PLAN, META))));
    const merged = r.report.checks.map((c) => c.id);
    for (const d of dirs) {
      const ids = readShardRun(d).begin.plan.map((x) => x.id);
      expect(merged.filter((id) => ids.includes(id))).toEqual(ids);
    }
  });

  it('shards that recorded different plans are not one run', async () => {
    const [a] = await writeShards(2, META, [1]);
    const other = PLAN.slice(0, 8).map((x) => x.id);
    const slice = shardPlan(PLAN.slice(0, 8), { index: 2, total: 2 }, cost);
    const b = await writeRun(join(tmp, 'b'), runEvents(slice, META, { shard: { index: 2, total: 2, planIds: other } }));
    const e = await gauntletErrorOf(() => mergeRunDirs([a!, b], join(tmp, 'm')));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/slices of different plans/);
  });

  it('copies each shard\'s finding files byte for byte', async () => {
    const dirs = await writeShards();
    const r = await mergeRunDirs(dirs, join(tmp, 'merged'));
    expect(r.findings).toEqual(['findings/auth.anonymous-access--mqtt--1.json']);
    const from = dirs.find((d) => readdirSync(d).includes('findings'))!;
    expect(readFileSync(join(tmp, 'merged', r.findings[0]!))).toEqual(readFileSync(join(from, r.findings[0]!)));
    const merged = readJson(join(tmp, 'merged', REPORT_FILE));
    expect(merged.checks.flatMap((c) => c.findings.map((f) => f.file))).toEqual(r.findings);
  });

  it('writes an event log that reads as one run and merges again to the same report', async () => {
    const dirs = await writeShards();
    await mergeRunDirs(dirs.reverse(), join(tmp, 'merged'), { runId: 'm1' });
    const events = readEventLog(join(tmp, 'merged', EVENTS_FILE));
    expect(events.filter((e) => e.type === 'run-begin')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'run-end')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'check-begin').map((e) => (e as { index: number }).index)).toEqual(PLAN.map((_, i) => i + 1));
    const notes = events.filter((e) => e.type === 'note').map((e) => (e as { text: string }).text);
    expect(notes[0]).toMatch(/^merged from 4 of 4 shard\(s\)/);
    expect(notes).toContain('shard 2/4: provisioning: done');
    const first = readJson(join(tmp, 'merged', REPORT_FILE));
    expect(buildReport(events)).toEqual(first);
    // Both files keep to their published schemas.
    for (const line of readFileSync(join(tmp, 'merged', EVENTS_FILE), 'utf8').trim().split('\n')) {
      expect(eventLogLineSchema.safeParse(JSON.parse(line)).success, line).toBe(true);
    }
    expect(reportSchema.safeParse(first).success).toBe(true);

    const again = await mergeRunDirs([join(tmp, 'merged')], join(tmp, 'again'), { runId: 'm2' });
    expect(essence(again.report)).toEqual(essence(first));
    expect(again.report.checks.map((c) => c.id)).toEqual(first.checks.map((c) => c.id));
  });

  it('a shard killed mid-check (last line cut short) merges as interrupted, its unfinished check inconclusive', async () => {
    const dirs = await writeShards(2);
    const slice = readShardRun(dirs[1]!).begin.plan;
    const killed = runEvents(slice, { ...META, id: 'k' }, { shard: { index: 2, total: 2 }, killedAfter: 1 });
    rmSync(dirs[1]!, { recursive: true });
    await writeRun(dirs[1]!, killed);
    const log = join(dirs[1]!, EVENTS_FILE);
    writeFileSync(log, `${readFileSync(log, 'utf8')}{"type":"check-end","result":{"inst`);

    const r = await mergeRunDirs(dirs, join(tmp, 'merged'));
    expect(r.report.run.interrupted).toBe(true);
    const c = r.report.checks.find((x) => x.id === slice[1]!.id)!;
    expect(c.verdict).toBe('inconclusive');
    expect(c.reason).toMatch(/not finished/);
    expect(r.report.checks.find((x) => x.id === slice[2]?.id)?.reason ?? 'not run').toMatch(/not run/);
    expect(r.report.checks).toHaveLength(PLAN.length);
  });
});

describe('merge refuses what is not one run', () => {
  it('different seeds, profiles or Gauntlet versions: CONFIG_INVALID naming both directories', async () => {
    const [a] = await writeShards(2, META, [1]);
    const events = runEvents(shardPlan(PLAN, { index: 2, total: 2 }, cost), { ...META, seed: 7, profile: 'ci-smoke', harnessVersion: '0.2.0' }, { shard: { index: 2, total: 2 } });
    const b = await writeRun(join(tmp, 'other'), events);
    const e = await gauntletErrorOf(() => mergeRunDirs([a!, b], join(tmp, 'm')));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('not shards of one run');
    expect(e.message).toContain(`${b}: seed 7, but ${a}: seed 42`);
    expect(e.message).toContain(`${b}: profile ci-smoke, but ${a}: profile default`);
    expect(e.message).toContain(`${b}: Gauntlet version 0.2.0, but ${a}: Gauntlet version 0.1.0`);
    expect(e.exitCode).toBe(2);
  });

  it('different flaws (another device) and shard totals that disagree', async () => {
    const [a] = await writeShards(2, META, [1]);
    const b = await writeRun(join(tmp, 'b'), runEvents(PLAN.slice(0, 2), { ...META, flaws: [] }, { shard: { index: 2, total: 3 } }));
    const e = await gauntletErrorOf(() => mergeRunDirs([a!, b], join(tmp, 'm')));
    expect(e.message).toContain(`${b}: flaws (none), but ${a}: flaws anonymous-mqtt`);
    expect(e.message).toContain(`${b}: shard 2/3, but ${a}: shard 1/2`);
  });

  it('the same shard twice, or the same directory twice', async () => {
    const [a, b] = await writeShards(2);
    const copy = await writeRun(join(tmp, 'copy'), readEventLog(join(a!, EVENTS_FILE)));
    const dup = await gauntletErrorOf(() => mergeRunDirs([a!, b!, copy], join(tmp, 'm')));
    expect(dup.code).toBe('CONFIG_INVALID');
    expect(dup.message).toBe(`shard 1/2 given twice: ${a} and ${copy}`);
    expect((await gauntletErrorOf(() => mergeRunDirs([a!, b!, a!], join(tmp, 'm')))).message).toBe(`${a}: given twice`);
  });

  it('a missing shard is an error unless allowPartial; then the report says so and counts as interrupted', async () => {
    const dirs = await writeShards(4, META, [1, 2, 4]);
    const e = await gauntletErrorOf(() => mergeRunDirs(dirs, join(tmp, 'm')));
    expect(e.code).toBe('USAGE');
    expect(e.message).toMatch(/^shard 3\/4 missing \(given: .*s1 \(shard 1\/4\).*\); .*--allow-partial/);

    const r = await mergeRunDirs(dirs, join(tmp, 'partial'), { allowPartial: true });
    expect(r.shards.missing).toEqual([3]);
    expect(r.report.run.interrupted).toBe(true);
    const lost = shardPlan(PLAN, { index: 3, total: 4 }, cost).map((x) => x.id);
    expect(r.report.checks.map((c) => c.id).filter((id) => lost.includes(id))).toEqual([]);
    expect(r.report.checks).toHaveLength(PLAN.length - lost.length);
    const notes = readEventLog(join(tmp, 'partial', EVENTS_FILE)).flatMap((x) => (x.type === 'note' ? [x.text] : []));
    expect(notes).toContain(`shard(s) 3/4 missing: their checks are not in this report (${lost.join(', ')})`);
  });

  it('overlapping plans: an instance in two shards', async () => {
    const a = await writeRun(join(tmp, 'a'), runEvents(PLAN.slice(0, 3), META, { shard: { index: 1, total: 2 } }));
    const b = await writeRun(join(tmp, 'b'), runEvents(PLAN.slice(2), META, { shard: { index: 2, total: 2 } }));
    const e = await gauntletErrorOf(() => mergeRunDirs([a, b], join(tmp, 'm')));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(`instance ${PLAN[2]!.id} is planned in both ${a} (shard 1/2) and ${b} (shard 2/2): these are not slices of one plan`);
  });

  it('an event log of a newer format, a directory without one, a log with no run', async () => {
    const [a, b] = await writeShards(2);
    const log = join(b!, EVENTS_FILE);
    writeFileSync(log, readFileSync(log, 'utf8').replace('gauntlet-events/1', 'gauntlet-events/2'));
    const newer = await gauntletErrorOf(() => mergeRunDirs([a!, b!], join(tmp, 'm')));
    expect(newer.code).toBe('CONFIG_VERSION');
    expect(newer.message).toContain(`${log}:1: format gauntlet-events/2 is newer than this Gauntlet reads`);

    mkdirSync(join(tmp, 'empty'));
    const none = await gauntletErrorOf(() => mergeRunDirs([a!, join(tmp, 'empty')], join(tmp, 'm')));
    expect(none.code).toBe('CONFIG_NOT_FOUND');
    expect(none.message).toBe(`${join(tmp, 'empty', EVENTS_FILE)}: event log: no such file`);
    expect((await gauntletErrorOf(() => mergeRunDirs([join(tmp, 'nope')], join(tmp, 'm')))).message).toBe(`${join(tmp, 'nope')}: not a run directory: no such directory`);

    writeFileSync(log, '{"format":"gauntlet-events/1"}\n');
    expect((await gauntletErrorOf(() => mergeRunDirs([a!, b!], join(tmp, 'm')))).message).toBe(`${log}: no run-begin event: the run never started`);
  });

  it('--out must be a new directory', async () => {
    const dirs = await writeShards(2);
    expect((await gauntletErrorOf(() => mergeRunDirs(dirs, dirs[0]!))).message).toMatch(/is one of the shard directories/);
    await mergeRunDirs(dirs, join(tmp, 'm'));
    const e = await gauntletErrorOf(() => mergeRunDirs(dirs, join(tmp, 'm')));
    expect(e.code).toBe('USAGE');
    expect(e.message).toMatch(/already holds a run's reports/);
  });

  it('no directories at all', () => {
    expect(() => checkShards([])).toThrow(/at least one shard directory/);
  });
});

describe('merged plan order', () => {
  it('keeps every sequence\'s order and rebuilds the whole where the pieces show it', () => {
    expect(mergeOrders([['a', 'c'], ['b', 'c'], ['a', 'b']])).toEqual(['a', 'b', 'c']);
    expect(mergeOrders([['x'], ['y']])).toEqual(['x', 'y']);
    // Contradicting sequences still give every item once.
    expect(mergeOrders([['a', 'b'], ['b', 'a']]).sort()).toEqual(['a', 'b']);
  });

  it('orders instances by check, then interface', () => {
    const plans = [
      [PLAN[0]!, PLAN[4]!, PLAN[7]!],
      [PLAN[2]!, PLAN[3]!, PLAN[6]!],
      [PLAN[1]!, PLAN[5]!, PLAN[8]!, PLAN[9]!],
    ];
    const merged = mergePlans(plans).map((x) => x.id);
    for (const plan of plans) {
      const ids = plan.map((x) => x.id);
      expect(merged.filter((id) => ids.includes(id))).toEqual(ids);
    }
    expect(merged).toHaveLength(PLAN.length);
  });

  it('mergeEvents is pure: the same shards give the same events', async () => {
    const dirs = await writeShards(3);
    const set = checkShards(dirs.map(readShardRun));
    expect(mergeEvents(set, 'x')).toEqual(mergeEvents(checkShards([...dirs].reverse().map(readShardRun)), 'x'));
  });

  it('drops --shard from the recorded command line', () => {
    expect(withoutShardOption(['run', '--shard', '2/4', '--seed', '1', '--shard=3/4'])).toEqual(['run', '--seed', '1']);
  });
});
