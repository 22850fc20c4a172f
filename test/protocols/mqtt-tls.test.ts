// The MQTT clients over mqtts: an aedes broker behind tls.createServer on
// 127.0.0.1 port 0, with a leaf from a test CA (core/certs.ts). The same
// CONNACK codes as over plain TCP; the TLS facts in the transcript; a plain
// broker on an mqtts interface is a clear error, not a hang.

import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Aedes, type AuthenticateError } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { anonymousSysRead } from '../../harness/checks/access/unauthenticated-disclosure.js';
import { issueLeaf, newCa } from '../../harness/core/certs.js';
import { GauntletError } from '../../harness/core/errors.js';
import { TranscriptRecorder } from '../../harness/core/transcript.js';
import type { MqttInterface } from '../../harness/model/index.js';
import type { Io } from '../../harness/protocols/common/io.js';
import { connectFor, mqttConnectAttempt } from '../../harness/protocols/mqtt/connect-attempt.js';
import { MqttSession } from '../../harness/protocols/mqtt/session.js';

const HOST = '127.0.0.1';
const ca = newCa();
const leaf = issueLeaf(ca, { host: HOST });

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** aedes: admin/pw accepted, a wrong password 4, no user name 5 (or accepted with `anonymous`). */
async function broker(over: 'tls' | 'tcp', opts: { anonymous?: boolean } = {}): Promise<{ port: number; connections: () => number }> {
  const aedes = await Aedes.createBroker({
    authenticate(_client, username, password, done) {
      if (username === undefined || username === '') {
        if (opts.anonymous) return done(null, true);
        return done(Object.assign(new Error('not authorized'), { returnCode: 5 }) as AuthenticateError, null);
      }
      if (username === 'admin' && password?.toString() === 'pw') return done(null, true);
      return done(Object.assign(new Error('bad user name or password'), { returnCode: 4 }) as AuthenticateError, null);
    },
  });
  let n = 0;
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    n++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  let server: TlsServer | TcpServer;
  if (over === 'tls') {
    server = createTlsServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => aedes.handle(s));
    server.on('tlsClientError', () => undefined);
  } else {
    server = createTcpServer((s) => aedes.handle(s));
  }
  server.on('connection', track);
  await new Promise<void>((r) => server.listen(0, HOST, r));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => aedes.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as AddressInfo).port, connections: () => n };
}

const iface = (port: number, tls?: MqttInterface['tls']): MqttInterface => ({ id: 'broker', role: 'server', protocol: 'mqtts', host: HOST, port, version: 4, ...(tls ? { tls } : {}) });

function io(timeoutMs = 2000, over: Partial<Io> = {}): Io & { transcript: TranscriptRecorder } {
  return { scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs, peer: 'broker', ...over } as Io & { transcript: TranscriptRecorder };
}

describe('mqttConnectAttempt over mqtts', () => {
  it('accepted, refused 4, refused 5: the CONNACK codes as over plain TCP', async () => {
    const b = await broker('tls');
    const ep = iface(b.port, { caPem: ca.certPem });
    expect(await mqttConnectAttempt(ep, 4, connectFor(4, { username: 'admin', password: 'pw' }), io())).toEqual({ kind: 'accepted', code: 0, meaning: 'connection accepted' });
    expect(await mqttConnectAttempt(ep, 4, connectFor(4, { username: 'admin', password: 'nope' }), io())).toEqual({ kind: 'refused', code: 4, meaning: 'bad user name or password' });
    expect(await mqttConnectAttempt(ep, 4, connectFor(4, {}), io())).toEqual({ kind: 'refused', code: 5, meaning: 'not authorized' });
  });

  it('the transcript: the TLS facts first, then the CONNECT and CONNACK as over plain TCP', async () => {
    const b = await broker('tls');
    const packet = connectFor(4, { username: 'admin', password: 'pw' });
    const t = io();
    await mqttConnectAttempt(iface(b.port, { caPem: ca.certPem }), 4, packet, t, 'CONNECT admin');
    const e = t.transcript.entries();
    expect(e[0]).toMatchObject({ dir: 'note', peer: 'broker', decoded: expect.stringMatching(/^TLS 1\.3 TLS_\w+; certificate CN=127\.0\.0\.1 issued by CN=Gauntlet test CA; verified$/) });
    expect(e[1]).toMatchObject({ dir: 'sent', decoded: 'CONNECT admin', hex: packet.toString('hex') });
    expect(e[2]).toMatchObject({ dir: 'received', hex: '20020000', decoded: '4 bytes' });
    expect(e[3]).toMatchObject({ dir: 'received', decoded: 'CONNACK code=0 (connection accepted)' });
  });

  it('without the CA: connected all the same, and the note says why it is not verified', async () => {
    const b = await broker('tls');
    const t = io();
    expect(await mqttConnectAttempt(iface(b.port), 4, connectFor(4, { username: 'admin', password: 'pw' }), t)).toMatchObject({ kind: 'accepted' });
    expect(t.transcript.entries()[0]!.decoded).toMatch(/; not verified: UNABLE_TO_VERIFY_LEAF_SIGNATURE$/);
  });

  it('a plain broker on an mqtts interface: unreachable with the TLS error, at once', async () => {
    const b = await broker('tcp');
    const t = io(5000);
    const started = Date.now();
    const o = await mqttConnectAttempt(iface(b.port), 4, connectFor(4, {}), t);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(o).toEqual({ kind: 'unreachable', error: expect.stringMatching(/^TLS handshake failed: .*is the port speaking TLS\?\)$/) });
    expect(t.transcript.entries().map((e) => e.decoded)).toEqual([`cannot connect: ${o.kind === 'unreachable' ? o.error : ''}`]);
  });

  it('asks the scope guard once, before any socket', async () => {
    const b = await broker('tls');
    const asked: string[] = [];
    const scope = {
      assert(host: string, what: string) {
        asked.push(`${host} ${what}`);
        throw new GauntletError('SCOPE_VIOLATION', `refusing ${host}`);
      },
    };
    await expect(mqttConnectAttempt(iface(b.port), 4, connectFor(4, {}), io(300, { scope }))).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
    await expect(MqttSession.open(iface(b.port), 4, { clientId: 'x' }, io(300, { scope }), 'x')).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
    expect(asked).toEqual(['127.0.0.1 mqtt broker', '127.0.0.1 mqtt broker']);
    await new Promise((r) => setTimeout(r, 30));
    expect(b.connections()).toBe(0);
  });
});

