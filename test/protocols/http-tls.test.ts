// httpExchange and cutUpload over https: node:https and raw TLS servers on
// 127.0.0.1 port 0 with leaves from a test CA (core/certs.ts).

import type { AddressInfo, Server as TcpServer, Socket } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { issueLeaf, newCa, type Issued } from '../../harness/core/certs.js';
import { TranscriptRecorder } from '../../harness/core/transcript.js';
import type { HttpInterface } from '../../harness/model/index.js';
import type { Io } from '../../harness/protocols/common/io.js';
import { cutUpload } from '../../harness/protocols/http/cut-upload.js';
import { httpExchange } from '../../harness/protocols/http/exchange.js';

const HOST = '127.0.0.1';
const ca = newCa();
const leaf = issueLeaf(ca, { host: HOST });

const servers: (HttpsServer | TlsServer | TcpServer)[] = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function listen(server: HttpsServer | TlsServer | TcpServer): Promise<number> {
  server.on('connection', (s: Socket) => sockets.add(s));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, HOST, r));
  return (server.address() as AddressInfo).port;
}

/** An https server answering `200 <method> <url>`; records the SNI name of each request. */
async function https(cert: Issued = leaf): Promise<{ port: number; names: (string | false)[] }> {
  const names: (string | false)[] = [];
  const server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    names.push((req.socket as TLSSocket).servername ?? false);
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => res.end(`${req.method} ${req.url} ${body}`.trim()));
  });
  return { port: await listen(server), names };
}

const iface = (port: number, tls?: HttpInterface['tls']): HttpInterface => ({ id: 'web', role: 'server', protocol: 'https', host: HOST, port, probePath: '/', ...(tls ? { tls } : {}) });
const io = (timeoutMs = 2000): Io & { transcript: TranscriptRecorder } =>
  ({ scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs, peer: 'web' }) as Io & { transcript: TranscriptRecorder };

describe('httpExchange over https', () => {
  it('a request and its reply, with or without the CA (the certificate is never refused)', async () => {
    const s = await https();
    for (const tls of [{ caPem: ca.certPem }, undefined]) {
      const t = io();
      expect(await httpExchange(iface(s.port, tls), { method: 'POST', path: '/api?x=1', body: 'b' }, t)).toMatchObject({ kind: 'response', status: 200, body: 'POST /api?x=1 b' });
      expect(t.transcript.entries().map((e) => e.decoded)).toEqual(['POST /api?x=1 body "b"', '200 "POST /api?x=1 b"']);
    }
    expect(s.names).toEqual([false, false]);
  });

  it('tls.serverName is sent as SNI', async () => {
    const s = await https(issueLeaf(ca, { host: 'thermo.local' }));
    expect(await httpExchange(iface(s.port, { caPem: ca.certPem, serverName: 'thermo.local' }), { method: 'GET', path: '/' }, io())).toMatchObject({ kind: 'response', status: 200 });
    expect(s.names).toEqual(['thermo.local']);
  });

  it('a plain HTTP server on an https interface: unreachable, not a hang', async () => {
    const port = await listen(createTcpServer((c) => c.on('error', () => undefined).once('data', () => c.end('HTTP/1.1 400 Bad Request\r\n\r\n'))));
    const started = Date.now();
    const o = await httpExchange(iface(port), { method: 'GET', path: '/' }, io(5000));
    expect(Date.now() - started).toBeLessThan(1500);
    expect(o.kind).toBe('unreachable');
  });
});

describe('cutUpload over https', () => {
  /** A raw TLS server that keeps every byte of the request until the connection ends. */
  async function rawTls(): Promise<{ port: number; closed: Promise<Buffer> }> {
    let done!: (b: Buffer) => void;
    const closed = new Promise<Buffer>((r) => (done = r));
    const server = createTlsServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => {
      let got = Buffer.alloc(0);
      s.on('data', (c: Buffer) => (got = Buffer.concat([got, c])));
      s.on('error', () => undefined);
      s.on('close', () => done(got));
    });
    server.on('tlsClientError', () => undefined);
    return { port: await listen(server), closed };
  }

  it('announces the whole body, sends cutAt bytes over TLS, then the connection ends', async () => {
    const { port, closed } = await rawTls();
    const t = io();
    const o = await cutUpload(iface(port, { caPem: ca.certPem }), { method: 'POST', path: '/fw', body: Buffer.alloc(1000, 0x5a) }, 300, t);
    expect(o).toEqual({ kind: 'cut', sent: 300, of: 1000 });
    const got = await closed;
    const split = got.indexOf('\r\n\r\n');
    expect(got.subarray(0, split).toString('latin1')).toMatch(/^POST \/fw HTTP\/1\.1\r\n[\s\S]*content-length: 1000/i);
    expect(got.length - split - 4).toBe(300);
    expect(t.transcript.entries().map((e) => [e.dir, e.decoded])).toEqual([
      ['sent', 'POST /fw Content-Length: 1000, body cut after 300 bytes'],
      ['note', expect.stringMatching(/^TLS 1\.3 .*; verified$/)],
      ['note', 'connection destroyed by the harness after 300 of 1000 body bytes'],
    ]);
  });

  it('a plain server on an https interface: unreachable with the TLS error, not a cut', async () => {
    const port = await listen(createTcpServer((c) => c.on('error', () => undefined).once('data', () => c.destroy())));
    const t = io(5000);
    const o = await cutUpload(iface(port), { method: 'POST', path: '/fw', body: Buffer.alloc(10) }, 5, t);
    expect(o).toEqual({ kind: 'unreachable', error: expect.stringMatching(/^TLS handshake failed: ECONNRESET/) });
    expect(t.transcript.entries().at(-1)!.decoded).toMatch(/^request failed: TLS handshake failed: ECONNRESET/);
  });
});
