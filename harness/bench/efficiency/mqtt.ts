// MQTT load generator efficiency: Gauntlet's mqttLoad 'mqtt.publish.qos0' beside a hand-written raw-socket ceiling, with the open-loop flood, mosquitto_pub -l and mqtt.js for scale, all into one Mosquitto on loopback in the same run. Hand-written raw sockets because the stock clients cannot saturate a broker: on this 2-core machine (shared with other jobs, so single runs vary widely) into Mosquitto 2.0.11 the raw ceiling's best rounds reached ~200-280k msg/s and mqttLoad 0.93-1.0 of it, mqtt.js ~130-210k and mosquitto_pub -l ~65-150k in single runs.
//
// Every row is counted the same way: messages a subscriber (QoS 0) received
// on the row's own topic during the row's measured phase. The ceiling is the
// least a publisher can do: the same pre-encoded batch buffer written again
// and again while the socket takes it ('drain' honoured), nothing patched,
// nothing timed, at most IN_FLIGHT messages per connection ahead of what the
// subscriber counted (as mqttLoad runs; the open-loop flood row shows that
// the window costs nothing). Mosquitto is single-threaded; on two cores
// broker and load share the CPUs, so the ceiling is whatever the pair of
// them manage together. The ceiling and mqttLoad run in interleaved rounds
// and keep their best: a burst from another process on the machine lowers
// one round, never raises one.

import { spawn, type ChildProcess } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { connectAsync, type MqttClient } from 'mqtt';
import type { MqttInterface } from '../../model/index.js';
import { startMosquitto, type MosquittoHandle } from '../../../targets/interop/mosquitto.js';
import { which } from '../../../targets/interop/which.js';
import { mqttLoad } from '../load/mqtt.js';
import { nowMs } from '../load/latency.js';
import { DISCONNECT, MqttFrames, connectPacket, publishTemplate, subscribePacket } from '../load/tcp-mqtt.js';
import { localIo } from './tools.js';
import type { Comparison, ComparisonOptions, ComparisonRow, ComparisonRun } from './types.js';

const ID = 'mqtt';
const TITLE = 'MQTT QoS 0 publish into Mosquitto: Gauntlet mqttLoad against a raw-socket ceiling';
const UNIT = 'msg/s';
const TARGET = 0.9;
const HOST = '127.0.0.1';
/** Publisher connections of the ceiling and of mqttLoad. */
const CONNECTIONS = 2;
/** mqttLoad's QoS 0 window: messages per publisher the observer has not seen yet. */
const IN_FLIGHT = 2048;
const PAYLOAD_BYTES = 64;
const WARMUP_MS = 300;
/** The ceiling and mqttLoad run in up to this many interleaved rounds (durationMs split between them, MIN_ROUND_MS each at least). */
const ROUNDS = 5;
const MIN_ROUND_MS = 600;
/** Bound on each connect and CONNACK/SUBACK. */
const CONNECT_TIMEOUT_MS = 3000;
const BATCH_BYTES = 16 * 1024;
/** A message the subscriber has not seen for this long is taken as dropped (as in mqttLoad). */
const LOSS_MS = 200;

/**
 * The interop config logs every packet (log_type all: a debug line per
 * PUBLISH received and sent), which caps Mosquitto near 10k msg/s whatever
 * publishes. `log_type none` clears that mask; information keeps the
 * "running" line startMosquitto waits for, notice the connection messages.
 */
const QUIET_LOG = ['log_type none', 'log_type error', 'log_type warning', 'log_type notice', 'log_type information'].join('\n');


