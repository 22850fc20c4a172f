// Folds run events into report.json (gauntlet-report/1). A pure reducer: no
// clock, no I/O, so the live run, `merge` (replaying shard logs) and tests
// all get the same report from the same events.
//
// Instances that were planned but never ended are kept, not dropped: a
// planner skip becomes 'skipped' with its reason, anything else
// 'inconclusive' because the run was interrupted, and both are counted.
// Several run-begin events (shards replayed in sequence) add to one plan;
// the run meta stays the first run's and `merge` overrides what it needs.
// With the profile's requirement table (run-begin carries it) the report
// also holds the requirement matrix and its coverage figures.

import { GauntletError } from '../core/errors.js';
import {
  REPORT_FORMAT,
  emptyCounts,
  requirementMatrix,
  type CheckResult,
  type PlannedInstance,
  type ProfileSummary,
  type Report,
  type ReportCheck,
  type ReportFinding,
  type RunEvent,
  type RunMeta,
  type VerdictCounts,
} from '../model/index.js';
import { findingFilePath } from './paths.js';

export const NOT_RUN_REASON = 'not run: the run was interrupted';
export const NOT_FINISHED_REASON = 'not finished: the run was interrupted during this check';

export class ReportBuilder {
  private run: RunMeta | undefined;
  private profile: ProfileSummary | undefined;
  private readonly order: string[] = [];
  private readonly planned = new Map<string, PlannedInstance>();
  private readonly results = new Map<string, CheckResult>();
  /** Instances that began but have not ended, with the highest case number seen. */
  private readonly running = new Map<string, number>();
  private runBegins = 0;
  private runEnds = 0;
  private interruptedFlag = false;
  private finishedAt: string | undefined;
  private durationMs: number | undefined;

  apply(event: RunEvent): void {
    switch (event.type) {
      case 'run-begin':
        this.runBegins++;
        this.run ??= event.run;
        this.profile ??= event.profile;
        for (const p of event.plan) {
          if (!this.planned.has(p.id) && !this.results.has(p.id)) this.order.push(p.id);
          this.planned.set(p.id, p);
        }
        return;
      case 'check-begin':
        if (!this.results.has(event.instanceId)) this.running.set(event.instanceId, this.running.get(event.instanceId) ?? 0);
        return;
      case 'case':
        if (this.running.has(event.instanceId)) {
          this.running.set(event.instanceId, Math.max(this.running.get(event.instanceId) ?? 0, event.n));
        }
        return;
      case 'note':
        return;
      case 'check-end': {
        const id = event.result.instance.id;
        if (!this.planned.has(id) && !this.results.has(id)) this.order.push(id);
        this.results.set(id, event.result);
        this.running.delete(id);
        return;
      }
      case 'run-end':
        this.runEnds++;
        this.interruptedFlag ||= event.interrupted;
        this.finishedAt = event.finishedAt;
        this.durationMs = event.durationMs;
        return;
      default: {
        const never: never = event;
        throw new GauntletError('CONFIG_INVALID', `unknown run event ${JSON.stringify(never)}`);
      }
    }
  }

  /** True once a run-begin was applied, i.e. report() has something to say. */
  hasRun(): boolean {
    return this.run !== undefined;
  }

  /** The planned instance with this id, if any (for reporters that need its seed). */
  plannedInstance(id: string): PlannedInstance | undefined {
    return this.planned.get(id);
  }

  report(): Report {
    if (!this.run) {
      throw new GauntletError('CONFIG_INVALID', 'no run-begin event: the run never started or its event log is truncated');
    }
    const checks = this.order.map((id) => this.check(id));
    const summary: VerdictCounts = emptyCounts();
    for (const c of checks) summary[c.verdict]++;
    const interrupted = this.interruptedFlag || this.runEnds < this.runBegins;
    const requirements = this.profile
      ? requirementMatrix(
          this.profile,
          checks.map((c) => ({
            id: c.id,
            check: c.check,
            verdict: c.verdict,
            requirements: c.requirements,
            findings: c.findings.length,
            ...(c.findings.some((f) => f.requirements) ? { findingRequirements: c.findings.map((f) => f.requirements ?? c.requirements) } : {}),
            ...(c.statements ? { statements: c.statements } : {}),
          })),
        )
      : undefined;
    return {
      format: REPORT_FORMAT,
      run: {
        ...this.run,
        ...(this.finishedAt !== undefined ? { finishedAt: this.finishedAt } : {}),
        ...(this.durationMs !== undefined ? { durationMs: this.durationMs } : {}),
        interrupted,
      },
      checks,
      summary,
      ...(requirements ? { requirements } : {}),
    };
  }

  private check(id: string): ReportCheck {
    const result = this.results.get(id);
    if (result) return fromResult(result);
    const p = this.planned.get(id)!;
    const base = {
      id: p.id,
      check: p.checkId,
      interface: p.interfaceId,
      title: p.title,
      requirements: p.requirements,
      durationMs: 0,
      findings: [],
    };
    if (p.skipReason !== undefined) return { ...base, verdict: 'skipped', reason: p.skipReason, cases: 0 };
    const cases = this.running.get(id);
    return cases === undefined
      ? { ...base, verdict: 'inconclusive', reason: NOT_RUN_REASON, cases: 0 }
      : { ...base, verdict: 'inconclusive', reason: NOT_FINISHED_REASON, cases };
  }
}

function fromResult(r: CheckResult): ReportCheck {
  const findings: ReportFinding[] = r.findings.map((f) => ({
    id: f.id,
    summary: f.summary,
    severity: f.severity,
    replay: f.replay,
    file: findingFilePath(f.fileId),
    ...(f.requirements.length < r.requirements.length ? { requirements: f.requirements } : {}),
  }));
  return {
    id: r.instance.id,
    check: r.instance.checkId,
    interface: r.instance.interfaceId,
    title: r.title,
    verdict: r.verdict,
    requirements: r.requirements,
    reason: r.reason,
    durationMs: r.durationMs,
    cases: r.cases,
    ...(r.errorCode !== undefined ? { errorCode: r.errorCode } : {}),
    findings,
    ...(r.evidence !== undefined ? { evidence: r.evidence } : {}),
    ...(r.stats !== undefined ? { stats: r.stats } : {}),
    ...(r.bench !== undefined ? { bench: r.bench } : {}),
    ...(r.statements !== undefined ? { statements: r.statements } : {}),
  };
}

/** Folds a whole event sequence (an event log, a test fixture) into a report. */
export function buildReport(events: Iterable<RunEvent>): Report {
  const b = new ReportBuilder();
  for (const e of events) b.apply(e);
  return b.report();
}
