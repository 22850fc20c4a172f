// The reference device's hand-written DTLS 1.2 PSK server, against two
// independent clients (node-dtls-client and OpenSSL's s_client) and against
// raw datagrams built here: the stateless cookie round, suite and version
// choice, replay window, retransmission, fragment reassembly, the three DTLS
// flaws (no cookie, no replay window, crash on a bad fragment) and hostile
// input. 127.0.0.1 only, port 0 everywhere, every wait bounded.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import fc from 'fast-check';
import { dtls } from 'node-dtls-client';
import { afterEach, describe, expect, it } from 'vitest';
import { which } from '../../../targets/interop/which.js';
import {
  SUITES,
  dtlsSessionCount,
  startDtlsServer,
  type DtlsServerOptions,
  type RunningDtls,
} from '../../../targets/reference-device/dtls/server.js';

const HOST = '127.0.0.1';
const IDENTITY = 'device-identity-0001';
const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const V12 = 0xfefd;
const V10 = 0xfeff;
const HS = 22;
const ALERT = 21;
const CCS = 20;
const APP = 23;

// ---------------------------------------------------------------------------
// cleanup: everything a test opens is closed in afterEach

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      // best effort
    }
  }
});

/** Resolves when `cond` holds, polling; false after `ms`. */
async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------
// the server under test: an echo device

interface Device {
  readonly server: RunningDtls;
  readonly port: number;
  readonly logs: string[];
  readonly received: string[];
}

async function startEcho(overrides: Partial<DtlsServerOptions> = {}): Promise<Device> {
  const logs: string[] = [];
  const received: string[] = [];
  const server = await startDtlsServer({
    host: HOST,
    port: 0,
    pskFor: (id) => (id === IDENTITY ? KEY : undefined),
    suites: Object.values(SUITES),
    cookies: true,
    replayWindow: true,
    crashOnBadFragment: false,
    log: (line) => logs.push(line),
    onData: (peer, data) => {
      received.push(data.toString());
      peer.send(data);
    },
    ...overrides,
  });
  cleanups.push(() => server.close());
  return { server, port: server.port, logs, received };
}

// ---------------------------------------------------------------------------
// client 1: node-dtls-client

type CipherName = NonNullable<dtls.Options['ciphers']>[number];

interface ConnectOptions {
  identity?: string;
  key?: Buffer;
  cipher?: CipherName;
  timeout?: number;
}

/** A connected node-dtls-client socket; rejects with the client's error (alert, timeout). */
function dtlsConnect(port: number, o: ConnectOptions = {}): Promise<dtls.Socket> {
  return new Promise((resolve, reject) => {
    let closed = false;
    const socket = dtls.createSocket({
      type: 'udp4',
      address: HOST,
      port,
      psk: { [o.identity ?? IDENTITY]: o.key ?? KEY },
      timeout: o.timeout ?? 3000,
      ciphers: [o.cipher ?? 'TLS_PSK_WITH_AES_128_CCM_8'],
    });
    socket.on('close', () => (closed = true));
    socket.on('error', (e: Error) => {
      closed = true;
      reject(e);
    });
    socket.on('connected', () => resolve(socket));
    cleanups.push(() => {
      if (!closed) socket.close();
    });
  });
}

/** Sends `text` and waits (bounded) for the echo. */
function echo(socket: dtls.Socket, text: string, ms = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      reject(new Error(`no echo of ${JSON.stringify(text)} within ${ms} ms`));
    }, ms);
    const onMessage = (msg: Buffer) => {
      if (msg.toString() !== text) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(msg.toString());
    };
    socket.on('message', onMessage);
    socket.send(Buffer.from(text));
  });
}

// ---------------------------------------------------------------------------
// client 2: openssl s_client

const OPENSSL = which('/usr/bin/openssl') ?? which('openssl');
if (OPENSSL === null) {
  console.warn(`\n${'!'.repeat(78)}\n!!  openssl NOT FOUND: the DTLS interop tests with s_client are SKIPPED\n${'!'.repeat(78)}\n`);
}

