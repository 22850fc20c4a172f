// The MQTT load generator of `gauntlet bench`: publish at QoS 0/1/2 and the
// connect rate, over raw TCP/TLS sockets with pre-encoded packets. Hand-
// written rather than driving mqtt.js: a stock client encodes and parses an
// object per message and cannot saturate a broker (measured on this 2-core
// machine into Mosquitto: raw pre-encoded writes reach ~200-280k msg/s and
// this generator 0.93-1.0 of that, where mqtt.js manages ~130-210k; see
// efficiency/mqtt.ts), and the generator must never be what limits a
// device's figure.
//
// Publish paths: o.connections publishers plus one observer subscribed (QoS
// 0) to the topic. A payload starts with its send time (float64, nowMs), the
// publisher's id and a sequence number, so the observer measures end-to-end
// latency from the bytes alone. QoS 0: batches of pre-encoded PUBLISHes (send
// time and sequence patched into a copy of the batch), written while the
// socket takes them ('drain' honoured) and while the publisher is at most a
// window ahead of what the observer saw; an op is a message the observer
// received. The window matters: an open-loop flood only fills socket buffers
// and broker queues (against the reference device its latency was the queue,
// p50 1.1 s, the observer saw 37% of what was sent, the rate was lower, and
// the in-process aedes broker overflowed its stack). QoS 1 and 2: a window of
// o.inFlight unacknowledged PUBLISHes per publisher; an op is a PUBACK (QoS 1)
// or PUBCOMP (QoS 2), its latency publish -> ack.
// mqtt.connect: o.connections loops of connect -> CONNECT -> CONNACK ->
// DISCONNECT; an op is an accepted CONNACK, its latency connect -> CONNACK.
//
// A refused CONNACK or SUBACK skips the path with the device's reason. A
// device that resets, stalls or answers garbage costs errors, never a hang:
// every wait is bounded by io.timeoutMs and every socket is closed at the end.

import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { MqttInterface, PathResult } from '../../model/index.js';
import type { Io } from '../../protocols/common/io.js';
import { LatencyRecorder, nowMs } from './latency.js';
import { LoadRun, SETTLE_MS, closeReason, closeSocket, endableIo, openStream, settle } from './tcp-run.js';
import {
  DISCONNECT,
  MqttFrames,
  PACKET_NAMES,
  PINGREQ,
  connackText,
  connectPacket,
  publishPacketId,
  publishPayloadAt,
  publishTemplate,
  reasonText,
  subscribePacket,
  skipProperties,
  type FrameSink,
} from './tcp-mqtt.js';
import type { LoadGenerator, LoadOptions } from './types.js';

/** Publish payload when the caller names none, bytes. */
export const DEFAULT_MQTT_PAYLOAD_BYTES = 64;
/** Send time (float64 LE), publisher id (uint32), sequence number (uint32): the payload's first bytes. */
const STAMP_BYTES = 16;
/** QoS 0: bytes of PUBLISHes per socket.write (the message count follows from the packet size). */
const BATCH_BYTES = 16 * 1024;
const MAX_BATCH = 256;
/** QoS 0: batches one publisher writes per event-loop turn (then the observer reads). */
const BATCHES_PER_TURN = 4;
/** QoS 0: messages the observer has not seen for this long are taken as dropped (the window reopens). */
const LOSS_MS = 200;
/** The observer's PINGREQ interval (keepalive 60 s: a long run must not be cut by the broker). */
const PING_EVERY_MS = 30_000;
/** How often stalls (no ack within io.timeoutMs) are looked for. */
const STALL_CHECK_MS = 250;
const MAX_PACKET_ID = 65_535;

export const mqttLoad: LoadGenerator = async (o) => {
  if (o.iface.protocol !== 'mqtt' && o.iface.protocol !== 'mqtts') throw new Error(`mqttLoad: interface ${o.iface.id} is ${o.iface.protocol}, not mqtt/mqtts`);
  const iface = o.iface;
  switch (o.path) {
    case 'mqtt.publish.qos0':
      return publishLoad(o, iface, 0);
    case 'mqtt.publish.qos1':
      return publishLoad(o, iface, 1);
    case 'mqtt.publish.qos2':
      return publishLoad(o, iface, 2);
    case 'mqtt.connect':
      return connectLoad(o, iface);
    default:
      throw new Error(`mqttLoad: no MQTT load for path ${o.path}`);
  }
};

