// Retained messages and will messages (3.3.1.3 and 3.1.2.5 to 3.1.2.7 of
// both versions; 3.1.3.2 will properties of 5.0; 3.14 DISCONNECT and the will).
// Every retained topic a case sets is cleared when the case ends.

import { PROP, propsOf, rawDisconnect } from './frames.js';
import { closing, leaked, nonce } from './observe.js';
import { Peer, type ConnectOptions } from './peer.js';
import { defineCase, SetupError, type Case, type Trial } from './trial.js';

/** Publishes a retained message (QoS 1 unless said) and registers the topic for clearing. */
async function retain(t: Trial<string>, pub: Peer, topic: string, text: string, qos = 1): Promise<void> {
  t.retained.add(topic);
  await pub.mustPublish(topic, text, { qos, retain: true });
}

/** A fresh subscriber that subscribes `filter` and collects what comes within the settle window (or until `expect` arrives). */
async function lateSubscriber(t: Trial<string>, filter: string, qos: number, expect?: string, label = 'late', o: { rh?: number; rap?: boolean } = {}): Promise<Peer> {
  const s = await Peer.open(t, label);
  await s.mustSubscribe([{ topic: filter, qos, ...o }]);
  if (expect !== undefined) await s.waitFor((d) => d.text === expect);
  await t.settle();
  return s;
}

const stored = defineCase({
  name: 'retained message stored and sent to a new subscription',
  ids: {
    stored: ['MQTT-3.3.1-5', 'MQTT-3.3.1-5'],
    last: ['MQTT-3.3.1-6', undefined],
    flag: ['MQTT-3.3.1-8', undefined],
    rh0: [undefined, 'MQTT-3.3.1-9'],
  },
  async run(t) {
    const topic = t.topic('r');
    const pub = await Peer.open(t, 'pub');
    const [a, b] = [nonce(t, 'old'), nonce(t, 'new')];
    await retain(t, pub, topic, a);
    await retain(t, pub, topic, b);
    const s = await lateSubscriber(t, topic, 1, b);
    const gotB = s.got(b);
    const gotA = s.got(a);
    if (gotB.length === 0 && gotA.length === 0) {
      t.fail('stored', 'a retained message was not sent to a later subscriber');
      t.fail('last', 'no retained message was sent to a new subscription');
      t.fail('rh0', 'no retained message was sent on subscribe (Retain Handling 0)');
      return;
    }
    const d = gotB[0];
    t.expect('stored', d !== undefined && gotA.length === 0 && d.qos === 1, 'the later retained message replaced the earlier and was sent at its QoS 1', gotA.length ? 'the replaced retained message was sent to a new subscriber' : `the retained message came at QoS ${d?.qos} (published at 1, subscribed at 1)`);
    t.expect('last', d !== undefined && gotA.length === 0, 'the new subscription got the last retained message', 'the new subscription got an older retained message');
    t.expect('rh0', d !== undefined, 'retained message sent on subscribe (Retain Handling 0)', 'the retained message was not sent on subscribe');
    if (d) t.expect('flag', d.retain, 'sent with RETAIN 1 because of the new subscription', 'sent with RETAIN 0 although it was sent because of a new subscription');
  },
});

const liveFlag = defineCase({
  name: 'RETAIN 0 to an established subscription',
  ids: { live: ['MQTT-3.3.1-9', 'MQTT-3.3.1-12'] },
  async run(t) {
    const topic = t.topic('live');
    const sub = await Peer.open(t, 'sub');
    await sub.mustSubscribe([{ topic, qos: 1 }]);
    const pub = await Peer.open(t, 'pub');
    const n = nonce(t, 'live');
    await retain(t, pub, topic, n);
    const d = await sub.waitFor((x) => x.text === n);
    if (!d) throw new SetupError('a retained PUBLISH was not delivered to an established subscription');
    t.expect('live', !d.retain, 'forwarded to an established subscription with RETAIN 0', 'forwarded to an established subscription with RETAIN 1');
  },
});

