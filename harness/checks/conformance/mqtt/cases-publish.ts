// PUBLISH and its acknowledgements, QoS rules, topic names and matching
// (sections 1.5, 2.3 / 2.2.1, 3.3 to 3.7, 4.3, 4.6, 4.7 of both versions).

import { printable } from '../../../protocols/common/io.js';
import { topicMatches } from '../../policy/mqtt-topics.js';
import { rawAck, rawPublish, T } from './frames.js';
import { closing, leaked, nonce } from './observe.js';
import { Peer } from './peer.js';
import { defineCase, SetupError, type Case, type Trial } from './trial.js';
import type { Wire } from './wire.js';

const hex = (n: number | undefined) => `0x${(n ?? 0).toString(16).padStart(2, '0')}`;

/** A subscriber to everything under the case's topics, and a publisher. */
async function pair(t: Trial<string>, filter: string, qos = 2): Promise<{ sub: Peer; pub: Peer }> {
  const sub = await Peer.open(t, 'sub');
  await sub.mustSubscribe([{ topic: filter, qos }]);
  const pub = await Peer.open(t, 'pub');
  return { sub, pub };
}

const acks = defineCase({
  name: 'PUBLISH acknowledgements by QoS',
  ids: {
    resp: ['MQTT-3.3.4-1', 'MQTT-3.3.4-1'],
    ackId: ['MQTT-2.3.1-6', 'MQTT-2.2.1-5'],
    q1rx: ['MQTT-4.3.2-2', 'MQTT-4.3.2-4'],
    q2rx: ['MQTT-4.3.3-2', 'MQTT-4.3.3-8'],
    comp: ['MQTT-4.3.3-2', 'MQTT-4.3.3-11'],
  },
  async run(t) {
    const p = await Peer.open(t, 'c');
    const topic = t.topic('acks');
    p.wire.send(rawPublish({ version: t.v, topic, qos: 0, payload: 'q0' }), `PUBLISH qos=0 "${printable(topic, 60)}"`);
    await t.settle();
    const q0answer = p.wire.unread().filter((f) => f.type >= T.PUBACK && f.type <= T.PUBCOMP);
    p.wire.send(rawPublish({ version: t.v, topic, qos: 1, id: 0x1234, payload: 'q1' }), 'PUBLISH qos=1 id=4660');
    const puback = await p.wire.take((f) => f.type === T.PUBACK, t.env.waitMs);
    p.wire.send(rawPublish({ version: t.v, topic, qos: 2, id: 0x4321, payload: 'q2' }), 'PUBLISH qos=2 id=17185');
    const pubrec = await p.wire.take((f) => f.type === T.PUBREC, t.env.waitMs);
    p.wire.send(rawAck(T.PUBREL, 0x4321), 'PUBREL id=17185');
    const pubcomp = await p.wire.take((f) => f.type === T.PUBCOMP, t.env.waitMs);

    const problems = [
      ...(q0answer.length ? [`QoS 0 was answered (${q0answer.map((f) => f.type).join(',')})`] : []),
      ...(puback ? [] : ['QoS 1 got no PUBACK']),
      ...(pubrec ? [] : ['QoS 2 got no PUBREC']),
    ];
    t.expect('resp', problems.length === 0, 'QoS 0: no answer; QoS 1: PUBACK; QoS 2: PUBREC', problems.join('; '));
    const wrong = [
      ...(puback && puback.id !== 0x1234 ? [`PUBACK id ${puback.id} for PUBLISH id 4660`] : []),
      ...(pubrec && pubrec.id !== 0x4321 ? [`PUBREC id ${pubrec.id} for PUBLISH id 17185`] : []),
    ];
    if (!puback && !pubrec) t.inconclusive('ackId', 'no PUBACK or PUBREC came');
    else t.expect('ackId', wrong.length === 0, 'PUBACK and PUBREC carry the PUBLISH identifiers', wrong.join('; '));
    if (puback) t.expect('q1rx', puback.id === 0x1234 && (puback.code ?? 0) < 0x80, 'PUBACK id=4660 (success)', `PUBACK id=${puback.id} reason ${hex(puback.code)} to PUBLISH id=4660`);
    else t.fail('q1rx', `no PUBACK to a QoS 1 PUBLISH within ${t.env.waitMs}ms`);
    if (pubrec) t.expect('q2rx', pubrec.id === 0x4321 && (pubrec.code ?? 0) < 0x80, 'PUBREC id=17185 (success)', `PUBREC id=${pubrec.id} reason ${hex(pubrec.code)} to PUBLISH id=17185`);
    else t.fail('q2rx', `no PUBREC to a QoS 2 PUBLISH within ${t.env.waitMs}ms`);
    if (pubcomp) t.expect('comp', pubcomp.id === 0x4321, 'PUBCOMP id=17185 to PUBREL id=17185', `PUBCOMP id=${pubcomp.id} to PUBREL id=17185`);
    else t.fail('comp', `no PUBCOMP to PUBREL within ${t.env.waitMs}ms`);
  },
});

