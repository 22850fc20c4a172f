// MQTT codec hot paths: CONNECT encode, CONNACK parse, PUBLISH encode and
// decode. The checks speak MQTT through mqtt-packet (sessions, probes, the
// oracles, the mutators) and encode by hand only what mqtt-packet will not
// write (connect-bytes.ts), so mqtt-packet is the PUBLISH yardstick; beside
// it the device load generator's lean path (bench/load/tcp-mqtt.ts: a
// pre-encoded template patched per message, a frame splitter that decodes
// nothing it does not need) and a hand-rolled frame as the floor.

import mqttPacket, { type Packet as MqttPacket } from 'mqtt-packet';
import { encodeConnect, encodeVarint } from '../../protocols/mqtt/connect-bytes.js';
import { MqttFrames, publishPacketId, publishPayloadAt, publishTemplate, type FrameSink } from '../load/tcp-mqtt.js';
import type { Suite } from '../hot-paths.js';
import { cycler, repeat } from './util.js';

// ---------------------------------------------------------------- CONNECT encode

const CONNECT = { clientId: 'gauntlet-k3j9x0q2', username: 'admin', password: Buffer.from('hunter2-but-longer') } as const;

export function mqttConnectEncode(): Suite {
  // Ours starts from the same strings as mqtt-packet and converts them as
  // connectFor() does on every attempt, so both rows build the same packet
  // from the same input.
  const ours = () =>
    encodeConnect({
      version: 4,
      clientId: Buffer.from(CONNECT.clientId, 'utf8'),
      username: Buffer.from(CONNECT.username, 'utf8'),
      password: CONNECT.password,
      keepalive: 30,
      cleanSession: true,
    });
  const theirs = () =>
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      clientId: CONNECT.clientId,
      username: CONNECT.username,
      password: CONNECT.password,
    });
  const a = ours();
  const b = theirs();
  if (!a.equals(b)) throw new Error(`bench mqtt-connect-encode: encodeConnect and mqtt-packet disagree: ${a.toString('hex')} vs ${b.toString('hex')}`);
  const batch = 32;
  return {
    id: 'mqtt-connect-encode',
    title: `MQTT CONNECT encode (v4, user + password, ${a.length} bytes)`,
    unit: 'packet',
    tasks: [
      { name: 'encodeConnect (harness)', batch, fn: () => repeat(batch, () => ours().length) },
      { name: 'mqtt-packet generate()', baseline: true, batch, fn: () => repeat(batch, () => theirs().length) },
    ],
  };
}

// ---------------------------------------------------------------- CONNACK parse

/** v4 CONNACKs a broker sends back: accepted, accepted with session, bad credentials, not authorized. */
const CONNACKS: readonly Buffer[] = [
  Buffer.from([0x20, 0x02, 0x00, 0x00]),
  Buffer.from([0x20, 0x02, 0x01, 0x00]),
  Buffer.from([0x20, 0x02, 0x00, 0x04]),
  Buffer.from([0x20, 0x02, 0x00, 0x05]),
];

/** The least a client can do: one whole v4 CONNACK in one chunk [MQTT-3.2.2-1]; -1 = not one. */
function connackCodeByHand(b: Buffer): number {
  return b.length === 4 && b[0] === 0x20 && b[1] === 0x02 && (b[2]! & 0xfe) === 0 ? b[3]! : -1;
}

