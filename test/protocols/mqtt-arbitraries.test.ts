// The MQTT fuzz arbitraries against mqtt-packet's parser and a small protocol
// oracle (the rules a reader of the parsed packets can check). Valid cases
// parse one packet per step and break no rule; hostile cases break the rule
// their label names, which the parser or the oracle sees in nearly all of
// them. Seeded, time-boxed runs.

import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { FuzzCase, FuzzStep } from '../../harness/model/index.js';
import { MQTT_HOSTILE_RULES, mqttCaseArb, mqttPacketArb, type MqttCaseOptions, type MqttHostileRule } from '../../harness/protocols/mqtt/arbitraries.js';

const RUNS = { seed: 42, numRuns: 200 } as const;
const AUTH = { username: 'alice', password: 's3cr3t' } as const;
const TOPICS = ['gauntlet/fuzz', 'gauntlet/fuzz/a'] as const;
const VERSIONS = [4, 5] as const;

interface StepParse {
  readonly packets: Packet[];
  readonly errors: string[];
}

/** Parses a case step by step with one parser (it keeps the CONNECT's settings, as a broker does). */
function parseSteps(steps: readonly FuzzStep[], version: 4 | 5): { perStep: StepParse[]; left: number } {
  const parser = mqttPacket.parser({ protocolVersion: version });
  let current: StepParse = { packets: [], errors: [] };
  parser.on('packet', (p: Packet) => current.packets.push(p));
  parser.on('error', (e: Error) => current.errors.push(e.message));
  const perStep: StepParse[] = [];
  let left = 0;
  for (const s of steps) {
    current = { packets: [], errors: [] };
    left = parser.parse(Buffer.from(s.bytes));
    perStep.push(current);
    if (current.errors.length > 0) break; // a broker closes here
  }
  return { perStep, left };
}

/** Decodes the remaining length of one packet; minimal = the shortest encoding [MQTT-1.5.5-1]. */
function remainingLength(b: Uint8Array): { value: number; width: number; minimal: boolean } | undefined {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    const byte = b[1 + i];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * 128 ** i;
    if ((byte & 0x80) === 0) {
      const width = i + 1;
      const need = value < 128 ? 1 : value < 16384 ? 2 : value < 2097152 ? 3 : 4;
      return { value, width, minimal: width === need };
    }
  }
  return undefined;
}

/** Whether re-encoding the parsed packet gives the bytes back: a length that lies inside a packet often shows here. */
function sameBytes(p: Packet, bytes: Uint8Array, version: 4 | 5): boolean {
  try {
    return mqttPacket.generate(p, { protocolVersion: version }).equals(bytes);
  } catch {
    return false;
  }
}

const BAD_CHARS = /[\u0000\ufffd\uffff]/;
const isWild = (t: string) => t.includes('+') || t.includes('#');
const PROPS_ALLOWED: Partial<Record<Packet['cmd'], readonly string[]>> = {
  connect: [
    'sessionExpiryInterval',
    'receiveMaximum',
    'maximumPacketSize',
    'topicAliasMaximum',
    'requestResponseInformation',
    'requestProblemInformation',
    'userProperties',
    'authenticationMethod',
    'authenticationData',
  ],
  publish: ['payloadFormatIndicator', 'messageExpiryInterval', 'topicAlias', 'responseTopic', 'correlationData', 'userProperties', 'contentType'],
  subscribe: ['subscriptionIdentifier', 'userProperties'],
};

/**
 * The rules a reader of the parsed stream can check, as one-line findings:
 * framing, order (CONNECT first and once, nothing after DISCONNECT), packet
 * ids, QoS 2 flows, topics, UTF-8, v5 properties and aliases.
 */
