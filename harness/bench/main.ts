// `npm run bench`: runs the hot-path micro-benchmarks (./hot-paths.ts), prints
// one table per suite and the machine they ran on, and with `--json FILE`
// writes the results as a versioned file for comparing runs.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { describeError, EXIT, GauntletError, isGauntletError } from '../core/errors.js';
import { harnessVersion } from '../core/paths.js';
import { DEFAULT_TIMING, hotPathSuites, runSuite, type BenchTiming, type SuiteResult, type TaskStats } from './hot-paths.js';

/** Bump when a field changes meaning; readers refuse versions they do not know. */
const BENCH_FORMAT = 'gauntlet-bench/1';

const USAGE = `usage: node dist/harness/bench/main.js [--json FILE]

Runs Gauntlet's hot-path micro-benchmarks (${DEFAULT_TIMING.timeMs} ms per task after ${DEFAULT_TIMING.warmupMs} ms warm-up)
and prints one table per suite. --json FILE also writes the results (format ${BENCH_FORMAT}).`;

interface Machine {
  readonly cpu: string;
  readonly cores: number;
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
}

function machine(): Machine {
  const all = cpus();
  return { cpu: all[0]?.model.trim() ?? 'unknown', cores: all.length, node: process.version, platform: `${process.platform}-${process.arch}` };
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

function main(argv: readonly string[]): number {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: { json: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new GauntletError('USAGE', `${describeError(e)}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const started = Date.now();
  const timing = DEFAULT_TIMING;
  console.log(`Gauntlet hot-path benchmarks: tinybench, ${timing.timeMs} ms per task after ${timing.warmupMs} ms warm-up.\nµs are per op; x baseline = ops/s ÷ the baseline's ops/s (above 1 = faster).\n`);
  const results: SuiteResult[] = [];
  for (const suite of hotPathSuites()) {
    const r = runSuite(suite, timing);
    results.push(r);
    console.log(`${formatSuite(r)}\n`);
  }
  const m = machine();
  const runTimeMs = Date.now() - started;
  console.log(`Machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.platform}`);
  console.log(`Run time: ${(runTimeMs / 1000).toFixed(1)} s`);
  if (values.json !== undefined) {
    const file: BenchFile = { format: BENCH_FORMAT, gauntlet: harnessVersion(), startedAt: new Date(started).toISOString(), runTimeMs, timing, machine: m, suites: results };
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
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (isGauntletError(e)) {
    console.error(`gauntlet bench: ${e.message}`);
    process.exitCode = e.exitCode;
  } else {
    console.error(e);
    process.exitCode = EXIT.harness;
  }
}
