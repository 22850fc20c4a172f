// A client session for the catalog's well-behaved steps (connect, subscribe,
// publish with its QoS handshake, deliveries acknowledged or not): the
// packets a statement is NOT about, so that the one it is about stands
// alone. Every connection is a Wire, registered with the trial (closed when
// the case ends) and with the run (for the passive statements).

import { printable } from '../../../protocols/common/io.js';
import { PINGREQ, PROP, propOf, rawAck, rawConnect, rawDisconnect, rawPublish, rawSubscribe, rawUnsubscribe, T, type RawConnect, type RawProp } from './frames.js';
import { SetupError, type Credentials, type Trial } from './trial.js';
import { Wire, type WireFrame } from './wire.js';

export interface ConnectOptions {
  readonly clientId?: string;
  readonly clean?: boolean;
  readonly keepalive?: number;
  readonly will?: RawConnect['will'];
  /** v5 CONNECT properties. */
  readonly props?: readonly RawProp[];
  /** Default: the run's principal; null: none. */
  readonly cred?: Credentials | null;
  /** `auto` (default): PUBACK / PUBREC / PUBCOMP sent as deliveries arrive. */
  readonly ack?: 'auto' | 'manual';
}

export interface Sub {
  readonly topic: string;
  readonly qos?: number;
  /** v5 options: No Local, Retain As Published, Retain Handling. */
  readonly nl?: boolean;
  readonly rap?: boolean;
  readonly rh?: number;
}

export interface Delivery {
  readonly frame: WireFrame;
  /** Topic name, an inbound v5 alias resolved. */
  readonly topic: string;
  readonly topicBytes: Buffer;
  readonly payload: Buffer;
  readonly text: string;
  readonly qos: number;
  readonly dup: boolean;
  readonly retain: boolean;
  readonly id?: number;
  readonly props?: readonly RawProp[];
}

export type OpenResult =
  | { readonly ok: true; readonly peer: Peer }
  /** The connection opened but the CONNECT was not accepted: the CONNACK (if any) and the wire. */
  | { readonly ok: false; readonly detail: string; readonly connack?: WireFrame; readonly wire?: Wire };

export const subOptions = (s: Sub): number => (s.qos ?? 0) | (s.nl ? 0x04 : 0) | (s.rap ? 0x08 : 0) | ((s.rh ?? 0) << 4);

export class Peer {
  readonly deliveries: Delivery[] = [];
  private nextId = 1;
  private readonly aliases = new Map<number, string>();

  private constructor(
    readonly t: Trial<string>,
    readonly wire: Wire,
    readonly clientId: string,
    readonly connack: WireFrame,
    readonly ack: 'auto' | 'manual',
  ) {
    wire.onFrame = (f) => this.onFrame(f);
    for (const f of wire.frames.filter((x) => x.seq > connack.seq)) this.onFrame(f);
  }

  get label(): string {
    return this.wire.label;
  }

  /** Opens a raw connection registered with the trial and the run; SetupError when it cannot. */
  static async openWire(t: Trial<string>, label: string, o: { authMethod?: boolean } = {}): Promise<Wire> {
    const env = t.env;
    const opened = await Wire.open(env.ep, env.version, env.io, label);
    if (!opened.ok) throw new SetupError(`${label}: ${opened.detail}`);
    t.wires.push(opened.wire);
    env.wires.push({ wire: opened.wire, authMethod: o.authMethod ?? false });
    return opened.wire;
  }

  /** The CONNECT for these options, hand-encoded. */
  static connectBytes(t: Trial<string>, clientId: string, o: ConnectOptions): Buffer {
    const cred = o.cred === null ? {} : (o.cred ?? t.env.cred);
    return rawConnect({
      version: t.v,
      clientId,
      clean: o.clean ?? true,
      keepalive: o.keepalive ?? 60,
      ...(cred.username !== undefined ? { username: cred.username } : {}),
      ...(cred.password !== undefined ? { password: cred.password } : {}),
      ...(o.will ? { will: o.will } : {}),
      ...(o.props ? { props: o.props } : {}),
    });
  }

