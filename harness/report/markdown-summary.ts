// summary.md beside report.json: the run as a pull-request comment. A
// headline with the gate's decision and the verdict counts, the requirement
// coverage, the failing checks with their findings and replay commands, the
// inconclusive and error ones, and the full requirement matrix collapsed.
//
// Report strings are hostile (device banners end up in reasons and
// summaries), and a comment is rendered by GitHub: text is escaped so it
// makes no markup, no HTML, no link or image and no @mention; ids and
// commands go in code spans, whose fences outgrow any backticks inside.
// GitHub refuses comments over 65,536 characters: the text stays under
// MARKDOWN_LIMIT, dropping table rows with a note that says how many.

import { coverageLine, type Report, type ReportCheck, type Severity } from '../model/index.js';
import { ReportFileWriter } from './report-file-writer.js';

export const SUMMARY_FILE = 'summary.md';

/** Characters at most (GitHub's comment limit is 65,536). */
export const MARKDOWN_LIMIT = 65_000;

/** Writes summary.md at run end (and on flush, for an interrupted run). */
export class MarkdownSummaryWriter extends ReportFileWriter {
  readonly name = 'markdown';

  constructor(path: string, finish?: (r: Report) => Report) {
    super(path, SUMMARY_FILE, finish);
  }

  protected render(): string {
    return renderMarkdown(this.report());
  }
}

// ---- escaping ------------------------------------------------------------------

// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]|\p{Cs}/gu;
const ZWSP = '\u200b';

