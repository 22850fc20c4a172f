// Device benchmark results as a table: on the console at the end of a run
// and in bench.md beside report.json (BenchWriter), with the machine, Node
// version and the settings each path ran with, so a lab can file it and
// compare it release to release.

import { BENCH_UNITS, type PathResult, type Report } from '../model/index.js';
import { rateText } from '../bench/floors.js';
import { ReportFileWriter } from './report-file-writer.js';

export const BENCH_FILE = 'bench.md';

const n0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const ms = (v: number | undefined) => (v === undefined ? '' : v >= 100 ? n0.format(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const mbps = (b: number | undefined) => (b === undefined ? '' : (b / 1e6).toFixed(2));

export const BENCH_HEAD = ['interface', 'path', 'rate /s', 'unit', 'MB/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'conns x in flight', 'note'] as const;

/** One row per path: cells in BENCH_HEAD order. */
export function benchRows(results: readonly PathResult[]): string[][] {
  return results.map((r) => {
    const note = r.skipped ? `not measured: ${r.skipped}` : [...(r.errorDetail?.length ? [`errors: ${r.errorDetail.join('; ')}`] : []), ...r.notes].join('; ');
    return r.skipped
      ? [r.interface, r.path, '', BENCH_UNITS[r.path], '', '', '', '', '', '', '', note]
      : [
          r.interface,
          r.path,
          rateText(r.rate),
          BENCH_UNITS[r.path],
          mbps(r.bytesPerSec),
          ms(r.latency?.p50Ms),
          ms(r.latency?.p90Ms),
          ms(r.latency?.p99Ms),
          ms(r.latency?.maxMs),
          n0.format(r.errors),
          `${r.settings.connections} x ${r.settings.inFlight}`,
          note,
        ];
  });
}

/** A plain-text table (right-aligned figures); `noteWidth` cuts the note column. */
export function benchTable(results: readonly PathResult[], noteWidth = 80): string[] {
  const rows = benchRows(results).map((r) => r.map((c, i) => (i === r.length - 1 && c.length > noteWidth ? `${c.slice(0, noteWidth - 1)}…` : c)));
  const all = [BENCH_HEAD.slice(), ...rows];
  const width = BENCH_HEAD.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const left = new Set([0, 1, 3, 11]);
  const line = (r: readonly string[]) => r.map((c, i) => (left.has(i) ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ').trimEnd();
  return [line(BENCH_HEAD), line(width.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** Every bench result of a report, in check order. */
export function benchResults(report: Report): PathResult[] {
  return report.checks.flatMap((c) => c.bench ?? []);
}

/** bench.md: the machine, the settings, the table, and the floors verdicts. */
export function benchMarkdown(report: Report): string {
  const results = benchResults(report);
  const r = report.run;
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `# Gauntlet bench: ${r.target}`,
    '',
    `- run ${r.id}, started ${r.startedAt}${r.durationMs !== undefined ? `, ${(r.durationMs / 1000).toFixed(1)} s` : ''}${r.interrupted ? ' (interrupted)' : ''}`,
    `- gauntlet ${r.harnessVersion}, Node ${r.node}, ${r.platform}${r.machine ? `, ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB` : ''}`,
    `- command: gauntlet ${r.argv.join(' ')}`,
    '',
    `| ${BENCH_HEAD.join(' | ')} |`,
    `|${BENCH_HEAD.map((_, i) => ([0, 1, 3, 11].includes(i) ? ' --- ' : ' ---: ')).join('|')}|`,
    ...benchRows(results).map((row) => `| ${row.map(esc).join(' | ')} |`),
    '',
    'Rates count completed ops only (acknowledged, answered, delivered), over the measured phase after connecting and a warm-up.',
    '',
    '## Verdicts',
    '',
    ...report.checks.filter((c) => c.bench).map((c) => `- ${c.id}: **${c.verdict}**: ${esc(c.reason)}`),
    '',
  ];
  return lines.join('\n');
}

/** Writes bench.md at run end (and on flush, for an interrupted run) when some check measured something. */
export class BenchWriter extends ReportFileWriter {
  readonly name = 'bench';

  constructor(path: string) {
    super(path, BENCH_FILE);
  }

  protected render(): string | undefined {
    const report = this.builder.report();
    return benchResults(report).length === 0 ? undefined : benchMarkdown(report);
  }
}
