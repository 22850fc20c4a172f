// fast-check arbitraries for MQTT fuzz cases (3.1.1 and 5.0), for the
// stateful fuzz engine. A case is one TCP connection's bytes, one packet per
// step. Valid mode draws command sequences (subscribe, publish at every QoS
// with the QoS 2 handshake, broker deliveries acknowledged, unsubscribe, ping,
// v5 properties, topic aliases, AUTH) and compiles them against a small
// session model so packet ids, PUBRELs and aliases line up; every valid packet
// comes from mqtt-packet's generate(). Hostile mode breaks exactly one rule
// per case and names it in the case label with the statement it breaks
// (3.1.1 statement ids; `MQTT5 §x` for rules that exist only in 5.0).
//
// Hostile bytes are hand-encoded: generate() validates what it writes (no
// QoS 3, no reserved bits, no missing fields, no unknown or duplicated
// properties) and always writes true, minimal lengths, so it can neither lie
// about a length nor emit ill-formed UTF-8.

import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import mqttPacket, { type IConnectPacket, type IPublishPacket, type ISubscribePacket, type Packet, type QoS, type UserProperties } from 'mqtt-packet';
import type { FuzzCase, FuzzMode, FuzzStep } from '../../model/index.js';
import { printable } from '../common/io.js';
import { encodeConnect, encodeVarint } from './connect-bytes.js';

export interface MqttCaseOptions {
  readonly version: 4 | 5; // 4 = MQTT 3.1.1, 5 = MQTT 5.0
  readonly mode: FuzzMode;
  /** Credentials for the CONNECT that opens stateful cases; undefined = anonymous CONNECT. */
  readonly auth?: { readonly username: string; readonly password: string };
  /** Topics the principal may use (policy edges); default ['gauntlet/fuzz']. */
  readonly topics?: readonly string[];
  /** Max packets after the CONNECT, default 8. */
  readonly maxSteps?: number;
}

/** The rules hostile cases break; a hostile case label reads `hostile: <title>: <variant> [<ref>]`. */
export const MQTT_HOSTILE_RULES = {
  'remaining-length': { title: 'remaining length lies', versions: [4, 5] },
  'reserved-flags': { title: 'reserved header flags', versions: [4, 5] },
  'publish-flags': { title: 'PUBLISH flags invalid', versions: [4, 5] },
  'invalid-utf8': { title: 'invalid UTF-8', versions: [4, 5] },
  'publish-wildcard': { title: 'wildcard in PUBLISH topic', versions: [4, 5] },
  'empty-topic': { title: 'empty topic', versions: [4, 5] },
  'length-prefix': { title: 'string length prefix lies', versions: [4, 5] },
  'packet-id-zero': { title: 'packet id 0', versions: [4, 5] },
  'no-topic-filters': { title: 'no topic filters', versions: [4, 5] },
  'subscribe-options': { title: 'SUBSCRIBE options invalid', versions: [4, 5] },
  'second-connect': { title: 'second CONNECT on the connection', versions: [4, 5] },
  'reserved-type': { title: 'reserved packet type', versions: [4, 5] },
  'server-only-type': { title: 'server-to-client packet sent by the client', versions: [4, 5] },
  'protocol-name': { title: 'CONNECT protocol name', versions: [4, 5] },
  'protocol-level': { title: 'CONNECT protocol level', versions: [4, 5] },
  'connect-reserved-flag': { title: 'CONNECT reserved flag set', versions: [4, 5] },
  'will-flags': { title: 'CONNECT will flags invalid', versions: [4, 5] },
  'password-without-user': { title: 'password flag without user name flag', versions: [4] },
  'missing-field': { title: 'CONNECT flag promises a missing field', versions: [4, 5] },
  'empty-client-id': { title: 'empty client id with clean session 0', versions: [4] },
  'not-connect-first': { title: 'first packet is not CONNECT', versions: [4, 5] },
  'type-limit': { title: 'size at type limit', versions: [4, 5] },
  'after-disconnect': { title: 'packets after DISCONNECT', versions: [4, 5] },
  'pubrel-missing': { title: 'QoS 2 flow without PUBREL', versions: [4, 5] },
  'pubrel-duplicate': { title: 'duplicate PUBREL', versions: [4, 5] },
  'pubrel-unknown': { title: 'PUBREL for an unknown packet id', versions: [4, 5] },
  'id-in-use': { title: 'packet id reused while in flight', versions: [4, 5] },
  'property-duplicate': { title: 'property duplicated', versions: [5] },
  'property-unknown': { title: 'unknown property identifier', versions: [5] },
  'property-length': { title: 'property length lies', versions: [5] },
  'property-value': { title: 'property value forbidden', versions: [5] },
  'property-misplaced': { title: 'property not allowed in this packet', versions: [5] },
  'topic-alias-unmapped': { title: 'topic alias never mapped', versions: [5] },
  'auth-without-method': { title: 'AUTH without authentication method', versions: [5] },
  'auth-reason': { title: 'AUTH reason code invalid', versions: [5] },
} as const satisfies Record<string, { readonly title: string; readonly versions: readonly (4 | 5)[] }>;

export type MqttHostileRule = keyof typeof MQTT_HOSTILE_RULES;

type Version = 4 | 5;
type Auth = NonNullable<MqttCaseOptions['auth']>;

interface Ctx {
  readonly version: Version;
  readonly topics: readonly string[];
  readonly auth?: Auth;
}

const DEFAULT_TOPICS = ['gauntlet/fuzz'] as const;
const DEFAULT_MAX_STEPS = 8;
const TYPE_LIMIT = 0xffff;

// ---------------------------------------------------------------- bytes

const u8 = (...b: number[]) => Buffer.from(b);
const cat = (...parts: Uint8Array[]) => Buffer.concat(parts);
const utf8 = (s: string) => Buffer.from(s, 'utf8');
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
/** The length a prefix that lies by `delta` claims (what connect-bytes.ts writes too). */
const claimed = (length: number, delta: number) => Math.max(0, Math.min(TYPE_LIMIT, length + delta));
/** A string or binary field with its 2-byte length prefix, which lies by `delta` [MQTT-1.5.3]. */
const field = (b: Uint8Array, delta = 0) => cat(u16(claimed(b.length, delta)), b);
/** Fixed header and body; the remaining length is the true one unless raw bytes are given. */
const frame = (first: number, body: Uint8Array, remaining: Uint8Array = encodeVarint(body.length)) => cat(u8(first), remaining, body);

/** `n` as a variable byte integer padded to `width` bytes (1..5): non-minimal when wider than needed [MQTT-1.5.5]. */
export function paddedVarint(n: number, width: number): Buffer {
  const out: number[] = [];
  for (let i = 0; i < width; i++) {
    const digit = Math.floor(n / 128 ** i) % 128;
    out.push(i < width - 1 ? digit | 0x80 : digit);
  }
  return Buffer.from(out);
}

/** Splits a packet this file generated into its first byte and body. */
function splitFrame(b: Uint8Array): { first: number; body: Buffer } {
  let len = 0;
  let i = 1;
  for (let mul = 1; ; mul *= 128) {
    const byte = b[i++]!;
    len += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) break;
  }
  return { first: b[0]!, body: Buffer.from(b.subarray(i, i + len)) };
}

// v5 properties [MQTT5 §2.2.2]: identifier (a varint, one byte for all defined ones), then the value.
const prop = {
  byte: (id: number, v: number) => u8(id, v),
  u16: (id: number, v: number) => cat(u8(id), u16(v)),
  u32: (id: number, v: number) => cat(u8(id), u32(v)),
  varint: (id: number, v: number) => cat(u8(id), encodeVarint(v)),
  str: (id: number, v: Uint8Array) => cat(u8(id), field(v)),
  pair: (k: Uint8Array, v: Uint8Array) => cat(u8(0x26), field(k), field(v)),
};
/** A property block with its true length, or with the given raw length bytes. */
const props = (entries: Uint8Array[], length?: Uint8Array) => {
  const body = cat(...entries);
  return cat(length ?? encodeVarint(body.length), body);
};
const NO_PROPS = u8(0);

// Hand encoders for hostile packets. Each writes exactly what it is told.

interface RawPublish {
  readonly topic: Uint8Array;
  readonly topicDelta?: number;
  readonly qos: number;
  readonly id?: number;
  readonly dup?: boolean;
  readonly retain?: boolean;
  readonly props?: Uint8Array;
  readonly payload?: Uint8Array;
}
function publishBytes(v: Version, p: RawPublish): Buffer {
  const first = 0x30 | (p.dup ? 0x08 : 0) | ((p.qos & 3) << 1) | (p.retain ? 1 : 0);
  const parts: Uint8Array[] = [field(p.topic, p.topicDelta)];
  if (p.qos > 0) parts.push(u16(p.id ?? 1));
  if (v === 5) parts.push(p.props ?? NO_PROPS);
  parts.push(Buffer.from(p.payload ?? utf8('gauntlet')));
  return frame(first, cat(...parts));
}

interface RawFilter {
  readonly filter: Uint8Array;
  readonly delta?: number;
  readonly options: number;
}
function subscribeBytes(v: Version, id: number, filters: readonly RawFilter[], o: { props?: Uint8Array; flags?: number } = {}): Buffer {
  const parts: Uint8Array[] = [u16(id)];
  if (v === 5) parts.push(o.props ?? NO_PROPS);
  for (const f of filters) parts.push(field(f.filter, f.delta), u8(f.options));
  return frame(0x80 | (o.flags ?? 0x02), cat(...parts));
}
function unsubscribeBytes(v: Version, id: number, filters: readonly Uint8Array[], props?: Uint8Array): Buffer {
  return frame(0xa2, cat(u16(id), ...(v === 5 ? [props ?? NO_PROPS] : []), ...filters.map((f) => field(f))));
}

interface RawConnect {
  readonly version: Version;
  readonly name?: Uint8Array;
  readonly nameDelta?: number;
  readonly level?: number;
  readonly clean?: boolean;
  readonly keepalive?: number;
  /** v5 property block, length included. */
  readonly props?: Uint8Array;
  readonly clientId: Uint8Array;
  readonly clientIdDelta?: number;
  readonly will?: { readonly topic: Uint8Array; readonly payload: Uint8Array; readonly qos: number; readonly retain?: boolean };
  readonly username?: Uint8Array;
  readonly password?: Uint8Array;
  /** OR-ed into the flags the fields imply (reserved bit, flags promising absent fields). */
  readonly extraFlags?: number;
}
function connectBytes(c: RawConnect): Buffer {
  let flags = c.extraFlags ?? 0;
  if (c.clean ?? true) flags |= 0x02;
  if (c.will) flags |= 0x04 | ((c.will.qos & 3) << 3) | (c.will.retain ? 0x20 : 0);
  if (c.username) flags |= 0x80;
  if (c.password) flags |= 0x40;
  const parts: Uint8Array[] = [field(c.name ?? utf8('MQTT'), c.nameDelta), u8(c.level ?? c.version, flags), u16(c.keepalive ?? 30)];
  if (c.version === 5) parts.push(c.props ?? NO_PROPS);
  parts.push(field(c.clientId, c.clientIdDelta));
  if (c.will) {
    if (c.version === 5) parts.push(NO_PROPS);
    parts.push(field(c.will.topic), field(c.will.payload));
  }
  if (c.username) parts.push(field(c.username));
  if (c.password) parts.push(field(c.password));
  return frame(0x10, cat(...parts));
}

