// The hand-written CONNECT encoder against mqtt-packet: byte-equal for every
// well-formed packet (round-trip fixtures), and hostile length prefixes that
// a conforming parser must refuse or read differently.

import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { DISCONNECT, encodeConnect, encodeVarint, type ConnectFields } from '../../harness/protocols/mqtt/connect-bytes.js';

function parseAll(bytes: Buffer, version: 4 | 5): { packets: Packet[]; errors: string[] } {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: Packet[] = [];
  const errors: string[] = [];
  parser.on('packet', (p: Packet) => packets.push(p));
  parser.on('error', (e: Error) => errors.push(e.message));
  parser.parse(bytes);
  return { packets, errors };
}

/** Decodes an MQTT variable byte integer [MQTT-1.5.5]; undefined if it is not a valid one. */
function decodeVarint(b: Buffer): { value: number; length: number } | undefined {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    const byte = b[i];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * 128 ** i;
    if ((byte & 0x80) === 0) return { value, length: i + 1 };
  }
  return undefined;
}

interface Fixture {
  name: string;
  fields: ConnectFields;
  packet: IConnectPacket;
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

const FIXTURES: Fixture[] = [4, 5].flatMap((version) => {
  const v = version as 4 | 5;
  const base = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clean: true, keepalive: 30, clientId: 'gauntlet-abc123' } as const;
  return [
    { name: `v${v} anonymous`, fields: { version: v, clientId: utf8('gauntlet-abc123') }, packet: { ...base } },
    { name: `v${v} user only`, fields: { version: v, clientId: utf8('gauntlet-abc123'), username: utf8('admin') }, packet: { ...base, username: 'admin' } },
    {
      name: `v${v} user and password`,
      fields: { version: v, clientId: utf8('gauntlet-abc123'), username: utf8('admin'), password: utf8('s3cr3t') },
      packet: { ...base, username: 'admin', password: utf8('s3cr3t') },
    },
    {
      name: `v${v} empty user and password, keepalive 0, persistent session`,
      fields: { version: v, clientId: utf8('c'), username: utf8(''), password: utf8(''), keepalive: 0, cleanSession: false },
      packet: { ...base, clientId: 'c', username: '', password: utf8(''), keepalive: 0, clean: false },
    },
    {
      name: `v${v} non-ASCII user, binary password, max keepalive, long client id (2-byte remaining length)`,
      fields: { version: v, clientId: utf8('x'.repeat(200)), username: utf8('üser-名'), password: Buffer.from([0, 1, 2, 0xff]), keepalive: 65535 },
      packet: { ...base, clientId: 'x'.repeat(200), username: 'üser-名', password: Buffer.from([0, 1, 2, 0xff]), keepalive: 65535 },
    },
  ];
});

describe('encodeConnect: well-formed packets', () => {
  it.each(FIXTURES)('$name: byte-equal to mqtt-packet generate()', ({ fields, packet }) => {
    expect(encodeConnect(fields).toString('hex')).toBe(mqttPacket.generate(packet).toString('hex'));
  });

  it.each(FIXTURES)('$name: mqtt-packet parses it back to the same fields', ({ fields, packet }) => {
    const { packets, errors } = parseAll(encodeConnect(fields), fields.version);
    expect(errors).toEqual([]);
    expect(packets).toHaveLength(1);
    const p = packets[0] as IConnectPacket;
    expect(p).toMatchObject({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: fields.version, clean: packet.clean, keepalive: packet.keepalive, clientId: packet.clientId });
    expect(p.username).toBe(packet.username);
    if (packet.password === undefined) expect(p.password).toBeUndefined();
    else expect(Buffer.from(p.password!).equals(packet.password)).toBe(true);
  });

  it('the remaining length matches the bytes that follow', () => {
    for (const { fields } of FIXTURES) {
      const b = encodeConnect(fields);
      expect(b[0]).toBe(0x10);
      const len = decodeVarint(b.subarray(1))!;
      expect(1 + len.length + len.value).toBe(b.length);
    }
  });

  it('a password without a user name is encoded as asked (hostile in 3.1.1 [MQTT-3.1.2-22])', () => {
    const b = encodeConnect({ version: 4, clientId: utf8('c'), password: utf8('p') });
    expect(b[9]! & 0xc0).toBe(0x40);
    const p = parseAll(b, 4).packets[0] as IConnectPacket;
    expect(p.username).toBeUndefined();
    expect(Buffer.from(p.password!).toString()).toBe('p');
  });

  it('DISCONNECT is the two-byte packet mqtt-packet generates', () => {
    expect(DISCONNECT.toString('hex')).toBe(mqttPacket.generate({ cmd: 'disconnect' }).toString('hex'));
  });
});

