// helloProbe against dgram servers on 127.0.0.1 port 0 that answer with the
// codec (cookies, fragments, garbage, silence), and against OpenSSL 3.0's
// s_server as a real DTLS 1.2 PSK stack.
//
// What OpenSSL 3.0 s_server does (found by hand, asserted below):
// - Without -listen it still demands a cookie: s_server turns on
//   SSL_OP_COOKIE_EXCHANGE for DTLS, so the first ClientHello draws a
//   HelloVerifyRequest (server_version 0xfeff, a 20-byte cookie, an HMAC-SHA1).
// - Its whole first flight (ServerHello, ServerKeyExchange with the hint,
//   ServerHelloDone) comes in one datagram, three records.
// - It checks the cookie before the version: a DTLS 1.0 ClientHello to
//   `-dtls1_2` gets the HelloVerifyRequest, then a fatal protocol_version alert.
// - It ends when its stdin closes, so the test keeps stdin open.

import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { GauntletError } from '../../../harness/core/errors.js';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import type { Io } from '../../../harness/protocols/common/io.js';
import {
  ContentType,
  DTLS1_0,
  DTLS1_2,
  ExtensionType,
  HandshakeType,
  encodeAlert,
  encodeHandshake,
  encodeHelloVerifyRequest,
  encodeRecord,
  encodeServerHello,
  extendedMasterSecret,
  parseClientHello,
  parseHandshake,
  parseRecords,
  supportedGroups,
  type ClientHello,
  type DtlsRecord,
  type HandshakeFragment,
} from '../../../harness/protocols/dtls/codec.js';
import { defaultExtensions, describeOutcome, helloProbe } from '../../../harness/protocols/dtls/hello-probe.js';
import { which } from '../../../targets/interop/which.js';

const CCM8 = 0xc0a8;
const GCM = 0x00a8;

let server: Socket | undefined;
let openssl: ChildProcess | undefined;

afterEach(async () => {
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = undefined;
  if (openssl && openssl.exitCode === null) {
    const proc = openssl;
    await new Promise<void>((r) => {
      proc.once('exit', () => r());
      proc.kill('SIGTERM');
    });
  }
  openssl = undefined;
});

interface Seen {
  bytes: Buffer;
  at: number;
  records: readonly DtlsRecord[];
  /** The ClientHello in the datagram, if it holds one. */
  hello?: { hello: ClientHello; msg: HandshakeFragment; record: DtlsRecord };
}

interface FakeServer {
  port: number;
  seen: Seen[];
  reply(to: RemoteInfo, ...datagrams: Uint8Array[]): void;
}

function decodeSent(bytes: Buffer): Seen {
  const { records } = parseRecords(bytes);
  const seen: Seen = { bytes, at: Date.now(), records };
  const record = records[0];
  if (record?.type !== ContentType.handshake) return seen;
  const h = parseHandshake(record.fragment);
  const msg = h.ok ? h.value[0] : undefined;
  if (msg?.msgType !== HandshakeType.client_hello) return seen;
  const hello = parseClientHello(msg.body);
  return hello.ok ? { ...seen, hello: { hello: hello.value, msg, record } } : seen;
}