const idReuse = defineCase({
  name: 'identifier free again after the handshake',
  ids: { q1new: ['MQTT-4.3.2-2', 'MQTT-4.3.2-5'], q2new: ['MQTT-4.3.3-2', 'MQTT-4.3.3-12'] },
  async run(t) {
    const topic = t.topic('reuse');
    const { sub, pub } = await pair(t, topic, 2);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => nonce(t, `reuse-${x}`)) as [string, string, string, string];
    const r1 = await pub.publish(topic, a, { qos: 1, id: 7 });
    const r2 = await pub.publish(topic, b, { qos: 1, id: 7, dup: true });
    if (!r1.ack || !r2.ack) throw new SetupError('a QoS 1 PUBLISH got no PUBACK');
    const gotB = await sub.waitFor((x) => x.text === b);
    const gotA = sub.got(a).length > 0;
    t.expect('q1new', gotA && gotB !== undefined, 'after PUBACK, a PUBLISH with the same identifier (even DUP 1) was delivered as a new message', `after PUBACK id 7, the next PUBLISH with id 7 and DUP 1 was ${gotB ? '' : 'not '}delivered (the first ${gotA ? 'was' : 'was not'})`);
    const r3 = await pub.publish(topic, c, { qos: 2, id: 9 });
    const r4 = await pub.publish(topic, d, { qos: 2, id: 9 });
    if (!r3.comp || !r4.comp) throw new SetupError('a QoS 2 PUBLISH did not complete (no PUBREC or PUBCOMP)');
    const gotD = await sub.waitFor((x) => x.text === d);
    t.expect('q2new', gotD !== undefined && sub.got(c).length > 0, 'after PUBCOMP, a PUBLISH with the same identifier was delivered as a new message', 'after PUBCOMP id 9, a new QoS 2 PUBLISH with id 9 was not delivered');
  },
});

/** A raw PUBLISH that breaks a rule: must close the connection and deliver nothing. */
async function refusedPublish(t: Trial<string>, what: string, topicBytes: Buffer | string, qos = 0, first?: (b: Buffer) => Buffer): Promise<{ closed: boolean; detail: string; delivered: boolean; wire: Wire }> {
  const watchFilter = t.topic('#');
  const watch = await Peer.open(t, 'watch');
  await watch.mustSubscribe([{ topic: watchFilter, qos: 1 }]);
  const p = await Peer.open(t, 'bad');
  const n = nonce(t, 'refused');
  let bytes = rawPublish({ version: t.v, topic: topicBytes, qos: qos & 3, id: qos > 0 ? 1 : undefined, payload: n });
  if (first) bytes = first(bytes);
  const since = p.wire.frames.length;
  p.wire.send(bytes, what);
  const c = await closing(t, p.wire, since);
  const delivered = await leaked(t, watch, n);
  return { ...c, delivered, wire: p.wire };
}