/** Runs s_client, writes one line, resolves with its stdout once the echo is there. */
function opensslEcho(openssl: string, port: number, cipher: string, line: string, ms = 8000): Promise<string> {
  return new Promise((resolve, reject) => {
    const args = ['s_client', '-dtls1_2', '-psk_identity', IDENTITY, '-psk', KEY.toString('hex'), '-cipher', `${cipher}:@SECLEVEL=0`, '-connect', `${HOST}:${port}`, '-quiet'];
    const child: ChildProcess = spawn(openssl, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    cleanups.push(() => child.kill('SIGKILL'));
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`s_client: no echo within ${ms} ms; stderr: ${err}`)), ms);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(line)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.stdin?.write(`${line}\n`);
  });
}

// ---------------------------------------------------------------------------
// raw datagrams

interface Rec {
  readonly type: number;
  readonly version: number;
  readonly epoch: number;
  readonly seq: number;
  readonly fragment: Buffer;
}

function record(type: number, epoch: number, seq: number, fragment: Buffer, version = V12): Buffer {
  const h = Buffer.alloc(13);
  h.writeUInt8(type, 0);
  h.writeUInt16BE(version, 1);
  h.writeUInt16BE(epoch, 3);
  h.writeUIntBE(seq, 5, 6);
  h.writeUInt16BE(fragment.length, 11);
  return Buffer.concat([h, fragment]);
}

function records(datagram: Buffer): Rec[] {
  const out: Rec[] = [];
  for (let at = 0; at + 13 <= datagram.length; ) {
    const length = datagram.readUInt16BE(at + 11);
    out.push({
      type: datagram.readUInt8(at),
      version: datagram.readUInt16BE(at + 1),
      epoch: datagram.readUInt16BE(at + 3),
      seq: datagram.readUIntBE(at + 5, 6),
      fragment: datagram.subarray(at + 13, at + 13 + length),
    });
    at += 13 + length;
  }
  return out;
}

/** A handshake fragment; `length`, `offset`, `fragmentLength` may lie. */
function handshake(type: number, seq: number, body: Buffer, o: { length?: number; offset?: number; fragmentLength?: number } = {}): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt8(type, 0);
  h.writeUIntBE(o.length ?? body.length, 1, 3);
  h.writeUInt16BE(seq, 4);
  h.writeUIntBE(o.offset ?? 0, 6, 3);
  h.writeUIntBE(o.fragmentLength ?? body.length, 9, 3);
  return Buffer.concat([h, body]);
}

interface HelloOptions {
  version?: number;
  random?: Buffer;
  cookie?: Buffer;
  suites?: readonly number[];
}

function clientHelloBody(o: HelloOptions = {}): Buffer {
  const suites = o.suites ?? [SUITES.TLS_PSK_WITH_AES_128_CCM_8];
  const cookie = o.cookie ?? Buffer.alloc(0);
  const suiteBytes = Buffer.alloc(2 + 2 * suites.length);
  suiteBytes.writeUInt16BE(2 * suites.length, 0);
  suites.forEach((s, i) => suiteBytes.writeUInt16BE(s, 2 + 2 * i));
  const version = Buffer.alloc(2);
  version.writeUInt16BE(o.version ?? V12, 0);
  return Buffer.concat([
    version,
    o.random ?? Buffer.alloc(32, 7),
    Buffer.from([0]), // session_id
    Buffer.from([cookie.length]),
    cookie,
    suiteBytes,
    Buffer.from([1, 0]), // compression: null
    Buffer.from([0, 0]), // empty extensions block
  ]);
}

function clientHello(recordSeq: number, messageSeq: number, o: HelloOptions = {}, recordVersion = V12): Buffer {
  return record(HS, 0, recordSeq, handshake(1, messageSeq, clientHelloBody(o)), recordVersion);
}

/** A bare UDP peer: send datagrams, read the next one with a bound. */
class RawPeer {
  private readonly queue: Buffer[] = [];
  private waiter: ((d: Buffer | undefined) => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('message', (msg) => {
      const w = this.waiter;
      this.waiter = undefined;
      if (w !== undefined) w(msg);
      else this.queue.push(msg);
    });
  }

