// robustness.flood (C16; EN 18031-1 RLM-1): a bounded flood on one server
// interface, while a probe in the interface's own protocol must keep being
// answered within the declared flood latency
// (declaration.performance.floodLatency, default DEFAULT_FLOOD_LATENCY_MS),
// and must be answered again within RECOVERY_MS once the flood has stopped.
//
// The floods, per protocol (each bounded in count and in time):
//   mqtt, mqtts, http, https  connections: up to MAX_CONNECTIONS TCP
//             connections (CONNECT_WIDTH being opened at a time, for at most
//             RAMP_MS) that send nothing, not even a TLS ClientHello, held
//             until the flood ends: the connection slots of a small device;
//   http, https  then slow requests (slowloris): SLOW_CONNECTIONS connections
//             (TLS for https) that each send a request head one byte every
//             SLOW_BYTE_MS and never finish it: its request readers;
//   coap      requests: up to MAX_REQUESTS confirmable GETs of
//             /.well-known/core at up to DATAGRAMS_PER_SECOND from
//             UDP_SOURCES source ports, as fast as the device answers (at
//             most UDP_WINDOW unanswered per port);
//   coaps     ClientHellos: up to MAX_HELLOS DTLS ClientHellos without a
//             cookie, sent the same way: answered statelessly (a
//             HelloVerifyRequest [RFC6347 4.2.1]) they cost a device
//             nothing; kept as handshake state they fill its table.
// The probe, one at a time, every PROBE_EVERY_MS from the flood's start: an
// anonymous MQTT CONNECT (a CONNACK, whatever its code), GET of the probe
// path (any HTTP reply), a CoAP ping (RST; or GET /.well-known/core when the
// device ignores pings), a DTLS handshake to the ServerHello with the
// declared suites, the cookie exchange followed (an alert counts too). A
// connection the device accepts and then closes or ignores is not an answer.
// The flood is held HOLD_MS after it is fully under way and until MIN_PROBES
// probes ran during it. A probe that gets no answer in time is confirmed at
// once by the next one, the flood still held: CONFIRM_MISSES misses in a row
// are a denial of service and end the flood; a single late probe followed by
// one answered in time is a stall (a loaded test machine shows those too),
// kept in the evidence and the reason, not a finding. Then every
// socket is closed and the device must answer a probe again within
// RECOVERY_MS (probed every PROBE_EVERY_MS).
// Verdicts: fail (high) when a probe during the flood got no answer in time,
// or the device did not come back after it, one finding per flood naming
// what was in flight when the probe failed and the probe's latency;
// inconclusive when the device did not answer before the flood, or the run
// was interrupted (unless an earlier flood already failed); pass otherwise,
// with the flood's figures and the probes' p50/max latency.
// Every socket is the check's own and is closed before it returns, aborted or
// not; what the device sends back on a flood connection is counted and
// dropped (a connection past READ_CAP bytes is closed), so a hostile device
// cannot hold the check. Not a property check: `gauntlet replay` of a finding
// (or `gauntlet run --only robustness.flood@<iface>` with the run's seed)
// runs the same flood again; the instance seed picks the CoAP message ids,
// tokens and ClientHello randoms.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as netConnect, type Socket } from 'node:net';
import { generate as coapGenerate } from 'coap-packet';
import type { Check, CheckContext, CheckOutcome, CoapInterface, Endpoint, Evidence, FindingDraft, HttpInterface, MqttInterface, Protocol, Target, TranscriptEntry } from '../../model/index.js';
import { DISCARD_TRANSCRIPT } from '../../core/transcript.js';
import { DEFAULT_FLOOD_LATENCY_MS } from '../../model/bench.js';
import type { Io } from '../../protocols/common/io.js';
import { dtlsClientHello } from '../../protocols/common/port-probe.js';
import { connectStream } from '../../protocols/common/stream.js';
import { coapExchange } from '../../protocols/coap/exchange.js';
import { SUITE_IDS_BY_NAME } from '../../protocols/dtls/codec.js';
import { describeOutcome, helloProbe } from '../../protocols/dtls/hello-probe.js';
import { httpExchange } from '../../protocols/http/exchange.js';
import { connectFor, mqttConnectAttempt } from '../../protocols/mqtt/connect-attempt.js';
import { ioOf } from '../io.js';
import { requirementsOf } from '../requirements.js';
import { FALLBACK_SUITE } from '../transport/dtls-handshake.js';