const qos3 = defineCase({
  name: 'PUBLISH with QoS 3',
  ids: { q3: ['MQTT-3.3.1-4', 'MQTT-3.3.1-4'] },
  async run(t) {
    const topic = t.topic('q3');
    const r = await refusedPublish(t, `PUBLISH with both QoS bits set "${printable(topic, 60)}"`, topic, 1, (b) => Buffer.concat([Buffer.from([b[0]! | 0x06]), b.subarray(1)]));
    if (r.delivered) return t.fail('q3', `a PUBLISH with QoS 3 was delivered to a subscriber (${r.detail})`);
    t.expect('q3', r.closed, `closed: ${r.detail}`, `a PUBLISH with QoS 3 did not close the connection: ${r.detail}`);
  },
});

const dupNotPropagated = defineCase({
  name: 'incoming DUP not propagated',
  ids: { dup: ['MQTT-3.3.1-3', 'MQTT-3.3.1-3'] },
  async run(t) {
    const topic = t.topic('dup');
    const { sub, pub } = await pair(t, topic, 1);
    const n = nonce(t, 'dup');
    const r = await pub.publish(topic, n, { qos: 1, dup: true });
    if (!r.ack) throw new SetupError('no PUBACK');
    const d = await sub.waitFor((x) => x.text === n);
    if (!d) throw new SetupError('the message was not delivered to the subscriber');
    t.expect('dup', !d.dup, 'a PUBLISH received with DUP 1 was forwarded with DUP 0 (first transmission)', 'a PUBLISH received with DUP 1 was forwarded with DUP 1 on its first transmission');
  },
});

const qos0Delivery = defineCase({
  name: 'QoS 0 delivery',
  ids: { dup0: ['MQTT-3.3.1-2', 'MQTT-3.3.1-2'], noId: ['MQTT-2.3.1-5', 'MQTT-2.2.1-2'], q0: ['MQTT-4.3.1-1', 'MQTT-4.3.1-1'] },
  async run(t) {
    const topic = t.topic('q0');
    const { sub, pub } = await pair(t, topic, 2);
    const n = nonce(t, 'q0');
    await pub.publish(topic, n, { qos: 0 });
    const d = await sub.waitFor((x) => x.text === n || x.text.endsWith(n));
    if (!d) throw new SetupError('the QoS 0 message was not delivered');
    t.expect('dup0', !d.dup, 'QoS 0 delivery has DUP 0', 'QoS 0 delivery has DUP 1');
    t.expect('noId', d.text === n && d.id === undefined, 'the QoS 0 delivery carries no packet identifier (payload intact)', `the QoS 0 delivery's payload has ${d.payload.length - Buffer.byteLength(n)} extra bytes before the message: a packet identifier?`);
    t.expect('q0', d.qos === 0 && !d.dup, 'QoS 0 message sent as QoS 0, DUP 0 (to a QoS 2 subscription)', `QoS 0 message sent as QoS ${d.qos} DUP ${d.dup ? 1 : 0}`);
  },
});

