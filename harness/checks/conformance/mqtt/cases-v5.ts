// MQTT 5.0 only: CONNECT / CONNACK properties, topic aliases, flow control
// (Receive Maximum), Maximum Packet Size, forwarded message properties,
// problem and response information, authentication method.

import { printable } from '../../../protocols/common/io.js';
import { PROP, propOf, propsOf, rawConnect, rawPublish, T, type RawProp } from './frames.js';
import { closing, leaked, nonce } from './observe.js';
import { Peer } from './peer.js';
import { defineCase, SetupError, type Case } from './trial.js';

const hex = (n: number | undefined) => `0x${(n ?? 0).toString(16).padStart(2, '0')}`;

const capabilities = defineCase({
  name: 'Maximum QoS announced and SUBSCRIBE QoS 2 accepted',
  ids: { maxQos: [undefined, 'MQTT-3.2.2-9'], subscribe: [undefined, 'MQTT-3.2.2-10'] },
  async run(t) {
    const p = await Peer.open(t, 'c');
    const maxQos = propOf(p.connack.props, PROP.maximumQos) as number | undefined;
    const r = await p.publish(t.topic('q2'), 'q2', { qos: 2 });
    if (maxQos === undefined) {
      // No Maximum QoS: the server claims QoS 2.
      t.expect('maxQos', r.ack !== undefined && (r.ack.code ?? 0) < 0x80 && r.comp !== undefined, 'no Maximum QoS announced, and a QoS 2 PUBLISH completed', `no Maximum QoS announced, but a QoS 2 PUBLISH ${r.ack ? `got PUBREC ${hex(r.ack.code)}` : 'got no PUBREC'}`);
      t.skip('subscribe', 'the server supports QoS 2 (no Maximum QoS in CONNACK)');
      return;
    }
    t.pass('maxQos', `CONNACK announces Maximum QoS ${maxQos}`);
    const ack = await p.subscribe([{ topic: t.topic('q2s'), qos: 2 }]);
    t.expect('subscribe', ack !== undefined && (ack.codes ?? [0x80])[0]! < 0x80, `SUBSCRIBE at QoS 2 granted at ${ack?.codes?.[0]}`, `SUBSCRIBE at QoS 2 ${ack ? `refused (${hex(ack.codes?.[0])})` : 'unanswered'} on a server with Maximum QoS ${maxQos}`);
  },
});

const aliasesOut = defineCase({
  name: 'Topic Aliases the server sends',
  ids: { noneAbsent: [undefined, 'MQTT-3.1.2-27'], belowMax: [undefined, 'MQTT-3.1.2-26'], belowMax2: [undefined, 'MQTT-3.3.2-11'], nonZero: [undefined, 'MQTT-3.3.2-8'] },
  async run(t) {
    const pub = await Peer.open(t, 'pub');
    const topics = ['a', 'b', 'c', 'd'].map((x) => t.topic(`al/${x}`));
    const run = async (label: string, props: readonly RawProp[]) => {
      const sub = await Peer.open(t, label, { props });
      await sub.mustSubscribe([{ topic: t.topic('al/#'), qos: 1 }]);
      const texts: string[] = [];
      for (let round = 0; round < 3; round++) {
        for (const topic of topics) {
          const n = nonce(t, `al${round}`);
          texts.push(n);
          await pub.mustPublish(topic, n, { qos: 1 });
        }
      }
      await sub.waitFor((d) => d.text === texts.at(-1));
      await t.settle();
      const aliases = sub.deliveries.map((d) => propOf(d.props, PROP.topicAlias) as number | undefined).filter((a): a is number => a !== undefined);
      const wrongTopic = sub.deliveries.filter((d) => d.topic === '' || !topics.includes(d.topic));
      return { sub, aliases, n: sub.deliveries.length, wrongTopic };
    };
    const none = await run('noalias', []);
    t.expect('noneAbsent', none.aliases.length === 0, `${none.n} deliveries to a client without Topic Alias Maximum, none with a Topic Alias`, `${none.aliases.length} of ${none.n} deliveries carried a Topic Alias although the client announced none`);
    const two = await run('alias2', [[PROP.topicAliasMaximum, 2]]);
    const above = two.aliases.filter((a) => a > 2);
    const okMax = above.length === 0 && two.wrongTopic.length === 0;
    const used = two.aliases.length ? `aliases used: ${[...new Set(two.aliases)].join(',')}` : 'the server used no alias';
    t.expect('belowMax', okMax, `${two.n} deliveries with Topic Alias Maximum 2: ${used}`, above.length ? `Topic Alias ${above[0]} sent to a client whose maximum is 2` : `${two.wrongTopic.length} deliveries resolved to a wrong topic`);
    t.expect('belowMax2', okMax, `${two.n} deliveries with Topic Alias Maximum 2: ${used}`, above.length ? `Topic Alias ${above[0]} above the client's maximum 2` : `${two.wrongTopic.length} deliveries resolved to a wrong topic`);
    const zero = [...none.aliases, ...two.aliases].filter((a) => a === 0);
    t.expect('nonZero', zero.length === 0, `no Topic Alias 0 in ${none.n + two.n} deliveries`, 'the server sent Topic Alias 0');
  },
});