const retainAsPublished = defineCase({
  name: 'Retain As Published',
  ids: { rap: [undefined, 'MQTT-3.3.1-13'] },
  async run(t) {
    const topic = t.topic('rap');
    const sub = await Peer.open(t, 'sub');
    await sub.mustSubscribe([{ topic, qos: 1, rap: true }]);
    const pub = await Peer.open(t, 'pub');
    const [r, n] = [nonce(t, 'rap-r'), nonce(t, 'rap-n')];
    await retain(t, pub, topic, r);
    await pub.mustPublish(topic, n, { qos: 1 });
    const dr = await sub.waitFor((x) => x.text === r);
    const dn = await sub.waitFor((x) => x.text === n);
    if (!dr || !dn) throw new SetupError('not delivered');
    t.expect('rap', dr.retain && !dn.retain, 'RETAIN kept as published (1 for the retained, 0 for the other)', `RETAIN ${dr.retain ? 1 : 0} for a retained and ${dn.retain ? 1 : 0} for a non-retained PUBLISH`);
  },
});

const qos0Replaces = defineCase({
  name: 'retained QoS 0 replaces',
  ids: { q0: ['MQTT-3.3.1-7', undefined] },
  async run(t) {
    const topic = t.topic('q0');
    const pub = await Peer.open(t, 'pub');
    const [a, b] = [nonce(t, 'q1'), nonce(t, 'q0')];
    await retain(t, pub, topic, a, 1);
    await retain(t, pub, topic, b, 0);
    await pub.sync();
    const s = await lateSubscriber(t, topic, 1);
    t.expect('q0', s.got(a).length === 0, s.got(b).length ? 'the QoS 0 retained message replaced the QoS 1 one' : 'the earlier retained message was discarded (the QoS 0 one was not kept, which is allowed)', 'after a retained QoS 0 PUBLISH the previous retained message was still sent');
  },
});

const emptyClears = defineCase({
  name: 'zero-byte retained PUBLISH',
  ids: { clears: ['MQTT-3.3.1-10', 'MQTT-3.3.1-6'], notStored: ['MQTT-3.3.1-11', 'MQTT-3.3.1-7'] },
  async run(t) {
    const topic = t.topic('empty');
    const pub = await Peer.open(t, 'pub');
    const x = nonce(t, 'kept');
    await retain(t, pub, topic, x);
    const live = await Peer.open(t, 'live');
    await live.mustSubscribe([{ topic, qos: 1 }]);
    await live.waitFor((d) => d.text === x);
    await pub.mustPublish(topic, '', { qos: 1, retain: true });
    const empty = await live.waitFor((d) => d.payload.length === 0);
    const s = await lateSubscriber(t, topic, 1);
    const old = s.got(x).length > 0;
    const zero = s.deliveries.some((d) => d.payload.length === 0);
    t.expect('clears', empty !== undefined && !old, 'the zero-byte retained PUBLISH reached the live subscriber and removed the retained message', empty ? 'a later subscriber still got the retained message' : 'the zero-byte retained PUBLISH was not delivered to the live subscriber');
    t.expect('notStored', !zero, 'no zero-byte retained message was sent to a later subscriber', 'a later subscriber got a zero-byte retained message: it was stored');
  },
});

const nonRetainedKeeps = defineCase({
  name: 'RETAIN 0 leaves the retained message',
  ids: { keep: ['MQTT-3.3.1-12', 'MQTT-3.3.1-8'] },
  async run(t) {
    const topic = t.topic('keep');
    const pub = await Peer.open(t, 'pub');
    const [k, tr] = [nonce(t, 'kept'), nonce(t, 'transient')];
    await retain(t, pub, topic, k);
    await pub.mustPublish(topic, tr, { qos: 1 });
    await pub.mustPublish(topic, '', { qos: 1 });
    const fresh = t.topic('fresh');
    const f = nonce(t, 'fresh');
    await pub.mustPublish(fresh, f, { qos: 1 });
    const s = await lateSubscriber(t, topic, 1, k);
    const s2 = await lateSubscriber(t, fresh, 1, undefined, 'late2');
    const ok = s.got(k).length === 1 && s.got(tr).length === 0 && !s.deliveries.some((d) => d.payload.length === 0) && s2.got(f).length === 0;
    t.expect('keep', ok, 'non-retained PUBLISH packets neither replaced the retained message nor were stored', `later subscribers got: ${[...s.deliveries, ...s2.deliveries].map((d) => JSON.stringify(d.text)).join(', ') || 'nothing'} (expected only the retained one)`);
  },
});

