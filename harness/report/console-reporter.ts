// The console: a header, then progress, then a summary table, the findings
// with their replay commands and a totals line. On a TTY progress is one line
// rewritten in place (cleared before anything else is printed; failures and
// errors are printed above it as they happen); elsewhere (CI logs) one plain
// line per check end. Colour is decoration only: the text reads the same
// without it.

import { coverageLine, VERDICTS, type CheckResult, type PlannedInstance, type ProfileSummary, type Report, type ReportCheck, type RunEvent, type RunMeta, type Verdict } from '../model/index.js';
import { ReportBuilder } from './report-builder.js';
import { benchResults, benchTable } from './bench-table.js';
import type { Reporter } from './reporter.js';

export interface ConsoleReporterOptions {
  readonly out: NodeJS.WritableStream;
  readonly tty: boolean;
  readonly color: boolean;
  /** Notes of checks, every check end on a TTY, and observed evidence under each line. */
  readonly verbose?: boolean;
  /** Width the summary table fits; default the terminal's width on a TTY, else 120. */
  readonly width?: number;
  /** Clock, for tests; default Date.now. */
  readonly now?: () => number;
  /** How often the TTY progress clock is redrawn without events, ms; 0 = never. Default 1000. */
  readonly tickMs?: number;
}

const CLEAR_LINE = '\r\x1b[2K';
const CASE_REDRAW_MS = 100;
// The reason column keeps at least this much; requirement ids give way first
// (fewer ids, a larger +N: report.json has them all).
const MIN_REASON = 40;

const VERDICT_COLOR: Readonly<Record<Verdict, string>> = {
  pass: '\x1b[32m',
  fail: '\x1b[31m',
  inconclusive: '\x1b[33m',
  error: '\x1b[35m',
  skipped: '\x1b[2m',
};
const RESET = '\x1b[0m';
const BOLD = '\x1b[1m';
const DIM = '\x1b[2m';

interface Running {
  readonly id: string;
  cases: number;
  readonly startedAt: number;
  /** Fuzz: cases an oracle fired on (shrink attempts included), and the last one. */
  oracles: number;
  lastOracle?: string;
  /** Bench: what the path being measured has done so far. */
  bench?: string;
  /** When the last plain (not a TTY) progress line was printed. */
  lastPlain: number;
}

/** Without a TTY (CI logs), a long check prints a progress line this often, ms. */
export const PLAIN_PROGRESS_MS = 30_000;
/** A case summary that starts with an oracle's name: a fuzz case the oracle fired on. */
const ORACLE_CASE = /^(crash|hang|reboot|invalid-response|latency): /;
/** A bench progress report: `bench: mqtt.publish.qos1 12,345 ops, 2,468/s`. */
const BENCH_CASE = /^bench: (.*)$/;

