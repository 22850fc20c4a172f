// Micro-benchmarks of the harness's hot paths (codecs, dictionary, seeds,
// property generation), each beside its baseline where one exists. Speed is
// measured here, never asserted in tests: test/bench only proves every suite runs.
//
// Each tinybench sample times a batch of operations, because single calls of
// ~100 ns are below what a timer read can resolve; all figures are per
// operation (sample time / batch), so p99 is the p99 of a batch's mean.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { generate as coapGenerate, parse as coapParse, type Packet as CoapPacket } from 'coap-packet';
import mqttPacket, { type Packet as MqttPacket } from 'mqtt-packet';
import { Bench } from 'tinybench';
import { nearMiss } from '../checks/authentication/credential-robustness.js';
import { DEFAULT_DICTIONARY, parseDictionary } from '../checks/authentication/dictionary.js';
import { CHECKS } from '../checks/registry.js';
import { packageRoot } from '../core/paths.js';
import { deriveSeed } from '../core/seed.js';
import type { DeviceIdentity } from '../model/index.js';
import { encodeConnect } from '../protocols/mqtt/connect-bytes.js';
import { ContentType, DTLS1_2, encodeClientHello, encodeHandshake, encodeRecord, HandshakeType, parseClientHello, parseHandshake, parseRecords } from '../protocols/dtls/codec.js';
import { hostileDatagramArb } from '../protocols/dtls/arbitraries.js';

export interface BenchTiming {
  /** Measured time per task (ms), not counting warm-up. */
  readonly timeMs: number;
  /** Warm-up time per task (ms); 0 = no warm-up. */
  readonly warmupMs: number;
}

/** ~0.4 s per task: every suite together stays well under 20 s on two cores. */
export const DEFAULT_TIMING: BenchTiming = { timeMs: 300, warmupMs: 100 };

export interface BenchTask {
  readonly name: string;
  /** The suite's yardstick (one per suite at most); other rows get an "x baseline" ratio against it. */
  readonly baseline?: boolean;
  /** Operations per call of `fn`. */
  readonly batch: number;
  /** Does `batch` operations; returns something derived from them so none is optimised away. */
  readonly fn: () => unknown;
}

export interface Suite {
  readonly id: string;
  readonly title: string;
  /** What one "op" is. */
  readonly unit: string;
  readonly tasks: readonly BenchTask[];
}

export interface TaskStats {
  readonly name: string;
  readonly baseline: boolean;
  readonly batch: number;
  readonly opsPerSec: number;
  readonly meanUs: number;
  readonly p99Us: number;
  /** tinybench samples (calls of the task), each of `batch` ops. */
  readonly samples: number;
  /** opsPerSec / the baseline's opsPerSec; undefined for the baseline itself or a suite without one. */
  readonly xBaseline?: number;
}

export interface SuiteResult {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly tasks: readonly TaskStats[];
}

// ---------------------------------------------------------------- 1. MQTT CONNECT encode

const CONNECT = { clientId: 'gauntlet-k3j9x0q2', username: 'admin', password: Buffer.from('hunter2-but-longer') } as const;

function mqttConnectEncode(): Suite {
  // Ours starts from the same strings as mqtt-packet and converts them as
  // connectFor() does on every attempt, so both rows build the same packet
  // from the same input.
  const ours = () =>
    encodeConnect({
      version: 4,
      clientId: Buffer.from(CONNECT.clientId, 'utf8'),
      username: Buffer.from(CONNECT.username, 'utf8'),
      password: CONNECT.password,
      keepalive: 30,
      cleanSession: true,
    });
  const theirs = () =>
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      clientId: CONNECT.clientId,
      username: CONNECT.username,
      password: CONNECT.password,
    });
  const a = ours();
  const b = theirs();
  if (!a.equals(b)) throw new Error(`bench mqtt-connect-encode: encodeConnect and mqtt-packet disagree: ${a.toString('hex')} vs ${b.toString('hex')}`);
  const batch = 32;
  return {
    id: 'mqtt-connect-encode',
    title: `MQTT CONNECT encode (v4, user + password, ${a.length} bytes)`,
    unit: 'packet',
    tasks: [
      { name: 'encodeConnect (harness)', batch, fn: () => repeat(batch, () => ours().length) },
      { name: 'mqtt-packet generate()', baseline: true, batch, fn: () => repeat(batch, () => theirs().length) },
    ],
  };
}

