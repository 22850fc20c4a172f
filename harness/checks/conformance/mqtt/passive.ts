// Statements judged over every packet the server sent during the run
// (whatever case caused it): fixed-header flags, minimal lengths, the codes a
// packet type may carry, what must and must not follow a CONNACK or a
// DISCONNECT. Each failure names the connection and frame that break it.

import type { TranscriptEntry } from '../../../model/index.js';
import { hexOf } from '../../../protocols/common/io.js';
import { PROP, propOf, REQUIRED_FLAGS, T, type Version } from './frames.js';
import type { Judgement, WireRecord } from './trial.js';
import { describeFrame, type WireFrame } from './wire.js';

export interface PassiveResult {
  readonly id: string;
  readonly judgement: Judgement;
  readonly evidence: readonly TranscriptEntry[];
}

interface Rule {
  readonly ids: readonly [string | undefined, string | undefined];
  /** Frames this statement speaks about (undefined: none on this connection). */
  readonly applies: (f: WireFrame, w: WireRecord, v: Version) => boolean;
  /** Why the frame breaks it, or undefined. */
  readonly breaks: (f: WireFrame, w: WireRecord, v: Version) => string | undefined;
  /** What the statement needs to be observed, for the skip reason. */
  readonly needs: string;
}

const CONNACK_V5 = [0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f];
const PUBACK_V5 = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL_V5 = [0x00, 0x92];
const SUBACK_V5 = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2];
const UNSUBACK_V5 = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91];
const DISCONNECT_V5 = [0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2];
const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;

const code = (list: readonly number[], type: number, name: string): Rule['breaks'] => (f) => (f.type === type && f.code !== undefined && !list.includes(f.code) ? `${name} with reason code ${hex(f.code)}` : undefined);
const firstConnack = (w: WireRecord) => w.wire.frames.find((f) => f.type === T.CONNACK);

