// CoAP load generator efficiency: Gauntlet's coapLoad 'coap.get' beside a hand-written raw dgram ceiling (pre-encoded datagrams: the stock `coap` client cannot saturate a device, and it is kept as a third row only to show the scale), all against one libcoap coap-server-notls on loopback in the same run.
//
// The ceiling is the least a CoAP client can do per request: one socket send
// of a pre-encoded confirmable GET per answer counted, no latency, no token
// generations, no error accounting. Both rows use the same sockets and the
// same requests in flight, chosen to keep the server busy (it is
// single-threaded; on a 2-core machine client and server share the CPUs,
// so the ceiling is whatever the pair of them manage together).

import type { Socket } from 'node:dgram';
import { Agent, request } from 'coap';
import { generate } from 'coap-packet';
import { startLibcoap, type LibcoapHandle } from '../../../targets/interop/libcoap.js';
import { which } from '../../../targets/interop/which.js';
import { coapLoad } from '../load/coap.js';
import { nowMs } from '../load/latency.js';
import { closeQuietly, openConnectedSockets, uriOptions } from '../load/udp-sockets.js';
import { localIo } from './tools.js';
import type { Comparison, ComparisonOptions, ComparisonRow, ComparisonRun } from './types.js';

const ID = 'coap';
const TITLE = 'CoAP confirmable GET: Gauntlet coapLoad against a raw dgram ceiling';
const UNIT = 'request/s';
const TARGET = 0.9;
const MISSING = 'libcoap3-bin not installed (coap-server-notls)';
/** A small dynamic resource every libcoap example server serves. */
const RESOURCE = '/time';
/** UDP sockets and requests in flight per socket, for every row. */
const CONNECTIONS = 2;
const IN_FLIGHT = 16;
const WARMUP_MS = 300;
/** The ceiling and ours alternate in this many rounds each (a shared machine's load drifts; alternation spreads it over both rows). */
const ROUNDS = 2;
/** A ceiling slot whose answer did not come within this resends (loss must not shrink the window). */
const RESEND_MS = 200;


const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Answers (and the ms they were counted over) of the least a client can do: pre-encoded CON GETs, one send per answer. */
export async function rawCeiling(host: string, port: number, resource: string, connections: number, inFlight: number, durationMs: number): Promise<{ answers: number; elapsedMs: number }> {
  const { sockets, failures } = await openConnectedSockets(host, port, connections, 1000);
  if (sockets.length < connections) {
    for (const s of sockets) closeQuietly(s);
    throw new Error(`raw ceiling: sockets to ${host}:${port} failed: ${failures.join('; ')}`);
  }
  const template = generate({ code: 'GET', confirmable: true, messageId: 0, token: Buffer.alloc(2), options: uriOptions(resource) });
  let counting = false;
  let answers = 0;
  const state = sockets.map((socket: Socket) => {
    const bufs = Array.from({ length: inFlight }, (_, slot) => {
      const b = Buffer.from(template);
      b[4] = slot >>> 8;
      b[5] = slot & 0xff;
      return b;
    });
    const mids = new Uint16Array(inFlight);
    const sentAt = new Float64Array(inFlight);
    let mid = 0;
    const send = (slot: number) => {
      const b = bufs[slot]!;
      mid = (mid + 1) & 0xffff;
      b[2] = mid >>> 8;
      b[3] = mid & 0xff;
      mids[slot] = mid;
      sentAt[slot] = nowMs();
      try {
        socket.send(b);
      } catch {
        // closing
      }
    };
    socket.on('message', (m: Buffer) => {
      if (m.length < 6) return;
      const slot = (m[4]! << 8) | m[5]!;
      if (slot >= inFlight || mids[slot] !== ((m[2]! << 8) | m[3]!)) return;
      if (counting) answers++;
      send(slot);
    });
    return { send, sentAt };
  });
  const resend = setInterval(() => {
    const now = nowMs();
    for (const s of state) for (let i = 0; i < inFlight; i++) if (now - s.sentAt[i]! > RESEND_MS) s.send(i);
  }, RESEND_MS / 2);
  try {
    for (const s of state) for (let i = 0; i < inFlight; i++) s.send(i);
    await sleep(Math.min(WARMUP_MS, durationMs / 10));
    counting = true;
    const t0 = nowMs();
    await sleep(durationMs);
    counting = false;
    return { answers, elapsedMs: nowMs() - t0 };
  } finally {
    clearInterval(resend);
    for (const s of sockets) closeQuietly(s);
  }
}