async function fakeServer(handler: (s: Seen, from: RemoteInfo, srv: FakeServer) => void): Promise<FakeServer> {
  const sock = createSocket('udp4');
  server = sock;
  let closed = false;
  sock.on('close', () => (closed = true));
  const srv: FakeServer = {
    port: 0,
    seen: [],
    reply(to, ...datagrams) {
      // a delayed reply may come after the test closed the server
      if (!closed) for (const d of datagrams) sock.send(d, to.port, to.address);
    },
  };
  sock.on('message', (msg, from) => {
    const s = decodeSent(msg);
    srv.seen.push(s);
    handler(s, from, srv);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  srv.port = sock.address().port;
  return srv;
}

const io = (timeoutMs = 400, over: Partial<Io> = {}): Io & { transcript: TranscriptRecorder } =>
  ({ scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs, peer: 'coaps', ...over }) as Io & { transcript: TranscriptRecorder };
const ep = (port: number) => ({ host: '127.0.0.1', port });
const decoded = (t: TranscriptRecorder) => t.entries().map((e) => `${e.dir} ${e.decoded}`);

// ---- what a server sends, built with the codec
const record = (fragment: Uint8Array, sequence: number, type: number = ContentType.handshake, version = DTLS1_2) => encodeRecord({ type, version, epoch: 0, sequence, fragment });
const hvrDatagram = (cookie: Uint8Array, sequence = 0, messageSeq = 0) =>
  record(encodeHandshake({ msgType: HandshakeType.hello_verify_request, messageSeq, body: encodeHelloVerifyRequest({ version: DTLS1_0, cookie }) }), sequence, ContentType.handshake, DTLS1_0);
const serverHelloBody = (suite: number, sessionId = new Uint8Array(0)) =>
  encodeServerHello({ version: DTLS1_2, random: new Uint8Array(32).fill(7), sessionId, suite, compression: 0, extensions: [extendedMasterSecret()] });
const hintBody = (hint: string) => {
  const h = Buffer.from(hint);
  return Uint8Array.from([h.length >> 8, h.length & 0xff, ...h]);
};
const msg = (msgType: number, messageSeq: number, body: Uint8Array, extra: { fragmentOffset?: number; length?: number } = {}) => encodeHandshake({ msgType, messageSeq, body, ...extra });
const alertDatagram = (level: number, description: number) => record(encodeAlert({ level, description }), 0, ContentType.alert);

describe('helloProbe (scripted servers)', () => {
  it('follows one HelloVerifyRequest, joins a fragmented ServerHello, reads the hint, then says goodbye with a fatal alert', async () => {
    const cookie = Uint8Array.from([0xc0, 0x0c, 0x1e, 1, 2, 3, 4, 5]);
    const sh = serverHelloBody(CCM8);
    const s = await fakeServer((seen, from, srv) => {
      if (!seen.hello) return;
      if (seen.hello.hello.cookie.length === 0) return srv.reply(from, hvrDatagram(cookie, seen.hello.record.sequence));
      srv.reply(
        from,
        record(msg(HandshakeType.server_hello, 1, sh.subarray(0, 30), { length: sh.length }), 1),
        Buffer.concat([
          record(msg(HandshakeType.server_hello, 1, sh.subarray(30), { fragmentOffset: 30, length: sh.length }), 2),
          record(msg(HandshakeType.server_key_exchange, 2, hintBody('sensor-hint')), 3),
          record(msg(HandshakeType.server_hello_done, 3, new Uint8Array(0)), 4),
        ]),
      );
    });
    const t = io(1000);
    const o = await helloProbe(ep(s.port), { suites: [CCM8], identityHintExpected: true }, t);
    expect(o).toMatchObject({ kind: 'server-hello', version: DTLS1_2, suite: CCM8, suiteName: 'TLS_PSK_WITH_AES_128_CCM_8', hvr: { cookieLength: 8, version: DTLS1_0 }, identityHint: 'sensor-hint', flightComplete: true });
    if (o.kind !== 'server-hello') return;
    expect(o.flight.map((m) => m.name)).toEqual(['ServerHello', 'ServerKeyExchange', 'ServerHelloDone']);
    expect(Buffer.from(o.flight[0]!.body).equals(Buffer.from(sh))).toBe(true);
    expect(describeOutcome(o)).toBe('ServerHello TLS_PSK_WITH_AES_128_CCM_8 after a 8B cookie hint "sensor-hint"');

    await new Promise((r) => setTimeout(r, 50));
    const [first, second, bye] = s.seen;
    // the first ClientHello: message_seq 0, no cookie, record sequence 0, DTLS 1.0 on the record layer
    expect(first!.hello!.msg.messageSeq).toBe(0);
    expect(first!.hello!.record).toMatchObject({ version: DTLS1_0, epoch: 0, sequence: 0 });
    expect(first!.hello!.hello).toMatchObject({ version: DTLS1_2, suites: [CCM8], compression: [0] });
    // the second: same hello with the cookie, message_seq 1 [RFC6347 4.2.1], the next record sequence number
    expect(second!.hello!.msg.messageSeq).toBe(1);
    expect(second!.hello!.record.sequence).toBe(1);
    expect(second!.hello!.hello).toEqual({ ...first!.hello!.hello, cookie });
    // then a fatal user_canceled alert
    expect(bye!.records).toHaveLength(1);
    expect(bye!.records[0]).toMatchObject({ type: ContentType.alert, epoch: 0, sequence: 2 });
    expect([...bye!.records[0]!.fragment]).toEqual([2, 90]);
    expect(s.seen).toHaveLength(3);

    expect(decoded(t.transcript)).toEqual([
      'sent ClientHello v1.2 suites=[TLS_PSK_WITH_AES_128_CCM_8] cookie=0B ext=[extended_master_secret]',
      'received HelloVerifyRequest v1.0 cookie=8B',
      'sent ClientHello v1.2 suites=[TLS_PSK_WITH_AES_128_CCM_8] cookie=8B ext=[extended_master_secret] seq=1',
      `received ServerHello seq=1 ${sh.length}B [fragment 0+30/${sh.length}]`,
      `received ServerHello seq=1 ${sh.length}B [fragment 30+${sh.length - 30}/${sh.length}] | ServerKeyExchange seq=2 13B | ServerHelloDone seq=3 0B`,
      'sent Alert fatal user_canceled(90) (probe done)',
    ]);
    expect(t.transcript.entries()[0]!.hex).toBe(first!.bytes.toString('hex'));
  });

  it('without identityHintExpected it settles on the ServerHello and does not wait for the rest', async () => {
    const s = await fakeServer((seen, from, srv) => {
      if (!seen.hello) return;
      srv.reply(from, record(msg(HandshakeType.server_hello, 0, serverHelloBody(GCM)), 0));
      setTimeout(() => srv.reply(from, record(msg(HandshakeType.server_hello_done, 1, new Uint8Array(0)), 1)), 150);
    });
    const started = Date.now();
    const o = await helloProbe(ep(s.port), { suites: [GCM, CCM8] }, io(1000));
    expect(Date.now() - started).toBeLessThan(150);
    expect(o).toMatchObject({ kind: 'server-hello', suite: GCM, hvr: undefined, identityHint: undefined, flightComplete: false });
  });

  it('identityHintExpected and no ServerHelloDone: the ServerHello is still reported when the wait ends', async () => {
    const s = await fakeServer((seen, from, srv) => {
      if (seen.hello && srv.seen.length === 1) srv.reply(from, record(msg(HandshakeType.server_hello, 0, serverHelloBody(CCM8)), 0));
    });
    const t = io(300);
    const o = await helloProbe(ep(s.port), { suites: [CCM8], identityHintExpected: true }, t);
    expect(o).toMatchObject({ kind: 'server-hello', suite: CCM8, identityHint: undefined, flightComplete: false });
    expect(decoded(t.transcript)).toContain('note no ServerHelloDone within 300ms');
  });

  it("cookie 'ignore': reports the HelloVerifyRequest and sends nothing more", async () => {
    const s = await fakeServer((seen, from, srv) => srv.reply(from, hvrDatagram(new Uint8Array(32))));
    const o = await helloProbe(ep(s.port), { suites: [CCM8], cookie: 'ignore' }, io());
    expect(o).toEqual({ kind: 'hello-verify', cookieLength: 32, version: DTLS1_0 });
    await new Promise((r) => setTimeout(r, 150));
    expect(s.seen).toHaveLength(1);
  });

  it('an alert: level, description and name; hvr says whether a cookie came first', async () => {
    const s = await fakeServer((seen, from, srv) => srv.reply(from, alertDatagram(2, 115)));
    const o = await helloProbe(ep(s.port), { suites: [CCM8] }, io());
    expect(o).toEqual({ kind: 'alert', level: 2, description: 115, name: 'unknown_psk_identity', hvr: undefined });
    expect(describeOutcome(o)).toBe('alert fatal unknown_psk_identity(115)');
  });

  it('a second HelloVerifyRequest is not followed', async () => {
    let n = 0;
    // message_seq and record sequence copied from the ClientHello, as RFC 6347 4.2.2 says
    const s = await fakeServer((seen, from, srv) => srv.reply(from, hvrDatagram(Uint8Array.of(++n), seen.hello!.record.sequence, seen.hello!.msg.messageSeq)));
    const t = io(300);
    const o = await helloProbe(ep(s.port), { suites: [CCM8] }, t);
    expect(o).toEqual({ kind: 'timeout', hvr: { cookieLength: 1, version: DTLS1_0 } });
    const sentCookies = s.seen.map((x) => x.hello?.hello.cookie[0]);
    expect(new Set(sentCookies)).toEqual(new Set([undefined, 1])); // never cookie 2, 3, ...
    expect(decoded(t.transcript)).toContain('note another HelloVerifyRequest: not followed (one is)');
  });

  it('garbage: malformed, with the bytes in the transcript', async () => {
    const s = await fakeServer((_seen, from, srv) => srv.reply(from, Uint8Array.of(0xff, 0x00, 0x13)));
    const t = io();
    const o = await helloProbe(ep(s.port), { suites: [CCM8] }, t);
    expect(o).toEqual({ kind: 'malformed', detail: 'record.header: 3 byte(s) at offset 0, a header needs 13' });
    expect(t.transcript.entries().find((e) => e.dir === 'received')).toMatchObject({ hex: 'ff0013', decoded: '3B not a record (record.header: 3 byte(s) at offset 0, a header needs 13)' });
  });

  it('a ServerHello with a 33-byte session id: malformed, naming the field', async () => {
    const s = await fakeServer((_seen, from, srv) => srv.reply(from, record(msg(HandshakeType.server_hello, 0, serverHelloBody(CCM8, new Uint8Array(33))), 0)));
    const o = await helloProbe(ep(s.port), { suites: [CCM8] }, io());
    expect(o).toEqual({ kind: 'malformed', detail: 'server_hello.session_id: length 33 outside 0..32' });
  });

  it('nothing listening: unreachable (ICMP port unreachable on loopback)', async () => {
    const s = await fakeServer(() => undefined);
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    expect(await helloProbe(ep(s.port), { suites: [CCM8] }, io())).toEqual({ kind: 'unreachable', error: 'ECONNREFUSED' });
  });

  it('silence: timeout within io.timeoutMs after two retransmissions, each a new record', async () => {
    const s = await fakeServer(() => undefined);
    const t = io(400);
    const started = Date.now();
    expect(await helloProbe(ep(s.port), { suites: [CCM8] }, t)).toEqual({ kind: 'timeout', hvr: undefined });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(700);
    expect(s.seen).toHaveLength(3);
    // same handshake message (message_seq 0, same random), new record sequence numbers [RFC6347 4.2.4]
    expect(s.seen.map((x) => x.hello!.record.sequence)).toEqual([0, 1, 2]);
    expect(s.seen.map((x) => x.hello!.msg.messageSeq)).toEqual([0, 0, 0]);
    expect(new Set(s.seen.map((x) => Buffer.from(x.hello!.hello.random).toString('hex'))).size).toBe(1);
    expect(decoded(t.transcript).at(-1)).toBe('note no answer within 400ms');
    expect(decoded(t.transcript)[2]).toMatch(/\(retransmission 2\)$/);
  });

  it('asks the scope guard, and its throw propagates before anything is sent', async () => {
    const s = await fakeServer(() => undefined);
    const asked: string[] = [];
    const scope = {
      assert(host: string, what: string) {
        asked.push(`${host} ${what}`);
        throw new GauntletError('SCOPE_VIOLATION', 'no');
      },
    };
    await expect(helloProbe(ep(s.port), { suites: [CCM8] }, io(200, { scope }))).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
    expect(asked).toEqual(['127.0.0.1 dtls coaps']);
    await new Promise((r) => setTimeout(r, 30));
    expect(s.seen).toEqual([]);
  });

  it('the io signal ends the wait early, and an aborted one at once', async () => {
    const s = await fakeServer(() => undefined);
    const c = new AbortController();
    setTimeout(() => c.abort(), 30);
    let started = Date.now();
    expect(await helloProbe(ep(s.port), { suites: [CCM8] }, io(5000, { signal: c.signal }))).toEqual({ kind: 'timeout', hvr: undefined });
    expect(Date.now() - started).toBeLessThan(1000);
    started = Date.now();
    expect(await helloProbe(ep(s.port), { suites: [CCM8] }, io(5000, { signal: c.signal }))).toEqual({ kind: 'timeout', hvr: undefined });
    expect(Date.now() - started).toBeLessThan(100);
    expect(s.seen).toHaveLength(1);
  });

  it('sends the offered version and extensions as given', async () => {
    const s = await fakeServer(() => undefined);
    const extensions = [{ type: 0x1234, data: Uint8Array.of(1, 2, 3) }, supportedGroups([23])];
    await helloProbe(ep(s.port), { version: 0x0303, suites: [CCM8, 0xffff], extensions }, io(60));
    expect(s.seen[0]!.hello!.hello).toMatchObject({ version: 0x0303, suites: [CCM8, 0xffff], extensions });
  });

  it('default extensions follow the suites', () => {
    const types = (suites: number[]) => defaultExtensions(suites).map((e) => e.type);
    expect(types([CCM8])).toEqual([ExtensionType.extended_master_secret]);
    expect(types([0xd001])).toEqual([ExtensionType.supported_groups, ExtensionType.ec_point_formats, ExtensionType.extended_master_secret]);
    expect(types([0xc0ae])).toEqual([ExtensionType.supported_groups, ExtensionType.ec_point_formats, ExtensionType.signature_algorithms, ExtensionType.extended_master_secret]);
  });
});

// ---------------------------------------------------------------- OpenSSL

const OPENSSL = which('openssl');
const PSK = '0102030405060708090a0b0c0d0e0f10';
if (!OPENSSL) console.warn('\n!!! openssl not found: the helloProbe tests against OpenSSL s_server are SKIPPED (apt-get install openssl)\n');

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `openssl s_server` as a DTLS 1.2 PSK server that enables TLS_PSK_WITH_AES_128_CCM_8 only. */
async function startSServer(): Promise<{ port: number; output: () => string }> {
  const port = await freeUdpPort();
  const args = ['s_server', '-dtls1_2', '-nocert', '-psk', PSK, '-psk_hint', 'CoAP', '-cipher', 'PSK-AES128-CCM8', '-accept', `127.0.0.1:${port}`];
  // stdin stays an open pipe: s_server quits when its stdin reaches EOF
  const proc = spawn(OPENSSL!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  openssl = proc;
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`openssl s_server did not print ACCEPT within 5 s:\n${out}`)), 5000);
    const poll = setInterval(() => {
      if (out.includes('ACCEPT')) {
        clearInterval(poll);
        clearTimeout(deadline);
        resolve();
      }
    }, 10);
    proc.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(deadline);
      reject(new Error(`openssl s_server exited (${code}):\n${out}`));
    });
  });
  return { port, output: () => out };
}