const aliasesIn = defineCase({
  name: 'Topic Aliases the server accepts',
  ids: { accepts: [undefined, 'MQTT-3.3.2-12'], perConnection: [undefined, 'MQTT-3.3.2-7'], zero: [undefined, 'MQTT-4.13.1-1'] },
  async run(t) {
    const max = t.env.caps.topicAliasMaximum;
    if (max === 0) {
      for (const k of ['accepts', 'perConnection'] as const) t.skip(k, 'the server announced no Topic Alias Maximum: it accepts no aliases');
    }
    const topic = t.topic('ali');
    const sub = await Peer.open(t, 'sub');
    await sub.mustSubscribe([{ topic, qos: 1 }]);
    const pub = await Peer.open(t, 'pub');
    if (max > 0) {
      const alias = Math.min(max, 0xffff);
      const [a, b, c] = [nonce(t, 'set'), nonce(t, 'use'), nonce(t, 'one')];
      await pub.mustPublish(topic, a, { qos: 1, props: [[PROP.topicAlias, alias]] });
      const r = await pub.publish('', b, { qos: 1, props: [[PROP.topicAlias, alias]] });
      await pub.mustPublish(topic, c, { qos: 1, props: [[PROP.topicAlias, 1]] });
      await sub.waitFor((d) => d.text === c);
      await t.settle();
      const ok = sub.got(a).length === 1 && sub.got(b).length === 1 && sub.got(c).length === 1 && (r.ack?.code ?? 0x80) < 0x80;
      t.expect('accepts', ok, `aliases ${alias} (the maximum) and 1 accepted; the alias alone resolved to the topic`, `with aliases 1 and ${alias} (maximum ${max}): delivered ${[a, b, c].map((x) => sub.got(x).length).join('/')} of each, the alias-only PUBLISH got ${r.ack ? `PUBACK ${hex(r.ack.code)}` : 'no PUBACK'}`);
      // A second connection does not know the first one's alias.
      const other = await Peer.open(t, 'other');
      const since = other.wire.frames.length;
      const d = nonce(t, 'carried');
      other.wire.send(rawPublish({ version: 5, topic: '', qos: 1, id: 3, props: [[PROP.topicAlias, alias]], payload: d }), `PUBLISH qos=1 with only Topic Alias ${alias} (mapped on another connection)`);
      const cl = await closing(t, other.wire, since);
      const leak = await leaked(t, sub, d);
      const puback = other.wire.frames.slice(since).find((f) => f.type === T.PUBACK);
      t.expect('perConnection', !leak && (cl.closed || (puback?.code ?? 0) >= 0x80), `an alias mapped on another connection was refused: ${cl.detail}`, `an alias mapped on another connection was ${leak ? 'resolved and delivered' : `not refused (${cl.detail})`}`);
    }
    const zp = await Peer.open(t, 'zero');
    const since = zp.wire.frames.length;
    zp.wire.send(rawPublish({ version: 5, topic, qos: 0, props: [[PROP.topicAlias, 0]], payload: 'alias0' }), 'PUBLISH with Topic Alias 0 (protocol error)');
    const c = await closing(t, zp.wire, since);
    t.expect('zero', c.closed, `Topic Alias 0 closed the connection: ${c.detail}`, `Topic Alias 0 (a protocol error) did not close the connection: ${c.detail}`);
  },
});

