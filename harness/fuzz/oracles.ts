// Black-box oracles of a fuzz campaign, judged from outside the device:
//   crash             the probe after a case is refused or reset (the port is
//                     closed: the service died)
//   hang              the probe gets no answer within the hang threshold
//   reboot            the probe answers, but state the device held is gone:
//                     MQTT, the persistent session of a sentinel client
//                     (CONNACK session present = 0); HTTP, a sentinel session
//                     token refused (401). Plain CoAP holds no state to watch.
//   invalid-response  a reply that does not parse under the protocol (MQTT
//                     packets by mqtt-packet, CoAP datagrams by coap-packet,
//                     an HTTP status line)
//   latency           the probe's median latency over a window grows past the
//                     baseline times a factor (resource creep)

import { parse as parseCoap } from 'coap-packet';
import mqttPacket from 'mqtt-packet';
import type { FuzzThresholds, FuzzTuning, HttpInterface, Interface, MqttInterface, OracleVerdict, Principal, Target, TargetControl } from '../model/index.js';
import type { Io } from '../protocols/common/io.js';
import { connectStream } from '../protocols/common/stream.js';
import { httpExchange } from '../protocols/http/exchange.js';
import { httpLogin } from '../protocols/http/login.js';
import { probe as liveness, type Liveness } from '../monitor/liveness.js';
import type { CaseTrace } from './send.js';

export const DEFAULT_THRESHOLDS: FuzzThresholds = { hangMs: 2000, latencyFactor: 10, latencyWindow: 20, latencyFloorMs: 250 };

/** How long a crashed or hung device is given to answer again, unless the target says (control.rebootWait). */
export const REBOOT_WAIT_MS = 15_000;

/** A run's thresholds: the hang threshold is the I/O bound (at least 500 ms), the latency ones as the lab set them. */
export function thresholdsFor(ioTimeoutMs: number, tuning: FuzzTuning = {}): FuzzThresholds {
  return { ...DEFAULT_THRESHOLDS, ...tuning, hangMs: Math.max(ioTimeoutMs, 500) };
}

/** How long to wait for a device to come back: its control's or target file's wait, else REBOOT_WAIT_MS (at least four I/O bounds). */
export function rebootWaitFor(target: Target, ioTimeoutMs: number, control?: TargetControl): number {
  return control?.rebootWaitMs ?? target.control?.rebootWaitMs ?? Math.max(REBOOT_WAIT_MS, 4 * ioTimeoutMs);
}

/** The invalid-response oracle: why the device's replies to a case do not parse, or undefined. */
export function invalidReply(iface: Interface, trace: CaseTrace): string | undefined {
  if (iface.protocol === 'coap' || iface.protocol === 'coaps') {
    for (const [i, datagrams] of trace.replies.entries()) {
      for (const d of datagrams) {
        try {
          parseCoap(d);
        } catch (e) {
          return `reply to datagram ${i + 1} is not a CoAP message (${(e as Error).message}): ${d.subarray(0, 24).toString('hex')}`;
        }
      }
    }
    return undefined;
  }
  const bytes = Buffer.concat(trace.replies.flat());
  if (bytes.length === 0) return undefined;
  if (iface.protocol === 'http' || iface.protocol === 'https') {
    return /^HTTP\/1\.[01] [1-5]\d\d/.test(bytes.subarray(0, 16).toString('latin1')) ? undefined : `reply does not start with an HTTP/1.1 status line: ${JSON.stringify(bytes.subarray(0, 40).toString('latin1'))}`;
  }
  const parser = mqttPacket.parser({ protocolVersion: (iface as MqttInterface).version });
  let error: string | undefined;
  parser.on('error', (e: Error) => (error ??= e.message));
  parser.parse(bytes);
  return error === undefined ? undefined : `reply is not valid MQTT (${error}): ${bytes.subarray(0, 24).toString('hex')}`;
}

