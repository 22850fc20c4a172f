// report.html beside report.json: one self-contained page a lab can open from
// disk, file and print. Inline CSS and a small inline script, charts as
// inline SVG, nothing fetched: a Content-Security-Policy that allows only
// this page's own script and stylesheet (by hash) and no connection at all
// makes that hold even if a bug let markup through.
//
// Every string from the report is escaped: device replies are hostile (a
// banner may hold `<script>`), and so is anything a device could steer into
// a reason, a summary or a transcript. The script never builds markup from
// page text: the filters only read attributes and text and toggle a class.
//
// Pure over the report: findings carry their summary, severity, replay
// command and file; the evidence shown is the check's (ReportCheck.evidence),
// which report.json already holds, so the page never reads finding files.

import { createHash } from 'node:crypto';
import {
  REQUIREMENT_VERDICTS,
  VERDICTS,
  coverageLine,
  type Evidence,
  type PathResult,
  type Report,
  type ReportCheck,
  type RequirementMatrix,
  type Severity,
  type TranscriptEntry,
} from '../model/index.js';
import { rateText } from '../bench/floors.js';
import { BENCH_HEAD, benchResults, benchRows } from './bench-table.js';
import { ReportFileWriter } from './report-file-writer.js';

export const HTML_FILE = 'report.html';

/** Transcript entries shown per check; the rest are counted and pointed to. */
export const TRANSCRIPT_ROWS = 200;
/** Fuzz input steps shown per check. */
export const FUZZ_STEPS = 100;

/** Writes report.html at run end (and on flush, for an interrupted run). */
export class HtmlReporter extends ReportFileWriter {
  readonly name = 'html';

  constructor(path: string, finish?: (r: Report) => Report) {
    super(path, HTML_FILE, finish);
  }

  protected render(): string {
    return renderHtml(this.report());
  }
}

// ---- escaping ------------------------------------------------------------------

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
// C0/C1 controls (not tab, LF, CR) and lone surrogates: shown as `\uXXXX`, never passed through.
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]|\p{Cs}/gu;

