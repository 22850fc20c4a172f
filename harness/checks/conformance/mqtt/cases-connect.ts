// CONNECT and CONNACK: what a server must accept, refuse and close
// (sections 3.1 and 3.2 of both versions; 4.8 / 4.13 for protocol errors).

import { printable } from '../../../protocols/common/io.js';
import { PINGREQ, PROP, propOf, rawConnect, rawPublish, T } from './frames.js';
import { closing, leaked, nonce, typeName } from './observe.js';
import { Peer } from './peer.js';
import { defineCase, type Case, type Trial } from './trial.js';

const hex = (n: number | undefined) => `0x${(n ?? 0).toString(16).padStart(2, '0')}`;

/** The credentials of the run's principal as rawConnect fields. */
const credOf = (t: Trial<string>) => ({
  ...(t.env.cred.username !== undefined ? { username: t.env.cred.username } : {}),
  ...(t.env.cred.password !== undefined ? { password: t.env.cred.password } : {}),
});

const accept = defineCase({
  name: 'valid CONNECT accepted, CONNACK first',
  ids: {
    accept: ['MQTT-3.1.4-4', 'MQTT-3.1.4-5'],
    sp0: ['MQTT-3.2.2-1', 'MQTT-3.2.2-2'],
    first: ['MQTT-3.2.0-1', 'MQTT-3.2.0-1'],
  },
  async run(t) {
    const r = await Peer.tryOpen(t, 'c1', { clean: true });
    if (!r.ok) {
      t.fail('accept', `a valid CONNECT with the principal's credentials was not accepted: ${r.detail}`);
      return;
    }
    t.pass('accept', 'CONNACK 0x00 to a valid CONNECT');
    t.expect('sp0', r.peer.connack.sessionPresent === false, 'clean start: Session Present 0', 'clean start accepted with Session Present 1');
    r.peer.disconnect();
    // CONNECT and PINGREQ in one write: the CONNACK must still come first.
    const wire = await Peer.openWire(t, 'c2');
    wire.send(Buffer.concat([Peer.connectBytes(t, t.env.clientId(), {}), PINGREQ]), 'CONNECT + PINGREQ in one write');
    const firstFrame = await wire.take(() => true, t.env.waitMs);
    if (!firstFrame) t.inconclusive('first', `nothing came back within ${t.env.waitMs}ms`);
    else t.expect('first', firstFrame.type === T.CONNACK, 'the first packet was CONNACK although a PINGREQ followed the CONNECT at once', `the first packet was ${typeName(firstFrame.type)}, not CONNACK`);
  },
});

const refusedLogin = defineCase({
  name: 'refused CONNECT (unknown user)',
  ids: { sp0: ['MQTT-3.2.2-4', 'MQTT-3.2.2-6'], close: ['MQTT-3.2.2-5', 'MQTT-3.2.2-7'] },
  async run(t) {
    // A user name no lab principal has: a refusal here counts against nobody's lockout.
    const user = `gauntlet-nobody-${Math.random().toString(36).slice(2, 8)}`;
    await t.env.ctx.pacer.beforeAttempt(user);
    const r = await Peer.tryOpen(t, 'c', { cred: { username: user, password: 'not-a-password' } });
    t.env.ctx.pacer.afterAttempt(user, r.ok);
    if (r.ok) {
      r.peer.disconnect();
      for (const k of ['sp0', 'close'] as const) t.skip(k, `the server accepted an unknown user name (no authentication): no refused CONNECT to judge here`);
      return;
    }
    if (!r.connack) {
      for (const k of ['sp0', 'close'] as const) t.skip(k, `the server refused without a CONNACK (${r.detail})`);
      return;
    }
    t.expect('sp0', r.connack.sessionPresent === false, `CONNACK ${hex(r.connack.code)} with Session Present 0`, `CONNACK ${hex(r.connack.code)} with Session Present 1`);
    if (t.v === 5 && (r.connack.code ?? 0) < 0x80) return t.skip('close', `CONNACK ${hex(r.connack.code)} is below 0x80`);
    t.expect('close', r.wire?.closedBy === 'server', `CONNACK ${hex(r.connack.code)}, then closed by the server`, `CONNACK ${hex(r.connack.code)}, but the connection stayed open ${t.env.waitMs}ms`);
  },
});

