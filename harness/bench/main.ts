// `npm run bench`: runs the hot-path micro-benchmarks (./hot-paths.ts), prints
// one table per suite and the machine they ran on, and with `--json FILE`
// writes the results as a versioned file for comparing runs.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { describeError, EXIT, GauntletError, isGauntletError } from '../core/errors.js';
import { harnessVersion } from '../core/paths.js';
import { machineOf, type MachineInfo } from '../core/machine.js';
import { DEFAULT_TIMING, hotPathSuites, runSuite, type BenchTiming, type SuiteResult, type TaskStats } from './hot-paths.js';
import { coapComparison } from './efficiency/coap.js';
import { httpComparison } from './efficiency/http.js';
import { mqttComparison } from './efficiency/mqtt.js';
import type { Comparison, ComparisonRun } from './efficiency/types.js';
import { ensureBenchPackages } from './efficiency/tools.js';

/** Bump when a field changes meaning; readers refuse versions they do not know. */
const BENCH_FORMAT = 'gauntlet-bench/1';

/** Measured time per row of a load generator comparison, ms. */
const LOAD_ROW_MS = 3000;

const COMPARISONS: readonly (readonly [string, ComparisonRun])[] = [
  ['http', httpComparison],
  ['mqtt', mqttComparison],
  ['coap', coapComparison],
];

const USAGE = `usage: npm run bench [-- --only hot|load] [--json FILE]

1. Hot paths: Gauntlet's codecs, case generation, mutation and the fuzz check
   loop, with tinybench (${DEFAULT_TIMING.timeMs} ms per task after ${DEFAULT_TIMING.warmupMs} ms warm-up), each beside
   its baseline (mqtt-packet, coap-packet, llhttp, raw sockets).
2. Load generator efficiency: Gauntlet's device load paths beside a ceiling on
   the same local server in the same run (wrk for HTTP, a raw-socket writer and
   mosquitto_pub for MQTT into Mosquitto, a raw dgram loop for CoAP into
   libcoap), ${LOAD_ROW_MS / 1000} s per row; the ratio says whether the generator could be
   what limits a device's figure (target: 0.9 or more). A missing tool (Debian
   packages wrk, mosquitto, mosquitto-clients, libcoap3-bin) skips its row and says so.

--only hot|load runs one part. --json FILE also writes the results (format ${BENCH_FORMAT}).`;

interface Machine extends MachineInfo {
  readonly node: string;
  readonly platform: string;
}

interface BenchFile {
  readonly format: typeof BENCH_FORMAT;
  readonly gauntlet: string;
  readonly startedAt: string;
  readonly runTimeMs: number;
  readonly timing: BenchTiming;
  readonly machine: Machine;
  readonly suites: readonly SuiteResult[];
  readonly comparisons: readonly Comparison[];
}

