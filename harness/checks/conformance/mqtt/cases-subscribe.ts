// SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, topic filter rules and
// the v5 subscription options (3.8 to 3.12, 4.7.1 of both versions).

import { printable } from '../../../protocols/common/io.js';
import { PROP, propsOf, rawPublish, rawSubscribe, rawUnsubscribe, T } from './frames.js';
import { closing, leaked, nonce } from './observe.js';
import { Peer } from './peer.js';
import { defineCase, SetupError, type Case, type Trial } from './trial.js';

const hex = (n: number | undefined) => `0x${(n ?? 0).toString(16).padStart(2, '0')}`;
const codesText = (c: readonly number[] | undefined) => `[${(c ?? []).map(hex).join(',')}]`;

const subackShape = defineCase({
  name: 'SUBACK for several filters',
  ids: {
    answered: ['MQTT-3.8.4-1', 'MQTT-3.8.4-1'],
    sameId: ['MQTT-3.8.4-2', 'MQTT-3.8.4-2'],
    ackId: ['MQTT-2.3.1-7', 'MQTT-2.2.1-6'],
    sequence: ['MQTT-3.8.4-4', 'MQTT-3.8.4-5'],
    perFilter: ['MQTT-3.8.4-5', 'MQTT-3.8.4-6'],
    granted: ['MQTT-3.8.4-5', 'MQTT-3.8.4-7'],
    order: ['MQTT-3.9.3-1', 'MQTT-3.9.3-1'],
  },
  async run(t) {
    const topics = ['s/a', 's/b', 's/c'].map((x) => t.topic(x));
    const requested = [0, 2, 1];
    const sub = await Peer.open(t, 'sub');
    sub.wire.send(rawSubscribe(t.v, 0x2a2a, topics.map((topic, i) => ({ topic, options: requested[i]! }))), `SUBSCRIBE id=10794 ${topics.map((x, i) => `"${printable(x, 40)}" q${requested[i]}`).join(', ')}`);
    const ack = await sub.wire.take((f) => f.type === T.SUBACK, t.env.waitMs);
    if (!ack) {
      t.fail('answered', `no SUBACK within ${t.env.waitMs}ms`);
      return;
    }
    t.pass('answered', 'SUBACK received');
    t.expect('sameId', ack.id === 0x2a2a, 'SUBACK id=10794 as the SUBSCRIBE', `SUBACK id=${ack.id} for SUBSCRIBE id=10794`);
    t.expect('ackId', ack.id === 0x2a2a, 'SUBACK id matches', `SUBACK id=${ack.id} for SUBSCRIBE id=10794`);
    const codes = ack.codes ?? [];
    const extra = await sub.wire.take((f) => f.type === T.SUBACK, t.env.settleMs);
    if (!t.expect('perFilter', codes.length === 3 && !extra, `one SUBACK with 3 codes ${codesText(codes)}`, `${extra ? 'more than one SUBACK' : `${codes.length} codes`} for 3 filters ${codesText(codes)}`)) return;
    const valid = codes.every((c, i) => c >= 0x80 || c <= requested[i]!);
    t.expect('granted', valid, `each code is a granted QoS at most the requested one, or a failure: ${codesText(codes)} for requested [0,2,1]`, `codes ${codesText(codes)} for requested QoS [0,2,1]: a code above the requested QoS`);
    t.expect('order', valid, `codes in filter order ${codesText(codes)} for requested [0,2,1]`, `codes ${codesText(codes)} cannot be in filter order for requested QoS [0,2,1]`);
    // Each filter is a subscription of its own: a message on each arrives at min(2, granted).
    const pub = await Peer.open(t, 'pub');
    const problems: string[] = [];
    for (const [i, topic] of topics.entries()) {
      if (codes[i]! >= 0x80) continue;
      const n = nonce(t, `s${i}`);
      await pub.mustPublish(topic, n, { qos: 2 });
      const d = await sub.waitFor((x) => x.text === n);
      if (!d) problems.push(`nothing delivered on filter ${i + 1}`);
      else if (d.qos !== codes[i]) problems.push(`filter ${i + 1} granted ${codes[i]} delivered at QoS ${d.qos}`);
    }
    t.expect('sequence', problems.length === 0, 'every filter of the one SUBSCRIBE became a subscription at its own granted QoS', problems.join('; '));
  },
});

