// The requirement matrix: verdicts folded fail > inconclusive > pass from the
// instances that evidence each requirement (by the requirement ids they emit
// or the checks the profile names), declared and not-covered rows carried
// with their reasons, and coverage figures that add up.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { coverageLine, profileSummaryOf, requirementMatrix, VERDICTS, type InstanceVerdict, type ProfileSummary, type Verdict } from '../../harness/model/index.js';

const profile: ProfileSummary = {
  name: 'demo',
  description: '',
  requirements: [
    { id: 'STD:A', title: 'brute force', checks: [], status: 'covered' },
    { id: 'STD:B', title: 'access', checks: ['access.http-routes'], status: 'covered' },
    { id: 'STD:C', title: 'disclosure policy', checks: [], status: 'declared', reason: 'ICS 5.2-1' },
    { id: 'STD:D', title: 'secure boot', checks: [], status: 'not-covered', reason: 'needs firmware analysis' },
  ],
};

const inst = (id: string, verdict: Verdict, requirements: string[] = [], findings = 0): InstanceVerdict => ({ id, check: id.split('@')[0]!, verdict, requirements, findings });

describe('requirementMatrix', () => {
  it('folds fail > inconclusive > pass, by requirement id or by named check', () => {
    const m = requirementMatrix(profile, [
      inst('auth.brute-force@mqtts', 'pass', ['STD:A']),
      inst('auth.brute-force@https', 'fail', ['STD:A'], 2),
      inst('access.http-routes@https', 'inconclusive'),
      inst('access.http-routes@web', 'pass'),
    ]);
    const row = (id: string) => m.rows.find((r) => r.id === id)!;
    expect(row('STD:A')).toMatchObject({ verdict: 'fail', reason: 'failed: auth.brute-force@https', findings: 2 });
    expect(row('STD:A').instances).toHaveLength(2);
    expect(row('STD:B')).toMatchObject({ verdict: 'inconclusive', reason: 'inconclusive: access.http-routes@https' });
    expect(row('STD:C')).toMatchObject({ verdict: 'declared', reason: 'ICS 5.2-1' });
    expect(row('STD:D')).toMatchObject({ verdict: 'not-covered', reason: 'needs firmware analysis' });
    expect(m.coverage).toEqual({ total: 4, tested: 2, declared: 1, notCovered: 1, pass: 0, fail: 1, inconclusive: 1, notTested: 0 });
    expect(coverageLine(m)).toBe('demo: 4 requirements: 2 tested (0 pass, 1 fail, 1 inconclusive), 1 declared, 1 not covered');
  });

  it('an error is inconclusive for the requirement; all skipped or none is not tested', () => {
    const m = requirementMatrix(profile, [inst('auth.brute-force@mqtts', 'error', ['STD:A']), inst('access.http-routes@web', 'skipped')]);
    expect(m.rows[0]).toMatchObject({ verdict: 'inconclusive' });
    expect(m.rows[1]).toMatchObject({ verdict: 'not-tested', reason: 'every instance skipped (access.http-routes@web)' });
    const none = requirementMatrix(profile, []);
    expect(none.rows[0]).toMatchObject({ verdict: 'not-tested' });
    expect(none.rows[0]!.reason).toMatch(/^no check instance of this run evidences it/);
  });

  it('property: a covered row fails exactly when one of its instances failed, passes only when none failed or was open', () => {
    const verdict = fc.constantFrom(...VERDICTS);
    fc.assert(
      fc.property(fc.array(verdict, { maxLength: 8 }), (vs) => {
        const m = requirementMatrix(profile, vs.map((v, i) => inst(`auth.brute-force@i${i}`, v, ['STD:A'])));
        const r = m.rows[0]!;
        expect(r.verdict === 'fail').toBe(vs.includes('fail'));
        if (r.verdict === 'pass') expect(vs.every((v) => v === 'pass' || v === 'skipped')).toBe(true);
        if (r.verdict === 'not-tested') expect(vs.every((v) => v === 'skipped')).toBe(true);
        const c = m.coverage;
        expect(c.pass + c.fail + c.inconclusive + c.notTested).toBe(c.tested);
        expect(c.tested + c.declared + c.notCovered).toBe(c.total);
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});

describe('profileSummaryOf: declared rows answered from the ICS', () => {
  it('shows Y with its detail and evidence, N and N/A with their justification, and says when nothing is answered', () => {
    const p = { ...profile, requirements: [...profile.requirements, { id: 'STD:E', title: 'support period', checks: [], status: 'declared' as const }, { id: 'STD:F', title: 'x', checks: [], status: 'declared' as const }] };
    const s = profileSummaryOf(p, {
      'STD:C': { support: 'Y', detail: 'security.txt and a CVD policy', evidence: 'doc 4.2' },
      'STD:E': { support: 'N/A', detail: 'no user data stored' },
    });
    const m = requirementMatrix(s, []);
    const reason = (id: string) => m.rows.find((r) => r.id === id)!.reason;
    expect(reason('STD:C')).toBe('ICS Y, supported: security.txt and a CVD policy (evidence: doc 4.2)');
    expect(reason('STD:E')).toBe('ICS N/A: no user data stored');
    expect(reason('STD:F')).toBe('no ICS answer in the target file');
    expect(m.rows.find((r) => r.id === 'STD:C')!.verdict).toBe('declared');
    // Covered and not-covered rows are untouched.
    expect(s.requirements[0]).toBe(p.requirements[0]);
  });
});

describe('requirementMatrix: conformance statements', () => {
  it('a statement row takes that statement verdict from the instance, not the whole instance verdict', () => {
    const p: ProfileSummary = {
      name: 'mqtt',
      description: '',
      requirements: [
        { id: 'MQTT-3.1.1:MQTT-3.1.0-2', title: 'second CONNECT closes', checks: [], status: 'covered' },
        { id: 'MQTT-3.1.1:MQTT-3.3.1-4', title: 'QoS 3 closes', checks: [], status: 'covered' },
        { id: 'MQTT-3.1.1:MQTT-3.1.2-1', title: 'protocol name', checks: [], status: 'covered' },
      ],
    };
    const m = requirementMatrix(p, [
      {
        ...inst('conformance.mqtt@broker', 'fail', ['MQTT-3.1.1:MQTT-3.1.0-2', 'MQTT-3.1.1:MQTT-3.3.1-4', 'MQTT-3.1.1:MQTT-3.1.2-1']),
        statements: [
          { id: 'MQTT-3.1.1:MQTT-3.1.0-2', verdict: 'pass' },
          { id: 'MQTT-3.1.1:MQTT-3.3.1-4', verdict: 'fail' },
          { id: 'MQTT-3.1.1:MQTT-3.1.2-1', verdict: 'skipped' },
        ],
      },
    ]);
    expect(m.rows.map((r) => r.verdict)).toEqual(['pass', 'fail', 'not-tested']);
  });
});

describe('requirementMatrix: findings per statement', () => {
  it('a row counts only the findings that speak to it when findings name their requirements', () => {
    const p: ProfileSummary = {
      name: 'c',
      description: '',
      requirements: [
        { id: 'S:1', title: 'one', checks: [], status: 'covered' },
        { id: 'S:2', title: 'two', checks: [], status: 'covered' },
      ],
    };
    const m = requirementMatrix(p, [
      {
        ...inst('conformance.coap@coap', 'fail', ['S:1', 'S:2'], 3),
        findingRequirements: [['S:1'], ['S:1'], ['S:2']],
        statements: [
          { id: 'S:1', verdict: 'fail' },
          { id: 'S:2', verdict: 'fail' },
        ],
      },
    ]);
    expect(m.rows.map((r) => r.findings)).toEqual([2, 1]);
  });
});