const secondConnect = defineCase({
  name: 'second CONNECT',
  ids: { second: ['MQTT-3.1.0-2', 'MQTT-3.1.0-2'] },
  async run(t) {
    const p = await Peer.open(t, 'c');
    const since = p.wire.frames.length;
    p.wire.send(Peer.connectBytes(t, p.clientId, {}), 'a second CONNECT on the same connection');
    const c = await closing(t, p.wire, since);
    t.expect('second', c.closed, `the server closed the connection: ${c.detail}`, `a second CONNECT did not close the connection: ${c.detail}`);
  },
});

const notConnectFirst = defineCase({
  name: 'first packet not CONNECT',
  ids: { violation: ['MQTT-4.8.0-1', 'MQTT-4.13.1-1'] },
  async run(t) {
    const wire = await Peer.openWire(t, 'c');
    wire.send(PINGREQ, 'PINGREQ as the first packet (protocol violation: CONNECT must come first)');
    const c = await closing(t, wire, 0);
    const served = wire.frames.some((f) => f.type === T.PINGRESP);
    t.expect('violation', c.closed && !served, `closed: ${c.detail}`, `a PINGREQ before CONNECT ${served ? 'was answered with PINGRESP' : 'did not close the connection'}: ${c.detail}`);
  },
});

const protocolName = defineCase({
  name: 'wrong protocol name',
  ids: { name: ['MQTT-3.1.2-1', 'MQTT-3.1.2-1'] },
  async run(t) {
    const wire = await Peer.openWire(t, 'c');
    wire.send(rawConnect({ version: t.v, clientId: t.env.clientId(), name: 'MQTX', ...credOf(t) }), 'CONNECT with protocol name "MQTX" (valid credentials)');
    const c = await closing(t, wire, 0);
    const ack = wire.frames.find((f) => f.type === T.CONNACK);
    if (ack?.code === 0) return t.fail('name', `CONNECT with protocol name "MQTX" was accepted (CONNACK 0x00): processed as this specification`);
    if (t.v === 4) return t.pass('name', `not accepted: ${ack ? `CONNACK ${hex(ack.code)}, ` : ''}${c.detail}`);
    if (ack && ack.code !== 0x84) return t.fail('name', `refused with CONNACK ${hex(ack.code)}; only 0x84 (Unsupported Protocol Version) may reveal an MQTT server here`);
    t.expect('name', c.closed, `not accepted${ack ? ' (CONNACK 0x84)' : ''}, ${c.detail}`, `not accepted but the connection was not closed: ${c.detail}`);
  },
});

const protocolLevel = defineCase({
  name: 'unsupported protocol level',
  ids: { level: ['MQTT-3.1.2-2', 'MQTT-3.1.2-2'] },
  async run(t) {
    const wire = await Peer.openWire(t, 'c');
    // Level 9 is no MQTT version; the rest of the packet is laid out as in 3.1.1.
    wire.send(rawConnect({ version: 4, level: 9, clientId: t.env.clientId(), ...credOf(t) }), 'CONNECT with protocol level 9 (valid credentials)');
    const c = await closing(t, wire, 0);
    const ack = wire.frames.find((f) => f.type === T.CONNACK);
    if (ack?.code === 0) return t.fail('level', 'protocol level 9 was accepted (CONNACK 0)');
    if (t.v === 4) {
      if (!ack) return t.fail('level', `no CONNACK with return code 1 (unacceptable protocol level): ${c.detail}`);
      if (ack.code !== 1) return t.fail('level', `CONNACK ${hex(ack.code)} instead of 0x01 (unacceptable protocol level)`);
      return t.expect('level', c.closed, `CONNACK 0x01, then ${c.detail}`, `CONNACK 0x01, but the connection was not closed: ${c.detail}`);
    }
    // 5.0: CONNACK 0x84 at most (a server that also speaks 3.1.1 may answer in that format, return code 1).
    if (ack && ack.code !== 0x84 && !(ack.code === 1 && ack.body.length === 2)) return t.fail('level', `refused with CONNACK ${hex(ack.code)} instead of 0x84`);
    t.expect('level', c.closed, `not accepted${ack ? ` (CONNACK ${hex(ack.code)}${ack.body.length === 2 ? ', 3.1.1 format' : ''})` : ''}, ${c.detail}`, `not accepted but not closed: ${c.detail}`);
  },
});