const survivesSession = defineCase({
  name: 'retained message outlives the session',
  ids: { outlives: ['MQTT-3.1.2-7', undefined] },
  async run(t) {
    const topic = t.topic('outlives');
    const pub = await Peer.open(t, 'pub', { clean: true });
    const n = nonce(t, 'outlives');
    await retain(t, pub, topic, n);
    pub.disconnect();
    await pub.wire.waitClosed(t.env.waitMs);
    const s = await lateSubscriber(t, topic, 1, n);
    t.expect('outlives', s.got(n).length > 0, "the retained message was sent after its publisher's session ended", "the retained message was gone once its publisher's (clean) session ended");
  },
});

const retainHandling = defineCase({
  name: 'Retain Handling 1 and 2',
  ids: { rh1: [undefined, 'MQTT-3.3.1-10'], rh2: [undefined, 'MQTT-3.3.1-11'] },
  async run(t) {
    const topic = t.topic('rh');
    const pub = await Peer.open(t, 'pub');
    const n = nonce(t, 'rh');
    await retain(t, pub, topic, n);
    const s2 = await lateSubscriber(t, topic, 1, undefined, 'rh2', { rh: 2 });
    t.expect('rh2', s2.got(n).length === 0, 'Retain Handling 2: no retained message on subscribe', 'Retain Handling 2: the retained message was sent');
    const s1 = await lateSubscriber(t, topic, 1, n, 'rh1', { rh: 1 });
    const first = s1.got(n).length;
    await s1.mustSubscribe([{ topic, qos: 1, rh: 1 }]);
    await t.settle();
    const again = s1.got(n).length - first;
    t.expect('rh1', first === 1 && again === 0, 'Retain Handling 1: sent for the new subscription, not when it was repeated', `Retain Handling 1: ${first} cop${first === 1 ? 'y' : 'ies'} on the new subscription, ${again} more when it was repeated (expected 1 and 0)`);
  },
});

const resubscribe = defineCase({
  name: 'SUBSCRIBE to an existing filter',
  ids: { replace: ['MQTT-3.8.4-3', 'MQTT-3.8.4-3'], resend: ['MQTT-3.8.4-3', 'MQTT-3.8.4-4'] },
  async run(t) {
    const topic = t.topic('re');
    const pub = await Peer.open(t, 'pub');
    const r = nonce(t, 'retained');
    await retain(t, pub, topic, r);
    const s = await Peer.open(t, 'sub');
    await s.mustSubscribe([{ topic, qos: 0 }]);
    await s.waitFor((d) => d.text === r);
    const ack = await s.mustSubscribe([{ topic, qos: 1 }]);
    // A retained message may come before or after the SUBACK.
    const deadline = Date.now() + t.env.waitMs;
    while (s.got(r).length < 2 && Date.now() < deadline && !s.wire.closed) await t.sleep(5);
    const resent = s.got(r).length;
    const live = nonce(t, 'live');
    await pub.mustPublish(topic, live, { qos: 1 });
    await s.waitFor((d) => d.text === live);
    await t.settle();
    const copies = s.got(live);
    const granted = ack.codes![0]!;
    t.expect('resend', resent >= 2, 'the retained message was sent again when the subscription was replaced', 'the retained message was not re-sent when the subscription was replaced');
    t.expect('replace', copies.length === 1 && copies[0]!.qos === Math.min(1, granted), `one copy at QoS ${copies[0]?.qos} after re-subscribing at QoS 1: the subscription was replaced`, `${copies.length} copies at QoS ${copies.map((c) => c.qos).join(',') || '-'} after re-subscribing at QoS 1 (expected one, at ${Math.min(1, granted)})`);
  },
});

/** A connection with a will; returns the observer subscribed to the will topic. */
async function withWill(t: Trial<string>, topic: string, text: string, o: { retain?: boolean; props?: ConnectOptions['props']; willProps?: NonNullable<ConnectOptions['will']>['props']; clientId?: string; clean?: boolean } = {}): Promise<{ watch: Peer; owner: Peer }> {
  const watch = await Peer.open(t, 'watch');
  await watch.mustSubscribe([{ topic, qos: 1 }]);
  const owner = await Peer.open(t, 'owner', {
    will: { topic, payload: Buffer.from(text), qos: 1, retain: o.retain ?? false, ...(o.willProps ? { props: o.willProps } : {}) },
    ...(o.props ? { props: o.props } : {}),
    ...(o.clientId ? { clientId: o.clientId } : {}),
    ...(o.clean !== undefined ? { clean: o.clean } : {}),
  });
  if (o.retain) t.retained.add(topic);
  return { watch, owner };
}

