// HTTP load generator efficiency: Gauntlet's httpLoad 'http.request' beside wrk as the ceiling, httpLoad without pipelining (like for like with wrk) and undici for scale, one after the other against the same trivial keep-alive HTTP server in a child process of its own. httpLoad is hand-written on raw sockets because a stock client cannot saturate a device: on this 2-core machine (shared, figures vary run to run) wrk -t1 reached ~44-60k requests/s, httpLoad ~64-94k with 8 pipelined (1.47-1.57x wrk) and ~54-64k without (1.07-1.23x), undici's Pool ~23-43k.
//
// The server is Node's http module answering 200 "ok" to everything, alone in
// its process, so it gets one of the two cores and the load generator the
// other: whichever client leaves the server busiest is the fastest. wrk (one
// thread) does no pipelining; httpLoad and undici run with the same
// connections and pipelining depth, chosen to get the most out of httpLoad
// (stated in the setup line). Rows run in interleaved rounds and keep their
// best: a burst from another process lowers one round, never raises one.

import { execFile } from 'node:child_process';
import { Pool } from 'undici';
import type { HttpInterface } from '../../model/index.js';
import { spawnManaged, type ManagedProcess } from '../../../targets/interop/process.js';
import { which } from '../../../targets/interop/which.js';
import { httpLoad } from '../load/http.js';
import { nowMs } from '../load/latency.js';
import { localIo } from './tools.js';
import type { Comparison, ComparisonOptions, ComparisonRow, ComparisonRun } from './types.js';

const ID = 'http';
const TITLE = 'HTTP GET on keep-alive connections: Gauntlet httpLoad against wrk';
const UNIT = 'request/s';
const TARGET = 0.9;
const HOST = '127.0.0.1';
/** Connections for every row; httpLoad and undici pipeline PIPELINE requests on each, wrk one. */
const CONNECTIONS = 8;
const PIPELINE = 8;
const WARMUP_MS = 300;
/** Rounds per row at most (interleaved: wrk, httpLoad, ..., wrk, httpLoad, ...). */
const ROUNDS = 3;
const START_TIMEOUT_MS = 5000;
const WRK_MISSING = 'wrk not installed (Debian package wrk)';

/** The server: 200 "ok", keep-alive, in its own process; prints its port; ends when its parent does (stdin closes or setpriv). */
const SERVER = `
const http = require('node:http');
const s = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' });
  res.end('ok');
});
s.keepAliveTimeout = 60000;
s.headersTimeout = 61000;
s.listen(0, '${HOST}', () => console.log('port ' + s.address().port));
`;


const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function startServer(): Promise<{ proc: ManagedProcess; port: number }> {
  const proc = spawnManaged(process.execPath, ['-e', SERVER]);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const m = /port (\d+)/.exec(proc.logs());
    if (m) return { proc, port: Number(m[1]) };
    if (proc.exitInfo() || Date.now() > deadline) {
      await proc.stop(500);
      throw new Error(`the HTTP server did not start: ${proc.logs().slice(-400) || 'no output'}`);
    }
    await sleep(20);
  }
}