/** Connections of a connection flood. */
export const MAX_CONNECTIONS = 256;
/** Connects in progress at once (a flood, not a SYN storm). */
export const CONNECT_WIDTH = 8;
/** Connections of a slow-request flood. */
export const SLOW_CONNECTIONS = 32;
/** A slow request's next byte after this long, ms. */
export const SLOW_BYTE_MS = 200;
/** CoAP requests of a request flood. */
export const MAX_REQUESTS = 2000;
/** ClientHellos of a ClientHello flood. */
export const MAX_HELLOS = 1000;
/** Datagram floods send at most this many per second. */
export const DATAGRAMS_PER_SECOND = 2000;
/** Source ports a datagram flood sends from. */
export const UDP_SOURCES = 16;
/** Connections are opened for at most this long, ms. */
export const RAMP_MS = 1500;
/** The flood is held this long once it is fully under way, ms. */
export const HOLD_MS = 1000;
/** A probe starts this long after the one before started (or at once when that one took longer), ms. */
export const PROBE_EVERY_MS = 200;
/** Probes that must run while the flood is fully under way. */
export const MIN_PROBES = 3;
/** Probes in a row without an answer in time that make a finding (the first miss is confirmed by the next). */
export const CONFIRM_MISSES = 2;
/** After the flood the device must answer a probe again within this long, ms. */
export const RECOVERY_MS = 5000;
/** Bound on the whole check, with the run's time budget, ms. */
export const CHECK_CAP_MS = 30_000;
/** A flood connection the device sends more than this back on is closed. */
export const READ_CAP = 64 * 1024;
/** Unanswered datagrams per source port of a datagram flood. */
export const UDP_WINDOW = 8;
/** A flood datagram unanswered this long counts as lost, ms. */
const UDP_LOST_MS = 250;
/** Datagram floods send on this tick, ms. */
const TICK_MS = 10;

export type FloodKind = 'connections' | 'slow-requests' | 'requests' | 'client-hellos';

export const FLOOD_NAME: Readonly<Record<FloodKind, string>> = {
  connections: 'connection flood',
  'slow-requests': 'slow-request flood (slowloris)',
  requests: 'request flood',
  'client-hellos': 'ClientHello flood',
};

/** The floods an interface gets, in order. */
export function floodsFor(protocol: Protocol): readonly FloodKind[] {
  switch (protocol) {
    case 'mqtt':
    case 'mqtts':
      return ['connections'];
    case 'http':
    case 'https':
      return ['connections', 'slow-requests'];
    case 'coap':
      return ['requests'];
    case 'coaps':
      return ['client-hellos'];
  }
}

/**
 * The longest a probe may take during a flood: the target's
 * declaration.performance.floodLatencyMs, else DEFAULT_FLOOD_LATENCY_MS.
 */
export function floodLatencyOf(target: Target): { readonly ms: number; readonly declared: boolean } {
  const ms = target.declaration.performance?.floodLatencyMs;
  return ms === undefined ? { ms: DEFAULT_FLOOD_LATENCY_MS, declared: false } : { ms, declared: true };
}

export const robustnessFlood: Check = {
  id: 'robustness.flood',
  title: 'Floods (connections, slow requests, CoAP requests, DTLS ClientHellos): the device keeps answering in time and recovers',
  catalog: ['C16'],
  requirements: requirementsOf('C16'),
  protocols: ['mqtt', 'mqtts', 'coap', 'coaps', 'http', 'https'],
  phase: 'main',
  severity: 'high',
  remedy:
    'Bound what an unauthenticated peer can hold: cap the connections per service that have not authenticated yet, close those that send nothing within a second or two, and when the pool is full evict the oldest idle one so a new client still gets in; give every request head a deadline and never let a slow client keep a worker others need; answer DTLS ClientHellos with a stateless cookie first (RFC 6347 4.2.1); shed excess requests rather than queue them; recover on your own once the flood stops.',
  // Two floods of a few seconds each, their recovery waits, and the probes' bounds.
  timeoutMs: 60_000,
  budgeted: true,
  applies: (_t, iface) => (iface.role === 'server' ? undefined : `${iface.id}: the device is a client here; floods go to its servers`),
  run: (ctx) => floodInterface(ctx),
};

// ---------------------------------------------------------------------------
// Probes

interface Env {
  readonly ctx: CheckContext;
  readonly latencyMs: number;
  /** One line for the probe, e.g. `MQTT CONNECT`. */
  probeName: string;
  /** coap: the device ignores pings, so the probe is a GET of /.well-known/core. */
  coapGet: boolean;
  /** coaps: the suites the handshake probe offers. */
  readonly suites: readonly number[];
  readonly rng: () => number;
}

interface ProbeResult {
  /** The device answered in its protocol (in time or not). */
  readonly answered: boolean;
  readonly detail: string;
  readonly ms: number;
}

function probeNameOf(env: Env): string {
  const iface = env.ctx.iface;
  switch (iface.protocol) {
    case 'mqtt':
    case 'mqtts':
      return 'MQTT CONNECT';
    case 'http':
    case 'https':
      return `GET ${(iface as HttpInterface).probePath}`;
    case 'coap':
      return env.coapGet ? 'CoAP GET /.well-known/core' : 'CoAP ping';
    case 'coaps':
      return 'DTLS handshake';
  }
}

