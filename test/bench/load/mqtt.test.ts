// mqttLoad (harness/bench/load/mqtt.ts) on real sockets: the reference
// device's mqtts broker for every path and its refusals, and a tiny scripted
// broker on loopback for what the device never does (MQTT 5, acks that never
// come, garbage mid-run, silence) and to count the connections left open.
// Figures are never asserted, only that ops complete, errors are counted and
// every run returns in bounded time.

import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mqttLoad } from '../../../harness/bench/load/mqtt.js';
import { MqttFrames } from '../../../harness/bench/load/tcp-mqtt.js';
import { encodeVarint } from '../../../harness/protocols/mqtt/connect-bytes.js';
import { createScopeGuard } from '../../../harness/core/scope.js';
import { expectMeasured, explain, loadIo } from './support.js';
import type { LoadOptions } from '../../../harness/bench/load/types.js';
import { isGauntletError } from '../../../harness/core/errors.js';
import { targetFromObject } from '../../../harness/core/target-file.js';
import type { BenchPath, MqttInterface, PathResult, Principal, Target } from '../../../harness/model/index.js';
import type { Io } from '../../../harness/protocols/common/io.js';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';

const TOPIC = 'devices/sensor-1/bench';

let device: RunningDevice;
let target: Target;
let mqtts: MqttInterface;
let sensor: Principal;

beforeAll(async () => {
  device = await startReferenceDevice({ factoryFresh: false });
  target = targetFromObject(device.targetFile(), 'mqtt.test');
  mqtts = target.interfaces.find((i): i is MqttInterface => i.id === 'mqtts')!;
  sensor = target.principals.find((p) => p.name === 'sensor')!;
});
afterAll(async () => {
  await device?.close();
});

