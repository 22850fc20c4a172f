// connectStream and tlsHandshake against real servers on 127.0.0.1 port 0:
// TLS servers with leaves from a test CA (core/certs.ts), plain TCP servers
// that do not speak TLS, and TLS 1.0/1.1 servers (OpenSSL 3 needs
// @SECLEVEL=0 on both ends for those).

import { X509Certificate } from 'node:crypto';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TlsOptions, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { issueLeaf, newCa, selfSigned } from '../../harness/core/certs.js';
import { GauntletError } from '../../harness/core/errors.js';
import { TranscriptRecorder } from '../../harness/core/transcript.js';
import type { Io } from '../../harness/protocols/common/io.js';
import { connectStream, describeTls, signatureAlgorithm, tlsHandshake, versionLabel, type StreamEndpoint } from '../../harness/protocols/common/stream.js';

const HOST = '127.0.0.1';
const ca = newCa();
const otherCa = newCa('Some other CA', 'ca-other');
const leaf = issueLeaf(ca, { host: HOST });

const servers: (TcpServer | TlsServer)[] = [];
const sockets = new Set<Socket>();

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

interface Listening {
  readonly port: number;
  /** TCP connections accepted so far. */
  connections(): number;
  /** SNI names the TLS server saw (false: none sent). */
  readonly names: (string | false)[];
}

/** A TLS server that echoes what it gets. */
async function tlsServer(opts: TlsOptions = {}, cert = leaf): Promise<Listening> {
  let n = 0;
  const names: (string | false)[] = [];
  const server = createTlsServer({ cert: cert.certPem, key: cert.keyPem, ...opts }, (s: TLSSocket) => {
    names.push(s.servername ?? false);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => s.write(d));
  });
  server.on('connection', (s: Socket) => {
    n++;
    sockets.add(s);
  });
  server.on('tlsClientError', () => undefined);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, HOST, r));
  return { port: (server.address() as AddressInfo).port, connections: () => n, names };
}

/** A TCP server that does not speak TLS: `onData` decides what it does with the ClientHello. */
async function plainServer(onData: (s: Socket, chunk: Buffer) => void = () => undefined): Promise<Listening> {
  let n = 0;
  const server = createTcpServer((s) => {
    n++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('data', (d: Buffer) => onData(s, d));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, HOST, r));
  return { port: (server.address() as AddressInfo).port, connections: () => n, names: [] };
}

async function closedPort(): Promise<number> {
  const s = await plainServer();
  await new Promise<void>((r) => servers.pop()!.close(() => r()));
  return s.port;
}

function io(timeoutMs = 1000, over: Partial<Io> = {}): Io & { transcript: TranscriptRecorder } {
  return { scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs, peer: 'dev', ...over } as Io & { transcript: TranscriptRecorder };
}

const mqtts = (port: number, tls?: StreamEndpoint['tls']): StreamEndpoint => ({ host: HOST, port, protocol: 'mqtts', ...(tls ? { tls } : {}) });

/** The server side of a handshake may finish after the client's. */
async function until(cond: () => boolean, ms = 1000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 5));
}

async function echo(socket: Socket, text: string): Promise<string> {
  const got = new Promise<string>((r) => socket.once('data', (d: Buffer) => r(d.toString())));
  socket.write(text);
  return got;
}

describe('connectStream over plain TCP', () => {
  it('connects a net.Socket and records nothing (plain transcripts stay as they were)', async () => {
    const s = await plainServer((sock, d) => sock.write(d));
    const t = io();
    const o = await connectStream({ host: HOST, port: s.port, protocol: 'mqtt' }, t, 'mqtt dev');
    expect(o.kind).toBe('connected');
    if (o.kind !== 'connected') return;
    expect(o.tls).toBeUndefined();
    expect('encrypted' in o.socket).toBe(false);
    expect(await echo(o.socket, 'ping')).toBe('ping');
    o.socket.destroy();
    expect(t.transcript.entries()).toEqual([]);
  });

  it('nothing listening: unreachable with the socket error code', async () => {
    const port = await closedPort();
    expect(await connectStream({ host: HOST, port, protocol: 'http' }, io(), 'http dev')).toEqual({ kind: 'unreachable', error: 'ECONNREFUSED' });
    expect(await connectStream(mqtts(port), io(), 'mqtt dev')).toEqual({ kind: 'unreachable', error: 'ECONNREFUSED' });
  });
});