/** Escapes text for element content and double- or single-quoted attributes. */
export function escapeHtml(value: unknown): string {
  const s = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
  return s
    .replace(INVISIBLE, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`)
    .replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const e = escapeHtml;

// ---- formatting ----------------------------------------------------------------

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms - m * 60_000) / 1000)} s`;
}

const msText = (v: number) => (v >= 100 ? int.format(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Verdict-like words become class names; anything unexpected gets a neutral one. */
function cls(word: string): string {
  return /^[a-z-]+$/.test(word) ? word : 'unknown';
}

function badge(word: string, kind: 'v' | 'sev' = 'v'): string {
  return `<span class="badge ${kind}-${cls(word)}">${e(word)}</span>`;
}

// ---- the page ------------------------------------------------------------------

/** The whole page for a report. Deterministic: the same report gives the same bytes. */
export function renderHtml(report: Report): string {
  const ctx = new Page(report);
  const body = [
    header(report),
    nav(report),
    summarySection(report),
    report.requirements ? matrixSection(report.requirements, ctx) : '',
    checksSection(report),
    findingsSection(report, ctx),
    otherEvidenceSection(report, ctx),
    benchSection(report),
    `<footer><p>Gauntlet ${e(report.run.harnessVersion)} · ${e(report.format)} · run ${e(report.run.id)}. This page is self-contained: it loads nothing from anywhere.</p></footer>`,
  ].join('\n');
  const styleHash = sha256(STYLE);
  const scriptHash = sha256(SCRIPT);
  const csp = [
    "default-src 'none'",
    `style-src '${styleHash}'`,
    `script-src '${scriptHash}'`,
    "img-src 'none'",
    "connect-src 'none'",
    "font-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // Constant text and base64 hashes: nothing from the report.
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="referrer" content="no-referrer">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${e(`Gauntlet report: ${report.run.target} (${report.run.profile})`)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    body,
    `<script>${SCRIPT}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function sha256(text: string): string {
  return `sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}`;
}

/** Anchors by position, never from report text. */
class Page {
  readonly checkIndex = new Map<string, number>();
  private copies = 0;

  constructor(readonly report: Report) {
    report.checks.forEach((c, i) => {
      if (!this.checkIndex.has(c.id)) this.checkIndex.set(c.id, i);
    });
  }

  /** A link to a check's row, or plain text for an id the report does not hold. */
  checkLink(id: string): string {
    const i = this.checkIndex.get(id);
    return i === undefined ? `<code>${e(id)}</code>` : `<a href="#check-${i}"><code>${e(id)}</code></a>`;
  }

  /** A command in a <code> with a copy button (the script copies the code's text). */
  copyable(command: string): string {
    const id = `copy-${this.copies++}`;
    return `<span class="copyable"><code id="${id}" class="cmd">${e(command)}</code><button type="button" class="copy" data-copy="${id}" title="Copy the command">Copy</button></span>`;
  }
}

function header(report: Report): string {
  const r = report.run;
  const total = report.checks.length;
  const gate = report.gate;
  const gateLine = gate
    ? `<p class="gate ${gate.passed ? 'gate-pass' : 'gate-fail'}" id="gate-decision"><strong>Gate ${e(gate.policy)}: ${gate.passed ? 'passed' : 'FAILED'}</strong> · ${e(gate.reason)}</p>`
    : '';
  return [
    '<header>',
    `<h1>Gauntlet report: <span class="target">${e(r.target)}</span></h1>`,
    `<p class="sub">profile <strong>${e(r.profile)}</strong> · ${int.format(total)} check instance${total === 1 ? '' : 's'} · run <code>${e(r.id)}</code> · started ${e(r.startedAt)}${r.interrupted ? ' · <strong class="warn">interrupted</strong>' : ''}</p>`,
    gateLine,
    '</header>',
  ].join('\n');
}

function nav(report: Report): string {
  const findings = report.checks.reduce((n, c) => n + c.findings.length, 0);
  const links = [
    ['summary', 'Summary'],
    ...(report.requirements ? [['requirements', 'Requirements']] : []),
    ['checks', 'Checks'],
    ['findings', `Findings (${findings})`],
    ...(report.checks.some((c) => c.bench?.length) ? [['bench', 'Benchmarks']] : []),
  ];
  return `<nav aria-label="Sections"><ul>${links.map(([id, label]) => `<li><a href="#${id}">${e(label)}</a></li>`).join('')}</ul></nav>`;
}

function summarySection(report: Report): string {
  const r = report.run;
  const tiles = VERDICTS.map(
    (v) => `<div class="tile v-${v}" data-verdict="${v}"><span class="n">${int.format(report.summary[v] ?? 0)}</span><span class="label">${v}</span></div>`,
  ).join('');
  const severities: Severity[] = ['critical', 'high', 'medium', 'low', 'info'];
  const all = report.checks.flatMap((c) => c.findings);
  const bySeverity = severities
    .map((s) => [s, all.filter((f) => f.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${badge(s, 'sev')} ${n}`)
    .join(' ');
  const meta: [string, string][] = [
    ['Target', `${e(r.target)} <span class="muted">(${e(r.targetSource)})</span>`],
    ['Profile', e(r.profile)],
    ['Run id', `<code>${e(r.id)}</code>`],
    ['Seed', `<code>${e(r.seed)}</code>`],
    ['Started', e(r.startedAt)],
    ['Finished', r.finishedAt ? e(r.finishedAt) : '<span class="muted">not recorded</span>'],
    ['Duration', r.durationMs !== undefined ? e(duration(r.durationMs)) : '<span class="muted">not recorded</span>'],
    ['Interrupted', r.interrupted ? '<strong class="warn">yes: checks that did not run are inconclusive</strong>' : 'no'],
    ['Harness', `gauntlet ${e(r.harnessVersion)}`],
    ['Node', e(r.node)],
    ['Platform', e(r.platform)],
    ['Machine', r.machine ? `${e(r.machine.cpu)}, ${e(r.machine.cores)} cores, ${e(r.machine.memoryGiB)} GiB` : '<span class="muted">not recorded</span>'],
    ['Command', `<code>${e(['gauntlet', ...r.argv].join(' '))}</code>`],
    ['Flaws', r.flaws.length ? r.flaws.map((f) => `<code>${e(f)}</code>`).join(' ') : '<span class="muted">none</span>'],
    ['Shard', r.shard ? `${e(r.shard.index)}/${e(r.shard.total)}` : '<span class="muted">whole run</span>'],
  ];
  return [
    '<section id="summary">',
    '<h2>Summary</h2>',
    `<div class="tiles" id="verdict-counts">${tiles}<div class="tile total"><span class="n">${int.format(report.checks.length)}</span><span class="label">checks</span></div></div>`,
    `<p>${int.format(all.length)} finding${all.length === 1 ? '' : 's'}${bySeverity ? `: ${bySeverity}` : ''}</p>`,
    report.requirements ? `<p class="coverage" id="coverage-line">${e(coverageLine(report.requirements))}</p>` : '',
    gateSection(report),
    '<h3>Run</h3>',
    `<dl class="meta">${meta.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`,
    '</section>',
  ].join('\n');
}

function gateSection(report: Report): string {
  const g = report.gate;
  if (!g) return '<h3>Gate</h3><p class="muted">No gate decision in this report.</p>';
  const list = (title: string, ids: readonly string[]) =>
    ids.length ? `<dt>${title}</dt><dd>${ids.map((id) => `<code>${e(id)}</code>`).join(', ')}</dd>` : '';
  return [
    '<h3>Gate</h3>',
    `<dl class="meta">`,
    `<dt>Policy</dt><dd><code>${e(g.policy)}</code></dd>`,
    `<dt>Decision</dt><dd>${g.passed ? badge('pass') : badge('fail')} ${e(g.reason)}</dd>`,
    list('Failing', g.failing),
    list('New findings', g.newFindings),
    list('Accepted (baseline)', g.accepted),
    g.expired.length
      ? `<dt>Expired acceptances</dt><dd>${g.expired.map((x) => `<code>${e(x.instance)}</code> (expired after ${e(x.expires)}, <code>${e(x.fingerprint)}</code>)`).join('; ')}</dd>`
      : '',
    '</dl>',
  ].join('');
}

/** Filter buttons (one per verdict present, with counts) and a search box for the table `tableId`. */
function toolbar(tableId: string, what: string, verdicts: readonly string[], counts: ReadonlyMap<string, number>): string {
  const buttons = [
    `<button type="button" data-verdict="all" aria-pressed="true">all</button>`,
    ...verdicts
      .filter((v) => (counts.get(v) ?? 0) > 0)
      .map((v) => `<button type="button" class="f-${cls(v)}" data-verdict="${e(v)}" aria-pressed="false">${e(v)} <span class="count">${counts.get(v)}</span></button>`),
  ].join('');
  return [
    `<div class="toolbar" data-for="${tableId}" role="group" aria-label="Filter ${e(what)}">`,
    `<span class="verdict-filter">${buttons}</span>`,
    `<label>Search <input type="search" placeholder="id, title, reason…" aria-label="Search ${e(what)}"></label>`,
    '<span class="filter-status" aria-live="polite"></span>',
    '</div>',
  ].join('');
}

function countBy<T>(items: readonly T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return m;
}

function matrixSection(m: RequirementMatrix, ctx: Page): string {
  const c = m.coverage;
  const figures: [string, number][] = [
    ['requirements', c.total],
    ['tested', c.tested],
    ['pass', c.pass],
    ['fail', c.fail],
    ['inconclusive', c.inconclusive],
    ['not tested', c.notTested],
    ['declared', c.declared],
    ['not covered', c.notCovered],
  ];
  const rows = m.rows.map((r, i) => {
    const instances = r.instances.length
      ? r.instances.map((x) => `<span class="inst">${ctx.checkLink(x.id)} ${badge(x.verdict)}</span>`).join(' ')
      : '<span class="muted">none</span>';
    return [
      `<tr id="req-${i}" data-verdict="${e(r.verdict)}">`,
      `<td class="id"><code>${e(r.id)}</code></td>`,
      `<td>${e(r.title)}</td>`,
      `<td>${e(r.status)}</td>`,
      `<td>${badge(r.verdict)}</td>`,
      `<td class="reason">${e(r.reason)}${r.findings ? ` <span class="muted">(${r.findings} finding${r.findings === 1 ? '' : 's'})</span>` : ''}</td>`,
      `<td>${instances}</td>`,
      '</tr>',
    ].join('');
  });
  return [
    '<section id="requirements">',
    `<h2>Requirement matrix: ${e(m.profile)}</h2>`,
    `<p>${e(coverageLine(m))}</p>`,
    `<div class="tiles small" id="coverage">${figures.map(([k, n]) => `<div class="tile"><span class="n">${int.format(n)}</span><span class="label">${k}</span></div>`).join('')}</div>`,
    coverageBar(m),
    toolbar('matrix-table', 'requirements', REQUIREMENT_VERDICTS, countBy(m.rows, (r) => r.verdict)),
    '<table id="matrix-table" class="data">',
    '<thead><tr><th>Requirement</th><th>Title</th><th>Status</th><th>Verdict</th><th>Reason</th><th>Instances</th></tr></thead>',
    `<tbody>${rows.join('\n')}</tbody>`,
    '</table>',
    '</section>',
  ].join('\n');
}

/** One stacked bar of the requirement verdicts. */
function coverageBar(m: RequirementMatrix): string {
  const total = m.rows.length;
  if (total === 0) return '';
  const width = 720;
  let x = 0;
  const parts = REQUIREMENT_VERDICTS.map((v) => [v, m.rows.filter((r) => r.verdict === v).length] as const)
    .filter(([, n]) => n > 0)
    .map(([v, n]) => {
      const w = (n / total) * width;
      const rect = `<rect class="bar-${v}" x="${x.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="18"><title>${v}: ${n}</title></rect>`;
      x += w;
      return rect;
    });
  const legend = REQUIREMENT_VERDICTS.map((v) => [v, m.rows.filter((r) => r.verdict === v).length] as const)
    .filter(([, n]) => n > 0)
    .map(([v, n]) => `<span class="legend"><span class="swatch sw-${v}"></span>${v} ${n}</span>`)
    .join(' ');
  return `<figure class="coverage-bar"><svg role="img" aria-label="Requirement verdicts" viewBox="0 0 ${width} 18" width="${width}" height="18" preserveAspectRatio="none">${parts.join('')}</svg><figcaption>${legend}</figcaption></figure>`;
}

function checksSection(report: Report): string {
  const rows = report.checks.map((c, i) => {
    const hasEvidence = c.findings.length > 0 || c.evidence !== undefined || c.stats !== undefined;
    const findings = c.findings.length
      ? `<a href="#ev-${i}">${c.findings.length} finding${c.findings.length === 1 ? '' : 's'}</a>`
      : hasEvidence
        ? `<a href="#ev-${i}">evidence</a>`
        : '';
    return [
      `<tr id="check-${i}" data-verdict="${e(c.verdict)}">`,
      `<td><code>${e(c.id)}</code><div class="title">${e(c.title)}</div></td>`,
      `<td>${badge(c.verdict)}</td>`,
      `<td class="reason">${e(c.reason)}${c.errorCode ? ` <code class="code">${e(c.errorCode)}</code>` : ''}</td>`,
      `<td class="num">${e(duration(c.durationMs))}</td>`,
      `<td class="num">${int.format(c.cases)}</td>`,
      `<td>${findings}</td>`,
      `<td class="reqs">${c.requirements.map((r) => `<code>${e(r)}</code>`).join(' ')}</td>`,
      '</tr>',
    ].join('');
  });
  return [
    '<section id="checks">',
    '<h2>Checks</h2>',
    toolbar('checks-table', 'checks', VERDICTS, countBy(report.checks, (c) => c.verdict)),
    '<table id="checks-table" class="data">',
    '<thead><tr><th>Check instance</th><th>Verdict</th><th>Reason</th><th class="num">Duration</th><th class="num">Cases</th><th>Evidence</th><th>Requirements</th></tr></thead>',
    `<tbody>${rows.join('\n')}</tbody>`,
    '</table>',
    '</section>',
  ].join('\n');
}

function findingsSection(report: Report, ctx: Page): string {
  const shown = report.checks.map((c, i) => [c, i] as const).filter(([c]) => c.findings.length > 0 || c.verdict === 'fail');
  const body = shown.length
    ? shown.map(([c, i]) => evidenceBlock(c, i, ctx, true)).join('\n')
    : '<p class="muted">No findings: no check failed.</p>';
  return ['<section id="findings">', '<h2>Findings</h2>', body, '</section>'].join('\n');
}

function otherEvidenceSection(report: Report, ctx: Page): string {
  const rest = report.checks
    .map((c, i) => [c, i] as const)
    .filter(([c]) => !(c.findings.length > 0 || c.verdict === 'fail') && (c.evidence !== undefined || c.stats !== undefined));
  if (rest.length === 0) return '';
  return [
    '<section id="evidence">',
    '<h2>Evidence of the other checks</h2>',
    ...rest.map(([c, i]) => evidenceBlock(c, i, ctx, false)),
    '</section>',
  ].join('\n');
}

/** A check's findings and evidence; `open` = a finding block, else collapsed unless the verdict asks for attention. */
function evidenceBlock(c: ReportCheck, i: number, ctx: Page, open: boolean): string {
  const parts: string[] = [];
  if (c.findings.length) {
    parts.push('<ol class="findings">');
    for (const f of c.findings) {
      parts.push(
        [
          '<li class="finding">',
          `<p>${badge(f.severity, 'sev')} <strong>${e(f.summary)}</strong></p>`,
          `<p class="muted">finding <code>${e(f.id)}</code> · file ${fileLink(f.file)}</p>`,
          `<p class="replay">Replay: ${ctx.copyable(f.replay)}</p>`,
          '</li>',
        ].join(''),
      );
    }
    parts.push('</ol>');
  }
  parts.push(`<p class="reason-line"><strong>Verdict</strong> ${badge(c.verdict)} ${e(c.reason)}</p>`);
  if (c.evidence) parts.push(evidenceBody(c.evidence, c));
  if (c.stats && Object.keys(c.stats).length) {
    parts.push(`<h4>Figures</h4><dl class="meta stats">${Object.entries(c.stats).map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(typeof v === 'number' ? v.toLocaleString('en-US') : v)}</dd>`).join('')}</dl>`);
  }
  const heading = `<code>${e(c.id)}</code> ${badge(c.verdict)} <span class="title">${e(c.title)}</span>`;
  if (open) {
    return `<article class="evidence" id="ev-${i}"><h3>${heading}</h3>${parts.join('\n')}<p class="back"><a href="#check-${i}">back to the check</a></p></article>`;
  }
  const attention = c.verdict === 'inconclusive' || c.verdict === 'error';
  return `<details class="evidence" id="ev-${i}"${attention ? ' open' : ''}><summary>${heading}</summary>${parts.join('\n')}</details>`;
}

/** A link to a finding file in the report directory, only for the shape the findings writer makes. */
function fileLink(file: string): string {
  const m = /^findings\/([^/\\]+\.json)$/.exec(file);
  if (!m || m[1]!.startsWith('.')) return `<code>${e(file)}</code>`;
  return `<a href="findings/${e(encodeURIComponent(m[1]!))}"><code>${e(file)}</code></a>`;
}

function evidenceBody(ev: Evidence, c: ReportCheck): string {
  const out: string[] = ['<dl class="meta ev">'];
  out.push(`<dt>Observed</dt><dd>${e(ev.observed)}</dd>`);
  if (ev.declared !== undefined) out.push(`<dt>Declared</dt><dd>${e(ev.declared)}</dd>`);
  if (ev.source !== undefined) out.push(`<dt>Source</dt><dd><code>${e(ev.source)}</code></dd>`);
  out.push('</dl>');
  const ce = ev.counterexample;
  if (ce) {
    out.push(
      [
        '<h4>Counterexample (shrunk)</h4>',
        '<dl class="meta ce">',
        `<dt>Seed</dt><dd><code>${e(ce.seed)}</code></dd>`,
        `<dt>Path</dt><dd><code>${e(ce.path)}</code></dd>`,
        `<dt>Runs</dt><dd>${e(ce.numRuns)} runs, ${e(ce.shrinks)} shrinks</dd>`,
        '</dl>',
        `<pre class="value">${e(ce.value)}</pre>`,
      ].join(''),
    );
  }
  if (ev.fuzz) out.push(fuzzBlock(ev, c));
  out.push(transcriptBlock(ev.transcript ?? [], c));
  return out.join('\n');
}

function fuzzBlock(ev: Evidence, c: ReportCheck): string {
  const fz = ev.fuzz!;
  const out = [
    '<h4>Fuzz input</h4>',
    `<p>${e(fz.protocol)} · oracle <strong>${e(fz.oracle)}</strong> · ${fz.confirmed ? 'confirmed: the shrunk input fired it again on the recovered device' : 'not confirmed on the recovered device'}</p>`,
  ];
  let shown = 0;
  let total = 0;
  const conns: string[] = [];
  fz.connections.forEach((conn, n) => {
    total += conn.steps.length;
    const rows: string[] = [];
    for (const [k, s] of conn.steps.entries()) {
      if (shown >= FUZZ_STEPS) break;
      shown++;
      rows.push(`<tr><td class="num">${k + 1}</td><td>${e(s.label)}</td><td><code class="hex">${e(spaced(s.hex))}</code></td></tr>`);
    }
    if (rows.length) {
      conns.push(`<p class="conn">connection ${n + 1}: ${e(conn.label)}</p><table class="data steps"><thead><tr><th class="num">#</th><th>Step</th><th>Bytes (hex)</th></tr></thead><tbody>${rows.join('')}</tbody></table>`);
    }
  });
  out.push(...conns);
  if (total > shown) out.push(`<p class="more">${int.format(total - shown)} more step(s) not shown; the full input is in ${findingFiles(c)}.</p>`);
  return out.join('\n');
}