// ---------------------------------------------------------------------------
// One connection: frames in, a handler per stage, one end.

type Handler = (b0: number, buf: Buffer, start: number, end: number) => void;

class Conn implements FrameSink {
  private readonly frames = new MqttFrames();
  /** The packet handler of the current stage (handshake, then running). */
  handler: Handler = () => undefined;
  /** After each chunk's packets (a publisher writes what the chunk's acks freed). */
  afterData: () => void = () => undefined;
  /** Called once when the connection ends without us closing it. */
  onEnd: (why: string) => void = () => undefined;
  closed = false;
  /** nowMs() when the current chunk arrived: the receive time of its packets. */
  rxAt = 0;
  private lastError: (Error & { code?: string }) | undefined;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      this.rxAt = nowMs();
      const bad = this.frames.feed(chunk, this);
      if (bad !== undefined) return this.fail(bad);
      if (!this.closed) this.afterData();
    });
    socket.on('error', (e: Error & { code?: string }) => {
      this.lastError = e;
    });
    socket.on('close', () => this.fail(closeReason(this.lastError)));
  }

  frame(b0: number, buf: Buffer, start: number, end: number): void {
    if (!this.closed) this.handler(b0, buf, start, end);
  }

  /** Ends the connection on the device's account (reported through onEnd). */
  fail(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.onEnd(why);
  }

  /** Our own end: DISCONNECT, FIN, destroyed after a short grace. */
  close(): Promise<void> {
    const wasOpen = !this.closed;
    this.closed = true;
    if (!wasOpen || this.socket.destroyed) {
      this.socket.destroy();
      return Promise.resolve();
    }
    return closeSocket(this.socket, DISCONNECT);
  }
}

type Setup =
  | { readonly kind: 'ok'; readonly conn: Conn; readonly at: number }
  /** The device said no (CONNACK or SUBACK failure): the path cannot be measured with this principal/topic. */
  | { readonly kind: 'refused'; readonly reason: string }
  /** No session: unreachable, timed out, reset, garbage. */
  | { readonly kind: 'failed'; readonly reason: string };

/** Connect, CONNECT -> CONNACK, and with `subscribe` SUBSCRIBE -> SUBACK; each step bounded by io.timeoutMs. */
async function handshake(o: LoadOptions, io: Io, iface: MqttInterface, connect: Buffer, subscribe?: string): Promise<Setup> {
  const opened = await openStream(iface, { ...o, io }, `bench ${o.path} ${iface.id}`);
  if (opened.kind === 'failed') return { kind: 'failed', reason: opened.error };
  const conn = new Conn(opened.socket);
  const v5 = iface.version === 5;
  const who = o.principal?.user ?? 'anonymous';
  return new Promise<Setup>((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (s: Setup) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      io.signal?.removeEventListener('abort', onAbort);
      if (s.kind === 'ok') return resolve(s);
      conn.onEnd = () => undefined;
      void conn.close().then(() => resolve(s));
    };
    const onAbort = () => finish({ kind: 'failed', reason: 'aborted' });
    const waitFor = (what: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => finish({ kind: 'failed', reason: `no ${what} within ${io.timeoutMs} ms` }), io.timeoutMs);
    };
    let stage: 'connack' | 'suback' = 'connack';
    conn.onEnd = (why) => finish({ kind: 'failed', reason: `${why} before ${stage === 'connack' ? 'CONNACK' : 'SUBACK'}` });
    conn.handler = (b0, buf, start, end) => {
      const type = b0 >> 4;
      if (stage === 'connack') {
        if (type !== 2 || end - start < 2) return conn.fail(`not MQTT: expected CONNACK, got ${PACKET_NAMES[type]} (first byte 0x${b0.toString(16)})`);
        const rc = buf[start + 1]!;
        if (rc !== 0) return finish({ kind: 'refused', reason: `CONNACK ${connackText(rc, iface.version)} for ${who}` });
        if (subscribe === undefined) return finish({ kind: 'ok', conn, at: conn.rxAt });
        stage = 'suback';
        waitFor('SUBACK');
        conn.socket.write(subscribePacket(subscribe, iface.version));
        return;
      }
      if (type === 3) return; // a retained message may precede the SUBACK
      if (type !== 9 || end - start < 3) return conn.fail(`not MQTT: expected SUBACK, got ${PACKET_NAMES[type]}`);
      let p = start + 2;
      if (v5) {
        p = skipProperties(buf, p, end);
        if (p < 0) return conn.fail('malformed SUBACK');
      }
      const code = p < end ? buf[p]! : 0x80;
      if (code >= 0x80) return finish({ kind: 'refused', reason: `SUBACK ${v5 ? reasonText(code) : `0x${code.toString(16)} failure`} for ${subscribe} (${who} may not subscribe to it)` });
      finish({ kind: 'ok', conn, at: conn.rxAt });
    };
    io.signal?.addEventListener('abort', onAbort, { once: true });
    waitFor('CONNACK');
    conn.socket.write(connect);
  });
}