const willOnFailure = defineCase({
  name: 'will on abnormal close',
  ids: { published: ['MQTT-3.1.2-8', 'MQTT-3.1.2-8'], once: ['MQTT-3.1.2-10', 'MQTT-3.1.2-10'], nonRetained: ['MQTT-3.1.2-16', 'MQTT-3.1.2-14'] },
  async run(t) {
    const topic = t.topic('will');
    const n = nonce(t, 'will');
    const { watch, owner } = await withWill(t, topic, n);
    await owner.sync();
    owner.drop();
    const d = await watch.waitFor((x) => x.text === n, Math.max(t.env.waitMs, 2000));
    if (!t.expect('published', d !== undefined, 'the will was published when the connection closed without DISCONNECT', 'no will message after the connection closed without DISCONNECT')) {
      t.inconclusive('once', 'no will was published');
      t.inconclusive('nonRetained', 'no will was published');
      return;
    }
    await t.settle(2);
    t.expect('once', watch.got(n).length === 1, 'published exactly once', `published ${watch.got(n).length} times`);
    t.retained.add(topic);
    const late = await lateSubscriber(t, topic, 1);
    t.expect('nonRetained', late.got(n).length === 0, 'a will with Will Retain 0 was not retained', 'a will with Will Retain 0 was kept as a retained message');
  },
});

const willRetained = defineCase({
  name: 'will with Will Retain 1',
  ids: { retained: ['MQTT-3.1.2-17', 'MQTT-3.1.2-15'] },
  async run(t) {
    const topic = t.topic('rwill');
    const n = nonce(t, 'rwill');
    const { watch, owner } = await withWill(t, topic, n, { retain: true });
    await owner.sync();
    owner.drop();
    if (!(await watch.waitFor((x) => x.text === n, Math.max(t.env.waitMs, 2000)))) throw new SetupError('the will was not published');
    const late = await lateSubscriber(t, topic, 1, n);
    const d = late.got(n)[0];
    t.expect('retained', d !== undefined && d.retain, 'a later subscriber got the will as a retained message', 'the will with Will Retain 1 was not retained');
  },
});

const willDiscarded = defineCase({
  name: 'no will after DISCONNECT',
  ids: { discard: ['MQTT-3.14.4-3', 'MQTT-3.14.4-3'], removed: ['MQTT-3.1.2-10', 'MQTT-3.1.2-10'] },
  async run(t) {
    const topic = t.topic('nowill');
    const n = nonce(t, 'nowill');
    const { watch, owner } = await withWill(t, topic, n);
    owner.disconnect(0);
    await owner.wire.waitClosed(t.env.waitMs);
    const got = await leaked(t, watch, n, 3);
    t.expect('discard', !got, 'after DISCONNECT the will was not published', 'the will was published although the client sent DISCONNECT');
    t.expect('removed', !got, 'the will was removed on DISCONNECT', 'the will survived a DISCONNECT and was published');
  },
});

const noWill = defineCase({
  name: 'no will flag, nothing published',
  ids: { none: ['MQTT-3.1.2-12', undefined] },
  async run(t) {
    const filter = t.topic('#');
    const watch = await Peer.open(t, 'watch');
    await watch.mustSubscribe([{ topic: filter, qos: 1 }]);
    const p = await Peer.open(t, 'nowill');
    await p.sync();
    p.drop();
    await t.settle(3);
    t.expect('none', watch.deliveries.length === 0, 'nothing was published when a connection without a will closed abnormally', `${watch.deliveries.length} message(s) published when a connection without a will ended`);
  },
});

