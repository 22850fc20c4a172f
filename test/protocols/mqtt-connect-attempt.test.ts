// One CONNECT attempt against a tiny TCP server on 127.0.0.1 port 0 that
// answers the way a broker (or something else) might.

import { createServer, type Server, type Socket, type AddressInfo } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { GauntletError } from '../../harness/core/errors.js';
import { TranscriptRecorder } from '../../harness/core/transcript.js';
import type { Io } from '../../harness/protocols/common/io.js';
import { connectFor, describeCredential, mqttConnectAttempt } from '../../harness/protocols/mqtt/connect-attempt.js';
import { encodeConnect } from '../../harness/protocols/mqtt/connect-bytes.js';

let server: Server | undefined;
const sockets = new Set<Socket>();

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  if (server?.listening) await new Promise<void>((r) => server!.close(() => r()));
  server = undefined;
});

interface Broker {
  port: number;
  /** Every byte each connection sent, by connection, until it closed. */
  received: Buffer[];
  connections: number;
  closed: Promise<void>;
}

/** `onConnect` gets the first chunk (the CONNECT) and the socket. */
async function broker(onConnect: (socket: Socket, first: Buffer) => void): Promise<Broker> {
  let closedResolve!: () => void;
  const b: Broker = { port: 0, received: [], connections: 0, closed: new Promise((r) => (closedResolve = r)) };
  server = createServer((socket) => {
    sockets.add(socket);
    const i = b.connections++;
    b.received[i] = Buffer.alloc(0);
    let first = true;
    socket.on('data', (chunk) => {
      b.received[i] = Buffer.concat([b.received[i]!, chunk]);
      if (first) {
        first = false;
        onConnect(socket, chunk);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => closedResolve());
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  b.port = (server.address() as AddressInfo).port;
  return b;
}

const connack4 = (returnCode: number) => mqttPacket.generate({ cmd: 'connack', returnCode, sessionPresent: false });
const connack5 = (reasonCode: number) => mqttPacket.generate({ cmd: 'connack', reasonCode, sessionPresent: false }, { protocolVersion: 5 });

function io(timeoutMs = 300, over: Partial<Io> = {}): Io & { transcript: TranscriptRecorder } {
  return { scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs, peer: 'broker', ...over } as Io & { transcript: TranscriptRecorder };
}

const packet = (version: 4 | 5 = 4) => connectFor(version, { username: 'admin', password: 'pw' });
const ep = (port: number) => ({ host: '127.0.0.1', port });

describe('mqttConnectAttempt', () => {
  it('CONNACK 0: accepted, then a DISCONNECT; the transcript has both directions in hex', async () => {
    const b = await broker((s) => s.write(connack4(0)));
    const p = packet();
    const t = io();
    const o = await mqttConnectAttempt(ep(b.port), 4, p, t, 'CONNECT admin');
    expect(o).toEqual({ kind: 'accepted', code: 0, meaning: 'connection accepted' });
    await b.closed;
    // what the broker got: exactly our CONNECT, then DISCONNECT
    expect(b.received[0]!.toString('hex')).toBe(`${p.toString('hex')}e000`);
    const e = t.transcript.entries();
    expect(e[0]).toMatchObject({ dir: 'sent', peer: 'broker', decoded: 'CONNECT admin', hex: p.toString('hex') });
    expect(e[1]).toMatchObject({ dir: 'received', hex: '20020000', decoded: '4 bytes' });
    expect(e[2]).toMatchObject({ dir: 'received', decoded: 'CONNACK code=0 (connection accepted)' });
  });

  it('CONNACK 5: refused with the code and its meaning', async () => {
    const b = await broker((s) => s.write(connack4(5)));
    expect(await mqttConnectAttempt(ep(b.port), 4, packet(), io())).toEqual({ kind: 'refused', code: 5, meaning: 'not authorized' });
  });

  it('MQTT 5 reason codes are read from the v5 CONNACK', async () => {
    const b = await broker((s) => s.write(connack5(0x86)));
    expect(await mqttConnectAttempt(ep(b.port), 5, packet(5), io())).toEqual({ kind: 'refused', code: 0x86, meaning: 'bad user name or password' });
  });

  it('an unknown return code is refused, and says so', async () => {
    const b = await broker((s) => s.write(Buffer.from([0x20, 0x02, 0x00, 0x2a])));
    expect(await mqttConnectAttempt(ep(b.port), 4, packet(), io())).toEqual({ kind: 'refused', code: 42, meaning: 'unknown code 0x2a' });
  });

  it('the broker closes without CONNACK: closed', async () => {
    const b = await broker((s) => s.end());
    const t = io();
    expect(await mqttConnectAttempt(ep(b.port), 4, packet(), t)).toEqual({ kind: 'closed' });
    expect(t.transcript.entries().at(-1)).toMatchObject({ dir: 'note', decoded: 'closed by peer without CONNACK' });
  });

  it('the broker resets the connection: closed', async () => {
    const b = await broker((s) => s.resetAndDestroy());
    expect(await mqttConnectAttempt(ep(b.port), 4, packet(), io())).toEqual({ kind: 'closed' });
  });

  it('the broker stays silent: timeout after io.timeoutMs', async () => {
    const b = await broker(() => undefined);
    const t = io(200);
    const started = Date.now();
    expect(await mqttConnectAttempt(ep(b.port), 4, packet(), t)).toEqual({ kind: 'timeout' });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(1000);
    expect(t.transcript.entries().at(-1)).toMatchObject({ dir: 'note', decoded: 'no CONNACK within 200ms' });
    // and it hung up
    await b.closed;
  });

  it('garbage back: malformed', async () => {
    const b = await broker((s) => s.write(Buffer.from([0x00, 0x00])));
    const t = io();
    const o = await mqttConnectAttempt(ep(b.port), 4, packet(), t);
    expect(o.kind).toBe('malformed');
    expect(t.transcript.entries().some((e) => e.dir === 'received' && e.decoded.startsWith('unparseable reply'))).toBe(true);
  });

  it('a well-formed packet that is not a CONNACK: malformed', async () => {
    const b = await broker((s) => s.write(mqttPacket.generate({ cmd: 'pingresp' })));
    expect(await mqttConnectAttempt(ep(b.port), 4, packet(), io())).toEqual({ kind: 'malformed', detail: 'pingresp instead of connack' });
  });

  it('a CONNACK split over two segments is still read', async () => {
    const b = await broker((s) => {
      s.write(Buffer.from([0x20]));
      setTimeout(() => s.write(Buffer.from([0x02, 0x00, 0x04])), 20);
    });
    expect(await mqttConnectAttempt(ep(b.port), 4, packet(), io())).toMatchObject({ kind: 'refused', code: 4 });
  });

  it('nothing listening: unreachable', async () => {
    const b = await broker(() => undefined);
    await new Promise<void>((r) => server!.close(() => r()));
    const t = io();
    expect(await mqttConnectAttempt(ep(b.port), 4, packet(), t)).toEqual({ kind: 'unreachable', error: 'ECONNREFUSED' });
    expect(t.transcript.entries().some((e) => e.dir === 'sent')).toBe(false);
  });

  it('asks the scope guard first, and its throw propagates before any connect', async () => {
    const b = await broker((s) => s.write(connack4(0)));
    const asked: [string, string][] = [];
    const scope = {
      assert(host: string, what: string) {
        asked.push([host, what]);
        throw new GauntletError('SCOPE_VIOLATION', `refusing ${host}`);
      },
    };
    await expect(mqttConnectAttempt(ep(b.port), 4, packet(), io(300, { scope }))).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
    expect(asked).toEqual([['127.0.0.1', 'mqtt broker']]);
    await new Promise((r) => setTimeout(r, 30));
    expect(b.connections).toBe(0);
  });

  it('the io signal cuts a silent attempt short', async () => {
    const b = await broker(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const started = Date.now();
    expect(await mqttConnectAttempt(ep(b.port), 4, packet(), io(5000, { signal: controller.signal }))).toEqual({ kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  // BUG harness/protocols/mqtt/connect-attempt.ts:66 — a listener added to an
  // already-aborted signal never fires: an attempt started after the run was
  // aborted connects anyway and waits the whole io.timeoutMs. Fix: return
  // { kind: 'timeout' } up front when io.signal?.aborted.
  it('an already-aborted signal ends the attempt at once', async () => {
    const b = await broker(() => undefined);
    const controller = new AbortController();
    controller.abort();
    const started = Date.now();
    expect(await mqttConnectAttempt(ep(b.port), 4, packet(), io(600, { signal: controller.signal }))).toEqual({ kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(300);
  });
});

describe('connectFor and describeCredential', () => {
  it('builds a CONNECT with a fresh gauntlet client id and the credential', () => {
    const a = mqttPacket.parser({ protocolVersion: 4 });
    const got: mqttPacket.IConnectPacket[] = [];
    a.on('packet', (p) => got.push(p as mqttPacket.IConnectPacket));
    a.parse(connectFor(4, { username: 'admin', password: new Uint8Array([1, 2]) }));
    a.parse(connectFor(4, {}));
    expect(got[0]!.clientId).toMatch(/^gauntlet-[a-z0-9]+$/);
    expect(got[0]!.username).toBe('admin');
    expect([...got[0]!.password!]).toEqual([1, 2]);
    expect(got[1]!.username).toBeUndefined();
    expect(got[1]!.clientId).not.toBe(got[0]!.clientId);
  });

  it('lets hostile fields override', () => {
    const b = connectFor(4, { username: 'admin' }, { usernameLengthDelta: 2 });
    expect(b.equals(encodeConnect({ version: 4, clientId: b.subarray(14, 14 + b.readUInt16BE(12)), username: Buffer.from('admin'), usernameLengthDelta: 2 }))).toBe(true);
  });

  it('describes a credential printably and bounded', () => {
    expect(describeCredential({})).toBe('user (none) password (none)');
    expect(describeCredential({ username: 'admin', password: '' })).toBe('user "admin" password ""');
    expect(describeCredential({ username: new Uint8Array([0x61, 0x00, 0x0a]) })).toBe('user "a\\\\x00\\\\x0a" password (none)');
    expect(describeCredential({ password: 'p'.repeat(30) })).toContain('…(+6)');
  });
});