/** The `coap` package's client: the same requests in flight, one agent (socket) per connection. */
export async function coapPackageRate(host: string, port: number, resource: string, connections: number, inFlight: number, durationMs: number): Promise<number> {
  const agents = Array.from({ length: connections }, () => new Agent({ type: 'udp4' }));
  let running = true;
  let counting = false;
  let answers = 0;
  const one = (agent: Agent): void => {
    if (!running) return;
    const req = request({ hostname: host, port, pathname: resource, method: 'GET', confirmable: true, agent });
    let done = false;
    const again = () => {
      if (done) return;
      done = true;
      setImmediate(() => one(agent));
    };
    req.on('response', (res: { on(e: string, f: () => void): void }) => {
      if (counting) answers++;
      res.on('error', () => {});
      again();
    });
    req.on('error', again);
    req.on('timeout', again);
    req.end();
  };
  try {
    for (const a of agents) for (let i = 0; i < inFlight; i++) one(a);
    await sleep(Math.min(WARMUP_MS, durationMs / 10));
    counting = true;
    const t0 = nowMs();
    await sleep(durationMs);
    counting = false;
    return answers / ((nowMs() - t0) / 1000);
  } finally {
    running = false;
    for (const a of agents) {
      try {
        a.close();
      } catch {
        // already closed
      }
    }
  }
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const cpuOf = (u: NodeJS.CpuUsage) => u.user + u.system;
/** Client CPU per op (warm-up and drain included): the figure a loaded machine disturbs least. */
const perOp = (cpuUs: number, ops: number) => (ops > 0 ? `client CPU ${(cpuUs / ops).toFixed(1)} µs/op` : 'no ops');

export const coapComparison: ComparisonRun = async (o: ComparisonOptions): Promise<Comparison> => {
  const durationMs = Math.max(100, o.durationMs);
  const names = { ceiling: 'raw dgram loop (pre-encoded CON GET, no accounting)', ours: 'Gauntlet coapLoad coap.get', pkg: '`coap` npm client (request per op)' };
  const binary = which('coap-server-notls');
  const allSkipped = (why: string): Comparison => ({
    id: ID,
    title: TITLE,
    setup: `libcoap coap-server-notls on 127.0.0.1, confirmable GET ${RESOURCE}, ${CONNECTIONS} UDP sockets x ${IN_FLIGHT} in flight`,
    rows: [
      { name: names.ceiling, unit: UNIT, ceiling: true, skipped: why },
      { name: names.ours, unit: UNIT, ours: true, skipped: why },
      { name: names.pkg, unit: UNIT, skipped: why },
    ],
    target: TARGET,
  });
  if (!binary) return allSkipped(MISSING);
  let server: LibcoapHandle | undefined;
  const rows: ComparisonRow[] = [];
  try {
    try {
      server = await startLibcoap({ binary, verbosity: 3 });
    } catch (e) {
      return allSkipped(`libcoap did not start: ${(e as Error).message.split('\n')[0]}`);
    }
    const { host, port } = server;
    const setup =
      `libcoap ${binary} (pid ${server.pid ?? '?'}) on ${host}:${port}, confirmable GET ${RESOURCE}; ` +
      `every row: ${CONNECTIONS} UDP sockets x ${IN_FLIGHT} requests in flight, ${durationMs} ms measured, the same server; ` +
      `the ceiling and Gauntlet alternate in ${ROUNDS} rounds of ${Math.max(100, Math.round(durationMs / ROUNDS))} ms each (each round after a short warm-up); ` +
      `client and server share this machine's CPUs`;

    const iface = { id: 'libcoap', protocol: 'coap' as const, host, port, role: 'server' as const };
    const io = localIo(host, 'libcoap', 1000);
    const roundMs = Math.max(100, Math.round(durationMs / ROUNDS));
    const raw = { answers: 0, elapsedMs: 0, cpuUs: 0, failed: undefined as string | undefined };
    const mine = { ops: 0, errors: 0, elapsedMs: 0, cpuUs: 0, p50: [] as number[], p99: [] as number[], failed: undefined as string | undefined };
    for (let round = 1; round <= ROUNDS; round++) {
      o.log(`coap: raw ceiling ${roundMs} ms (round ${round}/${ROUNDS})`);
      if (raw.failed === undefined) {
        try {
          const cpu = process.cpuUsage();
          const r = await rawCeiling(host, port, RESOURCE, CONNECTIONS, IN_FLIGHT, roundMs);
          raw.cpuUs += cpuOf(process.cpuUsage(cpu));
          raw.answers += r.answers;
          raw.elapsedMs += r.elapsedMs;
        } catch (e) {
          raw.failed = (e as Error).message;
        }
      }
      o.log(`coap: Gauntlet coapLoad ${roundMs} ms (round ${round}/${ROUNDS})`);
      if (mine.failed === undefined) {
        try {
          const cpu = process.cpuUsage();
          const r = await coapLoad({ path: 'coap.get', iface, io, durationMs: roundMs, maxOps: Number.MAX_SAFE_INTEGER, connections: CONNECTIONS, inFlight: IN_FLIGHT, resource: RESOURCE });
          mine.cpuUs += cpuOf(process.cpuUsage(cpu));
          if (r.skipped !== undefined) mine.failed = r.skipped;
          mine.ops += r.ops;
          mine.errors += r.errors;
          mine.elapsedMs += r.elapsedMs;
          if (r.latency) {
            mine.p50.push(r.latency.p50Ms);
            mine.p99.push(r.latency.p99Ms);
          }
        } catch (e) {
          mine.failed = (e as Error).message;
        }
      }
    }
    const ceiling: ComparisonRow =
      raw.failed !== undefined || raw.elapsedMs <= 0
        ? { name: names.ceiling, unit: UNIT, ceiling: true, skipped: raw.failed ?? 'did not run' }
        : { name: names.ceiling, rate: raw.answers / (raw.elapsedMs / 1000), unit: UNIT, ceiling: true, note: `${int(raw.answers)} answers, ${perOp(raw.cpuUs, raw.answers)}; a slot silent for ${RESEND_MS} ms is resent` };
    const ours: ComparisonRow =
      mine.failed !== undefined || mine.elapsedMs <= 0
        ? { name: names.ours, unit: UNIT, ours: true, skipped: mine.failed ?? 'did not run' }
        : {
            name: names.ours,
            rate: mine.ops / (mine.elapsedMs / 1000),
            unit: UNIT,
            ours: true,
            note: `${int(mine.ops)} ops, ${mine.errors} errors, ${perOp(mine.cpuUs, mine.ops)}${mine.p50.length > 0 ? `, p50 ${Math.max(...mine.p50).toFixed(2)} ms, p99 ${Math.max(...mine.p99).toFixed(2)} ms (worst round)` : ''}`,
          };
    rows.push(ceiling, ours);

    o.log(`coap: \`coap\` npm client ${durationMs} ms`);
    rows.push(
      await coapPackageRate(host, port, RESOURCE, CONNECTIONS, IN_FLIGHT, durationMs).then(
        (rate): ComparisonRow => ({ name: names.pkg, rate, unit: UNIT, note: 'for scale: the stock client' }),
        (e: Error): ComparisonRow => ({ name: names.pkg, unit: UNIT, skipped: e.message }),
      ),
    );
    const ratio = ceiling.rate && ours.rate !== undefined ? ours.rate / ceiling.rate : undefined;
    return { id: ID, title: TITLE, setup, rows, ...(ratio !== undefined ? { ratio } : {}), target: TARGET };
  } finally {
    await server?.close();
  }
};