describe('connectStream over TLS (mqtts, https)', () => {
  it('with the right CA: verified, the facts recorded, a TLSSocket that carries data', async () => {
    const s = await tlsServer();
    const t = io();
    const o = await connectStream(mqtts(s.port, { caPem: ca.certPem }), t, 'mqtt dev');
    expect(o.kind).toBe('connected');
    if (o.kind !== 'connected') return;
    expect((o.socket as TLSSocket).encrypted).toBe(true);
    expect(await echo(o.socket, 'over tls')).toBe('over tls');
    o.socket.destroy();
    const x = new X509Certificate(leaf.certPem);
    expect(o.tls).toEqual({
      protocol: 'TLSv1.3',
      cipher: expect.stringMatching(/^TLS_AES_\d+_GCM_SHA\d+$|^TLS_CHACHA20/),
      authorized: true,
      peer: {
        subject: 'CN=127.0.0.1, O=Gauntlet test',
        issuer: 'CN=Gauntlet test CA, O=Gauntlet test',
        validFrom: new Date(x.validFrom).toISOString(),
        validTo: new Date(x.validTo).toISOString(),
        altNames: ['IP Address:127.0.0.1'],
        keyBits: 2048,
        keyType: 'rsa',
        sigAlg: 'sha256WithRSAEncryption',
        fingerprint256: x.fingerprint256,
      },
    });
    expect(t.transcript.entries().map((e) => [e.dir, e.peer, e.decoded])).toEqual([
      ['note', 'dev', `TLS 1.3 ${o.tls!.cipher}; certificate CN=127.0.0.1 issued by CN=Gauntlet test CA; verified`],
    ]);
    // No SNI for an IP [RFC6066 3].
    await until(() => s.names.length === 1);
    expect(s.names).toEqual([false]);
  });

  it('without a CA, with another CA, self-signed: still connected, not verified, and why', async () => {
    const s = await tlsServer();
    for (const [tls, why] of [
      [undefined, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
      [{ caPem: otherCa.certPem }, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ] as const) {
      const t = io();
      const o = await connectStream(mqtts(s.port, tls), t, 'mqtt dev');
      expect(o.kind).toBe('connected');
      if (o.kind !== 'connected') continue;
      expect(o.tls).toMatchObject({ authorized: false, authorizationError: why });
      expect(await echo(o.socket, 'still talking')).toBe('still talking');
      o.socket.destroy();
      expect(t.transcript.entries()[0]!.decoded).toMatch(new RegExp(`; not verified: ${why}$`));
    }
    const self = await tlsServer({}, selfSigned({ host: HOST }));
    const o = await connectStream(mqtts(self.port, { caPem: ca.certPem }), io(), 'mqtt dev');
    expect(o.kind === 'connected' && o.tls).toMatchObject({ authorized: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    if (o.kind === 'connected') o.socket.destroy();
  });

  it('tls.serverName is sent as SNI and is the name verified; without it the IP is, and the name check fails', async () => {
    const named = issueLeaf(ca, { host: 'thermo.local' });
    const s = await tlsServer({}, named);
    const good = await connectStream(mqtts(s.port, { caPem: ca.certPem, serverName: 'thermo.local' }), io(), 'mqtt dev');
    expect(good.kind === 'connected' && good.tls).toMatchObject({ authorized: true, peer: { altNames: ['DNS:thermo.local'] } });
    const bad = await connectStream(mqtts(s.port, { caPem: ca.certPem }), io(), 'mqtt dev');
    expect(bad.kind === 'connected' && bad.tls).toMatchObject({ authorized: false, authorizationError: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    for (const o of [good, bad]) {
      if (o.kind !== 'connected') continue;
      expect(await echo(o.socket, 'hi')).toBe('hi');
      o.socket.destroy();
    }
    await until(() => s.names.length === 2);
    expect(s.names).toEqual(['thermo.local', false]);
  });

  it('https is TLS too', async () => {
    const s = await tlsServer();
    const o = await connectStream({ host: HOST, port: s.port, protocol: 'https', tls: { caPem: ca.certPem } }, io(), 'http dev');
    expect(o.kind === 'connected' && o.tls?.authorized).toBe(true);
    if (o.kind === 'connected') o.socket.destroy();
  });

  it('a plain TCP server that hangs up on the ClientHello: a clear TLS error at once, not a hang', async () => {
    const s = await plainServer((sock) => sock.destroy());
    const started = Date.now();
    const o = await connectStream(mqtts(s.port), io(5000), 'mqtt dev');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(o).toEqual({ kind: 'unreachable', error: expect.stringMatching(/^TLS handshake failed: ECONNRESET .*\(is the port speaking TLS\?\)$/) });
  });

  it('a plain server that answers something else: the TLS error names it', async () => {
    const s = await plainServer((sock) => sock.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n'));
    const o = await connectStream(mqtts(s.port), io(5000), 'mqtt dev');
    expect(o).toEqual({ kind: 'unreachable', error: expect.stringMatching(/^TLS handshake failed: ERR_SSL_(WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG) .*\(is the port speaking TLS\?\)$/) });
  });

  it('a plain server that sends too few bytes for a TLS record (an MQTT CONNACK): bounded by io.timeoutMs, with a note', async () => {
    const s = await plainServer((sock) => sock.write(Buffer.from([0x20, 0x02, 0x00, 0x00])));
    const t = io(300);
    const started = Date.now();
    expect(await connectStream(mqtts(s.port), t, 'mqtt dev')).toEqual({ kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(t.transcript.entries().at(-1)).toMatchObject({ dir: 'note', decoded: 'TCP connected, but no TLS handshake within 300ms (is the port speaking TLS?)' });
  });

  it('the signal ends a handshake that does not come: timeout, no note', async () => {
    const s = await plainServer();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const t = io(5000, { signal: controller.signal });
    const started = Date.now();
    expect(await connectStream(mqtts(s.port), t, 'mqtt dev')).toEqual({ kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(t.transcript.entries()).toEqual([]);
  });

  it('asks the scope guard before any socket; its throw propagates', async () => {
    const s = await tlsServer();
    const asked: [string, string][] = [];
    const scope = {
      assert(host: string, what: string) {
        asked.push([host, what]);
        throw new GauntletError('SCOPE_VIOLATION', `refusing ${host}`);
      },
    };
    await expect(connectStream(mqtts(s.port), io(300, { scope }), 'mqtt dev')).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
    await expect(tlsHandshake({ host: HOST, port: s.port }, io(300, { scope }))).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
    expect(asked).toEqual([
      [HOST, 'mqtt dev'],
      [HOST, 'tls dev'],
    ]);
    await new Promise((r) => setTimeout(r, 30));
    expect(s.connections()).toBe(0);
  });

  it('an already-aborted signal: timeout, no socket', async () => {
    const s = await tlsServer();
    const controller = new AbortController();
    controller.abort();
    expect(await connectStream(mqtts(s.port), io(300, { signal: controller.signal }), 'mqtt dev')).toEqual({ kind: 'timeout' });
    await new Promise((r) => setTimeout(r, 30));
    expect(s.connections()).toBe(0);
  });
});

describe('tlsHandshake', () => {
  const LEGACY: TlsOptions = { minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' };

  it('default offer against a default server: TLS 1.3, recorded as sent and received', async () => {
    const s = await tlsServer();
    const t = io();
    const o = await tlsHandshake({ host: HOST, port: s.port, tls: { caPem: ca.certPem } }, t);
    expect(o).toMatchObject({ kind: 'ok', facts: { protocol: 'TLSv1.3', authorized: true } });
    expect(t.transcript.entries().map((e) => [e.dir, e.decoded])).toEqual([
      ['sent', 'TLS ClientHello offering default to TLS 1.3'],
      ['received', expect.stringMatching(/^handshake completed: TLS 1\.3 TLS_\w+; certificate CN=127\.0\.0\.1 issued by CN=Gauntlet test CA; verified$/)],
    ]);
  });

  it('a TLS 1.2-only server refuses a TLS 1.1 offer (protocol_version alert)', async () => {
    const s = await tlsServer({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    const t = io();
    const o = await tlsHandshake({ host: HOST, port: s.port }, t, { maxVersion: 'TLSv1.1' });
    expect(o).toEqual({ kind: 'refused', error: expect.stringMatching(/^ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION \(tlsv1 alert protocol version\)$/) });
    expect(t.transcript.entries().map((e) => [e.dir, e.decoded])).toEqual([
      ['sent', 'TLS ClientHello offering TLS 1.0 to TLS 1.1, ciphers DEFAULT:@SECLEVEL=0'],
      ['received', expect.stringMatching(/^handshake refused: ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION/)],
    ]);
  });

  it('a server with TLS 1.0 enabled (and @SECLEVEL=0) accepts TLS 1.1 alone and TLS 1.0 alone', async () => {
    const s = await tlsServer(LEGACY);
    expect(await tlsHandshake({ host: HOST, port: s.port }, io(), { maxVersion: 'TLSv1.1' })).toMatchObject({ kind: 'ok', facts: { protocol: 'TLSv1.1' } });
    const v10 = await tlsHandshake({ host: HOST, port: s.port }, io(), { minVersion: 'TLSv1', maxVersion: 'TLSv1' });
    expect(v10).toMatchObject({ kind: 'ok', facts: { protocol: 'TLSv1', cipher: expect.stringMatching(/^TLS_/) } });
    // One suite alone, named as OpenSSL names it; the facts give its IANA name.
    const rsa = await tlsHandshake({ host: HOST, port: s.port }, io(), { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'AES128-SHA' });
    expect(rsa).toMatchObject({ kind: 'ok', facts: { protocol: 'TLSv1.1', cipher: 'TLS_RSA_WITH_AES_128_CBC_SHA' } });
    expect(versionLabel('TLSv1')).toBe('TLS 1.0');
  });

  it('a server that allows TLS 1.0 but keeps OpenSSL 3 security level 1 cannot complete it (it cannot sign with SHA-1)', async () => {
    const s = await tlsServer({ minVersion: 'TLSv1' });
    const o = await tlsHandshake({ host: HOST, port: s.port }, io(), { maxVersion: 'TLSv1.1' });
    expect(o).toEqual({ kind: 'refused', error: expect.stringMatching(/^ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR/) });
  });

  it('one TLS 1.2 suite alone, and a suite the server does not have (handshake_failure)', async () => {
    const s = await tlsServer();
    expect(await tlsHandshake({ host: HOST, port: s.port }, io(), { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' })).toMatchObject({
      kind: 'ok',
      facts: { protocol: 'TLSv1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA' },
    });
    const t = await tlsServer({ ciphers: 'ECDHE-RSA-AES256-GCM-SHA384', maxVersion: 'TLSv1.2' });
    expect(await tlsHandshake({ host: HOST, port: t.port }, io(), { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' })).toEqual({
      kind: 'refused',
      error: expect.stringMatching(/^ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE/),
    });
  });

  it('what this OpenSSL cannot offer is unsupported, before any socket (SSLv3, a cipher string matching nothing)', async () => {
    const s = await tlsServer(LEGACY);
    const t = io();
    expect(await tlsHandshake({ host: HOST, port: s.port }, t, { minVersion: 'SSLv3' as never, maxVersion: 'SSLv3' as never })).toEqual({
      kind: 'unsupported',
      error: expect.stringMatching(/^ERR_TLS_INVALID_PROTOCOL_VERSION: /),
    });
    expect(await tlsHandshake({ host: HOST, port: s.port }, t, { ciphers: 'NO-SUCH-SUITE' })).toEqual({ kind: 'unsupported', error: expect.stringMatching(/^ERR_SSL_NO_CIPHER_MATCH: /) });
    expect(t.transcript.entries().every((e) => e.dir === 'note' && e.decoded.includes('this Node/OpenSSL cannot offer it'))).toBe(true);
    await new Promise((r) => setTimeout(r, 30));
    expect(s.connections()).toBe(0);
  });

  it('a TLS 1.3-only suite with TLS 1.2 at most offers nothing: unsupported, not a refusal', async () => {
    const s = await tlsServer();
    expect(await tlsHandshake({ host: HOST, port: s.port }, io(), { maxVersion: 'TLSv1.2', ciphers: 'TLS_AES_128_GCM_SHA256' })).toEqual({
      kind: 'unsupported',
      error: expect.stringMatching(/^ERR_SSL_NO_CIPHERS_AVAILABLE/),
    });
  });

  it('unreachable, not TLS, silent', async () => {
    expect(await tlsHandshake({ host: HOST, port: await closedPort() }, io())).toEqual({ kind: 'unreachable', error: 'ECONNREFUSED' });
    const hangUp = await plainServer((sock) => sock.destroy());
    expect(await tlsHandshake({ host: HOST, port: hangUp.port }, io())).toEqual({ kind: 'refused', error: expect.stringMatching(/^ECONNRESET .*is the port speaking TLS/) });
    const silent = await plainServer();
    const t = io(200);
    expect(await tlsHandshake({ host: HOST, port: silent.port }, t)).toEqual({ kind: 'timeout' });
    expect(t.transcript.entries().at(-1)!.decoded).toBe('no TLS handshake within 200ms (is the port speaking TLS?)');
  });
});

describe('describeTls, signatureAlgorithm', () => {
  it('reads the signature algorithm from the DER, and gives up on anything else', () => {
    expect(signatureAlgorithm(new X509Certificate(leaf.certPem).raw)).toBe('sha256WithRSAEncryption');
    expect(signatureAlgorithm(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]))).toBeUndefined();
    expect(signatureAlgorithm(Buffer.alloc(0))).toBeUndefined();
  });

  it('one line: version, suite, certificate, verification; device text is bounded and printable', () => {
    expect(describeTls({ protocol: 'TLSv1.2', cipher: 'TLS_PSK_WITH_AES_128_CCM_8', authorized: false, authorizationError: 'X' })).toBe('TLS 1.2 TLS_PSK_WITH_AES_128_CCM_8; no certificate; not verified: X');
    const peer = { subject: `O=a, CN=${'x'.repeat(100)}\u0001`, issuer: 'O=only', validFrom: '', validTo: '', altNames: [], fingerprint256: '' };
    const line = describeTls({ protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', authorized: true, peer });
    expect(line).toMatch(/^TLS 1\.3 TLS_AES_128_GCM_SHA256; certificate CN=x+…\(\+\d+\) issued by O=only; verified$/);
  });
});