const refusedStops = defineCase({
  name: 'nothing processed after a refused CONNECT',
  ids: { stop: ['MQTT-3.1.4-5', 'MQTT-3.1.4-6'] },
  async run(t) {
    const topic = t.topic('after-refusal');
    const watch = await Peer.open(t, 'watch');
    await watch.mustSubscribe([{ topic, qos: 1 }]);
    const n = nonce(t, 'after-refused-connect');
    const wire = await Peer.openWire(t, 'refused');
    const bytes = Buffer.concat([
      rawConnect({ version: 4, level: 9, clientId: t.env.clientId(), ...credOf(t) }),
      rawPublish({ version: 4, topic, qos: 0, payload: n }),
      rawPublish({ version: 4, topic, qos: 1, id: 1, payload: n }),
    ]);
    wire.send(bytes, `CONNECT with protocol level 9, then PUBLISH "${printable(topic, 60)}" at QoS 0 and 1 in the same write`);
    await closing(t, wire, 0);
    const ack = wire.frames.find((f) => f.type === T.CONNACK);
    if (ack?.code === 0) return t.inconclusive('stop', 'the server accepted protocol level 9, so no CONNECT was refused');
    const got = await leaked(t, watch, n, 2);
    const acked = wire.frames.some((f) => f.type === T.PUBACK);
    t.expect('stop', !got && !acked, 'the PUBLISH packets after the refused CONNECT were neither acknowledged nor delivered', `after refusing the CONNECT the server ${got ? 'delivered the PUBLISH that followed it' : 'acknowledged the PUBLISH that followed it'}`);
  },
});

const reservedFlag = defineCase({
  name: 'CONNECT reserved flag',
  ids: { rsv: ['MQTT-3.1.2-3', 'MQTT-3.1.2-3'] },
  async run(t) {
    const wire = await Peer.openWire(t, 'c');
    wire.send(rawConnect({ version: t.v, clientId: t.env.clientId(), flagsOr: 0x01, ...credOf(t) }), 'CONNECT with the reserved connect flag (bit 0) set, valid credentials');
    const c = await closing(t, wire, 0);
    const ack = wire.frames.find((f) => f.type === T.CONNACK);
    if (ack?.code === 0) return t.fail('rsv', 'a CONNECT with the reserved flag set was accepted (CONNACK 0)');
    t.expect('rsv', c.closed, `refused: ${ack ? `CONNACK ${hex(ack.code)}, ` : ''}${c.detail}`, `not closed: ${c.detail}`);
  },
});

const malformedConnect = defineCase({
  name: 'CONNECT not in the format of 3.1',
  ids: { fmt: ['MQTT-3.1.4-1', 'MQTT-3.1.4-1'] },
  async run(t) {
    const variants: readonly { what: string; bytes: Buffer }[] = [
      {
        what: 'Will QoS 3 (will flag set)',
        bytes: rawConnect({ version: t.v, clientId: t.env.clientId(), will: { topic: t.topic('will'), payload: Buffer.from('w'), qos: 3 }, ...credOf(t) }),
      },
      { what: 'Will Retain set without the will flag', bytes: rawConnect({ version: t.v, clientId: t.env.clientId(), flagsOr: 0x20, ...credOf(t) }) },
      { what: 'Will QoS 1 without the will flag', bytes: rawConnect({ version: t.v, clientId: t.env.clientId(), flagsOr: 0x08, ...credOf(t) }) },
    ];
    for (const [i, v] of variants.entries()) {
      const wire = await Peer.openWire(t, `c${i + 1}`);
      wire.send(v.bytes, `CONNECT with ${v.what}, valid credentials`);
      const c = await closing(t, wire, 0);
      const ack = wire.frames.find((f) => f.type === T.CONNACK);
      if (ack?.code === 0) {
        t.fail('fmt', `a CONNECT with ${v.what} was accepted (CONNACK 0)`);
        continue;
      }
      if (!c.closed) {
        t.fail('fmt', `a CONNECT with ${v.what} did not close the connection: ${c.detail}`);
        continue;
      }
      // 3.1.1: closed without any CONNACK; 5.0: a CONNACK with a reason code 0x80 or more may come first [MQTT5 4.13].
      if (t.v === 4 && ack) t.fail('fmt', `a CONNECT with ${v.what} got CONNACK ${hex(ack.code)} before the close; the connection must close without a CONNACK`);
      else if (t.v === 5 && ack && (ack.code ?? 0) < 0x80) t.fail('fmt', `a CONNECT with ${v.what} got CONNACK ${hex(ack.code)} (below 0x80)`);
      else t.pass('fmt', `${v.what}: ${ack ? `CONNACK ${hex(ack.code)}, ` : ''}${c.detail}`);
    }
  },
});

