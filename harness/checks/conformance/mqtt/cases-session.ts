// Sessions that outlive their connection (CleanSession 0 in 3.1.1; Clean
// Start 0 with a Session Expiry Interval in 5.0): what is kept, resumed,
// re-sent and discarded (3.1.2.4, 3.2.2.1, 4.1, 4.4 of both versions; 5.0
// session and message expiry). Every persistent client id a case uses is
// cleaned (Clean Start 1, expiry 0) when the case ends.

import { PROP, propOf, type RawProp } from './frames.js';
import { leaked, nonce } from './observe.js';
import { Peer, type ConnectOptions } from './peer.js';
import { defineCase, SetupError, type Case, type Trial } from './trial.js';

/** Connect options for a persistent session: CleanSession 0 (3.1.1), Clean Start 0 and an expiry (5.0). */
export function persistent(t: Trial<string>, clientId: string, o: { resume?: boolean; expiry?: number; ack?: 'auto' | 'manual'; props?: readonly RawProp[] } = {}): ConnectOptions {
  t.sessions.add(clientId);
  const props: RawProp[] = t.v === 5 ? [[PROP.sessionExpiry, o.expiry ?? 60], ...(o.props ?? [])] : [];
  // 3.1.1 has no "start fresh but keep": the first connection is CleanSession 0 too (no session yet).
  return { clientId, clean: t.v === 5 ? !(o.resume ?? false) : false, ack: o.ack ?? 'auto', ...(props.length ? { props } : {}) };
}

const resume = defineCase({
  name: 'persistent session resumed and discarded',
  ids: {
    spNew: ['MQTT-3.2.2-3', 'MQTT-3.2.2-3'],
    created: [undefined, 'MQTT-3.1.2-6'],
    spResumed: ['MQTT-3.2.2-2', 'MQTT-3.2.2-3'],
    resumed: ['MQTT-3.1.2-4', 'MQTT-3.1.2-5'],
    stored: ['MQTT-3.1.2-5', 'MQTT-3.1.2-23'],
    ownership: ['MQTT-4.5.0-1', 'MQTT-4.5.0-1'],
    cleanSp: ['MQTT-3.2.2-1', 'MQTT-3.2.2-2'],
    discarded: ['MQTT-3.1.2-6', 'MQTT-3.1.2-4'],
  },
  async run(t) {
    const id = t.env.clientId();
    const topic = t.topic('s');
    // First connection without any session: 5.0 Clean Start 0 here, to see Session Present 0 for "no session".
    const first = await Peer.open(t, 'first', { ...persistent(t, id), clean: false });
    t.expect('spNew', !first.connack.sessionPresent, 'no stored session: Session Present 0', 'Session Present 1 for a client identifier never used before');
    t.expect('created', !first.connack.sessionPresent, 'a new session was created for an unknown client identifier', 'Session Present 1 for an unknown client identifier');
    await first.mustSubscribe([{ topic, qos: 1 }]);
    first.disconnect();
    await first.wire.waitClosed(t.env.waitMs);
    // Offline: a QoS 1 message for the stored subscription, seen live by another subscriber too.
    const other = await Peer.open(t, 'other');
    await other.mustSubscribe([{ topic, qos: 1 }]);
    const pub = await Peer.open(t, 'pub');
    const offline = nonce(t, 'offline');
    await pub.mustPublish(topic, offline, { qos: 1 });
    const live = await other.waitFor((d) => d.text === offline);
    const back = await Peer.open(t, 'resumed', persistent(t, id, { resume: true }));
    t.expect('spResumed', back.connack.sessionPresent === true, 'stored session: Session Present 1', 'Session Present 0 although a session was stored for this client identifier');
    const queued = await back.waitFor((d) => d.text === offline);
    t.expect('stored', queued !== undefined, 'the QoS 1 message published while disconnected was delivered on resume', 'the QoS 1 message published while the session was disconnected was lost');
    t.expect('ownership', queued !== undefined && live !== undefined, 'the message reached the connected subscriber and the disconnected session', `the message reached ${[live ? 'the connected subscriber' : '', queued ? 'the disconnected session' : ''].filter(Boolean).join(' and ') || 'no subscriber'} only`);
    const again = nonce(t, 'again');
    await pub.mustPublish(topic, again, { qos: 1 });
    t.expect('resumed', (await back.waitFor((d) => d.text === again)) !== undefined, 'the subscription of the stored session was in force after resuming', 'the resumed session lost its subscription');
    back.disconnect();
    await back.wire.waitClosed(t.env.waitMs);
    // Clean: the session is discarded.
    const clean = await Peer.open(t, 'clean', { clientId: id, clean: true });
    t.expect('cleanSp', !clean.connack.sessionPresent, 'clean start: Session Present 0 even with a stored session', 'clean start accepted with Session Present 1');
    const after = nonce(t, 'after');
    await pub.mustPublish(topic, after, { qos: 1 });
    const kept = await leaked(t, clean, after, 2);
    t.expect('discarded', !kept, "clean start discarded the stored session's subscription", "after a clean start the old session's subscription still delivered messages");
    clean.disconnect();
  },
});