const qos1Delivery = defineCase({
  name: 'QoS 1 delivery',
  ids: { nonZero: ['MQTT-2.3.1-1', 'MQTT-2.2.1-4'], send: ['MQTT-4.3.2-1', 'MQTT-4.3.2-1'], flags: [undefined, 'MQTT-4.3.2-2'] },
  async run(t) {
    const topic = t.topic('q1');
    const sub = await Peer.open(t, 'sub', { ack: 'manual' });
    await sub.mustSubscribe([{ topic, qos: 1 }]);
    const pub = await Peer.open(t, 'pub');
    const texts = [1, 2, 3].map((i) => nonce(t, `q1-${i}`));
    for (const x of texts) await pub.mustPublish(topic, x, { qos: 1 });
    for (const x of texts) await sub.waitFor((d) => d.text === x);
    const ds = texts.map((x) => sub.got(x)[0]);
    if (ds.some((d) => !d)) throw new SetupError(`only ${ds.filter(Boolean).length} of 3 QoS 1 messages were delivered while unacknowledged`);
    const ids = ds.map((d) => d!.id ?? 0);
    const distinct = new Set(ids).size === ids.length;
    t.expect('nonZero', ids.every((i) => i !== 0) && distinct, `three unacknowledged QoS 1 deliveries with ids ${ids.join(', ')}`, `unacknowledged QoS 1 deliveries with ids ${ids.join(', ')}: ${ids.includes(0) ? 'zero' : 'an id in use reused'}`);
    const flagsOk = ds.every((d) => d!.qos === 1 && !d!.dup);
    t.expect('send', ids.every((i) => i !== 0) && distinct && flagsOk, 'each QoS 1 delivery: a fresh identifier, QoS 1, DUP 0', `QoS 1 deliveries: ids ${ids.join(', ')}, ${ds.map((d) => `qos ${d!.qos} dup ${d!.dup ? 1 : 0}`).join('; ')}`);
    t.expect('flags', flagsOk, 'sent with QoS 1 and DUP 0', `sent as ${ds.map((d) => `qos ${d!.qos} dup ${d!.dup ? 1 : 0}`).join('; ')}`);
    for (const d of ds) sub.ackPublish(d!);
  },
});

const downgrade = defineCase({
  name: 'delivery QoS = min(published, granted)',
  ids: { min: ['MQTT-3.8.4-6', 'MQTT-3.8.4-8'] },
  async run(t) {
    const cases: readonly { topic: string; sub: number; pub: number }[] = [
      { topic: t.topic('min/a'), sub: 1, pub: 2 },
      { topic: t.topic('min/b'), sub: 0, pub: 1 },
      { topic: t.topic('min/c'), sub: 2, pub: 0 },
    ];
    const sub = await Peer.open(t, 'sub');
    const ack = await sub.mustSubscribe(cases.map((c) => ({ topic: c.topic, qos: c.sub })));
    const pub = await Peer.open(t, 'pub');
    const seen: string[] = [];
    let ok = true;
    for (const [i, c] of cases.entries()) {
      const granted = ack.codes![i]!;
      const n = nonce(t, `min-${i}`);
      await pub.mustPublish(c.topic, n, { qos: c.pub });
      const d = await sub.waitFor((x) => x.text === n);
      if (!d) throw new SetupError(`message published at QoS ${c.pub} not delivered`);
      const want = Math.min(c.pub, granted);
      if (d.qos !== want) ok = false;
      seen.push(`published ${c.pub}, granted ${granted}: delivered at ${d.qos} (expected ${want})`);
    }
    t.expect('min', ok, seen.join('; '), seen.join('; '));
  },
});

const overlap = defineCase({
  name: 'overlapping subscriptions',
  ids: { max: ['MQTT-3.3.5-1', 'MQTT-3.3.4-2'] },
  async run(t) {
    const topic = t.topic('ov/x');
    const sub = await Peer.open(t, 'sub');
    const a = await sub.mustSubscribe([{ topic: t.topic('ov/#'), qos: 0 }]);
    const b = await sub.mustSubscribe([{ topic, qos: 1 }]);
    const pub = await Peer.open(t, 'pub');
    const n = nonce(t, 'overlap');
    await pub.mustPublish(topic, n, { qos: 1 });
    await sub.waitFor((x) => x.text === n);
    await t.settle();
    const copies = sub.got(n);
    const want = Math.min(1, Math.max(a.codes![0]!, b.codes![0]!));
    if (copies.length === 0) throw new SetupError('not delivered');
    t.expect('max', copies.some((c) => c.qos === want), `${copies.length} cop${copies.length === 1 ? 'y' : 'ies'}, at QoS ${copies.map((c) => c.qos).join(', ')} (the highest matching subscription: ${want})`, `copies at QoS ${copies.map((c) => c.qos).join(', ')}; none at ${want}, the highest of the matching subscriptions`);
  },
});