describe('encodeConnect: hostile length prefixes', () => {
  const fields = { version: 4 as const, clientId: utf8('c1'), username: utf8('admin'), password: utf8('secret') };
  const honest = parseAll(encodeConnect(fields), 4).packets[0] as IConnectPacket;

  it.each([
    ['user name +3', { usernameLengthDelta: 3 }],
    ['user name -2', { usernameLengthDelta: -2 }],
    ['user name +1000', { usernameLengthDelta: 1000 }],
    ['password +5', { passwordLengthDelta: 5 }],
    ['password -1', { passwordLengthDelta: -1 }],
    ['password -100 (clamped at 0)', { passwordLengthDelta: -100 }],
  ] as const)('%s: the parser rejects it or reads other fields', (_name, delta) => {
    const b = encodeConnect({ ...fields, ...delta });
    // the packet itself stays the same size: only the prefix lies
    expect(b.length).toBe(encodeConnect(fields).length);
    const { packets, errors } = parseAll(b, 4);
    if (errors.length > 0) return;
    expect(packets).toHaveLength(1);
    const p = packets[0] as IConnectPacket;
    const same = p.username === honest.username && Buffer.from(p.password ?? []).equals(honest.password!);
    expect(same).toBe(false);
  });

  it('the lying prefix is exactly the true length plus the delta', () => {
    const b = encodeConnect({ ...fields, usernameLengthDelta: 3, passwordLengthDelta: -2 });
    // 10 <len> 00 04 MQTT 04 flags ka ka 00 02 c1 | user prefix at 16
    const userAt = 2 + 10 + 2 + 2;
    expect(b.readUInt16BE(userAt)).toBe(5 + 3);
    expect(b.readUInt16BE(userAt + 2 + 5)).toBe(6 - 2);
  });

  it('a prefix is clamped to 0..65535', () => {
    const big = encodeConnect({ ...fields, usernameLengthDelta: 100_000 });
    expect(big.readUInt16BE(16)).toBe(0xffff);
    const neg = encodeConnect({ ...fields, usernameLengthDelta: -100 });
    expect(neg.readUInt16BE(16)).toBe(0);
  });
});

describe('encodeVarint', () => {
  it.each([
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [16_383, 'ff7f'],
    [16_384, '808001'],
    [2_097_151, 'ffff7f'],
    [2_097_152, '80808001'],
    [268_435_455, 'ffffff7f'],
  ] as const)('%d -> %s', (n, hex) => {
    const b = encodeVarint(n);
    expect(b.toString('hex')).toBe(hex);
    expect(decodeVarint(b)).toEqual({ value: n, length: b.length });
  });

  it('agrees with mqtt-packet’s remaining length on every length boundary', () => {
    for (const n of [0, 127, 128, 16_383, 16_384]) {
      // a PUBLISH whose remaining length is n
      const publish = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(Math.max(0, n - 3)), qos: 0, dup: false, retain: false });
      if (n < 3) continue;
      expect(publish.subarray(1, 1 + encodeVarint(n).length).toString('hex')).toBe(encodeVarint(n).toString('hex'));
    }
  });
});
