// httpLoad (harness/bench/load/http.ts) on real sockets: the reference
// device's https API (GET /api/health, the admin's POST /api/firmware), and
// small scripted servers on loopback for response framings the device does
// not use (chunked, Connection: close, delimited by close), early answers,
// garbage, silence, and to count the connections left open. Figures are
// never asserted, only that ops complete, errors are counted and every run
// returns in bounded time.

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { httpLoad } from '../../../harness/bench/load/http.js';
import { createScopeGuard } from '../../../harness/core/scope.js';
import { expectMeasured, explain, loadIo } from './support.js';
import type { LoadOptions } from '../../../harness/bench/load/types.js';
import { isGauntletError } from '../../../harness/core/errors.js';
import { targetFromObject } from '../../../harness/core/target-file.js';
import type { BenchPath, HttpInterface, PathResult } from '../../../harness/model/index.js';
import type { Io } from '../../../harness/protocols/common/io.js';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';

let device: RunningDevice;
let https: HttpInterface;
let adminToken: string;

beforeAll(async () => {
  device = await startReferenceDevice({ factoryFresh: false });
  const target = targetFromObject(device.targetFile(), 'http.test');
  https = target.interfaces.find((i): i is HttpInterface => i.id === 'https')!;
  adminToken = await login(device.credentials.admin.user, device.credentials.admin.pass);
});
afterAll(async () => {
  await device?.close();
});

/** POST /api/login on the device's https: the session token. */
function login(username: string, password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: https.host, port: https.port, path: '/api/login', method: 'POST', rejectUnauthorized: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        const token = (JSON.parse(text) as { token?: string }).token;
        if (token) resolve(token);
        else reject(new Error(`login refused: ${res.statusCode} ${text}`));
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify({ username, password }));
  });
}