  static async open(): Promise<RawPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, HOST, () => resolve()));
    cleanups.push(() => socket.close());
    return new RawPeer(socket);
  }

  send(datagram: Buffer, port: number): void {
    this.socket.send(datagram, port, HOST);
  }

  /** The next datagram, or undefined after `ms`. */
  next(ms = 1000): Promise<Buffer | undefined> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, ms);
      this.waiter = (d) => {
        clearTimeout(timer);
        resolve(d);
      };
    });
  }
}

/** The cookie of a HelloVerifyRequest datagram, or undefined if it is none. */
function hvrCookie(datagram: Buffer | undefined): Buffer | undefined {
  const r = datagram === undefined ? undefined : records(datagram)[0];
  if (r === undefined || r.type !== HS || r.fragment[0] !== 3) return undefined;
  const body = r.fragment.subarray(12);
  return body.subarray(3, 3 + (body[2] ?? 0));
}

/** Handshake message types in a datagram's plaintext handshake records. */
function handshakeTypes(datagram: Buffer | undefined): number[] {
  if (datagram === undefined) return [];
  return records(datagram)
    .filter((r) => r.type === HS && r.epoch === 0)
    .map((r) => r.fragment[0] ?? -1);
}

/** Cookie round: ClientHello, HelloVerifyRequest, ClientHello with cookie; the answer to the latter. */
async function cookieRound(peer: RawPeer, port: number, o: HelloOptions = {}, recordVersion = V12): Promise<Buffer | undefined> {
  peer.send(clientHello(0, 0, o, recordVersion), port);
  const cookie = hvrCookie(await peer.next());
  if (cookie === undefined) throw new Error('no HelloVerifyRequest');
  peer.send(clientHello(1, 1, { ...o, cookie }, recordVersion), port);
  return peer.next();
}

/** [level, description] of the first alert record in a datagram. */
function alertOf(datagram: Buffer | undefined): [number, number] | undefined {
  const r = datagram === undefined ? undefined : records(datagram).find((x) => x.type === ALERT && x.epoch === 0);
  return r === undefined ? undefined : [r.fragment[0] ?? -1, r.fragment[1] ?? -1];
}

// ---------------------------------------------------------------------------
// a UDP relay between a client and the server, to watch, drop, rewrite and replay

interface RelayHooks {
  /** Datagrams to forward instead of `d` (client to server); default [d]. */
  fromClient?(d: Buffer): Buffer[];
  /** Datagrams to forward instead of `d` (server to client); default [d]. */
  fromServer?(d: Buffer): Buffer[];
}

interface Relay {
  readonly port: number;
  /** Sends a datagram to the server from the relay's upstream address (the "client" the server sees). */
  inject(d: Buffer): void;
}

async function startRelay(serverPort: number, hooks: RelayHooks = {}): Promise<Relay> {
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  await new Promise<void>((resolve) => front.bind(0, HOST, () => resolve()));
  await new Promise<void>((resolve) => back.bind(0, HOST, () => resolve()));
  cleanups.push(() => front.close());
  cleanups.push(() => back.close());
  let client: { address: string; port: number } | undefined;
  front.on('message', (msg, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    for (const d of hooks.fromClient?.(msg) ?? [msg]) back.send(d, serverPort, HOST);
  });
  back.on('message', (msg) => {
    if (client === undefined) return;
    for (const d of hooks.fromServer?.(msg) ?? [msg]) front.send(d, client.port, client.address);
  });
  return { port: front.address().port, inject: (d) => back.send(d, serverPort, HOST) };
}

// ===========================================================================