// ---------------------------------------------------------------- 2. MQTT CONNACK parse

/** v4 CONNACKs a broker sends back: accepted, accepted with session, bad credentials, not authorized. */
const CONNACKS: readonly Buffer[] = [
  Buffer.from([0x20, 0x02, 0x00, 0x00]),
  Buffer.from([0x20, 0x02, 0x01, 0x00]),
  Buffer.from([0x20, 0x02, 0x00, 0x04]),
  Buffer.from([0x20, 0x02, 0x00, 0x05]),
];

/** The least a client can do: one whole v4 CONNACK in one chunk [MQTT-3.2.2-1]; -1 = not one. */
function connackCodeByHand(b: Buffer): number {
  return b.length === 4 && b[0] === 0x20 && b[1] === 0x02 && (b[2]! & 0xfe) === 0 ? b[3]! : -1;
}

function mqttConnackParse(): Suite {
  let code = -1;
  const onPacket = (p: MqttPacket) => {
    code = p.cmd === 'connack' ? (p.returnCode ?? 0) : -1;
  };
  const onError = () => {
    code = -1;
  };
  // connect-attempt.ts makes one parser per attempt and feeds it one CONNACK.
  const perAttempt = (b: Buffer) => {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', onPacket);
    parser.on('error', onError);
    parser.parse(b);
    return code;
  };
  const shared = mqttPacket.parser({ protocolVersion: 4 });
  shared.on('packet', onPacket);
  shared.on('error', onError);
  const reused = (b: Buffer) => {
    shared.parse(b);
    return code;
  };
  for (const b of CONNACKS) {
    const want = connackCodeByHand(b);
    if (perAttempt(b) !== want || reused(b) !== want) throw new Error(`bench mqtt-connack-parse: parser and hand check disagree on ${b.toString('hex')}`);
  }
  const over = (batch: number, parse: (b: Buffer) => number) => () => {
    let sum = 0;
    for (let i = 0; i < batch; i++) sum += parse(CONNACKS[i & 3]!);
    return sum;
  };
  return {
    id: 'mqtt-connack-parse',
    title: 'MQTT CONNACK parse (v4, 4 bytes)',
    unit: 'packet',
    tasks: [
      { name: 'mqtt-packet parser, new per attempt', batch: 64, fn: over(64, perAttempt) },
      { name: 'mqtt-packet parser, reused', batch: 256, fn: over(256, reused) },
      { name: 'hand-rolled 4-byte check', baseline: true, batch: 4096, fn: over(4096, connackCodeByHand) },
    ],
  };
}

// ---------------------------------------------------------------- 3. CoAP encode + parse