/** One probe, bounded by `timeoutMs`, recorded in the check's transcript. */
async function probeOnce(env: Env, timeoutMs: number): Promise<ProbeResult> {
  const { ctx } = env;
  const iface = ctx.iface;
  const io = ioOf(ctx, timeoutMs);
  const t0 = performance.now();
  const done = (answered: boolean, detail: string): ProbeResult => ({ answered, detail, ms: performance.now() - t0 });
  switch (iface.protocol) {
    case 'mqtt':
    case 'mqtts': {
      const m = iface as MqttInterface;
      const o = await mqttConnectAttempt(m, m.version, connectFor(m.version, {}), io, 'CONNECT (flood probe, anonymous)');
      if (o.kind === 'accepted' || o.kind === 'refused') return done(true, `CONNACK ${o.code}`);
      if (o.kind === 'closed') return done(false, 'closed without a CONNACK');
      if (o.kind === 'timeout') return done(false, `no CONNACK within ${timeoutMs} ms`);
      return done(false, o.kind === 'unreachable' ? `connect failed: ${o.error}` : `malformed reply: ${o.detail}`);
    }
    case 'http':
    case 'https': {
      const h = iface as HttpInterface;
      const o = await httpExchange(h, { method: 'GET', path: h.probePath }, io);
      if (o.kind === 'response') return done(true, `HTTP ${o.status}`);
      return done(false, o.kind === 'timeout' ? `no HTTP reply within ${timeoutMs} ms` : `request failed: ${o.error}`);
    }
    case 'coap': {
      const o = await coapExchange(iface, env.coapGet ? { method: 'GET', path: '/.well-known/core' } : undefined, io);
      if (o.kind === 'reset') return done(true, 'RST');
      if (o.kind === 'response') return done(true, `CoAP ${o.code}`);
      if (o.kind === 'timeout') return done(false, `no CoAP answer within ${timeoutMs} ms`);
      return done(false, o.kind === 'unreachable' ? `unreachable: ${o.error}` : `malformed reply: ${o.detail}`);
    }
    case 'coaps': {
      const o = await helloProbe(iface as CoapInterface, { suites: env.suites, cookie: 'follow' }, io);
      const answered = o.kind === 'server-hello' || o.kind === 'alert';
      return done(answered, o.kind === 'timeout' ? `${describeOutcome(o)} within ${timeoutMs} ms` : describeOutcome(o));
    }
  }
}

/**
 * Before the flood: is the device there at all? Asked twice when the first
 * probe goes unanswered (a busy device or test machine), so inconclusive
 * means it really was not there.
 */
async function baseline(env: Env): Promise<ProbeResult> {
  const first = await baselineOnce(env);
  if (first.answered || env.ctx.signal.aborted) return first;
  await pause(env.ctx.signal, PROBE_EVERY_MS);
  if (env.ctx.signal.aborted) return first;
  return baselineOnce(env);
}

/** One baseline probe (coap: a device that ignores pings gets GETs). */
async function baselineOnce(env: Env): Promise<ProbeResult> {
  const { ctx } = env;
  const first = await probeOnce(env, ctx.ioTimeoutMs);
  if (first.answered || ctx.iface.protocol !== 'coap' || ctx.signal.aborted) return first;
  env.coapGet = true;
  env.probeName = probeNameOf(env);
  const get = await probeOnce(env, ctx.ioTimeoutMs);
  if (!get.answered) {
    env.coapGet = false;
    env.probeName = probeNameOf(env);
  }
  return get.answered ? { ...get, detail: `ignored the CoAP ping, answered GET /.well-known/core (${get.detail})` } : first;
}

// ---------------------------------------------------------------------------
// Floods

interface InFlight {
  readonly n: number;
  readonly text: string;
}

interface Load {
  /** Resolves when the flood is fully under way (every connection tried, or the datagrams started). */
  readonly ramped: Promise<void>;
  inFlight(): InFlight;
  /** What the flood did, one line. */
  summary(): string;
  figures(): { readonly connections: number; readonly requests: number };
  /** Stops the flood and closes every socket of it; idempotent. */
  stop(): Promise<void>;
}