const RULES: readonly Rule[] = [
  {
    ids: ['MQTT-2.2.2-1', 'MQTT-2.1.3-1'],
    needs: 'packets from the server',
    applies: (f) => f.type !== T.PUBLISH,
    breaks: (f) => (REQUIRED_FLAGS[f.type] !== undefined && f.flags !== REQUIRED_FLAGS[f.type] ? `fixed-header flags 0x${f.flags.toString(16)} on type ${f.type} (required 0x${REQUIRED_FLAGS[f.type]!.toString(16)})` : f.type === 0 ? 'packet type 0 (reserved)' : undefined),
  },
  {
    ids: [undefined, 'MQTT-1.5.5-1'],
    needs: 'packets from the server',
    applies: () => true,
    breaks: (f) => (f.minimal ? undefined : 'a Remaining Length encoded in more bytes than needed'),
  },
  {
    ids: ['MQTT-3.9.3-2', 'MQTT-3.9.3-2'],
    needs: 'a SUBACK',
    applies: (f) => f.type === T.SUBACK,
    breaks: (f, _w, v) => {
      const bad = (f.codes ?? []).filter((c) => !(v === 4 ? [0, 1, 2, 0x80] : SUBACK_V5).includes(c));
      return bad.length ? `SUBACK code(s) ${bad.map(hex).join(', ')}` : undefined;
    },
  },
  { ids: [undefined, 'MQTT-3.11.3-2'], needs: 'an UNSUBACK', applies: (f) => f.type === T.UNSUBACK, breaks: (f) => ((f.codes ?? []).some((c) => !UNSUBACK_V5.includes(c)) ? `UNSUBACK codes ${(f.codes ?? []).map(hex).join(', ')}` : undefined) },
  { ids: [undefined, 'MQTT-3.4.2-1'], needs: 'a PUBACK', applies: (f) => f.type === T.PUBACK, breaks: code(PUBACK_V5, T.PUBACK, 'PUBACK') },
  { ids: [undefined, 'MQTT-3.5.2-1'], needs: 'a PUBREC', applies: (f) => f.type === T.PUBREC, breaks: code(PUBACK_V5, T.PUBREC, 'PUBREC') },
  { ids: [undefined, 'MQTT-3.6.2-1'], needs: 'a PUBREL', applies: (f) => f.type === T.PUBREL, breaks: code(PUBREL_V5, T.PUBREL, 'PUBREL') },
  { ids: [undefined, 'MQTT-3.7.2-1'], needs: 'a PUBCOMP', applies: (f) => f.type === T.PUBCOMP, breaks: code(PUBREL_V5, T.PUBCOMP, 'PUBCOMP') },
  { ids: [undefined, 'MQTT-3.2.2-8'], needs: 'a CONNACK', applies: (f) => f.type === T.CONNACK && f.body.length > 2, breaks: code(CONNACK_V5, T.CONNACK, 'CONNACK') },
  { ids: [undefined, 'MQTT-3.2.2-1'], needs: 'a CONNACK', applies: (f) => f.type === T.CONNACK && f.body.length > 2, breaks: (f) => ((f.body[0]! & 0xfe) !== 0 ? `CONNACK acknowledge flags 0x${f.body[0]!.toString(16)}` : undefined) },
  { ids: [undefined, 'MQTT-3.14.2-1'], needs: 'a DISCONNECT from the server', applies: (f) => f.type === T.DISCONNECT, breaks: code(DISCONNECT_V5, T.DISCONNECT, 'DISCONNECT') },
  {
    ids: [undefined, 'MQTT-3.14.2-2'],
    needs: 'a DISCONNECT from the server',
    applies: (f) => f.type === T.DISCONNECT,
    breaks: (f) => (propOf(f.props, PROP.sessionExpiry) !== undefined ? 'DISCONNECT carrying a Session Expiry Interval' : undefined),
  },
  {
    ids: [undefined, 'MQTT-3.14.4-1'],
    needs: 'a DISCONNECT from the server',
    applies: (f) => f.type === T.DISCONNECT,
    breaks: (f, w) => {
      const after = w.wire.frames.filter((x) => x.seq > f.seq);
      return after.length ? `${after.length} packet(s) after its DISCONNECT (${after.map((x) => x.type).join(',')})` : undefined;
    },
  },
  {
    ids: [undefined, 'MQTT-3.14.4-2'],
    needs: 'a DISCONNECT from the server',
    applies: (f) => f.type === T.DISCONNECT,
    breaks: (_f, w) => (w.wire.closedBy === 'server' ? undefined : 'the connection stayed open after its DISCONNECT'),
  },
  {
    ids: [undefined, 'MQTT-3.14.0-1'],
    needs: 'a DISCONNECT from the server',
    applies: (f) => f.type === T.DISCONNECT,
    breaks: (f, w) => {
      const ack = firstConnack(w);
      return !ack || ack.seq > f.seq || (ack.code ?? 0) >= 0x80 ? `DISCONNECT 0x${(f.code ?? 0).toString(16)} ${ack ? `after CONNACK ${hex(ack.code ?? 0)}` : 'without a CONNACK'}` : undefined;
    },
  },
  {
    ids: ['MQTT-3.2.0-1', 'MQTT-3.2.0-1'],
    needs: 'an accepted connection',
    applies: (f, w) => f.seq === 0 && firstConnack(w)?.code === 0,
    breaks: (f) => (f.type === T.CONNACK ? undefined : `the first packet was type ${f.type}, not CONNACK`),
  },
  {
    ids: [undefined, 'MQTT-3.2.0-2'],
    needs: 'a CONNACK',
    applies: (f) => f.type === T.CONNACK,
    breaks: (f, w) => (w.wire.frames.filter((x) => x.type === T.CONNACK).length > 1 && firstConnack(w) !== f ? 'a second CONNACK on one connection' : undefined),
  },
  {
    ids: ['MQTT-3.2.2-4', 'MQTT-3.2.2-6'],
    needs: 'a refused CONNECT',
    applies: (f) => f.type === T.CONNACK && (f.code ?? 0) !== 0,
    breaks: (f) => (f.sessionPresent ? `CONNACK ${hex(f.code ?? 0)} with Session Present 1` : undefined),
  },
  {
    ids: ['MQTT-3.2.2-5', 'MQTT-3.2.2-7'],
    needs: 'a refused CONNECT',
    applies: (f, _w, v) => f.type === T.CONNACK && (v === 4 ? (f.code ?? 0) !== 0 : (f.code ?? 0) >= 0x80),
    breaks: (_f, w) => (w.wire.closedBy === 'server' ? undefined : 'the connection stayed open after a refusing CONNACK'),
  },
  {
    ids: [undefined, 'MQTT-4.12.0-6'],
    needs: 'a connection without an Authentication Method',
    applies: (f, w) => !w.authMethod && (f.type === T.AUTH || f.type === T.CONNACK),
    breaks: (f) => (f.type === T.AUTH ? 'AUTH sent to a client that used no Authentication Method' : propOf(f.props, PROP.authMethod) !== undefined ? 'CONNACK with an Authentication Method the client did not ask for' : undefined),
  },
  {
    ids: ['MQTT-2.3.1-1', 'MQTT-2.2.1-4'],
    needs: 'a QoS > 0 delivery',
    applies: (f) => f.type === T.PUBLISH && (f.pub?.qos ?? 0) > 0,
    breaks: (f) => (f.pub?.id === 0 ? 'a QoS > 0 PUBLISH with packet identifier 0' : undefined),
  },
  {
    ids: ['MQTT-3.3.1-2', 'MQTT-3.3.1-2'],
    needs: 'a QoS 0 delivery',
    applies: (f) => f.type === T.PUBLISH && f.pub?.qos === 0,
    breaks: (f) => (f.pub?.dup ? 'a QoS 0 PUBLISH with DUP 1' : undefined),
  },
  {
    ids: [undefined, 'MQTT-3.3.2-8'],
    needs: 'a delivery',
    applies: (f) => f.type === T.PUBLISH,
    breaks: (f) => (propOf(f.pub?.props, PROP.topicAlias) === 0 ? 'a PUBLISH with Topic Alias 0' : undefined),
  },
];

