// performance.bench and performance.floors against the reference device:
// every path measured (something completed, with latency) and the floors
// judged both ways: a floor the device meets passes, one it cannot meet is a
// finding, one that cannot be measured is inconclusive. No figure is asserted.

import { afterEach, describe, expect, it } from 'vitest';
import { performanceBench, performanceFloors } from '../../../harness/checks/performance/hot-paths.js';
import { targetFromObject, type TargetFileInput } from '../../../harness/core/target-file.js';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';
import { runAgainst } from '../../support/run-target.js';

let dev: RunningDevice | undefined;
afterEach(async () => {
  await dev?.close();
  dev = undefined;
});

const BENCH = { durationMs: 300 };

function withFloors(t: TargetFileInput, floors: unknown[]): TargetFileInput {
  return { ...t, declaration: { ...t.declaration, performance: { floors } } } as TargetFileInput;
}

describe('performance.bench on the reference device', () => {
  it('measures every path of every server interface: completed ops, latency percentiles, settings; pass with no floor declared', async () => {
    dev = await startReferenceDevice({ factoryFresh: false });
    const run = await runAgainst(dev.targetFile(), { checks: [performanceBench], bench: BENCH });
    expect(run.results.map((r) => r.instance.id).sort()).toEqual(['performance.bench@coap', 'performance.bench@coaps', 'performance.bench@https', 'performance.bench@mqtts']);
    for (const r of run.results) {
      expect(r.verdict, `${r.instance.id}: ${r.reason}`).toBe('pass');
      expect(r.reason).toMatch(/no floor declared$/);
    }
    const paths = run.results.flatMap((r) => r.bench ?? []);
    expect(paths.map((p) => p.path).sort()).toEqual(
      ['coap.block', 'coap.get', 'coap.non', 'dtls.handshake', 'http.request', 'http.upload', 'mqtt.connect', 'mqtt.publish.qos0', 'mqtt.publish.qos1', 'mqtt.publish.qos2'].sort(),
    );
    for (const p of paths) {
      expect(p.skipped, p.path).toBeUndefined();
      expect(p.ops, p.path).toBeGreaterThan(0);
      expect(p.rate, p.path).toBeGreaterThan(0);
      expect(p.latency!.p99Ms, p.path).toBeGreaterThanOrEqual(p.latency!.p50Ms);
      expect(p.settings.durationMs).toBe(300);
    }
    // The upload moves bytes and logs in as the declared installer; nothing installs (random bytes).
    const up = paths.find((p) => p.path === 'http.upload')!;
    expect(up.bytesPerSec).toBeGreaterThan(0);
    expect(up.notes.join(' ')).toMatch(/as admin; the body is random bytes, so no image installs/);
  }, 120_000);

  it('--paths narrows what is measured', async () => {
    dev = await startReferenceDevice({ factoryFresh: false });
    const run = await runAgainst(dev.targetFile(), { checks: [performanceBench], bench: { ...BENCH, paths: ['coap.get'] }, only: ['performance.bench@coap'] });
    expect(run.results[0]!.bench!.map((p) => p.path)).toEqual(['coap.get']);
  }, 60_000);
});

describe('performance.floors: regression gating on declared floors', () => {
  it('no floor declared: no instance at all (gauntlet run adds nothing)', async () => {
    dev = await startReferenceDevice({ factoryFresh: false });
    const run = await runAgainst(dev.targetFile(), { checks: [performanceFloors], bench: BENCH });
    expect(run.results).toEqual([]);
  });

  it('a floor the device meets passes; one it cannot meet is a finding naming the path, the figure and the floor', async () => {
    dev = await startReferenceDevice({ factoryFresh: false });
    const t = withFloors(dev.targetFile(), [
      { interface: 'coap', path: 'coap.get', min: 1 },
      { interface: 'https', path: 'http.request', min: 1, p99: '10s' },
      { interface: 'mqtts', path: 'mqtt.publish.qos1', min: 100_000_000 },
    ]);
    const run = await runAgainst(t, { checks: [performanceFloors], bench: BENCH });
    expect(run.byId.get('performance.floors@coap')!.verdict).toBe('pass');
    expect(run.byId.get('performance.floors@https')!.reason).toMatch(/1 declared floor\(s\) met: http\.request@https: at least 1\.00\/s, p99 at most 10,000 ms; measured/);
    // Only the declared path is measured.
    expect(run.byId.get('performance.floors@https')!.bench!.map((p) => p.path)).toEqual(['http.request']);
    const mqtts = run.byId.get('performance.floors@mqtts')!;
    expect(mqtts.verdict).toBe('fail');
    expect(mqtts.findings).toHaveLength(1);
    expect(mqtts.findings[0]!.summary).toMatch(/^mqtt\.publish\.qos1 on mqtts misses its declared floor: [\d,.]+\/s is below 100,000,000\/s/);
    expect(mqtts.findings[0]!.evidence.source).toBe('target:declaration.performance.floors[2]');
    expect(run.results.map((r) => r.instance.id).sort()).toEqual(['performance.floors@coap', 'performance.floors@https', 'performance.floors@mqtts']);
  }, 60_000);

  it('a floor on a path the target file gives nothing to drive is inconclusive, never a pass', async () => {
    dev = await startReferenceDevice({ factoryFresh: false });
    const base = dev.targetFile();
    // Without PSKs there is no DTLS principal to handshake as.
    const principals = Object.fromEntries(Object.entries(base.principals ?? {}).map(([k, p]) => [k, { ...p, psk: undefined }]));
    // (and without the coaps update path, whose installer is a PSK identity)
    const t = withFloors({ ...base, principals, declaration: { ...base.declaration, update: undefined } } as TargetFileInput, [{ interface: 'coaps', path: 'dtls.handshake', min: 1 }]);
    const run = await runAgainst(t, { checks: [performanceFloors], bench: BENCH });
    const r = run.byId.get('performance.floors@coaps')!;
    expect(r.verdict).toBe('inconclusive');
    expect(r.reason).toMatch(/could not be judged: dtls\.handshake@coaps: at least 1\.00\/s; not measured: no principal with a DTLS PSK/);
  }, 60_000);

  it('a device that is not there: the floor is unmeasured (inconclusive), with the error named', async () => {
    dev = await startReferenceDevice({ factoryFresh: false });
    const t = targetFromObject(withFloors(dev.targetFile(), [{ interface: 'coap', path: 'coap.get', min: 1 }]), 'test-target');
    await dev.close();
    dev = undefined;
    const run = await runAgainst(t, { checks: [performanceFloors], bench: BENCH, ioTimeoutMs: 300 });
    const r = run.byId.get('performance.floors@coap')!;
    expect(['inconclusive', 'error']).toContain(r.verdict);
    expect(r.verdict).not.toBe('pass');
  }, 60_000);
});