const clientIdChars = defineCase({
  name: '23-character alphanumeric client id',
  ids: { id: ['MQTT-3.1.3-5', 'MQTT-3.1.3-5'] },
  async run(t) {
    const alnum = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const id = Array.from({ length: 23 }, () => alnum[Math.floor(Math.random() * alnum.length)]).join('');
    const r = await Peer.tryOpen(t, 'c', { clientId: id });
    if (r.ok) r.peer.disconnect();
    t.expect('id', r.ok, `client identifier "${id}" (23 alphanumeric characters) accepted`, `client identifier "${id}" (23 alphanumeric characters) refused: ${r.ok ? '' : r.detail}`);
  },
});

const zeroLengthId = defineCase({
  name: 'zero-length client id, clean session',
  ids: { unique: ['MQTT-3.1.3-6', 'MQTT-3.1.3-6'], returned: [undefined, 'MQTT-3.1.3-7'], assigned: [undefined, 'MQTT-3.2.2-16'] },
  async run(t) {
    const a = await Peer.tryOpen(t, 'a', { clientId: '', clean: true });
    if (!a.ok) {
      const refusedOk = t.v === 4 ? a.connack?.code === 2 : (a.connack?.code ?? 0x85) >= 0x80;
      const why = `the server does not allow a zero-length client identifier (${a.detail}); allowing it is optional`;
      for (const k of ['unique', 'returned', 'assigned'] as const) {
        if (refusedOk) t.skip(k, why);
        else t.fail(k, `a zero-length client identifier was refused with ${a.detail}, not ${t.v === 4 ? 'CONNACK 0x02' : 'a code of 0x80 or more'}`);
      }
      return;
    }
    const b = await Peer.open(t, 'b', { clientId: '', clean: true });
    // Were both given the same identifier, b's CONNECT would have closed a [MQTT-3.1.4-2].
    const aAlive = await a.peer.ping();
    t.expect('unique', aAlive && !a.peer.wire.closed, 'two clients with zero-length identifiers are connected at once (distinct identifiers assigned)', 'the first client with a zero-length identifier was disconnected when a second one connected: both got the same identifier');
    if (t.v === 5) {
      const idA = propOf(a.peer.connack.props, PROP.assignedClientId);
      const idB = propOf(b.connack.props, PROP.assignedClientId);
      t.expect('returned', typeof idA === 'string' && idA.length > 0, `CONNACK carries Assigned Client Identifier "${printable(String(idA), 40)}"`, 'CONNACK to a zero-length client identifier carries no Assigned Client Identifier');
      t.expect('assigned', typeof idA === 'string' && typeof idB === 'string' && idA.length > 0 && idA !== idB, `two assigned identifiers differ ("${printable(String(idA), 30)}", "${printable(String(idB), 30)}")`, `assigned identifiers ${JSON.stringify([idA, idB])}: missing or equal`);
    }
    a.peer.disconnect();
    b.disconnect();
  },
});

const zeroLengthPersistent = defineCase({
  name: 'zero-length client id, CleanSession 0',
  ids: { refuse: ['MQTT-3.1.3-8', undefined] },
  async run(t) {
    const r = await Peer.tryOpen(t, 'c', { clientId: '', clean: false });
    if (r.ok) return t.fail('refuse', 'a zero-byte client identifier with CleanSession 0 was accepted');
    const c = r.wire ? await closing(t, r.wire, r.wire.frames.length) : undefined;
    if (r.connack?.code !== 2) return t.fail('refuse', `expected CONNACK 0x02 (identifier rejected), got ${r.detail}`);
    t.expect('refuse', r.wire?.closedBy === 'server', `CONNACK 0x02, then closed`, `CONNACK 0x02, but ${c?.detail ?? 'not closed'}`);
  },
});