  static async tryOpen(t: Trial<string>, label: string, o: ConnectOptions = {}): Promise<OpenResult> {
    const clientId = o.clientId ?? t.env.clientId();
    const wire = await Peer.openWire(t, label, { authMethod: propOf(o.props, PROP.authMethod) !== undefined });
    const will = o.will ? ` will "${printable(o.will.topic, 60)}"${o.will.retain ? ' (retain)' : ''}` : '';
    wire.send(Peer.connectBytes(t, clientId, o), `CONNECT clientId="${printable(clientId, 40)}" clean=${(o.clean ?? true) ? 1 : 0} keepalive=${o.keepalive ?? 60}${will}`);
    const connack = await wire.take((f) => f.type === T.CONNACK, t.env.waitMs);
    if (!connack) return { ok: false, detail: wire.closed ? 'closed without CONNACK' : `no CONNACK within ${t.env.waitMs}ms`, wire };
    if (connack.code !== 0) {
      // A refusal must be followed by the server closing [MQTT-3.2.2-5] [MQTT5 3.2.2-7]: give it the time to (judged passively).
      await wire.waitClosed(t.env.waitMs);
      return { ok: false, detail: `CONNACK code 0x${(connack.code ?? 0).toString(16)}`, connack, wire };
    }
    return { ok: true, peer: new Peer(t, wire, clientId, connack, o.ack ?? 'auto') };
  }

  /** Connects; SetupError when the server does not accept. */
  static async open(t: Trial<string>, label: string, o: ConnectOptions = {}): Promise<Peer> {
    const r = await Peer.tryOpen(t, label, o);
    if (!r.ok) throw new SetupError(`${label}: CONNECT not accepted: ${r.detail}`);
    return r.peer;
  }

  id(): number {
    const n = this.nextId++;
    if (this.nextId > 0xffff) this.nextId = 1;
    return n;
  }

  /** SUBSCRIBE; the SUBACK with the same identifier, or undefined. */
  async subscribe(subs: readonly (string | Sub)[], o: { props?: readonly RawProp[]; id?: number } = {}): Promise<WireFrame | undefined> {
    const list = subs.map((s) => (typeof s === 'string' ? { topic: s, qos: 0 } : s));
    const id = o.id ?? this.id();
    const what = list.map((s) => `"${printable(s.topic, 60)}" q${s.qos ?? 0}${s.nl ? ' nl' : ''}${s.rap ? ' rap' : ''}${s.rh ? ` rh${s.rh}` : ''}`).join(', ');
    this.wire.send(rawSubscribe(this.t.v, id, list.map((s) => ({ topic: s.topic, options: subOptions(s) })), { props: o.props }), `SUBSCRIBE id=${id} ${what}`);
    return this.wire.take((f) => f.type === T.SUBACK && f.id === id, this.t.env.waitMs);
  }

  /** SUBSCRIBE that must be granted (every code below 0x80); SetupError otherwise. */
  async mustSubscribe(subs: readonly (string | Sub)[], o: { props?: readonly RawProp[] } = {}): Promise<WireFrame> {
    const ack = await this.subscribe(subs, o);
    if (!ack) throw new SetupError(`${this.label}: no SUBACK within ${this.t.env.waitMs}ms`);
    if ((ack.codes ?? []).some((c) => c >= 0x80) || (ack.codes ?? []).length !== subs.length) {
      throw new SetupError(`${this.label}: subscription refused (SUBACK codes ${JSON.stringify(ack.codes)})`);
    }
    return ack;
  }

  async unsubscribe(filters: readonly string[], id = this.id()): Promise<WireFrame | undefined> {
    this.wire.send(rawUnsubscribe(this.t.v, id, filters), `UNSUBSCRIBE id=${id} ${filters.map((f) => `"${printable(f, 60)}"`).join(', ')}`);
    return this.wire.take((f) => f.type === T.UNSUBACK && f.id === id, this.t.env.waitMs);
  }

  /**
   * PUBLISH with its handshake: QoS 1 waits for PUBACK, QoS 2 for PUBREC then
   * PUBCOMP. Resolves with the acknowledgements that came (by identifier).
   */
  async publish(
    topic: string,
    payload: string | Buffer,
    o: { qos?: number; retain?: boolean; dup?: boolean; id?: number; props?: readonly RawProp[]; complete?: boolean } = {},
  ): Promise<{ id?: number; ack?: WireFrame; comp?: WireFrame }> {
    const qos = o.qos ?? 0;
    const id = qos > 0 ? (o.id ?? this.id()) : undefined;
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
    this.wire.send(
      rawPublish({ version: this.t.v, topic, qos, id, dup: o.dup, retain: o.retain, props: o.props, payload: body }),
      `PUBLISH qos=${qos}${id !== undefined ? ` id=${id}` : ''}${o.dup ? ' dup' : ''}${o.retain ? ' retain' : ''} "${printable(topic, 80)}" "${printable(body, 24)}"`,
    );
    if (qos === 0) return {};
    const want = qos === 1 ? T.PUBACK : T.PUBREC;
    const ack = await this.wire.take((f) => f.type === want && f.id === id, this.t.env.waitMs);
    if (qos === 1 || !ack || (o.complete ?? true) === false || (ack.code ?? 0) >= 0x80) return { id, ack };
    this.wire.send(rawAck(T.PUBREL, id!), `PUBREL id=${id}`);
    const comp = await this.wire.take((f) => f.type === T.PUBCOMP && f.id === id, this.t.env.waitMs);
    return { id, ack, comp };
  }