function transcriptBlock(entries: readonly TranscriptEntry[], c: ReportCheck): string {
  if (entries.length === 0) return '<p class="muted">No transcript recorded.</p>';
  const arrow: Record<string, string> = { sent: '→ sent', received: '← received', note: '· note' };
  const rows = entries.slice(0, TRANSCRIPT_ROWS).map((t) => {
    const bytes = t.hex ? Math.ceil(t.hex.length / 2) : 0;
    const hex = t.hex
      ? `<details class="hex"><summary>${int.format(bytes)} B${t.truncated ? ` (+${int.format(t.truncated)} cut)` : ''}</summary><code class="hex">${e(spaced(t.hex))}</code></details>`
      : '';
    return `<tr class="dir-${cls(t.dir)}"><td class="num">${e(typeof t.t === 'number' ? t.t.toFixed(0) : t.t)}</td><td class="dir">${e(arrow[t.dir] ?? t.dir)}</td><td>${e(t.peer)}</td><td class="decoded">${e(t.decoded)}</td><td>${hex}</td></tr>`;
  });
  const more = entries.length - Math.min(entries.length, TRANSCRIPT_ROWS);
  return [
    `<h4>Transcript (${int.format(entries.length)} entr${entries.length === 1 ? 'y' : 'ies'})</h4>`,
    '<table class="data transcript"><thead><tr><th class="num">t ms</th><th>Dir</th><th>Peer</th><th>Decoded</th><th>Hex</th></tr></thead>',
    `<tbody>${rows.join('\n')}</tbody></table>`,
    more > 0 ? `<p class="more">${int.format(more)} more entr${more === 1 ? 'y' : 'ies'} not shown; the full transcript is in ${findingFiles(c)}.</p>` : '',
  ].join('\n');
}

