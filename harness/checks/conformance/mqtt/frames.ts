// Byte-level MQTT for the conformance catalog: the client's packets written
// exactly as a statement needs them (reserved bits set, QoS 3, a topic with
// ill-formed UTF-8, properties in a chosen order), and the server's bytes cut
// into frames with their fixed header kept, so the catalog can judge what
// mqtt-packet's parser hides or refuses (reserved flags, non-minimal
// remaining lengths, the wire order of v5 properties). Well-formed packets
// the catalog only needs to send go through mqtt-packet's generate().

import { encodeVarint } from '../../../protocols/mqtt/connect-bytes.js';

export type Version = 4 | 5;

export const T = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  AUTH: 15,
} as const;

export const TYPE_NAME = ['RESERVED', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH'] as const;

/** The fixed-header flags each packet type must carry (PUBLISH has its own) [MQTT-2.2.2-1] [MQTT5 2.1.3-1]. */
export const REQUIRED_FLAGS: Readonly<Record<number, number>> = { 1: 0, 2: 0, 4: 0, 5: 0, 6: 2, 7: 0, 8: 2, 9: 0, 10: 2, 11: 0, 12: 0, 13: 0, 14: 0, 15: 0 };

export const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const bytes = (v: string | Uint8Array): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v));
/** A string or binary field with its two-byte length [MQTT-1.5.3]. */
export const str = (v: string | Uint8Array): Buffer => {
  const b = bytes(v);
  return Buffer.concat([u16(b.length), b]);
};
/** Fixed header (first byte, true remaining length) and body. */
export const frame = (first: number, body: Uint8Array): Buffer => Buffer.concat([Buffer.from([first]), encodeVarint(body.length), body]);

// ---------------------------------------------------------------- v5 properties

/** v5 property identifiers [MQTT5 2.2.2.2]. */
export const PROP = {
  payloadFormat: 0x01,
  messageExpiry: 0x02,
  contentType: 0x03,
  responseTopic: 0x08,
  correlationData: 0x09,
  subscriptionId: 0x0b,
  sessionExpiry: 0x11,
  assignedClientId: 0x12,
  serverKeepAlive: 0x13,
  authMethod: 0x15,
  authData: 0x16,
  requestProblemInfo: 0x17,
  willDelay: 0x18,
  requestResponseInfo: 0x19,
  responseInfo: 0x1a,
  serverReference: 0x1c,
  reasonString: 0x1f,
  receiveMaximum: 0x21,
  topicAliasMaximum: 0x22,
  topicAlias: 0x23,
  maximumQos: 0x24,
  retainAvailable: 0x25,
  userProperty: 0x26,
  maximumPacketSize: 0x27,
  wildcardAvailable: 0x28,
  subscriptionIdAvailable: 0x29,
  sharedAvailable: 0x2a,
} as const;

type Kind = 'byte' | 'u16' | 'u32' | 'varint' | 'str' | 'bin' | 'pair';
const KIND: Readonly<Record<number, Kind>> = {
  0x01: 'byte', 0x17: 'byte', 0x19: 'byte', 0x24: 'byte', 0x25: 'byte', 0x28: 'byte', 0x29: 'byte', 0x2a: 'byte',
  0x13: 'u16', 0x21: 'u16', 0x22: 'u16', 0x23: 'u16',
  0x02: 'u32', 0x11: 'u32', 0x18: 'u32', 0x27: 'u32',
  0x0b: 'varint',
  0x03: 'str', 0x08: 'str', 0x12: 'str', 0x15: 'str', 0x1a: 'str', 0x1c: 'str', 0x1f: 'str',
  0x09: 'bin', 0x16: 'bin',
  0x26: 'pair',
};

export type PropValue = number | string | Buffer | readonly [string, string];
/** One property as it was on the wire. */
export type RawProp = readonly [id: number, value: PropValue];