const subackCodes = defineCase({
  name: 'SUBACK codes for refused filters',
  ids: { codes: ['MQTT-3.9.3-2', 'MQTT-3.9.3-2'] },
  async run(t) {
    // Every SUBACK of the run is judged passively; this adds one with a refused, valid filter when the principal has one.
    const sub = await Peer.open(t, 'sub');
    const ack = await sub.subscribe([{ topic: t.topic('codes'), qos: 2 }]);
    if (!ack) throw new SetupError('no SUBACK');
    const allowed = t.v === 4 ? [0, 1, 2, 0x80] : [0, 1, 2, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2];
    t.expect('codes', (ack.codes ?? []).every((c) => allowed.includes(c)), `SUBACK codes ${codesText(ack.codes)}`, `SUBACK code(s) ${codesText(ack.codes)} outside the allowed set`);
  },
});

/** One malformed packet on a fresh accepted connection: it must be closed. */
async function mustClose(t: Trial<string>, key: string, what: string, bytes: Buffer, forbidden: number[] = []): Promise<void> {
  const p = await Peer.open(t, 'c');
  const since = p.wire.frames.length;
  p.wire.send(bytes, what);
  const c = await closing(t, p.wire, since);
  const answered = p.wire.frames.slice(since).filter((f) => forbidden.includes(f.type));
  const ok = c.closed && answered.length === 0;
  t.expect(key, ok, `${what}: ${c.detail}`, `${what} did not close the connection${answered.length ? ' (it was answered)' : ''}: ${c.detail}`);
}

const subscribeFlags = defineCase({
  name: 'SUBSCRIBE reserved flags',
  ids: { flags: ['MQTT-3.8.1-1', 'MQTT-3.8.1-1'] },
  async run(t) {
    await mustClose(t, 'flags', 'SUBSCRIBE with fixed-header flags 0000 (must be 0010)', rawSubscribe(t.v, 3, [{ topic: t.topic('f'), options: 0 }], { first: 0x80 }), [T.SUBACK]);
  },
});

const subscribeEmpty = defineCase({
  name: 'SUBSCRIBE without filters',
  ids: { empty: ['MQTT-3.8.3-3', undefined] },
  async run(t) {
    await mustClose(t, 'empty', 'SUBSCRIBE with no topic filter', rawSubscribe(t.v, 4, []), [T.SUBACK]);
  },
});

const subscribeOptions = defineCase({
  name: 'SUBSCRIBE reserved option bits',
  ids: { opts: ['MQTT-3.8.3-4', 'MQTT-3.8.3-5'] },
  async run(t) {
    const variants: readonly [string, number][] = t.v === 4
      ? [
          ['reserved bit 2 set in the QoS byte', 0x04],
          ['QoS 3 requested', 0x03],
        ]
      : [['reserved bits 7-6 set in the subscription options', 0xc0]];
    for (const [what, options] of variants) await mustClose(t, 'opts', `SUBSCRIBE with ${what}`, rawSubscribe(t.v, 5, [{ topic: t.topic('o'), options }]), [T.SUBACK]);
  },
});

