import { describe, expect, it } from 'vitest';
import { REPORT_FORMAT, type RunEvent } from '../../harness/model/index.js';
import { NOT_FINISHED_REASON, NOT_RUN_REASON, ReportBuilder, buildReport } from '../../harness/report/report-builder.js';
import { FINDING, PLAN, RUN, syntheticRun } from './synthetic-run.js';

describe('ReportBuilder', () => {
  it('folds a complete run into the report.json contract', () => {
    const report = buildReport(syntheticRun());
    expect(report.format).toBe(REPORT_FORMAT);
    expect(report.run).toEqual({ ...RUN, finishedAt: '2025-01-02T03:04:31.000Z', durationMs: 25_900, interrupted: false });
    expect(report.checks.map((c) => c.id)).toEqual(PLAN.map((p) => p.id));
    expect(report.checks.map((c) => c.verdict)).toEqual(['pass', 'fail', 'skipped', 'error', 'inconclusive']);
    expect(report.summary).toEqual({ pass: 1, fail: 1, inconclusive: 1, error: 1, skipped: 1 });

    const fail = report.checks[1]!;
    expect(fail).toMatchObject({
      id: 'auth.brute-force@broker',
      check: 'auth.brute-force',
      interface: 'broker',
      title: 'title of auth.brute-force',
      requirements: PLAN[1]!.requirements,
      reason: 'lockout not enforced: 6 failed logins accepted',
      durationMs: 1234,
      cases: 41,
      evidence: FINDING.evidence,
    });
    expect(fail.findings).toEqual([
      {
        id: FINDING.id,
        summary: FINDING.summary,
        severity: 'high',
        replay: FINDING.replay,
        file: 'findings/auth.brute-force@broker-1.json',
      },
    ]);
    expect(report.checks[3]!.errorCode).toBe('CHECK_TIMEOUT');
    expect('errorCode' in report.checks[0]!).toBe(false);
    expect('evidence' in report.checks[0]!).toBe(false);
  });

  it('keeps plan order even when checks end out of order', () => {
    const events = syntheticRun();
    const ends = events.filter((e) => e.type === 'check-end').reverse();
    const shuffled: RunEvent[] = [events[0]!, ...ends, events.at(-1)!];
    expect(buildReport(shuffled).checks.map((c) => c.id)).toEqual(PLAN.map((p) => p.id));
  });

  it('reports an interrupted run: unfinished instances are inconclusive and counted', () => {
    // One instance ended, the second began (3 cases) and never ended, the rest never
    // began (the third is a planner skip, so it stays skipped); no run-end.
    const report = buildReport(syntheticRun({ killedAfter: 1 }));
    expect(report.run.interrupted).toBe(true);
    expect(report.run.finishedAt).toBeUndefined();
    expect(report.checks.map((c) => [c.verdict, c.reason])).toEqual([
      ['pass', 'no default credential accepted'],
      ['inconclusive', NOT_FINISHED_REASON],
      ['skipped', 'interface is plain mqtt'],
      ['inconclusive', NOT_RUN_REASON],
      ['inconclusive', NOT_RUN_REASON],
    ]);
    expect(report.checks[1]!.cases).toBe(3);
    expect(report.checks[3]).toMatchObject({ durationMs: 0, cases: 0, findings: [], requirements: PLAN[3]!.requirements });
    expect(report.summary).toEqual({ pass: 1, fail: 0, inconclusive: 3, error: 0, skipped: 1 });
  });

  it('marks the run interrupted when run-end says so', () => {
    const events = syntheticRun().map((e) => (e.type === 'run-end' ? { ...e, interrupted: true } : e));
    expect(buildReport(events).run.interrupted).toBe(true);
  });

  it('is pure: the same events give the same report, and report() can be taken at any point', () => {
    const events = syntheticRun();
    expect(JSON.stringify(buildReport(events))).toBe(JSON.stringify(buildReport(events)));
    const b = new ReportBuilder();
    expect(b.hasRun()).toBe(false);
    expect(() => b.report()).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    b.apply(events[0]!);
    expect(b.report().checks).toHaveLength(PLAN.length);
    expect(b.report().run.interrupted).toBe(true);
  });

  it('folds several shards (run-begin ... run-end each) into one plan', () => {
    const events = syntheticRun();
    const begin = events[0] as Extract<RunEvent, { type: 'run-begin' }>;
    const shardA = events.map((e) => (e === begin ? { ...begin, plan: PLAN.slice(0, 3) } : e)).filter(
      (e) => e.type !== 'check-end' || PLAN.slice(0, 3).some((p) => p.id === e.result.instance.id),
    );
    const shardB = events.map((e) => (e === begin ? { ...begin, plan: PLAN.slice(3) } : e)).filter(
      (e) => e.type !== 'check-end' || PLAN.slice(3).some((p) => p.id === e.result.instance.id),
    );
    const merged = buildReport([...shardA, ...shardB]);
    expect(merged.checks.map((c) => c.id)).toEqual(PLAN.map((p) => p.id));
    expect(merged.run.interrupted).toBe(false);
    expect(buildReport([...shardA, ...shardB.slice(0, -1)]).run.interrupted).toBe(true);
  });
});