const clientTag = () => `gauntlet-bench-${randomBytes(4).toString('hex')}`;
const credentials = (o: LoadOptions) => (o.principal ? { user: o.principal.user, pass: o.principal.pass } : undefined);
const pct = (a: number, b: number) => (b === 0 ? '0' : ((100 * a) / b).toFixed(a === b ? 0 : 1));

// ---------------------------------------------------------------------------
// Publish paths.

interface Publisher {
  readonly conn: Conn;
  /** Unacknowledged PUBLISHes (QoS 1/2). */
  inflight: number;
  lastProgress: number;
  /** Starts (or resumes) sending. */
  pump(): void;
  /** QoS 0: the observer saw this publisher's message `seq`. */
  seen(seq: number, at: number): void;
}

async function publishLoad(o: LoadOptions, iface: MqttInterface, qos: 0 | 1 | 2): Promise<PathResult> {
  o.io.scope.assert(iface.host, `bench ${o.path} ${iface.id}`);
  const run = new LoadRun(o);
  const v5 = iface.version === 5;
  const payloadBytes = Math.max(STAMP_BYTES, Math.floor(o.payloadBytes ?? DEFAULT_MQTT_PAYLOAD_BYTES));
  const connections = Math.max(1, Math.floor(o.connections));
  const window = Math.min(MAX_PACKET_ID, Math.max(1, Math.floor(o.inFlight)));
  const publishers: Publisher[] = [];
  // QoS 0 has no acks: its window is of messages the observer has not seen yet (one write batch at least).
  const qos0Window = Math.max(window, batchCount(publishTemplate(o.resource, 0, Buffer.alloc(payloadBytes), iface.version).bytes.length));
  /** The window as run (settings.inFlight). */
  const effective = qos === 0 ? qos0Window : window;
  const topic = o.resource;
  const ackName = qos === 1 ? 'PUBACK' : 'PUBREC/PUBCOMP';
  const notes: string[] = [];
  const conns: Conn[] = [];
  const timers: NodeJS.Timeout[] = [];
  // Publisher ids: a random base, so messages of anyone else on the topic are not counted.
  const idBase = randomBytes(4).readUInt32BE(0) & 0x7fff_ffff;
  const e2e = new LatencyRecorder();
  let observed = 0;
  let sentInPhase = 0;
  let deliveredInPhase = 0;
  let lastObserved = 0;
  let unacked = 0;
  /** QoS 0: messages not seen by the observer within LOSS_MS (the window reopened without them). */
  let presumedLost = 0;

  try {
    const tag = clientTag();
    const auth = credentials(o);
    const { io, end: endConnects } = endableIo(o.io);
    const setups = await Promise.all([
      handshake(o, io, iface, connectPacket(`${tag}-obs`, iface.version, auth), topic),
      ...Array.from({ length: connections }, (_, i) => handshake(o, io, iface, connectPacket(`${tag}-p${i}`, iface.version, auth))),
    ]);
    endConnects();
    for (const s of setups) if (s.kind === 'ok') conns.push(s.conn);
    const refused = setups.find((s) => s.kind === 'refused');
    if (refused?.kind === 'refused') return run.result({ skipped: refused.reason, payloadBytes, notes, inFlight: effective });
    for (const s of setups) if (s.kind === 'failed' && s.reason !== 'aborted') run.error(s.reason);
    const [obsSetup, ...pubSetups] = setups;
    const ok = pubSetups.filter((s) => s.kind === 'ok');
    if (run.aborted) return run.result({ payloadBytes, notes: ['aborted before the measured phase'], inFlight: effective });
    if (obsSetup?.kind !== 'ok' || ok.length === 0) {
      const first = setups.find((s) => s.kind === 'failed');
      return run.result({ skipped: `no MQTT session with ${iface.id}: ${first?.kind === 'failed' ? first.reason : 'unknown'}`, payloadBytes, notes, inFlight: effective });
    }
    if (ok.length < connections) notes.push(`${ok.length} of ${connections} publisher connections established`);

    // The observer: every PUBLISH of ours on the topic, latency from its stamp.
    const obs = obsSetup.conn;
    obs.onEnd = (why) => {
      run.error(`observer: ${why}`);
      if (qos === 0) run.stop();
    };
    obs.handler = (b0, buf, start, end) => {
      const type = b0 >> 4;
      if (type === 3) {
        const p = publishPayloadAt(b0, buf, start, end, v5);
        if (p < 0) return obs.fail('malformed PUBLISH');
        const q = (b0 >> 1) & 3;
        // Subscribed at QoS 0, so a broker sends QoS 0 [MQTT-3.8.4-6]; acknowledge anything else all the same.
        if (q !== 0) ackObserved(obs, q, publishPacketId(buf, start, end));
        if (end - p < STAMP_BYTES) return;
        const id = buf.readUInt32BE(p + 8) - idBase;
        const from = publishers[id];
        if (from === undefined) return;
        const sentAt = buf.readDoubleLE(p);
        if (qos === 0) from.seen(buf.readUInt32BE(p + 12), obs.rxAt);
        const latency = obs.rxAt - sentAt;
        observed++;
        lastObserved = obs.rxAt;
        if (run.measureStart > 0 && sentAt >= run.measureStart && (run.measureEnd === 0 || sentAt < run.measureEnd)) deliveredInPhase++;
        if (qos === 0) run.op(latency);
        else if (run.phase === 'measure') e2e.add(latency);
        return;
      }
      if (type === 13 || type === 9 || type === 7) return; // PINGRESP, a repeated SUBACK, PUBCOMP of an acknowledged QoS 2
      if (type === 6) return void obs.socket.write(Buffer.from([0x70, 0x02, buf[start]!, buf[start + 1]!])); // PUBREL -> PUBCOMP
      if (type === 14) return obs.fail(`DISCONNECT from the broker${v5 && end > start ? ` (${reasonText(buf[start]!)})` : ''}`);
      obs.fail(`not MQTT: unexpected ${PACKET_NAMES[type]} to the observer`);
    };
    // The observer's reads are what reopen the QoS 0 windows.
    if (qos === 0) obs.afterData = () => publishers.forEach((p) => p.pump());
    timers.push(setInterval(() => !obs.closed && obs.socket.write(PINGREQ), PING_EVERY_MS));

    for (const s of pubSetups) {
      if (s.kind !== 'ok') continue;
      const payload = Buffer.alloc(payloadBytes);
      payload.writeUInt32BE(idBase + publishers.length, 8);
      const t = publishTemplate(topic, qos, payload, iface.version);
      publishers.push(qos === 0 ? qos0Publisher(s.conn, t.bytes, t.payloadAt) : ackedPublisher(s.conn, t.bytes, t.idAt, t.payloadAt));
    }
    if (qos === 0) timers.push(setInterval(() => publishers.forEach((p) => p.seen(-1, nowMs())), LOSS_MS / 4));
    const stopWhenNoPublisher = () => {
      if (publishers.every((p) => p.conn.closed)) run.stop();
    };
    for (const p of publishers) {
      p.conn.onEnd = (why) => {
        run.error(why, Math.max(1, p.inflight));
        p.inflight = 0;
        stopWhenNoPublisher();
      };
    }
    // Stalls: an in-flight publish with no ack for io.timeoutMs ends its connection; a QoS 0 observer that hears nothing is an error once.
    let silentReported = false;
    timers.push(
      setInterval(() => {
        const now = nowMs();
        for (const p of publishers) {
          if (!p.conn.closed && p.inflight > 0 && now - p.lastProgress > o.io.timeoutMs) p.conn.fail(`no ${ackName} within ${o.io.timeoutMs} ms (${p.inflight} in flight)`);
        }
        if (qos === 0 && run.phase === 'measure' && !silentReported && now - Math.max(lastObserved, run.measureStart) > o.io.timeoutMs) {
          silentReported = true;
          run.error(`the observer received no message for ${o.io.timeoutMs} ms`);
        }
      }, STALL_CHECK_MS),
    );

    // A connection that ended while the others were still connecting.
    if (obs.closed) obs.onEnd('connection closed before the measured phase');
    stopWhenNoPublisher();
    run.begin();
    for (const p of publishers) p.pump();
    await run.done;

    // Settle: in-flight acks and QoS 0 stragglers (not counted), then close.
    if (qos === 0) {
      let last = observed;
      let quietSince = Date.now();
      await settle(SETTLE_MS, () => {
        if (observed !== last) {
          last = observed;
          quietSince = Date.now();
        }
        return deliveredInPhase >= sentInPhase || Date.now() - quietSince > 100;
      });
      notes.push(
        `op = a message the observer received in the measured phase; latency = publish write -> observer receipt (end to end); the observer saw ${deliveredInPhase} of ${sentInPhase} messages published in the measured phase (${pct(deliveredInPhase, sentInPhase)}%)`,
        `QoS 0 window: at most ${qos0Window} messages per publisher not yet seen by the observer (a message unseen for ${LOSS_MS} ms counts as dropped${presumedLost > 0 ? `: ${presumedLost} so far` : ''})`,
      );
    } else {
      await settle(SETTLE_MS, () => publishers.every((p) => p.inflight === 0 || p.conn.closed));
      unacked = publishers.reduce((n, p) => n + (p.conn.closed ? 0 : p.inflight), 0);
      const e = e2e.summary();
      notes.push(
        `op = ${qos === 1 ? 'PUBACK' : 'PUBCOMP'} received; latency = PUBLISH write -> ${qos === 1 ? 'PUBACK' : 'PUBCOMP'}` +
          (e ? `; end to end (observer, QoS 0 subscription): p50 ${e.p50Ms.toFixed(2)} ms, p99 ${e.p99Ms.toFixed(2)} ms over ${e.samples} messages` : '; the observer received none of the messages'),
      );
      if (unacked > 0) notes.push(`${unacked} publishes still unacknowledged ${SETTLE_MS} ms after the measured phase (not counted)`);
    }
    if (run.aborted) notes.push('aborted: the measured phase ended early');
    notes.push(`${publishers.length} publisher connection(s), window ${qos === 0 ? qos0Window : window}, payload ${payloadBytes} bytes, MQTT ${v5 ? '5.0' : '3.1.1'}${iface.protocol === 'mqtts' ? ' over TLS' : ''}`);
    return run.result({ payloadBytes, notes, inFlight: effective });
  } finally {
    run.stop();
    for (const t of timers) clearInterval(t);
    await Promise.all(conns.map((c) => c.close()));
  }

  /**
   * QoS 0: pre-encoded batches, a copy per write with send time and sequence
   * patched in, written while the socket takes them and the window (messages
   * the observer has not seen yet) has room. Without the window a flood only
   * fills socket buffers and the broker's queues: the latency would be queue
   * depth, and an in-process broker (aedes) overflows its stack.
   */
  function qos0Publisher(conn: Conn, packet: Buffer, payloadAt: number): Publisher {
    const size = packet.length;
    const count = batchCount(size);
    const batch = Buffer.allocUnsafe(size * count);
    for (let k = 0; k < count; k++) packet.copy(batch, k * size);
    let scheduled = false;
    let waiting = false;
    /** Messages written, and one past the highest sequence the observer saw. */
    let sent = 0;
    let seenUpTo = 0;
    let seenAt = 0;
    conn.handler = (b0, buf, start, end) => {
      const type = b0 >> 4;
      if (type === 13) return;
      if (type === 14) return conn.fail(`DISCONNECT from the broker${v5 && end > start ? ` (${reasonText(buf[start]!)})` : ''}`);
      conn.fail(`not MQTT: unexpected ${PACKET_NAMES[type]} to a publisher`);
    };
    const turn = () => {
      scheduled = false;
      self.pump();
    };
    const self: Publisher = {
      conn,
      inflight: 0,
      lastProgress: 0,
      pump() {
        if (scheduled || waiting || !run.running || conn.closed) return;
        for (let b = 0; b < BATCHES_PER_TURN; b++) {
          // Whole batches only: a broker reading many small writes spends its time in syscalls.
          const n = count;
          if (sent - seenUpTo + n > qos0Window) return;
          if (sent === seenUpTo) seenAt = nowMs();
          // The socket may still hold the previous buffer: each write gets its own copy.
          const out = Buffer.allocUnsafe(batch.length);
          batch.copy(out);
          const now = nowMs();
          for (let k = 0, at = payloadAt; k < n; k++, at += size) {
            out.writeDoubleLE(now, at);
            out.writeUInt32BE((sent + k) >>> 0, at + 12);
          }
          sent += n;
          if (run.phase === 'measure') sentInPhase += n;
          if (!conn.socket.write(out)) {
            waiting = true;
            conn.socket.once('drain', () => {
              waiting = false;
              self.pump();
            });
            return;
          }
        }
        scheduled = true;
        setImmediate(turn);
      },
      seen(seq, at) {
        if (seq < 0) {
          // The periodic check: what the observer has not seen for LOSS_MS is taken as dropped.
          if (sent > seenUpTo && at - seenAt > LOSS_MS) {
            if (run.phase === 'measure') presumedLost += sent - seenUpTo;
            seenUpTo = sent;
            self.pump();
          }
          return;
        }
        if (seq >= seenUpTo && seq < sent) {
          seenUpTo = seq + 1;
          seenAt = at;
        }
      },
    };
    return self;
  }

  /** QoS 1/2: a window of unacknowledged PUBLISHes, packet ids 1..65535; acks free slots, refilled once per chunk. */
  function ackedPublisher(conn: Conn, packet: Buffer, idAt: number, payloadAt: number): Publisher {
    const size = packet.length;
    // 0 free, 1 awaiting PUBACK/PUBREC, 2 awaiting PUBCOMP.
    const state = new Uint8Array(MAX_PACKET_ID + 1);
    const sentAt = new Float64Array(MAX_PACKET_ID + 1);
    let nextId = 1;
    let waiting = false;
    const pubrel: number[] = [];
    const self: Publisher = {
      conn,
      inflight: 0,
      lastProgress: nowMs(),
      seen: () => undefined,
      pump() {
        if (!run.running || conn.closed || waiting) return;
        const n = window - self.inflight;
        if (n <= 0) return;
        const out = Buffer.allocUnsafe(n * size);
        const now = nowMs();
        for (let k = 0, at = 0; k < n; k++, at += size) {
          packet.copy(out, at);
          let id = nextId;
          while (state[id] !== 0) id = id === MAX_PACKET_ID ? 1 : id + 1;
          nextId = id === MAX_PACKET_ID ? 1 : id + 1;
          state[id] = 1;
          sentAt[id] = now;
          out.writeUInt16BE(id, at + idAt);
          out.writeDoubleLE(now, at + payloadAt);
        }
        if (self.inflight === 0) self.lastProgress = now;
        self.inflight += n;
        if (!conn.socket.write(out)) {
          waiting = true;
          conn.socket.once('drain', () => {
            waiting = false;
            self.pump();
          });
        }
      },
    };
    const done = (id: number, rc: number, name: string) => {
      state[id] = 0;
      self.inflight--;
      if (rc >= 0x80) run.error(`${name} ${reasonText(rc)}`);
      else run.op(conn.rxAt - sentAt[id]!);
    };
    conn.handler = (b0, buf, start, end) => {
      const type = b0 >> 4;
      if (type === 4 || type === 5 || type === 7) {
        if (end - start < 2) return conn.fail(`malformed ${PACKET_NAMES[type]}`);
        const id = buf.readUInt16BE(start);
        const rc = v5 && end - start > 2 ? buf[start + 2]! : 0;
        const expect = type === 7 ? 2 : 1;
        if ((type === 4) !== (qos === 1) || state[id] !== expect) return run.error(`${PACKET_NAMES[type]} for packet id ${id}, which awaits none`);
        self.lastProgress = conn.rxAt;
        if (type === 5) {
          if (rc >= 0x80) return done(id, rc, 'PUBREC');
          state[id] = 2;
          pubrel.push(id);
          return;
        }
        return done(id, rc, PACKET_NAMES[type]!);
      }
      if (type === 13) return;
      if (type === 14) return conn.fail(`DISCONNECT from the broker${v5 && end > start ? ` (${reasonText(buf[start]!)})` : ''}`);
      conn.fail(`not MQTT: unexpected ${PACKET_NAMES[type]} to a publisher`);
    };
    conn.afterData = () => {
      if (pubrel.length > 0) {
        const out = Buffer.allocUnsafe(4 * pubrel.length);
        for (let k = 0; k < pubrel.length; k++) {
          out[4 * k] = 0x62;
          out[4 * k + 1] = 0x02;
          out.writeUInt16BE(pubrel[k]!, 4 * k + 2);
        }
        pubrel.length = 0;
        conn.socket.write(out);
      }
      self.pump();
    };
    return self;
  }
}

