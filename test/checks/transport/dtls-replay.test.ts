// transport.dtls-replay against the reference device through the real planner
// and runner: the dtls-no-replay-window flaw fails it, the hardened unit
// passes. Error paths run the check alone (no runner probes around it): no
// principal with a PSK, and a closed coaps port.

import { afterEach, describe, expect, it } from 'vitest';
import { dtlsReplay } from '../../../harness/checks/transport/dtls-replay.js';
import { targetFromObject, type TargetFileInput } from '../../../harness/core/target-file.js';
import { startReferenceDevice, type Flaw, type RunningDevice } from '../../../targets/reference-device/index.js';
import { closedPort, contextFor } from '../access/fakes.js';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { contextOnClosedCoaps } from './closed-coaps.js';

const devices: RunningDevice[] = [];
afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.close()));
});

async function device(flaws: readonly Flaw[]): Promise<RunningDevice> {
  const d = await startReferenceDevice({ flaws, factoryFresh: false });
  devices.push(d);
  return d;
}

const ONLY = ['transport.dtls-replay@coaps'];

describe('transport.dtls-replay', () => {
  it('fails on dtls-no-replay-window: the exact copy of the request record is answered again, with the copy in the transcript', async () => {
    const d = await device(['dtls-no-replay-window']);
    const run = await runAgainst(d.targetFile(), { checks: [dtlsReplay], only: ONLY, ioTimeoutMs: 800 });
    const r = run.byId.get(ONLY[0]!)!;
    expect(r.verdict, verdictTable(run.results)).toBe('fail');
    const f = r.findings[0]!;
    expect(f.summary).toMatch(/^a captured application record sent again was processed: the device answered /);
    expect(f.summary).toContain('2.05');
    const copies = f.evidence.transcript.filter((e) => e.dir === 'sent' && e.decoded.startsWith('relay resends'));
    expect(copies).toHaveLength(2);
    // Both copies are byte for byte the captured request datagram, an epoch-1 application_data record.
    expect(copies[0]!.hex).toBe(copies[1]!.hex);
    expect(copies[0]!.hex!.slice(0, 2)).toBe('17');
    expect(copies[0]!.decoded).toMatch(/application_data epoch=1/);
    expect(f.evidence.observed).toMatch(/after copy 1, .* after copy 2/);
    if (process.env.SHOW) console.log(f.summary, '\n', f.evidence.observed);
  });

  it('passes on the hardened unit: the copies are dropped silently, the request itself answered', async () => {
    const d = await device([]);
    const run = await runAgainst(d.targetFile(), { checks: [dtlsReplay], only: ONLY, ioTimeoutMs: 800 });
    const r = run.byId.get(ONLY[0]!)!;
    expect(r.verdict, verdictTable(run.results)).toBe('pass');
    expect(r.evidence?.observed).toMatch(/2 exact copies of the request's record \(epoch 1, seq \d+, \d+ bytes.*\) got no answer within 800 ms each; the request itself was answered 2\.05 Content/);
  });

  it('is skipped when no principal has a PSK', async () => {
    const d = await device([]);
    const input = d.targetFile();
    const principals = Object.fromEntries(Object.entries(input.principals ?? {}).map(([k, v]) => [k, { ...v, psk: undefined }]));
    // The coaps update path names a PSK installer: without PSKs the unit has no such path either.
    const declaration = { ...input.declaration, update: undefined };
    const run = await runAgainst({ ...input, principals, declaration } as TargetFileInput, { checks: [dtlsReplay], only: ONLY });
    const r = run.byId.get(ONLY[0]!)!;
    expect(r.verdict).toBe('skipped');
    expect(r.reason).toMatch(/no principal has a DTLS PSK/);
  });

  it('is inconclusive on a closed coaps port (no session to capture from), within the bound', async () => {
    const d = await device([]);
    const ctx = await contextOnClosedCoaps(d);
    const started = Date.now();
    const out = await dtlsReplay.run(ctx);
    expect(out.verdict).toBe('inconclusive');
    expect(out.reason).toMatch(/no DTLS session as \S+ through the relay/);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