describe.skipIf(!OPENSSL)('helloProbe against OpenSSL 3.0 s_server -dtls1_2 -psk', () => {
  it('follows the HelloVerifyRequest; the ServerHello picks TLS_PSK_WITH_AES_128_CCM_8 and the flight carries the hint', async () => {
    const srv = await startSServer();
    const t = io(2000);
    const o = await helloProbe(ep(srv.port), { suites: [GCM, CCM8], identityHintExpected: true }, t);
    expect(o).toMatchObject({ kind: 'server-hello', version: DTLS1_2, suite: CCM8, hvr: { cookieLength: 20, version: DTLS1_0 }, identityHint: 'CoAP', flightComplete: true });
    if (o.kind !== 'server-hello') return;
    expect(o.flight.map((m) => m.name)).toEqual(['ServerHello', 'ServerKeyExchange', 'ServerHelloDone']);
    expect(o.hello.extensions?.map((e) => e.type)).toContain(ExtensionType.extended_master_secret);
    // one datagram for the whole flight
    expect(decoded(t.transcript).filter((l) => l.startsWith('received'))).toEqual([
      'received HelloVerifyRequest v1.0 cookie=20B',
      'received ServerHello v1.2 suite=TLS_PSK_WITH_AES_128_CCM_8 ext=[extended_master_secret] seq=1 | ServerKeyExchange seq=2 6B | ServerHelloDone seq=3 0B',
    ]);
    // our goodbye reached it: "tlsv1 alert user cancelled ... SSL alert number 90"
    await expect.poll(() => srv.output(), { timeout: 2000 }).toMatch(/SSL alert number 90/);
  });

  it('only a suite it does not enable: cookie first, then a fatal handshake_failure', async () => {
    const srv = await startSServer();
    const o = await helloProbe(ep(srv.port), { suites: [GCM] }, io(2000));
    expect(o).toEqual({ kind: 'alert', level: 2, description: 40, name: 'handshake_failure', hvr: { cookieLength: 20, version: DTLS1_0 } });
    await expect.poll(() => srv.output(), { timeout: 2000 }).toMatch(/no shared cipher/);
  });

  it('a DTLS 1.0 ClientHello: cookie first, then a fatal protocol_version (no ServerHello)', async () => {
    const srv = await startSServer();
    const o = await helloProbe(ep(srv.port), { version: DTLS1_0, suites: [CCM8] }, io(2000));
    expect(o).toEqual({ kind: 'alert', level: 2, description: 70, name: 'protocol_version', hvr: { cookieLength: 20, version: DTLS1_0 } });
    await expect.poll(() => srv.output(), { timeout: 2000 }).toMatch(/unsupported protocol/);
  });

  it("cookie 'ignore': a HelloVerifyRequest with a 20-byte cookie", async () => {
    const srv = await startSServer();
    expect(await helloProbe(ep(srv.port), { suites: [CCM8], cookie: 'ignore' }, io(2000))).toEqual({ kind: 'hello-verify', cookieLength: 20, version: DTLS1_0 });
  });
});