  /** PUBLISH that must be accepted (acknowledged below 0x80 at QoS > 0); SetupError otherwise. */
  async mustPublish(topic: string, payload: string | Buffer, o: { qos?: number; retain?: boolean; props?: readonly RawProp[] } = {}): Promise<void> {
    const r = await this.publish(topic, payload, o);
    const qos = o.qos ?? 0;
    if (qos === 0) return;
    if (!r.ack) throw new SetupError(`${this.label}: no ${qos === 1 ? 'PUBACK' : 'PUBREC'} within ${this.t.env.waitMs}ms`);
    if ((r.ack.code ?? 0) >= 0x80) throw new SetupError(`${this.label}: PUBLISH refused (reason 0x${r.ack.code!.toString(16)})`);
    if (qos === 2 && !r.comp) throw new SetupError(`${this.label}: no PUBCOMP within ${this.t.env.waitMs}ms`);
  }

  /** The first delivery (already here or arriving within `ms`) that satisfies `pred`. */
  async waitFor(pred: (d: Delivery) => boolean, ms = this.t.env.waitMs): Promise<Delivery | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.deliveries.find(pred);
      if (hit) return hit;
      if (Date.now() >= deadline || this.wire.closed) return undefined;
      await this.t.sleep(Math.min(5, Math.max(1, deadline - Date.now())));
    }
  }

  /** Deliveries whose payload is `text`. */
  got(text: string): Delivery[] {
    return this.deliveries.filter((d) => d.text === text);
  }

  /** PINGREQ; whether PINGRESP came within the wait. */
  async ping(): Promise<boolean> {
    this.wire.send(PINGREQ, 'PINGREQ');
    return (await this.wire.take((f) => f.type === T.PINGRESP, this.t.env.waitMs)) !== undefined;
  }

  /** A round trip: everything sent before has been processed by the server when it resolves true. */
  sync(): Promise<boolean> {
    return this.ping();
  }

  /** DISCONNECT (v5 reason 0x00 unless given) and close. */
  disconnect(reason = 0): void {
    if (this.wire.closed) return;
    this.wire.send(rawDisconnect(this.t.v, reason), `DISCONNECT${this.t.v === 5 ? ` reason=0x${reason.toString(16)}` : ''}`);
    this.wire.end();
  }

  /** Abrupt close, no DISCONNECT. */
  drop(): void {
    this.wire.destroy();
  }

  ackPublish(d: Delivery, reason?: number): void {
    if (d.qos === 1) this.wire.send(rawAck(T.PUBACK, d.id!, reason), `PUBACK id=${d.id}${reason !== undefined ? ` reason=0x${reason.toString(16)}` : ''}`);
    if (d.qos === 2) this.wire.send(rawAck(T.PUBREC, d.id!, reason), `PUBREC id=${d.id}`);
  }

  private onFrame(f: WireFrame): void {
    if (f.type === T.PUBLISH && f.pub) {
      const p = f.pub;
      let topic = p.topic.toString('utf8');
      const alias = propOf(p.props, PROP.topicAlias) as number | undefined;
      if (alias !== undefined) {
        if (topic.length > 0) this.aliases.set(alias, topic);
        else topic = this.aliases.get(alias) ?? '';
      }
      const d: Delivery = { frame: f, topic, topicBytes: p.topic, payload: p.payload, text: p.payload.toString('utf8'), qos: p.qos, dup: p.dup, retain: p.retain, id: p.id, props: p.props };
      this.deliveries.push(d);
      if (this.ack === 'auto') this.ackPublish(d);
      return;
    }
    if (f.type === T.PUBREL && this.ack === 'auto' && f.id !== undefined) this.wire.send(rawAck(T.PUBCOMP, f.id), `PUBCOMP id=${f.id}`);
  }
}
