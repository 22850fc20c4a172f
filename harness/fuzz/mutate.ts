// Mutators over corpus seeds (fuzz/corpus.ts): a fast-check arbitrary that
// draws a seed and a list of mutation descriptors and applies them, so
// fast-check shrinks a failing case by dropping mutations and simplifying
// each one (a descriptor is plain numbers, resolved against the step it
// lands on). Pure: no I/O.
//   - Field-aware where the step parses: MQTT through mqtt-packet (parse,
//     then generate or a patch of the field's bytes); CoAP through a strict
//     decoder below (coap-packet must parse the datagram too; its parse
//     names options, encodeCoap needs numbers) and the repo's encodeCoap;
//     HTTP through a strict request parser and encoder below (no package
//     writes requests byte for byte, see protocols/http/arbitraries.ts). A
//     step counts as parsed only if re-encoding the parse gives its bytes
//     back, so an edit changes the field it names and nothing else (lengths
//     that frame the field follow it, unless the edit is the length's lie).
//   - Byte-level otherwise or in addition: bit flips, interesting bytes,
//     chunk insert/delete/duplicate, truncation, steps spliced from another
//     seed, a step repeated.
// Placeholders the target supplies are filled before any mutation: the
// user name {user} and password {pass} of an MQTT CONNECT (re-encoded with
// mqtt-packet), {host} and a {session} header line in HTTP heads.
// The case label says the seed and every mutation in one line; each step's
// label says what was done to it. Cases stay within CASE_LIMITS.

import fc from 'fast-check';
import { parse as parseCoap } from 'coap-packet';
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { FuzzCase, FuzzProtocol, FuzzStep } from '../model/index.js';
import { GauntletError } from '../core/errors.js';
import { printable } from '../protocols/common/io.js';
import { encodeCoap, type CoapOption, type RawCoapMessage } from '../protocols/coap/arbitraries.js';
import { encodeVarint } from '../protocols/mqtt/connect-bytes.js';
import { paddedVarint } from '../protocols/mqtt/arbitraries.js';

/** Bounds every case (seeded or mutated) stays within. */
export const CASE_LIMITS = {
  /** Steps in one case. */
  steps: 64,
  /** Bytes in one step. */
  stepBytes: 64 * 1024,
  /** Mutations in one case (the largest maxMutations). */
  mutations: 32,
} as const;

export const DEFAULT_MAX_MUTATIONS = 4;

export interface MutateOptions {
  /** The principal's credentials for the {user}/{pass} placeholders of an MQTT CONNECT; none: anonymous. */
  readonly auth?: { readonly username: string; readonly password: string };
  /** The Host value for HTTP's {host}, e.g. `127.0.0.1:8080`; default `localhost`. */
  readonly host?: string;
  /** The header line(s) for HTTP's `{session}` line, e.g. `Authorization: Bearer abc` (several: CRLF between); none: the line is dropped. */
  readonly sessionHeader?: string;
  /** Mutations per case, 1..CASE_LIMITS.mutations; default 4. */
  readonly maxMutations?: number;
}

/**
 * One mutation, as numbers fast-check can shrink. `step` and positions are
 * taken modulo what the case has when the mutation applies (mutations apply
 * in order, each to the result of the ones before).
 */
export type Mutation =
  /** The field-aware edit `field` (modulo the step's editable fields), choosing its new value with `value`. */
  | { readonly kind: 'field'; readonly step: number; readonly field: number; readonly value: number }
  | { readonly kind: 'flip'; readonly step: number; readonly at: number; readonly bit: number }
  /** Sets a byte to one of INTERESTING_BYTES other than the one it has (`value` picks). */
  | { readonly kind: 'set'; readonly step: number; readonly at: number; readonly value: number }
  | { readonly kind: 'insert'; readonly step: number; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly step: number; readonly at: number; readonly length: number }
  | { readonly kind: 'duplicate'; readonly step: number; readonly at: number; readonly length: number }
  | { readonly kind: 'truncate'; readonly step: number; readonly at: number }
  /** Inserts step `from` of seed `seed` after `step`. */
  | { readonly kind: 'splice'; readonly step: number; readonly seed: number; readonly from: number }
  /** Sends `step` `times` more times right after it. */
  | { readonly kind: 'repeat'; readonly step: number; readonly times: number };

/** What a field-aware edit did: `semantic` re-encodes the field (its lengths follow), `patch` rewrites its bytes in place, `framing` makes a length lie. */
export type EditKind = 'semantic' | 'patch' | 'framing';

export interface AppliedMutation {
  readonly mutation: Mutation;
  /** The step it applied to (0-based, as the case was at that moment). */
  readonly step: number;
  /** One line: `step 3 PUBLISH qos 2->3`. */
  readonly text: string;
  /** Field-aware edits only: what kind, and the parsed fields it changes (mqtt-packet / decoded CoAP / HTTP names). */
  readonly edit?: { readonly kind: EditKind; readonly keys: readonly string[] };
}

export const INTERESTING_BYTES = [0x00, 0x7f, 0x80, 0xff] as const;
/** Longest chunk a delete or duplicate takes. */
const MAX_CHUNK = 256;
/** Most extra copies a repeat adds. */
const MAX_REPEAT = 8;

// ---------------------------------------------------------------- helpers

type Json = Record<string, unknown>;
type Version = 4 | 5;

interface FieldEdit {
  readonly bytes: Uint8Array;
  readonly text: string;
  readonly kind: EditKind;
  readonly keys: readonly string[];
}

interface Field {
  readonly name: string;
  /** The edit, or undefined when no candidate value applies (the caller falls back to bytes). */
  run(value: number): FieldEdit | undefined;
}

interface ParsedStep {
  /** What the step is, for labels: `PUBLISH`, `CON GET`, `POST /api/login`. */
  readonly what: string;
  readonly fields: readonly Field[];
}

const cat = (...parts: readonly Uint8Array[]) => Buffer.concat(parts);
const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const latin1 = (s: string) => Buffer.from(s, 'latin1');
const utf8 = (s: string) => Buffer.from(s, 'utf8');
const hex2 = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;
const show = (v: string | Uint8Array, cap = 24) => `"${printable(v, cap)}"`;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** The candidates that differ from the current value; the one `value` picks, or undefined if none differs. */
function pick<T>(cands: readonly T[], value: number, isCurrent: (t: T) => boolean): T | undefined {
  const fresh = cands.filter((c) => !isCurrent(c));
  return fresh.length ? fresh[value % fresh.length] : undefined;
}

function patched(b: Uint8Array, at: number, bytes: readonly number[]): Buffer {
  const out = Buffer.from(b);
  bytes.forEach((x, i) => (out[at + i] = x));
  return out;
}

const clampStep = (b: Uint8Array): Uint8Array => (b.length > CASE_LIMITS.stepBytes ? b.subarray(0, CASE_LIMITS.stepBytes) : b);

// ---------------------------------------------------------------- MQTT

/** MQTT variable byte integer at `at` [MQTT-1.5.5]. */
function readVarint(b: Uint8Array, at: number): { value: number; width: number } | undefined {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    const byte = b[at + i];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * 128 ** i;
    if ((byte & 0x80) === 0) return { value, width: i + 1 };
  }
  return undefined;
}

const varintWidth = (n: number) => (n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4);

const reframe = (first: number, body: Uint8Array) => cat(Buffer.from([first]), encodeVarint(body.length), body);

function generate(p: Json, v: Version): Buffer | undefined {
  try {
    return mqttPacket.generate(p as unknown as Packet, { protocolVersion: p['cmd'] === 'connect' ? (p['protocolVersion'] as number) : v });
  } catch {
    return undefined;
  }
}