const wildcardTopic = defineCase({
  name: 'wildcard in a topic name',
  ids: { wild: ['MQTT-3.3.2-2', 'MQTT-3.3.2-2'], violation: ['MQTT-4.8.0-1', undefined] },
  async run(t) {
    for (const w of ['+', '#']) {
      const topic = `${t.topic('wild')}/${w}`;
      const r = await refusedPublish(t, `PUBLISH to "${printable(topic, 60)}" at QoS 1`, topic, 1);
      const puback = r.wire.frames.find((f) => f.type === T.PUBACK);
      if (r.delivered) {
        t.fail('wild', `a PUBLISH to "${topic}" was delivered to a subscriber`);
        continue;
      }
      if (t.v === 5) {
        const refused = r.closed || (puback !== undefined && (puback.code ?? 0) >= 0x80);
        t.expect('wild', refused, `"${w}" in a topic name refused: ${puback ? `PUBACK ${hex(puback.code)}, ` : ''}${r.detail}`, `"${w}" in a topic name was accepted (${puback ? `PUBACK ${hex(puback.code)}` : 'no refusal'}, not delivered): ${r.detail}`);
      } else {
        t.pass('wild', `"${w}" in a topic name: not delivered`);
        t.expect('violation', r.closed, `"${w}" in a topic name closed the connection: ${r.detail}`, `"${w}" in a topic name (a protocol violation) did not close the connection: ${puback ? 'PUBACK sent, ' : ''}${r.detail}`);
      }
    }
  },
});

const badUtf8 = defineCase({
  name: 'ill-formed UTF-8 topic',
  ids: { utf8: ['MQTT-1.5.3-1', 'MQTT-1.5.4-1'] },
  async run(t) {
    const variants: readonly [string, Buffer][] = [
      ['an encoded surrogate (ED A0 80)', Buffer.from([0xed, 0xa0, 0x80])],
      ['a lone 0xFF byte', Buffer.from([0xff])],
    ];
    for (const [what, bad] of variants) {
      const topic = Buffer.concat([Buffer.from(`${t.topic('utf8')}/`), bad]);
      const r = await refusedPublish(t, `PUBLISH whose topic holds ${what}`, topic, 0);
      if (r.delivered) t.fail('utf8', `a topic with ${what} was delivered`);
      else t.expect('utf8', r.closed, `${what}: ${r.detail}`, `a topic with ${what} did not close the connection: ${r.detail}`);
    }
  },
});

const nulTopic = defineCase({
  name: 'U+0000 in a topic name',
  ids: { nul: ['MQTT-4.7.3-2', 'MQTT-4.7.3-2'], nulStr: ['MQTT-1.5.3-2', 'MQTT-1.5.4-2'] },
  async run(t) {
    const topic = `${t.topic('nul')}/a\u0000b`;
    const r = await refusedPublish(t, 'PUBLISH whose topic holds U+0000', topic, 0);
    if (r.delivered) {
      t.fail('nul', 'a topic name with U+0000 was delivered');
      t.fail('nulStr', 'a PUBLISH with U+0000 in its topic was delivered');
      return;
    }
    t.expect('nul', r.closed, `closed: ${r.detail}`, `a topic name with U+0000 did not close the connection: ${r.detail}`);
    t.expect('nulStr', r.closed, `closed: ${r.detail}`, `a string with U+0000 did not close the connection: ${r.detail}`);
  },
});