function findingFiles(c: ReportCheck): string {
  return c.findings.length ? c.findings.map((f) => fileLink(f.file)).join(', ') : '<code>report.json</code>';
}

/** Hex in byte pairs, so it wraps and reads. */
function spaced(hex: string): string {
  return /^[0-9a-fA-F]*$/.test(hex) ? (hex.match(/.{1,2}/g) ?? []).join(' ') : hex;
}

// ---- benchmarks ------------------------------------------------------------------

function benchSection(report: Report): string {
  const results = benchResults(report);
  if (results.length === 0) return '';
  const measured = results.filter((r) => !r.skipped);
  const label = (r: PathResult) => `${r.interface} ${r.path}`;
  const rate = barChart(
    'bench-rate',
    'Rate (completed ops per second)',
    measured.map((r) => ({ label: label(r), bars: [{ value: r.rate, cls: 'bar-rate', text: `${rateText(r.rate)}/s` }] })),
  );
  const withLatency = measured.filter((r) => r.latency);
  const latency = barChart(
    'bench-latency',
    'Latency p50 / p99 (ms)',
    withLatency.map((r) => ({
      label: label(r),
      bars: [
        { value: r.latency!.p50Ms, cls: 'bar-p50', text: `p50 ${msText(r.latency!.p50Ms)} ms` },
        { value: r.latency!.p99Ms, cls: 'bar-p99', text: `p99 ${msText(r.latency!.p99Ms)} ms` },
      ],
    })),
  );
  const rows = benchRows(results);
  const numeric = new Set([2, 4, 5, 6, 7, 8, 9]);
  const table = [
    '<table class="data bench">',
    `<thead><tr>${BENCH_HEAD.map((h, i) => `<th${numeric.has(i) ? ' class="num"' : ''}>${e(h)}</th>`).join('')}</tr></thead>`,
    `<tbody>${rows.map((row) => `<tr>${row.map((c, i) => `<td${numeric.has(i) ? ' class="num"' : ''}>${e(c)}</td>`).join('')}</tr>`).join('\n')}</tbody>`,
    '</table>',
  ].join('');
  const verdicts = report.checks
    .filter((c) => c.bench?.length)
    .map((c) => `<li><code>${e(c.id)}</code> ${badge(c.verdict)} ${e(c.reason)}</li>`)
    .join('');
  const r = report.run;
  return [
    '<section id="bench">',
    '<h2>Benchmarks</h2>',
    `<p class="muted">Measured on ${r.machine ? `${e(r.machine.cpu)}, ${e(r.machine.cores)} cores, ${e(r.machine.memoryGiB)} GiB, ` : ''}Node ${e(r.node)}, ${e(r.platform)}. Rates count completed ops only (acknowledged, answered, delivered).</p>`,
    '<div class="charts">',
    rate,
    latency,
    '</div>',
    table,
    `<ul class="bench-verdicts">${verdicts}</ul>`,
    '</section>',
  ].join('\n');
}