/** Encodes properties in the order given. */
export function props(list: readonly RawProp[]): Buffer {
  const parts = list.map(([id, v]) => {
    const head = Buffer.from([id]);
    switch (KIND[id]) {
      case 'byte':
        return Buffer.concat([head, Buffer.from([v as number])]);
      case 'u16':
        return Buffer.concat([head, u16(v as number)]);
      case 'u32':
        return Buffer.concat([head, u32(v as number)]);
      case 'varint':
        return Buffer.concat([head, encodeVarint(v as number)]);
      case 'str':
      case 'bin':
        return Buffer.concat([head, str(v as string | Buffer)]);
      case 'pair': {
        const [k, val] = v as readonly [string, string];
        return Buffer.concat([head, str(k), str(val)]);
      }
      default:
        throw new Error(`property 0x${id.toString(16)} has no encoder`);
    }
  });
  const body = Buffer.concat(parts);
  return Buffer.concat([encodeVarint(body.length), body]);
}

/** Reads a variable byte integer at `at`: its value, its end, and whether it used the fewest bytes [MQTT5 1.5.5-1]. */
export function readVarint(buf: Buffer, at: number): { value: number; end: number; minimal: boolean } | undefined {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    const b = buf[at + i];
    if (b === undefined) return undefined;
    value += (b & 0x7f) * 128 ** i;
    if ((b & 0x80) === 0) return { value, end: at + i + 1, minimal: i === 0 || b !== 0 };
  }
  return undefined;
}

/** Reads a v5 property block at `at` in wire order; undefined when it does not parse. */
export function readProps(buf: Buffer, at: number): { list: RawProp[]; end: number } | undefined {
  const len = readVarint(buf, at);
  if (!len) return undefined;
  const end = len.end + len.value;
  if (end > buf.length) return undefined;
  const list: RawProp[] = [];
  let i = len.end;
  const s16 = () => {
    if (i + 2 > end) return undefined;
    const n = buf.readUInt16BE(i);
    if (i + 2 + n > end) return undefined;
    const out = buf.subarray(i + 2, i + 2 + n);
    i += 2 + n;
    return out;
  };
  const fits = (n: number) => i + n <= end;
  while (i < end) {
    const id = buf[i++]!;
    switch (KIND[id]) {
      case 'byte':
        if (!fits(1)) return undefined;
        list.push([id, buf[i++]!]);
        break;
      case 'u16':
        if (!fits(2)) return undefined;
        list.push([id, buf.readUInt16BE(i)]);
        i += 2;
        break;
      case 'u32':
        if (!fits(4)) return undefined;
        list.push([id, buf.readUInt32BE(i)]);
        i += 4;
        break;
      case 'varint': {
        const v = readVarint(buf, i);
        if (!v) return undefined;
        list.push([id, v.value]);
        i = v.end;
        break;
      }
      case 'str': {
        const s = s16();
        if (!s) return undefined;
        list.push([id, s.toString('utf8')]);
        break;
      }
      case 'bin': {
        const s = s16();
        if (!s) return undefined;
        list.push([id, Buffer.from(s)]);
        break;
      }
      case 'pair': {
        const k = s16();
        const v = k && s16();
        if (!k || !v) return undefined;
        list.push([id, [k.toString('utf8'), v.toString('utf8')]]);
        break;
      }
      default:
        return undefined;
    }
    if (i > end) return undefined;
  }
  return { list, end };
}

export const propOf = (list: readonly RawProp[] | undefined, id: number): PropValue | undefined => list?.find(([p]) => p === id)?.[1];
export const propsOf = (list: readonly RawProp[] | undefined, id: number): PropValue[] => (list ?? []).filter(([p]) => p === id).map(([, v]) => v);

// ---------------------------------------------------------------- client packets