/** Judges the passive statements of `version` over every connection of the run. */
export function judgePassive(version: Version, wires: readonly WireRecord[], peer: string): PassiveResult[] {
  const out: PassiveResult[] = [];
  for (const rule of RULES) {
    const id = rule.ids[version === 4 ? 0 : 1];
    if (!id) continue;
    let seen = 0;
    let failure: { why: string; frame: WireFrame; w: WireRecord } | undefined;
    for (const w of wires) {
      for (const f of w.wire.frames) {
        if (!rule.applies(f, w, version)) continue;
        seen++;
        const why = rule.breaks(f, w, version);
        if (why && !failure) failure = { why, frame: f, w };
      }
    }
    if (failure) {
      const { frame, w, why } = failure;
      const evidence: TranscriptEntry[] = w.wire.frames
        .filter((f) => f.seq <= frame.seq + 1)
        .slice(-6)
        .map((f) => ({ t: f.at, dir: 'received' as const, peer, decoded: `${w.wire.label}: ${describeFrame(f)}`, ...hexOf(f.raw) }));
      out.push({ id, judgement: { verdict: 'fail', reason: `${why} (connection "${w.wire.label}", packet #${frame.seq + 1})` }, evidence });
    } else if (seen === 0) {
      out.push({ id, judgement: { verdict: 'skipped', reason: `the run saw no ${rule.needs.replace(/^an? /, '')} to judge it on` }, evidence: [] });
    } else {
      out.push({ id, judgement: { verdict: 'pass', reason: `held for all ${seen} packet(s) it applies to` }, evidence: [] });
    }
  }
  return out;
}