const receiveMaximum = defineCase({
  name: 'Receive Maximum',
  ids: {
    limit: [undefined, 'MQTT-3.3.4-9'],
    others: [undefined, 'MQTT-3.3.4-10'],
    initial: [undefined, 'MQTT-4.9.0-1'],
    zero: [undefined, 'MQTT-4.9.0-2'],
    served: [undefined, 'MQTT-4.9.0-3'],
  },
  async run(t) {
    const topic = t.topic('rm');
    const sub = await Peer.open(t, 'sub', { ack: 'manual', props: [[PROP.receiveMaximum, 2]] });
    await sub.mustSubscribe([{ topic, qos: 1 }]);
    const pub = await Peer.open(t, 'pub');
    const texts = Array.from({ length: 5 }, (_, i) => nonce(t, `rm${i}`));
    for (const x of texts) await pub.mustPublish(topic, x, { qos: 1 });
    await sub.waitFor((d) => d.text === texts[1]);
    await t.settle(2);
    const inFlight = sub.deliveries.length;
    t.expect('initial', inFlight >= 1 && inFlight <= 2, `${inFlight} QoS 1 messages sent before any PUBACK (Receive Maximum 2)`, `${inFlight} QoS 1 messages sent before any PUBACK with Receive Maximum 2`);
    t.expect('limit', inFlight <= 2, `at most 2 unacknowledged (${inFlight})`, `${inFlight} unacknowledged QoS 1 PUBLISH packets with Receive Maximum 2`);
    t.expect('zero', inFlight <= 2, 'no QoS 1 PUBLISH beyond the quota', `${inFlight - 2} QoS 1 PUBLISH packets beyond a quota of 2`);
    const pong = await sub.ping();
    t.expect('others', pong, 'PINGRESP while the receive window was full', 'no PINGRESP while the receive window was full');
    t.expect('served', pong, 'PINGREQ answered with the send quota at zero', 'PINGREQ not answered with the send quota at zero');
    // Acknowledge as they come: the rest must follow.
    const acked = new Set<object>();
    for (let i = 0; i < 10 && sub.deliveries.length < 5; i++) {
      for (const d of sub.deliveries.filter((x) => !acked.has(x))) {
        acked.add(d);
        sub.ackPublish(d);
      }
      await sub.waitFor((d) => !acked.has(d), t.env.settleMs * 2);
    }
    for (const d of sub.deliveries.filter((x) => !acked.has(x))) sub.ackPublish(d);
  },
});

const maximumPacketSize = defineCase({
  name: 'Maximum Packet Size',
  ids: { notSent: [undefined, 'MQTT-3.1.2-24'], dropped: [undefined, 'MQTT-3.1.2-25'] },
  async run(t) {
    const topic = t.topic('mps');
    const limit = 160;
    const sub = await Peer.open(t, 'sub', { props: [[PROP.maximumPacketSize, limit]] });
    await sub.mustSubscribe([{ topic, qos: 1 }]);
    const pub = await Peer.open(t, 'pub');
    const big = `${nonce(t, 'big')}-${'x'.repeat(400)}`;
    const small = nonce(t, 'small');
    await pub.mustPublish(topic, big, { qos: 1 });
    await pub.mustPublish(topic, small, { qos: 1 });
    const got = await sub.waitFor((d) => d.text === small);
    await t.settle();
    const oversize = sub.wire.frames.filter((f) => f.raw.length > limit);
    t.expect('notSent', oversize.length === 0, `no packet above ${limit} bytes sent (the ${big.length}-byte message was withheld)`, `${oversize.length} packet(s) above the client's Maximum Packet Size ${limit}: ${oversize.map((f) => `${f.raw.length} bytes`).join(', ')}`);
    t.expect('dropped', got !== undefined && sub.got(big).length === 0, 'the too-large message was dropped and the next one still delivered', got ? 'the too-large message was delivered' : 'after the too-large message, the next message was not delivered');
  },
});

