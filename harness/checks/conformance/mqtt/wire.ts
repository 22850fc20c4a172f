// One raw MQTT connection for the conformance catalog: bytes out exactly as
// given, the server's bytes cut into frames and decoded by hand (fixed header
// kept), every frame and the close recorded in the transcript with its time.
// Connects through the scope guard and the run's bounds (io); outcomes are
// data, never exceptions.

import type { Socket } from 'node:net';
import { hexOf, printable, type Io } from '../../../protocols/common/io.js';
import { connectStream } from '../../../protocols/common/stream.js';
import type { MqttEndpoint } from '../../../protocols/mqtt/connect-attempt.js';
import { ackProps, ackReason, cutFrames, readProps, T, TYPE_NAME, viewPublish, type PublishView, type RawProp, type Version } from './frames.js';

/** A frame the server sent, decoded as far as the catalog needs. */
export interface WireFrame {
  /** Order of arrival on this connection, from 0. */
  readonly seq: number;
  /** ms since the connection opened. */
  readonly at: number;
  readonly first: number;
  readonly type: number;
  readonly flags: number;
  readonly body: Buffer;
  readonly raw: Buffer;
  readonly minimal: boolean;
  /** Packet identifier (acks, SUBACK, UNSUBACK, PUBLISH QoS > 0). */
  readonly id?: number;
  /** CONNACK return / reason code; v5 ack and DISCONNECT reason code. */
  readonly code?: number;
  /** SUBACK / UNSUBACK (v5) codes, one per filter. */
  readonly codes?: readonly number[];
  readonly sessionPresent?: boolean;
  /** v5 properties in wire order (undefined: none, or they did not parse). */
  readonly props?: readonly RawProp[];
  readonly pub?: PublishView;
  /** Why the frame could not be decoded. */
  readonly bad?: string;
}

export type WireOpen = { readonly ok: true; readonly wire: Wire } | { readonly ok: false; readonly detail: string };

/** One line for a transcript. */
export function describeFrame(f: WireFrame): string {
  const name = TYPE_NAME[f.type] ?? '?';
  const flags = f.type === T.PUBLISH ? '' : f.flags !== 0 ? ` flags=0x${f.flags.toString(16)}` : '';
  if (f.bad) return `${name}${flags} (undecodable: ${f.bad})`;
  switch (f.type) {
    case T.CONNACK:
      return `CONNACK code=0x${(f.code ?? 0).toString(16).padStart(2, '0')} sessionPresent=${f.sessionPresent ? 1 : 0}${flags}${propText(f.props)}`;
    case T.PUBLISH: {
      const p = f.pub!;
      return `PUBLISH qos=${p.qos} dup=${p.dup ? 1 : 0} retain=${p.retain ? 1 : 0}${p.id !== undefined ? ` id=${p.id}` : ''} topic="${printable(p.topic, 80)}" payload="${printable(p.payload, 32)}"${propText(p.props)}`;
    }
    case T.SUBACK:
    case T.UNSUBACK:
      return `${name} id=${f.id}${f.codes ? ` codes=[${f.codes.map((c) => `0x${c.toString(16)}`).join(',')}]` : ''}${flags}${propText(f.props)}`;
    case T.PUBACK:
    case T.PUBREC:
    case T.PUBREL:
    case T.PUBCOMP:
      return `${name} id=${f.id}${f.code ? ` reason=0x${f.code.toString(16)}` : ''}${flags}${propText(f.props)}`;
    case T.DISCONNECT:
      return `DISCONNECT reason=0x${(f.code ?? 0).toString(16)}${flags}${propText(f.props)}`;
    default:
      return `${name}${flags}`;
  }
}

function propText(list: readonly RawProp[] | undefined): string {
  if (!list || list.length === 0) return '';
  const one = ([id, v]: RawProp) => `0x${id.toString(16)}=${Array.isArray(v) ? `${printable(v[0], 16)}:${printable(v[1], 16)}` : Buffer.isBuffer(v) ? `<${v.toString('hex').slice(0, 16)}>` : typeof v === 'string' ? `"${printable(v, 24)}"` : String(v)}`;
  return ` props{${list.map(one).join(' ')}}`;
}

function decode(version: Version, seq: number, at: number, first: number, body: Buffer, raw: Buffer, minimal: boolean): WireFrame {
  const type = first >> 4;
  const base = { seq, at, first, type, flags: first & 0x0f, body, raw, minimal };
  const short = (need: number) => (body.length < need ? { ...base, bad: `${body.length}-byte body` } : undefined);
  switch (type) {
    case T.CONNACK: {
      const s = short(2);
      if (s) return s;
      const list = version === 5 && body.length > 2 ? readProps(body, 2)?.list : undefined;
      return { ...base, sessionPresent: (body[0]! & 1) === 1, code: body[1]!, props: list };
    }
    case T.PUBLISH: {
      const pub = viewPublish(version, first, body);
      return pub ? { ...base, pub, id: pub.id } : { ...base, bad: 'PUBLISH does not parse' };
    }
    case T.PUBACK:
    case T.PUBREC:
    case T.PUBREL:
    case T.PUBCOMP: {
      const s = short(2);
      if (s) return s;
      return { ...base, id: body.readUInt16BE(0), code: version === 5 ? ackReason(type, body) : undefined, props: version === 5 ? ackProps(type, body) : undefined };
    }
    case T.SUBACK:
    case T.UNSUBACK: {
      const s = short(2);
      if (s) return s;
      const id = body.readUInt16BE(0);
      if (version === 5) {
        const p = readProps(body, 2);
        if (!p) return { ...base, id, bad: 'properties do not parse' };
        return { ...base, id, props: p.list, codes: [...body.subarray(p.end)] };
      }
      return { ...base, id, codes: type === T.SUBACK ? [...body.subarray(2)] : undefined };
    }
    case T.DISCONNECT:
      return version === 5 ? { ...base, code: ackReason(type, body), props: ackProps(type, body) } : base;
    default:
      return base;
  }
}

