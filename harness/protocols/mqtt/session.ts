// A bare MQTT session over one TCP (mqtt) or TLS (mqtts) connection, with mqtt-packet as the codec:
// connect (optionally with a will), subscribe (the broker's real per-filter
// codes), publish, unsubscribe, and what was delivered. Not mqtt.js: an
// access check needs the raw SUBACK, no reconnects, no client-side topic
// validation, and an abrupt close that makes the broker send the will.

import type { Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { printable, type Io } from '../common/io.js';
import { connectStream, type TlsFacts } from '../common/stream.js';
import type { MqttEndpoint } from './connect-attempt.js';
import { connackMeaning } from './reason-codes.js';

export interface Delivery {
  readonly topic: string;
  readonly payload: Buffer;
  readonly retain: boolean;
}

export interface SessionOptions {
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  readonly will?: { readonly topic: string; readonly payload: Buffer; readonly retain?: boolean };
}

export type OpenResult = { readonly ok: true; readonly session: MqttSession } | { readonly ok: false; readonly detail: string };

export class MqttSession {
  private readonly deliveries: Delivery[] = [];
  private readonly waiters = new Map<number, (p: Packet) => void>();
  private nextId = 1;
  private ended = false;

  private constructor(
    private readonly socket: Socket,
    private readonly version: 4 | 5,
    private readonly io: Io,
    readonly label: string,
    /** What the TLS handshake showed (mqtts). */
    readonly tls: TlsFacts | undefined,
  ) {}

  /** Connects and waits for CONNACK; a refusal is a result, not an exception. */
  static async open(ep: MqttEndpoint, version: 4 | 5, opts: SessionOptions, io: Io, label: string): Promise<OpenResult> {
    // One bound for connect, handshake and CONNACK together.
    const deadline = Date.now() + io.timeoutMs;
    const opened = await connectStream({ ...ep, protocol: ep.protocol ?? 'mqtt' }, io, `mqtt ${io.peer}`);
    if (opened.kind === 'timeout') return { ok: false, detail: io.signal?.aborted ? 'aborted' : `no CONNACK within ${io.timeoutMs}ms` };
    if (opened.kind === 'unreachable') return { ok: false, detail: `cannot connect: ${opened.error}` };
    const socket = opened.socket;
    return new Promise<OpenResult>((resolve) => {
      const session = new MqttSession(socket, version, io, label, opened.tls);
      const parser = mqttPacket.parser({ protocolVersion: version });
      let connected = false;
      let settled = false;
      const done = (r: OpenResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!r.ok) socket.destroy();
        resolve(r);
      };
      const timer = setTimeout(() => done({ ok: false, detail: `no CONNACK within ${io.timeoutMs}ms` }), Math.max(0, deadline - Date.now()));
      parser.on('packet', (p: Packet) => {
        if (!connected) {
          if (p.cmd !== 'connack') return done({ ok: false, detail: `${p.cmd} instead of CONNACK` });
          const code = (version === 5 ? p.reasonCode : p.returnCode) ?? 0;
          io.transcript.record({ dir: 'received', peer: io.peer, decoded: `${label}: CONNACK ${code} (${connackMeaning(version, code)})` });
          if (code !== 0) return done({ ok: false, detail: `CONNACK ${code} (${connackMeaning(version, code)})` });
          connected = true;
          return done({ ok: true, session });
        }
        session.onPacket(p);
      });
      parser.on('error', (e: Error) => {
        io.transcript.record({ dir: 'received', peer: io.peer, decoded: `${label}: unparseable bytes: ${e.message}` });
        if (!connected) done({ ok: false, detail: e.message });
        else session.destroy();
      });
      socket.on('data', (d: Buffer) => parser.parse(d));
      socket.on('error', (e: NodeJS.ErrnoException) => {
        if (!connected) done({ ok: false, detail: `cannot connect: ${e.code ?? e.message}` });
      });
      socket.on('close', () => {
        session.ended = true;
        for (const w of session.waiters.values()) w({ cmd: 'disconnect' });
        session.waiters.clear();
        if (!connected) done({ ok: false, detail: 'closed without CONNACK' });
      });
      const connect: Packet = {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: version,
        clean: true,
        clientId: opts.clientId,
        keepalive: 60,
        ...(opts.username !== undefined ? { username: opts.username } : {}),
        ...(opts.password !== undefined ? { password: Buffer.from(opts.password) } : {}),
        ...(opts.will ? { will: { topic: opts.will.topic, payload: opts.will.payload, qos: 0, retain: opts.will.retain ?? false } } : {}),
      };
      const will = opts.will ? ` will ${opts.will.topic}` : '';
      io.transcript.record({ dir: 'sent', peer: io.peer, decoded: `${label}: CONNECT user ${opts.username ?? '(none)'}${will}` });
      socket.write(mqttPacket.generate(connect, { protocolVersion: version }));
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Everything delivered so far. */
  received(): readonly Delivery[] {
    return this.deliveries;
  }

  /** SUBSCRIBE one filter; resolves with the granted code (128/0x80+ = refused), or undefined on silence. */
  async subscribe(filter: string): Promise<number | undefined> {
    const reply = await this.request({ cmd: 'subscribe', messageId: 0, subscriptions: [{ topic: filter, qos: 0 }] }, `SUBSCRIBE ${printable(filter, 80)}`);
    if (reply?.cmd !== 'suback') return undefined;
    const code = reply.granted[0];
    const n = typeof code === 'number' ? code : 128;
    this.io.transcript.record({ dir: 'received', peer: this.io.peer, decoded: `${this.label}: SUBACK ${n}${n >= 128 ? ' (refused)' : ''}` });
    return n;
  }

  async unsubscribe(filter: string): Promise<void> {
    await this.request({ cmd: 'unsubscribe', messageId: 0, unsubscriptions: [filter] }, `UNSUBSCRIBE ${printable(filter, 80)}`);
  }

  /** PUBLISH at QoS 1 (so the broker has processed it when this resolves), or QoS 0 on a closed ack path. */
  async publish(topic: string, payload: Buffer, retain = false): Promise<void> {
    await this.request(
      { cmd: 'publish', messageId: 0, topic, payload, qos: 1, dup: false, retain },
      `PUBLISH ${printable(topic, 80)}${retain ? ' (retain)' : ''} "${printable(payload, 24)}"`,
    );
  }

  /** Waits until a delivery satisfies `pred`, or `ms` pass. */
  async waitFor(pred: (d: Delivery) => boolean, ms: number): Promise<Delivery | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.deliveries.find(pred);
      if (hit || Date.now() >= deadline || this.ended) return hit;
      await new Promise((r) => setTimeout(r, Math.min(10, Math.max(1, deadline - Date.now()))));
    }
  }

  /** Polite end: DISCONNECT (the will is discarded). */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.socket.end(mqttPacket.generate({ cmd: 'disconnect' }, { protocolVersion: this.version }));
    setTimeout(() => this.socket.destroy(), 50).unref();
  }

  /** Abrupt end: no DISCONNECT, so the broker publishes the will [MQTT-3.1.2-8]. */
  destroy(): void {
    this.ended = true;
    this.socket.destroy();
  }

  private request(packet: Packet & { messageId: number }, what: string): Promise<Packet | undefined> {
    if (this.ended) return Promise.resolve(undefined);
    const id = this.nextId++;
    if (this.nextId > 0xffff) this.nextId = 1;
    packet.messageId = id;
    this.io.transcript.record({ dir: 'sent', peer: this.io.peer, decoded: `${this.label}: ${what}` });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        this.io.transcript.record({ dir: 'note', peer: this.io.peer, decoded: `${this.label}: no reply to ${what.split(' ')[0]} within ${this.io.timeoutMs}ms` });
        resolve(undefined);
      }, this.io.timeoutMs);
      this.waiters.set(id, (p) => {
        clearTimeout(timer);
        resolve(p);
      });
      this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.version }));
    });
  }

  private onPacket(p: Packet): void {
    if (p.cmd === 'publish') {
      const payload = Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload);
      this.deliveries.push({ topic: p.topic, payload, retain: p.retain });
      this.io.transcript.record({ dir: 'received', peer: this.io.peer, decoded: `${this.label}: PUBLISH ${printable(p.topic, 80)}${p.retain ? ' (retained)' : ''} "${printable(payload, 24)}"` });
      if (p.qos === 1 && p.messageId !== undefined) this.socket.write(mqttPacket.generate({ cmd: 'puback', messageId: p.messageId }, { protocolVersion: this.version }));
      return;
    }
    if ('messageId' in p && p.messageId !== undefined) {
      const w = this.waiters.get(p.messageId);
      if (w) {
        this.waiters.delete(p.messageId);
        w(p);
      }
    }
  }
}