/** Connections that send nothing, held. */
function connectionFlood(ep: Endpoint, connectTimeoutMs: number): Load {
  const sockets = new Set<Socket>();
  let attempted = 0;
  let opened = 0;
  let open = 0;
  let refused = 0;
  let unanswered = 0;
  let closedByDevice = 0;
  let dropped = 0;
  let bytesBack = 0;
  let stopped = false;
  const rampEnd = Date.now() + RAMP_MS;
  const one = () =>
    new Promise<void>((resolve) => {
      attempted++;
      const s = netConnect({ host: ep.host, port: ep.port, noDelay: true });
      sockets.add(s);
      let connected = false;
      let ours = false;
      let got = 0;
      const timer = setTimeout(() => {
        unanswered++;
        ours = true;
        s.destroy();
      }, connectTimeoutMs);
      s.on('connect', () => {
        connected = true;
        clearTimeout(timer);
        opened++;
        open++;
        resolve();
      });
      s.on('data', (b: Buffer) => {
        got += b.length;
        bytesBack += b.length;
        if (got > READ_CAP && !ours) {
          dropped++;
          ours = true;
          s.destroy();
        }
      });
      s.on('error', () => {});
      s.on('close', () => {
        clearTimeout(timer);
        sockets.delete(s);
        if (connected) {
          open--;
          if (!stopped && !ours) closedByDevice++;
        } else if (!ours && !stopped) refused++;
        resolve();
      });
    });
  const worker = async () => {
    while (!stopped && attempted < MAX_CONNECTIONS && Date.now() < rampEnd) await one();
  };
  const ramped = Promise.all(Array.from({ length: CONNECT_WIDTH }, worker)).then(() => undefined);
  return {
    ramped,
    inFlight: () => ({
      n: open,
      text: `${open} connections were held (${opened} opened${closedByDevice ? `, ${closedByDevice} closed by the device` : ''}${refused ? `, ${refused} refused` : ''}${unanswered ? `, ${unanswered} connects unanswered` : ''})`,
    }),
    summary: () =>
      `${opened} of ${attempted} connections opened and held sending nothing (${closedByDevice} closed by the device, ${refused} refused, ${unanswered} connects unanswered within ${connectTimeoutMs} ms)` +
      `${bytesBack ? `; the device sent ${bytesBack} bytes on them` : ''}${dropped ? `, ${dropped} closed after more than ${READ_CAP} bytes` : ''}`,
    figures: () => ({ connections: opened, requests: 0 }),
    async stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
      await ramped;
    },
  };
}

/** Connections that send a request head one byte at a time and never finish it. */
function slowRequestFlood(iface: HttpInterface, io: Io): Load {
  const stopper = new AbortController();
  const floodIo: Io = { scope: io.scope, transcript: DISCARD_TRANSCRIPT, timeoutMs: io.timeoutMs, signal: stopper.signal, peer: io.peer };
  const host = `${iface.host.includes(':') ? `[${iface.host}]` : iface.host}:${iface.port}`;
  const head = Buffer.from(`GET ${iface.probePath} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: gauntlet-flood\r\nX-Gauntlet-Slow: `, 'latin1');
  const conns = new Map<Socket, { sent: number; got: number }>();
  let attempted = 0;
  let opened = 0;
  let failed = 0;
  let closedByDevice = 0;
  let answeredBy = 0;
  let bytes = 0;
  let stopped = false;
  const rampEnd = Date.now() + RAMP_MS;
  const write = (s: Socket, c: { sent: number }) => {
    if (s.destroyed || !s.writable) return;
    s.write(c.sent < head.length ? head.subarray(c.sent, c.sent + 1) : 'a');
    c.sent++;
    bytes++;
  };
  const one = async () => {
    attempted++;
    const o = await connectStream(iface, floodIo, `slow-request flood ${io.peer}`);
    if (o.kind !== 'connected') {
      if (!stopped) failed++;
      return;
    }
    const s = o.socket;
    if (stopped) {
      s.destroy();
      return;
    }
    opened++;
    const c = { sent: 0, got: 0 };
    conns.set(s, c);
    s.on('data', (b: Buffer) => {
      if (c.got === 0) answeredBy++;
      c.got += b.length;
      if (c.got > READ_CAP) s.destroy();
    });
    s.on('error', () => {});
    s.on('close', () => {
      conns.delete(s);
      if (!stopped) closedByDevice++;
    });
    write(s, c);
  };
  const worker = async () => {
    while (!stopped && attempted < SLOW_CONNECTIONS && Date.now() < rampEnd) await one();
  };
  const ramped = Promise.all(Array.from({ length: CONNECT_WIDTH }, worker)).then(() => undefined);
  const dribble = setInterval(() => {
    for (const [s, c] of conns) write(s, c);
  }, SLOW_BYTE_MS);
  return {
    ramped,
    inFlight: () => ({ n: conns.size, text: `${conns.size} connections were sending request heads a byte every ${SLOW_BYTE_MS} ms (${opened} opened${closedByDevice ? `, ${closedByDevice} closed by the device` : ''})` }),
    summary: () =>
      `${opened} of ${attempted} connections sent request heads a byte every ${SLOW_BYTE_MS} ms, never finished (${bytes} bytes in all; ${closedByDevice} closed by the device${answeredBy ? `, ${answeredBy} answered` : ''}${failed ? `, ${failed} could not connect` : ''})`,
    figures: () => ({ connections: opened, requests: 0 }),
    async stop() {
      stopped = true;
      clearInterval(dribble);
      stopper.abort();
      for (const s of conns.keys()) s.destroy();
      conns.clear();
      await ramped;
    },
  };
}

