// dtlsLoad (harness/bench/load/dtls.ts) on real sockets: full DTLS 1.2 PSK
// handshakes against the reference device's coaps; a wrong key, a missing
// PSK, a silent peer, an abort and the scope guard. Figures are never
// asserted, only that handshakes complete and every run is bounded.

import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { dtlsLoad } from '../../../harness/bench/load/dtls.js';
import { createScopeGuard } from '../../../harness/core/scope.js';
import { explain, loadIo } from './support.js';
import type { LoadOptions } from '../../../harness/bench/load/types.js';
import { isGauntletError } from '../../../harness/core/errors.js';
import type { CoapInterface, PathResult, Principal } from '../../../harness/model/index.js';
import type { Io } from '../../../harness/protocols/common/io.js';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';

let device: RunningDevice | undefined;
const peers: Socket[] = [];
afterEach(async () => {
  await device?.close();
  device = undefined;
  for (const p of peers.splice(0)) p.close();
});


const io = (timeoutMs = 1000, extra: Partial<Io> = {}): Io => loadIo('coaps', timeoutMs, extra);

const iface = (port: number, protocol: 'coap' | 'coaps' = 'coaps'): CoapInterface => ({ id: protocol, protocol, host: '127.0.0.1', port, role: 'server' });

const sensor = (psk?: Principal['psk']): Principal => ({ name: 'sensor', user: 'sensor-1', pass: 'unused', role: 'device', ...(psk ? { psk } : {}) });

function opts(port: number, principal: Principal | undefined, over: Partial<LoadOptions> = {}): LoadOptions {
  return { path: 'dtls.handshake', iface: iface(port), io: io(), durationMs: 1000, maxOps: 1_000_000, connections: 2, inFlight: 1, resource: '', ...(principal ? { principal } : {}), ...over };
}

async function silentPeer(): Promise<number> {
  const s = createSocket('udp4');
  peers.push(s);
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  return s.address().port;
}

describe('dtlsLoad against the reference device', () => {
  it('completes full PSK handshakes with latency; a wrong key is skipped naming the identity', async () => {
    device = await startReferenceDevice({});
    const port = device.endpoints.coaps.port;
    const psk = device.credentials.psk.sensor;
    const progress: number[] = [];

    const r = await dtlsLoad(opts(port, sensor(psk), { onProgress: (n) => progress.push(n) }));
    expect(r.skipped, explain(r)).toBeUndefined();
    expect(r.ops, explain(r)).toBeGreaterThan(0);
    expect(r.rate).toBeGreaterThan(0);
    expect(r.latency?.samples).toBe(r.ops);
    expect(r.latency!.p50Ms).toBeGreaterThan(0);
    expect(r.settings).toMatchObject({ connections: 2, inFlight: 1 });
    expect(progress.length).toBeGreaterThan(0);

    const t0 = Date.now();
    const wrong = await dtlsLoad(opts(port, sensor({ identity: psk.identity, keyHex: '00'.repeat(16) }), { durationMs: 5000 }));
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(wrong.ops).toBe(0);
    expect(wrong.skipped).toContain(`"${psk.identity}"`);
    expect(wrong.errors).toBeGreaterThan(0);
    expect(wrong.errorDetail?.length).toBeGreaterThan(0);
  }, 30_000);

  it('stops at maxOps, and an abort ends the run early with the result so far', async () => {
    device = await startReferenceDevice({});
    const port = device.endpoints.coaps.port;
    const psk = device.credentials.psk.sensor;

    const capped = await dtlsLoad(opts(port, sensor(psk), { durationMs: 10_000, maxOps: 20 }));
    expect(capped.ops).toBe(20);
    expect(capped.elapsedMs).toBeLessThan(10_000);

    const ac = new AbortController();
    setTimeout(() => ac.abort(), 600);
    const t0 = Date.now();
    const aborted = await dtlsLoad(opts(port, sensor(psk), { durationMs: 20_000, io: io(1000, { signal: ac.signal }) }));
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(aborted.notes.join('\n')).toMatch(/aborted/);
  }, 30_000);
});

describe('dtlsLoad refusals and a silent peer', () => {
  it('no principal with a PSK, or a plain coap interface: skipped', async () => {
    const none = await dtlsLoad(opts(5684, undefined));
    expect(none.skipped).toBe('no principal with a DTLS PSK in the target file');
    const noPsk = await dtlsLoad(opts(5684, sensor()));
    expect(noPsk.skipped).toBe('no principal with a DTLS PSK in the target file');
    const plain = await dtlsLoad({ ...opts(5683, sensor({ identity: 'a', keyHex: '01' })), iface: iface(5683, 'coap') });
    expect(plain.skipped).toMatch(/needs a coaps interface/);
  });

  it('the scope guard refusal surfaces', async () => {
    const guard = createScopeGuard({ source: 'dtls.test', scope: { hosts: ['192.0.2.1'], allowNonLoopback: true } });
    const err = await dtlsLoad(opts(5684, sensor({ identity: 'a', keyHex: '01' }), { io: { ...io(), scope: guard } })).catch((e: unknown) => e);
    expect(isGauntletError(err) && err.code).toBe('SCOPE_VIOLATION');
  });

  it('a peer that never answers: every first handshake times out and the run stops, naming the identity', async () => {
    const port = await silentPeer();
    const t0 = Date.now();
    const r = await dtlsLoad(opts(port, sensor({ identity: 'lab-1', keyHex: '0102' }), { io: io(500), durationMs: 5000 }));
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r.ops).toBe(0);
    expect(r.skipped).toMatch(/"lab-1".*timed out/);
    expect(r.errors).toBe(2);
  });
});