const bom = defineCase({
  name: 'U+FEFF kept in topics',
  ids: { bom: ['MQTT-1.5.3-3', 'MQTT-1.5.4-3'] },
  async run(t) {
    const plain = t.topic('bom/x');
    const withBom = `${t.topic('bom')}/\ufeffx`;
    const sub = await Peer.open(t, 'sub');
    await sub.mustSubscribe([{ topic: t.topic('bom/#'), qos: 1 }]);
    const exact = await Peer.open(t, 'exact');
    await exact.mustSubscribe([{ topic: plain, qos: 1 }]);
    const pub = await Peer.open(t, 'pub');
    const n = nonce(t, 'bom');
    await pub.mustPublish(withBom, n, { qos: 1 });
    const d = await sub.waitFor((x) => x.text === n);
    if (!d) throw new SetupError('a message on a topic with U+FEFF was not delivered to the wildcard subscriber');
    const kept = d.topicBytes.equals(Buffer.from(withBom, 'utf8'));
    const stripped = await leaked(t, exact, n);
    t.expect('bom', kept && !stripped, 'the topic arrived with its EF BB BF bytes and did not match the filter without them', kept ? 'the topic with U+FEFF matched a filter without it (stripped in matching)' : `the topic arrived as ${d.topicBytes.toString('hex')} instead of ${Buffer.from(withBom).toString('hex')}`);
  },
});

const emptyTopic = defineCase({
  name: 'empty topic name and filter',
  ids: { empty: ['MQTT-4.7.3-1', 'MQTT-4.7.3-1'] },
  async run(t) {
    const p = await Peer.open(t, 'pub');
    const since = p.wire.frames.length;
    p.wire.send(rawPublish({ version: t.v, topic: '', qos: 1, id: 1, payload: 'empty' }), 'PUBLISH to the empty topic name (no alias)');
    const c = await closing(t, p.wire, since);
    const puback = p.wire.frames.slice(since).find((f) => f.type === T.PUBACK);
    const refused = c.closed || (t.v === 5 && puback !== undefined && (puback.code ?? 0) >= 0x80);
    t.expect('empty', refused, `empty topic name refused: ${c.detail}`, `a PUBLISH to the empty topic name was accepted: ${puback ? `PUBACK ${hex(puback.code)}, ` : ''}${c.detail}`);
    const s = await Peer.open(t, 'sub');
    const since2 = s.wire.frames.length;
    const ack = await s.subscribe(['']);
    const c2 = ack ? undefined : await closing(t, s.wire, since2);
    const ok = ack ? (ack.codes ?? []).every((x) => x >= 0x80) : (c2?.closed ?? false);
    t.expect('empty', ok, `empty topic filter refused: ${ack ? `SUBACK ${ack.codes?.map(hex).join(',')}` : c2!.detail}`, `an empty topic filter was ${ack ? `granted (SUBACK ${ack.codes?.map(hex).join(',')})` : `neither refused nor closed: ${c2!.detail}`}`);
  },
});

const matching = defineCase({
  name: 'topic matching',
  ids: { match: ['MQTT-3.3.2-3', 'MQTT-3.3.2-3'] },
  async run(t) {
    const filters = [t.topic('m/a/+'), t.topic('m/b/#')];
    const topics = ['m/a/x', 'm/a/x/y', 'm/a', 'm/b', 'm/b/c/d', 'm/c', 'm/ab/x'].map((x) => t.topic(x));
    const sub = await Peer.open(t, 'sub');
    await sub.mustSubscribe(filters.map((f) => ({ topic: f, qos: 1 })));
    const pub = await Peer.open(t, 'pub');
    const sent = topics.map((topic, i) => ({ topic, n: nonce(t, `m${i}`), should: filters.some((f) => topicMatches(f, topic)) }));
    for (const s of sent) await pub.mustPublish(s.topic, s.n, { qos: 1 });
    for (const s of sent.filter((x) => x.should)) await sub.waitFor((d) => d.text === s.n);
    await t.settle();
    const wrong = sub.deliveries.filter((d) => !filters.some((f) => topicMatches(f, d.topic))).map((d) => d.topic);
    const missing = sent.filter((s) => s.should && sub.got(s.n).length === 0).map((s) => s.topic);
    t.expect(
      'match',
      wrong.length === 0 && missing.length === 0,
      `${sent.filter((s) => s.should).length} matching topics delivered, ${sent.filter((s) => !s.should).length} others not (filters ${filters.map((f) => `"${f.slice(t.topic('').length)}"`).join(', ')}, '#' also matching its parent)`,
      [...(wrong.length ? [`delivered without a matching filter: ${wrong.join(', ')}`] : []), ...(missing.length ? [`matching but not delivered: ${missing.join(', ')}`] : [])].join('; '),
    );
  },
});