/** One packet that mqtt-packet parses and re-generates to the same bytes, or undefined. */
function parseMqtt(bytes: Uint8Array, v: Version): Json | undefined {
  const parser = mqttPacket.parser({ protocolVersion: v });
  const packets: Json[] = [];
  let failed = false;
  parser.on('packet', (p: Packet) => packets.push(p as unknown as Json));
  parser.on('error', () => (failed = true));
  let left: number;
  try {
    left = parser.parse(Buffer.from(bytes));
  } catch {
    return undefined;
  }
  const p = packets[0];
  if (failed || left !== 0 || packets.length !== 1 || !p) return undefined;
  return generate(p, v)?.equals(Buffer.from(bytes)) ? p : undefined;
}

/** The protocol version a case speaks: its first CONNECT's, else 3.1.1. */
function mqttVersionOf(steps: readonly { readonly bytes: Uint8Array }[]): Version {
  for (const s of steps) {
    const p = parseMqtt(s.bytes, 4);
    if (p?.['cmd'] === 'connect') return p['protocolVersion'] === 5 ? 5 : 4;
  }
  return 4;
}

interface Candidate {
  readonly text: string;
  readonly apply: (p: Json) => Json;
}

/** A semantic edit through mqtt-packet's generate: the first candidate from `value` on that encodes and changes the bytes. */
function viaGenerate(name: string, keys: readonly string[], p: Json, b: Buffer, v: Version, cands: readonly Candidate[]): Field {
  return {
    name,
    run(value) {
      for (let k = 0; k < cands.length; k++) {
        const c = cands[(value + k) % cands.length]!;
        const out = generate(c.apply(p), v);
        if (out && !out.equals(b)) return { bytes: out, text: `${name} ${c.text}`, kind: 'semantic', keys };
      }
      return undefined;
    },
  };
}

/** Bits `shift`..`shift+width-1` of byte `at`, set to another candidate value. */
function bitsField(name: string, b: Buffer, at: number, shift: number, width: number, cands: readonly number[]): Field {
  const mask = (1 << width) - 1;
  const cur = (b[at]! >> shift) & mask;
  return {
    name,
    run(value) {
      const n = pick(cands, value, (c) => c === cur);
      if (n === undefined) return undefined;
      return { bytes: patched(b, at, [(b[at]! & ~(mask << shift)) | (n << shift)]), text: `${name} ${cur}->${n}`, kind: 'patch', keys: [] };
    },
  };
}

/** A 2-byte integer at `at` (packet id, keep alive, a length prefix), set to another candidate. */
function u16Field(name: string, b: Buffer, at: number, cands: (cur: number) => readonly number[]): Field {
  const cur = b.readUInt16BE(at);
  return {
    name,
    run(value) {
      const n = pick(cands(cur), value, (c) => c === cur);
      if (n === undefined) return undefined;
      return { bytes: patched(b, at, [...u16(n)]), text: `${name} ${cur}->${n}`, kind: 'patch', keys: [] };
    },
  };
}

const IDS = (cur: number) => [0, 1, 0x7fff, 0x8000, 0xffff, (cur + 1) & 0xffff];
const TOPIC_NAMES = ['', '#', '+', 'a/+/b', '$SYS/gauntlet', '/', 'x'.repeat(1024)];
const TOPIC_FILTERS = ['#', '+', '', '$SYS/#', 'a/#/b', 'gauntlet/+/x', 'x'.repeat(1024), '$share/g/#'];
const USER_PROPS = { gauntlet: 'x'.repeat(64) };
const ACK_PROPS: readonly Json[] = [{ reasonString: 'gauntlet' }, { userProperties: USER_PROPS }];
const PROPS: Readonly<Record<string, readonly Json[]>> = {
  connect: [
    { sessionExpiryInterval: 0xffffffff },
    { receiveMaximum: 0 },
    { maximumPacketSize: 1 },
    { topicAliasMaximum: 0xffff },
    { requestResponseInformation: true },
    { requestProblemInformation: false },
    { userProperties: USER_PROPS },
    { authenticationMethod: 'SCRAM-SHA-1' },
  ],
  publish: [
    { messageExpiryInterval: 0 },
    { topicAlias: 0 },
    { topicAlias: 0xffff },
    { payloadFormatIndicator: true },
    { contentType: 'text/plain' },
    { responseTopic: '#' },
    { correlationData: Buffer.alloc(16, 0xab) },
    { userProperties: USER_PROPS },
    { subscriptionIdentifier: 1 },
  ],
  subscribe: [{ subscriptionIdentifier: 268435455 }, { userProperties: USER_PROPS }],
  unsubscribe: [{ userProperties: USER_PROPS }],
  puback: ACK_PROPS,
  pubrec: ACK_PROPS,
  pubrel: ACK_PROPS,
  pubcomp: ACK_PROPS,
  disconnect: [{ sessionExpiryInterval: 0xffffffff }, { reasonString: 'gauntlet' }, { serverReference: 'evil.example' }],
  auth: [{ authenticationMethod: 'gauntlet' }, { reasonString: 'gauntlet' }],
};

function propText(props: Json): string {
  return Object.entries(props)
    .map(([k, val]) => (Buffer.isBuffer(val) ? `${k}=${val.length}B` : typeof val === 'object' ? `${k}=…` : `${k}=${typeof val === 'string' ? show(val, 16) : String(val)}`))
    .join(',');
}

function propertiesField(p: Json, b: Buffer, v: Version): Field | undefined {
  const adds = PROPS[p['cmd'] as string];
  if (v !== 5 || !adds) return undefined;
  const cur = (p['properties'] as Json | undefined) ?? {};
  const cands: Candidate[] = adds.map((add) => ({ text: `+${propText(add)}`, apply: (q) => ({ ...q, properties: { ...cur, ...add } }) }));
  if (Object.keys(cur).length > 0) cands.unshift({ text: 'removed', apply: ({ properties: _, ...q }) => q });
  return viaGenerate('properties', ['properties'], p, b, v, cands);
}

/** Where a SUBSCRIBE's filters begin, and the offset of each filter's options byte [MQTT-3.8.3]. */
function subscriptionLayout(b: Buffer, h: number, v: Version, count: number): { start: number; options: number[] } | undefined {
  let at = h + 2;
  if (v === 5) {
    const props = readVarint(b, at);
    if (!props) return undefined;
    at += props.width + props.value;
  }
  const start = at;
  const options: number[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 2 > b.length) return undefined;
    at += 2 + b.readUInt16BE(at);
    options.push(at);
    at += 1;
  }
  return at === b.length ? { start, options } : undefined;
}

const CONNECT_FLAG_BITS = ['reserved', 'clean session', 'will', 'will qos bit 0', 'will qos bit 1', 'will retain', 'password', 'user name'] as const;