interface ChartRow {
  readonly label: string;
  readonly bars: readonly { readonly value: number; readonly cls: string; readonly text: string }[];
}

/** A horizontal bar chart as inline SVG: one group per row, one bar per value, each labelled with its figure. */
function barChart(id: string, title: string, rows: readonly ChartRow[]): string {
  if (rows.length === 0) return '';
  const labelW = 230;
  const barW = 300;
  const textW = 130;
  const barH = 14;
  const gap = 10;
  const width = labelW + barW + textW;
  const max = Math.max(0, ...rows.flatMap((r) => r.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0))));
  const scale = (v: number) => (max > 0 && Number.isFinite(v) ? Math.max(1, (v / max) * barW) : 0);
  let y = 4;
  const items: string[] = [];
  for (const r of rows) {
    const groupH = r.bars.length * barH + (r.bars.length - 1) * 2;
    const short = r.label.length > 34 ? `${r.label.slice(0, 33)}…` : r.label;
    items.push(`<text class="label" x="${labelW - 8}" y="${(y + groupH / 2 + 4).toFixed(1)}" text-anchor="end">${e(short)}<title>${e(r.label)}</title></text>`);
    r.bars.forEach((b, k) => {
      const by = y + k * (barH + 2);
      const w = scale(b.value);
      items.push(`<rect class="${b.cls}" x="${labelW}" y="${by}" width="${w.toFixed(1)}" height="${barH}"><title>${e(`${r.label}: ${b.text}`)}</title></rect>`);
      items.push(`<text class="value" x="${(labelW + w + 6).toFixed(1)}" y="${by + barH - 3}">${e(b.text)}</text>`);
    });
    y += groupH + gap;
  }
  const height = y;
  return [
    `<figure class="chart" id="${id}">`,
    `<figcaption>${e(title)}</figcaption>`,
    `<svg role="img" aria-label="${e(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">`,
    `<line class="axis" x1="${labelW}" y1="0" x2="${labelW}" y2="${height}"></line>`,
    items.join(''),
    '</svg>',
    '</figure>',
  ].join('');
}