const redelivery = defineCase({
  name: 'unacknowledged deliveries re-sent on resume',
  ids: {
    resend: ['MQTT-4.4.0-1', 'MQTT-4.4.0-1'],
    dup: ['MQTT-3.3.1-1', 'MQTT-3.3.1-1'],
    sameId: ['MQTT-2.3.1-4', 'MQTT-4.4.0-1'],
    order: ['MQTT-4.6.0-1', undefined],
    unacked: ['MQTT-4.3.2-1', 'MQTT-4.3.2-3'],
  },
  async run(t) {
    const id = t.env.clientId();
    const topic = t.topic('redeliver');
    const sub = await Peer.open(t, 'sub', persistent(t, id, { ack: 'manual' }));
    await sub.mustSubscribe([{ topic, qos: 1 }]);
    const pub = await Peer.open(t, 'pub');
    const texts = [1, 2, 3].map((i) => nonce(t, `r${i}`));
    for (const x of texts) await pub.mustPublish(topic, x, { qos: 1 });
    for (const x of texts) await sub.waitFor((d) => d.text === x);
    const firstIds = texts.map((x) => sub.got(x)[0]?.id);
    if (firstIds.some((x) => x === undefined)) throw new SetupError('not every QoS 1 message was delivered before the reconnect');
    await sub.sync();
    sub.drop();
    const back = await Peer.open(t, 'resumed', persistent(t, id, { resume: true, ack: 'manual' }));
    for (const x of texts) await back.waitFor((d) => d.text === x);
    await t.settle();
    const again = texts.map((x) => back.got(x)[0]);
    const missing = again.filter((d) => !d).length;
    t.expect('resend', missing === 0, 'the 3 unacknowledged QoS 1 messages were re-sent on resume', `${missing} of 3 unacknowledged QoS 1 messages were not re-sent on resume`);
    t.expect('unacked', missing === 0, 'a QoS 1 delivery stayed unacknowledged until PUBACK (re-sent on resume)', 'an unacknowledged QoS 1 delivery was dropped instead of re-sent');
    const present = again.filter((d) => d !== undefined);
    if (present.length === 0) {
      for (const k of ['dup', 'sameId', 'order'] as const) t.inconclusive(k, 'nothing was re-sent');
      return;
    }
    t.expect('dup', present.every((d) => d!.dup), 're-sent with DUP 1', `re-sent with DUP ${present.map((d) => (d!.dup ? 1 : 0)).join(',')}`);
    const ids = again.map((d) => d?.id);
    t.expect('sameId', again.every((d, i) => !d || d.id === firstIds[i]), `re-sent with their original identifiers ${firstIds.join(',')}`, `first sent with ids ${firstIds.join(',')}, re-sent with ${ids.join(',')}`);
    const order = present.map((d) => back.deliveries.indexOf(d!));
    t.expect('order', order.every((x, i) => i === 0 || x > order[i - 1]!), 're-sent in their original order', `re-sent in the order ${present.map((d) => texts.indexOf(d!.text) + 1).join(',')}`);
    for (const d of back.deliveries) back.ackPublish(d);
    await back.sync();
  },
});

