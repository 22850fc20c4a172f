// One client endpoint (one UDP socket) talking to the server under test, at
// the message layer: it sends exactly the datagram a statement needs (well
// formed or not), records every datagram both ways in the transcript, keeps
// what the server sent in order (and in the run-wide ServerLog the global
// statements judge), and acknowledges the server's CONs unless told not to.
// Not protocols/coap/exchange.ts: that one hides what a conformance oracle
// must see (which ACK came, for which message id, what else arrived).

import { randomBytes, randomInt } from 'node:crypto';
import type { Endpoint } from '../../../model/index.js';
import { openUdpChannel, type DatagramChannel } from '../../../protocols/common/channel.js';
import { hexOf, type Io } from '../../../protocols/common/io.js';
import { describeCoap, encodeCoap, type RawCoapMessage } from '../../../protocols/coap/arbitraries.js';
import { ACK, codeClass, CON, decodeStrict, describeWire, RST, type Decoded, type WireMessage } from './wire.js';

export interface Heard {
  /** performance.now() at arrival. */
  readonly at: number;
  readonly bytes: Buffer;
  readonly decoded: Decoded;
  /** Order of arrival in its session. */
  readonly index: number;
  readonly session: number;
}

/** Every datagram the server sent during the run, for the statements judged over all of them. */
export class ServerLog {
  readonly heard: Heard[] = [];
  /** Transcript line of each datagram, for a finding's evidence. */
  readonly lines = new Map<Heard, string>();
}

/** What the session does with a CON the server sends (a separate response, a notification). */
export type ConPolicy = 'ack' | 'none' | 'rst';

export interface Exchange {
  readonly sent: RawCoapMessage;
  /** The ACK echoing our message id (empty, or the piggybacked response). */
  readonly ack?: WireMessage;
  /** An RST echoing our message id. */
  readonly reset?: WireMessage;
  /** The response: piggybacked in an ACK, or separate/NON matched by token (or an ACK matched by token only). */
  readonly response?: WireMessage;
  /** A datagram that did not parse, received while waiting. */
  readonly malformed?: Heard;
  /** Everything received while waiting. */
  readonly heard: readonly Heard[];
}

export const decodedOf = (h: Heard) => (h.decoded.ok ? h.decoded.msg : undefined);

let sessions = 0;

export class CoapSession {
  readonly id = ++sessions;
  conPolicy: ConPolicy = 'ack';
  /** Overrides conPolicy per message (the observe model's Reset of one notification). */
  onCon: ((m: WireMessage) => ConPolicy | undefined) | undefined;
  private readonly inbox: Heard[] = [];
  private readonly waiters = new Set<() => void>();
  private nextMid = randomInt(0, 0x10000);
  private closed = false;

  private constructor(
    private readonly channel: DatagramChannel,
    private readonly io: Io,
    private readonly log: ServerLog,
  ) {
    channel.onMessage((b) => this.arrive(b));
  }

  static async open(ep: Endpoint, io: Io, log: ServerLog): Promise<CoapSession | { error: string }> {
    const opened = await openUdpChannel(ep, io, `coap ${io.peer}`);
    if (opened.kind !== 'open') return { error: opened.detail };
    return new CoapSession(opened.channel, io, log);
  }

  mid(): number {
    const m = this.nextMid;
    this.nextMid = (this.nextMid + 1) & 0xffff;
    return m;
  }

  token(n = 4): Buffer {
    return randomBytes(n);
  }

  /** Index of the next datagram to arrive: pass it to wait() to see only what comes after. */
  mark(): number {
    return this.inbox.length;
  }

  received(since = 0): readonly Heard[] {
    return this.inbox.slice(since);
  }

  send(m: RawCoapMessage | Buffer, label?: string): Buffer {
    const bytes = Buffer.isBuffer(m) ? m : encodeCoap(m);
    const decoded = label ?? (Buffer.isBuffer(m) ? `${bytes.length}-byte datagram` : describeCoap(m));
    this.io.transcript.record({ dir: 'sent', peer: this.io.peer, decoded: `${decoded} [s${this.id}]`, ...hexOf(bytes) });
    this.channel.send(bytes);
    return bytes;
  }

