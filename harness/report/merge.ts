// `gauntlet merge`: the shards of one run (`gauntlet run --shard i/n`, each
// on its own machine) become one run directory. Each shard's events.jsonl is
// read, the shards are checked to be slices of one run (same seed, profile,
// target, flaws and Gauntlet version; shard totals agree; every shard 1..n
// once), and their events are replayed into the same reporters a live run
// writes with, as one run: one run-begin with the merged plan, every shard's
// check events, one run-end. So the merged events.jsonl is itself an
// ordinary gauntlet-events/1 log, which can be read, reported or merged again.
//
// The merged plan is in the unsharded plan's order when the shards recorded
// it (`run.shard.planIds`, every instance id of the whole plan); otherwise
// it is rebuilt from the slices: by check, then by interface, each in the
// order the shards show, which keeps every shard's order but can only guess
// between checks no shard ran together.

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GauntletError } from '../core/errors.js';
import type { PlannedInstance, Report, RunEvent, RunMeta } from '../model/index.js';
import { EventLogReporter, readEventLog } from './event-log.js';
import { ReporterMux } from './multiplexer.js';
import { EVENTS_FILE, FINDINGS_DIR, REPORT_FILE } from './paths.js';
import { ReportBuilder, buildReport } from './report-builder.js';
import { newRunId } from './report-dir.js';
import { reportWriters } from './report-set.js';

type RunBegin = Extract<RunEvent, { type: 'run-begin' }>;
type RunEnd = Extract<RunEvent, { type: 'run-end' }>;

export interface ShardRun {
  /** The directory as given. */
  readonly dir: string;
  readonly events: readonly RunEvent[];
  readonly begin: RunBegin;
  /** Absent when the shard was killed before its run ended. */
  readonly end?: RunEnd;
  /** `1/1` for a run that was not sharded (or an earlier merge). */
  readonly shard: { readonly index: number; readonly total: number };
}

/** Reads one shard's run directory: its events.jsonl, which must hold exactly one run. */
export function readShardRun(dir: string): ShardRun {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new GauntletError('CONFIG_NOT_FOUND', `${dir}: not a run directory: no such directory`);
  }
  const path = join(dir, EVENTS_FILE);
  const events = readEventLog(path);
  const begins = events.filter((e): e is RunBegin => e.type === 'run-begin');
  if (begins.length === 0) throw new GauntletError('CONFIG_INVALID', `${path}: no run-begin event: the run never started`);
  if (begins.length > 1) throw new GauntletError('CONFIG_INVALID', `${path}: holds ${begins.length} runs; merge takes one run per directory`);
  const begin = begins[0]!;
  const ends = events.filter((e): e is RunEnd => e.type === 'run-end');
  const end = ends[ends.length - 1];
  const shard = begin.run.shard ?? { index: 1, total: 1 };
  return { dir, events, begin, ...(end ? { end } : {}), shard };
}

/**
 * The whole plan's instance ids, in order, when the shard recorded them
 * (`run.shard.planIds`). Read loosely: logs from before the field existed
 * lack it, and merge then rebuilds the order from the slices.
 */
export function planIdsOf(r: ShardRun): readonly string[] | undefined {
  const ids = (r.begin.run.shard as { readonly planIds?: unknown } | undefined)?.planIds;
  return Array.isArray(ids) && ids.every((x) => typeof x === 'string') ? (ids as string[]) : undefined;
}

const label = (r: ShardRun) => `${r.dir} (shard ${r.shard.index}/${r.shard.total})`;

export interface ShardSet {
  /** By shard index. */
  readonly runs: readonly ShardRun[];
  readonly total: number;
  /** Shard indices not given (only with allowPartial). */
  readonly missing: readonly number[];
}

/**
 * Checks that `runs` are slices of one run and sorts them by shard index.
 * Throws CONFIG_INVALID when they are not (naming the directories), USAGE
 * when a shard is missing and `allowPartial` is not set.
 */