const takeover = defineCase({
  name: 'client id takeover',
  ids: { takeover: ['MQTT-3.1.4-2', 'MQTT-3.1.4-3'] },
  async run(t) {
    const id = t.env.clientId();
    const a = await Peer.open(t, 'first', { clientId: id });
    const since = a.wire.frames.length;
    const b = await Peer.open(t, 'second', { clientId: id });
    const c = await closing(t, a.wire, since);
    const alive = await b.ping();
    if (!alive) return t.inconclusive('takeover', 'the second connection with the same client identifier did not answer PINGREQ');
    const disc = a.wire.frames.slice(since).find((f) => f.type === T.DISCONNECT);
    if (t.v === 5 && disc && disc.code !== 0x8e) return t.fail('takeover', `the existing connection got DISCONNECT ${hex(disc.code)}, not 0x8E (session taken over)`);
    t.expect('takeover', c.closed, `the existing connection was closed: ${c.detail}`, `a second CONNECT with the same client identifier left the first connection open: ${c.detail}`);
    b.disconnect();
  },
});

const keepAlive = defineCase({
  name: 'keep alive 1.5x',
  ids: { ka: ['MQTT-3.1.2-24', 'MQTT-3.1.2-22'], clientKa: [undefined, 'MQTT-3.2.2-22'] },
  async run(t) {
    // Three silent connections, started 1.7 s apart: a server that checks
    // keep alives on a coarse tick (every few seconds) cannot be on time for
    // all three by luck; one that keeps the 1.5x rule closes each on time.
    const starts = [0, 1700, 3400];
    const watch = async (delay: number, i: number) => {
      await t.sleep(delay);
      const p = await Peer.open(t, `c${i + 1}`, { keepalive: 1 });
      const ska = propOf(p.connack.props, PROP.serverKeepAlive) as number | undefined;
      const ka = ska ?? 1;
      if (ka === 0 || ka > 5) return { ska, ka, ok: undefined, text: '' };
      const t0 = p.wire.now();
      // 1.5 x the keep alive, plus room for the server's timer granularity.
      const bound = ka * 1500 + Math.max(1000, ka * 500);
      await p.wire.waitClosed(bound);
      const ok = p.wire.closedBy === 'server' && (p.wire.closedAt ?? Infinity) - t0 <= bound;
      if (!ok) await p.wire.waitClosed(6000); // how late: a coarse timer, or none at all
      const at = p.wire.closedBy === 'server' ? `${(p.wire.closedAt ?? 0) - t0}ms` : `not closed after ${p.wire.now() - t0}ms`;
      return { ska, ka, ok, text: `connection ${i + 1}: ${at}` };
    };
    const results = await Promise.all(starts.map((d, i) => watch(d, i)));
    const { ska, ka } = results[0]!;
    if (ska !== undefined) t.skip('clientKa', `the server sent Server Keep Alive ${ska}s, so it need not use the client's`);
    if (ka === 0) return t.skip('ka', 'the server assigned Server Keep Alive 0 (no keep alive)');
    if (ka > 5) return t.skip('ka', `the server assigned Server Keep Alive ${ka}s: waiting ${ka * 1.5}s is beyond this check's bound`);
    const ok = results.every((r) => r.ok === true);
    const closes = results.map((r) => r.text).join(', ');
    t.expect('ka', ok, `silent connections with keep alive ${ka}s closed by the server within 1.5x (+1 s): ${closes}`, `keep alive ${ka}s (1.5x = ${ka * 1500}ms, allowed ${ka * 1500 + Math.max(1000, ka * 500)}ms): ${closes}`);
    if (ska === undefined) t.expect('clientKa', ok, "no Server Keep Alive: the server enforced the client's 1 s", `no Server Keep Alive, yet the client's 1 s keep alive was not enforced in time (${closes})`);
  },
});

export const CONNECT_CASES: readonly Case[] = [
  accept,
  refusedLogin,
  secondConnect,
  notConnectFirst,
  protocolName,
  protocolLevel,
  refusedStops,
  reservedFlag,
  malformedConnect,
  clientIdChars,
  zeroLengthId,
  zeroLengthPersistent,
  takeover,
  keepAlive,
] as readonly Case[];