const normalise = defineCase({
  name: 'no normalisation in matching',
  ids: { norm: ['MQTT-4.7.3-4', 'MQTT-4.7.3-4'] },
  async run(t) {
    const nfc = t.topic('n/caf\u00e9');
    const nfd = t.topic('n/cafe\u0301');
    const upper = t.topic('n/Case');
    const lower = t.topic('n/case');
    const sub = await Peer.open(t, 'sub');
    await sub.mustSubscribe([{ topic: nfc, qos: 1 }, { topic: upper, qos: 1 }]);
    const pub = await Peer.open(t, 'pub');
    const probes = [
      { topic: nfd, n: nonce(t, 'nfd'), should: false, what: 'decomposed é for a precomposed filter' },
      { topic: lower, n: nonce(t, 'lower'), should: false, what: 'lower case for an upper-case filter' },
      { topic: nfc, n: nonce(t, 'nfc'), should: true, what: 'the exact topic' },
    ];
    for (const p of probes) await pub.mustPublish(p.topic, p.n, { qos: 1 });
    await sub.waitFor((d) => d.text === probes[2]!.n);
    await t.settle();
    const bad = probes.filter((p) => (sub.got(p.n).length > 0) !== p.should);
    t.expect('norm', bad.length === 0, 'only the byte-identical topic matched (no Unicode normalisation, no case folding)', bad.map((p) => `${p.what}: ${p.should ? 'not delivered' : 'delivered'}`).join('; '));
  },
});

const dollar = defineCase({
  name: "wildcards and '$' topics",
  ids: { dollar: ['MQTT-4.7.2-1', 'MQTT-4.7.2-1'] },
  async run(t) {
    if (!t.env.rootRead) return t.skip('dollar', "the principal is not declared to subscribe '#'");
    const wild = await Peer.open(t, 'wild');
    const wildAck = await wild.subscribe([{ topic: '#', qos: 0 }, { topic: '+/+/#', qos: 0 }]);
    const explicit = await Peer.open(t, 'explicit');
    const explAck = await explicit.subscribe([{ topic: '$SYS/#', qos: 0 }, { topic: '$gauntlet/#', qos: 0 }]);
    if (!wildAck || (wildAck.codes ?? []).some((c) => c >= 0x80)) return t.inconclusive('dollar', `the wildcard subscriptions were not granted (${JSON.stringify(wildAck?.codes)})`);
    // Something on a '$' topic: our own publish (when allowed), the broker's $SYS (a new connection makes some brokers publish there).
    const pub = await Peer.open(t, 'pub');
    const n = nonce(t, 'dollar');
    await pub.publish(`$gauntlet/${t.topic('d').replace(/\//g, '-')}`, n, { qos: 1 });
    const extra = await Peer.open(t, 'extra');
    extra.disconnect();
    await explicit.waitFor((d) => d.topic.startsWith('$'), Math.max(t.env.waitMs, 1000));
    await t.settle(2);
    const leakedTopics = wild.deliveries.filter((d) => d.topic.startsWith('$')).map((d) => d.topic);
    const seen = explicit.deliveries.filter((d) => d.topic.startsWith('$'));
    if (leakedTopics.length) return t.fail('dollar', `subscriptions "#" / "+/+/#" received ${leakedTopics.length} message(s) on '$' topics, e.g. "${printable(leakedTopics[0]!, 60)}"`);
    if (seen.length === 0) return t.inconclusive('dollar', `no message on a '$' topic reached the explicit subscriber (SUBACK ${JSON.stringify(explAck?.codes)}): nothing to observe`);
    t.pass('dollar', `${seen.length} message(s) on '$' topics (e.g. "${printable(seen[0]!.topic, 50)}") reached "$SYS/#" / "$gauntlet/#" but not "#" or "+/+/#"`);
  },
});