export interface ProbeResult {
  readonly alive: boolean;
  readonly ms: number;
  /** Set when the probe shows a crash, hang or reboot. */
  readonly verdict?: OracleVerdict;
  readonly detail: string;
}

/**
 * The probe the campaign runs after every case. With a principal it is also
 * the sentinel of the reboot oracle (an MQTT persistent session, an HTTP
 * session token), set up by `start()`.
 */
export class FuzzProbe {
  private sentinelHeaders: Readonly<Record<string, string>> | undefined;
  private sentinelId: string;
  private sessionKnown = false;
  /** What the sentinel watches, for the report. */
  watching = 'liveness only';
  /** Probes sent so far (after cases, and while waiting for the device). */
  checks = 0;

  constructor(
    private readonly iface: Interface,
    private readonly principal: Principal | undefined,
    private readonly thresholds: FuzzThresholds,
    seed: number,
    /** A topic the principal may subscribe to: the sentinel's session holds a subscription there (brokers keep no session without one). */
    private readonly sentinelTopic = 'gauntlet/sentinel',
  ) {
    this.sentinelId = `gauntlet-sentinel-${(seed >>> 0).toString(36)}`;
  }

  /** Sets up the sentinel state (a persistent MQTT session, an HTTP session). */
  async start(io: Io): Promise<void> {
    if (!this.principal) return;
    if (this.iface.protocol === 'http' || this.iface.protocol === 'https') {
      const h = this.iface as HttpInterface;
      if (!h.auth || !h.protectedPath) return;
      const o = await httpLogin(h, { user: this.principal.user, pass: this.principal.pass }, this.io(io));
      this.sentinelHeaders = undefined;
      if (o.kind !== 'granted') {
        this.watching = `liveness only (the sentinel's login was refused: ${o.kind === 'refused' ? o.detail : o.kind})`;
        return;
      }
      // Calibrate: the token must open the protected route now.
      const v = await httpExchange(h, { method: 'GET', path: h.protectedPath, headers: o.headers }, this.io(io));
      if (v.kind === 'response' && v.status !== 401) {
        this.sentinelHeaders = o.headers;
        this.watching = `the session of ${this.principal.name} on GET ${h.protectedPath}`;
      } else {
        this.watching = `liveness only (the sentinel's session does not open GET ${h.protectedPath})`;
      }
    } else if (this.iface.protocol === 'mqtt' || this.iface.protocol === 'mqtts') {
      // Calibrate: the session must be there on the next CONNECT, or the oracle would see reboots that are not.
      this.sessionKnown = false;
      const r = await this.mqttSentinel(io, true);
      const again = r.kind === 'connack' && r.code === 0 ? await this.mqttSentinel(io) : r;
      if (again.kind === 'connack' && again.code === 0 && again.sessionPresent) {
        this.sessionKnown = true;
        this.watching = `the persistent MQTT session ${this.sentinelId} of ${this.principal.name} (subscribed to ${this.sentinelTopic})`;
      } else {
        this.watching = `liveness only (the broker kept no persistent session for the sentinel: ${again.kind === 'connack' ? `CONNACK ${again.code}, session present ${again.sessionPresent ? 1 : 0}` : again.detail})`;
      }
    }
  }

  private io(io: Io): Io {
    return { ...io, timeoutMs: this.thresholds.hangMs };
  }