const problemInfo = defineCase({
  name: 'Request Problem Information 0',
  ids: { quiet: [undefined, 'MQTT-3.1.2-29'] },
  async run(t) {
    const p = await Peer.open(t, 'c', { props: [[PROP.requestProblemInfo, 0]] });
    // Provoke answers that may carry a reason: a refused filter, an UNSUBSCRIBE of nothing, a PUBLISH nobody reads.
    await p.subscribe([{ topic: `${t.topic('pi')}/#/x`, qos: 0 }]);
    if (!p.wire.closed) await p.unsubscribe([t.topic('pi/none')]);
    if (!p.wire.closed) await p.publish(t.topic('pi/nobody'), 'x', { qos: 1 });
    if (!p.wire.closed) await p.publish(t.topic('pi/nobody'), 'y', { qos: 2 });
    const bad = p.wire.frames.filter((f) => ![T.PUBLISH, T.CONNACK, T.DISCONNECT].includes(f.type as 3) && (propOf(f.props, PROP.reasonString) !== undefined || propOf(f.props, PROP.userProperty) !== undefined));
    t.expect('quiet', bad.length === 0, `${p.wire.frames.length} packets after Request Problem Information 0: no Reason String or User Property outside PUBLISH, CONNACK, DISCONNECT`, `${bad.length} packet(s) carried a Reason String or User Property: type ${bad.map((f) => f.type).join(',')}`);
  },
});

const responseInfo = defineCase({
  name: 'Request Response Information 0',
  ids: { none: [undefined, 'MQTT-3.1.2-28'] },
  async run(t) {
    const p = await Peer.open(t, 'c', { props: [[PROP.requestResponseInfo, 0]] });
    const info = propOf(p.connack.props, PROP.responseInfo);
    t.expect('none', info === undefined, 'CONNACK carries no Response Information', `CONNACK carries Response Information "${printable(String(info), 40)}" although the client asked for none`);
  },
});

const forwarded = defineCase({
  name: 'message properties forwarded unaltered',
  ids: {
    pfi: [undefined, 'MQTT-3.3.2-4'],
    response: [undefined, 'MQTT-3.3.2-15'],
    correlation: [undefined, 'MQTT-3.3.2-16'],
    userProps: [undefined, 'MQTT-3.3.2-17'],
    userOrder: [undefined, 'MQTT-3.3.2-18'],
    contentType: [undefined, 'MQTT-3.3.2-20'],
  },
  async run(t) {
    const topic = t.topic('props');
    const sub = await Peer.open(t, 'sub');
    await sub.mustSubscribe([{ topic, qos: 1 }]);
    const pub = await Peer.open(t, 'pub');
    const n = nonce(t, 'props');
    const users: [string, string][] = [
      ['b', '2'],
      ['a', '1'],
      ['b', 'ü'],
    ];
    const corr = Buffer.from([0x00, 0xff, 0x10, 0x80]);
    const responseTopic = t.topic('reply');
    const contentType = 'text/gauntlet; charset=utf-8';
    await pub.mustPublish(topic, n, {
      qos: 1,
      props: [[PROP.payloadFormat, 1], [PROP.contentType, contentType], [PROP.responseTopic, responseTopic], [PROP.correlationData, corr], ...users.map((u) => [PROP.userProperty, u] as const)],
    });
    const d = await sub.waitFor((x) => x.text === n);
    if (!d) throw new SetupError('not delivered');
    const got = {
      pfi: propOf(d.props, PROP.payloadFormat),
      ct: propOf(d.props, PROP.contentType),
      rt: propOf(d.props, PROP.responseTopic),
      cd: propOf(d.props, PROP.correlationData) as Buffer | undefined,
      up: propsOf(d.props, PROP.userProperty) as [string, string][],
    };
    t.expect('pfi', got.pfi === 1, 'Payload Format Indicator 1 forwarded', `Payload Format Indicator forwarded as ${got.pfi ?? 'absent'}`);
    t.expect('contentType', got.ct === contentType, 'Content Type forwarded unaltered', `Content Type forwarded as ${JSON.stringify(got.ct)}`);
    t.expect('response', got.rt === responseTopic, 'Response Topic forwarded unaltered', `Response Topic forwarded as ${JSON.stringify(got.rt)}`);
    t.expect('correlation', got.cd !== undefined && got.cd.equals(corr), 'Correlation Data forwarded unaltered', `Correlation Data forwarded as ${got.cd?.toString('hex') ?? 'absent'}`);
    const sameSet = got.up.length === users.length && users.every((u) => got.up.some((g) => g[0] === u[0] && g[1] === u[1]));
    t.expect('userProps', sameSet, 'all three User Properties forwarded unaltered', `User Properties forwarded as ${JSON.stringify(got.up)}`);
    t.expect('userOrder', JSON.stringify(got.up) === JSON.stringify(users), 'User Properties forwarded in their order (b, a, b)', `User Properties forwarded in the order ${JSON.stringify(got.up)}`);
  },
});