  /** The first datagram from index `since` on that `pred` accepts, or undefined after `ms`. */
  wait(pred: (h: Heard) => boolean, ms: number, since = this.mark()): Promise<Heard | undefined> {
    const found = () => this.inbox.slice(since).find(pred);
    const now = found();
    if (now || ms <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = (h: Heard | undefined) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        this.io.signal?.removeEventListener('abort', onAbort);
        resolve(h);
      };
      const check = () => {
        const h = found();
        if (h) done(h);
      };
      const onAbort = () => done(undefined);
      const timer = setTimeout(() => done(undefined), ms);
      this.waiters.add(check);
      this.io.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Waits `ms` and returns what arrived from `since` on. */
  async collect(ms: number, since = this.mark()): Promise<Heard[]> {
    await this.wait(() => false, ms, since);
    return this.inbox.slice(since);
  }

  /**
   * Sends a request and waits for its answer: an RST or an ACK echoing the
   * message id, or a message carrying the token and a response code. After an
   * empty ACK it waits up to `separateMs` more for the separate response. A
   * CON is sent again (same bytes, a retransmission) once, halfway through
   * the bound, when nothing of ours came back.
   */
  async exchange(m: RawCoapMessage, opts: { separateMs?: number; retransmit?: boolean; timeoutMs?: number } = {}): Promise<Exchange> {
    const since = this.mark();
    const bytes = this.send(m);
    const timeoutMs = opts.timeoutMs ?? this.io.timeoutMs;
    const token = Buffer.from(m.token);
    const isMid = (w: WireMessage) => w.messageId === m.messageId && (w.type === ACK || w.type === RST);
    const isToken = (w: WireMessage) => w.token.equals(token) && w.type !== RST && codeClass(w.code) >= 2;
    const ours = (h: Heard) => {
      const w = decodedOf(h);
      return w ? isMid(w) || isToken(w) : false;
    };
    let first = await this.wait(ours, m.type === CON && opts.retransmit !== false ? Math.floor(timeoutMs / 2) : timeoutMs, since);
    if (!first && m.type === CON && opts.retransmit !== false && !this.io.signal?.aborted) {
      this.send(bytes, `${describeCoap(m)} (retransmission)`);
      first = await this.wait(ours, timeoutMs - Math.floor(timeoutMs / 2), since);
    }
    let ack: WireMessage | undefined;
    let reset: WireMessage | undefined;
    let response: WireMessage | undefined;
    const take = (h: Heard) => {
      const w = decodedOf(h)!;
      if (w.type === RST && w.messageId === m.messageId) reset = w;
      else if (w.type === ACK && w.messageId === m.messageId) {
        ack = w;
        if (w.code !== 0) response = w;
      } else response = w;
    };
    if (first) {
      take(first);
      if (ack && !response && !reset) {
        const sep = await this.wait((h) => h.index > first!.index && ((x) => !!x && isToken(x))(decodedOf(h)), opts.separateMs ?? Math.max(timeoutMs, 2000), since);
        if (sep) take(sep);
      }
    }
    const heard = this.inbox.slice(since);
    const malformed = heard.find((h) => !h.decoded.ok);
    return { sent: m, ...(ack ? { ack } : {}), ...(reset ? { reset } : {}), ...(response ? { response } : {}), ...(malformed ? { malformed } : {}), heard };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.waiters]) w();
    await this.channel.close();
  }

  private arrive(bytes: Buffer): void {
    const decoded = decodeStrict(bytes);
    const h: Heard = { at: performance.now(), bytes, decoded, index: this.inbox.length, session: this.id };
    const line = `${decoded.ok ? describeWire(decoded.msg) : `malformed datagram: ${decoded.error}`} [s${this.id}]`;
    this.io.transcript.record({ dir: 'received', peer: this.io.peer, decoded: line, ...hexOf(bytes) });
    this.inbox.push(h);
    this.log.heard.push(h);
    this.log.lines.set(h, line);
    if (decoded.ok && decoded.msg.type === CON) {
      const policy = this.onCon?.(decoded.msg) ?? this.conPolicy;
      if (policy !== 'none') {
        const type = policy === 'ack' ? ACK : RST;
        this.send(Buffer.from([0x40 | (type << 4), 0, decoded.msg.messageId >> 8, decoded.msg.messageId & 0xff]), `${policy === 'ack' ? 'ACK' : 'RST'} empty mid=${decoded.msg.messageId}`);
      }
    }
    for (const w of [...this.waiters]) w();
  }
}

/** Opens a session or throws a typed reason the caller turns into an inconclusive statement. */
export class SessionError extends Error {}

export async function openSession(ep: Endpoint, io: Io, log: ServerLog): Promise<CoapSession> {
  const s = await CoapSession.open(ep, io, log);
  if ('error' in s) throw new SessionError(`cannot open a UDP socket to ${ep.host}:${ep.port}: ${s.error}`);
  return s;
}
