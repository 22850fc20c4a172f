// coapLoad (harness/bench/load/coap.ts) on real sockets: the reference
// device's CoAP server and libcoap's coap-server-notls for every path, and a
// hostile dgram peer (garbage, RST, silence, a closed port) for the bounds.
// Figures are never asserted, only that ops complete, errors are counted and
// every run returns in bounded time.

import { createSocket, type Socket } from 'node:dgram';
import { generate as coapGenerate } from 'coap-packet';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { coapLoad } from '../../../harness/bench/load/coap.js';
import { createScopeGuard } from '../../../harness/core/scope.js';
import { expectMeasured, explain, loadIo } from './support.js';
import type { LoadOptions } from '../../../harness/bench/load/types.js';
import { isGauntletError } from '../../../harness/core/errors.js';
import type { BenchPath, CoapInterface, PathResult } from '../../../harness/model/index.js';
import type { Io } from '../../../harness/protocols/common/io.js';
import { startLibcoap, type LibcoapHandle } from '../../../targets/interop/libcoap.js';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';

const interop = inject('interop');

let device: RunningDevice | undefined;
let libcoap: LibcoapHandle | undefined;
const peers: Socket[] = [];
afterEach(async () => {
  await device?.close();
  device = undefined;
  await libcoap?.close();
  libcoap = undefined;
  for (const p of peers.splice(0)) p.close();
});


const io = (timeoutMs = 1000, extra: Partial<Io> = {}): Io => loadIo('coap', timeoutMs, extra);

const iface = (port: number, protocol: 'coap' | 'coaps' = 'coap'): CoapInterface => ({ id: protocol, protocol, host: '127.0.0.1', port, role: 'server' });

function opts(path: BenchPath, port: number, over: Partial<LoadOptions> = {}): LoadOptions {
  return { path, iface: iface(port), io: io(), durationMs: 1000, maxOps: 1_000_000, connections: 2, inFlight: 4, resource: '/sensors/temperature', ...over };
}


/** A dgram peer on 127.0.0.1 that answers every datagram with `answer(request)` (nothing when it returns []). */
async function hostilePeer(answer: (req: Buffer) => Buffer[]): Promise<number> {
  const s = createSocket('udp4');
  peers.push(s);
  s.on('message', (m, r) => {
    for (const b of answer(m)) s.send(b, r.port, r.address);
  });
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  return s.address().port;
}

describe('coapLoad against the reference device', () => {
  it('coap.get, coap.non and coap.block complete ops with latency; an error code counts as an error', async () => {
    device = await startReferenceDevice({});
    const port = device.endpoints.coap.port;
    const progress: number[] = [];

    const get = await coapLoad(opts('coap.get', port, { onProgress: (n) => progress.push(n) }));
    expectMeasured(get, { noErrors: false });
    expect(get.errors, explain(get)).toBe(0);
    expect(get.settings).toMatchObject({ connections: 2, inFlight: 4, resource: '/sensors/temperature' });
    expect(get.notes.join('\n')).toMatch(/no retransmission: 0 request/);
    expect(progress.length).toBeGreaterThan(0);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);

    const non = await coapLoad(opts('coap.non', port));
    expectMeasured(non, { noErrors: false });

    const block = await coapLoad(opts('coap.block', port, { resource: '/.well-known/core', payloadBytes: 16 }));
    expectMeasured(block, { noErrors: false });
    expect(block.errors, explain(block)).toBe(0);
    expect(block.bytesPerSec).toBeGreaterThan(0);
    expect(block.settings.payloadBytes).toBe(16);
    const blocks = Number(/one transfer: (\d+) block/.exec(block.notes.join('\n'))?.[1]);
    expect(blocks, explain(block)).toBeGreaterThan(1);

    const oneBlock = await coapLoad(opts('coap.block', port, { durationMs: 500, payloadBytes: 1024 }));
    expectMeasured(oneBlock, { noErrors: false });
    expect(oneBlock.notes.join('\n')).toMatch(/resource fits one block of \d+ bytes/);

    const missing = await coapLoad(opts('coap.get', port, { resource: '/no/such/thing', durationMs: 500 }));
    expect(missing.ops).toBe(0);
    expect(missing.errors).toBeGreaterThan(0);
    expect(missing.errorDetail?.join('\n')).toMatch(/4\.04/);
  }, 30_000);

  it('stops at maxOps, and an abort ends the run early with the result so far', async () => {
    device = await startReferenceDevice({});
    const port = device.endpoints.coap.port;

    const capped = await coapLoad(opts('coap.get', port, { durationMs: 10_000, maxOps: 300 }));
    expect(capped.ops).toBe(300);
    expect(capped.elapsedMs).toBeLessThan(10_000);

    const ac = new AbortController();
    setTimeout(() => ac.abort(), 500);
    const t0 = Date.now();
    const aborted = await coapLoad(opts('coap.get', port, { durationMs: 20_000, io: io(1000, { signal: ac.signal }) }));
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(aborted.notes.join('\n')).toMatch(/aborted/);
    expect(aborted.elapsedMs).toBeLessThan(20_000);
  }, 30_000);
});