// ---- style and script (constant text: their hashes go into the CSP) ---------------

const STYLE = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg-alt: #f6f8fa; --link: #0550ae;
  --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #c0222c; --fail-bg: #ffebe9; --inc: #8a5a00; --inc-bg: #fff4c2;
  --err: #7a3fd1; --err-bg: #f5ecff; --skip: #59636e; --skip-bg: #eef1f4; --decl: #0550ae; --decl-bg: #ddf4ff; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0 auto; max-width: 1280px; padding: 24px 28px 48px; color: var(--fg); background: #fff;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 8px; } h4 { font-size: 14px; margin: 14px 0 6px; }
a { color: var(--link); } code, pre, .hex { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
code { overflow-wrap: anywhere; } pre { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--bg-alt); padding: 8px 10px; border-radius: 6px; margin: 6px 0; }
.muted { color: var(--muted); } .warn { color: var(--fail); } .sub { color: var(--muted); margin: 0 0 10px; }
nav ul { list-style: none; padding: 0; margin: 8px 0 0; display: flex; gap: 16px; flex-wrap: wrap; }
.gate { padding: 10px 14px; border-radius: 6px; border: 1px solid; margin: 10px 0; }
.gate-pass { color: var(--pass); background: var(--pass-bg); border-color: var(--pass); }
.gate-fail { color: var(--fail); background: var(--fail-bg); border-color: var(--fail); }
.tiles { display: flex; gap: 10px; flex-wrap: wrap; margin: 8px 0 12px; }
.tile { min-width: 96px; padding: 8px 12px; border-radius: 6px; border: 1px solid var(--line); background: var(--bg-alt); display: flex; flex-direction: column; }
.tile .n { font-size: 24px; font-weight: 650; line-height: 1.2; } .tile .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.tiles.small .tile { min-width: 80px; padding: 4px 10px; } .tiles.small .n { font-size: 18px; }
.tile.v-pass { border-color: var(--pass); background: var(--pass-bg); } .tile.v-pass .n { color: var(--pass); }
.tile.v-fail { border-color: var(--fail); background: var(--fail-bg); } .tile.v-fail .n { color: var(--fail); }
.tile.v-inconclusive { border-color: var(--inc); background: var(--inc-bg); } .tile.v-inconclusive .n { color: var(--inc); }
.tile.v-error { border-color: var(--err); background: var(--err-bg); } .tile.v-error .n { color: var(--err); }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; font-weight: 600; line-height: 18px; white-space: nowrap; border: 1px solid transparent; }
.v-pass.badge { color: var(--pass); background: var(--pass-bg); border-color: var(--pass); }
.v-fail.badge { color: #fff; background: var(--fail); }
.v-inconclusive.badge { color: var(--inc); background: var(--inc-bg); border-color: var(--inc); }
.v-error.badge { color: #fff; background: var(--err); }
.v-skipped.badge, .v-not-tested.badge, .v-not-covered.badge, .v-unknown.badge { color: var(--skip); background: var(--skip-bg); border-color: var(--line); }
.v-declared.badge { color: var(--decl); background: var(--decl-bg); border-color: var(--decl); }
.sev-critical { color: #fff; background: #82071e; } .sev-high { color: #fff; background: var(--fail); }
.sev-medium { color: #fff; background: #bc4c00; } .sev-low { color: var(--inc); background: var(--inc-bg); border-color: var(--inc); }
.sev-info, .sev-unknown { color: var(--skip); background: var(--skip-bg); border-color: var(--line); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 6px 0; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; overflow-wrap: anywhere; }
table.data { border-collapse: collapse; width: 100%; margin: 8px 0 4px; }
table.data th, table.data td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
table.data th { background: var(--bg-alt); font-weight: 600; position: sticky; top: 0; }
table.data td.num, table.data th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data tbody tr:hover { background: #f3f6fa; }
td.reason { max-width: 520px; overflow-wrap: anywhere; } td.id { white-space: nowrap; }
table.transcript td, table.steps td { padding-top: 2px; padding-bottom: 2px; } td.reqs code { font-size: 11.5px; }
.title { color: var(--muted); font-size: 12.5px; }
tr.is-hidden { display: none; }
.toolbar { display: none; gap: 12px; align-items: center; flex-wrap: wrap; margin: 6px 0; }
.js .toolbar { display: flex; }
.toolbar button { font: inherit; font-size: 13px; padding: 2px 10px; border-radius: 14px; border: 1px solid var(--line); background: #fff; cursor: pointer; }
.toolbar button[aria-pressed="true"] { background: var(--fg); color: #fff; border-color: var(--fg); }
.toolbar .verdict-filter { display: inline-flex; gap: 6px; flex-wrap: wrap; }
.toolbar input { font: inherit; padding: 3px 8px; border: 1px solid var(--line); border-radius: 6px; min-width: 220px; }
.filter-status { color: var(--muted); font-size: 12.5px; }
article.evidence, details.evidence { border: 1px solid var(--line); border-radius: 8px; padding: 4px 16px 10px; margin: 12px 0; }
article.evidence { border-left: 4px solid var(--fail); }
details.evidence > summary { cursor: pointer; padding: 8px 0; font-weight: 600; }
ol.findings { padding-left: 20px; } li.finding p { margin: 4px 0; }
.copyable { display: inline-flex; gap: 6px; align-items: baseline; flex-wrap: wrap; }
code.cmd { background: var(--bg-alt); border: 1px solid var(--line); padding: 2px 6px; border-radius: 4px; user-select: all; }
button.copy { display: none; font: inherit; font-size: 12px; padding: 0 8px; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
.js button.copy { display: inline-block; }
table.transcript td.decoded { overflow-wrap: anywhere; } table.transcript td.dir { white-space: nowrap; }
tr.dir-sent td.dir { color: var(--link); } tr.dir-received td.dir { color: var(--pass); } tr.dir-note td { color: var(--muted); font-style: italic; }
details.hex > summary { cursor: pointer; color: var(--muted); white-space: nowrap; } code.hex { display: block; max-width: 520px; overflow-wrap: anywhere; }
.more { color: var(--muted); font-style: italic; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; }
figure { margin: 8px 0; } figcaption { font-weight: 600; margin-bottom: 4px; }
svg { max-width: 100%; height: auto; } svg text { font: 12px system-ui, sans-serif; fill: var(--fg); } svg .axis { stroke: var(--line); }
.bar-rate { fill: #0969da; } .bar-p50 { fill: #54aeff; } .bar-p99 { fill: #0a3069; }
.bar-pass, .sw-pass { fill: var(--pass); background: var(--pass); } .bar-fail, .sw-fail { fill: var(--fail); background: var(--fail); }
.bar-inconclusive, .sw-inconclusive { fill: #d4a72c; background: #d4a72c; } .bar-not-tested, .sw-not-tested { fill: #afb8c1; background: #afb8c1; }
.bar-declared, .sw-declared { fill: #54aeff; background: #54aeff; } .bar-not-covered, .sw-not-covered { fill: #6e7781; background: #6e7781; }
.coverage-bar svg { width: 100%; max-width: 720px; height: 18px; border-radius: 4px; }
.legend { margin-right: 12px; font-size: 12.5px; white-space: nowrap; } .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); }
@media print {
  @page { margin: 14mm 12mm; }
  body { max-width: none; padding: 0; font-size: 10pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  nav, .toolbar, .js .toolbar, button.copy, .js button.copy, p.back { display: none; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; } tr, li.finding, figure { break-inside: avoid; }
  table.data th { position: static; }
  article.evidence, details.evidence { break-inside: auto; }
  code.cmd { user-select: text; }
}
`;

// Reads attributes and text, toggles classes, sets textContent: no report
// data ever becomes markup here.
const SCRIPT = `
(function () {
  'use strict';
  document.documentElement.classList.add('js');
  function apply(box) {
    var table = document.getElementById(box.getAttribute('data-for'));
    if (!table) return;
    var active = box.querySelector('button[data-verdict][aria-pressed="true"]');
    var verdict = active ? active.getAttribute('data-verdict') : 'all';
    var input = box.querySelector('input[type="search"]');
    var q = input ? input.value.trim().toLowerCase() : '';
    var rows = table.querySelectorAll('tbody > tr');
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var ok = (verdict === 'all' || row.getAttribute('data-verdict') === verdict) &&
        (q === '' || row.textContent.toLowerCase().indexOf(q) !== -1);
      row.classList.toggle('is-hidden', !ok);
      if (ok) shown++;
    }
    var status = box.querySelector('.filter-status');
    if (status) status.textContent = shown === rows.length ? 'showing all ' + rows.length : 'showing ' + shown + ' of ' + rows.length;
  }
  var boxes = document.querySelectorAll('.toolbar[data-for]');
  Array.prototype.forEach.call(boxes, function (box) {
    box.addEventListener('click', function (ev) {
      var b = ev.target && ev.target.closest ? ev.target.closest('button[data-verdict]') : null;
      if (!b) return;
      Array.prototype.forEach.call(box.querySelectorAll('button[data-verdict]'), function (x) {
        x.setAttribute('aria-pressed', x === b ? 'true' : 'false');
      });
      apply(box);
    });
    var input = box.querySelector('input[type="search"]');
    if (input) input.addEventListener('input', function () { apply(box); });
    apply(box);
  });
  // Printing files the evidence: open the collapsed evidence blocks, and close them again after.
  var opened = [];
  window.addEventListener('beforeprint', function () {
    Array.prototype.forEach.call(document.querySelectorAll('details.evidence:not([open])'), function (d) {
      d.open = true;
      opened.push(d);
    });
  });
  window.addEventListener('afterprint', function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });
  Array.prototype.forEach.call(document.querySelectorAll('button.copy[data-copy]'), function (b) {
    b.addEventListener('click', function () {
      var code = document.getElementById(b.getAttribute('data-copy'));
      if (!code) return;
      var done = function () {
        b.textContent = 'Copied';
        setTimeout(function () { b.textContent = 'Copy'; }, 1500);
      };
      var range = document.createRange();
      range.selectNodeContents(code);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      var fallback = function () { try { if (document.execCommand('copy')) done(); } catch (err) { /* the text stays selected */ } };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(code.textContent).then(done, fallback);
      else fallback();
    });
  });
})();
`;