const unauthorised = defineCase({
  name: 'unauthorised PUBLISH',
  ids: { unauth: ['MQTT-3.3.5-2', undefined] },
  async run(t) {
    const r = t.env.restricted;
    if (!r) return t.skip('unauth', 'needs a second principal with declared publish rules and a topic they exclude');
    const p = await Peer.open(t, 'restricted', { cred: r.cred });
    const since = p.wire.frames.length;
    p.wire.send(rawPublish({ version: t.v, topic: r.topic, qos: 1, id: 0x77, payload: nonce(t, 'unauth') }), `PUBLISH qos=1 id=119 as ${r.name} to "${printable(r.topic, 60)}" (declared not allowed)`);
    const ack = await p.wire.take((f) => f.type === T.PUBACK, t.env.waitMs);
    if (ack) return t.expect('unauth', ack.id === 0x77, `acknowledged (PUBACK id=119), as the QoS rules require`, `PUBACK id=${ack.id} to PUBLISH id=119`);
    const c = await closing(t, p.wire, since);
    t.expect('unauth', c.closed, `connection closed: ${c.detail}`, `neither a PUBACK nor a close: ${c.detail}`);
  },
});

const ordering = defineCase({
  name: 'ordered topic',
  ids: { order: ['MQTT-4.6.0-6', 'MQTT-4.6.0-6'] },
  async run(t) {
    const topic = t.topic('order');
    const { sub, pub } = await pair(t, topic, 1);
    for (const qos of [1, 0]) {
      const texts = Array.from({ length: 12 }, (_, i) => `${nonce(t, `o${qos}`)}-${String(i).padStart(2, '0')}`);
      // Pipelined: no wait between PUBLISH packets.
      for (const [i, x] of texts.entries()) pub.wire.send(rawPublish({ version: t.v, topic, qos, id: qos ? 100 + i : undefined, payload: x }), `PUBLISH qos=${qos} #${i}`);
      await sub.waitFor((d) => d.text === texts.at(-1));
      await t.settle();
      const order = sub.deliveries.filter((d) => texts.includes(d.text) && d.qos === qos).map((d) => texts.indexOf(d.text));
      const inOrder = order.every((x, i) => i === 0 || x > order[i - 1]!);
      if (order.length === 0) throw new SetupError(`no QoS ${qos} message delivered`);
      t.expect('order', inOrder, `${order.length} QoS ${qos} messages delivered in publish order`, `QoS ${qos} messages delivered in the order ${order.join(',')}`);
    }
  },
});

const pubrelFlags = defineCase({
  name: 'PUBREL reserved flags',
  ids: { rel: ['MQTT-3.6.1-1', 'MQTT-3.6.1-1'] },
  async run(t) {
    const p = await Peer.open(t, 'c');
    const r = await p.publish(t.topic('rel'), 'x', { qos: 2, id: 0x51, complete: false });
    if (!r.ack) throw new SetupError('no PUBREC');
    const since = p.wire.frames.length;
    p.wire.send(rawAck(T.PUBREL, 0x51, undefined, 0x60), 'PUBREL id=81 with fixed-header flags 0000 (must be 0010)');
    const c = await closing(t, p.wire, since);
    const comp = p.wire.frames.slice(since).some((f) => f.type === T.PUBCOMP);
    t.expect('rel', c.closed && !comp, `closed: ${c.detail}`, `a PUBREL with flags 0000 ${comp ? 'was answered with PUBCOMP' : 'did not close the connection'}: ${c.detail}`);
  },
});

export const PUBLISH_CASES: readonly Case[] = [
  acks,
  idReuse,
  qos3,
  dupNotPropagated,
  qos0Delivery,
  qos1Delivery,
  downgrade,
  overlap,
  wildcardTopic,
  badUtf8,
  nulTopic,
  bom,
  emptyTopic,
  matching,
  normalise,
  dollar,
  unauthorised,
  ordering,
  pubrelFlags,
] as readonly Case[];