const servers: Server[] = [];
const accepted: Socket[] = [];
afterEach(async () => {
  for (const s of accepted.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});


const io = (over: Partial<Io> = {}): Io => loadIo('mqtts', 1500, over);

function opts(path: BenchPath, over: Partial<LoadOptions> = {}): LoadOptions {
  return { path, iface: mqtts, principal: sensor, io: io(), durationMs: 600, maxOps: 1_000_000, connections: 2, inFlight: 16, resource: TOPIC, ...over };
}


interface FakeBroker {
  readonly server: Server;
  readonly port: number;
  readonly iface: MqttInterface;
  /** Connections open now. */
  open(): Promise<number>;
}

/**
 * A scripted broker: CONNACK 0, SUBACK granted, PUBLISH forwarded to every
 * subscriber, PUBACK (QoS 1) when `ack`, PINGRESP. `onPublish` may answer
 * instead (garbage, nothing); `onConnect` replaces the whole session.
 */
async function fakeBroker(
  o: { version?: 4 | 5; ack?: boolean; onConnect?: (s: Socket) => void; onPublish?: (s: Socket, publishes: number) => boolean } = {},
): Promise<FakeBroker> {
  const v5 = o.version === 5;
  const subscribers = new Set<Socket>();
  const server = createServer((s) => {
    accepted.push(s);
    s.on('error', () => undefined);
    s.on('close', () => subscribers.delete(s));
    if (o.onConnect) return o.onConnect(s);
    const frames = new MqttFrames();
    let publishes = 0;
    const sink = {
      frame(b0: number, buf: Buffer, start: number, end: number) {
        const type = b0 >> 4;
        if (type === 1) s.write(Buffer.from(v5 ? [0x20, 0x03, 0, 0, 0] : [0x20, 0x02, 0, 0]));
        else if (type === 8) {
          subscribers.add(s);
          s.write(Buffer.from(v5 ? [0x90, 0x04, buf[start]!, buf[start + 1]!, 0, 0] : [0x90, 0x03, buf[start]!, buf[start + 1]!, 0]));
        } else if (type === 3) {
          publishes++;
          if (o.onPublish?.(s, publishes)) return;
          const qos = (b0 >> 1) & 3;
          const topicLen = buf.readUInt16BE(start);
          if (qos === 1 && o.ack !== false) s.write(Buffer.from([0x40, 0x02, buf[start + 2 + topicLen]!, buf[start + 3 + topicLen]!]));
          // Forward as QoS 0: drop the packet id (and keep v5 properties as they are).
          const payloadFrom = start + 2 + topicLen + (qos > 0 ? 2 : 0);
          const body = Buffer.concat([buf.subarray(start, start + 2 + topicLen), buf.subarray(payloadFrom, end)]);
          const head = Buffer.concat([Buffer.from([0x30]), encodeVarint(body.length)]);
          for (const sub of subscribers) sub.write(Buffer.concat([head, body]));
        } else if (type === 12) s.write(Buffer.from([0xd0, 0x00]));
        else if (type === 14) s.end();
      },
    };
    s.on('data', (chunk: Buffer) => {
      if (frames.feed(chunk, sink) !== undefined) s.destroy();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    iface: { id: 'fake', protocol: 'mqtt', role: 'server', host: '127.0.0.1', port, version: o.version ?? 4 },
    open: async () => {
      // The server sees a close a moment after the client does.
      for (let i = 0; ; i++) {
        const n = await new Promise<number>((r) => server.getConnections((_, c) => r(c)));
        if (n === 0 || i === 50) return n;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}


async function timed<T>(run: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  const value = await run;
  return { value, ms: Date.now() - t0 };
}

describe('mqttLoad against the reference device (mqtts)', () => {
  it('publish at QoS 0: ops are messages the observer received, with end-to-end latency', async () => {
    const progress: number[] = [];
    const r = await mqttLoad(opts('mqtt.publish.qos0', { onProgress: (n) => progress.push(n) }));
    expectMeasured(r);
    expect(r.path).toBe('mqtt.publish.qos0');
    expect(r.interface).toBe('mqtts');
    expect(r.settings).toMatchObject({ connections: 2, payloadBytes: 64, resource: TOPIC, durationMs: 600 });
    // QoS 0: at least one write batch may be ahead of the observer.
    expect(r.settings.inFlight).toBeGreaterThan(16);
    expect(r.notes.join('\n')).toContain(`QoS 0 window: at most ${r.settings.inFlight} messages per publisher not yet seen by the observer`);
    expect(r.notes.join('\n')).toMatch(/the observer saw \d+ of \d+ messages published in the measured phase/);
    expect(progress.length).toBeGreaterThan(0);
  });

  it('publish at QoS 1 and QoS 2: ops are PUBACKs and PUBCOMPs, latency publish -> ack', async () => {
    const q1 = await mqttLoad(opts('mqtt.publish.qos1'));
    expectMeasured(q1);
    expect(q1.settings.inFlight).toBe(16);
    expect(q1.notes.join('\n')).toMatch(/op = PUBACK received/);
    const q2 = await mqttLoad(opts('mqtt.publish.qos2', { payloadBytes: 200 }));
    expectMeasured(q2);
    expect(q2.settings.payloadBytes).toBe(200);
    expect(q2.notes.join('\n')).toMatch(/op = PUBCOMP received/);
  });

  it('connect rate: ops are accepted CONNACKs over TLS', async () => {
    const r = await mqttLoad(opts('mqtt.connect', { durationMs: 500 }));
    expectMeasured(r);
    expect(r.notes.join('\n')).toMatch(/TLS handshake/);
  });

  it('maxOps ends the measured phase early', async () => {
    const { value: r, ms } = await timed(mqttLoad(opts('mqtt.publish.qos1', { durationMs: 10_000, maxOps: 50 })));
    expect(r.ops).toBe(50);
    expect(ms).toBeLessThan(5000);
  });

  it('a topic the principal may not subscribe to skips the path with the SUBACK', async () => {
    const r = await mqttLoad(opts('mqtt.publish.qos0', { resource: 'devices/sensor-2/bench' }));
    expect(r.skipped, explain(r)).toMatch(/SUBACK 0x80 .*devices\/sensor-2\/bench/);
    expect(r.ops).toBe(0);
  });

  it('a wrong password skips the path with the CONNACK code (one publisher: no lockout for the tests after)', async () => {
    const wrong = { ...sensor, pass: `${sensor.pass}-wrong` };
    const r = await mqttLoad(opts('mqtt.publish.qos1', { principal: wrong, connections: 1 }));
    expect(r.skipped, explain(r)).toBe('CONNACK 4 bad user name or password for sensor-1');
    expect(r.ops).toBe(0);
    const c = await mqttLoad(opts('mqtt.connect', { principal: undefined }));
    expect(c.skipped, explain(c)).toBe('CONNACK 5 not authorized for anonymous');
  });

  it('a host outside the scope is refused before any connect (SCOPE_VIOLATION)', async () => {
    const scope = createScopeGuard({ source: 'mqtt.test', scope: { hosts: ['192.0.2.1'], allowNonLoopback: true } });
    for (const path of ['mqtt.publish.qos0', 'mqtt.connect'] as const) {
      const e = await mqttLoad(opts(path, { io: io({ scope }) })).catch((x: unknown) => x);
      expect(isGauntletError(e) && e.code, String(e)).toBe('SCOPE_VIOLATION');
    }
  });

  it('other paths and interfaces are programming errors', async () => {
    await expect(mqttLoad(opts('coap.get'))).rejects.toThrow(/no MQTT load for path coap.get/);
    await expect(mqttLoad(opts('mqtt.connect', { iface: { id: 'c', protocol: 'coap', role: 'server', host: '127.0.0.1', port: 1 } }))).rejects.toThrow(/not mqtt/);
  });
});

describe('mqttLoad against a scripted broker', () => {
  it('every path closes every connection it opened; MQTT 5 framing', async () => {
    for (const version of [4, 5] as const) {
      const b = await fakeBroker({ version });
      for (const path of ['mqtt.publish.qos0', 'mqtt.publish.qos1', 'mqtt.connect'] as const) {
        const r = await mqttLoad(opts(path, { iface: b.iface, principal: undefined, durationMs: 300, io: io({ peer: 'fake' }) }));
        expectMeasured(r);
        expect(await b.open(), `${path} v${version}`).toBe(0);
      }
    }
  });

  it('acks that never come: the publishers give up after io.timeoutMs, in-flight publishes count as errors', async () => {
    const b = await fakeBroker({ ack: false });
    const { value: r, ms } = await timed(mqttLoad(opts('mqtt.publish.qos1', { iface: b.iface, durationMs: 5000, inFlight: 8, io: io({ timeoutMs: 400, peer: 'fake' }) })));
    expect(ms).toBeLessThan(3000);
    expect(r.ops).toBe(0);
    expect(r.errors, explain(r)).toBe(16);
    expect(r.errorDetail?.[0]).toBe('fake: no PUBACK within 400 ms (8 in flight)');
    expect(await b.open()).toBe(0);
  });

  it('garbage in the middle of the run ends that connection with an error', async () => {
    const b = await fakeBroker({ onPublish: (s, n) => n > 20 && (s.write(Buffer.from([0x00, 0x00, 0x00])), true) });
    const r = await mqttLoad(opts('mqtt.publish.qos1', { iface: b.iface, connections: 1, durationMs: 2000, io: io({ peer: 'fake' }) }));
    expect(r.errors).toBeGreaterThan(0);
    expect(r.errorDetail?.join('\n'), explain(r)).toMatch(/fake: not MQTT: reserved packet type 0/);
    expect(await b.open()).toBe(0);
  });

  it('a peer that answers garbage, one that never answers, one that hangs up: bounded, errors counted, skipped', async () => {
    const garbage = await fakeBroker({ onConnect: (s) => s.on('data', () => s.write(`HTTP/1.1 400 Bad Request\r\n\r\n${'x'.repeat(100)}`)) });
    const silent = await fakeBroker({ onConnect: (s) => s.resume() });
    const rude = await fakeBroker({ onConnect: (s) => s.destroy() });
    for (const [b, why] of [
      [garbage, /not MQTT: expected CONNACK/],
      [silent, /no CONNACK within 400 ms/],
      [rude, /connection (closed|reset) by peer.* before CONNACK/],
    ] as const) {
      for (const path of ['mqtt.publish.qos0', 'mqtt.connect'] as const) {
        const { value: r, ms } = await timed(mqttLoad(opts(path, { iface: b.iface, durationMs: 5000, io: io({ timeoutMs: 400, peer: 'fake' }) })));
        expect(ms, explain(r)).toBeLessThan(2000);
        expect(r.ops).toBe(0);
        expect(r.errors, explain(r)).toBeGreaterThan(0);
        expect(r.errorDetail?.[0], explain(r)).toMatch(why);
        expect(r.skipped, explain(r)).toMatch(/^no MQTT session with fake: /);
        expect(await b.open()).toBe(0);
      }
    }
  });

  it('an abort ends the measured phase early and still returns what completed', async () => {
    const b = await fakeBroker();
    for (const path of ['mqtt.publish.qos0', 'mqtt.connect'] as const) {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 600);
      const { value: r, ms } = await timed(mqttLoad(opts(path, { iface: b.iface, principal: undefined, durationMs: 20_000, io: io({ signal: ac.signal, peer: 'fake' }) })));
      expect(ms).toBeLessThan(3000);
      expect(r.ops, explain(r)).toBeGreaterThan(0);
      expect(r.elapsedMs).toBeLessThan(2000);
      expect(r.notes.join('\n')).toMatch(/aborted/);
      expect(await b.open()).toBe(0);
    }
  });
});
