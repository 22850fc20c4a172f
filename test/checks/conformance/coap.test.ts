// conformance.coap through the real planner and runner: against small fake
// CoAP servers started here on 127.0.0.1 port 0 (one conformant, and one per
// flaw, each breaking one statement, to prove each oracle fails on the flaw
// and passes without it; the observe-sequence flaw's failure must shrink to
// the shortest command sequence), and against the reference device, whose
// every failing statement is a reviewed deviation of its CoAP stack (the
// `coap` npm package) asserted here with what it did.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { generate, type NamedOption } from 'coap-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { conformanceCoap } from '../../../harness/checks/conformance/coap.js';
import { STATEMENTS } from '../../../harness/checks/conformance/coap/catalog.js';
import type { TargetFileInput } from '../../../harness/core/target-file.js';
import type { CheckResult, StatementResult } from '../../../harness/model/index.js';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';
import { runAgainst } from '../../support/run-target.js';

// ------------------------------------------------------------------ a fake CoAP server

type FakeFlaw = 'wrong-mid' | 'drop-token' | 'no-dedup' | 'seq-backwards';

interface Req {
  readonly version: number;
  readonly type: number;
  readonly code: number;
  readonly mid: number;
  readonly token: Buffer;
  readonly options: { number: number; value: Buffer }[];
}

/** Strict: reserved token lengths, nibble 15 and a marker with no payload are format errors (undefined). */
function parseStrict(b: Buffer): Req | undefined {
  if (b.length < 4) return undefined;
  const tkl = b[0]! & 15;
  if (tkl > 8 || 4 + tkl > b.length) return undefined;
  const options: { number: number; value: Buffer }[] = [];
  let i = 4 + tkl;
  let n = 0;
  while (i < b.length) {
    if (b[i] === 0xff) {
      if (i + 1 === b.length) return undefined;
      break;
    }
    const d = b[i]! >> 4;
    const l = b[i]! & 15;
    i++;
    const ext = (x: number): number | undefined => {
      if (x < 13) return x;
      if (x === 15) return undefined;
      if (x === 13) return i < b.length ? b[i++]! + 13 : undefined;
      if (i + 1 >= b.length) return undefined;
      const v = b.readUInt16BE(i) + 269;
      i += 2;
      return v;
    };
    const delta = ext(d);
    const len = ext(l);
    if (delta === undefined || len === undefined || i + len > b.length) return undefined;
    n += delta;
    options.push({ number: n, value: b.subarray(i, i + len) });
    i += len;
  }
  return { version: b[0]! >> 6, type: (b[0]! >> 4) & 3, code: b[1]!, mid: b.readUInt16BE(2), token: b.subarray(4, 4 + tkl), options };
}

const uint = (v: Buffer) => v.reduce((a, x) => a * 256 + x, 0);
function enc(n: number): Buffer {
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return Buffer.from(out);
}
const KNOWN = new Set([3, 6, 7, 11, 12, 14, 15, 17, 28, 35, 39]);
const NON_REPEATABLE = new Set([3, 6, 7, 12, 14, 17, 28, 35, 39]);
const sockets: Socket[] = [];
const timers: NodeJS.Timeout[] = [];