const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A raw MQTT 3.1.1 session (CONNACK 0 awaited, and SUBACK with `subscribe`); counts the PUBLISH packets it receives after that. */
async function rawSession(port: number, clientId: string, subscribe?: string): Promise<RawSession> {
  const socket = netConnect({ host: HOST, port, noDelay: true });
  socket.on('error', () => undefined);
  const frames = new MqttFrames();
  let step: (b0: number, buf: Buffer, start: number) => void = () => undefined;
  const session: RawSession = { socket, publishes: 0, onData: () => undefined };
  const sink = { frame: (b0: number, buf: Buffer, start: number) => (b0 >> 4 === 3 ? session.publishes++ : step(b0, buf, start)) };
  socket.on('data', (chunk: Buffer) => {
    if (frames.feed(chunk, sink) !== undefined) socket.destroy();
    session.onData();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no session with ${HOST}:${port} within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      socket.once('close', () => reject(new Error(`${HOST}:${port} closed the connection`)));
      const ok = () => {
        clearTimeout(timer);
        resolve();
      };
      step = (b0, buf, start) => {
        if (b0 >> 4 === 2) {
          if (buf[start + 1] !== 0) return reject(new Error(`CONNACK ${buf[start + 1]}`));
          if (subscribe === undefined) return ok();
          socket.write(subscribePacket(subscribe, 4));
        } else if (b0 >> 4 === 9) ok();
      };
      socket.once('connect', () => socket.write(connectPacket(clientId, 4)));
    });
  } catch (e) {
    socket.destroy();
    throw e;
  }
  return session;
}

interface RawSession {
  readonly socket: Socket;
  /** PUBLISH packets received. */
  publishes: number;
  /** After each chunk read. */
  onData: () => void;
}

/** Messages per second a counting subscriber on `topic` saw while `drive` ran for WARMUP_MS + durationMs. */
async function countedRate(port: number, topic: string, durationMs: number, drive: (running: () => boolean, observer: RawSession) => Promise<void>): Promise<number> {
  const observer = await rawSession(port, `gauntlet-eff-obs-${process.pid}`, topic);
  let running = true;
  try {
    const driving = drive(() => running, observer);
    await sleep(WARMUP_MS);
    const c0 = observer.publishes;
    const t0 = nowMs();
    await sleep(durationMs);
    const c1 = observer.publishes;
    const t1 = nowMs();
    running = false;
    await driving;
    return (c1 - c0) / ((t1 - t0) / 1000);
  } finally {
    running = false;
    observer.socket.destroy();
  }
}

/**
 * The ceiling: each publisher writes one pre-encoded batch buffer, unchanged,
 * while the socket takes it. With `window`, no more than that many messages
 * per publisher may be ahead of the subscriber's count (what mqttLoad does;
 * a message unseen for LOSS_MS counts as dropped); without, an open-loop flood.
 */
export async function rawCeiling(port: number, topic: string, connections: number, durationMs: number, window?: number): Promise<number> {
  const packet = publishTemplate(topic, 0, Buffer.alloc(PAYLOAD_BYTES), 4).bytes;
  const count = Math.max(1, Math.floor(BATCH_BYTES / packet.length));
  const batch = Buffer.concat(Array.from({ length: count }, () => packet));
  const publishers = await Promise.all(Array.from({ length: connections }, (_, i) => rawSession(port, `gauntlet-eff-raw-${process.pid}-${i}`)));
  const limit = window === undefined ? Number.POSITIVE_INFINITY : window * connections;
  let sent = 0;
  let seen = 0;
  let seenAt = Date.now();
  const blocked: (() => void)[] = [];
  try {
    return await countedRate(port, topic, durationMs, (running, observer) => {
      const lossCheck = setInterval(() => {
        if (sent - seen > 0 && Date.now() - seenAt > LOSS_MS) {
          seen = sent;
          blocked.splice(0).forEach((f) => f());
        }
      }, LOSS_MS / 4);
      observer.onData = () => {
        const n = observer.publishes;
        if (n !== seen) seenAt = Date.now();
        seen = Math.max(seen, n);
        if (blocked.length > 0) blocked.splice(0).forEach((f) => f());
      };
      seen = observer.publishes;
      return Promise.all(
        publishers.map(
          ({ socket }) =>
            new Promise<void>((resolve) => {
              const pump = () => {
                if (!running() || socket.destroyed) return resolve();
                for (let b = 0; b < 4; b++) {
                  if (sent - seen + count > limit) return void blocked.push(pump);
                  sent += count;
                  if (!socket.write(batch)) return void socket.once('drain', pump);
                }
                setImmediate(pump);
              };
              socket.once('close', () => resolve());
              pump();
            }),
        ),
      ).then(() => clearInterval(lossCheck));
    });
  } finally {
    for (const p of publishers) p.socket.end(DISCONNECT);
    await sleep(50);
    for (const p of publishers) p.socket.destroy();
  }
}

