// Byte-level replay of a fuzz finding record against the real reference
// device, proven both ways: the CoAP datagram whose option number passes
// 65535 (coap-crash-option, built here by hand) crashes the flawed unit again
// (the same oracle, reproduced; the unit comes back) and does nothing to a
// hardened one (not reproduced). A record whose interface the target lacks,
// or has with another protocol, is a clear error before anything is sent; a
// target out of scope is refused by the guard; a unit that is down before the
// replay is inconclusive, never "not reproduced".

import { afterEach, describe, expect, it } from 'vitest';
import { createScopeGuard } from '../../harness/core/scope.js';
import { targetFromObject } from '../../harness/core/target-file.js';
import { TranscriptRecorder } from '../../harness/core/transcript.js';
import { DEFAULT_THRESHOLDS } from '../../harness/fuzz/oracles.js';
import { replayFuzzRecord } from '../../harness/fuzz/replay-input.js';
import type { FuzzFindingRecord } from '../../harness/fuzz/store.js';
import type { Target } from '../../harness/model/index.js';
import type { Io } from '../../harness/protocols/common/io.js';
import { startReferenceDevice, type Flaw, type RunningDevice } from '../../targets/reference-device/index.js';
import { CRASH, GET, crashRecord } from './crash-record.js';

const devices: RunningDevice[] = [];
afterEach(async () => {
  for (const d of devices.splice(0)) await d.close();
});

async function unit(flaws: readonly Flaw[]): Promise<{ device: RunningDevice; target: Target }> {
  const device = await startReferenceDevice({ flaws, rebootMs: 300 });
  devices.push(device);
  return { device, target: targetFromObject(device.targetFile(), 'builtin:reference-device') };
}

/** A conforming GET of the discovery resource, then the datagram that crashes coap-crash-option. */
const record = (over: Partial<FuzzFindingRecord> = {}) =>
  crashRecord(
    ['coap-crash-option'],
    [
      { label: 'step 1: CON GET /.well-known/core', hex: GET.toString('hex') },
      { label: 'step 2: CON GET, option delta to 65804', hex: CRASH.toString('hex') },
    ],
    { id: 'coap-crash-000000000001', requirements: [], ...over },
  );

const ioFor = (target: Target): Io => ({ scope: createScopeGuard(target), transcript: new TranscriptRecorder(), timeoutMs: 1000, peer: 'coap' });
const OPTS = { thresholds: { ...DEFAULT_THRESHOLDS, hangMs: 1000 }, rebootWaitMs: 5000 };

describe('replayFuzzRecord on the reference device', () => {
  it('coap-crash-option: the recorded bytes crash the flawed unit again (reproduced), and it comes back', async () => {
    const { target } = await unit(['coap-crash-option']);
    const r = await replayFuzzRecord(target, record(), ioFor(target), OPTS);
    expect(r.reproduced, r.detail).toBe(true);
    expect(r.inconclusive).toBe(false);
    expect(r.oracle).toBe('crash');
    expect(r.detail).toMatch(/^crash after connection 1 of 1: probe: .*; the device answered again after \d+ ms$/);
    // Byte for byte: both datagrams went out as recorded, in order.
    const sent = r.transcript.filter((e) => e.dir === 'sent' && e.decoded.startsWith('step '));
    expect(sent.map((e) => e.hex)).toEqual([GET.toString('hex'), CRASH.toString('hex')]);
    expect(sent.map((e) => e.decoded)).toEqual(['step 1: CON GET /.well-known/core', 'step 2: CON GET, option delta to 65804']);
    expect(sent.every((e) => e.peer === 'coap')).toBe(true);
    // Back up: the same record reproduces again.
    const again = await replayFuzzRecord(target, record(), ioFor(target), { ...OPTS, recover: false });
    expect(again.reproduced, again.detail).toBe(true);
    expect(again.detail).not.toMatch(/answered again/);
  });

  it('hardened unit: the same bytes do nothing (not reproduced, no oracle)', async () => {
    const { target } = await unit([]);
    const r = await replayFuzzRecord(target, record(), ioFor(target), OPTS);
    expect(r.reproduced).toBe(false);
    expect(r.inconclusive).toBe(false);
    expect(r.oracle).toBeUndefined();
    expect(r.detail).toBe('the device survived all 1 connection(s): no crash, hang, reboot or invalid reply (recorded: crash)');
    expect(r.transcript.some((e) => e.dir === 'sent' && e.hex === CRASH.toString('hex'))).toBe(true);
  });

  it('another oracle than the recorded one is reported, but is not a reproduction', async () => {
    const { target } = await unit(['coap-crash-option']);
    const r = await replayFuzzRecord(target, record({ oracle: 'hang' }), ioFor(target), { ...OPTS, recover: false });
    expect(r.reproduced).toBe(false);
    expect(r.oracle).toBe('crash');
    expect(r.detail).toMatch(/^a different oracle fired after connection 1 of 1: crash \(.*\); recorded: hang$/);
  });

  it('an interface the target lacks, or has with another protocol, is a clear error and nothing is sent', async () => {
    const { target } = await unit([]);
    const io = ioFor(target);
    await expect(replayFuzzRecord(target, record({ interface: { id: 'zigbee', protocol: 'coap', url: '' } }), io, OPTS)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/^fuzz finding coap-crash-000000000001: interface zigbee is not in target \S+ \(builtin:reference-device\); its interfaces: .*coap \(coap\)/),
    });
    await expect(replayFuzzRecord(target, record({ interface: { id: 'coap', protocol: 'mqtt', url: '' } }), io, OPTS)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/recorded on a mqtt interface, but coap in builtin:reference-device is coap/),
    });
    expect(io.transcript.entries()).toEqual([]);
  });

  it('a target whose scope does not name the host: the guard refuses before anything is sent', async () => {
    const { target } = await unit(['coap-crash-option']);
    const narrow: Target = { ...target, scope: { ...target.scope, hosts: ['127.0.0.2'] } };
    await expect(replayFuzzRecord(narrow, record(), ioFor(narrow), OPTS)).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
  });

  it('a unit that is down before the replay is inconclusive, within the reboot wait', async () => {
    const { device, target } = await unit(['coap-crash-option']);
    await device.close();
    const t0 = Date.now();
    const r = await replayFuzzRecord(target, record(), ioFor(target), { ...OPTS, rebootWaitMs: 400 });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.reproduced).toBe(false);
    expect(r.inconclusive).toBe(true);
    expect(r.detail).toMatch(/^the target did not answer before the replay \(within 400 ms\): /);
    expect(r.transcript.some((e) => e.dir === 'sent' && e.hex === CRASH.toString('hex'))).toBe(false);
  });

  it('an aborted replay is inconclusive', async () => {
    const { target } = await unit(['coap-crash-option']);
    const ac = new AbortController();
    ac.abort();
    const r = await replayFuzzRecord(target, record(), { ...ioFor(target), signal: ac.signal }, OPTS);
    expect(r).toMatchObject({ reproduced: false, inconclusive: true });
  });
});