export interface RawConnect {
  readonly version: Version;
  readonly clientId: string | Uint8Array;
  readonly username?: string;
  readonly password?: string;
  readonly clean?: boolean;
  readonly keepalive?: number;
  readonly will?: { readonly topic: string | Uint8Array; readonly payload: Uint8Array; readonly qos?: number; readonly retain?: boolean; readonly props?: readonly RawProp[] };
  readonly props?: readonly RawProp[];
  /** Protocol name, default "MQTT". */
  readonly name?: string;
  /** Protocol level, default the version. */
  readonly level?: number;
  /** Bits OR-ed into the connect flags after they are computed (hostile: reserved bit, will bits without a will). */
  readonly flagsOr?: number;
}

/** A CONNECT, hand-encoded so a statement can break exactly one rule. */
export function rawConnect(c: RawConnect): Buffer {
  let flags = 0;
  if (c.clean ?? true) flags |= 0x02;
  if (c.will) flags |= 0x04 | ((c.will.qos ?? 0) << 3) | (c.will.retain ? 0x20 : 0);
  if (c.password !== undefined) flags |= 0x40;
  if (c.username !== undefined) flags |= 0x80;
  flags |= c.flagsOr ?? 0;
  const v5 = c.version === 5 && (c.level ?? 5) === 5;
  const parts: Buffer[] = [str(c.name ?? 'MQTT'), Buffer.from([c.level ?? c.version, flags]), u16(c.keepalive ?? 60)];
  if (v5) parts.push(props(c.props ?? []));
  parts.push(str(c.clientId));
  if (c.will) {
    if (v5) parts.push(props(c.will.props ?? []));
    parts.push(str(c.will.topic), str(c.will.payload));
  }
  if (c.username !== undefined) parts.push(str(c.username));
  if (c.password !== undefined) parts.push(str(c.password));
  return frame(0x10, Buffer.concat(parts));
}

export interface RawPublish {
  readonly version: Version;
  readonly topic: string | Uint8Array;
  /** 0..3: 3 is the forbidden value [MQTT-3.3.1-4]. */
  readonly qos: number;
  readonly id?: number;
  readonly dup?: boolean;
  readonly retain?: boolean;
  readonly props?: readonly RawProp[];
  readonly payload: string | Uint8Array;
}

export function rawPublish(p: RawPublish): Buffer {
  const first = 0x30 | (p.dup ? 0x08 : 0) | ((p.qos & 3) << 1) | (p.retain ? 1 : 0);
  const parts: Buffer[] = [str(p.topic)];
  if (p.qos > 0) parts.push(u16(p.id ?? 1));
  if (p.version === 5) parts.push(props(p.props ?? []));
  parts.push(bytes(p.payload));
  return frame(first, Buffer.concat(parts));
}

/** SUBSCRIBE with raw option bytes; `first` lets a statement break the reserved flags. */
export function rawSubscribe(version: Version, id: number, filters: readonly { readonly topic: string | Uint8Array; readonly options: number }[], o: { first?: number; props?: readonly RawProp[] } = {}): Buffer {
  const parts: Buffer[] = [u16(id)];
  if (version === 5) parts.push(props(o.props ?? []));
  for (const f of filters) parts.push(str(f.topic), Buffer.from([f.options]));
  return frame(o.first ?? 0x82, Buffer.concat(parts));
}

export function rawUnsubscribe(version: Version, id: number, filters: readonly (string | Uint8Array)[], first = 0xa2): Buffer {
  const parts: Buffer[] = [u16(id)];
  if (version === 5) parts.push(props([]));
  for (const f of filters) parts.push(str(f));
  return frame(first, Buffer.concat(parts));
}

/** PUBACK, PUBREC, PUBREL (flags 0x02), PUBCOMP with an optional v5 reason code. */
export function rawAck(type: 4 | 5 | 6 | 7, id: number, reason?: number, first?: number): Buffer {
  const body = reason === undefined ? u16(id) : Buffer.concat([u16(id), Buffer.from([reason])]);
  return frame(first ?? ((type << 4) | (type === 6 ? 2 : 0)), body);
}