function coapCodec(): Suite {
  // What coapExchange sends: CON GET with a 4-byte token and Uri-Path options.
  const request: CoapPacket = {
    messageId: 0x1234,
    token: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
    confirmable: true,
    code: 'GET',
    options: [
      { name: 'Uri-Path', value: Buffer.from('sensors') },
      { name: 'Uri-Path', value: Buffer.from('temperature') },
    ],
    payload: Buffer.alloc(0),
  };
  // What it gets back: a piggybacked ACK 2.05 with a JSON body.
  const reply = coapGenerate({
    messageId: 0x1234,
    token: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
    ack: true,
    code: '2.05',
    options: [{ name: 'Content-Format', value: Buffer.from([50]) }],
    payload: Buffer.from('{"temperature":21.5,"unit":"C","ts":1732200000}'),
  });
  const datagram = coapGenerate(request);
  const back = coapParse(datagram);
  if (back.code !== '0.01' || back.messageId !== 0x1234 || back.options.length !== 2) throw new Error('bench coap-codec: request does not round-trip');
  const batch = 32;
  return {
    id: 'coap-codec',
    title: `CoAP codec, coap-packet (request ${datagram.length} bytes, reply ${reply.length} bytes)`,
    unit: 'datagram',
    tasks: [
      { name: 'generate() request', batch, fn: () => repeat(batch, () => coapGenerate(request).length) },
      { name: 'parse() request', batch, fn: () => repeat(batch, () => coapParse(datagram).messageId) },
      { name: 'parse() reply', batch, fn: () => repeat(batch, () => coapParse(reply).payload.length) },
      { name: 'generate() + parse() request', batch, fn: () => repeat(batch, () => coapParse(coapGenerate(request)).messageId) },
    ],
  };
}

// ---------------------------------------------------------------- 3b. DTLS codec

function dtlsCodec(): Suite {
  // What a handshake probe sends: a ClientHello with a cookie, the CoAP PSK suites, no extensions.
  const hello = { version: DTLS1_2, random: Buffer.alloc(32, 7), sessionId: Buffer.alloc(0), cookie: Buffer.alloc(32, 9), suites: [0xc0a8, 0x00a8, 0xc0a4], compression: [0] };
  const datagram = Buffer.from(
    encodeRecord({ type: ContentType.handshake, version: DTLS1_2, epoch: 0, sequence: 1, fragment: encodeHandshake({ msgType: HandshakeType.client_hello, messageSeq: 1, body: encodeClientHello(hello) }) }),
  );
  const full = (b: Uint8Array): number => {
    const r = parseRecords(b).records[0];
    const h = r ? parseHandshake(r.fragment) : undefined;
    const m = h?.ok ? h.value[0] : undefined;
    const c = m ? parseClientHello(m.body) : undefined;
    return c?.ok ? c.value.suites.length : -1;
  };
  if (full(datagram) !== 3) throw new Error('bench dtls-codec: the ClientHello does not round-trip');
  // Hostile datagrams as the robustness check draws them (fixed seed: the same ones every run).
  const hostile = fc.sample(hostileDatagramArb(), { seed: 20261121, numRuns: 64 }).map((c) => c.bytes);
  let i = 0;
  const batch = 32;
  return {
    id: 'dtls-codec',
    title: `DTLS codec, hand-written (ClientHello datagram ${datagram.length} bytes; 64 hostile datagrams)`,
    unit: 'datagram',
    tasks: [
      { name: 'parseRecords() ClientHello', baseline: true, batch, fn: () => repeat(batch, () => parseRecords(datagram).records.length) },
      { name: 'record + handshake + ClientHello', batch, fn: () => repeat(batch, () => full(datagram)) },
      { name: 'encode ClientHello datagram', batch, fn: () => repeat(batch, () => encodeClientHello(hello).length) },
      { name: 'parse a hostile datagram (all layers)', batch, fn: () => repeat(batch, () => full(hostile[i++ % hostile.length]!)) },
    ],
  };
}

// ---------------------------------------------------------------- 4. Dictionary

/** Every template has a value, so every line of the file yields an entry. */
const IDENTITY: DeviceIdentity = { vendor: 'Example Corp', model: 'X200', serial: 'X200-004711', mac: '02:00:5e:10:00:42' };

function dictionary(): Suite {
  const text = readFileSync(join(packageRoot(), DEFAULT_DICTIONARY), 'utf8');
  const entries = parseDictionary(text, IDENTITY);
  if (entries.length === 0) throw new Error(`bench dictionary: no entries in ${DEFAULT_DICTIONARY}`);
  const lines = text.split(/\r?\n/).length - (text.endsWith('\n') ? 1 : 0);
  return {
    id: 'dictionary',
    title: `Dictionary, ${DEFAULT_DICTIONARY} (${lines} lines, ${entries.length} entries; file read once, outside the timing)`,
    unit: 'dictionary',
    tasks: [
      { name: 'parseDictionary', batch: 1, fn: () => parseDictionary(text, IDENTITY).length },
    ],
  };
}