describe('reference device DTLS server: interop with node-dtls-client', () => {
  // node-dtls-client offers CCM_8, GCM and CBC_SHA of the four (it has no TLS_PSK_WITH_NULL_SHA256).
  it.each(['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_GCM_SHA256', 'TLS_PSK_WITH_AES_128_CBC_SHA'] as const)('echoes over %s', async (cipher) => {
    const dev = await startEcho();
    const socket = await dtlsConnect(dev.port, { cipher });
    expect(await echo(socket, `hello over ${cipher}`)).toBe(`hello over ${cipher}`);
    expect(await echo(socket, 'x'.repeat(1000))).toBe('x'.repeat(1000));
    expect(dev.logs).toContainEqual(expect.stringMatching(new RegExp(`handshake completed: peer 127\\.0\\.0\\.1:\\d+ identity "${IDENTITY}" suite ${cipher}`)));
    expect(dtlsSessionCount(dev.server)).toBe(1);
  });

  it('sends a ServerKeyExchange with the identity hint when one is set', async () => {
    const dev = await startEcho({ hint: 'rd1-hint' });
    const socket = await dtlsConnect(dev.port);
    expect(await echo(socket, 'hinted')).toBe('hinted');
    const peer = await RawPeer.open();
    expect(handshakeTypes(await cookieRound(peer, dev.port))).toEqual([2, 12, 14]);
  });

  it('ends the session on close_notify and answers with close_notify', async () => {
    const dev = await startEcho();
    const fromServer: Rec[] = [];
    const relay = await startRelay(dev.port, { fromServer: (d) => (fromServer.push(...records(d)), [d]) });
    const socket = await dtlsConnect(relay.port);
    await echo(socket, 'bye soon');
    socket.close();
    expect(await waitFor(() => dtlsSessionCount(dev.server) === 0, 2000)).toBe(true);
    expect(await waitFor(() => fromServer.some((r) => r.type === ALERT && r.epoch === 1), 2000)).toBe(true);
    expect(dev.logs).toContainEqual(expect.stringContaining('close_notify'));
  });

  it('refuses an unknown identity with unknown_psk_identity and a wrong key with decrypt_error', async () => {
    const dev = await startEcho();
    await expect(dtlsConnect(dev.port, { identity: 'nobody' })).rejects.toThrow(/unknown_psk_identity/);
    await expect(dtlsConnect(dev.port, { key: Buffer.alloc(16, 1) })).rejects.toThrow(/decrypt_error/);
    expect(dev.logs).toContainEqual(expect.stringContaining('identity "nobody" suite TLS_PSK_WITH_AES_128_CCM_8: unknown PSK identity'));
    expect(dev.logs).toContainEqual(expect.stringMatching(/handshake failed: .*identity "device-identity-0001".*does not authenticate/));
    expect(dtlsSessionCount(dev.server)).toBe(0);
  });

  it('never selects a suite that is not enabled: handshake_failure', async () => {
    const dev = await startEcho({ suites: [SUITES.TLS_PSK_WITH_AES_128_CCM_8] });
    await expect(dtlsConnect(dev.port, { cipher: 'TLS_PSK_WITH_AES_128_GCM_SHA256' })).rejects.toThrow(/handshake_failure/);
    expect(dev.logs).toContainEqual(expect.stringContaining('no common cipher suite'));
  });

  it('serves a client that restarts from the same address and port with a new handshake', async () => {
    const dev = await startEcho();
    let dropAlerts = false;
    const relay = await startRelay(dev.port, {
      // The first client vanishes without a close_notify (as a rebooting client would).
      fromClient: (d) => (dropAlerts && records(d).some((r) => r.type === ALERT) ? [] : [d]),
    });
    const first = await dtlsConnect(relay.port);
    await echo(first, 'before restart');
    dropAlerts = true;
    first.close();
    await sleep(50);
    dropAlerts = false;
    const second = await dtlsConnect(relay.port);
    expect(await echo(second, 'after restart')).toBe('after restart');
    expect(dev.logs.filter((l) => l.includes('handshake completed'))).toHaveLength(2);
    expect(dtlsSessionCount(dev.server)).toBe(1);
  });
});