const badDisconnect = defineCase({
  name: 'DISCONNECT with reserved bits',
  ids: { rsv: ['MQTT-3.14.1-1', 'MQTT-3.14.1-1'] },
  async run(t) {
    const topic = t.topic('rsvwill');
    const n = nonce(t, 'rsvwill');
    const { watch, owner } = await withWill(t, topic, n);
    const since = owner.wire.frames.length;
    owner.wire.send(rawDisconnect(t.v, 0, [], 0xe1), 'DISCONNECT with fixed-header flags 0001 (reserved: must be 0000)');
    const c = await closing(t, owner.wire, since);
    if (!c.closed) {
      owner.drop();
      return t.fail('rsv', `a DISCONNECT with reserved bits set did not end the connection: ${c.detail}`);
    }
    const d = await watch.waitFor((x) => x.text === n, Math.max(t.env.waitMs, 2000));
    t.expect('rsv', d !== undefined, `the malformed DISCONNECT closed the connection (${c.detail}) and the will was published, as for a network failure`, 'a DISCONNECT with reserved bits set was taken as a normal DISCONNECT: the will was discarded');
  },
});

const willDelay = defineCase({
  name: 'Will Delay Interval',
  ids: { resumed: [undefined, 'MQTT-3.1.3-9'], delayed: [undefined, 'MQTT-3.1.2-8'] },
  async run(t) {
    // Resumed before the delay: no will.
    const id = t.env.clientId();
    t.sessions.add(id);
    const topic = t.topic('delay');
    const n = nonce(t, 'delay');
    const a = await withWill(t, topic, n, { clientId: id, clean: true, props: [[PROP.sessionExpiry, 30]], willProps: [[PROP.willDelay, 3]] });
    await a.owner.sync();
    a.owner.drop();
    await t.sleep(300);
    const back = await Peer.open(t, 'resume', { clientId: id, clean: false, props: [[PROP.sessionExpiry, 30]] });
    const early = await leaked(t, a.watch, n, 3);
    back.disconnect(0);
    t.expect('resumed', !early, 'the session was resumed within the Will Delay Interval: no will was sent', 'the will was sent although the session was resumed within its Will Delay Interval');
    // Not resumed: the will comes after the delay, not before.
    const id2 = t.env.clientId();
    t.sessions.add(id2);
    const m = nonce(t, 'delay2');
    const b = await withWill(t, topic, m, { clientId: id2, clean: true, props: [[PROP.sessionExpiry, 30]], willProps: [[PROP.willDelay, 1]] });
    await b.owner.sync();
    const t0 = Date.now();
    b.owner.drop();
    const d = await b.watch.waitFor((x) => x.text === m, 1000 + Math.max(t.env.waitMs, 6000));
    const after = Date.now() - t0;
    if (!d) return t.fail('delayed', 'the will with a 1 s Will Delay Interval was never published');
    t.expect('delayed', after >= 900, `published ${after}ms after the connection closed (Will Delay Interval 1 s)`, `published ${after}ms after the close, before its 1 s Will Delay Interval`);
  },
});

const willUserProps = defineCase({
  name: 'will User Property order',
  ids: { order: [undefined, 'MQTT-3.1.3-10'] },
  async run(t) {
    const topic = t.topic('wup');
    const n = nonce(t, 'wup');
    const pairs: [string, string][] = [
      ['k', '1'],
      ['j', '2'],
      ['k', '3'],
    ];
    const { watch, owner } = await withWill(t, topic, n, { willProps: pairs.map((p) => [PROP.userProperty, p] as const) });
    await owner.sync();
    owner.drop();
    const d = await watch.waitFor((x) => x.text === n, Math.max(t.env.waitMs, 2000));
    if (!d) throw new SetupError('the will was not published');
    const got = propsOf(d.props, PROP.userProperty) as [string, string][];
    t.expect('order', JSON.stringify(got) === JSON.stringify(pairs), 'the will arrived with its User Properties in order (k=1, j=2, k=3)', `the will's User Properties arrived as ${JSON.stringify(got)}, sent as ${JSON.stringify(pairs)}`);
  },
});

export const RETAIN_WILL_CASES: readonly Case[] = [
  stored,
  liveFlag,
  retainAsPublished,
  qos0Replaces,
  emptyClears,
  nonRetainedKeeps,
  survivesSession,
  retainHandling,
  resubscribe,
  willOnFailure,
  willRetained,
  willDiscarded,
  noWill,
  badDisconnect,
  willDelay,
  willUserProps,
] as readonly Case[];