function violations(c: FuzzCase, version: 4 | 5): string[] {
  const out: string[] = [];
  const { perStep, left } = parseSteps(c.steps, version);
  perStep.forEach((p, i) => {
    if (p.errors.length) out.push(`parse error: ${p.errors[0]}`);
    if (p.packets.length !== 1 && p.errors.length === 0) out.push(`step ${i}: ${p.packets.length} packets`);
    if (p.packets.length === 1 && p.errors.length === 0 && !sameBytes(p.packets[0]!, c.steps[i]!.bytes, version)) out.push(`step ${i}: not the encoding of what it parses as`);
    const rl = remainingLength(c.steps[i]!.bytes);
    if (rl && !rl.minimal) out.push(`step ${i}: non-minimal remaining length`);
  });
  if (left > 0) out.push(`${left} bytes left unparsed`);

  const packets = perStep.flatMap((p) => p.packets);
  let connect: IConnectPacket | undefined;
  let disconnected = false;
  const openQos2 = new Set<number>();
  const inFlight = new Set<number>();
  const aliases = new Set<number>();
  const badProps = (cmd: Packet['cmd'], props: object | undefined) => {
    for (const [k, val] of Object.entries(props ?? {})) {
      if (k !== 'userProperties' && Array.isArray(val)) out.push(`${cmd} property ${k} twice`);
      const allowed = PROPS_ALLOWED[cmd];
      if (allowed && !allowed.includes(k)) out.push(`${cmd} property ${k} not allowed`);
    }
  };
  packets.forEach((p, i) => {
    if (disconnected) out.push(`${p.cmd} after DISCONNECT`);
    if (i === 0 && p.cmd !== 'connect') out.push('first packet is not CONNECT');
    switch (p.cmd) {
      case 'connect': {
        if (connect) out.push('second CONNECT');
        connect = p;
        if (p.protocolId !== 'MQTT' || p.protocolVersion !== version) out.push(`protocol ${p.protocolId} level ${p.protocolVersion}`);
        if (BAD_CHARS.test(p.clientId) || BAD_CHARS.test(p.username ?? '') || BAD_CHARS.test(p.will?.topic ?? '')) out.push('bad UTF-8 in CONNECT');
        if (version === 4 && p.password !== undefined && p.username === undefined) out.push('password without user name');
        if ((p.will?.qos ?? 0) > 2) out.push('will QoS 3');
        if (p.clientId === '' && !p.clean && version === 4) out.push('empty client id, clean=0');
        badProps('connect', p.properties);
        if (p.properties?.receiveMaximum === 0 || p.properties?.maximumPacketSize === 0) out.push('CONNECT property value 0');
        break;
      }
      case 'publish': {
        const alias = p.properties?.topicAlias;
        if (p.topic === '' && (alias === undefined || !aliases.has(alias as number))) out.push('empty topic / unmapped alias');
        if (typeof alias === 'number') {
          if (alias === 0) out.push('topic alias 0');
          else if (p.topic !== '') aliases.add(alias);
        }
        if (isWild(p.topic) || BAD_CHARS.test(p.topic)) out.push(`bad topic name ${JSON.stringify(p.topic.slice(0, 40))}`);
        if (p.dup && p.qos === 0) out.push('DUP on QoS 0');
        if (p.qos > 0) {
          if (!p.messageId) out.push('PUBLISH packet id 0');
          else if (inFlight.has(p.messageId)) out.push(`packet id ${p.messageId} reused`);
          else inFlight.add(p.messageId);
          if (p.qos === 2 && p.messageId) openQos2.add(p.messageId);
        }
        if (p.properties?.payloadFormatIndicator && !isUtf8(Buffer.from(p.payload))) out.push('payload not UTF-8');
        badProps('publish', p.properties);
        break;
      }
      case 'pubrel':
        if (!openQos2.delete(p.messageId ?? -1)) out.push(`PUBREL id=${p.messageId} unknown`);
        break;
      case 'subscribe':
      case 'unsubscribe': {
        const filters = p.cmd === 'subscribe' ? p.subscriptions.map((s) => s.topic) : p.unsubscriptions;
        if (!p.messageId) out.push(`${p.cmd} packet id 0`);
        else if (inFlight.has(p.messageId)) out.push(`packet id ${p.messageId} reused`);
        else inFlight.add(p.messageId);
        if (filters.length === 0) out.push(`${p.cmd} without filters`);
        if (filters.some((f) => f === '' || BAD_CHARS.test(f))) out.push(`${p.cmd} bad filter`);
        if (p.cmd === 'subscribe') {
          badProps('subscribe', p.properties);
          if (p.properties?.subscriptionIdentifier === 0) out.push('subscription identifier 0');
        }
        break;
      }
      case 'auth':
        if (!connect?.properties?.authenticationMethod) out.push('AUTH without authentication method');
        if (p.reasonCode !== 0x18 && p.reasonCode !== 0x19) out.push(`AUTH reason ${p.reasonCode}`);
        break;
      case 'disconnect':
        disconnected = true;
        break;
      case 'connack':
      case 'suback':
      case 'unsuback':
      case 'pingresp':
        out.push(`${p.cmd} from the client`);
        break;
      default:
        break;
    }
  });
  // An errored or incomplete stream ends the connection; otherwise every QoS 2 flow must be released.
  if (out.length === 0 && openQos2.size > 0) out.push(`QoS 2 flows never released: ${[...openQos2].join(',')}`);
  return out;
}