function mqttFields(p: Json, b: Buffer, caseVersion: Version): Field[] {
  const cmd = p['cmd'] as string;
  const v: Version = cmd === 'connect' ? (p['protocolVersion'] === 5 ? 5 : 4) : caseVersion;
  const rl = readVarint(b, 1)!;
  const h = 1 + rl.width;
  const first = b[0]!;
  const body = b.subarray(h);
  const fields: Field[] = [];

  // Fixed header [MQTT-2.2.2]: PUBLISH's flags are DUP, QoS, RETAIN; the others' are fixed.
  if (cmd === 'publish') {
    fields.push(bitsField('qos', b, 0, 1, 2, [0, 1, 2, 3]), bitsField('retain', b, 0, 0, 1, [0, 1]), bitsField('dup', b, 0, 3, 1, [0, 1]));
  } else {
    const cur = first & 0x0f;
    fields.push({
      name: 'flags',
      run(value) {
        const n = pick([0x0, 0x1, 0x2, 0x4, 0x8, 0xf], value, (c) => c === cur)!;
        return { bytes: patched(b, 0, [(first & 0xf0) | n]), text: `flags 0b${cur.toString(2).padStart(4, '0')}->0b${n.toString(2).padStart(4, '0')}`, kind: 'patch', keys: [] };
      },
    });
  }
  fields.push({
    name: 'remaining length',
    run(value) {
      const cands = [
        { n: rl.value + 1, width: 0 },
        { n: Math.max(0, rl.value - 1), width: 0 },
        { n: 0, width: 0 },
        { n: 268435455, width: 0 },
        { n: rl.value, width: 4 },
        { n: rl.value, width: Math.min(4, rl.width + 1) },
      ].map((c) => ({ n: c.n, width: Math.max(varintWidth(c.n), c.width) }));
      const c = pick(cands, value, (x) => x.n === rl.value && x.width === rl.width)!;
      const text = c.n === rl.value ? `remaining length ${rl.value} in ${c.width} bytes (not minimal)` : `remaining length ${rl.value}->${c.n}`;
      return { bytes: cat(Buffer.from([first]), paddedVarint(c.n, c.width), body), text, kind: 'framing', keys: [] };
    },
  });
  if (cmd !== 'publish') {
    fields.push({
      name: 'trailing bytes',
      run(value) {
        const extra = [Buffer.from([0x00]), Buffer.from([0xff, 0xff]), Buffer.alloc(16, 0x41)][value % 3]!;
        return { bytes: reframe(first, cat(body, extra)), text: `+${extra.length} byte(s) after the body`, kind: 'framing', keys: [] };
      },
    });
  }

  switch (cmd) {
    case 'publish': {
      const topicLen = b.readUInt16BE(h);
      const topicAt = h + 2;
      const topic = b.subarray(topicAt, topicAt + topicLen);
      const payload = p['payload'] as Buffer;
      const payloadAt = b.length - payload.length;
      const topics = [...TOPIC_NAMES.map(utf8), cat(topic, utf8('/x')), cat(topic, Buffer.from([0])), Buffer.from([0xc3, 0x28])];
      fields.push(
        {
          name: 'topic',
          run(value) {
            const t = pick(topics, value, (c) => same(c, topic))!;
            return { bytes: reframe(first, cat(u16(t.length), t, b.subarray(topicAt + topicLen))), text: `topic ${show(topic)}->${show(t)}`, kind: 'semantic', keys: ['topic'] };
          },
        },
        u16Field('topic length', b, h, (cur) => [cur + 1, Math.max(0, cur - 1), 0, 0xffff]),
        {
          name: 'payload',
          run(value) {
            const cands = [Buffer.alloc(0), Buffer.from([0]), Buffer.alloc(4096, 0x78), Buffer.alloc(64, 0xff), cat(payload, payload)];
            const n = pick(cands, value, (c) => same(c, payload))!;
            return { bytes: reframe(first, cat(b.subarray(h, payloadAt), n)), text: `payload ${payload.length}B->${n.length}B`, kind: 'semantic', keys: ['payload'] };
          },
        },
      );
      if ((p['qos'] as number) > 0) fields.push(u16Field('messageId', b, topicAt + topicLen, IDS));
      break;
    }
    case 'connect': {
      const nameLen = b.readUInt16BE(h);
      const levelAt = h + 2 + nameLen;
      const name = b.subarray(h + 2, levelAt);
      const flags = b[levelAt + 1]!;
      fields.push(
        bitsField('protocolVersion', b, levelAt, 0, 8, [3, 4, 5, 0, 6, 0xff]),
        {
          name: 'protocolId',
          run(value) {
            const n = pick(['MQIsdp', 'mqtt', 'MQTT5', '', 'MQT'].map(utf8), value, (c) => same(c, name))!;
            return { bytes: reframe(first, cat(u16(n.length), n, b.subarray(levelAt))), text: `protocolId ${show(name)}->${show(n)}`, kind: 'semantic', keys: ['protocolId'] };
          },
        },
        {
          name: 'connect flags',
          run(value) {
            const bit = value % 8;
            const n = flags ^ (1 << bit);
            return { bytes: patched(b, levelAt + 1, [n]), text: `connect flags ${hex2(flags)}->${hex2(n)} (${CONNECT_FLAG_BITS[bit]})`, kind: 'patch', keys: [] };
          },
        },
        u16Field('keepalive', b, levelAt + 2, (cur) => [0, 1, 0xffff, (cur + 1) & 0xffff]),
        viaGenerate(
          'clientId',
          ['clientId'],
          p,
          b,
          v,
          ['', 'x'.repeat(23), 'x'.repeat(24), 'x'.repeat(1024), 'gauntlet/+#', '\u0000', `${p['clientId'] as string}-2`].map((id) => ({ text: `${show(p['clientId'] as string)}->${show(id)}`, apply: (q) => ({ ...q, clientId: id }) })),
        ),
        viaGenerate('username', ['username'], p, b, v, [
          ...(p['username'] === undefined ? [] : [{ text: 'removed', apply: ({ username: _, ...q }: Json) => q }]),
          ...['', 'admin', 'root', '\u0000', 'x'.repeat(1024)].map((u) => ({ text: `${p['username'] === undefined ? 'none' : show(p['username'] as string)}->${show(u)}`, apply: (q: Json) => ({ ...q, username: u }) })),
        ]),
      );
      // A password needs a user name in 3.1.1 [MQTT-3.1.2-22]; mqtt-packet asks for one in 5.0 too.
      if (p['username'] !== undefined) {
        fields.push(
          viaGenerate('password', ['password'], p, b, v, [
            ...(p['password'] === undefined ? [] : [{ text: 'removed', apply: ({ password: _, ...q }: Json) => q }]),
            ...['', 'admin', 'x'.repeat(1024)].map((pw) => ({ text: `set to ${pw.length}B`, apply: (q: Json) => ({ ...q, password: utf8(pw) }) })),
          ]),
        );
      }
      fields.push(
        viaGenerate('clean', ['clean'], p, b, v, [{ text: `${String(p['clean'])}->${String(!p['clean'])}`, apply: (q) => ({ ...q, clean: !q['clean'] }) }]),
        viaGenerate('will', ['will'], p, b, v, willCandidates(p['will'] as Json | undefined)),
      );
      break;
    }
    case 'subscribe': {
      const subs = p['subscriptions'] as Json[];
      const layout = subscriptionLayout(b, h, v, subs.length);
      const at = layout?.options;
      fields.push(u16Field('messageId', b, h, IDS));
      fields.push({
        name: 'subscriptions topic',
        run(value) {
          const i = value % subs.length;
          const cur = subs[i]!['topic'] as string;
          const cands = [...TOPIC_FILTERS, `${cur}/#`]
            .filter((t) => t !== cur)
            .map((t) => ({ text: `${show(cur)}->${show(t)}`, apply: (q: Json) => ({ ...q, subscriptions: subs.map((s, k) => (k === i ? { ...s, topic: t } : s)) }) }));
          return viaGenerate(`subscriptions[${i}].topic`, ['subscriptions'], p, b, v, cands).run(Math.floor(value / subs.length));
        },
      });
      if (at) {
        fields.push({
          name: 'subscriptions qos',
          run(value) {
            const i = value % at.length;
            const f = bitsField(`subscriptions[${i}].qos`, b, at[i]!, 0, 2, [0, 1, 2, 3]);
            return f.run(Math.floor(value / at.length));
          },
        });
        if (v === 5) {
          fields.push({
            name: 'subscription options',
            run(value) {
              const i = value % at.length;
              const opts: readonly [string, number, number, readonly number[]][] = [
                ['nl', 2, 1, [0, 1]],
                ['rap', 3, 1, [0, 1]],
                ['rh', 4, 2, [0, 1, 2, 3]],
                ['reserved bits', 6, 2, [0, 1, 2, 3]],
              ];
              const [name, shift, width, cands] = opts[Math.floor(value / at.length) % opts.length]!;
              return bitsField(`subscriptions[${i}].${name}`, b, at[i]!, shift, width, cands).run(Math.floor(value / at.length / opts.length));
            },
          });
        }
        fields.push({
          name: 'subscriptions removed',
          run: () => ({ bytes: reframe(first, b.subarray(h, layout!.start)), text: 'all topic filters removed', kind: 'framing', keys: [] }),
        });
      }
      fields.push(viaGenerate('subscriptions', ['subscriptions'], p, b, v, [{ text: '+"#" qos=2', apply: (q) => ({ ...q, subscriptions: [...subs, { topic: '#', qos: 2 }] }) }]));
      break;
    }
    case 'unsubscribe': {
      const unsubs = p['unsubscriptions'] as string[];
      fields.push(u16Field('messageId', b, h, IDS));
      fields.push({
        name: 'unsubscriptions',
        run(value) {
          const i = value % unsubs.length;
          const cur = unsubs[i]!;
          const cands = TOPIC_FILTERS.filter((t) => t !== cur).map((t) => ({ text: `${show(cur)}->${show(t)}`, apply: (q: Json) => ({ ...q, unsubscriptions: unsubs.map((s, k) => (k === i ? t : s)) }) }));
          return viaGenerate(`unsubscriptions[${i}]`, ['unsubscriptions'], p, b, v, cands).run(Math.floor(value / unsubs.length));
        },
      });
      break;
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      fields.push(u16Field('messageId', b, h, IDS));
      if (v === 5) fields.push(reasonField(p, b, v, [0x00, 0x10, 0x80, 0x92, 0xff]));
      break;
    case 'disconnect':
      if (v === 5) fields.push(reasonField(p, b, v, [0x00, 0x04, 0x80, 0x8e, 0xff]));
      break;
    case 'auth':
      fields.push(reasonField(p, b, v, [0x00, 0x18, 0x19, 0xff]));
      break;
  }
  const props = propertiesField(p, b, v);
  if (props) fields.push(props);
  return fields;
}

function reasonField(p: Json, b: Buffer, v: Version, codes: readonly number[]): Field {
  const cur = (p['reasonCode'] as number | undefined) ?? 0;
  return viaGenerate(
    'reasonCode',
    ['reasonCode'],
    p,
    b,
    v,
    codes.filter((c) => c !== cur).map((c) => ({ text: `${hex2(cur)}->${hex2(c)}`, apply: (q) => ({ ...q, reasonCode: c }) })),
  );
}

function willCandidates(will: Json | undefined): Candidate[] {
  const add = (qos: number, retain: boolean): Candidate => ({
    text: `+qos${qos}${retain ? ' retain' : ''} topic="gauntlet/will"`,
    apply: (q) => ({ ...q, will: { topic: 'gauntlet/will', payload: utf8('gauntlet'), qos, retain } }),
  });
  if (!will) return [add(0, false), add(1, true), add(2, false)];
  const qos = (will['qos'] as number | undefined) ?? 0;
  return [
    { text: 'removed', apply: ({ will: _, ...q }) => q },
    ...[0, 1, 2].filter((n) => n !== qos).map((n) => ({ text: `.qos ${qos}->${n}`, apply: (q: Json) => ({ ...q, will: { ...will, qos: n } }) })),
    { text: `.retain ${String(!!will['retain'])}->${String(!will['retain'])}`, apply: (q) => ({ ...q, will: { ...will, retain: !will['retain'] } }) },
    { text: `.topic ${show(will['topic'] as string)}->"#"`, apply: (q) => ({ ...q, will: { ...will, topic: '#' } }) },
    { text: '.payload 4096B', apply: (q) => ({ ...q, will: { ...will, payload: Buffer.alloc(4096, 0x78) } }) },
  ];
}

function parseMqttStep(bytes: Uint8Array, v: Version): ParsedStep | undefined {
  const p = parseMqtt(bytes, v);
  if (!p) return undefined;
  return { what: (p['cmd'] as string).toUpperCase(), fields: mqttFields(p, Buffer.from(bytes), v) };
}

// ---------------------------------------------------------------- CoAP

interface CoapDecoded extends RawCoapMessage {
  /** The option bytes as sent, for edits that append raw (ill-formed) options. */
  readonly optionBytes: Uint8Array;
}

/**
 * A datagram field by field [RFC7252 3], strictly: version 1, token length
 * 0..8, no reserved nibble, no payload marker without payload. The same
 * shape encodeCoap writes, so an edit re-encodes through it.
 */
export function decodeCoap(bytes: Uint8Array): CoapDecoded | undefined {
  const b = Uint8Array.from(bytes); // plain arrays out, whether a Buffer came in or not
  if (b.length < 4 || b[0]! >> 6 !== 1) return undefined;
  const tkl = b[0]! & 0x0f;
  if (tkl > 8 || 4 + tkl > b.length) return undefined;
  const token = b.slice(4, 4 + tkl);
  const options: CoapOption[] = [];
  let at = 4 + tkl;
  const optionsAt = at;
  let number = 0;
  const ext = (nib: number): number | undefined => {
    if (nib < 13) return nib;
    if (nib === 13) return at < b.length ? 13 + b[at++]! : undefined;
    if (nib === 14) {
      if (at + 2 > b.length) return undefined;
      const n = 269 + ((b[at]! << 8) | b[at + 1]!);
      at += 2;
      return n;
    }
    return undefined;
  };
  while (at < b.length && b[at] !== 0xff) {
    const head = b[at++]!;
    const delta = ext(head >> 4);
    const length = ext(head & 0x0f);
    if (delta === undefined || length === undefined || at + length > b.length) return undefined;
    number += delta;
    if (number > 0xffff) return undefined;
    options.push({ number, value: b.slice(at, at + length) });
    at += length;
  }
  const optionBytes = b.slice(optionsAt, at);
  let payload: Uint8Array | undefined;
  if (at < b.length) {
    if (at + 1 === b.length) return undefined; // marker without payload [RFC7252 3]
    payload = b.slice(at + 1);
  }
  return { type: ((b[0]! >> 4) & 3) as 0 | 1 | 2 | 3, code: b[1]!, messageId: (b[2]! << 8) | b[3]!, token, options, ...(payload ? { payload } : {}), optionBytes };
}

const COAP_TYPES = ['CON', 'NON', 'ACK', 'RST'] as const;
const COAP_METHODS: Readonly<Record<number, string>> = { 1: 'GET', 2: 'POST', 3: 'PUT', 4: 'DELETE', 5: 'FETCH', 6: 'PATCH', 7: 'iPATCH' };
const COAP_OPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'If-Match', 3: 'Uri-Host', 4: 'ETag', 5: 'If-None-Match', 6: 'Observe', 7: 'Uri-Port', 8: 'Location-Path', 11: 'Uri-Path', 12: 'Content-Format',
  14: 'Max-Age', 15: 'Uri-Query', 17: 'Accept', 20: 'Location-Query', 23: 'Block2', 27: 'Block1', 28: 'Size2', 35: 'Proxy-Uri', 39: 'Proxy-Scheme', 60: 'Size1', 258: 'No-Response',
};
const coapCode = (c: number) => (c === 0 ? '0.00' : c >> 5 === 0 && COAP_METHODS[c] ? COAP_METHODS[c]! : `${c >> 5}.${String(c & 31).padStart(2, '0')}`);
/** Odd option numbers are critical, even ones elective [RFC7252 5.4.6]. */
const optionName = (n: number) => COAP_OPTION_NAMES[n] ?? `option ${n} (unknown ${n % 2 === 1 ? 'critical' : 'elective'})`;
const uintBytes = (n: number) => {
  const out: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) out.unshift(x % 256);
  return Uint8Array.from(out);
};

