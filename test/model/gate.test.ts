// The CI gate: any-fail, new-findings against a baseline (fingerprints that
// survive new seeds and timings, expiry that fails the gate), none.

import { describe, expect, it } from 'vitest';
import { evaluateGate, fingerprintOf, gateInputsOf, type Baseline } from '../../harness/model/index.js';

const f1 = { id: 'auth.brute-force@mqtts#1', instanceId: 'auth.brute-force@mqtts', summary: 'login accepted after 6 failures in 812 ms (declared 5)' };
const f2 = { id: 'access.http-routes@https#1', instanceId: 'access.http-routes@https', summary: 'sensor GET /api/users/2 -> 200' };
const baseline = (expires: string): Baseline => ({
  format: 'gauntlet-baseline/1',
  accepted: [{ fingerprint: fingerprintOf(f1), instance: f1.instanceId, summary: f1.summary, justification: 'fix in 2.1 (JIRA-12)', expires }],
});

describe('fingerprintOf', () => {
  it('is stable across numbers (timings, counts, seeds) and differs for another finding', () => {
    const again = { ...f1, summary: 'login accepted after 7 failures in 1034 ms (declared 5)' };
    expect(fingerprintOf(again)).toBe(fingerprintOf(f1));
    expect(fingerprintOf(f1)).toMatch(/^auth\.brute-force@mqtts:[0-9a-f]{16}$/);
    expect(fingerprintOf({ ...f1, summary: 'login accepted with password "admin"' })).not.toBe(fingerprintOf(f1));
    expect(fingerprintOf({ ...f1, instanceId: 'auth.brute-force@https' })).not.toBe(fingerprintOf(f1));
  });
});

describe('evaluateGate', () => {
  it('any-fail fails on any failed instance, accepted or not; none never fails', () => {
    expect(evaluateGate('any-fail', ['auth.brute-force@mqtts'], [f1], baseline('2099-01-01'), '2026-11-22')).toMatchObject({ passed: false, accepted: [f1.id] });
    expect(evaluateGate('any-fail', [], [], undefined, '2026-11-22')).toMatchObject({ passed: true, reason: 'gate any-fail: no check failed' });
    expect(evaluateGate('none', ['x@y'], [f1, f2], undefined, '2026-11-22').passed).toBe(true);
  });

  it('new-findings passes when every finding is accepted, fails on a new one, naming it', () => {
    const ok = evaluateGate('new-findings', ['auth.brute-force@mqtts'], [f1], baseline('2026-11-22'), '2026-11-22');
    expect(ok).toMatchObject({ passed: true, accepted: [f1.id], newFindings: [] });
    expect(ok.reason).toBe('gate new-findings: no new finding; 1 accepted by the baseline');
    const bad = evaluateGate('new-findings', ['auth.brute-force@mqtts', 'access.http-routes@https'], [f1, f2], baseline('2099-01-01'), '2026-11-22');
    expect(bad).toMatchObject({ passed: false, newFindings: [f2.id] });
    expect(bad.reason).toMatch(/1 finding\(s\) not in the baseline: access\.http-routes@https#1/);
    expect(evaluateGate('new-findings', ['x'], [f1], undefined, '2026-11-22').passed).toBe(false);
  });

  it('an expired acceptance no longer covers its finding and fails the gate even when the finding is gone', () => {
    const expired = evaluateGate('new-findings', ['auth.brute-force@mqtts'], [f1], baseline('2026-11-21'), '2026-11-22');
    expect(expired).toMatchObject({ passed: false, newFindings: [f1.id], expired: [{ instance: f1.instanceId, expires: '2026-11-21' }] });
    const fixed = evaluateGate('new-findings', [], [], baseline('2026-11-21'), '2026-11-22');
    expect(fixed.passed).toBe(false);
    expect(fixed.reason).toMatch(/1 baseline acceptance\(s\) expired: auth\.brute-force@mqtts \(2026-11-21\)/);
  });

  it('reads its inputs from a report', () => {
    const r = gateInputsOf({
      checks: [
        { id: 'a@x', verdict: 'fail', findings: [{ id: 'a@x#1', summary: 's' }] },
        { id: 'b@x', verdict: 'pass', findings: [] },
      ],
    });
    expect(r).toEqual({ failing: ['a@x'], findings: [{ id: 'a@x#1', instanceId: 'a@x', summary: 's' }] });
  });
});
