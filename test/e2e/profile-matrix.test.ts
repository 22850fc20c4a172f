// Standards profiles end to end: a profile run against the reference device
// (hardened, and with a flaw) gives a requirement matrix whose verdicts follow
// from its checks' verdicts, with coverage figures. Against Mosquitto in
// test/interop/mosquitto-profile.test.ts.

import { describe, expect, it } from 'vitest';
import { coverageLine, type Report, type RequirementRow } from '../../harness/model/index.js';
import { startReferenceDevice, type Flaw } from '../../targets/reference-device/index.js';
import { runAgainst, verdictTable } from '../support/run-target.js';

const LOCKOUT = { attempts: 5, windowMs: 1000, durationMs: 600 };
const OPTS = { ioTimeoutMs: 3000, numRuns: 15 };

async function profileRun(profile: string, flaws: Flaw[], only?: string[]): Promise<{ report: Report; table: string }> {
  const device = await startReferenceDevice({ flaws, lockout: LOCKOUT, rebootMs: 300, hangMs: 4000 });
  try {
    const run = await runAgainst(device.targetFile(), { ...OPTS, profile, ...(only ? { only } : {}) });
    return { report: run.report, table: verdictTable(run.results) };
  } finally {
    await device.close();
  }
}

const rowOf = (r: Report, id: string): RequirementRow => {
  const row = r.requirements!.rows.find((x) => x.id === id);
  if (!row) throw new Error(`${id}: not a row of ${r.requirements!.profile}`);
  return row;
};

/** Every covered row's verdict is the fold of its instances' verdicts, as the report lists them. */
function expectFolded(r: Report): void {
  const verdictOf = new Map(r.checks.map((c) => [c.id, c.verdict]));
  for (const row of r.requirements!.rows) {
    if (row.status !== 'covered') continue;
    const vs = row.instances.map((i) => verdictOf.get(i.id));
    const want = vs.includes('fail') ? 'fail' : vs.some((v) => v === 'inconclusive' || v === 'error') ? 'inconclusive' : vs.includes('pass') ? 'pass' : 'not-tested';
    expect(row.verdict, `${row.id}: ${row.reason}`).toBe(want);
  }
}

describe.concurrent('standards profiles against the reference device', () => {
  it('sb-327, hardened: every requirement is tested and passes; coverage 3 of 3', async () => {
    const { report, table } = await profileRun('sb-327', []);
    const m = report.requirements!;
    expect(m.profile).toBe('sb-327');
    expect(m.coverage, table).toMatchObject({ total: 3, tested: 3, pass: 3, fail: 0 });
    expect(coverageLine(m)).toBe('sb-327: 3 requirements: 3 tested (3 pass), 0 declared, 0 not covered');
    expectFolded(report);
  }, 180_000);

  it('sb-327 with default-credentials: (b)(1) fails on auth.default-credentials, (b)(2) still passes', async () => {
    const { report, table } = await profileRun('sb-327', ['default-credentials']);
    const b1 = rowOf(report, 'CA-SB-327:1798.91.04(b)(1)');
    expect(b1.verdict, table).toBe('fail');
    expect(b1.reason).toMatch(/failed: .*auth\.default-credentials@/);
    expect(b1.findings).toBeGreaterThan(0);
    expect(rowOf(report, 'CA-SB-327:1798.91.04(b)(2)').verdict, table).toBe('pass');
    expectFolded(report);
  }, 180_000);

  it('etsi-en-303-645 with no-lockout (brute force checks only): 5.1-5 and TS 103 701 5.1-5-2b fail, declared and not-covered rows keep their reasons', async () => {
    const { report, table } = await profileRun('etsi-en-303-645', ['no-lockout'], ['auth.brute-force']);
    expect(rowOf(report, 'ETSI-EN-303-645:5.1-5').verdict, table).toBe('fail');
    expect(rowOf(report, 'ETSI-TS-103-701:5.1-5-2b').verdict, table).toBe('fail');
    // Requirements whose checks were not selected in this run are not tested, never passed.
    expect(rowOf(report, 'ETSI-EN-303-645:5.5-4').verdict).toBe('not-tested');
    const c = report.requirements!.coverage;
    expect(c.declared).toBeGreaterThan(0);
    expect(c.notCovered).toBeGreaterThan(0);
    for (const row of report.requirements!.rows.filter((x) => x.status !== 'covered')) expect(row.reason.length, row.id).toBeGreaterThan(0);
    expectFolded(report);
  }, 180_000);
});