function machine(): Machine {
  return { ...machineOf(), node: process.version, platform: `${process.platform}-${process.arch}` };
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const micros = (us: number) => (us < 1 ? us.toFixed(3) : us < 100 ? us.toFixed(2) : us.toFixed(1));

function ratio(t: TaskStats): string {
  if (t.baseline) return 'baseline';
  if (t.xBaseline === undefined) return '';
  return `${t.xBaseline < 1 ? t.xBaseline.toPrecision(2) : t.xBaseline.toFixed(2)}x`;
}

function formatSuite(s: SuiteResult): string {
  const head = ['task', 'ops/s', 'mean µs', 'p99 µs', 'samples', 'ops/sample', 'x baseline'];
  const rows = s.tasks.map((t) => [t.name, int.format(t.opsPerSec), micros(t.meanUs), micros(t.p99Us), int.format(t.samples), int.format(t.batch), ratio(t)]);
  const hasBaseline = s.tasks.some((t) => t.baseline);
  const cols = hasBaseline ? head.length : head.length - 1;
  const width = Array.from({ length: cols }, (_, i) => Math.max(head[i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    '  ' +
    cells
      .slice(0, cols)
      .map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!)))
      .join('  ');
  return [`${s.title}; one op = one ${s.unit}`, line(head), line(width.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const rateText = (n: number) => int.format(n);

function formatComparison(c: Comparison): string {
  const ceiling = c.rows.find((r) => r.ceiling)?.rate;
  const head = ['row', 'rate /s', 'x ceiling', 'note'];
  const rows = c.rows.map((r) => [
    r.name,
    r.rate === undefined ? '-' : rateText(r.rate),
    r.rate === undefined || !ceiling ? '' : (r.rate / ceiling).toFixed(2),
    r.skipped ? `skipped: ${r.skipped}` : (r.note ?? ''),
  ]);
  const width = [0, 1, 2].map((i) => Math.max(head[i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => `  ${cells[0]!.padEnd(width[0]!)}  ${cells[1]!.padStart(width[1]!)}  ${cells[2]!.padStart(width[2]!)}  ${cells[3]}`.trimEnd();
  const verdict =
    c.ratio === undefined ? 'ratio: not measured (a row was skipped)' : `ratio Gauntlet / ceiling: ${c.ratio.toFixed(2)} (target ${c.target.toFixed(2)}: ${c.ratio >= c.target ? 'met' : 'NOT met'})`;
  return [`${c.title}`, `  ${c.setup}`, line(head), line(width.map((w) => '-'.repeat(w)).concat('----')), ...rows.map(line), `  ${verdict}`].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { json: { type: 'string' }, only: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new GauntletError('USAGE', `${describeError(e)}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (values.only !== undefined && values.only !== 'hot' && values.only !== 'load') throw new GauntletError('USAGE', `--only takes hot or load (got "${values.only}")\n${USAGE}`);
  const hot = values.only !== 'load';
  const load = values.only !== 'hot';
  const started = Date.now();
  const timing = DEFAULT_TIMING;
  const results: SuiteResult[] = [];
  if (hot) {
    console.log(`Gauntlet hot-path benchmarks: tinybench, ${timing.timeMs} ms per task after ${timing.warmupMs} ms warm-up.\nµs are per op; x baseline = ops/s ÷ the baseline's ops/s (above 1 = faster).\n`);
    for (const suite of hotPathSuites()) {
      const r = runSuite(suite, timing);
      results.push(r);
      console.log(`${formatSuite(r)}\n`);
    }
  }
  const comparisons: Comparison[] = [];
  if (load) {
    console.log(`Load generator efficiency: ${LOAD_ROW_MS / 1000} s per row, every row against the same local server in this run.\n`);
    ensureBenchPackages((l) => console.log(l));
    for (const [name, run] of COMPARISONS) {
      const c = await run({ durationMs: LOAD_ROW_MS, log: (l) => console.log(`  ${l.startsWith(`${name}:`) ? l : `${name}: ${l}`}`) });
      comparisons.push(c);
      console.log(`${formatComparison(c)}\n`);
    }
  }
  const m = machine();
  const runTimeMs = Date.now() - started;
  console.log(`Machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.platform}`);
  console.log(`Run time: ${(runTimeMs / 1000).toFixed(1)} s`);
  if (values.json !== undefined) {
    const file: BenchFile = { format: BENCH_FORMAT, gauntlet: harnessVersion(), startedAt: new Date(started).toISOString(), runTimeMs, timing, machine: m, suites: results, comparisons };
    try {
      mkdirSync(dirname(values.json), { recursive: true });
      writeFileSync(values.json, `${JSON.stringify(file, null, 2)}\n`);
    } catch (e) {
      throw new GauntletError('REPORT_WRITE', `cannot write ${values.json}: ${describeError(e)}`, { cause: e });
    }
    console.log(`Results: ${values.json}`);
  }
  return EXIT.ok;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (isGauntletError(e)) {
    console.error(`gauntlet bench: ${e.message}`);
    process.exitCode = e.exitCode;
  } else {
    console.error(e);
    process.exitCode = EXIT.harness;
  }
}