export function checkShards(runs: readonly ShardRun[], opts: { readonly allowPartial?: boolean } = {}): ShardSet {
  if (runs.length === 0) throw new GauntletError('USAGE', 'merge needs at least one shard directory');
  const ref = runs[0]!;
  const problems: string[] = [];
  const same: readonly [string, (m: RunMeta) => string][] = [
    ['seed', (m) => String(m.seed)],
    ['profile', (m) => m.profile],
    ['target', (m) => m.target],
    ['flaws', (m) => [...m.flaws].sort().join(',') || '(none)'],
    ['Gauntlet version', (m) => m.harnessVersion],
  ];
  for (const r of runs.slice(1)) {
    for (const [what, get] of same) {
      const a = get(ref.begin.run);
      const b = get(r.begin.run);
      if (a !== b) problems.push(`${r.dir}: ${what} ${b}, but ${ref.dir}: ${what} ${a}`);
    }
    if (r.shard.total !== ref.shard.total) problems.push(`${r.dir}: shard ${r.shard.index}/${r.shard.total}, but ${ref.dir}: shard ${ref.shard.index}/${ref.shard.total}`);
  }
  if (problems.length > 0) {
    throw new GauntletError('CONFIG_INVALID', `these directories are not shards of one run (shards share seed, profile, target, flaws, Gauntlet version and shard count):\n  ${problems.join('\n  ')}`);
  }

  const total = ref.shard.total;
  const byIndex = new Map<number, ShardRun>();
  for (const r of runs) {
    const seen = byIndex.get(r.shard.index);
    if (seen) {
      throw new GauntletError(
        'CONFIG_INVALID',
        resolve(seen.dir) === resolve(r.dir) ? `${r.dir}: given twice` : `shard ${r.shard.index}/${total} given twice: ${seen.dir} and ${r.dir}`,
      );
    }
    byIndex.set(r.shard.index, r);
  }
  const missing = Array.from({ length: total }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  if (missing.length > 0 && !opts.allowPartial) {
    throw new GauntletError(
      'USAGE',
      `shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${total}`).join(', ')} missing (given: ${runs.map(label).join(', ')}); merge every shard's directory, or pass --allow-partial to merge what there is`,
    );
  }

  const sorted = [...byIndex.values()].sort((a, b) => a.shard.index - b.shard.index);
  // Shards that recorded the whole plan must have recorded the same one, and run only from it.
  const recorded = sorted.flatMap((r) => {
    const ids = planIdsOf(r);
    return ids ? [{ r, ids }] : [];
  });
  for (const { r, ids } of recorded) {
    const a = recorded[0]!;
    if (ids.join('\n') !== a.ids.join('\n')) {
      throw new GauntletError('CONFIG_INVALID', `${label(r)} and ${label(a.r)} are slices of different plans (another --only, profile or target file?): these are not shards of one run`);
    }
    const stray = r.begin.plan.find((p) => !ids.includes(p.id));
    if (stray) throw new GauntletError('CONFIG_INVALID', `${label(r)}: instance ${stray.id} is not in the plan the shard recorded`);
  }
  const owner = new Map<string, ShardRun>();
  for (const r of sorted) {
    for (const p of r.begin.plan) {
      const other = owner.get(p.id);
      if (other) throw new GauntletError('CONFIG_INVALID', `instance ${p.id} is planned in both ${label(other)} and ${label(r)}: these are not slices of one plan`);
      owner.set(p.id, r);
    }
  }
  return { runs: sorted, total, missing };
}

/**
 * One order that keeps every sequence's order: repeatedly the earliest-seen
 * item that no sequence still has something before. Falls back to
 * first-seen order should the sequences disagree.
 */
export function mergeOrders(seqs: readonly (readonly string[])[]): string[] {
  const seen: string[] = [];
  const rank = new Map<string, number>();
  const before = new Map<string, Set<string>>();
  for (const seq of seqs) {
    for (const [k, item] of seq.entries()) {
      if (!rank.has(item)) {
        rank.set(item, seen.length);
        seen.push(item);
        before.set(item, new Set());
      }
      const prev = seq[k - 1];
      if (prev !== undefined && prev !== item) before.get(item)!.add(prev);
    }
  }
  const out: string[] = [];
  const placed = new Set<string>();
  while (out.length < seen.length) {
    const ready = seen.find((x) => !placed.has(x) && [...before.get(x)!].every((p) => placed.has(p))) ?? seen.find((x) => !placed.has(x))!;
    placed.add(ready);
    out.push(ready);
  }
  return out;
}