const failedAck = defineCase({
  name: 'PUBACK 0x80 ends the delivery',
  ids: { noRetry: [undefined, 'MQTT-4.4.0-2'] },
  async run(t) {
    const id = t.env.clientId();
    const topic = t.topic('nack');
    const sub = await Peer.open(t, 'sub', persistent(t, id, { ack: 'manual' }));
    await sub.mustSubscribe([{ topic, qos: 1 }]);
    const pub = await Peer.open(t, 'pub');
    const n = nonce(t, 'nack');
    await pub.mustPublish(topic, n, { qos: 1 });
    const d = await sub.waitFor((x) => x.text === n);
    if (!d) throw new SetupError('not delivered');
    sub.ackPublish(d, 0x80);
    await sub.sync();
    sub.drop();
    const back = await Peer.open(t, 'resumed', persistent(t, id, { resume: true }));
    const again = await leaked(t, back, n, 2);
    t.expect('noRetry', !again, 'a delivery answered with PUBACK 0x80 was not re-sent on resume', 'a delivery answered with PUBACK 0x80 was re-sent on resume');
  },
});

const sessionExpiry = defineCase({
  name: 'Session Expiry Interval',
  ids: { expired: [undefined, 'MQTT-4.1.0-2'] },
  async run(t) {
    const id = t.env.clientId();
    const first = await Peer.open(t, 'first', persistent(t, id, { expiry: 1 }));
    await first.mustSubscribe([{ topic: t.topic('exp'), qos: 1 }]);
    first.disconnect();
    await first.wire.waitClosed(t.env.waitMs);
    // The interval plus 2 s for the server's expiry timer.
    await t.sleep(3000);
    const back = await Peer.open(t, 'after', persistent(t, id, { resume: true, expiry: 0 }));
    t.expect('expired', !back.connack.sessionPresent, 'after the 1 s Session Expiry Interval the session was gone (Session Present 0)', 'the session was still present 3 s after a disconnect with a 1 s Session Expiry Interval');
    back.disconnect();
  },
});

const messageExpiry = defineCase({
  name: 'Message Expiry Interval',
  ids: { dropped: [undefined, 'MQTT-3.3.2-5'], reduced: [undefined, 'MQTT-3.3.2-6'] },
  async run(t) {
    const id = t.env.clientId();
    const topic = t.topic('mexp');
    const first = await Peer.open(t, 'sub', persistent(t, id));
    await first.mustSubscribe([{ topic, qos: 1 }]);
    first.disconnect();
    await first.wire.waitClosed(t.env.waitMs);
    const pub = await Peer.open(t, 'pub');
    const [short, long] = [nonce(t, 'short'), nonce(t, 'long')];
    await pub.mustPublish(topic, short, { qos: 1, props: [[PROP.messageExpiry, 1]] });
    await pub.mustPublish(topic, long, { qos: 1, props: [[PROP.messageExpiry, 60]] });
    const t0 = Date.now();
    await t.sleep(2200);
    const back = await Peer.open(t, 'resumed', persistent(t, id, { resume: true }));
    const dl = await back.waitFor((d) => d.text === long);
    await t.settle();
    const waited = Math.floor((Date.now() - t0) / 1000);
    t.expect('dropped', back.got(short).length === 0, 'the message with a 1 s expiry was not delivered 2.2 s later', 'a message was delivered after its Message Expiry Interval had passed');
    if (!dl) return t.inconclusive('reduced', 'the message with a 60 s expiry was not delivered on resume');
    const left = propOf(dl.props, PROP.messageExpiry) as number | undefined;
    t.expect('reduced', left !== undefined && left <= 60 - Math.max(1, waited - 1), `forwarded with Message Expiry Interval ${left} after waiting about ${waited} s (sent as 60)`, `forwarded with Message Expiry Interval ${left ?? 'absent'} after waiting about ${waited} s (sent as 60)`);
  },
});

export const SESSION_CASES: readonly Case[] = [resume, redelivery, failedAck, sessionExpiry, messageExpiry] as readonly Case[];
