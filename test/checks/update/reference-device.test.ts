// The update checks against the reference device: all pass on the hardened
// unit (and the positive control installs 2.0.0 after them), and each
// update flaw fails the checks aimed at it. One unit per test, so one test's
// installs never reach another. The install is synchronous on this device,
// so the lab may declare a short install time.

import { describe, expect, it } from 'vitest';
import type { TargetFileInput } from '../../../harness/core/target-file.js';
import { updateChannel } from '../../../harness/checks/update/channel.js';
import { startReferenceDevice, type Flaw, type RunningDevice } from '../../../targets/reference-device/index.js';
import { runAgainst, verdictTable, type RunResult } from '../../support/run-target.js';

const ALL = ['update.tamper', 'update.unsigned', 'update.wrong-signer', 'update.rollback', 'update.truncated-oversized', 'update.interrupted', 'update.authorization'];

function quick(d: RunningDevice): TargetFileInput {
  const t = d.targetFile();
  const decl = t.declaration as { update: { installTimeout: string } };
  decl.update.installTimeout = '200ms';
  return t;
}

async function runOn(flaws: readonly Flaw[], only: string[]): Promise<RunResult> {
  const d = await startReferenceDevice({ flaws, factoryFresh: false });
  try {
    return await runAgainst(quick(d), { only, numRuns: 15, ioTimeoutMs: 3000 });
  } finally {
    await d.close();
  }
}

/** Which update checks each update flaw must fail. */
const EXPECTED: ReadonlyArray<[Flaw, string[]]> = [
  ['unsigned-accepted', ['update.unsigned']],
  ['digest-only', ['update.tamper', 'update.unsigned', 'update.wrong-signer']],
  ['manifest-only-signature', ['update.tamper']],
  ['rollback-allowed', ['update.rollback']],
  ['update-no-auth', ['update.authorization']],
  ['brick-on-interrupt', ['update.interrupted']],
];

describe.concurrent('update checks on the reference device', () => {
  it('hardened: every update check passes and the positive control installs 2.0.0', async () => {
    const run = await runOn([], ALL);
    const table = verdictTable(run.results);
    // Each check on the HTTP upload path (@https), the block-wise coaps path (@coaps) and the MQTT-triggered pull path (@mqtts).
    // Plain CoAP carries no update path: no instance is planned there.
    expect(run.results, table).toHaveLength(ALL.length * 3);
    for (const r of run.results) expect(r.verdict, table).toBe('pass');
    expect(run.events.some((e) => e.type === 'note' && /update positive control: the valid newer image 2\.0\.0 installed/.test(e.text))).toBe(true);
  }, 30_000);

  it('update.channel: passes on the hardened unit, fails with pull-any-certificate', async () => {
    for (const [flaws, verdict] of [
      [[], 'pass'],
      [['pull-any-certificate'], 'fail'],
    ] as const) {
      const d = await startReferenceDevice({ flaws, factoryFresh: false });
      try {
        const run = await runAgainst(quick(d), { checks: [updateChannel], ioTimeoutMs: 3000 });
        const r = run.byId.get('update.channel@mqtts')!;
        expect(r.verdict, verdictTable(run.results)).toBe(verdict);
        if (verdict === 'fail') expect(r.findings[0]!.summary).toMatch(/^the device installed the valid newer image fetched over a self-signed certificate through pull/);
        else expect(r.reason).toMatch(/^untrusted update-server certificates refused \(3\)/);
      } finally {
        await d.close();
      }
    }
  }, 30_000);

  // Each failing check runs alone on a fresh unit.
  for (const [flaw, checks] of EXPECTED) {
    for (const check of checks) {
      it(`${flaw}: ${check} fails with evidence`, async () => {
        const run = await runOn([flaw], [check]);
        const r = run.byId.get(`${check}@https`)!;
        expect(r.verdict, verdictTable(run.results)).toBe('fail');
        expect(r.findings.length).toBeGreaterThan(0);
        for (const f of r.findings) {
          expect(f.evidence.transcript.length, f.summary).toBeGreaterThan(0);
          expect(f.requirements).toContain('ETSI-TS-103-701:5.3-2-2');
        }
      }, 30_000);
    }
  }
});
