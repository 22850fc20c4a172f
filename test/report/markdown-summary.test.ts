import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { coverageLine } from '../../harness/model/index.js';
import { MARKDOWN_LIMIT, MarkdownSummaryWriter, SUMMARY_FILE, mdCode, mdText, renderMarkdown } from '../../harness/report/markdown-summary.js';
import { buildReport } from '../../harness/report/report-builder.js';
import { reportFixture } from './fixtures-report.js';
import { feed, syntheticRun } from './synthetic-run.js';

const ZWSP = '\u200b';

/** The cells of a GFM table row, split on unescaped pipes the way GitHub does. */
function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

/** The rows of the table that follows `heading`. */
function tableAfter(md: string, heading: string): string[] {
  const lines = md.split('\n');
  let i = lines.findIndex((l) => l.startsWith(heading));
  expect(i).toBeGreaterThanOrEqual(0);
  while (!lines[i]!.startsWith('| ')) i++;
  const out: string[] = [];
  for (i += 2; lines[i]?.startsWith('| '); i++) out.push(lines[i]!);
  return out;
}

describe('renderMarkdown', () => {
  const report = reportFixture();
  const md = renderMarkdown(report);

  it('opens with the gate decision, the verdict counts and the requirement coverage', () => {
    const lines = md.split('\n');
    expect(lines[0]).toBe('## ❌ Gauntlet: thermo-x200 · etsi-en-303-645');
    expect(md).toContain(`**Gate \`new-findings\`: failed**: ${mdText(report.gate!.reason, 1500)}`);
    expect(md).toContain('**9 checks**: 3 pass · 3 fail · 1 inconclusive · 1 error · 1 skipped · 4 findings (1 critical, 2 high, 1 medium)');
    expect(md).toContain(`**Requirements**: ${mdText(coverageLine(report.requirements!))}`);
    expect(md).toContain('**Failing requirements**: `EN303645:5.1-5`, `EN303645:5.5-7`, `EN303645:5.13-1`');
  });

  it('lists the failing checks with their findings and replay commands', () => {
    const rows = tableAfter(md, '### Failing checks (3)');
    expect(rows).toHaveLength(3);
    const brute = cells(rows[0]!);
    expect(brute).toHaveLength(3);
    expect(brute[0]).toBe('`auth.brute-force@broker`');
    expect(brute[1]).toBe('lockout not enforced: 6 failed logins accepted');
    const f = report.checks[1]!.findings;
    expect(brute[2]).toBe(
      `**high** ${mdText(f[0]!.summary)}<br>replay: \`${f[0]!.replay}\`<br>**medium** ${mdText(f[1]!.summary)}<br>replay: \`${f[1]!.replay}\``,
    );
    expect(cells(rows[1]!)[2]).toContain('**critical** sensor subscribed to config/\\# and received config/sensor-2');
  });

  it('lists the inconclusive and error checks', () => {
    const rows = tableAfter(md, '### Inconclusive and error (2)');
    expect(rows.map(cells)).toEqual([
      ['`robustness.malformed-coap@coap`', 'inconclusive', 'device stopped answering after case 7'],
      ['`update.signature@web`', 'error `CHECK_TIMEOUT`', 'check ran past its 20s bound'],
    ]);
  });

  it('keeps the full requirement matrix in a collapsed <details>', () => {
    const open = md.indexOf('<details>');
    const close = md.indexOf('</details>');
    expect(open).toBeGreaterThan(0);
    expect(close).toBeGreaterThan(open);
    expect(md).toContain('<summary>Requirement matrix: etsi-en-303-645 (10 requirements)</summary>\n\n| Requirement |');
    const rows = tableAfter(md.slice(open), '<summary>');
    expect(rows).toHaveLength(report.requirements!.rows.length);
    for (const [i, r] of report.requirements!.rows.entries()) {
      const c = cells(rows[i]!);
      expect(c[0]).toBe(`\`${r.id}\``);
      expect(c[2]).toBe(r.verdict === 'fail' ? '**fail**' : r.verdict);
      expect(c).toHaveLength(5);
    }
    expect(md).toContain('`robustness.malformed-mqtt@broker` fail<br>`robustness.malformed-coap@coap` inconclusive');
  });

  it('ends with the run id, seed and where the evidence is', () => {
    expect(md).toContain('<sub>Run `20250102-030405-abcd` · seed `424242` · 2 min 24 s · gauntlet 0.1.0');
    expect(md).toContain('report.html beside report.json');
  });

  it('escapes hostile strings: no HTML, no link, no image, no mention, cells stay cells', () => {
    const hostile = renderMarkdown(reportFixture({ hostile: true }));
    expect(hostile).not.toMatch(/<(script|img|style)/i);
    expect(hostile).toContain('&lt;script&gt;window.\\_\\_pwned = 1; alert(1)&lt;/script&gt;');
    expect(hostile).not.toMatch(/(?<!\\)\]\(/); // no link or image syntax survives
    expect(hostile).not.toMatch(/https?:\/\//); // no autolink
    expect(hostile).not.toMatch(/@everyone/);
    expect(hostile).toContain(`@${ZWSP}everyone`);
    expect(hostile).toContain('\\| pipe \\| \\`tick\\` \\`\\`double\\`\\`');
    expect(hostile).toContain('\\\\u0000\\\\u001b\\[31m'); // shows as \u0000\u001b[31m
    // Every table row keeps its column count.
    for (const heading of ['### Failing checks', '### Inconclusive and error', '<summary>']) {
      const rows = tableAfter(hostile, heading);
      const width = heading === '<summary>' ? 5 : 3;
      for (const r of rows) expect(cells(r)).toHaveLength(width);
    }
    // Instance ids in code spans: GitHub makes no mention of `@broker` there.
    expect(hostile).toContain('`auth.brute-force@broker`');
  });

  it('mdCode fences around backticks and escapes pipes in table cells', () => {
    expect(mdCode('a|b')).toBe('`a\\|b`');
    expect(mdCode('a|b', 100, false)).toBe('`a|b`');
    expect(mdCode('x `y` z')).toBe('``x `y` z``');
    expect(mdCode('`start')).toBe('`` `start ``');
    expect(mdCode('a ``` b')).toBe('````a ``` b````');
    expect(mdCode('line1\nline2')).toBe('`line1 line2`');
    expect(mdCode('')).toBe('');
  });

  it('mdText leaves no markup', () => {
    expect(mdText('*a* _b_ [c](d) ![e](f) <g> & # ~h~ \\')).toBe('\\*a\\* \\_b\\_ \\[c\\](d) !\\[e\\](f) &lt;g&gt; &amp; \\# \\~h\\~ \\\\');
    expect(mdText('see https://x.example and www.y.example')).toBe(`see https:${ZWSP}//x.example and www${ZWSP}.y.example`);
    expect(mdText('x'.repeat(600), 10)).toBe(`${'x'.repeat(9)}…`);
  });

  it('stays under GitHub\'s comment limit, dropping rows with a note', () => {
    const big = reportFixture({ extraFailing: 2000, hostile: true, transcriptEntries: 5000 });
    const text = renderMarkdown(big);
    expect(text.length).toBeLessThanOrEqual(MARKDOWN_LIMIT);
    expect(text).toMatch(/_… \d[\d,]* failing checks not shown: summary\.md stays under 65,000 characters/);
    // The rest still closes properly and the footer is there.
    expect(text).toContain('### Inconclusive and error (2)');
    expect(text.indexOf('</details>')).toBeGreaterThan(text.indexOf('<details>'));
    expect(text).toContain('<sub>Run `20250102-030405-abcd`');
    const shown = tableAfter(text, '### Failing checks').length;
    const omitted = Number(/_… ([\d,]+) failing checks not shown/.exec(text)![1]!.replace(/,/g, ''));
    expect(shown + omitted).toBe(2003);

    // A smaller limit cuts the matrix too, inside its <details>.
    const small = renderMarkdown(reportFixture(), 4000);
    expect(small.length).toBeLessThanOrEqual(4000);
    expect(small).toMatch(/not shown: summary\.md stays under/);
    expect(small).toContain('</details>');
  });

  it('says so when nothing failed', () => {
    const r = reportFixture({ noGate: true });
    const passing = { ...r, checks: r.checks.filter((c) => c.verdict === 'pass'), summary: { pass: 3, fail: 0, inconclusive: 0, error: 0, skipped: 0 } };
    const text = renderMarkdown(passing);
    expect(text.split('\n')[0]).toBe('## ✅ Gauntlet: thermo-x200 · etsi-en-303-645');
    expect(text).toContain('No check failed.');
    expect(text).not.toContain('### Inconclusive and error');
    expect(text).not.toContain('**Gate');
  });
});

describe('MarkdownSummaryWriter', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gauntlet-md-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes summary.md at run end from the events', async () => {
    const path = join(dir, SUMMARY_FILE);
    const writer = new MarkdownSummaryWriter(path);
    const events = syntheticRun();
    await feed(events.slice(0, -1), writer);
    expect(existsSync(path)).toBe(false);
    await feed(events.slice(-1), writer);
    const text = readFileSync(path, 'utf8');
    expect(text).toBe(renderMarkdown(buildReport(events)));
    expect(text).toContain('### Failing checks (1)');
    expect(text).toContain('replay: `gauntlet replay reports/latest/findings/auth.brute-force@broker-1.json`');
  });
});