/** `12 checks: 10 pass, 2 fail`: the verdict counts of a report, each painted by `paint`. */
export function verdictTotals(report: Report, paint: (v: Verdict, text: string) => string = (_v, text) => text): string {
  const n = report.checks.length;
  const parts = VERDICTS.filter((v) => report.summary[v] > 0).map((v) => paint(v, `${report.summary[v]} ${v}`));
  return `${n} ${n === 1 ? 'check' : 'checks'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

export class ConsoleReporter implements Reporter {
  readonly name = 'console';
  private readonly out: NodeJS.WritableStream;
  private readonly tty: boolean;
  private readonly color: boolean;
  private readonly verbose: boolean;
  private readonly width: number;
  private readonly now: () => number;
  private readonly tickMs: number;
  private readonly builder = new ReportBuilder();
  private total = 0;
  private done = 0;
  private current: Running | undefined;
  private progressShown = false;
  private lastDraw = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: ConsoleReporterOptions) {
    this.out = options.out;
    this.tty = options.tty;
    this.color = options.color;
    this.verbose = options.verbose ?? false;
    const cols = (options.out as { columns?: unknown }).columns;
    this.width = options.width ?? (options.tty && typeof cols === 'number' && cols > 0 ? cols : 120);
    this.now = options.now ?? Date.now;
    this.tickMs = options.tickMs ?? 1000;
  }

  onRunBegin(run: RunMeta, plan: readonly PlannedInstance[], profile?: ProfileSummary): void {
    this.apply(profile ? { type: 'run-begin', run, plan, profile } : { type: 'run-begin', run, plan });
    this.total = plan.length;
    this.print(this.paint(BOLD, header(run, plan.length)));
    if (this.tty && this.tickMs > 0 && !this.timer) {
      this.timer = setInterval(() => this.drawProgress(), this.tickMs);
      this.timer.unref();
    }
  }

  onCheckBegin(instanceId: string, index: number, total: number): void {
    this.apply({ type: 'check-begin', instanceId, index, total });
    this.total = Math.max(this.total, total);
    this.current = { id: instanceId, cases: 0, startedAt: this.now(), oracles: 0, lastPlain: this.now() };
    this.drawProgress();
  }

  onCase(instanceId: string, n: number, summary: string): void {
    this.apply({ type: 'case', instanceId, n, summary });
    if (this.current?.id !== instanceId) return;
    const c = this.current;
    c.cases = Math.max(c.cases, n);
    const bench = BENCH_CASE.exec(summary)?.[1];
    if (bench) c.bench = bench;
    const oracle = ORACLE_CASE.exec(summary)?.[1];
    if (oracle) {
      c.oracles++;
      c.lastOracle = oracle;
    }
    if (!this.tty && this.now() - c.lastPlain >= PLAIN_PROGRESS_MS) {
      c.lastPlain = this.now();
      this.print(`  ${c.id}: ${this.progressFigures(c)}`);
    }
    if (this.now() - this.lastDraw >= CASE_REDRAW_MS) this.drawProgress();
  }

  onNote(text: string, instanceId?: string): void {
    this.apply(instanceId === undefined ? { type: 'note', text } : { type: 'note', instanceId, text });
    if (instanceId === undefined) this.print(`note: ${text}`);
    else if (this.verbose) this.print(this.paint(DIM, `  ${instanceId}: ${text}`));
  }

  onCheckEnd(result: CheckResult): void {
    this.apply({ type: 'check-end', result });
    this.done++;
    if (this.current?.id === result.instance.id) this.current = undefined;
    const loud = result.verdict === 'fail' || result.verdict === 'error';
    if (!this.tty || loud || this.verbose) {
      this.print(this.endLine(result));
      if (this.verbose) {
        if (result.evidence) this.print(this.paint(DIM, `    observed: ${result.evidence.observed}`));
        for (const f of result.findings) this.print(this.paint(DIM, `    [${f.severity}] ${f.summary}`));
      }
    } else {
      this.clearProgress();
    }
  }

  onRunEnd(end: Extract<RunEvent, { type: 'run-end' }>): void {
    this.apply(end);
    this.stop();
    this.current = undefined;
    this.clearProgress();
    if (!this.builder.hasRun()) return;
    this.writeLines(this.summary(this.builder.report()));
  }

  /** Stops the progress clock (the CLI calls this if the run dies without run-end). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private apply(event: RunEvent): void {
    this.builder.apply(event);
  }

  private endLine(r: CheckResult): string {
    const label = this.paintVerdict(r.verdict, r.verdict.toUpperCase());
    const line = `[${this.done}/${this.total}] ${label} ${r.instance.id} (${formatDuration(r.durationMs)}) ${r.reason}`;
    // A TTY wraps long lines and that breaks the in-place progress line; CI logs keep everything.
    return this.tty ? truncateVisible(line, this.columns()) : line;
  }

  private summary(report: Report): string[] {
    const lines: string[] = [''];
    const checks = report.checks;
    if (checks.length === 0) lines.push('No checks were planned.');
    else lines.push(...this.table(checks));

    const bench = benchResults(report);
    if (bench.length > 0) {
      const m = report.run.machine;
      lines.push('', this.paint(BOLD, `Bench (Node ${report.run.node}${m ? `, ${m.cpu}, ${m.cores} cores` : ''}):`));
      lines.push(...benchTable(bench, Math.max(30, this.width - 100)).map((l) => `  ${l}`));
    }

    const findings = checks.flatMap((c) => c.findings.map((f) => ({ c, f })));
    if (findings.length > 0) {
      lines.push('', this.paint(BOLD, `Findings (${findings.length}):`));
      for (const { c, f } of findings) {
        lines.push(`  ${this.paintVerdict('fail', `[${f.severity}]`)} ${f.summary} (${c.id})`);
        lines.push(`    replay: ${f.replay}`);
        lines.push(this.paint(DIM, `    file:   ${f.file}`));
      }
    }

    const m = report.requirements;
    if (m && m.rows.length > 0) {
      lines.push('', this.paint(BOLD, 'Requirements:'), `  ${coverageLine(m)}`);
      for (const r of m.rows.filter((x) => x.verdict === 'fail' || x.verdict === 'inconclusive')) {
        lines.push(`  ${this.paintVerdict(r.verdict as Verdict, r.verdict.toUpperCase())} ${r.id} ${r.title}: ${r.reason}`);
      }
    }

    lines.push('', this.totals(report));
    return lines;
  }

  private table(checks: readonly ReportCheck[]): string[] {
    const head = { id: 'check instance', iface: 'interface', verdict: 'verdict', reqs: 'requirements', reason: 'reason' };
    const gap = '  ';
    const widest = (cells: string[], title: string, cap: number): number => Math.min(cap, Math.max(title.length, ...cells.map((s) => s.length)));
    const idW = widest(checks.map((c) => c.id), head.id, 44);
    const ifaceW = widest(checks.map((c) => c.interface), head.iface, 16);
    const verdictW = widest(checks.map((c) => c.verdict), head.verdict, 12);
    // The reason gets what is left, but never less than MIN_REASON: requirements give way first.
    const fixed = idW + ifaceW + verdictW + gap.length * 4;
    const reqsRoom = Math.max(head.reqs.length, this.width - fixed - MIN_REASON);
    const reqsW = widest(checks.map((c) => requirementsCell(c.requirements, reqsRoom)), head.reqs, reqsRoom);
    const reasonW = Math.max(MIN_REASON, this.width - fixed - reqsW);
    const cell = (s: string, width: number): string => truncate(s, width).padEnd(width);
    const out = [
      this.paint(BOLD, [cell(head.id, idW), cell(head.iface, ifaceW), cell(head.verdict, verdictW), cell(head.reqs, reqsW), head.reason].join(gap)),
    ];
    for (const c of checks) {
      out.push(
        [
          cell(c.id, idW),
          cell(c.interface, ifaceW),
          this.paintVerdict(c.verdict, cell(c.verdict, verdictW)),
          cell(requirementsCell(c.requirements, reqsW), reqsW),
          truncate(c.reason, reasonW),
        ]
          .join(gap)
          .trimEnd(),
      );
    }
    return out;
  }

  private totals(report: Report): string {
    let line = verdictTotals(report, (v, text) => this.paintVerdict(v, text));
    if (report.run.durationMs !== undefined) line += ` in ${formatDuration(report.run.durationMs)}`;
    if (report.run.interrupted) line += ` ${this.paint(BOLD, '(interrupted)')}`;
    return line;
  }

  private drawProgress(): void {
    if (!this.tty || !this.current) return;
    const c = this.current;
    const elapsed = this.now() - c.startedAt;
    const line = `[${this.done + 1}/${this.total}] ${c.id}  ${this.progressFigures(c)}  ${formatClock(elapsed)}`;
    this.out.write(`${CLEAR_LINE}${truncate(line, this.columns())}`);
    this.progressShown = true;
    this.lastDraw = this.now();
  }

  /** `1234 cases, 41.2/s, oracle fired 3 times (last: crash)`; the rate once a second has passed. */
  private progressFigures(c: Running): string {
    const elapsed = this.now() - c.startedAt;
    if (c.bench) return c.bench;
    let text = `${c.cases} ${c.cases === 1 ? 'case' : 'cases'}`;
    if (elapsed >= 1000 && c.cases > 0) text += `, ${(c.cases / (elapsed / 1000)).toFixed(1)}/s`;
    if (c.oracles > 0) text += `, oracle fired ${c.oracles} ${c.oracles === 1 ? 'time' : 'times'} (last: ${c.lastOracle})`;
    return text;
  }

  private clearProgress(): void {
    if (!this.progressShown) return;
    this.out.write(CLEAR_LINE);
    this.progressShown = false;
  }

  private print(line: string): void {
    this.writeLines([line]);
  }

  private writeLines(lines: readonly string[]): void {
    this.clearProgress();
    this.out.write(`${lines.join('\n')}\n`);
    this.drawProgress();
  }

  /** Room for one line on the terminal, leaving the last column free so it never wraps. */
  private columns(): number {
    const cols = (this.out as { columns?: unknown }).columns;
    return (typeof cols === 'number' && cols > 0 ? cols : this.width) - 1;
  }

  private paint(code: string, s: string): string {
    return this.color ? `${code}${s}${RESET}` : s;
  }

  private paintVerdict(v: Verdict, s: string): string {
    return this.paint(VERDICT_COLOR[v], s);
  }
}

function header(run: RunMeta, planned: number): string {
  const parts = [
    `Gauntlet ${run.harnessVersion}: target ${run.target} (${run.targetSource})`,
    `profile ${run.profile}`,
    `seed ${run.seed}`,
    `${planned} ${planned === 1 ? 'check' : 'checks'}`,
  ];
  if (run.shard) parts.push(`shard ${run.shard.index}/${run.shard.total}`);
  if (run.flaws.length > 0) parts.push(`flaws ${run.flaws.join(',')}`);
  parts.push(`run ${run.id}`);
  return parts.join(', ');
}

/** The first three requirement ids, then `+N`; fewer ids (a larger N) when `maxWidth` is short. */
export function requirementsCell(reqs: readonly string[], maxWidth = Infinity): string {
  if (reqs.length === 0) return '-';
  for (let shown = Math.min(3, reqs.length); shown >= 1; shown--) {
    const rest = reqs.length - shown;
    const cell = `${reqs.slice(0, shown).join(', ')}${rest > 0 ? ` +${rest}` : ''}`;
    if (cell.length <= maxWidth || shown === 1) return cell;
  }
  return '-'; // unreachable
}

export function truncate(s: string, width: number): string {
  const flat = s.replace(/\s*\n\s*/g, ' ');
  if (flat.length <= width) return flat;
  return width <= 1 ? flat.slice(0, width) : `${flat.slice(0, width - 1)}…`;
}

/** Truncates a line that may hold colour codes, counting only visible characters. */
function truncateVisible(s: string, width: number): string {
  // eslint-disable-next-line no-control-regex
  const visible = s.replace(/\x1b\[[0-9;]*m/g, '');
  if (visible.length <= width) return s;
  // Rare (long reason on a TTY): drop colour rather than cut inside a code.
  return truncate(visible, width);
}

/** `120ms`, `1.2s`, `2m05s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** `0:04`, `12:30`. */
export function formatClock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