  /**
   * Probes every 50 ms until the device answers, at most `withinMs` (and
   * never past `until`, a Date.now() time); stops early when `io` is aborted.
   */
  async awaitAlive(io: Io, withinMs: number, until = Infinity): Promise<{ readonly alive: boolean; readonly detail: string; readonly afterMs: number }> {
    const t0 = Date.now();
    const end = Math.min(t0 + withinMs, until);
    for (;;) {
      const p = await this.check(io);
      if (p.alive || io.signal?.aborted || Date.now() >= end) return { alive: p.alive, detail: p.detail, afterMs: Date.now() - t0 };
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async check(io: Io): Promise<ProbeResult> {
    this.checks++;
    const t0 = performance.now();
    // { ...r, ms }, written out: on every probe of a campaign, so kept to one shape per kind of result.
    const done = (r: Omit<ProbeResult, 'ms'>): ProbeResult => {
      const ms = performance.now() - t0;
      return r.verdict === undefined ? { alive: r.alive, detail: r.detail, ms } : { alive: r.alive, detail: r.detail, verdict: r.verdict, ms };
    };
    if (this.sessionKnown) {
      const r = await this.mqttSentinel(io);
      if (r.kind === 'connack') {
        if (r.code === 0 && !r.sessionPresent) {
          return done({ alive: true, detail: 'CONNACK 0, session present 0', verdict: { oracle: 'reboot', detail: `the sentinel's persistent session ${this.sentinelId} was gone (CONNACK session present = 0): the broker lost its state` } });
        }
        return done({ alive: true, detail: `CONNACK ${r.code}${r.code === 0 ? ', session present 1' : ''}` });
      }
      return done(this.dead(r.detail, r.cause));
    }
    if (this.sentinelHeaders) {
      const h = this.iface as HttpInterface;
      const o = await httpExchange(h, { method: 'GET', path: h.protectedPath!, headers: this.sentinelHeaders }, this.io(io));
      if (o.kind === 'response') {
        if (o.status === 401) return done({ alive: true, detail: 'answered 401', verdict: { oracle: 'reboot', detail: `the sentinel session was refused (GET ${h.protectedPath} answered 401): the device lost its sessions` } });
        return done({ alive: true, detail: `GET ${h.protectedPath} answered ${o.status}` });
      }
      return done(o.kind === 'unreachable' ? this.dead(`unreachable: ${o.error}`, 'refused') : this.dead(`no HTTP reply within ${this.thresholds.hangMs} ms`, 'silent'));
    }
    const l = await liveness(this.iface, this.io(io));
    return done(l.alive ? { alive: true, detail: l.detail } : this.dead(l.detail, l.cause ?? 'silent'));
  }

  /** A refused or reset probe is a crash; a silent one, a hang. */
  private dead(detail: string, cause: NonNullable<Liveness['cause']>): Omit<ProbeResult, 'ms'> {
    const crash = cause === 'refused';
    return {
      alive: false,
      detail,
      verdict: crash ? { oracle: 'crash', detail: `probe: ${detail}` } : { oracle: 'hang', detail: `probe: ${detail} (hang threshold ${this.thresholds.hangMs} ms)` },
    };
  }

  /** One CONNECT (clean=false, the sentinel's client id, the principal's credential), then DISCONNECT. */
  private async mqttSentinel(io: Io, subscribe = false): Promise<{ kind: 'connack'; code: number; sessionPresent: boolean } | { kind: 'down'; detail: string; cause: NonNullable<Liveness['cause']> }> {
    const m = this.iface as MqttInterface;
    const pio = this.io(io);
    const opened = await connectStream(m, pio, `fuzz probe ${io.peer}`);
    if (opened.kind !== 'connected') return opened.kind === 'unreachable' ? { kind: 'down', detail: `connect failed: ${opened.error}`, cause: 'refused' } : { kind: 'down', detail: `no connection within ${this.thresholds.hangMs} ms`, cause: 'silent' };
    const socket = opened.socket;
    try {
      return await new Promise((resolve) => {
        const parser = mqttPacket.parser({ protocolVersion: m.version });
        const timer = setTimeout(() => resolve({ kind: 'down', detail: `no CONNACK within ${this.thresholds.hangMs} ms`, cause: 'silent' }), this.thresholds.hangMs);
        let connack: { kind: 'connack'; code: number; sessionPresent: boolean } | undefined;
        const bye = () => {
          clearTimeout(timer);
          socket.write(mqttPacket.generate({ cmd: 'disconnect' }, { protocolVersion: m.version }));
          resolve(connack!);
        };
        parser.on('packet', (p: mqttPacket.Packet) => {
          if (p.cmd === 'suback' && connack) return bye();
          if (p.cmd !== 'connack') return;
          const code = (m.version === 5 ? p.reasonCode : p.returnCode) ?? -1;
          connack = { kind: 'connack', code, sessionPresent: p.sessionPresent === true };
          if (code !== 0) {
            clearTimeout(timer);
            return resolve(connack);
          }
          if (!subscribe) return bye();
          socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: this.sentinelTopic, qos: 1 }] }, { protocolVersion: m.version }));
        });
        parser.on('error', (e: Error) => (clearTimeout(timer), resolve({ kind: 'down', detail: `CONNACK unparsable: ${e.message}`, cause: 'silent' })));
        socket.on('data', (b: Buffer) => parser.parse(b));
        socket.on('error', (e: NodeJS.ErrnoException) => (clearTimeout(timer), resolve({ kind: 'down', detail: `reset (${e.code ?? e.message})`, cause: 'refused' })));
        socket.on('close', () => (clearTimeout(timer), resolve({ kind: 'down', detail: 'connection closed before CONNACK', cause: 'refused' })));
        socket.write(
          mqttPacket.generate(
            {
              cmd: 'connect',
              protocolId: 'MQTT',
              protocolVersion: m.version,
              clean: false,
              keepalive: 30,
              clientId: this.sentinelId,
              username: this.principal!.user,
              password: Buffer.from(this.principal!.pass),
              ...(m.version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
            },
            { protocolVersion: m.version },
          ),
        );
      });
    } finally {
      setTimeout(() => socket.destroy(), 5);
    }
  }
}