async function startFake(flaws: readonly FakeFlaw[] = []): Promise<number> {
  const on = new Set(flaws);
  const sock = createSocket('udp4');
  sockets.push(sock);
  const cache = new Map<string, Buffer>();
  const observers = new Map<string, { r: RemoteInfo; token: Buffer }>();
  const notificationMids = new Map<number, string>();
  let mid = 1000;
  let processed = 0;
  let seq = 5000;
  const links = ['</sensor>;rt="temperature";obs;ct=0', '</.well-known/core>;ct=40', '</info>;rt="info";ct=0'];
  const send = (b: Buffer, r: RemoteInfo) => sock.send(b, r.port, r.address);
  timers.push(
    setInterval(() => {
      seq = on.has('seq-backwards') ? seq - 3 : seq + 1;
      for (const [key, o] of observers) {
        mid = (mid + 1) & 0xffff;
        notificationMids.set(mid, key);
        const options: NamedOption[] = [{ name: 'Observe', value: enc(seq) }, { name: 'Content-Format', value: Buffer.alloc(0) }];
        send(generate({ messageId: mid, token: o.token, code: '2.05', confirmable: false, options, payload: Buffer.from(`t=${seq}`) }), o.r);
      }
    }, 60),
  );
  sock.on('message', (b, r) => {
    const peer = `${r.address}:${r.port}`;
    const req = parseStrict(b);
    if (!req) {
      if (b.length >= 4 && b[0]! >> 6 === 1 && ((b[0]! >> 4) & 3) === 0) send(Buffer.from([0x70, 0, b[2]!, b[3]!]), r); // a CON with a format error: RST
      return;
    }
    if (req.version !== 1 || req.type === 2) return;
    if (req.type === 3) {
      const key = notificationMids.get(req.mid);
      if (key) observers.delete(key); // a notification rejected
      return;
    }
    if (req.code === 0 || req.code >> 5 !== 0) {
      if (req.type === 0) send(Buffer.from([0x70, 0, b[2]!, b[3]!]), r); // ping, or no request: RST
      return;
    }
    const dkey = `${peer}/${req.mid}`;
    if (!on.has('no-dedup') && cache.has(dkey)) {
      if (req.type === 0) send(cache.get(dkey)!, r);
      return;
    }
    const reply = (code: string, options: NamedOption[] = [], payload = '') => {
      const ack = req.type === 0;
      const messageId = ack ? (on.has('wrong-mid') ? (req.mid + 1) & 0xffff : req.mid) : (mid = (mid + 1) & 0xffff);
      const out = generate({ messageId, token: on.has('drop-token') ? Buffer.alloc(0) : req.token, code, ack, confirmable: false, options, payload: Buffer.from(payload) });
      cache.set(dkey, out);
      send(out, r);
    };
    const count = new Map<number, number>();
    for (const o of req.options) {
      count.set(o.number, (count.get(o.number) ?? 0) + 1);
      const unrecognised = !KNOWN.has(o.number) || (NON_REPEATABLE.has(o.number) && count.get(o.number)! > 1) || (o.number === 17 && o.value.length > 2);
      if (unrecognised && o.number % 2 === 1) {
        if (req.type === 0) reply('4.02');
        return; // a NON is rejected in silence
      }
    }
    if (req.options.some((o) => o.number === 35 || o.number === 39)) return reply('5.05');
    const path = `/${req.options.filter((o) => o.number === 11).map((o) => o.value.toString()).join('/')}`;
    const query = req.options.filter((o) => o.number === 15).map((o) => o.value.toString());
    const accept = req.options.find((o) => o.number === 17);
    const observe = req.options.find((o) => o.number === 6);
    const known = ['/sensor', '/info', '/.well-known/core'].includes(path);
    if (req.code !== 1) return reply(known ? '4.05' : '4.04');
    if (!known) return reply('4.04');
    const cf = path === '/.well-known/core' ? 40 : 0;
    if (accept && uint(accept.value) !== cf) return reply('4.06');
    processed++;
    if (path === '/.well-known/core') {
      const [k, v] = (query[0] ?? '').split('=');
      const list = k ? links.filter((l) => l.includes(`;${k}="${v}"`) || l.includes(`;${k}=${v}`)) : links;
      return reply('2.05', [{ name: 'Content-Format', value: enc(40) }], list.join(','));
    }
    const text: NamedOption[] = [{ name: 'Content-Format', value: Buffer.alloc(0) }];
    if (path === '/info') return reply('2.05', text, 'a fake CoAP server for the conformance tests');
    const okey = `${peer}/${req.token.toString('hex')}`;
    if (observe && uint(observe.value) === 0) {
      observers.set(okey, { r, token: Buffer.from(req.token) });
      return reply('2.05', [{ name: 'Observe', value: enc(seq) }, ...text], `t=${seq}`);
    }
    if (observe && uint(observe.value) === 1) observers.delete(okey);
    return reply('2.05', text, on.has('no-dedup') ? `n=${processed}` : `t=${seq}`);
  });
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', res));
  return sock.address().port;
}

afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const s of sockets.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

function fakeTarget(port: number, notImplemented: readonly string[]): TargetFileInput {
  return {
    format: 'gauntlet-target/1',
    name: 'fake-coap',
    scope: { hosts: ['127.0.0.1'] },
    interfaces: [{ id: 'coap', protocol: 'coap', url: `coap://127.0.0.1:${port}` }],
    declaration: { conformance: { notImplemented: [...notImplemented] } },
  };
}

/** The fake has no block-wise transfers and no separate responses; the flaw runs leave observe out too, but for its own flaw. */
const FAKE_LACKS = ['coap:block1', 'coap:block2', 'coap:separate'];

async function runOn(input: TargetFileInput, ioTimeoutMs = 500): Promise<CheckResult> {
  const run = await runAgainst(input, { checks: [conformanceCoap], ioTimeoutMs, numRuns: 10, timeMs: 8000 });
  expect(run.results).toHaveLength(1);
  return run.results[0]!;
}

const verdictOf = (r: CheckResult, id: string) => r.statements?.find((s) => s.id === id);
const table = (r: CheckResult) => (r.statements ?? []).map((s) => `${s.verdict.padEnd(12)} ${s.id}: ${s.reason}`).join('\n');
const ids = (r: CheckResult, v: StatementResult['verdict']) => (r.statements ?? []).filter((s) => s.verdict === v).map((s) => s.id).sort();

describe('conformance.coap: the statement catalog', () => {
  it('has at least 40 statements, each id unique, in the check requirements, named RFC<n>:<section>-<slug>', () => {
    const list = STATEMENTS.map((s) => s.id);
    expect(list.length).toBeGreaterThanOrEqual(40);
    expect(new Set(list).size).toBe(list.length);
    expect([...conformanceCoap.requirements]).toEqual(list);
    for (const id of list) expect(id).toMatch(/^RFC(7252|6690|7959|7641):[0-9.]+-[a-z0-9.-]+$/);
  });
});