// ---------------------------------------------------------------- labels

/** A quoted, bounded rendering; bytes outside printable ASCII (ill-formed UTF-8 included) as \xNN. */
function show(s: string | Uint8Array, cap = 40): string {
  if (typeof s === 'string') return `"${printable(s, cap)}"`;
  const head = [...s.subarray(0, cap)].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`));
  return `"${head.join('')}${s.length > cap ? `…(+${s.length - cap})` : ''}"`;
}
const bin4 = (n: number) => `0b${n.toString(2).padStart(4, '0')}`;
const hex2 = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;

function propsLabel(p: object | undefined): string {
  if (!p) return '';
  const parts = Object.entries(p).flatMap(([k, v]): string[] => {
    if (v === undefined) return [];
    if (k === 'userProperties') return [`user×${Object.values(v as UserProperties).flat().length}`];
    if (Buffer.isBuffer(v)) return [`${k}=${v.length}B`];
    return [`${k}=${typeof v === 'string' ? show(v, 20) : String(v)}`];
  });
  return parts.length ? ` props{${parts.join(',')}}` : '';
}

/** One line for a well-formed packet: `PUBLISH qos=2 id=7 topic="gauntlet/fuzz" 12B`. */
function describe(p: Packet): string {
  switch (p.cmd) {
    case 'connect': {
      const who = p.username === undefined ? 'anonymous' : `user=${show(p.username, 24)}${p.password === undefined ? '' : ' +password'}`;
      const will = p.will ? ` will(qos=${p.will.qos ?? 0}${p.will.retain ? ' retain' : ''} topic=${show(p.will.topic)})` : '';
      return `CONNECT v${p.protocolVersion} clientId=${show(p.clientId, 24)} ${who} keepalive=${p.keepalive} ${p.clean ? 'clean' : 'persistent'}${will}${propsLabel(p.properties)}`;
    }
    case 'publish':
      return `PUBLISH qos=${p.qos}${p.qos ? ` id=${p.messageId}` : ''} topic=${show(p.topic)}${p.dup ? ' dup' : ''}${p.retain ? ' retain' : ''} ${p.payload.length}B${propsLabel(p.properties)}`;
    case 'subscribe':
      return `SUBSCRIBE id=${p.messageId} ${p.subscriptions.map((s) => `${show(s.topic)} qos=${s.qos}${s.nl ? ' nl' : ''}${s.rap ? ' rap' : ''}${s.rh ? ` rh=${s.rh}` : ''}`).join(', ')}${propsLabel(p.properties)}`;
    case 'unsubscribe':
      return `UNSUBSCRIBE id=${p.messageId} ${p.unsubscriptions.map((t) => show(t)).join(', ')}${propsLabel(p.properties)}`;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return `${p.cmd.toUpperCase()} id=${p.messageId}${p.reasonCode ? ` reason=${hex2(p.reasonCode)}` : ''}${propsLabel(p.properties)}`;
    case 'disconnect':
      return `DISCONNECT${p.reasonCode ? ` reason=${hex2(p.reasonCode)}` : ''}${propsLabel(p.properties)}`;
    case 'auth':
      return `AUTH reason=${hex2(p.reasonCode)}${propsLabel(p.properties)}`;
    default:
      return p.cmd.toUpperCase();
  }
}

/** A well-formed packet on the wire: mqtt-packet's encoder, its one-line label. */
const wire = (p: Packet, v: Version, note = ''): FuzzStep => ({ bytes: mqttPacket.generate(p, { protocolVersion: v }), label: describe(p) + note });
/** A hostile packet: what it is, then what is wrong with it. */
const flawed = (bytes: Uint8Array, what: string, flaw: string): FuzzStep => ({ bytes, label: `${what} — ${flaw}` });

// ---------------------------------------------------------------- valid packets

const ALNUM = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'];
const alnum = (minLength: number, maxLength: number) => fc.array(fc.constantFrom(...ALNUM), { minLength, maxLength }).map((a) => a.join(''));
const clientIdArb = alnum(8, 8).map((s) => `gf-${s}`);
const qosArb = fc.constantFrom<QoS>(0, 1, 2);
const idArb = fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constantFrom(1, 0x7fff, 0x8000, 0xfffe, 0xffff), fc.integer({ min: 1, max: 0xffff }));
const payloadArb = fc.oneof(
  fc.string({ maxLength: 64 }).map(utf8),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
);
const topicNameArb = fc.array(alnum(1, 8), { minLength: 1, maxLength: 4 }).map((levels) => levels.join('/'));
const topicFilterArb = fc.oneof(
  { weight: 3, arbitrary: topicNameArb },
  { weight: 1, arbitrary: fc.tuple(topicNameArb, fc.constantFrom('+', '#')).map(([t, w]) => `${t}/${w}`) },
  { weight: 1, arbitrary: fc.constantFrom('#', '+', '+/+') },
);

const userPropsArb: fc.Arbitrary<UserProperties> = fc
  .array(
    fc.tuple(
      alnum(1, 8).map((k) => `k-${k}`),
      fc.string({ maxLength: 16 }),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((pairs) => {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of pairs) {
      const seen = out[k];
      out[k] = seen === undefined ? v : [...(Array.isArray(seen) ? seen : [seen]), v];
    }
    return out;
  });

type ConnectProps = NonNullable<IConnectPacket['properties']>;
type PublishProps = NonNullable<IPublishPacket['properties']>;
type SubscribeProps = NonNullable<ISubscribePacket['properties']>;

/** v5 CONNECT properties a client may send (no enhanced auth: that changes what may follow). */
const connectPropsArb: fc.Arbitrary<ConnectProps> = fc.record(
  {
    sessionExpiryInterval: fc.oneof(fc.constantFrom(0, 60, 0xffffffff), fc.nat()),
    receiveMaximum: fc.oneof(fc.constantFrom(1, 0xffff), fc.integer({ min: 1, max: 100 })),
    maximumPacketSize: fc.oneof(fc.constantFrom(128, 268435455), fc.integer({ min: 128, max: 1 << 20 })),
    topicAliasMaximum: fc.integer({ min: 0, max: 10 }),
    requestResponseInformation: fc.boolean(),
    requestProblemInformation: fc.boolean(),
    userProperties: userPropsArb,
  },
  { requiredKeys: [] },
);

/** v5 PUBLISH properties a client may send (no Subscription Identifier [MQTT-3.3.4-6]; aliases come from the session). */
const publishPropsArb: fc.Arbitrary<PublishProps> = fc.record(
  {
    payloadFormatIndicator: fc.boolean(),
    messageExpiryInterval: fc.oneof(fc.constantFrom(0, 1, 0xffffffff), fc.nat()),
    contentType: fc.constantFrom('text/plain', 'application/json', 'application/octet-stream'),
    responseTopic: topicNameArb,
    correlationData: fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
    userProperties: userPropsArb,
  },
  { requiredKeys: [] },
);

const subscribePropsArb: fc.Arbitrary<SubscribeProps> = fc.record(
  { subscriptionIdentifier: fc.oneof(fc.constantFrom(1, 268435455), fc.integer({ min: 1, max: 268435455 })), userProperties: userPropsArb },
  { requiredKeys: [] },
);

/** A UTF-8 payload when the properties announce one [MQTT5 §3.3.2.3.2]. */
function publishProperties(payload: Buffer, p: PublishProps | undefined): PublishProps | undefined {
  if (!p?.payloadFormatIndicator || isUtf8(payload)) return p;
  return { ...p, payloadFormatIndicator: false };
}

interface WillFields {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties?: NonNullable<IConnectPacket['will']>['properties'];
}
const willArb = (c: Ctx): fc.Arbitrary<WillFields> =>
  fc
    .record({
      topic: fc.constantFrom(...c.topics),
      payload: fc.uint8Array({ maxLength: 32 }).map((b) => Buffer.from(b)),
      qos: qosArb,
      retain: fc.boolean(),
      properties:
        c.version === 5
          ? fc.option(
              fc.record({ willDelayInterval: fc.nat({ max: 3600 }), messageExpiryInterval: fc.nat(), contentType: fc.constant('text/plain'), userProperties: userPropsArb }, { requiredKeys: [] }),
              { nil: undefined },
            )
          : fc.constant(undefined),
    })
    .map(({ properties, ...w }) => (properties ? { ...w, properties } : w));

/** The CONNECT that opens a stateful case: clean, the principal's credentials, `gf-` client id, keepalive 30..60. */
const openerArb = (c: Ctx): fc.Arbitrary<IConnectPacket> =>
  fc
    .record({
      clientId: clientIdArb,
      keepalive: fc.integer({ min: 30, max: 60 }),
      properties: c.version === 5 ? fc.option(connectPropsArb, { nil: undefined }) : fc.constant(undefined),
    })
    .map(({ clientId, keepalive, properties }) => ({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: c.version,
      clean: true,
      clientId,
      keepalive,
      ...(c.auth ? { username: c.auth.username, password: utf8(c.auth.password) } : {}),
      ...(properties ? { properties } : {}),
    }));

const AUTH_METHODS = ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'gauntlet-fuzz'] as const;

/** Any well-formed CONNECT: who, will, persistence, keepalive edges, v5 properties and enhanced auth. */
const anyConnectArb = (c: Ctx): fc.Arbitrary<IConnectPacket> =>
  fc
    .record({
      clientId: fc.oneof({ weight: 3, arbitrary: clientIdArb }, { weight: 1, arbitrary: fc.constant('') }, { weight: 1, arbitrary: alnum(1, 23) }),
      who: fc.constantFrom('principal', 'anonymous', 'wrong password', 'user only'),
      keepalive: fc.oneof(fc.constantFrom(0, 1, 0xffff), fc.integer({ min: 0, max: 0xffff })),
      clean: fc.boolean(),
      will: fc.option(willArb(c), { nil: undefined }),
      properties: c.version === 5 ? fc.option(connectPropsArb, { nil: undefined }) : fc.constant(undefined),
      enhanced: c.version === 5 ? fc.option(fc.record({ method: fc.constantFrom(...AUTH_METHODS), data: fc.uint8Array({ maxLength: 32 }) }), { nil: undefined, freq: 4 }) : fc.constant(undefined),
    })
    .map(({ clientId, who, keepalive, clean, will, properties, enhanced }): IConnectPacket => {
      const user = c.auth?.username ?? 'gauntlet';
      const creds =
        who === 'principal'
          ? c.auth
            ? { username: c.auth.username, password: utf8(c.auth.password) }
            : {}
          : who === 'wrong password'
            ? { username: user, password: utf8(`${c.auth?.password ?? ''}x`) }
            : who === 'user only'
              ? { username: user }
              : {};
      const allProps = enhanced ? { ...properties, authenticationMethod: enhanced.method, authenticationData: Buffer.from(enhanced.data) } : properties;
      return {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: c.version,
        // A zero-byte client id needs a clean session [MQTT-3.1.3-7].
        clean: clientId === '' ? true : clean,
        clientId,
        keepalive,
        ...creds,
        ...(will ? { will } : {}),
        ...(allProps ? { properties: allProps } : {}),
      };
    });

// ---------------------------------------------------------------- session model

interface Delivery {
  readonly id: number;
  readonly qos: 1 | 2;
  stage: 'ack' | 'rec' | 'comp';
}

/** What the client has said so far on the connection; commands compile against it. */
interface Session {
  readonly version: Version;
  readonly topics: readonly string[];
  readonly clientId: string;
  readonly auth?: Auth;
  /** Set when the CONNECT started enhanced auth: only AUTH and DISCONNECT may follow until CONNACK [MQTT5 §3.1.2.11.9]. */
  authMethod?: string;
  nextId: number;
  /** Our QoS 2 PUBLISHes whose PUBREL is still owed (already counted in the packet budget). */
  readonly open: number[];
  readonly subs: Map<string, { readonly qos: QoS; readonly noLocal: boolean }>;
  /** Messages the broker will deliver to us; its packet ids are guessed (1, 2, … per connection). */
  readonly deliveries: Delivery[];
  brokerId: number;
  readonly aliases: Map<string, number>;
  /** Packets still allowed after the CONNECT. */
  room: number;
}

function newSession(c: Ctx, clientId: string, firstId: number, authMethod?: string): Session {
  return {
    version: c.version,
    topics: c.topics,
    clientId,
    ...(c.auth ? { auth: c.auth } : {}),
    ...(authMethod ? { authMethod } : {}),
    nextId: firstId,
    open: [],
    subs: new Map(),
    deliveries: [],
    brokerId: 1,
    aliases: new Map(),
    room: Infinity,
  };
}

/** A currently unused, non-zero packet id [MQTT-2.3.1-1, MQTT-2.3.1-2]. */
function takeId(s: Session): number {
  const next = (n: number) => (n >= 0xffff ? 1 : n + 1);
  let id = s.nextId;
  while (s.open.includes(id)) id = next(id);
  s.nextId = next(id);
  return id;
}

/** Notes the delivery the broker owes us for a PUBLISH we sent, when we are subscribed to its topic. */
function noteDelivery(s: Session, topic: string, qos: QoS): void {
  const sub = s.subs.get(topic);
  const q = sub && !sub.noLocal ? Math.min(qos, sub.qos) : 0;
  if (q === 1 || q === 2) s.deliveries.push({ id: s.brokerId++, qos: q, stage: q === 1 ? 'ack' : 'rec' });
}

type Command =
  | {
      readonly kind: 'publish';
      readonly topic: number;
      readonly qos: QoS;
      readonly retain: boolean;
      readonly payload: Buffer;
      /** QoS 2: send the PUBREL later (after other packets) rather than right away. */
      readonly releaseLater: boolean;
      readonly alias: boolean;
      readonly properties: PublishProps | undefined;
    }
  | { readonly kind: 'subscribe'; readonly topic: number; readonly qos: QoS; readonly nl: boolean; readonly rap: boolean; readonly rh: 0 | 1 | 2; readonly properties: SubscribeProps | undefined }
  | { readonly kind: 'unsubscribe'; readonly topic: number }
  | { readonly kind: 'release' }
  /** Acknowledge the broker's oldest delivery; `complete`: a QoS 2 one gets PUBREC and PUBCOMP together. */
  | { readonly kind: 'ack'; readonly complete: boolean }
  | { readonly kind: 'ping' }
  | { readonly kind: 'auth'; readonly data: Uint8Array }
  | { readonly kind: 'disconnect'; readonly reason: 0 | 4 };

function commandArb(v: Version, withDisconnect: boolean): fc.Arbitrary<Command> {
  // Mostly the first topic, so SUBSCRIBE, PUBLISH and the broker's deliveries meet on it.
  const topic = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: 15 }) });
  const v5 = <T>(a: fc.Arbitrary<T>) => (v === 5 ? fc.option(a, { nil: undefined, freq: 2 }) : fc.constant(undefined));
  const arms: fc.WeightedArbitrary<Command>[] = [
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('publish' as const),
        topic,
        qos: qosArb,
        retain: fc.boolean(),
        payload: payloadArb,
        releaseLater: fc.boolean(),
        alias: v === 5 ? fc.boolean() : fc.constant(false),
        properties: v5(publishPropsArb),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('subscribe' as const),
        topic,
        // Biased and shrunk towards QoS 2: the subscription that lets every delivery flow happen.
        qos: fc.constantFrom<QoS>(2, 1, 0),
        // No Local stops our own deliveries: rarer, so the broker's side of QoS flows stays reachable.
        nl: v === 5 ? fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) : fc.constant(false),
        rap: v === 5 ? fc.boolean() : fc.constant(false),
        rh: v === 5 ? fc.constantFrom<0 | 1 | 2>(0, 1, 2) : fc.constant<0>(0),
        properties: v5(subscribePropsArb),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('unsubscribe' as const), topic }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'release' as const }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('ack' as const), complete: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'ping' as const }) },
  ];
  if (v === 5) arms.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('auth' as const), data: fc.uint8Array({ maxLength: 32 }) }) });
  if (withDisconnect) arms.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('disconnect' as const), reason: fc.constantFrom<0 | 4>(0, 4) }) });
  return fc.oneof(...arms);
}

/** Packets a command puts on the wire, its owed PUBREL included; undefined = nothing to do in this state. */
function costOf(s: Session, c: Command): number | undefined {
  if (s.authMethod !== undefined && c.kind !== 'auth' && c.kind !== 'disconnect') return undefined;
  switch (c.kind) {
    case 'publish':
      return c.qos === 2 ? 2 : 1;
    case 'release':
      return s.open.length > 0 ? 0 : undefined; // its PUBREL was paid for with the PUBLISH
    case 'ack': {
      const d = s.deliveries[0];
      return d === undefined ? undefined : d.stage === 'rec' && c.complete ? 2 : 1;
    }
    case 'auth':
      return s.authMethod === undefined ? undefined : 1;
    default:
      return 1;
  }
}

const pubrel = (id: number): Packet => ({ cmd: 'pubrel', messageId: id, reasonCode: 0 });

function emit(s: Session, c: Command, out: FuzzStep[]): void {
  const v = s.version;
  const put = (p: Packet, note = '') => out.push(wire(p, v, note));
  switch (c.kind) {
    case 'publish': {
      const topic = s.topics[c.topic % s.topics.length]!;
      let name = topic;
      let properties = v === 5 ? publishProperties(c.payload, c.properties) : undefined;
      if (v === 5 && c.alias) {
        // The first use maps the alias, later ones send an empty topic [MQTT5 §3.3.2.3.4].
        const known = s.aliases.get(topic);
        if (known !== undefined) name = '';
        const alias = known ?? s.aliases.size + 1;
        s.aliases.set(topic, alias);
        properties = { ...properties, topicAlias: alias };
      }
      const id = c.qos > 0 ? takeId(s) : undefined;
      put({ cmd: 'publish', topic: name, qos: c.qos, dup: false, retain: c.retain, payload: c.payload, ...(id === undefined ? {} : { messageId: id }), ...(properties ? { properties } : {}) });
      if (c.qos === 2 && id !== undefined) {
        if (c.releaseLater) s.open.push(id);
        else put(pubrel(id));
      }
      noteDelivery(s, topic, c.qos);
      return;
    }
    case 'subscribe': {
      const topic = s.topics[c.topic % s.topics.length]!;
      s.subs.set(topic, { qos: c.qos, noLocal: c.nl });
      const sub = v === 5 ? { topic, qos: c.qos, nl: c.nl, rap: c.rap, rh: c.rh } : { topic, qos: c.qos };
      put({ cmd: 'subscribe', messageId: takeId(s), subscriptions: [sub], ...(c.properties ? { properties: c.properties } : {}) });
      return;
    }
    case 'unsubscribe': {
      const topic = s.topics[c.topic % s.topics.length]!;
      s.subs.delete(topic);
      put({ cmd: 'unsubscribe', messageId: takeId(s), unsubscriptions: [topic] });
      return;
    }
    case 'release': {
      put(pubrel(s.open.shift()!));
      return;
    }
    case 'ack': {
      // The broker's side of a delivery: PUBACK, or PUBREC then (after its PUBREL) PUBCOMP.
      const d = s.deliveries[0]!;
      const note = ' (broker delivery, id guessed)';
      if (d.stage === 'ack') put({ cmd: 'puback', messageId: d.id, reasonCode: 0 }, note);
      if (d.stage === 'rec') put({ cmd: 'pubrec', messageId: d.id, reasonCode: 0 }, note);
      // PUBCOMP answers the broker's PUBREL, which it sends as soon as it reads our PUBREC.
      if (d.stage === 'comp' || (d.stage === 'rec' && c.complete)) put({ cmd: 'pubcomp', messageId: d.id, reasonCode: 0 }, note);
      if (d.stage === 'rec' && !c.complete) d.stage = 'comp';
      else s.deliveries.shift();
      return;
    }
    case 'ping':
      put({ cmd: 'pingreq' });
      return;
    case 'auth':
      put({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: s.authMethod!, authenticationData: Buffer.from(c.data) } });
      return;
    case 'disconnect':
      flush(s, out);
      put(v === 5 ? { cmd: 'disconnect', reasonCode: c.reason } : { cmd: 'disconnect' });
      return;
  }
}

/** Compiles commands while they fit in the session's room; a DISCONNECT ends the connection (returns true). */
function compile(s: Session, cmds: readonly Command[], out: FuzzStep[]): boolean {
  for (const c of cmds) {
    const cost = costOf(s, c);
    if (cost === undefined || cost > s.room) continue;
    s.room -= cost;
    emit(s, c, out);
    if (c.kind === 'disconnect') return true;
  }
  return false;
}

/** Sends the PUBRELs still owed, so every QoS 2 flow the client opened completes [MQTT-4.3.3-1]. */
function flush(s: Session, out: FuzzStep[]): void {
  while (s.open.length > 0) out.push(wire(pubrel(s.open.shift()!), s.version));
}

// ---------------------------------------------------------------- hostile rules

interface Built {
  readonly variant: string;
  readonly ref: string;
  readonly steps: FuzzStep[];
}

/** One broken rule, built against the session so packet ids stay fresh and nothing else breaks. */
interface Breach {
  readonly rule: MqttHostileRule;
  /** Packets it sends, a PUBREL it leaves owed included. */
  readonly size: number;
  readonly build: (s: Session) => Built;
}

const breach = (rule: MqttHostileRule, build: (s: Session) => Built, size = 1): Breach => ({ rule, build, size });
const topicOf = (s: Session, i: number) => s.topics[i % s.topics.length]!;

const BAD_UTF8: readonly { readonly name: string; readonly bytes: readonly number[]; readonly ref: string }[] = [
  { name: 'overlong "/" C0 AF', bytes: [0xc0, 0xaf], ref: 'MQTT-1.5.3-1' },
  { name: 'overlong NUL C0 80', bytes: [0xc0, 0x80], ref: 'MQTT-1.5.3-1' },
  { name: '3-byte overlong E0 80 AF', bytes: [0xe0, 0x80, 0xaf], ref: 'MQTT-1.5.3-1' },
  { name: 'surrogate U+D800 ED A0 80', bytes: [0xed, 0xa0, 0x80], ref: 'MQTT-1.5.3-1' },
  { name: 'lone continuation byte 80', bytes: [0x80], ref: 'MQTT-1.5.3-1' },
  { name: 'truncated sequence E2 82', bytes: [0xe2, 0x82], ref: 'MQTT-1.5.3-1' },
  { name: 'byte FF', bytes: [0xff], ref: 'MQTT-1.5.3-1' },
  { name: 'above U+10FFFF F4 90 80 80', bytes: [0xf4, 0x90, 0x80, 0x80], ref: 'MQTT-1.5.3-1' },
  { name: 'U+0000', bytes: [0x00], ref: 'MQTT-1.5.3-2' },
  { name: 'noncharacter U+FFFF EF BF BF', bytes: [0xef, 0xbf, 0xbf], ref: 'MQTT-1.5.3' },
];
const badUtf8Arb = fc.constantFrom(...BAD_UTF8);
/** `base` with ill-formed bytes spliced in at `at` (clamped). */
const splice = (base: string, at: number, bad: readonly number[]) => {
  const b = utf8(base);
  const i = Math.min(at, b.length);
  return cat(b.subarray(0, i), Buffer.from(bad), b.subarray(i));
};

const deltaArb = fc.oneof(fc.integer({ min: -4, max: -1 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom(100, 1000, 0xffff));
/** `prefix 65535 for 13 bytes`: what a lying length prefix claims against what follows. */
const lieText = (length: number, delta: number) => `prefix ${claimed(length, delta)} for ${length} bytes`;

/** A valid packet of several kinds, for rules that break its framing. */
type Target = 'PUBLISH' | 'PUBLISH qos=1' | 'SUBSCRIBE' | 'UNSUBSCRIBE' | 'PINGREQ' | 'DISCONNECT';
function targetPacket(s: Session, t: Target, topic: string, payload: Buffer): Packet {
  switch (t) {
    case 'PUBLISH':
      return { cmd: 'publish', topic, qos: 0, dup: false, retain: false, payload };
    case 'PUBLISH qos=1':
      return { cmd: 'publish', topic, qos: 1, messageId: takeId(s), dup: false, retain: false, payload };
    case 'SUBSCRIBE':
      return { cmd: 'subscribe', messageId: takeId(s), subscriptions: [{ topic, qos: 0 }] };
    case 'UNSUBSCRIBE':
      return { cmd: 'unsubscribe', messageId: takeId(s), unsubscriptions: [topic] };
    case 'PINGREQ':
      return { cmd: 'pingreq' };
    case 'DISCONNECT':
      return s.version === 5 ? { cmd: 'disconnect', reasonCode: 0 } : { cmd: 'disconnect' };
  }
}

type LengthLie = 'too long' | 'too short' | '5-byte varint' | 'non-minimal' | 'maximum';
const lengthLieArb = fc.record({
  how: fc.constantFrom<LengthLie>('too long', 'too short', '5-byte varint', 'non-minimal', 'maximum'),
  n: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.constantFrom(128, 16384, 65536)),
});

/** Re-frames a well-formed packet with a remaining length that lies [MQTT-2.2.3, MQTT-1.5.5]. */
function lieAboutLength(bytes: Uint8Array, lie: { how: LengthLie; n: number }): { bytes: Buffer; flaw: string; ref: string } {
  const { first, body } = splitFrame(bytes);
  const how = lie.how === 'too short' && body.length === 0 ? 'too long' : lie.how;
  switch (how) {
    case 'too long': {
      const claimed = body.length + lie.n;
      return { bytes: frame(first, body, encodeVarint(claimed)), flaw: `remaining length ${claimed}, ${body.length} bytes follow`, ref: 'MQTT-2.2.3' };
    }
    case 'too short': {
      const claimed = Math.max(0, body.length - lie.n);
      return { bytes: frame(first, body, encodeVarint(claimed)), flaw: `remaining length ${claimed}, ${body.length} bytes follow`, ref: 'MQTT-2.2.3' };
    }
    case '5-byte varint':
      return { bytes: frame(first, body, paddedVarint(body.length, 5)), flaw: `remaining length ${body.length} as a 5-byte varint`, ref: 'MQTT-2.2.3' };
    case 'non-minimal': {
      const width = Math.min(4, encodeVarint(body.length).length + 1 + (lie.n % 2));
      const raw = paddedVarint(body.length, width);
      return { bytes: frame(first, body, raw), flaw: `remaining length ${body.length} non-minimal (${raw.toString('hex')})`, ref: 'MQTT-1.5.5-1' };
    }
    case 'maximum':
      return { bytes: frame(first, body, u8(0xff, 0xff, 0xff, 0x7f)), flaw: `remaining length 268435455, ${body.length} bytes follow`, ref: 'MQTT-2.2.3' };
  }
}

/** Fixed-header flags of the packets whose flags are reserved [MQTT-2.2.2-1]. */
const REQUIRED_FLAGS = { SUBSCRIBE: 2, UNSUBSCRIBE: 2, PINGREQ: 0, DISCONNECT: 0, PUBREL: 2 } as const;

/** Rules a single packet breaks after a valid CONNECT. */
function sessionPacketBreaches(c: Ctx): fc.WeightedArbitrary<Breach>[] {
  const v = c.version;
  const topic = fc.nat({ max: 15 });
  const arms: fc.WeightedArbitrary<Breach>[] = [
    {
      weight: 4,
      arbitrary: fc
        .record({ target: fc.constantFrom<Target>('PUBLISH', 'PUBLISH qos=1', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PINGREQ'), topic, payload: payloadArb, lie: lengthLieArb })
        .map(({ target, topic, payload, lie }) =>
          breach('remaining-length', (s) => {
            const step = wire(targetPacket(s, target, topicOf(s, topic), payload), v);
            const r = lieAboutLength(step.bytes, lie);
            return { variant: `${target} ${r.flaw}`, ref: r.ref, steps: [flawed(r.bytes, step.label, r.flaw)] };
          }),
        ),
    },
    {
      weight: 3,
      arbitrary: fc
        .record({
          target: fc.constantFrom('SUBSCRIBE', 'UNSUBSCRIBE', 'PINGREQ', 'DISCONNECT', 'PUBREL') as fc.Arbitrary<keyof typeof REQUIRED_FLAGS>,
          mask: fc.integer({ min: 1, max: 15 }),
          topic,
        })
        .map(({ target, mask, topic }) => {
          const required = REQUIRED_FLAGS[target];
          const flags = required ^ mask;
          const flaw = `reserved flags ${bin4(flags)} (must be ${bin4(required)})`;
          const variant = `${target} ${bin4(flags)}`;
          return breach(
            'reserved-flags',
            (s) => {
              const steps: FuzzStep[] = [];
              let p: Packet;
              if (target === 'PUBREL') {
                // Releases a flow it opens itself, so only the flags are wrong.
                const id = takeId(s);
                noteDelivery(s, topicOf(s, topic), 2);
                steps.push(wire({ cmd: 'publish', topic: topicOf(s, topic), qos: 2, messageId: id, dup: false, retain: false, payload: utf8('gauntlet') }, v));
                p = pubrel(id);
              } else p = targetPacket(s, target, topicOf(s, topic), utf8(''));
              const ok = wire(p, v);
              const { body } = splitFrame(ok.bytes);
              const first = ok.bytes[0]! & 0xf0;
              steps.push(flawed(frame(first | flags, body), ok.label, flaw));
              return { variant, ref: 'MQTT-2.2.2-1', steps };
            },
            target === 'PUBREL' ? 2 : 1,
          );
        }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ qos3: fc.boolean(), topic, retain: fc.boolean() }).map(({ qos3, topic, retain }) =>
        breach('publish-flags', (s) => {
          const t = topicOf(s, topic);
          if (qos3) {
            const id = takeId(s);
            return {
              variant: 'QoS 3 (both QoS bits set)',
              ref: 'MQTT-3.3.1-4',
              steps: [flawed(publishBytes(v, { topic: utf8(t), qos: 3, id, retain }), `PUBLISH id=${id} topic=${show(t)}`, 'QoS 3')],
            };
          }
          return {
            variant: 'DUP set on QoS 0',
            ref: 'MQTT-3.3.1-2',
            steps: [flawed(publishBytes(v, { topic: utf8(t), qos: 0, dup: true, retain }), `PUBLISH qos=0 topic=${show(t)}`, 'DUP=1 on QoS 0')],
          };
        }),
      ),
    },
    {
      weight: 3,
      arbitrary: fc.record({ where: fc.constantFrom('PUBLISH topic', 'SUBSCRIBE filter', 'UNSUBSCRIBE filter'), bad: badUtf8Arb, at: fc.nat({ max: 64 }), topic }).map(({ where, bad, at, topic }) =>
        breach('invalid-utf8', (s) => {
          const t = splice(topicOf(s, topic), at, bad.bytes);
          const what = `${where.split(' ')[0]} ${show(t)}`;
          const bytes =
            where === 'PUBLISH topic'
              ? publishBytes(v, { topic: t, qos: 0 })
              : where === 'SUBSCRIBE filter'
                ? subscribeBytes(v, takeId(s), [{ filter: t, options: 0 }])
                : unsubscribeBytes(v, takeId(s), [t]);
          return { variant: `${where}: ${bad.name}`, ref: bad.ref, steps: [flawed(bytes, what, bad.name)] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({ how: fc.constantFrom('/#', '/+', '+', '#', '+level', 'level#'), qos: fc.constantFrom(0, 1), topic }).map(({ how, qos, topic }) =>
        breach('publish-wildcard', (s) => {
          const base = topicOf(s, topic);
          const t = how === '/#' || how === '/+' ? base + how : how === '+level' ? `${base}/+x` : how === 'level#' ? `${base}/x#` : how;
          const id = qos ? takeId(s) : undefined;
          return {
            variant: show(t),
            ref: 'MQTT-3.3.2-2',
            steps: [flawed(publishBytes(v, { topic: utf8(t), qos, ...(id ? { id } : {}) }), `PUBLISH qos=${qos}${id ? ` id=${id}` : ''} topic=${show(t)}`, 'wildcard in topic name')],
          };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom('PUBLISH topic', 'SUBSCRIBE filter', 'UNSUBSCRIBE filter').map((where) =>
        breach('empty-topic', (s) => {
          const e = new Uint8Array(0);
          const bytes =
            where === 'PUBLISH topic'
              ? publishBytes(v, { topic: e, qos: 0 })
              : where === 'SUBSCRIBE filter'
                ? subscribeBytes(v, takeId(s), [{ filter: e, options: 0 }])
                : unsubscribeBytes(v, takeId(s), [e]);
          return {
            variant: where,
            ref: 'MQTT-4.7.3-1',
            steps: [flawed(bytes, `${where.split(' ')[0]} ""`, `empty ${where.split(' ')[1]}${where === 'PUBLISH topic' && v === 5 ? ' without topic alias' : ''}`)],
          };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({ where: fc.constantFrom('PUBLISH topic', 'SUBSCRIBE filter'), delta: deltaArb, topic }).map(({ where, delta, topic }) =>
        breach('length-prefix', (s) => {
          const t = utf8(topicOf(s, topic));
          const bytes = where === 'PUBLISH topic' ? publishBytes(v, { topic: t, topicDelta: delta, qos: 0 }) : subscribeBytes(v, takeId(s), [{ filter: t, delta, options: 0 }]);
          const lie = lieText(t.length, delta);
          return { variant: `${where} ${lie}`, ref: 'MQTT-1.5.3', steps: [flawed(bytes, `${where.split(' ')[0]} ${show(t)}`, `topic length ${lie}`)] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({ what: fc.constantFrom('PUBLISH qos=1', 'PUBLISH qos=2', 'SUBSCRIBE', 'UNSUBSCRIBE'), topic }).map(({ what, topic }) =>
        breach('packet-id-zero', (s) => {
          const t = utf8(topicOf(s, topic));
          const bytes =
            what === 'SUBSCRIBE'
              ? subscribeBytes(v, 0, [{ filter: t, options: 0 }])
              : what === 'UNSUBSCRIBE'
                ? unsubscribeBytes(v, 0, [t])
                : publishBytes(v, { topic: t, qos: what === 'PUBLISH qos=1' ? 1 : 2, id: 0 });
          return { variant: what, ref: 'MQTT-2.3.1-1', steps: [flawed(bytes, `${what} topic=${show(t)}`, 'packet id 0')] };
        }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom('SUBSCRIBE', 'UNSUBSCRIBE').map((what) =>
        breach('no-topic-filters', (s) => {
          const bytes = what === 'SUBSCRIBE' ? subscribeBytes(v, takeId(s), []) : unsubscribeBytes(v, takeId(s), []);
          return { variant: what, ref: what === 'SUBSCRIBE' ? 'MQTT-3.8.3-3' : 'MQTT-3.10.3-2', steps: [flawed(bytes, what, 'no topic filters')] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({ how: fc.constantFrom('QoS 3', 'reserved bit', 'retain handling 3'), bit: fc.integer({ min: v === 5 ? 6 : 2, max: 7 }), topic }).map(({ how, bit, topic }) =>
        breach('subscribe-options', (s) => {
          const kind = how === 'retain handling 3' && v === 4 ? 'reserved bit' : how;
          const options = kind === 'QoS 3' ? 0x03 : kind === 'reserved bit' ? 1 << bit : 0x30;
          const t = topicOf(s, topic);
          const variant = kind === 'reserved bit' ? `reserved bit ${bit} set` : `requested ${kind}`;
          const ref = kind === 'retain handling 3' ? 'MQTT5 §3.8.3.1' : v === 5 && kind === 'reserved bit' ? 'MQTT5 §3.8.3.1' : 'MQTT-3.8.3-4';
          return { variant, ref, steps: [flawed(subscribeBytes(v, takeId(s), [{ filter: utf8(t), options }]), `SUBSCRIBE ${show(t)} options=${hex2(options)}`, variant)] };
        }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.record({ type: v === 4 ? fc.constantFrom(0, 15) : fc.constant(0), flags: fc.integer({ min: 0, max: 15 }), body: fc.uint8Array({ maxLength: 8 }) }).map(({ type, flags, body }) =>
        breach('reserved-type', () => ({
          variant: `type ${type}`,
          ref: 'MQTT-2.2.1',
          steps: [flawed(frame((type << 4) | flags, body), `type ${type} flags=${bin4(flags)} ${body.length}B`, `reserved packet type ${type}`)],
        })),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom('CONNACK', 'SUBACK', 'UNSUBACK', 'PINGRESP').map((what) =>
        breach('server-only-type', (s) => {
          const p: Packet =
            what === 'CONNACK'
              ? v === 5
                ? { cmd: 'connack', sessionPresent: false, reasonCode: 0 }
                : { cmd: 'connack', sessionPresent: false, returnCode: 0 }
              : what === 'SUBACK'
                ? { cmd: 'suback', messageId: takeId(s), granted: [0] }
                : what === 'UNSUBACK'
                  ? { cmd: 'unsuback', messageId: takeId(s), granted: v === 5 ? [0] : [] }
                  : { cmd: 'pingresp' };
          return { variant: what, ref: 'MQTT-2.2.1', steps: [wire(p, v, ' — sent by the client')] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .record({
          where: fc.constantFrom(...(v === 5 ? ['PUBLISH topic', 'SUBSCRIBE filter', 'user property'] : ['PUBLISH topic', 'SUBSCRIBE filter'])),
          len: fc.constantFrom(TYPE_LIMIT, TYPE_LIMIT - 1),
          fill: fc.constantFrom(...'abcxyz'),
        })
        .map(({ where, len, fill }) =>
          breach('type-limit', (s) => {
            const long = (prefix: string) => cat(utf8(prefix), Buffer.alloc(len - utf8(prefix).length, fill));
            const t = topicOf(s, 0);
            let bytes: Buffer;
            if (where === 'PUBLISH topic') bytes = publishBytes(v, { topic: long(`${t}/`), qos: 0 });
            else if (where === 'SUBSCRIBE filter') bytes = subscribeBytes(v, takeId(s), [{ filter: long(`${t}/`), options: 0 }]);
            else bytes = publishBytes(v, { topic: utf8(t), qos: 0, props: props([prop.pair(long('k-'), long(''))]) });
            const what = where === 'user property' ? `PUBLISH topic=${show(t)} user property ${len}+${len}B` : `${where.split(' ')[0]} ${where.split(' ')[1]} ${len}B`;
            return { variant: `${where} ${len} bytes`, ref: 'MQTT-1.5.3', steps: [flawed(bytes, what, `${where} at ${len} bytes`)] };
          }),
        ),
    },
  ];
  if (v === 5) arms.push(...v5SessionPacketBreaches());
  return arms;
}

/** v5 property rules, in PUBLISH and SUBSCRIBE, and AUTH out of place. */
function v5SessionPacketBreaches(): fc.WeightedArbitrary<Breach>[] {
  const v = 5;
  const topic = fc.nat({ max: 15 });
  const inPacket = (s: Session, where: 'PUBLISH' | 'SUBSCRIBE', t: string, block: Uint8Array) =>
    where === 'PUBLISH' ? publishBytes(v, { topic: utf8(t), qos: 0, props: block }) : subscribeBytes(v, takeId(s), [{ filter: utf8(t), options: 0 }], { props: block });
  const DUPLICABLE = {
    PUBLISH: [
      ['messageExpiryInterval', prop.u32(0x02, 60)],
      ['payloadFormatIndicator', prop.byte(0x01, 1)],
      ['contentType', prop.str(0x03, utf8('text/plain'))],
      ['responseTopic', prop.str(0x08, utf8('gauntlet/reply'))],
      ['correlationData', prop.str(0x09, utf8('c1'))],
    ],
    SUBSCRIBE: [['subscriptionIdentifier', prop.varint(0x0b, 7)]],
  } as const;
  return [
    {
      weight: 2,
      arbitrary: fc.record({ where: fc.constantFrom<'PUBLISH' | 'SUBSCRIBE'>('PUBLISH', 'SUBSCRIBE'), pick: fc.nat({ max: 4 }), topic }).map(({ where, pick, topic }) =>
        breach('property-duplicate', (s) => {
          const list = DUPLICABLE[where];
          const [name, entry] = list[pick % list.length]!;
          const t = topicOf(s, topic);
          return { variant: `${where} ${name} twice`, ref: 'MQTT5 §2.2.2.2', steps: [flawed(inPacket(s, where, t, props([entry, entry])), `${where} ${show(t)}`, `${name} twice`)] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .record({
          where: fc.constantFrom<'PUBLISH' | 'SUBSCRIBE'>('PUBLISH', 'SUBSCRIBE'),
          id: fc.constantFrom([0x00], [0x04], [0x05], [0x07], [0x0a], [0x10], [0x7f], [0x80, 0x01], [0xff, 0x7f]),
          value: fc.uint8Array({ maxLength: 4 }),
          topic,
        })
        .map(({ where, id, value, topic }) =>
          breach('property-unknown', (s) => {
            const t = topicOf(s, topic);
            const idHex = Buffer.from(id).toString('hex');
            return {
              variant: `${where} identifier 0x${idHex}`,
              ref: 'MQTT5 §2.2.2.2',
              steps: [flawed(inPacket(s, where, t, props([Buffer.from(id), value])), `${where} ${show(t)}`, `property identifier 0x${idHex}`)],
            };
          }),
        ),
    },
    {
      weight: 2,
      arbitrary: fc.record({ where: fc.constantFrom<'PUBLISH' | 'SUBSCRIBE'>('PUBLISH', 'SUBSCRIBE'), lie: lengthLieArb, topic }).map(({ where, lie, topic }) =>
        breach('property-length', (s) => {
          const t = topicOf(s, topic);
          const entries = cat(prop.pair(utf8('k-fuzz'), utf8('v')));
          const raw =
            lie.how === 'too long'
              ? encodeVarint(entries.length + lie.n)
              : lie.how === 'too short'
                ? encodeVarint(Math.max(0, entries.length - Math.min(lie.n, 8)))
                : lie.how === 'maximum'
                  ? u8(0xff, 0xff, 0xff, 0x7f)
                  : paddedVarint(entries.length, 5);
          const flaw =
            lie.how === 'non-minimal' || lie.how === '5-byte varint'
              ? `property length ${entries.length} as a 5-byte varint`
              : `property length ${raw.toString('hex')}, ${entries.length} bytes of properties`;
          return { variant: `${where} ${flaw}`, ref: 'MQTT5 §2.2.2.1', steps: [flawed(inPacket(s, where, t, props([entries], raw)), `${where} ${show(t)}`, flaw)] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .record({ which: fc.constantFrom('PUBLISH topic alias 0', 'SUBSCRIBE subscription identifier 0', 'PUBLISH payload format 1 with non-UTF-8 payload'), topic })
        .map(({ which, topic }) =>
          breach('property-value', (s) => {
            const t = utf8(topicOf(s, topic));
            const [bytes, ref] =
              which === 'PUBLISH topic alias 0'
                ? [publishBytes(v, { topic: t, qos: 0, props: props([prop.u16(0x23, 0)]) }), 'MQTT-3.3.2-8']
                : which === 'SUBSCRIBE subscription identifier 0'
                  ? [subscribeBytes(v, takeId(s), [{ filter: t, options: 0 }], { props: props([prop.varint(0x0b, 0)]) }), 'MQTT5 §3.8.2.1.2']
                  : [publishBytes(v, { topic: t, qos: 0, props: props([prop.byte(0x01, 1)]), payload: u8(0xc0, 0xaf, 0xff) }), 'MQTT5 §3.3.2.3.2'];
            return { variant: which, ref, steps: [flawed(bytes, `${which.split(' ')[0]} ${show(t)}`, which.slice(which.indexOf(' ') + 1))] };
          }),
        ),
    },
    {
      weight: 1,
      arbitrary: fc.record({ which: fc.constantFrom('PUBLISH subscription identifier', 'PUBLISH session expiry interval', 'SUBSCRIBE topic alias'), topic }).map(({ which, topic }) =>
        breach('property-misplaced', (s) => {
          const t = topicOf(s, topic);
          const [bytes, ref] =
            which === 'PUBLISH subscription identifier'
              ? [inPacket(s, 'PUBLISH', t, props([prop.varint(0x0b, 1)])), 'MQTT-3.3.4-6']
              : which === 'PUBLISH session expiry interval'
                ? [inPacket(s, 'PUBLISH', t, props([prop.u32(0x11, 60)])), 'MQTT5 §2.2.2.2']
                : [inPacket(s, 'SUBSCRIBE', t, props([prop.u16(0x23, 1)])), 'MQTT5 §2.2.2.2'];
          return { variant: which, ref, steps: [flawed(bytes, `${which.split(' ')[0]} ${show(t)}`, which.slice(which.indexOf(' ') + 1))] };
        }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 10 }).map((alias) =>
        breach('topic-alias-unmapped', (s) => {
          // Aliases the valid commands map are 1 and 2; pick one this connection never mapped.
          let a = alias;
          while ([...s.aliases.values()].includes(a)) a++;
          return {
            variant: `alias ${a}`,
            ref: 'MQTT5 §3.3.2.3.4',
            steps: [flawed(publishBytes(v, { topic: new Uint8Array(0), qos: 0, props: props([prop.u16(0x23, a)]) }), `PUBLISH topic="" alias=${a}`, 'alias never mapped')],
          };
        }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.record({ reason: fc.constantFrom(0x18, 0x19), method: fc.constantFrom(...AUTH_METHODS) }).map(({ reason, method }) =>
        breach('auth-without-method', () => ({
          variant: `AUTH ${hex2(reason)} after a CONNECT without one`,
          ref: 'MQTT5 §4.12',
          steps: [wire({ cmd: 'auth', reasonCode: reason, properties: { authenticationMethod: method } }, v, ' — CONNECT had no authentication method')],
        })),
      ),
    },
  ];
}

/** Rules that take a few packets of protocol state after a valid CONNECT. */
function sessionFlowBreaches(c: Ctx): fc.WeightedArbitrary<Breach>[] {
  const v = c.version;
  const topic = fc.nat({ max: 15 });
  const publish = (s: Session, t: number, qos: QoS, id: number | undefined, payload = 'gauntlet'): Packet => ({
    cmd: 'publish',
    topic: topicOf(s, t),
    qos,
    dup: false,
    retain: false,
    payload: utf8(payload),
    ...(id === undefined ? {} : { messageId: id }),
  });
  return [
    {
      weight: 2,
      arbitrary: fc.record({ same: fc.boolean(), clientId: clientIdArb, keepalive: fc.integer({ min: 30, max: 60 }) }).map(({ same, clientId, keepalive }) =>
        breach('second-connect', (s) => {
          const p: IConnectPacket = {
            cmd: 'connect',
            protocolId: 'MQTT',
            protocolVersion: v,
            clean: true,
            clientId: same ? s.clientId : clientId,
            keepalive,
            ...(s.auth ? { username: s.auth.username, password: utf8(s.auth.password) } : {}),
          };
          return { variant: same ? 'same client id' : 'other client id', ref: 'MQTT-3.1.0-2', steps: [wire(p, v, ' — second CONNECT')] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({ then: fc.constantFrom('PINGREQ', 'PUBLISH', 'SUBSCRIBE'), reason: fc.constantFrom(0, 4), topic }).map(({ then, reason, topic }) =>
        breach(
          'after-disconnect',
          (s) => {
            const next: Packet =
              then === 'PINGREQ'
                ? { cmd: 'pingreq' }
                : then === 'PUBLISH'
                  ? publish(s, topic, 0, undefined)
                  : { cmd: 'subscribe', messageId: takeId(s), subscriptions: [{ topic: topicOf(s, topic), qos: 0 }] };
            return {
              variant: `${then} after DISCONNECT`,
              ref: 'MQTT-3.14.4-2',
              steps: [wire(v === 5 ? { cmd: 'disconnect', reasonCode: reason } : { cmd: 'disconnect' }, v), wire(next, v, ' — after DISCONNECT')],
            };
          },
          2,
        ),
      ),
    },
    {
      weight: 2,
      arbitrary: topic.map((t) =>
        breach('pubrel-missing', (s) => {
          const id = takeId(s);
          noteDelivery(s, topicOf(s, t), 2);
          return { variant: `PUBLISH qos=2 id=${id} never released`, ref: 'MQTT-4.3.3-1', steps: [wire(publish(s, t, 2, id), v, ' — PUBREL never sent')] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: topic.map((t) =>
        breach(
          'pubrel-duplicate',
          (s) => {
            const id = takeId(s);
            noteDelivery(s, topicOf(s, t), 2);
            return { variant: `id=${id}`, ref: 'MQTT-4.3.3-1', steps: [wire(publish(s, t, 2, id), v), wire(pubrel(id), v), wire(pubrel(id), v, ' — duplicate')] };
          },
          3,
        ),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.constant(
        breach('pubrel-unknown', (s) => {
          const id = takeId(s);
          return { variant: `id=${id}`, ref: 'MQTT-4.3.3-1', steps: [wire(pubrel(id), v, ' — no PUBLISH with this id')] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({ qos: fc.constantFrom<QoS>(1, 2), topic }).map(({ qos, topic }) =>
        breach(
          'id-in-use',
          (s) => {
            const id = takeId(s);
            noteDelivery(s, topicOf(s, topic), qos);
            // The second flow is released like any other, so only the reuse is wrong.
            if (qos === 2) s.open.push(id);
            return {
              variant: `PUBLISH qos=${qos} id=${id} twice`,
              ref: 'MQTT-2.3.1-2',
              steps: [wire(publish(s, topic, qos, id), v), wire(publish(s, topic, qos, id, 'again'), v, ' — id still in flight')],
            };
          },
          qos === 2 ? 3 : 2,
        ),
      ),
    },
  ];
}

/** Rules a CONNECT (the first packet, pre-auth) breaks. */
function connectPacketBreaches(c: Ctx): fc.WeightedArbitrary<Breach>[] {
  const v = c.version;
  const user = c.auth?.username ?? 'gauntlet';
  const pass = c.auth?.password ?? 'gauntlet';
  const base = fc.record({ clientId: clientIdArb, keepalive: fc.integer({ min: 30, max: 60 }) });
  const creds = c.auth ? { username: utf8(c.auth.username), password: utf8(c.auth.password) } : {};
  const what = (clientId: string, extra = '') => `CONNECT v${v} clientId=${show(clientId)}${extra}`;
  const arms: fc.WeightedArbitrary<Breach>[] = [
    {
      weight: 3,
      arbitrary: fc.record({ b: base, lie: lengthLieArb }).map(({ b, lie }) =>
        breach('remaining-length', () => {
          const ok = wire(
            {
              cmd: 'connect',
              protocolId: 'MQTT',
              protocolVersion: v,
              clean: true,
              clientId: b.clientId,
              keepalive: b.keepalive,
              ...(c.auth ? { username: c.auth.username, password: utf8(c.auth.password) } : {}),
            },
            v,
          );
          const r = lieAboutLength(ok.bytes, lie);
          return { variant: `CONNECT ${r.flaw}`, ref: r.ref, steps: [flawed(r.bytes, ok.label, r.flaw)] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({ b: base, mask: fc.integer({ min: 1, max: 15 }) }).map(({ b, mask }) =>
        breach('reserved-flags', () => {
          const { body } = splitFrame(connectBytes({ version: v, clientId: utf8(b.clientId), keepalive: b.keepalive, ...creds }));
          return { variant: `CONNECT ${bin4(mask)}`, ref: 'MQTT-2.2.2-1', steps: [flawed(frame(0x10 | mask, body), what(b.clientId), `reserved flags ${bin4(mask)} (must be 0b0000)`)] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({ b: base, name: fc.constantFrom('MQIsdp', 'MQTX', 'mqtt', 'MQTT\0', '', 'MQTTT') }).map(({ b, name }) =>
        breach('protocol-name', () => ({
          variant: show(name),
          ref: 'MQTT-3.1.2-1',
          steps: [flawed(connectBytes({ version: v, name: utf8(name), clientId: utf8(b.clientId), keepalive: b.keepalive, ...creds }), what(b.clientId), `protocol name ${show(name)}`)],
        })),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({ b: base, level: fc.constantFrom(3, 6, 255, 0, 2, 7, 128) }).map(({ b, level }) =>
        breach('protocol-level', () => ({
          variant: `level ${level}`,
          ref: 'MQTT-3.1.2-2',
          steps: [flawed(connectBytes({ version: v, level, clientId: utf8(b.clientId), keepalive: b.keepalive, ...creds }), what(b.clientId), `protocol level ${level}`)],
        })),
      ),
    },
    {
      weight: 1,
      arbitrary: base.map((b) =>
        breach('connect-reserved-flag', () => ({
          variant: 'bit 0',
          ref: 'MQTT-3.1.2-3',
          steps: [flawed(connectBytes({ version: v, clientId: utf8(b.clientId), keepalive: b.keepalive, extraFlags: 0x01, ...creds }), what(b.clientId), 'reserved flag bit 0 set')],
        })),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({ b: base, how: fc.constantFrom('will QoS 1 without will', 'will QoS 2 without will', 'will retain without will', 'will QoS 3') }).map(({ b, how }) =>
        breach('will-flags', () => {
          const [extra, ref] =
            how === 'will QoS 1 without will'
              ? [0x08, 'MQTT-3.1.2-13']
              : how === 'will QoS 2 without will'
                ? [0x10, 'MQTT-3.1.2-13']
                : how === 'will retain without will'
                  ? [0x20, 'MQTT-3.1.2-15']
                  : [0, 'MQTT-3.1.2-14'];
          const will = how === 'will QoS 3' ? { will: { topic: utf8(c.topics[0]!), payload: utf8('gone'), qos: 3 } } : {};
          return { variant: how, ref, steps: [flawed(connectBytes({ version: v, clientId: utf8(b.clientId), keepalive: b.keepalive, extraFlags: extra, ...will, ...creds }), what(b.clientId), how)] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({ b: base, which: fc.constantFrom('user name', 'password', 'will') }).map(({ b, which }) =>
        breach('missing-field', () => {
          // The flag is set, the field is left out of the payload.
          const [fields, ref]: [Partial<RawConnect>, string] =
            which === 'user name'
              ? [{ extraFlags: 0x80 }, 'MQTT-3.1.2-19']
              : which === 'password'
                ? [{ username: utf8(user), extraFlags: 0x40 }, 'MQTT-3.1.2-21']
                : [{ extraFlags: 0x04, ...creds }, 'MQTT-3.1.2-9'];
          return {
            variant: `${which} flag set, field absent`,
            ref,
            steps: [flawed(connectBytes({ version: v, clientId: utf8(b.clientId), keepalive: b.keepalive, ...fields }), what(b.clientId), `${which} flag without the field`)],
          };
        }),
      ),
    },
    {
      weight: 3,
      arbitrary: fc.record({ b: base, where: fc.constantFrom('client id', 'user name', 'will topic'), bad: badUtf8Arb, at: fc.nat({ max: 16 }) }).map(({ b, where, bad, at }) =>
        breach('invalid-utf8', () => {
          let bytes: Buffer;
          if (where === 'client id') bytes = encodeConnect({ version: v, clientId: splice(b.clientId, at, bad.bytes), keepalive: b.keepalive, ...creds });
          else if (where === 'user name') bytes = encodeConnect({ version: v, clientId: utf8(b.clientId), username: splice(user, at, bad.bytes), password: utf8(pass), keepalive: b.keepalive });
          else bytes = connectBytes({ version: v, clientId: utf8(b.clientId), keepalive: b.keepalive, will: { topic: splice(c.topics[0]!, at, bad.bytes), payload: utf8('gone'), qos: 0 }, ...creds });
          return { variant: `${where}: ${bad.name}`, ref: bad.ref, steps: [flawed(bytes, what(b.clientId), `${where} with ${bad.name}`)] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({ b: base, where: fc.constantFrom('client id', 'user name', 'password', 'protocol name'), delta: deltaArb }).map(({ b, where, delta }) =>
        breach('length-prefix', () => {
          const id = utf8(b.clientId);
          const length = where === 'user name' ? utf8(user).length : where === 'password' ? utf8(pass).length : where === 'client id' ? id.length : 4;
          const d = length === 0 ? Math.abs(delta) : delta; // an empty field can only claim more
          const u = { version: v, clientId: id, username: utf8(user), password: utf8(pass), keepalive: b.keepalive };
          const bytes =
            where === 'user name'
              ? encodeConnect({ ...u, usernameLengthDelta: d })
              : where === 'password'
                ? encodeConnect({ ...u, passwordLengthDelta: d })
                : connectBytes({ version: v, clientId: id, keepalive: b.keepalive, ...creds, ...(where === 'client id' ? { clientIdDelta: d } : { nameDelta: d }) });
          const lie = lieText(length, d);
          return { variant: `${where} ${lie}`, ref: 'MQTT-1.5.3', steps: [flawed(bytes, what(b.clientId), `${where} length ${lie}`)] };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .record({ b: base, where: fc.constantFrom('client id', 'user name', 'password'), len: fc.constantFrom(TYPE_LIMIT, TYPE_LIMIT - 1), fill: fc.constantFrom(...'abcxyz') })
        .map(({ b, where, len, fill }) =>
          breach('type-limit', () => {
            const long = Buffer.alloc(len, fill);
            const bytes =
              where === 'client id'
                ? encodeConnect({ version: v, clientId: long, keepalive: b.keepalive, ...creds })
                : encodeConnect({
                    version: v,
                    clientId: utf8(b.clientId),
                    username: where === 'user name' ? long : utf8(user),
                    password: where === 'password' ? long : utf8(pass),
                    keepalive: b.keepalive,
                  });
            return { variant: `CONNECT ${where} ${len} bytes`, ref: 'MQTT-1.5.3', steps: [flawed(bytes, `CONNECT v${v} ${where} ${len}B`, `${where} at ${len} bytes`)] };
          }),
        ),
    },
  ];
  if (v === 4) {
    arms.push(
      {
        weight: 1,
        arbitrary: base.map((b) =>
          breach('password-without-user', () => ({
            variant: 'password only',
            ref: 'MQTT-3.1.2-22',
            steps: [
              flawed(connectBytes({ version: v, clientId: utf8(b.clientId), keepalive: b.keepalive, password: utf8(pass) }), what(b.clientId, ' +password'), 'password flag without user name flag'),
            ],
          })),
        ),
      },
      {
        weight: 1,
        arbitrary: base.map((b) =>
          breach('empty-client-id', () => ({
            variant: 'clean=0',
            ref: 'MQTT-3.1.3-7',
            steps: [
              flawed(
                encodeConnect({ version: v, clientId: new Uint8Array(0), cleanSession: false, keepalive: b.keepalive, ...creds }),
                what('', ' persistent'),
                'zero-byte client id with clean session 0',
              ),
            ],
          })),
        ),
      },
    );
  } else {
    const connectWith = (b: { clientId: string; keepalive: number }, block: Uint8Array) => connectBytes({ version: v, clientId: utf8(b.clientId), keepalive: b.keepalive, props: block, ...creds });
    const DUPLICABLE = [
      ['sessionExpiryInterval', prop.u32(0x11, 60)],
      ['receiveMaximum', prop.u16(0x21, 10)],
      ['maximumPacketSize', prop.u32(0x27, 4096)],
      ['topicAliasMaximum', prop.u16(0x22, 5)],
      ['requestProblemInformation', prop.byte(0x17, 1)],
    ] as const;
    const FORBIDDEN = [
      ['receiveMaximum 0', prop.u16(0x21, 0), 'MQTT5 §3.1.2.11.3'],
      ['maximumPacketSize 0', prop.u32(0x27, 0), 'MQTT5 §3.1.2.11.4'],
      ['requestResponseInformation 2', prop.byte(0x19, 2), 'MQTT5 §3.1.2.11.6'],
      ['requestProblemInformation 2', prop.byte(0x17, 2), 'MQTT5 §3.1.2.11.7'],
    ] as const;
    arms.push(
      {
        weight: 1,
        arbitrary: fc.record({ b: base, pick: fc.nat({ max: DUPLICABLE.length - 1 }) }).map(({ b, pick }) =>
          breach('property-duplicate', () => {
            const [name, entry] = DUPLICABLE[pick]!;
            return { variant: `CONNECT ${name} twice`, ref: 'MQTT5 §3.1.2.11', steps: [flawed(connectWith(b, props([entry, entry])), what(b.clientId), `${name} twice`)] };
          }),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.record({ b: base, id: fc.constantFrom([0x00], [0x04], [0x0c], [0x7f], [0x80, 0x01]), value: fc.uint8Array({ maxLength: 4 }) }).map(({ b, id, value }) =>
          breach('property-unknown', () => {
            const idHex = Buffer.from(id).toString('hex');
            return {
              variant: `CONNECT identifier 0x${idHex}`,
              ref: 'MQTT5 §2.2.2.2',
              steps: [flawed(connectWith(b, props([Buffer.from(id), value])), what(b.clientId), `property identifier 0x${idHex}`)],
            };
          }),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.record({ b: base, lie: lengthLieArb }).map(({ b, lie }) =>
          breach('property-length', () => {
            const entries = prop.u32(0x11, 60);
            const raw =
              lie.how === 'too short'
                ? encodeVarint(Math.max(0, entries.length - Math.min(lie.n, 4)))
                : lie.how === 'maximum'
                  ? u8(0xff, 0xff, 0xff, 0x7f)
                  : lie.how === 'too long'
                    ? encodeVarint(entries.length + lie.n)
                    : paddedVarint(entries.length, 5);
            const flaw = `property length ${raw.toString('hex')}, ${entries.length} bytes of properties`;
            return { variant: `CONNECT ${flaw}`, ref: 'MQTT5 §2.2.2.1', steps: [flawed(connectWith(b, props([entries], raw)), what(b.clientId), flaw)] };
          }),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.record({ b: base, pick: fc.nat({ max: FORBIDDEN.length - 1 }) }).map(({ b, pick }) =>
          breach('property-value', () => {
            const [name, entry, ref] = FORBIDDEN[pick]!;
            return { variant: `CONNECT ${name}`, ref, steps: [flawed(connectWith(b, props([entry])), what(b.clientId), name)] };
          }),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.record({ b: base, which: fc.constantFrom('topic alias', 'subscription identifier') }).map(({ b, which }) =>
          breach('property-misplaced', () => ({
            variant: `CONNECT ${which}`,
            ref: 'MQTT5 §3.1.2.11',
            steps: [flawed(connectWith(b, props([which === 'topic alias' ? prop.u16(0x23, 1) : prop.varint(0x0b, 1)])), what(b.clientId), `${which} in CONNECT`)],
          })),
        ),
      },
    );
  }
  return arms;
}

/** Pre-auth rules that need more than the CONNECT: no CONNECT first, AUTH with a bad reason code. */
function connectFlowBreaches(c: Ctx): fc.WeightedArbitrary<Breach>[] {
  const v = c.version;
  const arms: fc.WeightedArbitrary<Breach>[] = [
    {
      weight: 2,
      arbitrary: fc.record({ first: fc.constantFrom('PUBLISH', 'SUBSCRIBE', 'PINGREQ'), topic: fc.nat({ max: 15 }), payload: payloadArb }).map(({ first, topic, payload }) =>
        breach('not-connect-first', (s) => ({
          variant: first,
          ref: 'MQTT-3.1.0-1',
          steps: [wire(targetPacket(s, first as Target, topicOf(s, topic), payload), v, ' — before any CONNECT')],
        })),
      ),
    },
  ];
  if (v === 5) {
    arms.push({
      weight: 1,
      arbitrary: fc.record({ clientId: clientIdArb, method: fc.constantFrom(...AUTH_METHODS), reason: fc.constantFrom(0x00, 0x01, 0x80, 0x87, 0xff) }).map(({ clientId, method, reason }) =>
        breach(
          'auth-reason',
          (s) => {
            const connect: IConnectPacket = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId, keepalive: 30, properties: { authenticationMethod: method } };
            // Enhanced auth is under way: whatever follows stays AUTH only [MQTT5 §3.1.2.11.9].
            s.authMethod = method;
            // A client may send AUTH with 0x18 or 0x19 only [MQTT-3.15.2-1].
            const auth = frame(0xf0, cat(u8(reason), props([prop.str(0x15, utf8(method))])));
            return { variant: hex2(reason), ref: 'MQTT-3.15.2-1', steps: [wire(connect, v), flawed(auth, `AUTH method=${show(method)}`, `reason code ${hex2(reason)}`)] };
          },
          1,
        ),
      ),
    });
  }
  return arms;
}

// ---------------------------------------------------------------- public arbitraries

function ctxOf(o: { version: Version; auth?: Auth; topics?: readonly string[] }): Ctx {
  const topics = o.topics && o.topics.length > 0 ? o.topics : DEFAULT_TOPICS;
  return { version: o.version, topics, ...(o.auth ? { auth: o.auth } : {}) };
}

const firstIdArb = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 100 }) }, { weight: 1, arbitrary: fc.integer({ min: 0xfff0, max: 0xffff }) });

/** One packet of any client-to-server type: well-formed (valid) or breaking one rule (hostile). */
export function mqttPacketArb(version: 4 | 5, mode: FuzzMode): fc.Arbitrary<FuzzStep> {
  const c = ctxOf({ version });
  if (mode === 'hostile') {
    return fc
      .record({ b: fc.oneof(...sessionPacketBreaches(c), ...connectPacketBreaches(c)), firstId: firstIdArb })
      .map(({ b, firstId }) => b.build(newSession(c, 'gf-packet0', firstId)).steps.at(-1)!);
  }
  const v = version;
  const reason = <T extends number>(codes: readonly T[]) => (v === 5 ? fc.constantFrom(...codes) : fc.constant(undefined));
  const ack = (cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', codes: readonly number[]) =>
    fc.record({ id: idArb, reasonCode: reason(codes) }).map(({ id, reasonCode }): Packet => ({ cmd, messageId: id, ...(reasonCode === undefined ? {} : { reasonCode }) }));
  const PUBACK_CODES = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
  const arms: fc.Arbitrary<Packet>[] = [
    anyConnectArb(c),
    fc
      .record({
        topic: topicNameArb,
        qos: qosArb,
        id: idArb,
        retain: fc.boolean(),
        dup: fc.boolean(),
        payload: payloadArb,
        properties: v === 5 ? fc.option(publishPropsArb, { nil: undefined }) : fc.constant(undefined),
      })
      .map(({ topic, qos, id, retain, dup, payload, properties }): Packet => {
        const p = publishProperties(payload, properties);
        // DUP only on QoS 1 and 2 [MQTT-3.3.1-2].
        return { cmd: 'publish', topic, qos, dup: qos > 0 && dup, retain, payload, ...(qos > 0 ? { messageId: id } : {}), ...(p ? { properties: p } : {}) };
      }),
    ack('puback', PUBACK_CODES),
    ack('pubrec', PUBACK_CODES),
    ack('pubrel', [0x00, 0x92]),
    ack('pubcomp', [0x00, 0x92]),
    fc
      .record({
        id: idArb,
        subs: fc.array(fc.record({ topic: topicFilterArb, qos: qosArb, nl: fc.boolean(), rap: fc.boolean(), rh: fc.constantFrom(0, 1, 2) }), { minLength: 1, maxLength: 3 }),
        properties: v === 5 ? fc.option(subscribePropsArb, { nil: undefined }) : fc.constant(undefined),
      })
      .map(({ id, subs, properties }): Packet => ({
        cmd: 'subscribe',
        messageId: id,
        subscriptions: subs.map((s) => (v === 5 ? s : { topic: s.topic, qos: s.qos })),
        ...(properties ? { properties } : {}),
      })),
    fc
      .record({
        id: idArb,
        topics: fc.array(topicFilterArb, { minLength: 1, maxLength: 3 }),
        properties: v === 5 ? fc.option(fc.record({ userProperties: userPropsArb }), { nil: undefined }) : fc.constant(undefined),
      })
      .map(({ id, topics, properties }): Packet => ({ cmd: 'unsubscribe', messageId: id, unsubscriptions: topics, ...(properties ? { properties } : {}) })),
    fc.constant<Packet>({ cmd: 'pingreq' }),
    fc
      .record({
        reasonCode: fc.constantFrom(0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99),
        properties: fc.option(fc.record({ reasonString: fc.string({ maxLength: 24 }), userProperties: userPropsArb }, { requiredKeys: [] }), { nil: undefined }),
      })
      .map(({ reasonCode, properties }): Packet => (v === 5 ? { cmd: 'disconnect', reasonCode, ...(properties ? { properties } : {}) } : { cmd: 'disconnect' })),
  ];
  if (v === 5) {
    arms.push(
      fc
        .record({ reasonCode: fc.constantFrom(0x18, 0x19), method: fc.constantFrom(...AUTH_METHODS), data: fc.uint8Array({ maxLength: 32 }) })
        .map(({ reasonCode, method, data }): Packet => ({ cmd: 'auth', reasonCode, properties: { authenticationMethod: method, authenticationData: Buffer.from(data) } })),
    );
  }
  return fc.oneof(...arms).map((p) => wire(p, v));
}

const caseSummary = (steps: readonly FuzzStep[]) => {
  const kinds = steps.map(
    (s) =>
      s.label
        .match(/^(\w+)(?: (qos=\d))?/)
        ?.slice(1)
        .filter(Boolean)
        .join(' ') ?? '?',
  );
  return kinds.length ? ` then ${kinds.join(', ')}` : ' only';
};

/** One TCP connection's worth of MQTT bytes: a stateful session (about 3 in 4) or a pre-auth case. */
export function mqttCaseArb(opts: MqttCaseOptions): fc.Arbitrary<FuzzCase> {
  const c = ctxOf(opts);
  const v = c.version;
  const maxSteps = Math.max(0, Math.floor(opts.maxSteps ?? DEFAULT_MAX_STEPS));
  // Twice as many commands as packets: some do nothing in the state they meet (an ack with no delivery), and
  // long sequences are where state builds up. The session's room keeps the packets within maxSteps.
  const commands = fc.array(commandArb(v, opts.mode === 'valid'), { maxLength: 2 * maxSteps, size: 'max' });
  const who = c.auth ? `user=${show(c.auth.username, 24)}` : 'anonymous';

  if (opts.mode === 'valid') {
    const session = fc.record({ connect: openerArb(c), firstId: firstIdArb, commands }).map(({ connect, firstId, commands }): FuzzCase => {
      const s = newSession(c, connect.clientId, firstId);
      s.room = maxSteps;
      const steps: FuzzStep[] = [];
      if (!compile(s, commands, steps)) flush(s, steps);
      return { steps: [wire(connect, v), ...steps], label: `valid v${v}: CONNECT ${who}${caseSummary(steps)}` };
    });
    const preAuth = fc.record({ connect: anyConnectArb(c), firstId: firstIdArb, commands }).map(({ connect, firstId, commands }): FuzzCase => {
      const s = newSession(c, connect.clientId, firstId, connect.properties?.authenticationMethod);
      s.room = maxSteps;
      const steps: FuzzStep[] = [];
      if (!compile(s, commands, steps)) flush(s, steps);
      const first = wire(connect, v);
      return { steps: [first, ...steps], label: `valid v${v} pre-auth: ${first.label.replace(/ props\{.*\}$/, '')}${caseSummary(steps)}` };
    });
    return fc.oneof({ weight: 3, arbitrary: session }, { weight: 1, arbitrary: preAuth });
  }

  const label = (b: Built, rule: MqttHostileRule) => `hostile: ${MQTT_HOSTILE_RULES[rule].title}: ${b.variant} [${b.ref}]`;
  const session = fc
    .record({ connect: openerArb(c), firstId: firstIdArb, breach: fc.oneof(...sessionPacketBreaches(c), ...sessionFlowBreaches(c)), before: commands, after: commands })
    .map(({ connect, firstId, breach, before, after }): FuzzCase => {
      const s = newSession(c, connect.clientId, firstId);
      s.room = Math.max(0, maxSteps - breach.size);
      const steps: FuzzStep[] = [];
      compile(s, before, steps);
      const b = breach.build(s);
      steps.push(...b.steps);
      compile(s, after, steps);
      flush(s, steps);
      return { steps: [wire(connect, v), ...steps], label: label(b, breach.rule) };
    });
  const preAuth = fc
    .record({ breach: fc.oneof(...connectPacketBreaches(c), ...connectFlowBreaches(c)), firstId: firstIdArb, clientId: clientIdArb, after: commands })
    .map(({ breach, firstId, clientId, after }): FuzzCase => {
      const s = newSession(c, clientId, firstId);
      const b = breach.build(s);
      s.room = Math.max(0, maxSteps - b.steps.length + 1);
      const steps = [...b.steps];
      compile(s, after, steps);
      flush(s, steps);
      return { steps, label: label(b, breach.rule) };
    });
  return fc.oneof({ weight: 3, arbitrary: session }, { weight: 1, arbitrary: preAuth });
}