const totalBytes = (c: FuzzCase) => c.steps.reduce((n, s) => n + s.bytes.length, 0);
const TITLES = Object.entries(MQTT_HOSTILE_RULES) as [MqttHostileRule, { title: string }][];
const ruleOf = (label: string): MqttHostileRule | undefined => TITLES.find(([, r]) => label.startsWith(`hostile: ${r.title}: `))?.[0];

describe.each(VERSIONS)('MQTT arbitraries, v%i', (version) => {
  const valid: MqttCaseOptions = { version, mode: 'valid', auth: AUTH, topics: TOPICS };
  const hostile: MqttCaseOptions = { version, mode: 'hostile', auth: AUTH, topics: TOPICS };

  it('valid packets parse as exactly one packet each', () => {
    fc.assert(
      fc.property(mqttPacketArb(version, 'valid'), (step) => {
        const { perStep, left } = parseSteps([step], version);
        expect(perStep[0]).toEqual({ packets: [expect.anything()], errors: [] });
        expect(left).toBe(0);
      }),
      RUNS,
    );
  });

  it('valid cases parse one packet per step and break no rule', () => {
    fc.assert(
      fc.property(mqttCaseArb(valid), (c) => {
        const { perStep } = parseSteps(c.steps, version);
        expect(perStep.map((p) => [p.packets.length, p.errors])).toEqual(c.steps.map(() => [1, []]));
        expect(violations(c, version)).toEqual([]);
        expect(c.steps.length).toBeLessThanOrEqual(1 + 8);
        expect(totalBytes(c)).toBeLessThan(8 * 1024);
        expect(c.label).toMatch(/^valid v[45]( pre-auth)?: CONNECT /);
        for (const s of c.steps) expect(s.label).not.toMatch(/\n| — /);
      }),
      RUNS,
    );
  });

  it('stateful valid cases open with a clean CONNECT carrying the credentials', () => {
    let stateful = 0;
    fc.assert(
      fc.property(mqttCaseArb(valid), (c) => {
        if (c.label.includes('pre-auth')) return;
        stateful++;
        const first = parseSteps(c.steps.slice(0, 1), version).perStep[0]!.packets[0] as IConnectPacket;
        expect(first).toMatchObject({ cmd: 'connect', username: AUTH.username, clean: true, protocolVersion: version });
        expect(Buffer.from(first.password ?? '').toString()).toBe(AUTH.password);
        expect(first.clientId).toMatch(/^gf-[A-Za-z0-9]{8}$/);
        expect(first.keepalive).toBeGreaterThanOrEqual(30);
        expect(first.keepalive).toBeLessThanOrEqual(60);
      }),
      RUNS,
    );
    expect(stateful / RUNS.numRuns).toBeGreaterThan(0.6);
  });

  it('valid cases reach the stateful sequences', () => {
    const seen = new Set<string>();
    for (const c of fc.sample(mqttCaseArb(valid), { seed: 42, numRuns: 300 })) {
      const packets = parseSteps(c.steps, version).perStep.flatMap((p) => p.packets);
      const subscribed = new Set<string>();
      let lastQos2 = -1;
      packets.forEach((p, i) => {
        if (p.cmd === 'subscribe') p.subscriptions.forEach((s) => subscribed.add(s.topic));
        if (p.cmd === 'publish' && subscribed.has(p.topic)) seen.add('PUBLISH to a subscribed topic');
        if (p.cmd === 'publish' && p.qos === 2) lastQos2 = i;
        if (p.cmd === 'pubrel') seen.add(i - 1 === lastQos2 ? 'PUBREL right after its PUBLISH' : 'PUBREL after other packets');
        if (p.cmd === 'publish' && p.properties?.topicAlias !== undefined && p.topic === '') seen.add('topic alias reused');
        if (p.cmd !== 'connect' && 'properties' in p && p.properties && 'userProperties' in p.properties) seen.add('user properties');
        seen.add(p.cmd);
      });
    }
    const expected = ['PUBLISH to a subscribed topic', 'PUBREL right after its PUBLISH', 'PUBREL after other packets', 'unsubscribe', 'pingreq', 'disconnect', 'puback', 'pubrec', 'pubcomp'];
    if (version === 5) expected.push('topic alias reused', 'user properties', 'auth');
    expect([...seen]).toEqual(expect.arrayContaining(expected));
  });

  it('hostile cases name one of the rules, and most of them break it visibly', () => {
    const cases = fc.sample(mqttCaseArb(hostile), { seed: 42, numRuns: 600 });
    const rules = new Set<MqttHostileRule>();
    const missed = new Map<MqttHostileRule, number>();
    let caught = 0;
    for (const c of cases) {
      const rule = ruleOf(c.label);
      expect(rule, c.label).toBeDefined();
      expect(c.label).toMatch(/^hostile: .+: .+ \[MQTT.*\]$/);
      expect(MQTT_HOSTILE_RULES[rule!].versions).toContain(version);
      rules.add(rule!);
      // One rule per case: exactly one step says what is wrong with it.
      expect(c.steps.filter((s) => s.label.includes(' — ')).length, c.label).toBe(1);
      if (violations(c, version).length > 0) caught++;
      else missed.set(rule!, (missed.get(rule!) ?? 0) + 1);
    }
    expect(rules.size).toBeGreaterThanOrEqual(version === 4 ? 22 : 28);
    expect(caught / cases.length).toBeGreaterThan(0.85);
    // Rules the parsed stream cannot show: a type-limit size is legal, a lying length prefix may read as other valid fields.
    expect([...missed.keys()].filter((r) => r !== 'type-limit' && r !== 'length-prefix')).toEqual([]);
  });

  it('hostile remaining lengths always make the parser fail, read another length, or are non-minimal', () => {
    fc.assert(
      fc.property(mqttCaseArb(hostile), (c) => {
        if (ruleOf(c.label) !== 'remaining-length') return;
        const step = c.steps.find((s) => s.label.includes(' — remaining length'))!;
        const { perStep, left } = parseSteps([step], version);
        const rl = remainingLength(step.bytes);
        const clean = perStep[0]!.errors.length === 0 && perStep[0]!.packets.length === 1 && left === 0;
        expect(!clean || rl === undefined || !rl.minimal).toBe(true);
      }),
      RUNS,
    );
  });

  it('hostile packets alone say what is wrong with them', () => {
    fc.assert(
      fc.property(mqttPacketArb(version, 'hostile'), (step) => {
        expect(step.label).toMatch(/ — \S/);
        expect(step.bytes.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it('case sizes stay bounded: 8 KiB, 300 KiB for type limits; maxSteps holds', () => {
    const bounded: MqttCaseOptions = { ...hostile, maxSteps: 4 };
    fc.assert(
      fc.property(mqttCaseArb(bounded), (c) => {
        expect(totalBytes(c)).toBeLessThan(ruleOf(c.label) === 'type-limit' ? 300 * 1024 : 8 * 1024);
        expect(c.steps.length).toBeLessThanOrEqual(1 + 4);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(mqttCaseArb({ ...valid, maxSteps: 2 }), (c) => {
        expect(c.steps.length).toBeLessThanOrEqual(3);
      }),
      RUNS,
    );
  });

  it('the same seed draws the same cases', () => {
    const draw = () => fc.sample(mqttCaseArb(hostile), { seed: 7, numRuns: 40 }).map((c) => [c.label, ...c.steps.map((s) => Buffer.from(s.bytes).toString('hex'))]);
    expect(draw()).toEqual(draw());
  });
});

it('without credentials the opening CONNECT is anonymous, on the default topic', () => {
  fc.assert(
    fc.property(mqttCaseArb({ version: 4, mode: 'valid' }), (c) => {
      if (c.label.includes('pre-auth')) return;
      const packets = parseSteps(c.steps, 4).perStep.flatMap((p) => p.packets);
      expect(packets[0]).toMatchObject({ cmd: 'connect' });
      expect((packets[0] as IConnectPacket).username).toBeUndefined();
      for (const p of packets) if (p.cmd === 'publish') expect(p.topic).toBe('gauntlet/fuzz');
    }),
    RUNS,
  );
});
