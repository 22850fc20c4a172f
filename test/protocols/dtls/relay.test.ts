// The DTLS relay between one client and a device: forwarding and recording
// both ways (plain UDP, then a real DTLS session through it), a resend that
// reaches the device from the session's own address and port, strangers
// dropped, the scope guard, and the address family of the device's host.
// Real sockets on port 0; everything closed in afterEach.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { GauntletError } from '../../../harness/core/errors.js';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import type { Io } from '../../../harness/protocols/common/io.js';
import { openDtlsChannel } from '../../../harness/protocols/dtls/client.js';
import { ContentType, parseRecords } from '../../../harness/protocols/dtls/codec.js';
import { startDtlsRelay, type DtlsRelay } from '../../../harness/protocols/dtls/relay.js';
import { startDtlsServer, SUITES } from '../../../targets/reference-device/dtls/server.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const io = (over: Partial<Io> = {}): Io & { transcript: TranscriptRecorder } =>
  ({ scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs: 1000, peer: 'coaps', ...over }) as Io & { transcript: TranscriptRecorder };

/** A UDP "device" that answers `re:<datagram>` and remembers who sent what. */
async function echoDevice(host = '127.0.0.1'): Promise<{ port: number; seen: { from: RemoteInfo; msg: Buffer }[] }> {
  const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const seen: { from: RemoteInfo; msg: Buffer }[] = [];
  sock.on('message', (msg, from) => {
    seen.push({ from, msg });
    sock.send(Buffer.concat([Buffer.from('re:'), msg]), from.port, from.address);
  });
  await new Promise<void>((r) => sock.bind(0, host, r));
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  return { port: sock.address().port, seen };
}

async function relayTo(port: number, t = io(), host = '127.0.0.1'): Promise<DtlsRelay> {
  const relay = await startDtlsRelay({ host, port }, t);
  cleanups.push(() => relay.close());
  return relay;
}