/** The latency oracle: a rolling median of probe times against the median of the first ones. */
export class LatencyWatch {
  private readonly base: number[] = [];
  /** The baseline's median, once the baseline is complete (it does not change after). */
  private baseMedian: number | undefined;
  /** The last probe times, oldest first. */
  private readonly window: number[] = [];
  /** The same times, ascending: the window's median without sorting it for every probe. */
  private readonly sorted: number[] = [];
  constructor(private readonly t: FuzzThresholds) {}

  /** Adds a probe time; returns a verdict the first time the window's median passes the threshold. */
  add(ms: number): OracleVerdict | undefined {
    if (this.base.length < this.t.latencyWindow) {
      this.base.push(ms);
      return undefined;
    }
    this.window.push(ms);
    this.sorted.splice(upperBound(this.sorted, ms), 0, ms);
    if (this.window.length > this.t.latencyWindow) this.sorted.splice(indexOf(this.sorted, this.window.shift()!), 1);
    if (this.window.length < this.t.latencyWindow) return undefined;
    const b = (this.baseMedian ??= median(this.base));
    const w = this.sorted[Math.floor(this.sorted.length / 2)]!;
    // An absolute floor keeps jitter (a loaded test host stretches a 2 ms probe to 50) from counting as creep.
    if (w > b * this.t.latencyFactor && w - b > this.t.latencyFloorMs) {
      return { oracle: 'latency', detail: `probe median ${w.toFixed(1)} ms over the last ${this.t.latencyWindow} cases, baseline ${b.toFixed(1)} ms (threshold x${this.t.latencyFactor} and +${this.t.latencyFloorMs} ms)` };
    }
    return undefined;
  }

  get baseline(): number | undefined {
    return this.base.length ? median(this.base) : undefined;
  }
}

/** The index before which `x` goes in ascending `xs`, after any equal to it. */
function upperBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The index of a value that is in ascending `xs`. */
function indexOf(xs: readonly number[], x: number): number {
  const i = upperBound(xs, x) - 1;
  return xs[i] === x ? i : xs.indexOf(x);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