/**
 * The shards' plans as one: in `order` (the whole plan's ids) when given;
 * otherwise by check, then by interface, each in the order the shards show.
 */
export function mergePlans(plans: readonly (readonly PlannedInstance[])[], order?: readonly string[]): PlannedInstance[] {
  if (order) {
    const rank = new Map(order.map((id, i) => [id, i]));
    return plans.flat().sort((a, b) => (rank.get(a.id) ?? order.length) - (rank.get(b.id) ?? order.length));
  }
  const checkRank = new Map(mergeOrders(plans.map((p) => p.map((i) => i.checkId))).map((c, i) => [c, i]));
  const ifaceSeqs = plans.flatMap((p) => [...new Set(p.map((i) => i.checkId))].map((c) => p.filter((i) => i.checkId === c).map((i) => i.interfaceId)));
  const ifaceRank = new Map(mergeOrders(ifaceSeqs).map((f, i) => [f, i]));
  return plans.flat().sort((a, b) => checkRank.get(a.checkId)! - checkRank.get(b.checkId)! || ifaceRank.get(a.interfaceId)! - ifaceRank.get(b.interfaceId)!);
}

/** A shard's command line without its --shard option: the command that runs the whole plan. */
export function withoutShardOption(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--shard') i++;
    else if (!argv[i]!.startsWith('--shard=')) out.push(argv[i]!);
  }
  return out;
}

const time = (iso: string) => {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : t;
};

/**
 * The merged run as events (pure). Its meta is the first shard's without
 * `shard`, with the new run id, the earliest start, and the first shard's
 * command line without --shard; its run-end has the latest finish and is
 * interrupted when a shard was (or never ended) or shards are missing.
 * Run-level notes are labelled with their shard.
 */
export function mergeEvents(set: ShardSet, runId: string): RunEvent[] {
  const { runs, total, missing } = set;
  const first = runs[0]!;
  const { shard: _shard, ...base } = first.begin.run;
  const startedAt = runs.map((r) => r.begin.run.startedAt).reduce((a, b) => (time(b) < time(a) ? b : a));
  const run: RunMeta = { ...base, id: runId, startedAt, argv: withoutShardOption(base.argv) };
  const order = runs.map(planIdsOf).find((ids) => ids !== undefined);
  const plan = mergePlans(runs.map((r) => r.begin.plan), order);
  const profile = runs.find((r) => r.begin.profile)?.begin.profile;

  const events: RunEvent[] = [profile ? { type: 'run-begin', run, plan, profile } : { type: 'run-begin', run, plan }];
  events.push({ type: 'note', text: `merged from ${runs.length} of ${total} shard(s): ${runs.map(label).join(', ')}` });
  if (missing.length > 0) {
    const lost = order ? order.filter((id) => !plan.some((p) => p.id === id)) : [];
    events.push({
      type: 'note',
      text: `shard(s) ${missing.map((i) => `${i}/${total}`).join(', ')} missing: their checks are not in this report${lost.length ? ` (${lost.join(', ')})` : ''}`,
    });
  }
  let index = 0;
  for (const r of runs) {
    const tag = total > 1 ? `shard ${r.shard.index}/${total}` : r.dir;
    for (const e of r.events) {
      switch (e.type) {
        case 'run-begin':
        case 'run-end':
          break;
        case 'check-begin':
          events.push({ ...e, index: ++index, total: plan.length });
          break;
        case 'note':
          events.push(e.instanceId === undefined ? { type: 'note', text: `${tag}: ${e.text}` } : e);
          break;
        default:
          events.push(e);
      }
    }
    if (!r.end) events.push({ type: 'note', text: `${tag} (${r.dir}): the log ends before run-end (the shard was killed); its unfinished checks are inconclusive` });
  }

  const ended = runs.flatMap((r) => (r.end ? [r.end] : []));
  const finishedAt = ended.length > 0 ? ended.map((e) => e.finishedAt).reduce((a, b) => (time(b) > time(a) ? b : a)) : startedAt;
  const summary = buildReport(events).summary;
  events.push({
    type: 'run-end',
    finishedAt,
    durationMs: Math.max(0, time(finishedAt) - time(startedAt)),
    summary,
    interrupted: missing.length > 0 || runs.some((r) => !r.end || r.end.interrupted),
  });
  return events;
}