async function client(host = '127.0.0.1'): Promise<Socket & { next(): Promise<Buffer> }> {
  const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const inbox: Buffer[] = [];
  const waiting: ((b: Buffer) => void)[] = [];
  sock.on('message', (m) => {
    const w = waiting.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  await new Promise<void>((r) => sock.bind(0, host, r));
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  return Object.assign(sock, {
    next: () => {
      const b = inbox.shift();
      return b ? Promise.resolve(b) : new Promise<Buffer>((r) => waiting.push(r));
    },
  });
}

const until = async (cond: () => boolean, ms = 1000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
};

describe('startDtlsRelay', () => {
  it('forwards both ways and records each datagram, in order, in the transcript too', async () => {
    const dev = await echoDevice();
    const t = io();
    const relay = await relayTo(dev.port, t);
    expect(relay.endpoint.host).toBe('127.0.0.1');
    const c = await client();
    c.send(Buffer.from('hello'), relay.endpoint.port, relay.endpoint.host);
    expect((await c.next()).toString()).toBe('re:hello');
    const ds = relay.datagrams();
    expect(ds.map((d) => [d.n, d.dir, d.bytes.toString()])).toEqual([
      [0, 'to-device', 'hello'],
      [1, 'to-client', 're:hello'],
    ]);
    expect(t.transcript.entries().map((e) => e.dir)).toEqual(['sent', 'received']);
    expect(t.transcript.entries()[0]!.hex).toBe(Buffer.from('hello').toString('hex'));
  });

  it('resends a recorded datagram from the same address and port the client session used', async () => {
    const dev = await echoDevice();
    const relay = await relayTo(dev.port);
    const c = await client();
    const answers: string[] = [];
    relay.onDeviceDatagram((d) => answers.push(d.bytes.toString()));
    c.send(Buffer.from('cmd'), relay.endpoint.port, relay.endpoint.host);
    await c.next();
    const captured = relay.datagrams()[0]!;
    await relay.resend(captured.bytes, 'copy 1');
    await until(() => dev.seen.length === 2);
    expect(dev.seen.map((s) => s.msg.toString())).toEqual(['cmd', 'cmd']);
    expect(dev.seen[1]!.from.port).toBe(dev.seen[0]!.from.port);
    await until(() => answers.length === 2);
    expect(answers).toEqual(['re:cmd', 're:cmd']);
    const last = relay.datagrams().filter((d) => d.dir === 'to-device').at(-1)!;
    expect(last.resent).toBe(true);
    // The device's answer to the copy also goes on to the client.
    expect((await c.next()).toString()).toBe('re:cmd');
  });

  it('serves one client: datagrams from another address are dropped and noted', async () => {
    const dev = await echoDevice();
    const t = io();
    const relay = await relayTo(dev.port, t);
    const a = await client();
    const b = await client();
    a.send(Buffer.from('a'), relay.endpoint.port, relay.endpoint.host);
    await a.next();
    b.send(Buffer.from('b'), relay.endpoint.port, relay.endpoint.host);
    await until(() => t.transcript.entries().some((e) => /not its client/.test(e.decoded)));
    expect(dev.seen.map((s) => s.msg.toString())).toEqual(['a']);
  });

  it('carries a DTLS session; the request is one epoch-1 application_data datagram that the codec finds', async () => {
    const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const server = await startDtlsServer({
      host: '127.0.0.1',
      port: 0,
      pskFor: (id) => (id === 'dev' ? key : undefined),
      suites: [SUITES.TLS_PSK_WITH_AES_128_CCM_8],
      cookies: true,
      replayWindow: true,
      crashOnBadFragment: false,
      log: () => {},
      onData: (peer, data) => peer.send(Buffer.concat([Buffer.from('echo:'), data])),
    });
    cleanups.push(() => server.close());
    const t = io();
    const relay = await relayTo(server.port, t);
    const o = await openDtlsChannel(relay.endpoint, { identity: 'dev', key }, relay.clientIo(t));
    expect(o.kind).toBe('open');
    if (o.kind !== 'open') return;
    cleanups.push(() => o.channel.close());
    const mark = relay.datagrams().length;
    const got = new Promise<string>((r) => o.channel.onMessage((m) => r(m.toString())));
    o.channel.send(Buffer.from('ping'));
    expect(await got).toBe('echo:ping');
    const app = relay
      .datagrams()
      .slice(mark)
      .filter((d) => parseRecords(d.bytes).records.some((r) => r.type === ContentType.application_data && r.epoch === 1));
    expect(app.map((d) => d.dir)).toEqual(['to-device', 'to-client']);
    // The handshake went through the relay too: ClientHello first.
    expect(relay.datagrams()[0]!.dir).toBe('to-device');
    expect(t.transcript.entries()[0]!.decoded).toMatch(/ClientHello/);
  });

  it('asks the scope guard before any socket, and again before each resend', async () => {
    const deny = { assert: (host: string, what: string) => { throw new GauntletError('SCOPE_VIOLATION', `${what}: ${host}`); } };
    await expect(startDtlsRelay({ host: '127.0.0.1', port: 9 }, io({ scope: deny }))).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
    const dev = await echoDevice();
    let allow = true;
    const relay = await relayTo(dev.port, io({ scope: { assert: (h, w) => { if (!allow) deny.assert(h, w); } } }));
    allow = false;
    await expect(relay.resend(Buffer.from('x'))).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
    expect(dev.seen).toHaveLength(0);
  });

  it("clientIo lets a client reach the relay's own address and nothing else the target's guard refuses", async () => {
    const dev = await echoDevice();
    const calls: string[] = [];
    const outer = io({ scope: { assert: (h) => { calls.push(h); if (h !== '127.0.0.1') throw new GauntletError('SCOPE_VIOLATION', h); } } });
    const relay = await relayTo(dev.port, outer);
    calls.length = 0;
    const cio = relay.clientIo(io({ scope: { assert: (h) => { calls.push(h); throw new GauntletError('SCOPE_VIOLATION', h); } } }));
    expect(() => cio.scope.assert('127.0.0.1', 'dtls')).not.toThrow();
    expect(() => cio.scope.assert('10.0.0.1', 'dtls')).toThrow(GauntletError);
    expect(calls).toEqual(['10.0.0.1']);
  });

  it('listens in the address family of the device host (IPv6 when the device is on ::1)', async (t) => {
    let dev: Awaited<ReturnType<typeof echoDevice>>;
    try {
      dev = await echoDevice('::1');
    } catch {
      t.skip(); // no IPv6 loopback on this machine
      return;
    }
    const relay = await relayTo(dev.port, io(), '::1');
    expect(relay.endpoint.host).toBe('::1');
    const c = await client('::1');
    c.send(Buffer.from('six'), relay.endpoint.port, relay.endpoint.host);
    expect((await c.next()).toString()).toBe('re:six');
  });

  it('close() is idempotent and stops forwarding', async () => {
    const dev = await echoDevice();
    const relay = await relayTo(dev.port);
    await relay.close();
    await relay.close();
    await relay.resend(Buffer.from('late'));
    await new Promise((r) => setTimeout(r, 50));
    expect(dev.seen).toHaveLength(0);
  });
});
