// A synthetic run for the reporter tests: five instances, one of each verdict
// (pass, fail with a finding, skipped, error, inconclusive). Not a test file:
// the report tests import it.

import type { CheckResult, Finding, PlannedInstance, RunEvent, RunMeta } from '../../harness/model/index.js';
import type { Reporter } from '../../harness/report/reporter.js';
import { ReporterMux } from '../../harness/report/multiplexer.js';

export const RUN: RunMeta = {
  id: '20250102-030405-abcd',
  seed: 424242,
  startedAt: '2025-01-02T03:04:05.000Z',
  target: 'thermo-x200',
  targetSource: 'targets/thermo-x200.yaml',
  profile: 'ci-smoke',
  harnessVersion: '0.1.0',
  flaws: ['weak-lockout'],
  argv: ['gauntlet', 'run', '--profile', 'ci-smoke'],
  node: 'v20.20.2',
  platform: 'linux',
};

function planned(checkId: string, interfaceId: string, seed: number, requirements: string[], skipReason?: string): PlannedInstance {
  return {
    id: `${checkId}@${interfaceId}`,
    checkId,
    interfaceId,
    seed,
    title: `title of ${checkId}`,
    requirements,
    ...(skipReason ? { skipReason } : {}),
  };
}

export const PLAN: PlannedInstance[] = [
  planned('auth.default-credentials', 'broker', 11, ['EN303645:5.1-1', 'NISTIR8259A:LAI-2']),
  planned('auth.brute-force', 'broker', 22, ['EN303645:5.1-5', 'NISTIR8259A:LAI-2', 'EN18031-1:ACM-1', 'SB327:b', 'TS103701:5.1-5-1']),
  planned('transport.tls-version', 'broker', 33, ['EN303645:5.5-1'], 'interface is plain mqtt'),
  planned('access.acl', 'broker', 44, ['EN303645:5.5-7']),
  planned('robustness.malformed-coap', 'coap', 55, ['EN303645:5.13-1']),
];

export interface SyntheticOptions {
  /** Replaces the fail reason and finding summary (escaping tests). */
  readonly failText?: string;
  /** Stop after this many instances ended, with no run-end (a killed run). */
  readonly killedAfter?: number;
}

export const FINDING: Finding = {
  id: 'auth.brute-force@broker#1',
  fileId: 'auth.brute-force@broker-1',
  checkId: 'auth.brute-force',
  instanceId: 'auth.brute-force@broker',
  interfaceId: 'broker',
  severity: 'high',
  summary: 'login accepted after 6 failures; declared lockout is 5',
  remedy: 'Enforce the declared lockout.',
  requirements: ['EN303645:5.1-5', 'NISTIR8259A:LAI-2', 'EN18031-1:ACM-1', 'SB327:b', 'TS103701:5.1-5-1'],
  evidence: {
    observed: 'declared lockout 5/30000ms; observed: login accepted after 6 failures',
    declared: 'lockout 5/30s',
    source: 'target:declaration.lockout',
    transcript: [{ t: 3, dir: 'sent', peer: 'broker', hex: '1010', decoded: 'CONNECT user=admin' }],
  },
  replay: 'gauntlet replay reports/latest/findings/auth.brute-force@broker-1.json',
};

function result(p: PlannedInstance, rest: Omit<CheckResult, 'instance' | 'title' | 'requirements'>): CheckResult {
  const { id, checkId, interfaceId, seed } = p;
  return { instance: { id, checkId, interfaceId, seed }, title: p.title, requirements: p.requirements, ...rest };
}

export function syntheticRun(options: SyntheticOptions = {}): RunEvent[] {
  const [pass, fail, skip, err, inc] = PLAN as [PlannedInstance, PlannedInstance, PlannedInstance, PlannedInstance, PlannedInstance];
  const finding: Finding = options.failText ? { ...FINDING, summary: options.failText } : FINDING;
  const results: CheckResult[] = [
    result(pass, { verdict: 'pass', reason: 'no default credential accepted', durationMs: 120, cases: 14, findings: [] }),
    result(fail, {
      verdict: 'fail',
      reason: options.failText ?? 'lockout not enforced: 6 failed logins accepted',
      durationMs: 1234,
      cases: 41,
      findings: [finding],
      evidence: finding.evidence,
    }),
    result(skip, { verdict: 'skipped', reason: 'interface is plain mqtt', durationMs: 0, cases: 0, findings: [] }),
    result(err, {
      verdict: 'error',
      reason: 'check ran past its 20s bound',
      durationMs: 20_000,
      cases: 3,
      findings: [],
      errorCode: 'CHECK_TIMEOUT',
    }),
    result(inc, {
      verdict: 'inconclusive',
      reason: 'device stopped answering after case 7',
      durationMs: 4500,
      cases: 7,
      findings: [],
      evidence: { observed: 'no CoAP ping reply for 3s', transcript: [] },
    }),
  ];

  const events: RunEvent[] = [{ type: 'run-begin', run: RUN, plan: PLAN }];
  const upTo = options.killedAfter ?? results.length;
  results.forEach((r, i) => {
    if (i > upTo) return;
    events.push({ type: 'check-begin', instanceId: r.instance.id, index: i, total: results.length });
    for (let n = 1; n <= Math.min(r.cases, 3); n++) {
      events.push({ type: 'case', instanceId: r.instance.id, n, summary: `case ${n}` });
    }
    if (i === 1) events.push({ type: 'note', instanceId: r.instance.id, text: 'pacing logins' });
    if (i < upTo) events.push({ type: 'check-end', result: r });
  });
  if (options.killedAfter === undefined) {
    events.push({ type: 'note', text: 'device reset between phases' });
    events.push({
      type: 'run-end',
      finishedAt: '2025-01-02T03:04:31.000Z',
      durationMs: 25_900,
      summary: { pass: 1, fail: 1, inconclusive: 1, error: 1, skipped: 1 },
      interrupted: false,
    });
  }
  return events;
}

/** Feeds events to reporters through the multiplexer and fails on any reporter error. */
export async function feed(events: readonly RunEvent[], ...reporters: Reporter[]): Promise<void> {
  const mux = new ReporterMux(reporters);
  for (const e of events) await mux.dispatch(e);
  const errors = mux.errors();
  if (errors.length > 0) throw new Error(`reporter failed: ${JSON.stringify(errors)}`);
}