/**
 * Datagrams at up to DATAGRAMS_PER_SECOND from UDP_SOURCES source ports, each
 * made by `make(i)`; each port keeps at most UDP_WINDOW unanswered (one
 * unanswered for UDP_LOST_MS counts as lost), so the flood runs as fast as the
 * device answers up to the rate, and a stalled sender never catches up in one
 * burst (that would measure the loopback's buffers, not the device).
 */
function datagramFlood(ep: Endpoint, max: number, noun: string, make: (i: number) => Buffer): Load {
  const sources: { readonly socket: UdpSocket; outstanding: number; progress: number }[] = [];
  let sent = 0;
  let answers = 0;
  let errors = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const family = ep.host.includes(':') ? 'udp6' : 'udp4';
  const perTick = Math.ceil((DATAGRAMS_PER_SECOND * TICK_MS) / 1000);
  const ramped = (async () => {
    const opening: Promise<void>[] = [];
    for (let i = 0; i < UDP_SOURCES; i++) {
      const src = { socket: createSocket(family), outstanding: 0, progress: Date.now() };
      sources.push(src);
      src.socket.on('message', () => {
        answers++;
        src.outstanding = Math.max(0, src.outstanding - 1);
        src.progress = Date.now();
      });
      src.socket.on('error', () => errors++);
      opening.push(
        new Promise<void>((resolve) => {
          src.socket.once('connect', () => resolve());
          src.socket.once('error', () => resolve());
          src.socket.connect(ep.port, ep.host);
        }),
      );
    }
    await Promise.all(opening);
    if (stopped) return;
    let next = 0;
    const tick = () => {
      const now = Date.now();
      for (const src of sources) {
        if (src.outstanding > 0 && now - src.progress > UDP_LOST_MS) {
          src.outstanding = 0;
          src.progress = now;
        }
      }
      let budget = perTick;
      for (let tried = 0; budget > 0 && sent < max && !stopped && tried < sources.length; ) {
        const src = sources[next++ % sources.length]!;
        if (src.outstanding >= UDP_WINDOW) {
          tried++;
          continue;
        }
        tried = 0;
        try {
          if (src.outstanding === 0) src.progress = now;
          src.socket.send(make(sent));
          src.outstanding++;
        } catch {
          errors++;
        }
        sent++;
        budget--;
      }
      if (sent >= max) clearInterval(timer);
    };
    tick();
    timer = setInterval(tick, TICK_MS);
  })();
  return {
    ramped,
    inFlight: () => ({ n: sources.reduce((n, s) => n + s.outstanding, 0), text: `${sent} ${noun} had been sent (${answers} datagrams back)` }),
    summary: () => `${sent} ${noun} sent from ${sources.length} source ports at up to ${DATAGRAMS_PER_SECOND}/s (at most ${UDP_WINDOW} unanswered per port), ${answers} datagrams came back${errors ? `, ${errors} socket errors` : ''}`,
    figures: () => ({ connections: 0, requests: sent }),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await ramped;
      for (const { socket } of sources) {
        try {
          socket.close();
        } catch {
          // closed already
        }
      }
    },
  };
}

/** A small seeded generator (mulberry32): the instance seed picks message ids, tokens and randoms. */
function rngOf(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const bytesOf = (rng: () => number, n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rng() * 256)));

function startLoad(env: Env, kind: FloodKind): Load {
  const { ctx } = env;
  const iface = ctx.iface;
  ctx.scope.assert(iface.host, `${FLOOD_NAME[kind]} ${iface.id}`);
  const connectTimeoutMs = Math.min(ctx.ioTimeoutMs, env.latencyMs);
  switch (kind) {
    case 'connections':
      return connectionFlood(iface, connectTimeoutMs);
    case 'slow-requests':
      return slowRequestFlood(iface as HttpInterface, ioOf(ctx, connectTimeoutMs));
    case 'requests':
      return datagramFlood(iface, MAX_REQUESTS, 'CoAP CON GETs', () =>
        coapGenerate({
          messageId: Math.floor(env.rng() * 0x10000),
          token: bytesOf(env.rng, 2),
          confirmable: true,
          code: 'GET',
          options: [
            { name: 'Uri-Path', value: Buffer.from('.well-known') },
            { name: 'Uri-Path', value: Buffer.from('core') },
          ],
        }),
      );
    case 'client-hellos':
      return datagramFlood(iface, MAX_HELLOS, 'ClientHellos without a cookie', () => dtlsClientHello(bytesOf(env.rng, 32)));
  }
}

function plan(kind: FloodKind): string {
  switch (kind) {
    case 'connections':
      return `up to ${MAX_CONNECTIONS} TCP connections that send nothing, ${CONNECT_WIDTH} opened at a time`;
    case 'slow-requests':
      return `${SLOW_CONNECTIONS} connections sending a request head a byte every ${SLOW_BYTE_MS} ms`;
    case 'requests':
      return `${MAX_REQUESTS} CoAP CON GET /.well-known/core at up to ${DATAGRAMS_PER_SECOND}/s from ${UDP_SOURCES} source ports`;
    case 'client-hellos':
      return `${MAX_HELLOS} DTLS ClientHellos without a cookie at up to ${DATAGRAMS_PER_SECOND}/s from ${UDP_SOURCES} source ports`;
  }
}