const authMethod = defineCase({
  name: 'unsupported Authentication Method',
  ids: { refused: [undefined, 'MQTT-4.12.0-1'] },
  async run(t) {
    const wire = await Peer.openWire(t, 'c', { authMethod: true });
    const cred = t.env.cred;
    wire.send(
      rawConnect({ version: 5, clientId: t.env.clientId(), props: [[PROP.authMethod, 'GAUNTLET-NO-SUCH-METHOD']], ...(cred.username !== undefined ? { username: cred.username } : {}), ...(cred.password !== undefined ? { password: cred.password } : {}) }),
      'CONNECT with Authentication Method "GAUNTLET-NO-SUCH-METHOD"',
    );
    const c = await closing(t, wire, 0);
    const ack = wire.frames.find((f) => f.type === T.CONNACK);
    const auth = wire.frames.find((f) => f.type === T.AUTH);
    if (ack?.code === 0) return t.fail('refused', 'a CONNECT with an unknown Authentication Method was accepted (CONNACK 0x00)');
    if (auth) return t.inconclusive('refused', 'the server answered with AUTH: it claims to know the method');
    t.expect('refused', c.closed, `refused: ${ack ? `CONNACK ${hex(ack.code)}, ` : ''}${c.detail}`, `not accepted but not closed: ${c.detail}`);
  },
});

const shared = defineCase({
  name: 'shared subscriptions',
  ids: { emptyName: [undefined, 'MQTT-4.8.2-1'], badName: [undefined, 'MQTT-4.8.2-2'], qos: [undefined, 'MQTT-4.8.2-3'] },
  async run(t) {
    const topic = t.topic('sh');
    const refused = async (key: 'emptyName' | 'badName', filter: string) => {
      const p = await Peer.open(t, 'bad');
      const since = p.wire.frames.length;
      const ack = await p.subscribe([{ topic: filter, qos: 0 }]);
      if (ack) return t.expect(key, (ack.codes ?? [0])[0]! >= 0x80, `"${printable(filter, 60)}" refused (SUBACK ${hex(ack.codes?.[0])})`, `"${printable(filter, 60)}" granted (SUBACK ${hex(ack.codes?.[0])})`);
      const c = await closing(t, p.wire, since);
      return t.expect(key, c.closed, `"${printable(filter, 60)}" refused: ${c.detail}`, `"${printable(filter, 60)}": no SUBACK and ${c.detail}`);
    };
    await refused('emptyName', `$share//${topic}`);
    await refused('badName', `$share/g+x/${topic}`);
    await refused('badName', `$share/g#x/${topic}`);
    // Two members granted QoS 0: messages published at QoS 1 reach them at QoS 0.
    const group = `$share/g${t.index}${Math.random().toString(36).slice(2, 6)}/${topic}`;
    const a = await Peer.open(t, 'member-a');
    const b = await Peer.open(t, 'member-b');
    const ga = await a.mustSubscribe([{ topic: group, qos: 0 }]);
    await b.mustSubscribe([{ topic: group, qos: 0 }]);
    const pub = await Peer.open(t, 'pub');
    const texts = [1, 2, 3, 4].map((i) => nonce(t, `sh${i}`));
    for (const x of texts) await pub.mustPublish(topic, x, { qos: 1 });
    const got = () => [...a.deliveries, ...b.deliveries].filter((d) => texts.includes(d.text));
    const deadline = Date.now() + t.env.waitMs;
    while (new Set(got().map((d) => d.text)).size < texts.length && Date.now() < deadline) await t.sleep(5);
    await t.settle();
    const ds = got();
    if (ds.length === 0) throw new SetupError('nothing delivered to the shared subscription');
    const granted = ga.codes![0]!;
    t.expect('qos', ds.every((d) => d.qos <= granted), `${ds.length} deliveries to the members, all at QoS ${granted} as granted`, `deliveries at QoS ${ds.map((d) => d.qos).join(',')} to members granted QoS ${granted}`);
  },
});

export const V5_CASES: readonly Case[] = [capabilities, aliasesOut, aliasesIn, receiveMaximum, maximumPacketSize, problemInfo, responseInfo, forwarded, authMethod, shared] as readonly Case[];
