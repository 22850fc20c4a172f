// Drives the real runner against a target in-process, for the flaw matrix
// and interop suites: same planner, checks and monitors as `gauntlet run`,
// without reports on disk. Pinned seed so CI replays the same cases.

import type { BenchSettings, Check, CheckResult, Report, RunEvent, Target } from '../../harness/model/index.js';
import { buildReport } from '../../harness/report/report-builder.js';
import { profileSummaryOf } from '../../harness/model/index.js';
import { plan } from '../../harness/core/planner.js';
import { runChecks } from '../../harness/core/runner.js';
import { loadProfile } from '../../harness/core/profile-file.js';
import { targetFromObject, type TargetFileInput } from '../../harness/core/target-file.js';
import { CHECKS } from '../../harness/checks/registry.js';

export const PINNED_SEED = 20261121;

export interface RunResult {
  readonly results: readonly CheckResult[];
  readonly events: readonly RunEvent[];
  readonly byId: ReadonlyMap<string, CheckResult>;
  readonly failing: readonly string[];
  /** The report the events make (with the profile's requirement matrix). */
  readonly report: Report;
}

export async function runAgainst(
  target: Target | TargetFileInput,
  opts: {
    only?: string[];
    seed?: number;
    numRuns?: number;
    timeMs?: number;
    replayPath?: string;
    signal?: AbortSignal;
    ioTimeoutMs?: number;
    /** Run just these checks (all their instances), instead of the default profile's. */
    checks?: readonly Check[];
    /** Device benchmark settings (performance checks). */
    bench?: BenchSettings;
    /** A built-in profile to run (default: `default`). */
    profile?: string;
  } = {},
): Promise<RunResult> {
  const resolved = 'format' in target ? targetFromObject(target, 'test-target') : target;
  const checks = opts.checks ?? CHECKS;
  const profile = opts.checks
    ? { name: 'test', source: 'test', description: '', checks: opts.checks.map((c) => c.id), requirements: [] }
    : loadProfile(opts.profile ?? 'default', CHECKS);
  const seed = opts.seed ?? PINNED_SEED;
  const planned = plan(resolved, profile, checks, { runSeed: seed, only: opts.only });
  const events: RunEvent[] = [];
  const outcome = await runChecks({
    target: resolved,
    plan: planned,
    meta: {
      id: 'test',
      seed,
      startedAt: new Date().toISOString(),
      target: resolved.name,
      targetSource: resolved.source,
      profile: profile.name,
      harnessVersion: 'test',
      flaws: [],
      argv: [],
      node: process.version,
      platform: process.platform,
    },
    dispatch: async (e) => {
      events.push(e);
    },
    signal: opts.signal ?? new AbortController().signal,
    ioTimeoutMs: opts.ioTimeoutMs ?? 1500,
    budget: { numRuns: opts.numRuns ?? 30, timeMs: opts.timeMs ?? 15_000 },
    replayPath: opts.replayPath,
    replayCommand: ({ fileId }) => `gauntlet replay findings/${fileId}.json`,
    profile: profileSummaryOf(profile, resolved.declaration.ics),
    ...(opts.bench ? { bench: opts.bench } : {}),
  });
  const byId = new Map(outcome.results.map((r) => [r.instance.id, r]));
  return {
    results: outcome.results,
    events,
    byId,
    failing: outcome.results.filter((r) => r.verdict === 'fail').map((r) => r.instance.id).sort(),
    report: buildReport(events),
  };
}

/** One line per instance, for assertion messages. */
export function verdictTable(results: readonly CheckResult[]): string {
  return results.map((r) => `${r.verdict.padEnd(12)} ${r.instance.id}: ${r.reason}`).join('\n');
}