describe('reference device DTLS server: interop with openssl s_client', () => {
  const run = OPENSSL === null ? it.skip : it;
  const openssl = OPENSSL ?? 'openssl';
  run.each([
    ['PSK-AES128-CCM8', 'TLS_PSK_WITH_AES_128_CCM_8'],
    ['PSK-AES128-GCM-SHA256', 'TLS_PSK_WITH_AES_128_GCM_SHA256'],
    ['PSK-AES128-CBC-SHA', 'TLS_PSK_WITH_AES_128_CBC_SHA'],
    ['PSK-NULL-SHA256', 'TLS_PSK_WITH_NULL_SHA256'],
  ] as const)('echoes over %s (%s)', async (cipher, suite) => {
    const dev = await startEcho({ hint: 'rd1' });
    const out = await opensslEcho(openssl, dev.port, cipher, `ping over ${cipher}`);
    expect(out).toContain(`ping over ${cipher}`);
    expect(dev.received).toEqual([`ping over ${cipher}\n`]);
    // OpenSSL asks for the extended master secret (RFC 7627); the server grants it.
    expect(dev.logs).toContainEqual(expect.stringContaining(`suite ${suite} (extended master secret)`));
  });
  run('also works without the cookie round (dtls-no-cookie)', async () => {
    const dev = await startEcho({ cookies: false });
    expect(await opensslEcho(openssl, dev.port, 'PSK-AES128-CCM8', 'no cookie')).toContain('no cookie');
  });
});

describe('reference device DTLS server: cookie exchange', () => {
  it('answers a cookieless ClientHello with a HelloVerifyRequest and keeps no state until the cookie returns', async () => {
    const dev = await startEcho();
    const peer = await RawPeer.open();
    peer.send(clientHello(7, 0), dev.port);
    const hvr = await peer.next();
    expect(hvr).toBeDefined();
    const [r] = records(hvr ?? Buffer.alloc(0));
    // RFC 6347 4.2.1: the HelloVerifyRequest reuses the ClientHello's record sequence number.
    expect(r).toMatchObject({ type: HS, epoch: 0, seq: 7 });
    const cookie = hvrCookie(hvr);
    expect(cookie?.length).toBeGreaterThan(0);
    // Many cookieless ClientHellos from many ports: all answered, none remembered.
    const others = await Promise.all(Array.from({ length: 5 }, () => RawPeer.open()));
    for (let i = 0; i < 40; i++) others[i % others.length]?.send(clientHello(i, 0, { random: randomBytes(32) }), dev.port);
    for (const o of others) for (let i = 0; i < 8; i++) expect(hvrCookie(await o.next())).toBeDefined();
    expect(dtlsSessionCount(dev.server)).toBe(0);
    // The cookie is bound to the address and port, and to the ClientHello.
    others[0]?.send(clientHello(1, 1, { cookie }), dev.port);
    expect(hvrCookie(await others[0]?.next())).toBeDefined();
    peer.send(clientHello(8, 1, { cookie, random: Buffer.alloc(32, 9) }), dev.port);
    expect(hvrCookie(await peer.next())).toBeDefined();
    expect(dtlsSessionCount(dev.server)).toBe(0);
    // The genuine second ClientHello starts the handshake: ServerHello with message_seq 1.
    peer.send(clientHello(9, 1, { cookie }), dev.port);
    const flight = await peer.next();
    expect(handshakeTypes(flight)).toEqual([2, 14]);
    expect(records(flight ?? Buffer.alloc(0))[0]?.fragment.readUInt16BE(4)).toBe(1);
    expect(dtlsSessionCount(dev.server)).toBe(1);
  });

  it('with cookies off (dtls-no-cookie) answers a cookieless ClientHello with a ServerHello directly', async () => {
    const dev = await startEcho({ cookies: false });
    const peer = await RawPeer.open();
    peer.send(clientHello(0, 0), dev.port);
    expect(handshakeTypes(await peer.next())).toEqual([2, 14]);
    expect(dtlsSessionCount(dev.server)).toBe(1);
    // (node-dtls-client cannot finish such a handshake: it leaves a cookieless ClientHello out of
    // its transcript. s_client can; see the openssl suite.)
  });

  it('picks the first suite of its own list that the client offers', async () => {
    const dev = await startEcho({ suites: [SUITES.TLS_PSK_WITH_AES_128_GCM_SHA256, SUITES.TLS_PSK_WITH_AES_128_CCM_8] });
    const peer = await RawPeer.open();
    const flight = await cookieRound(peer, dev.port, { suites: [SUITES.TLS_PSK_WITH_AES_128_CCM_8, SUITES.TLS_PSK_WITH_AES_128_GCM_SHA256] });
    const serverHello = records(flight ?? Buffer.alloc(0))[0]?.fragment.subarray(12);
    expect(serverHello?.readUInt16BE(2 + 32 + 1)).toBe(SUITES.TLS_PSK_WITH_AES_128_GCM_SHA256);
  });

  it('answers a ClientHello offering only disabled suites with handshake_failure', async () => {
    const dev = await startEcho({ suites: [SUITES.TLS_PSK_WITH_AES_128_CCM_8] });
    const peer = await RawPeer.open();
    expect(alertOf(await cookieRound(peer, dev.port, { suites: [SUITES.TLS_PSK_WITH_AES_128_CBC_SHA, SUITES.TLS_PSK_WITH_NULL_SHA256] }))).toEqual([2, 40]);
    expect(dtlsSessionCount(dev.server)).toBe(0);
  });

  it('refuses a DTLS 1.0 ClientHello with protocol_version', async () => {
    const dev = await startEcho();
    const peer = await RawPeer.open();
    expect(alertOf(await cookieRound(peer, dev.port, { version: V10 }, V10))).toEqual([2, 70]);
    expect(dtlsSessionCount(dev.server)).toBe(0);
    expect(dev.logs).toContainEqual(expect.stringContaining('client offers version 0xfeff, not DTLS 1.2'));
    // A TLS 1.2 version number is no DTLS version either.
    expect(alertOf(await cookieRound(peer, dev.port, { version: 0x0303 }))).toEqual([2, 70]);
  });
});