export const PINGREQ = Buffer.from([0xc0, 0x00]);
export function rawDisconnect(version: Version, reason = 0, list: readonly RawProp[] = [], first = 0xe0): Buffer {
  if (version === 4) return frame(first, Buffer.alloc(0));
  return frame(first, Buffer.concat([Buffer.from([reason]), props(list)]));
}

// ---------------------------------------------------------------- server frames

export interface CutFrame {
  readonly first: number;
  readonly body: Buffer;
  readonly raw: Buffer;
  /** The remaining length used the fewest bytes [MQTT5 1.5.5-1]. */
  readonly minimal: boolean;
}

/** Cuts whole frames off `buf`; `rest` is an incomplete tail, `error` a length that cannot be read. */
export function cutFrames(buf: Buffer): { frames: CutFrame[]; rest: Buffer; error?: string } {
  const frames: CutFrame[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 1 >= buf.length) break;
    let len = 0;
    let i = at + 1;
    let done = false;
    let minimal = true;
    for (let k = 0; k < 4; k++) {
      const b = buf[i];
      if (b === undefined) break;
      len += (b & 0x7f) * 128 ** k;
      i++;
      if ((b & 0x80) === 0) {
        done = true;
        if (k > 0 && b === 0) minimal = false;
        break;
      }
    }
    if (!done) {
      if (i - (at + 1) >= 4) return { frames, rest: Buffer.alloc(0), error: 'remaining length longer than 4 bytes' };
      break;
    }
    if (i + len > buf.length) break;
    frames.push({ first: buf[at]!, body: Buffer.from(buf.subarray(i, i + len)), raw: Buffer.from(buf.subarray(at, i + len)), minimal });
    at = i + len;
  }
  return { frames, rest: Buffer.from(buf.subarray(at)) };
}

/** A v5 ack's reason code (PUBACK..PUBCOMP, DISCONNECT): absent = 0x00 [MQTT5 3.4.2.1]. */
export function ackReason(type: number, body: Buffer): number {
  if (type === T.DISCONNECT) return body.length >= 1 ? body[0]! : 0;
  return body.length >= 3 ? body[2]! : 0;
}

/** The properties of a v5 ack-like packet, in wire order. */
export function ackProps(type: number, body: Buffer): RawProp[] | undefined {
  if (type === T.DISCONNECT) return body.length >= 2 ? readProps(body, 1)?.list : [];
  if (type === T.SUBACK || type === T.UNSUBACK) return readProps(body, 2)?.list;
  if (type === T.CONNACK) return body.length > 2 ? readProps(body, 2)?.list : [];
  return body.length >= 4 ? readProps(body, 3)?.list : [];
}

/** A PUBLISH frame decoded by hand: topic bytes, packet id, v5 properties in order, payload. */
export interface PublishView {
  readonly topic: Buffer;
  readonly qos: number;
  readonly dup: boolean;
  readonly retain: boolean;
  readonly id?: number;
  readonly props?: RawProp[];
  readonly payload: Buffer;
}

export function viewPublish(version: Version, first: number, body: Buffer): PublishView | undefined {
  if (body.length < 2) return undefined;
  const n = body.readUInt16BE(0);
  if (2 + n > body.length) return undefined;
  const topic = Buffer.from(body.subarray(2, 2 + n));
  const qos = (first >> 1) & 3;
  let at = 2 + n;
  let id: number | undefined;
  if (qos > 0) {
    if (at + 2 > body.length) return undefined;
    id = body.readUInt16BE(at);
    at += 2;
  }
  let list: RawProp[] | undefined;
  if (version === 5) {
    const p = readProps(body, at);
    if (!p) return undefined;
    list = p.list;
    at = p.end;
  }
  return { topic, qos, dup: (first & 0x08) !== 0, retain: (first & 1) !== 0, id, props: list, payload: Buffer.from(body.subarray(at)) };
}