const invalidFilters = defineCase({
  name: 'invalid topic filters',
  ids: { hash: ['MQTT-4.7.1-2', 'MQTT-4.7.1-1'], plus: ['MQTT-4.7.1-3', 'MQTT-4.7.1-2'] },
  async run(t) {
    const variants: readonly ['hash' | 'plus', string][] = [
      ['hash', `${t.topic('x')}/#/y`],
      ['hash', `${t.topic('x')}/a#`],
      ['plus', `${t.topic('x')}/a+`],
      ['plus', `${t.topic('x')}/+b/c`],
    ];
    for (const [key, filter] of variants) {
      const p = await Peer.open(t, 'c');
      const since = p.wire.frames.length;
      const ack = await p.subscribe([{ topic: filter, qos: 0 }]);
      const shown = `"${printable(filter.slice(t.topic('').length), 40)}"`;
      if (ack) {
        const refused = (ack.codes ?? []).length === 1 && ack.codes![0]! >= 0x80;
        t.expect(key, refused, `filter ${shown} refused with SUBACK ${codesText(ack.codes)}`, `invalid filter ${shown} granted: SUBACK ${codesText(ack.codes)}`);
        continue;
      }
      const c = await closing(t, p.wire, since);
      t.expect(key, c.closed, `filter ${shown} refused: ${c.detail}`, `invalid filter ${shown}: no SUBACK and ${c.detail}`);
    }
  },
});

const nulFilter = defineCase({
  name: 'U+0000 in a topic filter',
  ids: { nul: ['MQTT-1.5.3-2', 'MQTT-1.5.4-2'] },
  async run(t) {
    await mustClose(t, 'nul', 'SUBSCRIBE to a filter holding U+0000', rawSubscribe(t.v, 6, [{ topic: `${t.topic('z')}/a\u0000b`, options: 0 }]), [T.SUBACK]);
  },
});

const unsubscribe = defineCase({
  name: 'UNSUBSCRIBE',
  ids: {
    exact: ['MQTT-3.10.4-1', 'MQTT-3.10.4-1'],
    stops: ['MQTT-3.10.4-2', 'MQTT-3.10.4-2'],
    answered: ['MQTT-3.10.4-4', 'MQTT-3.10.4-4'],
    noMatch: ['MQTT-3.10.4-5', 'MQTT-3.10.4-5'],
    ackId: ['MQTT-2.3.1-7', 'MQTT-2.2.1-6'],
  },
  async run(t) {
    const filter = t.topic('u/+');
    const topic = t.topic('u/x');
    const sub = await Peer.open(t, 'sub');
    await sub.mustSubscribe([{ topic: filter, qos: 1 }]);
    const pub = await Peer.open(t, 'pub');
    // A filter that matches the same topics but is not the same string.
    const u1 = await sub.unsubscribe([t.topic('u/#')], 0x3131);
    t.expect('noMatch', u1 !== undefined, 'UNSUBACK sent although no subscription matched exactly', 'no UNSUBACK to an UNSUBSCRIBE that deleted nothing');
    if (u1) t.expect('ackId', u1.id === 0x3131, 'UNSUBACK id matches', `UNSUBACK id=${u1.id} for UNSUBSCRIBE id=12593`);
    const n1 = nonce(t, 'still');
    await pub.mustPublish(topic, n1, { qos: 1 });
    const still = await sub.waitFor((d) => d.text === n1);
    t.expect('exact', still !== undefined, 'unsubscribing "u/#" left the "u/+" subscription in place', 'unsubscribing "u/#" deleted the "u/+" subscription: filters were not compared character by character');
    const u2 = await sub.unsubscribe([filter], 0x3232);
    t.expect('answered', u2 !== undefined && u2.id === 0x3232, 'UNSUBACK id=12850 for UNSUBSCRIBE id=12850', u2 ? `UNSUBACK id=${u2.id} for UNSUBSCRIBE id=12850` : 'no UNSUBACK');
    const n2 = nonce(t, 'gone');
    await pub.mustPublish(topic, n2, { qos: 1 });
    const gone = await leaked(t, sub, n2, 2);
    t.expect('stops', !gone, 'nothing delivered after the subscription was deleted', 'a message was delivered after its subscription was deleted');
  },
});