export class Wire {
  /** Everything the server sent, in order. */
  readonly frames: WireFrame[] = [];
  private readonly inbox: WireFrame[] = [];
  private readonly wake = new Set<() => void>();
  private buffered: Buffer = Buffer.alloc(0);
  private readonly t0 = Date.now();
  private closedTime: number | undefined;
  /** Called for every frame as it arrives (before any take()). */
  onFrame: ((f: WireFrame) => void) | undefined;
  /** Set when the byte stream could not be cut into frames. */
  streamError: string | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly version: Version,
    private readonly io: Io,
    readonly label: string,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => this.note(`connection ${e.code ?? e.message}`));
    socket.on('close', () => {
      if (this.closedTime === undefined) {
        this.closedTime = Date.now() - this.t0;
        this.note(`closed by ${this.byUs ? 'us' : 'the server'} after ${this.closedTime}ms`);
      }
      this.notify();
    });
  }

  private byUs = false;

  static async open(ep: MqttEndpoint, version: Version, io: Io, label: string): Promise<WireOpen> {
    const opened = await connectStream({ ...ep, protocol: ep.protocol ?? 'mqtt' }, io, `mqtt ${io.peer}`);
    if (opened.kind === 'timeout') return { ok: false, detail: io.signal?.aborted ? 'aborted' : `no connection within ${io.timeoutMs}ms` };
    if (opened.kind === 'unreachable') return { ok: false, detail: `cannot connect: ${opened.error}` };
    opened.socket.setNoDelay?.(true);
    return { ok: true, wire: new Wire(opened.socket, version, io, label) };
  }

  /** ms since the connection opened. */
  now(): number {
    return Date.now() - this.t0;
  }

  /** When the connection closed (ms since open), if it did. */
  get closedAt(): number | undefined {
    return this.closedTime;
  }

  get closed(): boolean {
    return this.closedTime !== undefined;
  }

  /** Who closed the connection, once it is closed. */
  get closedBy(): 'us' | 'server' | undefined {
    return this.closedTime === undefined ? undefined : this.byUs ? 'us' : 'server';
  }

  note(text: string): void {
    this.io.transcript.record({ dir: 'note', peer: this.io.peer, decoded: `${this.label}: ${text}` });
  }

  send(bytes: Buffer, what: string): void {
    this.io.transcript.record({ dir: 'sent', peer: this.io.peer, decoded: `${this.label}: ${what}`, ...hexOf(bytes) });
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(bytes);
  }

  /** The first unread frame that satisfies `pred`, waiting up to `ms`; it is removed from the inbox. */
  async take(pred: (f: WireFrame) => boolean, ms: number): Promise<WireFrame | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0 || this.closed || this.io.signal?.aborted) return undefined;
      await this.sleep(left);
    }
  }

  /** Unread frames (a copy). */
  unread(): WireFrame[] {
    return [...this.inbox];
  }

  /** Whether the connection is closed within `ms` (frames that arrive meanwhile stay in the inbox). */
  async waitClosed(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline && !this.io.signal?.aborted) await this.sleep(deadline - Date.now());
    return this.closed;
  }

  /** Half-close: what we sent is delivered, then FIN. */
  end(): void {
    if (!this.closed) this.byUs = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 200).unref();
  }

  /** Abrupt close (no DISCONNECT): the server must treat it as a network failure. */
  destroy(): void {
    if (!this.closed) this.byUs = true;
    this.socket.destroy();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      this.wake.add(done);
    });
  }

  private notify(): void {
    for (const w of [...this.wake]) w();
  }

  private onData(chunk: Buffer): void {
    if (this.streamError) return;
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const cut = cutFrames(this.buffered);
    this.buffered = cut.rest;
    for (const c of cut.frames) {
      const f = decode(this.version, this.frames.length, this.now(), c.first, c.body, c.raw, c.minimal);
      this.frames.push(f);
      this.inbox.push(f);
      this.io.transcript.record({ dir: 'received', peer: this.io.peer, decoded: `${this.label}: ${describeFrame(f)}`, ...hexOf(c.raw) });
      this.onFrame?.(f);
    }
    if (cut.error) {
      this.streamError = cut.error;
      this.note(`cannot cut the stream into frames: ${cut.error}`);
    }
    if (cut.frames.length) this.notify();
  }
}