/** mosquitto_pub -l: one message per stdin line, fed from a pipe as fast as it reads. */
async function mosquittoPubRate(binary: string, port: number, topic: string, durationMs: number): Promise<number> {
  const line = Buffer.from(`${'x'.repeat(PAYLOAD_BYTES - 1)}\n`);
  const chunk = Buffer.concat(Array.from({ length: 1024 }, () => line));
  let child: ChildProcess | undefined;
  try {
    return await countedRate(port, topic, durationMs, async (running) => {
      const c = spawn(binary, ['-h', HOST, '-p', String(port), '-t', topic, '-q', '0', '-l', '-i', `gauntlet-eff-mp-${process.pid}`], { stdio: ['pipe', 'ignore', 'pipe'] });
      child = c;
      c.stdin!.on('error', () => undefined);
      await new Promise<void>((resolve) => {
        const pump = () => {
          if (!running() || c.exitCode !== null || c.stdin!.destroyed) return resolve();
          if (!c.stdin!.write(chunk)) return void c.stdin!.once('drain', pump);
          setImmediate(pump);
        };
        c.once('exit', () => resolve());
        pump();
      });
    });
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
    }
  }
}

/** mqtt.js: client.publish QoS 0 in a loop, pausing while its stream buffers. */
async function mqttJsRate(port: number, topic: string, durationMs: number): Promise<number> {
  const client: MqttClient = await connectAsync({ host: HOST, port, protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: CONNECT_TIMEOUT_MS });
  const payload = Buffer.alloc(PAYLOAD_BYTES);
  try {
    return await countedRate(
      port,
      topic,
      durationMs,
      (running) =>
        new Promise<void>((resolve) => {
          const pump = () => {
            if (!running() || !client.connected) return resolve();
            for (let i = 0; i < 256; i++) client.publish(topic, payload, { qos: 0 });
            const stream = client.stream as { writableNeedDrain?: boolean; once(e: 'drain', f: () => void): void };
            if (stream.writableNeedDrain) stream.once('drain', pump);
            else setImmediate(pump);
          };
          pump();
        }),
    );
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

/** mqttLoad mqtt.publish.qos0 with the ceiling's connections: its rate. */
async function oursRate(port: number, topic: string, durationMs: number, log: (line: string) => void): Promise<number> {
  const iface: MqttInterface = { id: 'mosquitto', protocol: 'mqtt', role: 'server', host: HOST, port, version: 4 };
  const r = await mqttLoad({
    path: 'mqtt.publish.qos0',
    iface,
    io: localIo(HOST, 'mosquitto', CONNECT_TIMEOUT_MS),
    durationMs,
    maxOps: Number.MAX_SAFE_INTEGER,
    connections: CONNECTIONS,
    inFlight: IN_FLIGHT,
    resource: topic,
    payloadBytes: PAYLOAD_BYTES,
  });
  if (r.skipped) throw new Error(r.skipped);
  if (r.errors > 0) log(`mqtt: mqttLoad errors: ${r.errorDetail?.join('; ') ?? r.errors}`);
  return r.rate;
}

const ROW_NAMES = ['raw socket (ceiling)', 'Gauntlet mqttLoad', 'raw socket, open-loop flood', 'mosquitto_pub -l', 'mqtt.js'] as const;

export const mqttComparison: ComparisonRun = async (o: ComparisonOptions): Promise<Comparison> => {
  const base = { id: ID, title: TITLE, target: TARGET };
  const rounds = Math.max(1, Math.min(ROUNDS, Math.floor(o.durationMs / MIN_ROUND_MS)));
  const roundMs = Math.max(MIN_ROUND_MS, Math.round(o.durationMs / rounds));
  const setup =
    `Mosquitto (debug log off) on ${HOST}, anonymous; QoS 0, ${PAYLOAD_BYTES}-byte payloads; ceiling and mqttLoad: ${CONNECTIONS} publisher connections, at most ${IN_FLIGHT} messages per connection ahead of the subscriber, ` +
    `${rounds} interleaved round(s) of ${roundMs} ms each, best round kept (other processes on the machine only ever lower a round); the other rows ${o.durationMs} ms once; ` +
    `every row counted by a QoS 0 subscriber on its own topic after ${WARMUP_MS} ms warm-up`;
  const flags = (name: string) => (name === ROW_NAMES[0] ? { ceiling: true } : name === ROW_NAMES[1] ? { ours: true } : {});
  const mosquitto = which('mosquitto');
  if (!mosquitto) {
    const skipped = 'mosquitto not installed (Debian package mosquitto)';
    return { ...base, setup, rows: ROW_NAMES.map((name) => ({ name, unit: UNIT, skipped, ...flags(name) })) };
  }
  let broker: MosquittoHandle | undefined;
  const rows: ComparisonRow[] = [];
  let serial = 0;
  const topic = (row: string) => `gauntlet/efficiency/${process.pid}/${row}/${++serial}`;
  const failed = (e: unknown) => `failed: ${e instanceof Error ? e.message : String(e)}`;
  const once = async (name: string, note: string, measure: () => Promise<number>): Promise<void> => {
    o.log(`mqtt: ${name}, ${o.durationMs} ms ...`);
    try {
      const rate = await measure();
      rows.push({ name, unit: UNIT, rate, note, ...flags(name) });
      o.log(`mqtt: ${name}: ${Math.round(rate)} ${UNIT}`);
    } catch (e) {
      rows.push({ name, unit: UNIT, note, skipped: failed(e), ...flags(name) });
    }
  };
  try {
    broker = await startMosquitto({ binary: mosquitto, anonymous: true, extraConfig: QUIET_LOG });
    const port = broker.port;
    // The two rows the ratio is about: interleaved rounds, best kept.
    const paired = [
      { name: ROW_NAMES[0], note: 'one pre-encoded batch written unchanged, nothing timed', run: () => rawCeiling(port, topic('raw'), CONNECTIONS, roundMs, IN_FLIGHT) },
      { name: ROW_NAMES[1], note: 'mqtt.publish.qos0: timestamped payloads, end-to-end latency recorded', run: () => oursRate(port, topic('ours'), roundMs, o.log) },
    ];
    const rates: number[][] = paired.map(() => []);
    const errors: (string | undefined)[] = paired.map(() => undefined);
    for (let round = 1; round <= rounds; round++) {
      for (const [i, row] of paired.entries()) {
        if (errors[i] !== undefined) continue;
        o.log(`mqtt: ${row.name}, round ${round}/${rounds}, ${roundMs} ms ...`);
        try {
          rates[i]!.push(await row.run());
        } catch (e) {
          errors[i] = failed(e);
        }
      }
    }
    for (const [i, row] of paired.entries()) {
      const r = rates[i]!;
      if (errors[i] !== undefined || r.length === 0) rows.push({ name: row.name, unit: UNIT, note: row.note, skipped: errors[i] ?? 'no round ran', ...flags(row.name) });
      else {
        rows.push({ name: row.name, unit: UNIT, rate: Math.max(...r), note: `${row.note}; rounds: ${r.map((x) => Math.round(x)).join(', ')} ${UNIT}`, ...flags(row.name) });
        o.log(`mqtt: ${row.name}: best ${Math.round(Math.max(...r))} ${UNIT}`);
      }
    }
    await once(ROW_NAMES[2], `${CONNECTIONS} connections writing while the socket takes them, no window: the broker's queues fill`, () => rawCeiling(port, topic('flood'), CONNECTIONS, o.durationMs));
    const pub = which('mosquitto_pub');
    if (pub) await once(ROW_NAMES[3], 'one process, one message per stdin line, fed from a pipe', () => mosquittoPubRate(pub, port, topic('mosquitto-pub'), o.durationMs));
    else rows.push({ name: ROW_NAMES[3], unit: UNIT, skipped: 'mosquitto_pub not installed (Debian package mosquitto-clients)' });
    await once(ROW_NAMES[4], 'one client, publish() QoS 0 in a loop, pausing on drain', () => mqttJsRate(port, topic('mqttjs'), o.durationMs));
  } catch (e) {
    const why = `broker did not start: ${e instanceof Error ? e.message : String(e)}`;
    for (const name of ROW_NAMES) if (!rows.some((r) => r.name === name)) rows.push({ name, unit: UNIT, skipped: why, ...flags(name) });
  } finally {
    await broker?.close();
  }
  const ceiling = rows.find((r) => r.ceiling)?.rate;
  const ours = rows.find((r) => r.ours)?.rate;
  return { ...base, setup, rows, ...(ceiling && ours !== undefined ? { ratio: ours / ceiling } : {}) };
};