export interface MergeOptions {
  readonly allowPartial?: boolean;
  /** Default: a new run id from the clock. */
  readonly runId?: string;
  /** Adds what the caller decides after the events (a CI gate) to report.json. */
  readonly finish?: (r: Report) => Report;
}

export interface MergeResult {
  /** Absolute path of the merged run directory. */
  readonly dir: string;
  readonly report: Report;
  readonly shards: ShardSet;
  /** Finding files copied from the shards, relative to `dir`. */
  readonly findings: readonly string[];
}

/**
 * Merges the shard run directories `dirs` into the new run directory `out`:
 * events.jsonl, report.json, junit.xml, bench.md (when something was
 * measured) and findings/, each shard's finding files copied as they are.
 */
export async function mergeRunDirs(dirs: readonly string[], out: string, opts: MergeOptions = {}): Promise<MergeResult> {
  const outAbs = resolve(out);
  const inside = dirs.find((d) => resolve(d) === outAbs);
  if (inside !== undefined) throw new GauntletError('USAGE', `--out ${out} is one of the shard directories; merge into a new directory`);
  const shards = checkShards(dirs.map(readShardRun), opts);
  if (existsSync(join(outAbs, EVENTS_FILE)) || existsSync(join(outAbs, REPORT_FILE))) {
    throw new GauntletError('USAGE', `--out ${out} already holds a run's reports; merge into a new directory`);
  }
  try {
    mkdirSync(outAbs, { recursive: true });
  } catch (e) {
    throw new GauntletError('REPORT_WRITE', `${out}: cannot create the report directory (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { cause: e });
  }

  const events = mergeEvents(shards, opts.runId ?? newRunId(new Date()));
  const mux = new ReporterMux([new EventLogReporter(join(outAbs, EVENTS_FILE)), ...reportWriters(outAbs, opts.finish)]);
  for (const e of events) void mux.dispatch(e);
  await mux.idle();
  const failed = mux.errors();
  if (failed.length > 0) {
    throw new GauntletError('REPORT_WRITE', `${out}: the merged reports were not all written: ${failed.map((f) => `${f.reporter}: ${f.message}`).join('; ')}`);
  }

  // The findings writer above rewrote each finding under the merged run id;
  // the shards' own files replace them, byte for byte, as the evidence filed.
  const findings = copyFindings(shards.runs, outAbs);
  const builder = new ReportBuilder();
  for (const e of events) builder.apply(e);
  const report = opts.finish ? opts.finish(builder.report()) : builder.report();
  return { dir: outAbs, report, shards, findings };
}

function copyFindings(runs: readonly ShardRun[], outAbs: string): string[] {
  const from = new Map<string, string>();
  const copied: string[] = [];
  for (const r of runs) {
    const src = join(r.dir, FINDINGS_DIR);
    if (!existsSync(src)) continue;
    mkdirSync(join(outAbs, FINDINGS_DIR), { recursive: true });
    for (const name of readdirSync(src).sort()) {
      const file = join(src, name);
      if (!name.endsWith('.json') || !statSync(file).isFile()) continue;
      const rel = `${FINDINGS_DIR}/${name}`;
      const earlier = from.get(name);
      if (earlier !== undefined) {
        if (readFileSync(earlier).equals(readFileSync(file))) continue;
        throw new GauntletError('CONFIG_INVALID', `${rel} differs between ${earlier} and ${file}: a finding file name is unique to its instance, so these are not shards of one run`);
      }
      try {
        copyFileSync(file, join(outAbs, rel));
      } catch (e) {
        throw new GauntletError('REPORT_WRITE', `${join(outAbs, rel)}: cannot copy the finding file (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { cause: e });
      }
      from.set(name, file);
      copied.push(rel);
    }
  }
  return copied;
}