/** Options added by the `option +` edit: each one a device parses differently from the usual request. */
const COAP_ADDS: readonly { readonly text: string; readonly option: CoapOption }[] = [
  { text: 'Observe=0', option: { number: 6, value: new Uint8Array(0) } },
  { text: 'If-None-Match', option: { number: 5, value: new Uint8Array(0) } },
  { text: 'Block2=0/0/16', option: { number: 23, value: new Uint8Array(0) } },
  { text: 'Block1=0/1/szx7 (reserved)', option: { number: 27, value: Uint8Array.of(0x0f) } },
  { text: 'Size1=4294967295', option: { number: 60, value: uintBytes(0xffffffff) } },
  { text: 'Uri-Host="evil.example"', option: { number: 3, value: utf8('evil.example') } },
  { text: 'Proxy-Uri="coap://evil.example/"', option: { number: 35, value: utf8('coap://evil.example/') } },
  { text: 'option 9 (unknown critical)', option: { number: 9, value: utf8('x') } },
  { text: 'option 65000 (unknown elective)', option: { number: 65000, value: utf8('x') } },
];

function coapFields(m: CoapDecoded, b: Buffer): Field[] {
  const encode = (next: Partial<RawCoapMessage>, text: string, keys: readonly string[], kind: EditKind = 'semantic'): FieldEdit | undefined => {
    const { optionBytes: _, ...raw } = m;
    try {
      const out = encodeCoap({ ...raw, ...next });
      return out.equals(b) ? undefined : { bytes: out, text, kind, keys };
    } catch {
      return undefined;
    }
  };
  const opts = m.options;
  const payload = m.payload ?? new Uint8Array(0);
  const tkl = m.token.length;
  const fields: Field[] = [
    {
      name: 'type',
      run: (value) => {
        const t = pick([0, 1, 2, 3] as const, value, (c) => c === m.type)!;
        return encode({ type: t }, `type ${COAP_TYPES[m.type]}->${COAP_TYPES[t]}`, ['type']);
      },
    },
    {
      name: 'code',
      run: (value) => {
        const c = pick([1, 2, 3, 4, 5, 6, 7, 0, 0x45, 0x84, 0x1f, 0xff], value, (x) => x === m.code)!;
        return encode({ code: c }, `code ${coapCode(m.code)}->${coapCode(c)}`, ['code']);
      },
    },
    {
      name: 'messageId',
      run: (value) => {
        const id = pick(IDS(m.messageId), value, (x) => x === m.messageId)!;
        return encode({ messageId: id }, `messageId ${m.messageId}->${id}`, ['messageId']);
      },
    },
    {
      name: 'token',
      run: (value) => {
        const cands = [new Uint8Array(0), new Uint8Array(8).fill(0xff), Uint8Array.of(0), ...(tkl ? [patched(m.token, 0, [m.token[0]! ^ 1])] : []), ...(tkl < 8 ? [cat(m.token, Uint8Array.of(0))] : [])];
        const t = pick(cands, value, (c) => same(c, m.token))!;
        return encode({ token: t }, `token ${tkl}B->${t.length}B ${Buffer.from(t).toString('hex') || '(empty)'}`, ['token']);
      },
    },
    bitsField('token length', b, 0, 0, 4, [9, 15, Math.min(15, tkl + 1), Math.max(0, tkl - 1)]),
    bitsField('version', b, 0, 6, 2, [0, 2, 3]),
    {
      name: 'option +',
      run: (value) => {
        const add = COAP_ADDS[value % COAP_ADDS.length]!;
        return encode({ options: [...opts, add.option] }, `option +${add.text}`, ['options']);
      },
    },
    {
      name: 'payload',
      run: (value) => {
        const n = pick([new Uint8Array(0), Uint8Array.of(0), Buffer.alloc(1024, 0x78), Buffer.alloc(64, 0xff), cat(payload, payload)], value, (c) => same(c, payload))!;
        return encode({ payload: n }, `payload ${payload.length}B->${n.length}B`, ['payload']);
      },
    },
    {
      name: 'raw options',
      run: (value) => {
        const tails: readonly [string, number[]][] = [
          ['option delta 13 without its extended byte', [0xd0]],
          ['option length 268 with 1 byte behind it', [0x1d, 0xff, 0x00]],
          ['option delta 65804 (number overflow)', [0xe0, 0xff, 0xff]],
          ['option length nibble 15 (reserved)', [0x0f]],
        ];
        const [what, tail] = tails[value % tails.length]!;
        return encode({ rawOptions: cat(m.optionBytes, Uint8Array.from(tail)) }, `options then ${Buffer.from(tail).toString('hex')}: ${what}`, [], 'framing');
      },
    },
  ];
  if (payload.length === 0) {
    fields.push({ name: 'payload marker', run: () => encode({ payloadMarkerWithoutPayload: true }, 'payload marker without payload', [], 'framing') });
  }
  if (opts.length > 0) {
    const which = (value: number) => value % opts.length;
    const label = (i: number) => `option ${i + 1} (${optionName(opts[i]!.number)})`;
    const shown = (v: Uint8Array) =>
      v.length === 0 ? '0B' : [...v].every((x) => x >= 0x20 && x < 0x7f) ? show(v) : `${v.length}B ${Buffer.from(v.subarray(0, 8)).toString('hex')}${v.length > 8 ? '…' : ''}`;
    const sorted = [...opts].sort((a, c) => a.number - c.number);
    fields.push(
      {
        name: 'option value',
        run: (value) => {
          const i = which(value);
          const o = sorted[i]!;
          const cands = [new Uint8Array(0), Uint8Array.of(0), Buffer.alloc(9, 0xff), Buffer.alloc(300, 0x78), Uint8Array.of(0xff, 0xff, 0xff, 0xff), cat(o.value, utf8('/..'))];
          const n = pick(cands, Math.floor(value / opts.length), (c) => same(c, o.value))!;
          return encode({ options: sorted.map((x, k) => (k === i ? { number: x.number, value: n } : x)) }, `${label(i)} value ${shown(o.value)}->${shown(n)}`, ['options']);
        },
      },
      {
        name: 'option number',
        run: (value) => {
          const i = which(value);
          const o = sorted[i]!;
          const n = pick([9, 10, 0, 128, 2048, 65000, o.number + 1], Math.floor(value / opts.length), (c) => c === o.number)!;
          return encode({ options: sorted.map((x, k) => (k === i ? { number: n, value: x.value } : x)) }, `${label(i)} number ${o.number}->${n} (${optionName(n)})`, ['options']);
        },
      },
      {
        name: 'option duplicate',
        run: (value) => {
          const i = which(value);
          return encode({ options: [...sorted.slice(0, i + 1), sorted[i]!, ...sorted.slice(i + 1)] }, `${label(i)} duplicated`, ['options']);
        },
      },
      {
        name: 'option remove',
        run: (value) => {
          const i = which(value);
          return encode({ options: sorted.filter((_, k) => k !== i) }, `${label(i)} removed`, ['options']);
        },
      },
    );
    // Order only matters among repeated options (Uri-Path segments); the encoding sorts the rest.
    const pairs: [number, number][] = [];
    for (let i = 0; i + 1 < sorted.length; i++) if (sorted[i]!.number === sorted[i + 1]!.number && !same(sorted[i]!.value, sorted[i + 1]!.value)) pairs.push([i, i + 1]);
    if (pairs.length > 0) {
      fields.push({
        name: 'option order',
        run: (value) => {
          const [i, j] = pairs[value % pairs.length]!;
          const next = [...sorted];
          [next[i], next[j]] = [next[j]!, next[i]!];
          return encode({ options: next }, `options ${i + 1} and ${j + 1} (${optionName(sorted[i]!.number)}) swapped`, ['options']);
        },
      });
    }
  }
  return fields;
}