const servers: Server[] = [];
const accepted: Socket[] = [];
afterEach(async () => {
  for (const s of accepted.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});


const io = (over: Partial<Io> = {}): Io => loadIo('https', 1500, over);

function opts(path: BenchPath, over: Partial<LoadOptions> = {}): LoadOptions {
  return { path, iface: https, io: io(), durationMs: 600, maxOps: 1_000_000, connections: 2, inFlight: 4, resource: '/api/health', ...over };
}


interface Local {
  readonly iface: HttpInterface;
  /** Connections open now (waits a moment for closes to arrive). */
  open(): Promise<number>;
}

async function listen(server: Server): Promise<Local> {
  servers.push(server);
  server.on('connection', (s: Socket) => {
    accepted.push(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    iface: { id: 'local', protocol: 'http', role: 'server', host: '127.0.0.1', port, probePath: '/' },
    open: async () => {
      for (let i = 0; ; i++) {
        const n = await new Promise<number>((r) => server.getConnections((_, c) => r(c)));
        if (n === 0 || i === 50) return n;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** A node:http server answering with `handle`. */
const httpServer = (handle: (req: IncomingMessage, res: ServerResponse) => void) => listen(createHttpServer(handle));
/** A raw TCP server: `onConnect` scripts the whole conversation. */
const rawServer = (onConnect: (s: Socket) => void) => listen(createServer(onConnect));

async function timed<T>(run: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  const value = await run;
  return { value, ms: Date.now() - t0 };
}

describe('httpLoad against the reference device (https)', () => {
  it('http.request: pipelined GETs on keep-alive TLS connections, op = a complete response', async () => {
    const progress: number[] = [];
    const r = await httpLoad(opts('http.request', { onProgress: (n) => progress.push(n) }));
    expectMeasured(r);
    expect(r.path).toBe('http.request');
    expect(r.interface).toBe('https');
    expect(r.settings).toMatchObject({ connections: 2, inFlight: 4, resource: '/api/health', durationMs: 600 });
    expect(r.notes.join('\n')).toMatch(/replies: 200 x \d+/);
    expect(r.notes.join('\n')).toMatch(/over TLS/);
    expect(progress.length).toBeGreaterThan(0);
  });

  it('http.request: a status >= 400 is an error naming it', async () => {
    const r = await httpLoad(opts('http.request', { resource: '/api/config', connections: 1 }));
    expect(r.ops).toBe(0);
    expect(r.errors, explain(r)).toBeGreaterThan(0);
    expect(r.errorDetail, explain(r)).toEqual(['https: HTTP 401 for GET /api/config']);
  });

  it('http.upload: firmware-sized POSTs with the admin session, any reply after the body counts', async () => {
    const r = await httpLoad(opts('http.upload', { resource: '/api/firmware', connections: 1, headers: { Authorization: `Bearer ${adminToken}` } }));
    expectMeasured(r);
    expect(r.settings.payloadBytes).toBe(256 * 1024);
    expect(r.bytesPerSec, explain(r)).toBeGreaterThan(0);
    // Random bytes are no firmware image: the device refuses them, which is still a reply.
    expect(r.notes.join('\n')).toMatch(/replies: 4\d\d x \d+/);
  });

  it('a host outside the scope is refused before any connect (SCOPE_VIOLATION)', async () => {
    const scope = createScopeGuard({ source: 'http.test', scope: { hosts: ['192.0.2.1'], allowNonLoopback: true } });
    for (const path of ['http.request', 'http.upload'] as const) {
      const e = await httpLoad(opts(path, { io: io({ scope }) })).catch((x: unknown) => x);
      expect(isGauntletError(e) && e.code, String(e)).toBe('SCOPE_VIOLATION');
    }
  });

  it('other paths, interfaces and header injections are programming errors', async () => {
    await expect(httpLoad(opts('mqtt.connect'))).rejects.toThrow(/no HTTP load for path mqtt.connect/);
    await expect(httpLoad(opts('http.request', { iface: { id: 'c', protocol: 'coap', role: 'server', host: '127.0.0.1', port: 1 } }))).rejects.toThrow(/not http/);
    await expect(httpLoad(opts('http.request', { headers: { 'X-A': 'b\r\nX-Injected: 1' } }))).rejects.toThrow(/CR, LF/);
  });
});

describe('httpLoad against scripted servers', () => {
  it('chunked replies, Connection: close replies and replies delimited by the close all count; every connection is closed', async () => {
    const chunked = await httpServer((_, res) => {
      res.write('o');
      res.end('k');
    });
    const closing = await httpServer((_, res) => {
      res.setHeader('Connection', 'close');
      res.end('ok');
    });
    const untilClose = await rawServer((s) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it')));
    for (const [server, note] of [
      [chunked, undefined],
      [closing, /connection\(s\) ended by a Connection: close reply and replaced/],
      [untilClose, /connection\(s\) ended by a Connection: close reply and replaced/],
    ] as const) {
      const r = await httpLoad(opts('http.request', { iface: server.iface, resource: '/', durationMs: 400, io: io({ peer: 'local' }) }));
      expectMeasured(r);
      if (note) expect(r.notes.join('\n')).toMatch(note);
      expect(await server.open()).toBe(0);
    }
  });

  it('an upload answered before its body was read is an error', async () => {
    // Answers as soon as the head is in and reads nothing more for a while (then drains, to see the close).
    const early = await rawServer((s) =>
      s.once('data', () => {
        s.pause();
        s.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
        setTimeout(() => s.resume(), 500);
      }),
    );
    const { value: r, ms } = await timed(httpLoad(opts('http.upload', { iface: early.iface, resource: '/up', connections: 1, payloadBytes: 32 * 1024 * 1024, durationMs: 300, io: io({ peer: 'local' }) })));
    expect(ms).toBeLessThan(3000);
    expect(r.ops).toBe(0);
    expect(r.errorDetail?.[0], explain(r)).toBe('local: answered before the body was sent (HTTP 401)');
    expect(r.notes.join('\n')).toMatch(/replies: 401 x \d+/);
    expect(await early.open()).toBe(0);
  });

  it('garbage, silence and hang-ups: bounded, errors counted', async () => {
    const garbage = await rawServer((s) => s.on('data', () => s.write('SSH-2.0-OpenSSH_9.2\r\n\r\n')));
    const silent = await rawServer((s) => s.resume());
    const rude = await rawServer((s) => s.on('data', () => s.destroy()));
    for (const [server, why] of [
      [garbage, /not an HTTP\/1.x response: "SSH-2.0/],
      [silent, /no response within 400 ms \(4 outstanding\)/],
      [rude, /connection (closed|reset) by peer/],
    ] as const) {
      const { value: r, ms } = await timed(httpLoad(opts('http.request', { iface: server.iface, resource: '/', durationMs: 700, io: io({ timeoutMs: 400, peer: 'local' }) })));
      expect(ms, explain(r)).toBeLessThan(2500);
      expect(r.ops).toBe(0);
      expect(r.errors, explain(r)).toBeGreaterThan(0);
      expect(r.errorDetail?.[0], explain(r)).toMatch(why);
      expect(await server.open()).toBe(0);
    }
    // Nothing listening: skipped, with the connect errors counted.
    const gone = await rawServer(() => undefined);
    const port = gone.iface.port;
    await new Promise((r) => servers.pop()!.close(r));
    const r = await httpLoad(opts('http.request', { iface: { ...gone.iface, port }, io: io({ timeoutMs: 400, peer: 'local' }) }));
    expect(r.skipped, explain(r)).toBe('no connection with local: cannot connect: ECONNREFUSED');
    expect(r.errors).toBe(2);
  });

  it('an abort ends the measured phase early and still returns what completed', async () => {
    const ok = await httpServer((_, res) => res.end('ok'));
    for (const path of ['http.request', 'http.upload'] as const) {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 600);
      const { value: r, ms } = await timed(httpLoad(opts(path, { iface: ok.iface, resource: '/', durationMs: 20_000, payloadBytes: 1024, io: io({ signal: ac.signal, peer: 'local' }) })));
      expect(ms).toBeLessThan(3000);
      expect(r.ops, explain(r)).toBeGreaterThan(0);
      expect(r.elapsedMs).toBeLessThan(2000);
      expect(r.notes.join('\n')).toMatch(/aborted/);
      expect(await ok.open()).toBe(0);
    }
  });
});