/** One line, controls made visible, cut to `max` characters. */
function oneLine(value: unknown, max: number): string {
  const s = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
  const flat = s
    .replace(/\r\n|[\r\n\u2028\u2029]/g, ' ')
    .replace(INVISIBLE, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Plain text for Markdown, table cells included: no emphasis, code, link,
 * image, HTML, heading or strikethrough; no @mention and no autolink (a
 * zero-width space breaks them).
 */
export function mdText(value: unknown, max = 500): string {
  return oneLine(value, max)
    .replace(/[\\`*_[\]|~#]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/@/g, `@${ZWSP}`)
    .replace(/:\/\//g, `:${ZWSP}//`)
    .replace(/\bwww\./gi, (m) => `${m.slice(0, 3)}${ZWSP}.`);
}

/**
 * A code span: the fence is one backtick longer than any run inside, and a
 * pipe is escaped in a table cell (GFM splits cells before code spans).
 */
export function mdCode(value: unknown, max = 500, inTable = true): string {
  let s = oneLine(value, max);
  if (s === '') return '';
  const longest = Math.max(0, ...(s.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  if (s.startsWith('`') || s.endsWith('`') || (s.startsWith(' ') && s.endsWith(' '))) s = ` ${s} `;
  if (inTable) s = s.replace(/\|/g, '\\|');
  return `${fence}${s}${fence}`;
}

/** Text inside an HTML element (<summary>): entities only, Markdown does not run there. */
function htmlText(value: unknown, max = 300): string {
  return oneLine(value, max).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/@/g, `@${ZWSP}`);
}

// ---- the comment ---------------------------------------------------------------

const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];
/** Findings listed per failing check; the rest are counted. */
const FINDINGS_PER_CHECK = 5;
/** Instances listed per requirement row. */
const INSTANCES_PER_ROW = 6;

/** Collects lines within a character budget. */
class Budget {
  private readonly lines: string[] = [];
  private used = 0;

  constructor(private readonly limit: number) {}

  push(...lines: string[]): void {
    for (const l of lines) {
      this.lines.push(l);
      this.used += l.length + 1;
    }
  }

  /** Whether `line` fits with `reserve` characters kept for what must follow. */
  fits(line: string, reserve: number): boolean {
    return this.used + line.length + 1 + reserve <= this.limit;
  }

  /** Pushes the rows that fit; returns how many did not. */
  rows(rows: readonly string[], reserve: number): number {
    for (let i = 0; i < rows.length; i++) {
      if (!this.fits(rows[i]!, reserve)) return rows.length - i;
      this.push(rows[i]!);
    }
    return 0;
  }

  text(): string {
    return this.lines.join('\n');
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function durationText(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms - m * 60_000) / 1000)} s`;
}

function cutNote(n: number, what: string): string {
  return `_… ${plural(n, what)} not shown: summary.md stays under ${MARKDOWN_LIMIT.toLocaleString('en-US')} characters for a pull-request comment; report.html and report.json have them all._`;
}

/** The comment for a report; always under `limit` characters. */
export function renderMarkdown(report: Report, limit = MARKDOWN_LIMIT): string {
  const { run, summary, gate, requirements: matrix } = report;
  const b = new Budget(limit);
  const findings = report.checks.flatMap((c) => c.findings);
  const failing = report.checks.filter((c) => c.verdict === 'fail');
  const open = report.checks.filter((c) => c.verdict === 'inconclusive' || c.verdict === 'error');

  const icon = gate ? (gate.passed ? '✅' : '❌') : summary.fail ? '❌' : summary.inconclusive || summary.error ? '⚠️' : '✅';
  b.push(`## ${icon} Gauntlet: ${mdText(run.target, 200)} · ${mdText(run.profile, 100)}`, '');
  if (gate) {
    b.push(`**Gate ${mdCode(gate.policy, 40, false)}: ${gate.passed ? 'passed' : 'failed'}**: ${mdText(gate.reason, 1500)}`, '');
  }
  const counts = (['pass', 'fail', 'inconclusive', 'error', 'skipped'] as const).map((v) => `${summary[v] ?? 0} ${v}`).join(' · ');
  const bySeverity = SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  b.push(`**${plural(report.checks.length, 'check')}**: ${counts} · ${plural(findings.length, 'finding')}${bySeverity ? ` (${bySeverity})` : ''}`, '');
  if (matrix) {
    b.push(`**Requirements**: ${mdText(coverageLine(matrix), 600)}`);
    const failed = matrix.rows.filter((r) => r.verdict === 'fail');
    if (failed.length) {
      const shown = failed.slice(0, 20).map((r) => mdCode(r.id, 80, false)).join(', ');
      b.push(`**Failing requirements**: ${shown}${failed.length > 20 ? ` and ${failed.length - 20} more` : ''}`);
    }
    b.push('');
  }
  if (run.interrupted) b.push('> **Interrupted run**: checks that did not run are counted as inconclusive.', '');

  const footer = [
    '',
    `<sub>Run ${mdCode(run.id, 80, false)} · seed ${mdCode(run.seed, 30, false)} · ${durationText(run.durationMs) || 'duration not recorded'} · gauntlet ${mdText(run.harnessVersion, 40)} · Node ${mdText(run.node, 40)} · ${mdText(run.platform, 60)}${run.shard ? ` · shard ${run.shard.index}/${run.shard.total}` : ''}. Evidence, transcripts and charts: report.html beside report.json.</sub>`,
    '',
  ];
  const footerSize = footer.join('\n').length + 1;

  // Failing checks: room is kept for the next two headings, notes and the footer.
  b.push(`### Failing checks (${failing.length})`, '');
  if (failing.length === 0) {
    b.push('No check failed.', '');
  } else {
    b.push('| Check | Reason | Findings and replay |', '| --- | --- | --- |');
    const left = b.rows(failing.map(failingRow), footerSize + 1500);
    if (left) b.push('', cutNote(left, 'failing check'));
    b.push('');
  }

  if (open.length) {
    b.push(`### Inconclusive and error (${open.length})`, '');
    b.push('| Check | Verdict | Reason |', '| --- | --- | --- |');
    const left = b.rows(
      open.map((c) => `| ${mdCode(c.id, 200)} | ${c.verdict}${c.errorCode ? ` ${mdCode(c.errorCode, 60)}` : ''} | ${mdText(c.reason, 600)} |`),
      footerSize + 1000,
    );
    if (left) b.push('', cutNote(left, 'inconclusive or error check'));
    b.push('');
  }

  if (matrix && matrix.rows.length) {
    b.push('<details>', `<summary>Requirement matrix: ${htmlText(matrix.profile, 100)} (${plural(matrix.rows.length, 'requirement')})</summary>`, '');
    b.push('| Requirement | Title | Verdict | Reason | Instances |', '| --- | --- | --- | --- | --- |');
    const rows = matrix.rows.map((r) => {
      const inst = r.instances.slice(0, INSTANCES_PER_ROW).map((i) => `${mdCode(i.id, 120)} ${i.verdict}`);
      if (r.instances.length > INSTANCES_PER_ROW) inst.push(`+${r.instances.length - INSTANCES_PER_ROW} more`);
      return `| ${mdCode(r.id, 80)} | ${mdText(r.title, 200)} | ${r.verdict === 'fail' ? '**fail**' : mdText(r.verdict, 20)} | ${mdText(r.reason, 400)} | ${inst.join('<br>')} |`;
    });
    const left = b.rows(rows, footerSize + 400);
    if (left) b.push('', cutNote(left, 'requirement row'));
    b.push('', '</details>');
  }

  b.push(...footer);
  const text = b.text();
  // The reserves above keep it under the limit; a cut here would be a bug, never a silent overflow.
  return text.length <= limit ? text : `${text.slice(0, limit - 300)}\n\n${cutNote(1, 'tail')}\n`;
}

function failingRow(c: ReportCheck): string {
  const items = c.findings.slice(0, FINDINGS_PER_CHECK).map((f) => `**${mdText(f.severity, 20)}** ${mdText(f.summary, 400)}<br>replay: ${mdCode(f.replay, 600)}`);
  if (c.findings.length > FINDINGS_PER_CHECK) items.push(`+${c.findings.length - FINDINGS_PER_CHECK} more findings (report.json)`);
  if (items.length === 0) items.push(c.evidence ? `observed: ${mdText(c.evidence.observed, 400)}` : 'no finding recorded');
  return `| ${mdCode(c.id, 200)} | ${mdText(c.reason, 600)} | ${items.join('<br>')} |`;
}