const unsubscribeMany = defineCase({
  name: 'UNSUBSCRIBE several filters',
  ids: { one: ['MQTT-3.10.4-6', 'MQTT-3.10.4-6'], order: [undefined, 'MQTT-3.11.3-1'], codes: [undefined, 'MQTT-3.11.3-2'] },
  async run(t) {
    const [a, b, c, x] = ['m/a', 'm/b', 'm/c', 'm/never'].map((s) => t.topic(s)) as [string, string, string, string];
    const sub = await Peer.open(t, 'sub');
    await sub.mustSubscribe([a, b, c].map((topic) => ({ topic, qos: 1 })));
    const ack = await sub.unsubscribe([a, x, c], 0x3333);
    if (!ack) throw new SetupError('no UNSUBACK');
    const extra = await sub.wire.take((f) => f.type === T.UNSUBACK, t.env.settleMs);
    const pub = await Peer.open(t, 'pub');
    const ns = [a, b, c].map((topic, i) => ({ topic, n: nonce(t, `u${i}`) }));
    for (const p of ns) await pub.mustPublish(p.topic, p.n, { qos: 1 });
    await sub.waitFor((d) => d.text === ns[1]!.n);
    await t.settle();
    const got = ns.map((p) => sub.got(p.n).length > 0);
    t.expect('one', !extra && !got[0] && got[1]! && !got[2], 'one UNSUBACK; the two named subscriptions deleted, the other kept', `${extra ? 'two UNSUBACKs; ' : ''}deliveries after unsubscribing a and c: a=${got[0]}, b=${got[1]}, c=${got[2]}`);
    if (t.v === 5) {
      const codes = ack.codes ?? [];
      const allowed = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91];
      t.expect('codes', codes.every((k) => allowed.includes(k)), `UNSUBACK codes ${codesText(codes)}`, `UNSUBACK codes ${codesText(codes)} outside the Unsubscribe Reason Codes`);
      if (codes.length !== 3) t.fail('order', `${codes.length} reason codes for 3 filters ${codesText(codes)}`);
      else if (codes[0] === codes[1] && codes[1] === codes[2]) t.inconclusive('order', `all three codes are ${hex(codes[0])}: the order cannot be told (the unknown filter got no 0x11)`);
      else t.expect('order', codes[0] === 0 && codes[2] === 0 && codes[1] !== 0, `codes ${codesText(codes)}: success, nothing-existed, success in filter order`, `codes ${codesText(codes)} do not follow the filter order (existing, never subscribed, existing)`);
    }
  },
});

const unsubscribeFlags = defineCase({
  name: 'UNSUBSCRIBE reserved flags',
  ids: { flags: ['MQTT-3.10.1-1', 'MQTT-3.10.1-1'] },
  async run(t) {
    await mustClose(t, 'flags', 'UNSUBSCRIBE with fixed-header flags 0000 (must be 0010)', rawUnsubscribe(t.v, 7, [t.topic('f')], 0xa0), [T.UNSUBACK]);
  },
});

const unsubscribeEmpty = defineCase({
  name: 'UNSUBSCRIBE without filters',
  ids: { empty: ['MQTT-3.10.3-2', undefined] },
  async run(t) {
    await mustClose(t, 'empty', 'UNSUBSCRIBE with no topic filter', rawUnsubscribe(t.v, 8, []), [T.UNSUBACK]);
  },
});

const ping = defineCase({
  name: 'PINGREQ',
  ids: { pong: ['MQTT-3.12.4-1', 'MQTT-3.12.4-1'] },
  async run(t) {
    const p = await Peer.open(t, 'c');
    t.expect('pong', await p.ping(), 'PINGRESP to PINGREQ', `no PINGRESP within ${t.env.waitMs}ms`);
  },
});

const pingFlags = defineCase({
  name: 'invalid fixed-header flags',
  ids: { flags: ['MQTT-2.2.2-2', 'MQTT-2.1.3-1'] },
  async run(t) {
    await mustClose(t, 'flags', 'PINGREQ with fixed-header flags 0001 (must be 0000)', Buffer.from([0xc1, 0x00]), [T.PINGRESP]);
  },
});