// ---------------------------------------------------------------------------
// One flood: load, probes, recovery

interface Probe {
  readonly n: number;
  /** Started this long after the flood did, ms. */
  readonly at: number;
  readonly ms: number;
  readonly answered: boolean;
  /** Answered within the flood latency. */
  readonly ok: boolean;
  readonly detail: string;
  readonly inFlight: InFlight;
}

interface Recovery {
  readonly ok: boolean;
  /** After the flood stopped, ms. */
  readonly ms: number;
  readonly probes: number;
  readonly detail: string;
}

interface FloodResult {
  readonly kind: FloodKind;
  readonly probes: readonly Probe[];
  /** The probe that got no answer in time, confirmed by the next (the flood stopped there). */
  readonly failed: Probe | undefined;
  /** Probes without an answer in time that the next probe did not confirm. */
  readonly stalls: readonly Probe[];
  readonly summary: string;
  readonly figures: { readonly connections: number; readonly requests: number };
  /** Absent when interrupted. */
  readonly recovery: Recovery | undefined;
  readonly interrupted: boolean;
  readonly elapsedMs: number;
  readonly transcript: TranscriptEntry[];
}

/** Resolves after ms, or at once when the signal aborts. */
function pause(signal: AbortSignal, ms: number): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

const ms1 = (n: number) => (n < 10 ? n.toFixed(1) : String(Math.round(n)));