// ---------------------------------------------------------------- 5. deriveSeed

function seeds(): Suite {
  // Instance ids as the planner builds them: every check on a target with a few interfaces.
  const ids = CHECKS.flatMap((c) => ['broker', 'broker-tls', 'sensors', 'web', 'web-admin'].map((iface) => `${c.id}@${iface}`));
  const runSeed = 1_234_567;
  return {
    id: 'derive-seed',
    title: `deriveSeed per instance id (${ids.length} ids like "${ids[0]}")`,
    unit: 'instance id',
    tasks: [
      {
        name: 'deriveSeed(runSeed, id)',
        batch: ids.length * 64,
        fn: () => {
          let x = 0;
          for (let r = 0; r < 64; r++) for (const id of ids) x ^= deriveSeed(runSeed + r, id);
          return x;
        },
      },
    ],
  };
}

// ---------------------------------------------------------------- 6. Near-miss credentials

function nearMissCredentials(): Suite {
  const arb = nearMiss('hunter2-but-longer');
  const batch = 100;
  let seed = 42;
  return {
    id: 'near-miss-arbitrary',
    title: 'Near-miss password arbitrary, fast-check fc.sample (as auth.credential-robustness draws them)',
    unit: 'value',
    tasks: [
      {
        name: `fc.sample(nearMiss, ${batch})`,
        batch,
        fn: () => fc.sample(arb, { numRuns: batch, seed: seed++ }).reduce((n, v) => n + v.pass.length, 0),
      },
    ],
  };
}

// ---------------------------------------------------------------- running

/** Calls `op` n times; sums what it returns so the calls stay observable. */
function repeat(n: number, op: () => number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += op();
  return sum;
}

/** Builds every suite; each checks once that its rows compute the same thing before timing them. */
export function hotPathSuites(): Suite[] {
  return [mqttConnectEncode(), mqttConnackParse(), coapCodec(), dtlsCodec(), dictionary(), seeds(), nearMissCredentials()];
}

export function runSuite(suite: Suite, timing: BenchTiming = DEFAULT_TIMING): SuiteResult {
  const bench = new Bench({
    name: suite.id,
    time: timing.timeMs,
    iterations: 8,
    warmup: timing.warmupMs > 0,
    warmupTime: timing.warmupMs,
    warmupIterations: 4,
    throws: true,
  });
  for (const t of suite.tasks) bench.add(t.name, t.fn);
  // Every task is synchronous: runSync keeps promise overhead out of the samples.
  bench.runSync();
  const raw = suite.tasks.map((t): Omit<TaskStats, 'xBaseline'> => {
    const r = bench.getTask(t.name)?.result;
    if (!r || r.error || !r.latency) throw new Error(`bench ${suite.id}: "${t.name}" produced no result${r?.error ? `: ${r.error.message}` : ''}`);
    // Latencies are ms per call; a call is `batch` ops. Mean latency, not tinybench's
    // mean of per-sample throughputs, which fast outliers inflate.
    const meanUs = (r.latency.mean * 1000) / t.batch;
    return {
      name: t.name,
      baseline: t.baseline === true,
      batch: t.batch,
      opsPerSec: 1e6 / meanUs,
      meanUs,
      p99Us: ((r.latency.p99 ?? r.latency.max) * 1000) / t.batch,
      samples: r.latency.samples.length,
    };
  });
  const base = raw.find((s) => s.baseline);
  return {
    id: suite.id,
    title: suite.title,
    unit: suite.unit,
    tasks: raw.map((s) => (base && !s.baseline ? { ...s, xBaseline: s.opsPerSec / base.opsPerSec } : s)),
  };
}