const noLocal = defineCase({
  name: 'No Local',
  ids: { nl: [undefined, 'MQTT-3.8.3-3'] },
  async run(t) {
    const topic = t.topic('nl');
    const self = await Peer.open(t, 'self');
    await self.mustSubscribe([{ topic, qos: 1, nl: true }]);
    const other = await Peer.open(t, 'other');
    await other.mustSubscribe([{ topic, qos: 1 }]);
    const n = nonce(t, 'nl');
    await self.mustPublish(topic, n, { qos: 1 });
    if (!(await other.waitFor((d) => d.text === n))) throw new SetupError('the message did not reach another subscriber');
    const echoed = await leaked(t, self, n);
    t.expect('nl', !echoed, 'No Local 1: the publisher did not get its own message (another subscriber did)', 'No Local 1: the message was forwarded back to the connection that published it');
  },
});

const subscriptionIds = defineCase({
  name: 'Subscription Identifiers',
  ids: { present: [undefined, 'MQTT-3.3.4-3'], single: [undefined, 'MQTT-3.3.4-4'], multiple: [undefined, 'MQTT-3.3.4-5'] },
  async run(t) {
    const topic = t.topic('sid/x');
    const sub = await Peer.open(t, 'sub');
    await sub.mustSubscribe([{ topic: t.topic('sid/#'), qos: 1 }], { props: [[PROP.subscriptionId, 7]] });
    await sub.mustSubscribe([{ topic, qos: 1 }], { props: [[PROP.subscriptionId, 9]] });
    const pub = await Peer.open(t, 'pub');
    const n = nonce(t, 'sid');
    await pub.mustPublish(topic, n, { qos: 1 });
    await sub.waitFor((d) => d.text === n);
    await t.settle();
    const copies = sub.got(n);
    if (copies.length === 0) throw new SetupError('not delivered');
    const ids = copies.map((c) => (propsOf(c.props, PROP.subscriptionId) as number[]).slice().sort((a, b) => a - b));
    const all = ids.flat();
    t.expect('present', all.includes(7) && all.includes(9), `Subscription Identifiers 7 and 9 sent (${JSON.stringify(ids)})`, `Subscription Identifiers sent: ${JSON.stringify(ids)}, expected 7 and 9`);
    if (copies.length === 1) {
      t.skip('multiple', 'the server sent a single copy for the overlapping subscriptions');
      t.expect('single', JSON.stringify(ids[0]) === '[7,9]', 'the single copy carries both identifiers 7 and 9', `the single copy carries ${JSON.stringify(ids[0])}`);
    } else {
      t.skip('single', `the server sent ${copies.length} copies, one per subscription`);
      const each = ids.every((x) => x.length === 1) && new Set(ids.map((x) => x[0])).size === copies.length;
      t.expect('multiple', each, `each copy carries its own identifier (${JSON.stringify(ids)})`, `copies carry ${JSON.stringify(ids)}: not one identifier each`);
    }
  },
});

const clientSubscriptionId = defineCase({
  name: 'PUBLISH from the client with a Subscription Identifier',
  ids: { subid: [undefined, 'MQTT-3.3.4-6'] },
  async run(t) {
    const topic = t.topic('csid');
    const watch = await Peer.open(t, 'watch');
    await watch.mustSubscribe([{ topic, qos: 1 }]);
    const p = await Peer.open(t, 'c');
    const since = p.wire.frames.length;
    const n = nonce(t, 'csid');
    p.wire.send(rawPublish({ version: 5, topic, qos: 1, id: 1, props: [[PROP.subscriptionId, 5]], payload: n }), 'PUBLISH qos=1 with a Subscription Identifier property (protocol error)');
    const c = await closing(t, p.wire, since);
    const delivered = await leaked(t, watch, n);
    t.expect('subid', c.closed && !delivered, `closed: ${c.detail}`, `a PUBLISH with a Subscription Identifier ${delivered ? 'was delivered' : 'did not close the connection'}: ${c.detail}`);
  },
});

export const SUBSCRIBE_CASES: readonly Case[] = [
  subackShape,
  subackCodes,
  subscribeFlags,
  subscribeEmpty,
  subscribeOptions,
  invalidFilters,
  nulFilter,
  unsubscribe,
  unsubscribeMany,
  unsubscribeFlags,
  unsubscribeEmpty,
  ping,
  pingFlags,
  noLocal,
  subscriptionIds,
  clientSubscriptionId,
] as readonly Case[];