export function mqttConnackParse(): Suite {
  let code = -1;
  const onPacket = (p: MqttPacket) => {
    code = p.cmd === 'connack' ? (p.returnCode ?? 0) : -1;
  };
  const onError = () => {
    code = -1;
  };
  // connect-attempt.ts makes one parser per attempt and feeds it one CONNACK.
  const perAttempt = (b: Buffer) => {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', onPacket);
    parser.on('error', onError);
    parser.parse(b);
    return code;
  };
  const shared = mqttPacket.parser({ protocolVersion: 4 });
  shared.on('packet', onPacket);
  shared.on('error', onError);
  const reused = (b: Buffer) => {
    shared.parse(b);
    return code;
  };
  for (const b of CONNACKS) {
    const want = connackCodeByHand(b);
    if (perAttempt(b) !== want || reused(b) !== want) throw new Error(`bench mqtt-connack-parse: parser and hand check disagree on ${b.toString('hex')}`);
  }
  const over = (batch: number, parse: (b: Buffer) => number) => () => {
    let sum = 0;
    for (let i = 0; i < batch; i++) sum += parse(CONNACKS[i & 3]!);
    return sum;
  };
  return {
    id: 'mqtt-connack-parse',
    title: 'MQTT CONNACK parse (v4, 4 bytes)',
    unit: 'packet',
    tasks: [
      { name: 'mqtt-packet parser, new per attempt', batch: 64, fn: over(64, perAttempt) },
      { name: 'mqtt-packet parser, reused', batch: 256, fn: over(256, reused) },
      { name: 'hand-rolled 4-byte check', baseline: true, batch: 4096, fn: over(4096, connackCodeByHand) },
    ],
  };
}

// ---------------------------------------------------------------- PUBLISH encode / decode

/** A telemetry PUBLISH as a device or a load generator sends it: v4, QoS 1, 64-byte JSON. */
const PUBLISH = {
  topic: 'devices/sensor-1/telemetry',
  messageId: 42,
  payload: Buffer.from('{"t":21.5,"h":40.2,"ts":1732200000,"seq":123456,"fw":"1.4.2-rc1"}'),
} as const;

const publishPacket = (messageId: number): MqttPacket => ({ cmd: 'publish', topic: PUBLISH.topic, payload: PUBLISH.payload, qos: 1, messageId, dup: false, retain: false });

/** A v4 QoS 1 PUBLISH in one allocation [MQTT-3.3]: the least an encoder can do. */
function publishByHand(topic: Buffer, messageId: number, payload: Buffer): Buffer {
  const body = 2 + topic.length + 2 + payload.length;
  const head = encodeVarint(body);
  const out = Buffer.allocUnsafe(1 + head.length + body);
  out[0] = 0x32;
  head.copy(out, 1);
  let at = 1 + head.length;
  out.writeUInt16BE(topic.length, at);
  topic.copy(out, (at += 2));
  out.writeUInt16BE(messageId, (at += topic.length));
  payload.copy(out, at + 2);
  return out;
}

/** A whole v4 PUBLISH in `b` read in place: its topic (decoded), message id and payload length; undefined when it is not one. */
function publishWalk(b: Buffer): { topic: string; messageId: number; payload: number } | undefined {
  if (b.length < 2 || b[0]! >> 4 !== 3) return undefined;
  let length = 0;
  let at = 1;
  for (let mul = 1; ; mul *= 128) {
    if (at >= b.length || at > 4) return undefined;
    const byte = b[at++]!;
    length += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) break;
  }
  if (at + length !== b.length || length < 2) return undefined;
  const tl = b.readUInt16BE(at);
  const qos = (b[0]! >> 1) & 3;
  const payloadAt = at + 2 + tl + (qos > 0 ? 2 : 0);
  if (payloadAt > b.length) return undefined;
  return { topic: b.toString('utf8', at + 2, at + 2 + tl), messageId: qos > 0 ? b.readUInt16BE(at + 2 + tl) : 0, payload: b.length - payloadAt };
}