async function runFlood(env: Env, kind: FloodKind): Promise<FloodResult> {
  const { ctx, latencyMs } = env;
  const signal = ctx.signal;
  const t0 = performance.now();
  ctx.transcript.note(`${FLOOD_NAME[kind]} on ${ctx.iface.id}: ${plan(kind)}; a ${env.probeName} every ${PROBE_EVERY_MS} ms must be answered within ${latencyMs} ms`);
  const load = startLoad(env, kind);
  const onAbort = () => void load.stop();
  signal.addEventListener('abort', onAbort, { once: true });
  let rampedAt: number | undefined;
  void load.ramped.then(() => {
    rampedAt ??= performance.now();
  });
  const probes: Probe[] = [];
  let failed: Probe | undefined;
  const stalls: Probe[] = [];
  let missed: Probe[] = [];
  // Room for a miss and its confirmation at the very end.
  const capMs = RAMP_MS + HOLD_MS + CONFIRM_MISSES * latencyMs + 1000;
  try {
    while (!signal.aborted) {
      const start = performance.now();
      const inFlight = load.inFlight();
      const r = await probeOnce(env, latencyMs);
      if (signal.aborted) break;
      const p: Probe = { n: probes.length + 1, at: start - t0, ms: r.ms, answered: r.answered, ok: r.answered && r.ms <= latencyMs, detail: r.detail, inFlight };
      probes.push(p);
      ctx.transcript.note(`probe ${p.n}, ${ms1(p.at)} ms into the flood, while ${inFlight.text}: ${r.detail} after ${ms1(r.ms)} ms${p.ok ? '' : ' (no answer in time)'}`);
      if (!p.ok) {
        missed.push(p);
        if (missed.length >= CONFIRM_MISSES) {
          failed = missed[0];
          break;
        }
        // Confirmed (or not) at once, the flood still held.
        continue;
      }
      stalls.push(...missed);
      missed = [];
      const now = performance.now();
      const during = rampedAt === undefined ? 0 : probes.filter((q) => t0 + q.at >= rampedAt!).length;
      if (rampedAt !== undefined && now - rampedAt >= HOLD_MS && during >= MIN_PROBES) break;
      if (now - t0 >= capMs) break;
      await pause(signal, PROBE_EVERY_MS - (now - start));
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    await load.stop();
  }
  const summary = load.summary();
  ctx.transcript.note(`${FLOOD_NAME[kind]} stopped after ${ms1(performance.now() - t0)} ms, every socket closed: ${summary}`);
  // A miss the run did not get to confirm (interrupted) is a stall too.
  stalls.push(...(failed ? [] : missed));
  const base = { kind, probes, failed, stalls, summary, figures: load.figures() };
  if (signal.aborted) return { ...base, recovery: undefined, interrupted: true, elapsedMs: performance.now() - t0, transcript: ctx.transcript.take() };

  // Recovery: the device must answer again once the flood is gone.
  const r0 = performance.now();
  let n = 0;
  let last = '';
  let recovery: Recovery | undefined;
  while (!signal.aborted) {
    const left = RECOVERY_MS - (performance.now() - r0);
    if (left <= 0) break;
    // Whole milliseconds: what is left of the deadline is a fraction.
    const r = await probeOnce(env, Math.max(1, Math.round(Math.min(latencyMs, left))));
    n++;
    last = r.detail;
    if (r.answered) {
      recovery = { ok: true, ms: performance.now() - r0, probes: n, detail: r.detail };
      break;
    }
    await pause(signal, Math.min(PROBE_EVERY_MS, RECOVERY_MS - (performance.now() - r0)));
  }
  if (signal.aborted && !recovery) return { ...base, recovery: undefined, interrupted: true, elapsedMs: performance.now() - t0, transcript: ctx.transcript.take() };
  recovery ??= { ok: false, ms: performance.now() - r0, probes: n, detail: last };
  ctx.transcript.note(
    recovery.ok
      ? `after the flood: ${recovery.detail} ${ms1(recovery.ms)} ms after it stopped (probe ${recovery.probes})`
      : `after the flood: no answer within ${RECOVERY_MS} ms (${n} probes; the last: ${last})`,
  );
  return { ...base, recovery, interrupted: false, elapsedMs: performance.now() - t0, transcript: ctx.transcript.take() };
}

// ---------------------------------------------------------------------------
// The check

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function latencies(r: FloodResult): { p50: number; max: number; n: number } {
  const ms = r.probes.filter((p) => p.ok).map((p) => p.ms).sort((a, b) => a - b);
  return { p50: percentile(ms, 0.5), max: ms.at(-1) ?? 0, n: ms.length };
}

function floodLine(r: FloodResult): string {
  const l = latencies(r);
  const rec = r.recovery ? (r.recovery.ok ? `answered again ${ms1(r.recovery.ms)} ms after it` : `no answer within ${RECOVERY_MS} ms after it`) : 'interrupted';
  const stalls = r.stalls.length
    ? `; ${r.stalls.length} probe${r.stalls.length > 1 ? 's' : ''} late (${r.stalls.map((p) => `probe ${p.n}: ${p.detail} after ${ms1(p.ms)} ms`).join(', ')}), the next answered in time: a stall, not a denial of service`
    : '';
  return `${FLOOD_NAME[r.kind]}: ${r.summary}; ${l.n} probes answered in time, p50 ${ms1(l.p50)} ms, max ${ms1(l.max)} ms${stalls}; ${rec}`;
}

function findingOf(env: Env, r: FloodResult, declared: { text: string; source: string }): FindingDraft {
  const where = `${FLOOD_NAME[r.kind]} on ${env.ctx.iface.id}`;
  const rec = r.recovery!;
  const after = rec.ok ? `; it answered again ${ms1(rec.ms)} ms after the flood stopped` : `; it did not answer again within ${RECOVERY_MS} ms after the flood stopped (${rec.detail})`;
  let summary: string;
  if (r.failed) {
    const f = r.failed;
    const what = f.answered
      ? `was answered only after ${ms1(f.ms)} ms (${f.detail}), over the ${env.latencyMs} ms allowed`
      : `was not answered (${f.detail}, after ${ms1(f.ms)} ms; ${env.latencyMs} ms allowed)`;
    const next = r.probes[f.n];
    const confirmed = next ? `, and the next probe was not answered in time either (${next.detail} after ${ms1(next.ms)} ms)` : '';
    summary = `${where}: the ${env.probeName} probe ${what} while ${f.inFlight.text}, ${ms1(f.at)} ms into the flood${confirmed}${after}`;
  } else {
    const l = latencies(r);
    summary = `${where}: every probe during the flood was answered (${l.n}, max ${ms1(l.max)} ms), but the device did not answer again within ${RECOVERY_MS} ms after the flood stopped (${rec.detail})`;
  }
  const probeLines = r.probes.map((p) => `  probe ${p.n} at ${ms1(p.at)} ms (${p.inFlight.text}): ${p.detail} after ${ms1(p.ms)} ms${p.ok ? '' : ' <- no answer in time'}`).join('\n');
  return {
    summary,
    severity: 'high',
    evidence: {
      observed: `${FLOOD_NAME[r.kind]}: ${r.summary}\nprobes during the flood:\n${probeLines}\nafter the flood: ${rec.ok ? `${rec.detail} after ${ms1(rec.ms)} ms` : `no answer within ${RECOVERY_MS} ms (${rec.probes} probes; the last: ${rec.detail})`}\ninstance seed ${env.ctx.instance.seed}: \`gauntlet replay\` of this finding, or \`gauntlet run --only ${env.ctx.instance.id}\` with the run's seed, floods again`,
      declared: declared.text,
      source: declared.source,
      transcript: r.transcript,
    },
  };
}

async function floodInterface(ctx: CheckContext): Promise<CheckOutcome> {
  const t0 = performance.now();
  const iface = ctx.iface;
  const latency = floodLatencyOf(ctx.target);
  const decl = iface.protocol === 'coaps' ? ctx.target.declaration.dtls[iface.id] : undefined;
  const suites = (decl?.suites ?? []).map((n) => SUITE_IDS_BY_NAME.get(n)).filter((id): id is number => id !== undefined);
  const env: Env = {
    ctx,
    latencyMs: latency.ms,
    probeName: '',
    coapGet: false,
    suites: suites.length ? suites : [SUITE_IDS_BY_NAME.get(FALLBACK_SUITE)!],
    rng: rngOf(ctx.instance.seed),
  };
  env.probeName = probeNameOf(env);
  const declared = {
    text: `a ${env.probeName} probe answered within ${latency.ms} ms during each flood${latency.declared ? ' (declaration.performance.floodLatency)' : ` (the default; the target file declares no performance.floodLatency)`}, and again within ${RECOVERY_MS} ms after it (STANDARDS.md C16)`,
    source: latency.declared ? 'target:declaration.performance.floodLatency' : 'policy:C16',
  };
  const evidenceOf = (observed: string, transcript: TranscriptEntry[]): Evidence => ({ observed, declared: declared.text, source: declared.source, transcript });
  const budgetMs = Math.min(CHECK_CAP_MS, ctx.budget.timeMs);

  ctx.transcript.note(`before the flood: a ${env.probeName} probe within ${ctx.ioTimeoutMs} ms`);
  const before = await baseline(env);
  const kept: TranscriptEntry[] = ctx.transcript.take();
  if (ctx.signal.aborted) return { verdict: 'inconclusive', reason: 'interrupted before the flood', findings: [], cases: 0, evidence: evidenceOf('interrupted before the flood', kept) };
  if (!before.answered) {
    return { verdict: 'inconclusive', reason: `the device did not answer before the flood (${before.detail}): nothing to judge`, findings: [], cases: 0, evidence: evidenceOf(`before the flood: ${before.detail}`, kept) };
  }

  const results: FloodResult[] = [];
  const notRun: string[] = [];
  for (const kind of floodsFor(iface.protocol)) {
    if (ctx.signal.aborted) break;
    const last = results.at(-1);
    if (last && (last.interrupted || !last.recovery?.ok)) {
      notRun.push(`${FLOOD_NAME[kind]} (the device had not recovered)`);
      continue;
    }
    if (results.length > 0 && performance.now() - t0 + RAMP_MS + HOLD_MS + latency.ms > budgetMs) {
      notRun.push(`${FLOOD_NAME[kind]} (the time budget of ${budgetMs} ms ran out)`);
      continue;
    }
    const r = await runFlood(env, kind);
    results.push(r);
    kept.push(...r.transcript);
    ctx.caseDone(`${FLOOD_NAME[r.kind]}: ${r.summary}`);
  }

  const figures = results.reduce((a, r) => ({ connections: a.connections + r.figures.connections, requests: a.requests + r.figures.requests }), { connections: 0, requests: 0 });
  const allOk = results.flatMap((r) => r.probes.filter((p) => p.ok).map((p) => p.ms)).sort((a, b) => a - b);
  const stats = {
    floods: results.length,
    connectionsOpened: figures.connections,
    requestsSent: figures.requests,
    probes: results.reduce((n, r) => n + r.probes.length, 0),
    probeP50Ms: Math.round(percentile(allOk, 0.5) * 10) / 10,
    probeMaxMs: Math.round((allOk.at(-1) ?? 0) * 10) / 10,
    recoveryMaxMs: Math.round(Math.max(0, ...results.map((r) => r.recovery?.ms ?? 0)) * 10) / 10,
    floodLatencyMs: latency.ms,
    elapsedMs: Math.round(performance.now() - t0),
    seed: ctx.instance.seed,
  };
  const lines = results.map(floodLine);
  const observed = `before the flood: ${before.detail} after ${ms1(before.ms)} ms\n${lines.join('\n')}${notRun.length ? `\nnot run: ${notRun.join(', ')}` : ''}`;
  const findings = results.filter((r) => !r.interrupted && (r.failed || !r.recovery?.ok)).map((r) => findingOf(env, r, declared));
  const common = { cases: results.length, stats, evidence: evidenceOf(observed, kept) };
  const tail = `${notRun.length ? `; not run: ${notRun.join(', ')}` : ''}; seed ${ctx.instance.seed}`;
  if (findings.length) return { verdict: 'fail', reason: `${findings.map((f) => f.summary).join('; ')}${tail}`, findings, ...common };
  if (ctx.signal.aborted || results.some((r) => r.interrupted)) {
    return { verdict: 'inconclusive', reason: `interrupted during the ${FLOOD_NAME[results.at(-1)?.kind ?? floodsFor(iface.protocol)[0]!]}${lines.length ? `; ${lines.join('; ')}` : ''}`, findings: [], ...common };
  }
  if (notRun.length) return { verdict: 'inconclusive', reason: `${lines.join('; ')}${tail}`, findings: [], ...common };
  return { verdict: 'pass', reason: `every probe answered within ${latency.ms} ms during the flood, and after it: ${lines.join('; ')}${tail}`, findings: [], ...common };
}