describe('MqttSession over mqtts', () => {
  it('connects, subscribes, publishes and receives; keeps the TLS facts', async () => {
    const b = await broker('tls');
    const t = io();
    const opened = await MqttSession.open(iface(b.port, { caPem: ca.certPem }), 4, { clientId: 'gauntlet-tls', username: 'admin', password: 'pw' }, t, 'admin');
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    const s = opened.session;
    try {
      expect(s.tls).toMatchObject({ protocol: 'TLSv1.3', authorized: true, peer: { subject: 'CN=127.0.0.1, O=Gauntlet test' } });
      expect(await s.subscribe('a/#')).toBe(0);
      await s.publish('a/b', Buffer.from('hello'));
      expect(await s.waitFor((d) => d.topic === 'a/b', 1000)).toMatchObject({ topic: 'a/b', payload: Buffer.from('hello') });
    } finally {
      s.close();
    }
    expect(t.transcript.entries().map((e) => e.decoded).slice(0, 3)).toEqual([
      expect.stringMatching(/^TLS 1\.3 .*; verified$/),
      'admin: CONNECT user admin',
      'admin: CONNACK 0 (connection accepted)',
    ]);
  });

  it('a refused CONNECT is a result with the code', async () => {
    const b = await broker('tls');
    expect(await MqttSession.open(iface(b.port), 4, { clientId: 'x', username: 'admin', password: 'nope' }, io(), 'admin')).toEqual({ ok: false, detail: 'CONNACK 4 (bad user name or password)' });
  });

  it('a plain broker on an mqtts interface: a clear failure, not a hang', async () => {
    const b = await broker('tcp');
    const started = Date.now();
    const o = await MqttSession.open(iface(b.port), 4, { clientId: 'x' }, io(5000), 'anon');
    expect(Date.now() - started).toBeLessThan(1500);
    expect(o).toEqual({ ok: false, detail: expect.stringMatching(/^cannot connect: TLS handshake failed: /) });
  });
});

describe('anonymousSysRead (access.unauthenticated-disclosure) over mqtts', () => {
  it('an anonymous CONNECT accepted over TLS, then SUBSCRIBE $SYS/#', async () => {
    const b = await broker('tls', { anonymous: true });
    const t = io(1000);
    const o = await anonymousSysRead(iface(b.port, { caPem: ca.certPem }), t, 100);
    expect(o).toMatchObject({ kind: 'accepted', granted: [0] });
    expect(t.transcript.entries().map((e) => e.decoded).slice(0, 3)).toEqual([
      expect.stringMatching(/^TLS 1\.3 .*; verified$/),
      'CONNECT without user name or password',
      'CONNACK code=0 (connection accepted)',
    ]);
  });

  it('refused anonymously over TLS; a plain broker on mqtts is silent with the TLS error', async () => {
    const b = await broker('tls');
    expect(await anonymousSysRead(iface(b.port), io(1000), 100)).toEqual({ kind: 'refused', detail: 'CONNACK 5 (not authorized)' });
    const plain = await broker('tcp');
    expect(await anonymousSysRead(iface(plain.port), io(1000), 100)).toEqual({ kind: 'silent', detail: expect.stringMatching(/^connection TLS handshake failed: /) });
  });
});