describe('reference device DTLS server: replay window', () => {
  it.each([
    [true, ['first', 'barrier']],
    [false, ['first', 'first', 'barrier']],
  ] as const)('replayWindow %s: the application receives %j when a record is resent', async (replayWindow, expected) => {
    const dev = await startEcho({ replayWindow });
    const appDatagrams: Buffer[] = [];
    const relay = await startRelay(dev.port, {
      fromClient: (d) => {
        if (records(d).some((r) => r.type === APP)) appDatagrams.push(Buffer.from(d));
        return [d];
      },
    });
    const socket = await dtlsConnect(relay.port);
    await echo(socket, 'first');
    const captured = appDatagrams.at(-1);
    expect(captured).toBeDefined();
    relay.inject(captured ?? Buffer.alloc(0));
    // The barrier travels the same path after the replay, so once it is echoed the replay was handled.
    await echo(socket, 'barrier');
    expect(dev.received).toEqual(expected);
  });
});

describe('reference device DTLS server: retransmission and reassembly', () => {
  it('retransmits its flight on a timer when the first one is lost', async () => {
    const dev = await startEcho();
    let dropped = 0;
    const relay = await startRelay(dev.port, {
      fromServer: (d) => (dropped === 0 && handshakeTypes(d).includes(2) ? (dropped++, []) : [d]),
    });
    const started = Date.now();
    const socket = await dtlsConnect(relay.port, { timeout: 4000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(dropped).toBe(1);
    expect(await echo(socket, 'after retransmission')).toBe('after retransmission');
  });

  it('retransmits its final flight when the client resends its own', async () => {
    const dev = await startEcho();
    let clientFinal: Buffer | undefined;
    let dropped = 0;
    const relay = await startRelay(dev.port, {
      fromClient: (d) => {
        if (handshakeTypes(d).includes(16)) clientFinal = Buffer.from(d);
        return [d];
      },
      fromServer: (d) => {
        if (dropped === 0 && records(d).some((r) => r.type === CCS)) {
          dropped++;
          // As a retransmitting client would: the same flight under new epoch-0 record numbers.
          const again = records(clientFinal ?? Buffer.alloc(0)).map((r) => record(r.type, r.epoch, r.epoch === 0 ? r.seq + 100 : r.seq, r.fragment, r.version));
          setTimeout(() => relay.inject(Buffer.concat(again)), 50);
          return [];
        }
        return [d];
      },
    });
    const socket = await dtlsConnect(relay.port);
    expect(dropped).toBe(1);
    expect(await echo(socket, 'after final flight retransmission')).toBe('after final flight retransmission');
  });

  it('reassembles a ClientKeyExchange sent as overlapping fragments out of order', async () => {
    const dev = await startEcho();
    let rewritten = false;
    const relay = await startRelay(dev.port, {
      fromClient: (d) => {
        const recs = records(d);
        const cke = recs.find((r) => r.type === HS && r.epoch === 0 && r.fragment[0] === 16);
        if (cke === undefined) return [d];
        rewritten = true;
        const body = cke.fragment.subarray(12);
        const seq = cke.fragment.readUInt16BE(4);
        const n = body.length; // 2 + identity length
        const part = (from: number, to: number, recordSeq: number) =>
          record(HS, 0, recordSeq, handshake(16, seq, body.subarray(from, to), { length: n, offset: from }));
        const pieces = [part(14, n, cke.seq), part(0, 8, cke.seq + 1), part(6, 16, cke.seq + 2)];
        // The records after it (ChangeCipherSpec, Finished) move up in epoch 0 as a fragmenting client would number them.
        const rest = Buffer.concat(recs.filter((r) => r !== cke).map((r) => record(r.type, r.epoch, r.epoch === 0 ? r.seq + 2 : r.seq, r.fragment, r.version)));
        return [...pieces, rest];
      },
    });
    const socket = await dtlsConnect(relay.port);
    expect(rewritten).toBe(true);
    expect(await echo(socket, 'reassembled')).toBe('reassembled');
  });
});

/** Three inconsistent handshake fragments, each sent to a fresh server. */
const BAD_FRAGMENTS: readonly (readonly [string, (peer: RawPeer, port: number) => Promise<void>])[] = [
  [
    'fragment_offset + fragment_length > length',
    async (peer, port) => peer.send(record(HS, 0, 0, handshake(1, 0, Buffer.alloc(20, 1), { length: 10, offset: 5 })), port),
  ],
  [
    'fragment_length longer than the record',
    async (peer, port) => peer.send(record(HS, 0, 0, handshake(1, 0, Buffer.alloc(20, 1), { length: 400, fragmentLength: 300 })), port),
  ],
  [
    'two fragments of one message disagreeing on its length',
    async (peer, port) => {
      const cookie = hvrCookie((peer.send(clientHello(0, 0), port), await peer.next()));
      peer.send(clientHello(1, 1, { cookie }), port);
      await peer.next();
      peer.send(record(HS, 0, 2, handshake(16, 2, Buffer.alloc(4, 1), { length: 30 })), port);
      peer.send(record(HS, 0, 3, handshake(16, 2, Buffer.alloc(4, 1), { length: 40, offset: 4 })), port);
    },
  ],
];

describe('reference device DTLS server: bad fragments (dtls-crash-fragment)', () => {
  it.each(BAD_FRAGMENTS)('crashOnBadFragment true: %s kills the service', async (_name, send) => {
    const dev = await startEcho({ crashOnBadFragment: true });
    const peer = await RawPeer.open();
    await send(peer, dev.port);
    expect(await waitFor(() => dev.logs.some((l) => l.includes('dtls service crashed')), 2000)).toBe(true);
    // Nothing answers any more: no HelloVerifyRequest, no handshake.
    peer.send(clientHello(10, 0), dev.port);
    expect(await peer.next(300)).toBeUndefined();
    await expect(dtlsConnect(dev.port, { timeout: 800 })).rejects.toThrow(/timed out/);
    await dev.server.close(); // still idempotent after the crash
  });

  it.each(BAD_FRAGMENTS)('crashOnBadFragment false: %s is dropped and the server keeps serving', async (_name, send) => {
    const dev = await startEcho({ crashOnBadFragment: false });
    const peer = await RawPeer.open();
    await send(peer, dev.port);
    const socket = await dtlsConnect(dev.port);
    expect(await echo(socket, 'still here')).toBe('still here');
    expect(dev.logs.join('\n')).not.toMatch(/crashed|internal error/);
  });
});

describe('reference device DTLS server: hostile input', () => {
  it('survives garbage, truncated and lying records (seeded) and still completes handshakes', async () => {
    const dev = await startEcho({ maxSessions: 8 });
    const hello = clientHello(0, 0);
    const byte = fc.integer({ min: 0, max: 255 });
    const datagram = fc.oneof(
      fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a)),
      // a valid ClientHello, cut short or with bytes changed
      fc.tuple(fc.nat({ max: hello.length }), fc.array(fc.tuple(fc.nat({ max: hello.length - 1 }), byte), { maxLength: 6 })).map(([cut, flips]) => {
        const d = Buffer.from(hello);
        for (const [at, v] of flips) d[at] = v;
        return d.subarray(0, cut);
      }),
      // record headers with any type, version, epoch and a length that may lie
      fc.record({ type: fc.constantFrom(20, 21, 22, 23, 0, 255), version: fc.constantFrom(V12, V10, 0x0303, 0), epoch: fc.constantFrom(0, 1, 2, 0xffff), seq: fc.nat(), body: fc.uint8Array({ maxLength: 300 }), lie: fc.integer({ min: -20, max: 20 }) }).map((r) => {
        const d = record(r.type, r.epoch, r.seq, Buffer.from(r.body), r.version);
        d.writeUInt16BE(Math.max(0, Math.min(0xffff, r.body.length + r.lie)), 11);
        return d;
      }),
      // handshake fragments with huge or lying lengths
      fc.record({ type: byte, seq: fc.nat({ max: 5 }), length: fc.constantFrom(0, 12, 0xffffff, 20_000), offset: fc.nat({ max: 0xffffff }), body: fc.uint8Array({ maxLength: 200 }) }).map((h) =>
        record(HS, 0, 1, handshake(h.type, h.seq, Buffer.from(h.body), { length: h.length, offset: h.offset % (h.length + 1), fragmentLength: Math.min(h.body.length, h.length) })),
      ),
    );
    const samples = fc.sample(datagram, { seed: 20240607, numRuns: 400 });
    const peers = await Promise.all(Array.from({ length: 4 }, () => RawPeer.open()));
    for (const [i, d] of samples.entries()) {
      peers[i % peers.length]?.send(d, dev.port);
      if (i % 50 === 49) await sleep(5);
    }
    // Also garbage of epoch 1 inside an established session: silently discarded.
    const relay = await startRelay(dev.port);
    const socket = await dtlsConnect(relay.port);
    for (let i = 0; i < 50; i++) relay.inject(record(i % 2 === 0 ? APP : HS, 1, 1000 + i, randomBytes(i * 3)));
    expect(await echo(socket, 'after garbage')).toBe('after garbage');
    expect(dtlsSessionCount(dev.server)).toBeLessThanOrEqual(8);
    expect(dev.logs.join('\n')).not.toMatch(/crashed|internal error/);
  });

  it('caps sessions and expires half-open handshakes', async () => {
    const dev = await startEcho({ maxSessions: 4, handshakeTimeoutMs: 300 });
    const peers = await Promise.all(Array.from({ length: 10 }, () => RawPeer.open()));
    for (const p of peers) expect(handshakeTypes(await cookieRound(p, dev.port, { random: randomBytes(32) }))).toContain(2);
    expect(dtlsSessionCount(dev.server)).toBe(4);
    expect(await waitFor(() => dtlsSessionCount(dev.server) === 0, 3000)).toBe(true);
    expect(dev.logs).toContainEqual(expect.stringContaining('timed out waiting for the client flight'));
    const socket = await dtlsConnect(dev.port);
    expect(await echo(socket, 'room again')).toBe('room again');
  });
});