function parseCoapStep(bytes: Uint8Array): ParsedStep | undefined {
  const m = decodeCoap(bytes);
  if (!m) return undefined;
  try {
    parseCoap(Buffer.from(bytes));
  } catch {
    return undefined;
  }
  const { optionBytes: _, ...raw } = m;
  const b = Buffer.from(bytes);
  if (!encodeCoap(raw).equals(b)) return undefined;
  return { what: `${COAP_TYPES[m.type]} ${coapCode(m.code)}`, fields: coapFields(m, b) };
}

// ---------------------------------------------------------------- HTTP

interface HttpHeader {
  readonly name: string;
  /** The colon and the white space after it, as sent. */
  readonly sep: string;
  readonly value: string;
}

interface HttpChunk {
  readonly size: string;
  readonly ext: string;
  readonly data: Uint8Array;
}

type HttpBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly data: Uint8Array }
  | { readonly kind: 'chunked'; readonly chunks: readonly HttpChunk[]; readonly last: string; readonly trailers: readonly string[] };

/** A request as sent, exactly enough to write it back byte for byte. */
export interface HttpRequest {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  readonly headers: readonly HttpHeader[];
  readonly body: HttpBody;
  /** What follows the request in the same step (pipelined bytes). */
  readonly rest: Uint8Array;
}