describe('conformance.coap on fake servers', () => {
  it('a conformant server: every statement it implements passes; the declared-absent features are skipped; the coap-conformance profile shows a verdict per statement', async () => {
    const port = await startFake();
    const run = await runAgainst(fakeTarget(port, FAKE_LACKS), { profile: 'coap-conformance', ioTimeoutMs: 500, numRuns: 10, timeMs: 8000 });
    expect(run.results.map((x) => x.instance.id)).toEqual(['conformance.coap@coap']);
    const r = run.results[0]!;
    const t = table(r);
    // The requirement matrix: one row per statement, with that statement's own verdict.
    const rows = run.report.requirements!.rows;
    expect(rows.map((x) => x.id)).toEqual(STATEMENTS.map((x) => x.id));
    for (const row of rows) {
      const st = verdictOf(r, row.id)!;
      expect(row.verdict, row.id).toBe(st.verdict === 'skipped' ? 'not-tested' : st.verdict);
    }
    expect(ids(r, 'fail'), t).toEqual([]);
    expect(ids(r, 'inconclusive'), t).toEqual([]);
    expect(r.verdict, t).toBe('pass');
    for (const id of ['RFC7252:4.2-ack-message-id', 'RFC7252:5.3.2-token-echo', 'RFC7252:4.5-duplicate-con', 'RFC7252:4.5-duplicate-non', 'RFC7641:4.4-observe-sequence', 'RFC7641:2-deregister-get', 'RFC7641:4.5-rst-removes-observer', 'RFC7641:4.1-reregister-replaces']) {
      expect(verdictOf(r, id)?.verdict, `${id}\n${t}`).toBe('pass');
    }
    expect(verdictOf(r, 'RFC7959:2.3-block1-continue')).toMatchObject({ verdict: 'skipped', reason: expect.stringContaining('coap:block1') });
    expect(r.reason).toMatch(/^RFC 7252: 41 statements: \d+ pass, \d+ skipped; RFC 6690: 3 statements: 3 pass; RFC 7959: 11 statements: 11 skipped; RFC 7641: 8 statements: 8 pass$/);
    expect(r.findings).toEqual([]);
  }, 30_000);

  it('a server that acknowledges with a wrong message id fails RFC7252:4.2-ack-message-id, with the transcript', async () => {
    const port = await startFake(['wrong-mid']);
    const r = await runOn(fakeTarget(port, [...FAKE_LACKS, 'coap:observe']));
    const v = verdictOf(r, 'RFC7252:4.2-ack-message-id')!;
    expect(v.verdict, table(r)).toBe('fail');
    expect(v.reason).toMatch(/^CON GET mid=(\d+) token=\S+ was answered by ACK \d\.\d\d with mid=\d+, not the request's \1/);
    const f = r.findings.find((x) => x.summary.startsWith('RFC7252:4.2-ack-message-id: '))!;
    expect(f.severity).toBe('low');
    expect(f.evidence.source).toBe('spec:RFC 7252 (RFC7252:4.2-ack-message-id)');
    expect(f.evidence.declared).toMatch(/same message id/);
    expect(f.evidence.transcript.some((e) => e.dir === 'received' && /^ACK \d\.\d\d /.test(e.decoded))).toBe(true);
    expect(verdictOf(r, 'RFC7252:5.3.2-token-echo')?.verdict).toBe('pass'); // one flaw, one statement
    expect(r.verdict).toBe('fail');
  }, 30_000);

  it('a server that drops the token fails RFC7252:5.3.2-token-echo (the empty-token request alone would not show it)', async () => {
    const port = await startFake(['drop-token']);
    const r = await runOn(fakeTarget(port, [...FAKE_LACKS, 'coap:observe']));
    const v = verdictOf(r, 'RFC7252:5.3.2-token-echo')!;
    expect(v.verdict, table(r)).toBe('fail');
    expect(v.reason).toMatch(/token \(empty\) instead of [0-9a-f]{2,16}/);
    expect(verdictOf(r, 'RFC7252:4.2-ack-message-id')?.verdict).toBe('pass');
  }, 30_000);

  it('a server that does not deduplicate fails RFC7252:4.5-duplicate-con and -non; the conformant one passes them', async () => {
    const port = await startFake(['no-dedup']);
    const r = await runOn(fakeTarget(port, [...FAKE_LACKS, 'coap:observe']));
    const con = verdictOf(r, 'RFC7252:4.5-duplicate-con')!;
    expect(con.verdict, table(r)).toBe('fail');
    expect(con.reason).toMatch(/got a different answer .* than the first .*: the request was processed again/);
    expect(verdictOf(r, 'RFC7252:4.5-duplicate-non')).toMatchObject({ verdict: 'fail', reason: expect.stringMatching(/sent twice: 2 responses/) });
    expect(r.findings.find((f) => f.summary.startsWith('RFC7252:4.5-duplicate-con (SHOULD): '))?.severity).toBe('info');
  }, 30_000);

  it('observe sequence numbers going backwards fail RFC7641:4.4-observe-sequence; the model-based case shrinks to one registration', async () => {
    const port = await startFake(['seq-backwards']);
    const r = await runOn(fakeTarget(port, FAKE_LACKS));
    const v = verdictOf(r, 'RFC7641:4.4-observe-sequence')!;
    expect(v.verdict, table(r)).toBe('fail');
    const f = r.findings.find((x) => x.summary.startsWith('RFC7641:4.4-observe-sequence: '))!;
    const cx = f.evidence.counterexample!;
    expect(cx, f.summary).toBeDefined();
    // The shortest sequence that shows it: a registration (then the notifications that follow it).
    const commands = cx.value.split(',').map((x) => x.trim()).filter(Boolean);
    expect(commands.length, cx.value).toBeLessThanOrEqual(2);
    expect(commands[0]).toMatch(/^Register\([01]\)$/);
    expect(cx.seed).toBe(r.instance.seed);
    expect(f.summary).toMatch(/not newer/);
    expect(verdictOf(r, 'RFC7641:2-deregister-get')?.verdict).not.toBe('fail');
  }, 40_000);

  it('a server that stops answering: inconclusive, after discovery and one ping, within a few bounds', async () => {
    const sock = createSocket('udp4');
    sockets.push(sock);
    // It answers the runner's liveness ping before the check, then nothing.
    let answered = 0;
    sock.on('message', (b, from) => {
      if (answered++ === 0 && b.length >= 4) sock.send(Buffer.from([0x70, 0, b[2]!, b[3]!]), from.port, from.address);
    });
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', res));
    const t0 = Date.now();
    const r = await runOn(fakeTarget(sock.address().port, []), 200);
    expect(r.verdict).toBe('inconclusive'); // the runner's liveness monitor names the silence too
    expect(new Set(r.statements!.map((s) => s.verdict))).toEqual(new Set(['inconclusive']));
    expect(verdictOf(r, 'RFC7641:4.4-observe-sequence')?.reason).toBe('the server answered neither GET /.well-known/core nor a CoAP ping within 200ms');
    expect(Date.now() - t0).toBeLessThan(5000);
  }, 30_000);

  it('a declared statement id is skipped, never run', async () => {
    const port = await startFake(['wrong-mid']);
    const r = await runOn(fakeTarget(port, [...FAKE_LACKS, 'coap:observe', 'RFC7252:4.2-ack-message-id']));
    expect(verdictOf(r, 'RFC7252:4.2-ack-message-id')).toEqual({ id: 'RFC7252:4.2-ack-message-id', verdict: 'skipped', reason: 'declared not implemented (declaration.conformance.notImplemented: RFC7252:4.2-ack-message-id)' });
  }, 30_000);
});

// ------------------------------------------------------------------ the reference device

/**
 * The reference device's plain CoAP server is the `coap` npm package (1.5.0)
 * with coap-packet as its parser. Each entry is a reviewed deviation: the
 * statement, and what that stack does (all of them show on every run).
 */
const REFERENCE_DEVIATIONS: Readonly<Record<string, RegExp>> = {
  // RFC 7252 3: unknown versions are ignored in silence. It answers NON 5.00 "Unsupported version".
  'RFC7252:3-version-ignored': /^ver=2 CON GET .*: answered with a response, NON 5\.00 .*"Unsupported version"/,
  // RFC 7252 3: token length 9 is a format error. It serves the request, and its ACK 2.05 carries token length 9 too.
  'RFC7252:3-token-length-reserved': /tkl=9 .*: answered with a response, ACK 2\.05 that does not parse \(token length 9/,
  'RFC7252:3-token-length-sent': /the first: token length 9 \(9-15 are reserved\)/,
  // RFC 7252 3: a payload marker with no payload is a format error. coap-packet lets it through: ACK 2.05.
  'RFC7252:3-payload-marker-empty': /then 0xFF and no payload: answered with a response, ACK 2\.05 /,
  // RFC 7252 3.1 / 4.1: format errors in a CON are rejected with a Reset. It sends a NON 5.00 with the parser's message instead.
  'RFC7252:3.1-option-delta-15': /answered with a response, NON 5\.00 .*"Wrong option delta"/,
  'RFC7252:3.1-option-length-15': /answered with a response, NON 5\.00 .*"Wrong option length"/,
  'RFC7252:4.1-empty-with-content': /answered with a response, NON 5\.00 .*"Empty messages must be emp/,
  // RFC 7252 4.2: an unexpected RST is ignored. It treats the RST as a request for "/" and answers NON 4.04.
  'RFC7252:4.2-rst-ignored': /RST empty mid=\d+ \(resets nothing\): answered with a response, NON 4\.04 /,
  // RFC 7252 4.2/4.3: an Empty CON (ping) gets a Reset. It answers ACK 4.04 (the ping as a request for "/").
  'RFC7252:4.3-ping-reset': /was answered by ACK 4\.04 mid=\d+ token=- instead of an empty RST$/,
  // RFC 7252 4.5 (SHOULD): a duplicate NON is ignored in silence. It sends its cached response again.
  'RFC7252:4.5-duplicate-non': /sent twice: 2 responses .*the same response sent again/,
  // RFC 7252 5.4.1, 5.4.3, 5.4.5: unrecognised critical options (unknown, too long, repeated) get 4.02 / a NON rejected. It ignores them all.
  'RFC7252:5.4.1-critical-con-4.02': /opt65001 \(critical, unrecognised\) -> 2\.05, not 4\.02$/,
  'RFC7252:5.4.1-critical-non-rejected': /opt65001="x" \(critical, unrecognised\): answered with a response, NON 2\.05 /,
  'RFC7252:5.4.3-length-out-of-range': /3-byte Accept \(range 0-2\) -> 2\.05, not 4\.02$/,
  'RFC7252:5.4.5-repeated-critical-4.02': /Accept twice -> 2\.05, not 4\.02$/,
  // RFC 7252 5.7.2 / 5.10.2: no forward proxy, so Proxy-Uri and Proxy-Scheme get 5.05. It drops the options (proxying off) and serves the path.
  'RFC7252:5.10.2-proxy-uri-5.05': /Proxy-Uri coap:\/\/.* -> 4\.04, not 5\.05/,
  'RFC7252:5.10.2-proxy-scheme-5.05': /Proxy-Scheme coap -> 2\.05, not 5\.05/,
  // RFC 7252 5.10.4: an Accept the resource cannot honour gets 4.06. It ignores Accept.
  'RFC7252:5.10.4-accept-4.06': /Accept=65000 .* -> 2\.05, not 4\.06$/,
  // RFC 7959 2.2: every block but the last is full. Block2 NUM 0 SZX 0 is the uint 0, sent as an empty option; it answers M=1 and no payload.
  'RFC7959:2.2-block2-more': /GET Block2=0\/0\/16 \(its value 0 sent as an empty option, the shortest uint\) -> Block2=0\/1\/16: a non-last block of 0 bytes/,
  // RFC 7959 2.2: SZX 7 in a request gets 4.00. It serves the whole representation.
  'RFC7959:2.2-szx-7-4.00': /SZX=7 \(reserved\) -> ACK 2\.05 /,
  // RFC 7641 2: a registration is answered as the GET. A path that GET answers 4.04 gets 2.05 with Observe=1 once Observe=0 is added
  // (its observe stream ignores the handler's response code).
  'RFC7641:2-register-is-get': /-> 4\.04, but with Observe=0 -> ACK 2\.05 .*Observe=1/,
};

let device: RunningDevice | undefined;
afterEach(async () => {
  await device?.close();
  device = undefined;
});

describe('conformance.coap on the reference device', () => {
  it('every failing statement is a reviewed deviation of its CoAP stack', async () => {
    device = await startReferenceDevice({ factoryFresh: false });
    const run = await runAgainst(device.targetFile(), { checks: [conformanceCoap], only: ['conformance.coap@coap'], ioTimeoutMs: 500, numRuns: 20, timeMs: 10_000 });
    const r = run.byId.get('conformance.coap@coap')!;
    const t = table(r);
    expect(ids(r, 'fail'), t).toEqual(Object.keys(REFERENCE_DEVIATIONS).sort());
    for (const [id, what] of Object.entries(REFERENCE_DEVIATIONS)) expect(verdictOf(r, id)?.reason, id).toMatch(what);
    expect(ids(r, 'inconclusive'), t).toEqual([]);
    // No observable resource, no upload resource, no separate response: skipped with the reason.
    expect(verdictOf(r, 'RFC7641:4.1-register')).toMatchObject({ verdict: 'skipped', reason: 'no observable resource: the listing marks none with obs' });
    expect(verdictOf(r, 'RFC7959:2.3-block1-continue')?.verdict).toBe('skipped');
    expect(r.findings.find((f) => f.summary.startsWith('RFC7252:4.3-ping-reset: '))?.evidence.transcript.map((e) => e.decoded)).toEqual([
      'case: CoAP ping (empty CON)',
      expect.stringMatching(/^CON empty \(ping\) mid=\d+ \[s\d+\]$/),
      expect.stringMatching(/^ACK 4\.04 mid=\d+ token=- \[s\d+\]$/),
    ]);
  }, 60_000);
});