describe('coapLoad refusals', () => {
  it('a coaps interface is skipped with the reason; a wrong block size is skipped', async () => {
    const r = await coapLoad({ ...opts('coap.get', 5684), iface: iface(5684, 'coaps') });
    expect(r.skipped).toMatch(/CoAP-over-DTLS load is not measured.*dtls\.handshake/);
    expect(r.ops).toBe(0);
    const b = await coapLoad(opts('coap.block', 5683, { payloadBytes: 100 }));
    expect(b.skipped).toMatch(/block size 100/);
  });

  it('the scope guard refusal surfaces before anything is sent', async () => {
    let sent = 0;
    const port = await hostilePeer(() => {
      sent++;
      return [];
    });
    const guard = createScopeGuard({ source: 'coap.test', scope: { hosts: ['192.0.2.1'], allowNonLoopback: true } });
    const err = await coapLoad(opts('coap.get', port, { io: { ...io(), scope: guard } })).catch((e: unknown) => e);
    expect(isGauntletError(err) && err.code).toBe('SCOPE_VIOLATION');
    await new Promise((r) => setTimeout(r, 50));
    expect(sent).toBe(0);
  });
});

describe('coapLoad against a hostile peer: bounded, counted, never thrown', () => {
  const bounded = async (o: LoadOptions): Promise<PathResult> => {
    const t0 = Date.now();
    const r = await coapLoad(o);
    // warm-up + duration + drain, and slack for a loaded machine
    expect(Date.now() - t0).toBeLessThan(o.durationMs + 2500);
    return r;
  };

  it('a peer that never answers: every request counted as lost', async () => {
    const port = await hostilePeer(() => []);
    const r = await bounded(opts('coap.get', port, { io: io(200) }));
    expect(r.ops).toBe(0);
    expect(r.errors).toBeGreaterThan(0);
    expect(r.errorDetail?.join('\n')).toMatch(/no reply within 200 ms \(lost/);
    expect(r.notes.join('\n')).toMatch(/no retransmission: [1-9]\d* request/);
    const non = await bounded(opts('coap.non', port, { io: io(200) }));
    expect(non.errors).toBeGreaterThan(0);
  });

  it('a peer that answers garbage, foreign tokens and unexpected codes: ignored or counted', async () => {
    const port = await hostilePeer((req) => {
      if (req[1] === 0) return []; // our ACKs and RSTs: no ping-pong
      const mid = req.readUInt16BE(2);
      return [
        Buffer.from([0xff, 0x00]),
        Buffer.from('not coap at all'),
        Buffer.from([0x6f, 0x45, req[2]!, req[3]!]), // TKL 15
        coapGenerate({ ack: true, code: '2.05', messageId: mid, token: Buffer.from([9, 9, 9, 9]), payload: Buffer.from('x') }),
        coapGenerate({ ack: true, code: '2.05', messageId: mid, token: Buffer.from([1, 2]) }),
        coapGenerate({ code: 'GET', confirmable: true, messageId: mid ^ 1, token: Buffer.from([1, 2, 3, 4]) }),
      ];
    });
    const r = await bounded(opts('coap.get', port, { io: io(200) }));
    expect(r.ops).toBe(0);
    expect(r.errors).toBeGreaterThan(0);
    const notes = r.notes.join('\n');
    expect(notes).toMatch(/datagram\(s\) that are not CoAP ignored/);
    expect(notes).toMatch(/with no request in flight/);

    const block = await bounded(opts('coap.block', port, { io: io(200), resource: '/x' }));
    expect(block.ops).toBe(0);
    expect(block.errors).toBeGreaterThan(0);
  });

  it('a peer that resets every request, or answers with a malformed Block2: errors named', async () => {
    const rst = await hostilePeer((req) => [Buffer.from([0x70, 0x00, req[2]!, req[3]!])]);
    const r = await bounded(opts('coap.get', rst, { durationMs: 500 }));
    expect(r.ops).toBe(0);
    expect(r.errors).toBeGreaterThan(0);
    expect(r.errorDetail?.join('\n')).toMatch(/reset \(RST\)/);

    // Block2 with SZX 7 (reserved), echoing the request's token.
    const bad = await hostilePeer((req) => {
      const tkl = req[0]! & 15;
      return [coapGenerate({ ack: true, code: '2.05', messageId: req.readUInt16BE(2), token: req.subarray(4, 4 + tkl), options: [{ name: 'Block2', value: Buffer.from([0x0f]) }], payload: Buffer.alloc(16) })];
    });
    const b = await bounded(opts('coap.block', bad, { durationMs: 500, resource: '/x' }));
    expect(b.ops).toBe(0);
    expect(b.errorDetail?.join('\n')).toMatch(/reserved SZX 7/);
  });

  it('a closed port (ICMP port unreachable): socket errors counted, loss counted', async () => {
    const gone = await hostilePeer(() => []);
    peers.pop()!.close();
    const r = await bounded(opts('coap.get', gone, { io: io(200), durationMs: 600 }));
    expect(r.ops).toBe(0);
    expect(r.errors).toBeGreaterThan(0);
    expect(`${r.notes.join('\n')}\n${r.errorDetail?.join('\n')}`).toMatch(/ECONNREFUSED/);
  });
});

describe.skipIf(!interop.coapServerNotls)('coapLoad against libcoap coap-server-notls', () => {
  it('coap.get and coap.non of /time, coap.block of /.well-known/core', async () => {
    libcoap = await startLibcoap({ binary: interop.coapServerNotls!, verbosity: 3 });
    const port = libcoap.port;
    const get = await coapLoad(opts('coap.get', port, { resource: '/time' }));
    expectMeasured(get, { noErrors: false });
    expect(get.errors, explain(get)).toBe(0);
    const non = await coapLoad(opts('coap.non', port, { resource: '/time' }));
    expectMeasured(non, { noErrors: false });
    const block = await coapLoad(opts('coap.block', port, { resource: '/.well-known/core', payloadBytes: 16 }));
    expectMeasured(block, { noErrors: false });
    expect(block.errors, explain(block)).toBe(0);
    expect(Number(/one transfer: (\d+) block/.exec(block.notes.join('\n'))?.[1])).toBeGreaterThan(1);
  }, 30_000);
});