const CRLF = '\r\n';
const MAX_CHUNKS = 1024;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The first request of a step [RFC9112 2-7], or undefined when it is not a well-formed one. */
export function parseHttpRequest(input: Uint8Array): HttpRequest | undefined {
  const bytes = Uint8Array.from(input); // plain arrays out, whether a Buffer came in or not
  const text = Buffer.from(bytes).toString('latin1');
  const end = text.indexOf(CRLF + CRLF);
  if (end < 0) return undefined;
  const lines = text.slice(0, end).split(CRLF);
  const start = /^([^ \r\n]+) ([^ \r\n]+) (HTTP\/\d\.\d)$/.exec(lines[0]!);
  if (!start) return undefined;
  const headers: HttpHeader[] = [];
  for (const line of lines.slice(1)) {
    const m = /^([^:]+)(:[ \t]*)(.*)$/.exec(line);
    if (!m || !TOKEN.test(m[1]!) || /[\r\n]/.test(m[3]!)) return undefined;
    headers.push({ name: m[1]!, sep: m[2]!, value: m[3]! });
  }
  let at = end + 4;
  const named = (n: string) => headers.filter((h) => h.name.toLowerCase() === n);
  const te = named('transfer-encoding');
  const cl = named('content-length');
  let body: HttpBody = { kind: 'none' };
  if (te.length > 0) {
    if (cl.length > 0 || te.at(-1)!.value.trim().toLowerCase() !== 'chunked') return undefined;
    const chunks: HttpChunk[] = [];
    for (;;) {
      if (chunks.length > MAX_CHUNKS) return undefined;
      const eol = text.indexOf(CRLF, at);
      if (eol < 0) return undefined;
      const m = /^([0-9a-fA-F]+)(;[^\r\n]*)?$/.exec(text.slice(at, eol));
      if (!m || m[1]!.length > 8) return undefined;
      const size = parseInt(m[1]!, 16);
      at = eol + 2;
      if (size === 0) {
        const trailers: string[] = [];
        for (;;) {
          const e = text.indexOf(CRLF, at);
          if (e < 0 || trailers.length > MAX_CHUNKS) return undefined;
          const line = text.slice(at, e);
          at = e + 2;
          if (line === '') break;
          trailers.push(line);
        }
        body = { kind: 'chunked', chunks, last: m[0], trailers };
        break;
      }
      if (at + size + 2 > bytes.length || text.slice(at + size, at + size + 2) !== CRLF) return undefined;
      chunks.push({ size: m[1]!, ext: m[2] ?? '', data: bytes.slice(at, at + size) });
      at += size + 2;
    }
  } else if (cl.length > 0) {
    if (cl.length > 1 || !/^\d{1,9}$/.test(cl[0]!.value)) return undefined;
    const n = Number(cl[0]!.value);
    if (at + n > bytes.length) return undefined;
    body = { kind: 'length', data: bytes.slice(at, at + n) };
    at += n;
  }
  return { method: start[1]!, target: start[2]!, version: start[3]!, headers, body, rest: bytes.slice(at) };
}

export function encodeHttpRequest(r: HttpRequest): Buffer {
  const head = `${r.method} ${r.target} ${r.version}${CRLF}${r.headers.map((h) => `${h.name}${h.sep}${h.value}${CRLF}`).join('')}${CRLF}`;
  const parts: Uint8Array[] = [latin1(head)];
  if (r.body.kind === 'length') parts.push(r.body.data);
  if (r.body.kind === 'chunked') {
    for (const c of r.body.chunks) parts.push(latin1(`${c.size}${c.ext}${CRLF}`), c.data, latin1(CRLF));
    // An empty `last` is an edit's: the last chunk left out, the body never ends.
    if (r.body.last !== '') parts.push(latin1(`${r.body.last}${CRLF}${r.body.trailers.map((t) => t + CRLF).join('')}${CRLF}`));
  }
  parts.push(r.rest);
  return cat(...parts);
}

/** Header names that frame the body [RFC9112 6]: an edit of one of these is a framing edit. */
const framing = (...names: readonly string[]): EditKind => (names.some((n) => /^(content-length|transfer-encoding)$/i.test(n)) ? 'framing' : 'semantic');

function httpFields(r: HttpRequest, b: Buffer): Field[] {
  const edit = (next: Partial<HttpRequest>, text: string, keys: readonly string[], kind: EditKind = 'semantic'): FieldEdit | undefined => {
    const out = encodeHttpRequest({ ...r, ...next });
    return out.equals(b) ? undefined : { bytes: out, text, kind, keys };
  };
  const hs = r.headers;
  const clAt = hs.findIndex((h) => h.name.toLowerCase() === 'content-length');
  const fields: Field[] = [
    {
      name: 'method',
      run: (value) => {
        const m = pick(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'PATCH', r.method.toLowerCase(), 'GE T', '', 'X'.repeat(256)], value, (c) => c === r.method)!;
        return edit({ method: m }, `method ${show(r.method)}->${show(m)}`, ['method']);
      },
    },
    {
      name: 'target',
      run: (value) => {
        const cands = ['*', '/', '//', '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/%00', `/${'a'.repeat(8192)}`, 'http://evil.example/', `${r.target}?${'a=1&'.repeat(200)}`, `${r.target}#x`, '/a b', `${r.target}%`];
        const t = pick(cands, value, (c) => c === r.target)!;
        return edit({ target: t }, `target ${show(r.target)}->${show(t)}`, ['target']);
      },
    },
    {
      name: 'version',
      run: (value) => {
        const v = pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'http/1.1', 'HTTP/9.9', 'HTTP/1.1x', ''], value, (c) => c === r.version)!;
        return edit({ version: v }, `version ${show(r.version)}->${show(v)}`, ['version']);
      },
    },
    {
      name: 'header +',
      run: (value) => {
        const adds = ['Transfer-Encoding: chunked', 'Content-Length: 0', 'Expect: 100-continue', 'Connection: close', 'Host: evil.example', 'X-Forwarded-For: 127.0.0.1', 'Content-Type: application/json', 'Authorization: Basic YWRtaW46YWRtaW4='];
        const a = adds[value % adds.length]!;
        const colon = a.indexOf(':');
        return edit({ headers: [...hs, { name: a.slice(0, colon), sep: ': ', value: a.slice(colon + 2) }] }, `header +${show(a, 40)}`, ['headers'], framing(a.slice(0, colon)));
      },
    },
    {
      name: 'content-length',
      run: (value) => {
        const n = r.body.kind === 'length' ? r.body.data.length : 0;
        const cands = [String(n + 1), String(Math.max(0, n - 1)), '0', '99999999999999999999', '-1', `${n}, ${n}`, `${n}, ${n + 1}`, '0x10', `+${n}`];
        if (clAt < 0) {
          const c = cands[value % cands.length]!;
          return edit({ headers: [...hs, { name: 'Content-Length', sep: ': ', value: c }] }, `Content-Length +${show(c)} (body ${n}B)`, ['headers'], 'framing');
        }
        const cur = hs[clAt]!.value;
        const c = pick(cands, value, (x) => x === cur)!;
        return edit({ headers: hs.map((h, k) => (k === clAt ? { ...h, value: c } : h)) }, `Content-Length ${show(cur)}->${show(c)} (body ${n}B)`, ['headers'], 'framing');
      },
    },
  ];
  if (hs.length > 0) {
    const which = (value: number) => value % hs.length;
    const rest = (value: number) => Math.floor(value / hs.length);
    fields.push(
      {
        name: 'header name',
        run: (value) => {
          const i = which(value);
          const h = hs[i]!;
          const n = pick(['', ` ${h.name}`, `${h.name} `, 'X'.repeat(1024), h.name.toUpperCase(), 'Content-Length', 'Transfer-Encoding', `${h.name}\u0000`], rest(value), (c) => c === h.name)!;
          return edit({ headers: hs.map((x, k) => (k === i ? { ...x, name: n } : x)) }, `header ${i + 1} name ${show(h.name)}->${show(n)}`, ['headers'], framing(h.name, n.trim()));
        },
      },
      {
        name: 'header value',
        run: (value) => {
          const i = which(value);
          const h = hs[i]!;
          const n = pick(['', ' '.repeat(64), 'x'.repeat(8192), '\u0000', `${h.value}\r\n x`, '\u00ff\u00fe', `${h.value}, ${h.value}`], rest(value), (c) => c === h.value)!;
          return edit({ headers: hs.map((x, k) => (k === i ? { ...x, value: n } : x)) }, `header ${show(h.name, 16)} value ${show(h.value)}->${show(n)}`, ['headers'], framing(h.name));
        },
      },
      {
        name: 'header duplicate',
        run: (value) => {
          const i = which(value);
          return edit({ headers: [...hs.slice(0, i + 1), hs[i]!, ...hs.slice(i + 1)] }, `header ${show(hs[i]!.name, 16)} duplicated`, ['headers'], framing(hs[i]!.name));
        },
      },
      {
        name: 'header remove',
        run: (value) => {
          const i = which(value);
          return edit({ headers: hs.filter((_, k) => k !== i) }, `header ${show(hs[i]!.name, 16)} removed`, ['headers'], framing(hs[i]!.name));
        },
      },
    );
  }
  const body = r.body;
  if (body.kind === 'length') {
    fields.push({
      name: 'body',
      run: (value) => {
        const n = pick([new Uint8Array(0), latin1('x'.repeat(8192)), latin1('{"a":'), Uint8Array.of(0), cat(body.data, body.data)], value, (c) => same(c, body.data))!;
        // Content-Length follows the body: the edit is the content, not the framing.
        const headers = hs.map((h, k) => (k === clAt ? { ...h, value: String(n.length) } : h));
        return edit({ body: { kind: 'length', data: n }, headers }, `body ${body.data.length}B->${n.length}B (Content-Length follows)`, ['body', 'headers']);
      },
    });
  }
  if (body.kind === 'chunked') {
    fields.push({ name: 'last chunk', run: () => edit({ body: { ...body, last: '', trailers: [] } }, 'last chunk removed (the body never ends)', ['body'], 'framing') });
    if (body.chunks.length > 0) {
      const which = (value: number) => value % body.chunks.length;
      const withChunk = (i: number, c: HttpChunk) => ({ ...body, chunks: body.chunks.map((x, k) => (k === i ? c : x)) });
      fields.push(
        {
          name: 'chunk size',
          run: (value) => {
            const i = which(value);
            const c = body.chunks[i]!;
            const n = parseInt(c.size, 16);
            const cands = [(n + 1).toString(16), (n - 1).toString(16), 'ffffffffffffffff', '-1', `0x${c.size}`, `0000000${c.size}`, c.size.toUpperCase(), `1${'0'.repeat(16)}`];
            const s = pick(cands, Math.floor(value / body.chunks.length), (x) => x === c.size)!;
            return edit({ body: withChunk(i, { ...c, size: s }) }, `chunk ${i + 1} size ${c.size}->${s} (${c.data.length}B of data)`, ['body'], 'framing');
          },
        },
        {
          name: 'chunk extension',
          run: (value) => {
            const i = which(value);
            const c = body.chunks[i]!;
            const e = pick([';a=b', `;${'x'.repeat(4096)}`, ';"', ';a="b', ''], Math.floor(value / body.chunks.length), (x) => x === c.ext)!;
            return edit({ body: withChunk(i, { ...c, ext: e }) }, `chunk ${i + 1} extension ${show(c.ext)}->${show(e)}`, ['body']);
          },
        },
      );
    }
  }
  return fields;
}