/** wrk -t1 -c CONNECTIONS for whole seconds: its "Requests/sec:" line. */
async function wrkRate(binary: string, port: number, seconds: number): Promise<number> {
  const out = await new Promise<string>((resolve, reject) => {
    execFile(binary, ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, `http://${HOST}:${port}/`], { timeout: (seconds + 10) * 1000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`wrk failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`no "Requests/sec:" in wrk's output: ${out.slice(0, 200)}`);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
  if (errors) throw new Error(`wrk saw errors: ${errors[0]}`);
  return Number(m[1]);
}

/** httpLoad http.request with CONNECTIONS x `pipeline`. */
async function oursRate(port: number, durationMs: number, pipeline: number): Promise<number> {
  const iface: HttpInterface = { id: 'http-server', protocol: 'http', role: 'server', host: HOST, port, probePath: '/' };
  const r = await httpLoad({
    path: 'http.request',
    iface,
    io: localIo(HOST, 'http-server', 3000),
    durationMs,
    maxOps: Number.MAX_SAFE_INTEGER,
    connections: CONNECTIONS,
    inFlight: pipeline,
    resource: '/',
  });
  if (r.skipped) throw new Error(r.skipped);
  if (r.errors > 0) throw new Error(`httpLoad saw ${r.errors} errors: ${r.errorDetail?.join('; ') ?? ''}`);
  return r.rate;
}

/** undici Pool, CONNECTIONS x PIPELINE requests kept in flight. */
async function undiciRate(port: number, durationMs: number): Promise<number> {
  const pool = new Pool(`http://${HOST}:${port}`, { connections: CONNECTIONS, pipelining: PIPELINE, keepAliveTimeout: 60_000 });
  let running = true;
  let done = 0;
  try {
    const workers = Array.from({ length: CONNECTIONS * PIPELINE }, async () => {
      while (running) {
        const { body } = await pool.request({ path: '/', method: 'GET' });
        await body.dump();
        done++;
      }
    });
    await sleep(WARMUP_MS);
    const c0 = done;
    const t0 = nowMs();
    await sleep(durationMs);
    const rate = (done - c0) / ((nowMs() - t0) / 1000);
    running = false;
    await Promise.all(workers);
    return rate;
  } finally {
    running = false;
    await pool.destroy().catch(() => undefined);
  }
}

const ROW_NAMES = ['wrk -t1', 'Gauntlet httpLoad', 'Gauntlet httpLoad, no pipelining', 'undici Pool'] as const;

export const httpComparison: ComparisonRun = async (o: ComparisonOptions): Promise<Comparison> => {
  // wrk counts whole seconds: rounds of whole seconds, the same for every row.
  const seconds = Math.max(1, Math.round(o.durationMs / 1000));
  const rounds = Math.min(ROUNDS, seconds);
  const roundSeconds = Math.max(1, Math.round(seconds / rounds));
  const base = { id: ID, title: TITLE, target: TARGET };
  const setup =
    `Node http server (200 "ok", keep-alive) alone in a child process on ${HOST}; ${CONNECTIONS} connections per row; httpLoad and undici pipeline ${PIPELINE} requests per connection (wrk: none); ` +
    `${rounds} interleaved round(s) of ${roundSeconds} s per row, best round kept (other processes on the machine only ever lower a round)`;
  const flags = (name: string) => (name === ROW_NAMES[0] ? { ceiling: true } : name === ROW_NAMES[1] ? { ours: true } : {});
  const rows: ComparisonRow[] = [];
  let server: { proc: ManagedProcess; port: number } | undefined;
  try {
    server = await startServer();
    const port = server.port;
    const wrk = which('wrk');
    const measured = [
      { name: ROW_NAMES[0], note: `${CONNECTIONS} connections, one request at a time each`, run: wrk ? () => wrkRate(wrk, port, roundSeconds) : undefined },
      { name: ROW_NAMES[1], note: `http.request, ${CONNECTIONS} connections x ${PIPELINE} pipelined, latency recorded`, run: () => oursRate(port, roundSeconds * 1000, PIPELINE) },
      { name: ROW_NAMES[2], note: `http.request, ${CONNECTIONS} connections, one request at a time each (like wrk)`, run: () => oursRate(port, roundSeconds * 1000, 1) },
      { name: ROW_NAMES[3], note: `${CONNECTIONS} connections x ${PIPELINE} pipelined`, run: () => undiciRate(port, roundSeconds * 1000) },
    ];
    const rates: number[][] = measured.map(() => []);
    const errors: (string | undefined)[] = measured.map((m) => (m.run ? undefined : WRK_MISSING));
    for (let round = 1; round <= rounds; round++) {
      for (const [i, row] of measured.entries()) {
        if (errors[i] !== undefined || !row.run) continue;
        o.log(`http: ${row.name}, round ${round}/${rounds}, ${roundSeconds} s ...`);
        try {
          rates[i]!.push(await row.run());
        } catch (e) {
          errors[i] = `failed: ${e instanceof Error ? e.message : String(e)}`;
        }
      }
    }
    for (const [i, row] of measured.entries()) {
      const r = rates[i]!;
      if (errors[i] !== undefined || r.length === 0) rows.push({ name: row.name, unit: UNIT, note: row.note, skipped: errors[i] ?? 'no round ran', ...flags(row.name) });
      else {
        rows.push({ name: row.name, unit: UNIT, rate: Math.max(...r), note: `${row.note}; rounds: ${r.map((x) => Math.round(x)).join(', ')} ${UNIT}`, ...flags(row.name) });
        o.log(`http: ${row.name}: best ${Math.round(Math.max(...r))} ${UNIT}`);
      }
    }
  } catch (e) {
    const why = `the HTTP server did not start: ${e instanceof Error ? e.message : String(e)}`;
    for (const name of ROW_NAMES) if (!rows.some((r) => r.name === name)) rows.push({ name, unit: UNIT, skipped: why, ...flags(name) });
  } finally {
    await server?.proc.stop(1000);
  }
  const ceiling = rows.find((r) => r.ceiling)?.rate;
  const ours = rows.find((r) => r.ours)?.rate;
  return { ...base, setup, rows, ...(ceiling && ours !== undefined ? { ratio: ours / ceiling } : {}) };
};