export function mqttPublishEncode(): Suite {
  const topic = Buffer.from(PUBLISH.topic, 'utf8');
  const theirs = (id: number) => mqttPacket.generate(publishPacket(id), { protocolVersion: 4 });
  const ours = (id: number) => publishByHand(topic, id, PUBLISH.payload);
  for (const id of [1, 42, 0xffff]) {
    if (!ours(id).equals(theirs(id))) throw new Error(`bench mqtt-publish-encode: the hand-rolled frame and mqtt-packet disagree on message id ${id}`);
  }
  // The load generator: one template, copied into a batch buffer per write, its packet id patched per message.
  const t = publishTemplate(PUBLISH.topic, 1, PUBLISH.payload, 4);
  if (!t.bytes.equals(theirs(1)) || t.idAt < 0) throw new Error('bench mqtt-publish-encode: the load template and mqtt-packet disagree');
  const size = t.bytes.length;
  let id = 0;
  const next = () => (id = (id % 0xffff) + 1);
  const templated = (n: number) => {
    const out = Buffer.allocUnsafe(n * size);
    for (let k = 0, at = 0; k < n; k++, at += size) {
      t.bytes.copy(out, at);
      out.writeUInt16BE(next(), at + t.idAt);
    }
    return out.length;
  };
  const batch = 32;
  const check = Buffer.allocUnsafe(size);
  t.bytes.copy(check);
  check.writeUInt16BE(42, t.idAt);
  if (!check.equals(theirs(42))) throw new Error('bench mqtt-publish-encode: a patched template is not the packet mqtt-packet writes');
  return {
    id: 'mqtt-publish-encode',
    title: `MQTT PUBLISH encode (v4, QoS 1, ${PUBLISH.payload.length}-byte payload, ${size} bytes)`,
    unit: 'packet',
    tasks: [
      { name: 'mqtt-packet generate() (MqttSession.publish, valid fuzz cases)', baseline: true, batch, fn: () => repeat(batch, () => theirs(next()).length) },
      { name: `load generator: template copied + id patched, ${batch} per write (bench/load)`, batch, fn: () => templated(batch) },
      { name: 'hand-rolled frame, one allocation', batch, fn: () => repeat(batch, () => ours(next()).length) },
    ],
  };
}

export function mqttPublishDecode(): Suite {
  // Four deliveries with different ids, each one whole packet per chunk.
  const packets = [1, 2, 0x7fff, 0xffff].map((id) => mqttPacket.generate(publishPacket(id), { protocolVersion: 4 }));
  let last = -1;
  const onPacket = (p: MqttPacket) => {
    last = p.cmd === 'publish' ? (p.messageId ?? 0) + p.payload.length : -1;
  };
  const onError = () => {
    last = -1;
  };
  const shared = mqttPacket.parser({ protocolVersion: 4 });
  shared.on('packet', onPacket);
  shared.on('error', onError);
  const reused = (b: Buffer) => {
    shared.parse(b);
    return last;
  };
  // oracles.ts invalidReply and mutate.ts make one parser per reply / step.
  const fresh = (b: Buffer) => {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', onPacket);
    parser.on('error', onError);
    parser.parse(b);
    return last;
  };
  const walk = (b: Buffer) => {
    const p = publishWalk(b);
    return p && p.topic.length > 0 ? p.messageId + p.payload : -1;
  };
  // The load generator's observer: one splitter per connection, the packet id and payload offset read in place.
  const frames = new MqttFrames();
  const sink: FrameSink = {
    frame(b0, buf, start, end) {
      const at = publishPayloadAt(b0, buf, start, end, false);
      last = b0 >> 4 === 3 && at >= 0 ? publishPacketId(buf, start, end) + (end - at) : -1;
    },
  };
  const lean = (b: Buffer) => {
    last = -1;
    return frames.feed(b, sink) === undefined ? last : -1;
  };
  for (const b of packets) {
    const want = walk(b);
    if (want < 0 || reused(b) !== want || fresh(b) !== want || lean(b) !== want) throw new Error(`bench mqtt-publish-decode: mqtt-packet, the load observer and the frame walk disagree on ${b.toString('hex')}`);
  }
  const [r, f, l, w] = [cycler(packets, reused), cycler(packets, fresh), cycler(packets, lean), cycler(packets, walk)];
  return {
    id: 'mqtt-publish-decode',
    title: `MQTT PUBLISH decode (v4, QoS 1, ${packets[0]!.length} bytes, one packet per chunk)`,
    unit: 'packet',
    tasks: [
      { name: 'mqtt-packet parser, reused (MqttSession)', baseline: true, batch: 64, fn: () => r(64) },
      { name: 'mqtt-packet parser, new per packet (oracles, mutate.ts)', batch: 32, fn: () => f(32) },
      { name: 'load observer: MqttFrames + id/payload reads (bench/load)', batch: 256, fn: () => l(256) },
      { name: 'hand-rolled frame walk (topic string, id, payload length)', batch: 256, fn: () => w(256) },
    ],
  };
}