function parseHttpStep(bytes: Uint8Array): ParsedStep | undefined {
  const r = parseHttpRequest(bytes);
  const b = Buffer.from(bytes);
  if (!r || !encodeHttpRequest(r).equals(b)) return undefined;
  return { what: `${printable(r.method, 16)} ${printable(r.target, 32)}`, fields: httpFields(r, b) };
}

// ---------------------------------------------------------------- placeholders

const USER = '{user}';
const PASS = '{pass}';

function instantiateMqtt(step: FuzzStep, auth: MutateOptions['auth']): FuzzStep {
  const p = parseMqtt(step.bytes, 4);
  if (p?.['cmd'] !== 'connect') return step;
  const userHole = p['username'] === USER;
  const passHole = Buffer.isBuffer(p['password']) && (p['password'] as Buffer).toString('latin1') === PASS;
  if (!userHole && !passHole) return step;
  const { username, password, ...rest } = p;
  const next: Json = { ...rest };
  if (auth) {
    next['username'] = userHole ? auth.username : username;
    next['password'] = passHole ? utf8(auth.password) : password;
  } else {
    // Anonymous: placeholders go; a literal user name stays, and a literal password with it
    // (mqtt-packet writes no password without a user name [MQTT-3.1.2-22]).
    if (!userHole && username !== undefined) next['username'] = username;
    if (!passHole && password !== undefined && next['username'] !== undefined) next['password'] = password;
  }
  const bytes = generate(next, p['protocolVersion'] === 5 ? 5 : 4);
  if (!bytes) return step;
  const anonymous = step.label.replace(/user=\{user\}( \+password)?/, 'anonymous');
  const label = auth ? step.label.replaceAll(USER, printable(auth.username, 24)) : `${anonymous} (placeholders removed${anonymous === step.label ? ': anonymous' : ''})`;
  return { bytes, label };
}

function instantiateHttp(step: FuzzStep, host: string, session: string | undefined): FuzzStep {
  const text = Buffer.from(step.bytes).toString('latin1');
  const end = text.indexOf(CRLF + CRLF);
  const headEnd = end < 0 ? text.length : end + 2;
  const head = text.slice(0, headEnd);
  if (!head.includes('{host}') && !head.includes('{session}')) return step;
  const sessionLines = session === undefined ? [] : session.split(/\r?\n/).filter((l) => l !== '');
  const lines = head.split(CRLF);
  const filled = lines.flatMap((l) => (l === '{session}' ? sessionLines : [l.replaceAll('{host}', host)]));
  return { bytes: cat(latin1(filled.join(CRLF)), step.bytes.subarray(headEnd)), label: step.label };
}

/**
 * A seed with the target's values in its placeholders (see corpora/README.md):
 * MQTT CONNECT user name {user} and password {pass} (re-encoded; none given:
 * anonymous), HTTP {host} and the {session} line (head only; none given:
 * the line goes). Other steps are returned as they are.
 */
export function instantiateSeed(protocol: FuzzProtocol, seed: FuzzCase, opts: MutateOptions = {}): FuzzCase {
  if (protocol === 'mqtt') return { label: seed.label, steps: seed.steps.map((s) => instantiateMqtt(s, opts.auth)) };
  if (protocol === 'http') return { label: seed.label, steps: seed.steps.map((s) => instantiateHttp(s, opts.host ?? 'localhost', opts.sessionHeader)) };
  return seed;
}

// ---------------------------------------------------------------- applying mutations

interface Work {
  bytes: Uint8Array;
  readonly base: string;
  readonly notes: string[];
}

function parseStep(protocol: FuzzProtocol, bytes: Uint8Array, v: Version): ParsedStep | undefined {
  switch (protocol) {
    case 'mqtt':
      return parseMqttStep(bytes, v);
    case 'coap':
      return parseCoapStep(bytes);
    case 'http':
      return parseHttpStep(bytes);
  }
}

const range = (from: number, to: number) => (from === to ? `byte ${from}` : `bytes ${from}..${to}`);

const EMPTY_STEP = 'is empty, nothing to change';
const FULL_STEP = `skipped (the step is at ${CASE_LIMITS.stepBytes} bytes)`;