/** QoS 0 messages per write: about BATCH_BYTES of them. */
const batchCount = (packetBytes: number) => Math.max(1, Math.min(MAX_BATCH, Math.floor(BATCH_BYTES / packetBytes)));

/** The observer acknowledges a QoS 1/2 delivery it did not ask for (it subscribed at QoS 0). */
function ackObserved(obs: Conn, qos: number, id: number): void {
  if (id < 0) return obs.fail('malformed PUBLISH');
  obs.socket.write(Buffer.from([qos === 1 ? 0x40 : 0x50, 0x02, id >> 8, id & 0xff]));
}

// ---------------------------------------------------------------------------
// mqtt.connect.

async function connectLoad(o: LoadOptions, iface: MqttInterface): Promise<PathResult> {
  o.io.scope.assert(iface.host, `bench ${o.path} ${iface.id}`);
  const run = new LoadRun(o);
  const connections = Math.max(1, Math.floor(o.connections));
  const auth = credentials(o);
  const tag = clientTag();
  // Our own abort: connects in progress when the phase ends are cut short.
  const { io, end: endConnects } = endableIo(o.io);
  const closing = new Set<Promise<void>>();
  const notes: string[] = [];

  const once = async (connect: Buffer): Promise<Setup> => {
    const s = await handshake(o, io, iface, connect);
    if (s.kind === 'ok') {
      s.conn.onEnd = () => undefined;
      const c = s.conn.close();
      closing.add(c);
      void c.then(() => closing.delete(c));
    }
    return s;
  };

  try {
    // One connect first: a refused principal skips the path instead of counting errors.
    const first = await once(connectPacket(`${tag}-probe`, iface.version, auth));
    if (first.kind === 'refused') return run.result({ skipped: first.reason, notes, inFlight: 1 });
    if (first.kind === 'failed') {
      if (run.aborted) return run.result({ notes: ['aborted before the measured phase'], inFlight: 1 });
      run.error(first.reason);
      return run.result({ skipped: `no MQTT session with ${iface.id}: ${first.reason}`, notes, inFlight: 1 });
    }
    run.begin();
    const loops = Array.from({ length: connections }, async (_, i) => {
      const connect = connectPacket(`${tag}-c${i}`, iface.version, auth);
      while (run.running) {
        const started = nowMs();
        const s = await once(connect);
        if (!run.running) break;
        if (s.kind === 'ok') run.op(s.at - started);
        else {
          run.error(s.reason);
          // A device refusing at once must not turn the loop into a spin.
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    });
    await run.done;
    await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, SETTLE_MS))]);
    endConnects();
    await Promise.all(loops);
    notes.push(`op = an accepted CONNACK; latency = connect start -> CONNACK (${iface.protocol === 'mqtts' ? 'TCP + TLS handshake + CONNECT' : 'TCP + CONNECT'}); each connection then DISCONNECTs and closes`);
    if (run.aborted) notes.push('aborted: the measured phase ended early');
    return run.result({ notes, inFlight: 1 });
  } finally {
    run.stop();
    endConnects();
    await Promise.all([...closing]);
  }
}