/** A byte-level change of `w`, and its text. */
function byteLevel(m: Mutation, w: Work): string {
  const b = w.bytes;
  const len = b.length;
  switch (m.kind) {
    case 'flip': {
      if (len === 0) return EMPTY_STEP;
      const at = m.at % len;
      const bit = m.bit & 7;
      w.bytes = patched(b, at, [b[at]! ^ (1 << bit)]);
      return `byte ${at} bit ${bit} flipped`;
    }
    case 'set':
    case 'field': {
      // A field edit on a step that does not parse lands on byte `value` instead.
      if (len === 0) return EMPTY_STEP;
      const at = m.kind === 'set' ? m.at % len : m.value % len;
      const cands = INTERESTING_BYTES.filter((x) => x !== b[at]);
      const x = cands[(m.kind === 'set' ? m.value : Math.floor(m.value / len)) % cands.length]!;
      w.bytes = patched(b, at, [x]);
      return `byte ${at} ${hex2(b[at]!)}->${hex2(x)}`;
    }
    case 'insert': {
      const at = m.at % (len + 1);
      const add = m.bytes.subarray(0, Math.max(0, CASE_LIMITS.stepBytes - len));
      if (add.length === 0) return `insert ${FULL_STEP}`;
      w.bytes = cat(b.subarray(0, at), add, b.subarray(at));
      return `${add.length} byte(s) ${Buffer.from(add.subarray(0, 8)).toString('hex')}${add.length > 8 ? '…' : ''} inserted at ${at}`;
    }
    case 'delete':
    case 'duplicate': {
      if (len === 0) return EMPTY_STEP;
      const at = m.at % len;
      let n = 1 + (m.length % Math.min(len - at, MAX_CHUNK));
      if (m.kind === 'duplicate') n = Math.min(n, CASE_LIMITS.stepBytes - len);
      if (n <= 0) return `duplicate ${FULL_STEP}`;
      const chunk = b.subarray(at, at + n);
      w.bytes = m.kind === 'delete' ? cat(b.subarray(0, at), b.subarray(at + n)) : cat(b.subarray(0, at + n), chunk, b.subarray(at + n));
      return `${range(at, at + n - 1)} ${m.kind === 'delete' ? 'deleted' : 'duplicated'}`;
    }
    case 'truncate': {
      if (len === 0) return EMPTY_STEP;
      const keep = m.at % len;
      w.bytes = b.subarray(0, keep);
      return `truncated to ${keep} of ${len} bytes`;
    }
    case 'splice':
    case 'repeat':
      return 'unchanged'; // step-level: applyMutations does these
  }
}

/**
 * Applies `mutations` in order to seed `seedIndex` of `seeds` (already
 * instantiated). Deterministic: the same inputs give the same case. Returns
 * the case and, per mutation, what it did.
 */
export function applyMutations(
  protocol: FuzzProtocol,
  seeds: readonly FuzzCase[],
  seedIndex: number,
  mutations: readonly Mutation[],
): { readonly case: FuzzCase; readonly applied: readonly AppliedMutation[] } {
  if (seeds.length === 0) throw new GauntletError('CONFIG_INVALID', `no ${protocol} seeds to mutate`);
  const seed = seeds[seedIndex % seeds.length]!;
  const version = protocol === 'mqtt' ? mqttVersionOf(seed.steps) : 4;
  const steps: Work[] = seed.steps.slice(0, CASE_LIMITS.steps).map((s) => ({ bytes: clampStep(s.bytes), base: s.label, notes: [] }));
  const applied: AppliedMutation[] = [];
  for (const m of mutations.slice(0, CASE_LIMITS.mutations)) {
    if (steps.length === 0) break;
    const i = m.step % steps.length;
    const w = steps[i]!;
    let text: string;
    let edit: AppliedMutation['edit'];
    if (m.kind === 'field') {
      const parsed = parseStep(protocol, w.bytes, version);
      const fields = parsed?.fields ?? [];
      const f = fields.length ? fields[m.field % fields.length] : undefined;
      const e = f?.run(m.value);
      if (parsed && e) {
        w.bytes = clampStep(e.bytes);
        text = `${parsed.what} ${e.text}`;
        edit = { kind: e.kind, keys: e.keys };
        w.notes.push(e.text);
      } else {
        text = `${parsed ? `(no ${f?.name ?? 'field'} edit applies)` : '(does not parse)'} ${byteLevel(m, w)}`;
        w.notes.push(text);
      }
    } else if (m.kind === 'splice') {
      const donor = seeds[m.seed % seeds.length]!;
      const from = m.from % donor.steps.length;
      if (steps.length < CASE_LIMITS.steps) {
        const s = donor.steps[from]!;
        steps.splice(i + 1, 0, { bytes: clampStep(s.bytes), base: `${s.label} (from ${donor.label.replace(/^seed /, '')} step ${from + 1})`, notes: [] });
        text = `followed by step ${from + 1} of ${donor.label.replace(/^seed /, '')}`;
      } else {
        text = `splice skipped (${CASE_LIMITS.steps} steps already)`;
      }
    } else if (m.kind === 'repeat') {
      const times = Math.min(1 + (m.times % MAX_REPEAT), CASE_LIMITS.steps - steps.length);
      if (times > 0) {
        const copies = Array.from({ length: times }, (_, k) => ({ bytes: w.bytes, base: w.base, notes: [...w.notes, `repeat ${k + 1} of ${times}`] }));
        steps.splice(i + 1, 0, ...copies);
        text = `repeated ${times} more time(s)`;
      } else {
        text = `repeat skipped (${CASE_LIMITS.steps} steps already)`;
      }
    } else {
      text = byteLevel(m, w);
      w.notes.push(text);
    }
    applied.push({ mutation: m, step: i, text: `step ${i + 1} ${text}`, ...(edit ? { edit } : {}) });
  }
  const out: FuzzStep[] = steps.map((w) => ({ bytes: w.bytes, label: w.notes.length ? `${w.base} [${w.notes.join('; ')}]` : w.base }));
  return { case: { steps: out, label: `${seed.label}: ${applied.map((a) => a.text).join('; ') || 'unchanged'}` }, applied };
}

// ---------------------------------------------------------------- arbitraries

const nat = fc.nat({ max: 0xffff });

/** One mutation descriptor; field-aware ones are drawn most often. */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('field' as const), step: nat, field: nat, value: nat }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flip' as const), step: nat, at: nat, bit: fc.nat({ max: 7 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('set' as const), step: nat, at: nat, value: fc.nat({ max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), step: nat, at: nat, bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), step: nat, at: nat, length: nat }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), step: nat, at: nat, length: nat }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), step: nat, at: nat }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('splice' as const), step: nat, seed: nat, from: nat }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('repeat' as const), step: nat, times: fc.nat({ max: MAX_REPEAT - 1 }) }) },
);

/**
 * Mutated seeds: a seed (by index) and 1..maxMutations mutations, applied
 * after the placeholders are filled from `opts`. fast-check shrinks toward
 * the first seed, fewer mutations and simpler ones.
 */
export function mutatedCaseArb(protocol: FuzzProtocol, seeds: readonly FuzzCase[], opts: MutateOptions = {}): fc.Arbitrary<FuzzCase> {
  if (seeds.length === 0) throw new GauntletError('CONFIG_INVALID', `no ${protocol} seeds to mutate (corpora/${protocol}/seeds has none?)`);
  const max = opts.maxMutations ?? DEFAULT_MAX_MUTATIONS;
  if (!Number.isInteger(max) || max < 1 || max > CASE_LIMITS.mutations) {
    throw new GauntletError('CONFIG_INVALID', `maxMutations: ${max} is not an integer in 1..${CASE_LIMITS.mutations}`);
  }
  const ready = seeds.map((s) => instantiateSeed(protocol, s, opts));
  // minLength 0 plus a filter, not minLength 1: fast-check's array shrinker can then drop any
  // mutation, the last one included, as long as one is left.
  const mutations = fc.array(mutationArb, { maxLength: max }).filter((ms) => ms.length > 0);
  return fc
    .record({ seed: fc.nat({ max: ready.length - 1 }), mutations })
    .map(({ seed, mutations }) => applyMutations(protocol, ready, seed, mutations).case);
}
