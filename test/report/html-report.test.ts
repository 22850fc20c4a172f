import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { coverageLine, evaluateGate } from '../../harness/model/index.js';
import { HTML_FILE, HtmlReporter, TRANSCRIPT_ROWS, escapeHtml, renderHtml } from '../../harness/report/html-report.js';
import { buildReport } from '../../harness/report/report-builder.js';
import { HOSTILE, reportFixture } from './fixtures-report.js';
import { feed, syntheticRun } from './synthetic-run.js';

const count = (text: string, re: RegExp): number => (text.match(re) ?? []).length;

/** Everything in the markup (tags and the stylesheet, not escaped text) that could make a browser fetch something. */
function networkReferences(html: string): string[] {
  const tags = html.match(/<[a-zA-Z][^>]*>/g) ?? [];
  const attributes = [
    /\b(?:src|srcset|href|action|formaction|poster|data|background|xlink:href|ping)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?\/\//gi,
    /\b(?:src|srcset|poster|background|ping)\s*=/gi,
    /\bstyle\s*=/gi,
  ];
  const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
  return [
    ...tags.flatMap((t) => attributes.flatMap((p) => t.match(p) ?? [])),
    ...tags.filter((t) => /^<(?:link|img|iframe|object|embed|audio|video|source|base|image|use|frame|applet)\b/i.test(t)),
    ...tags.filter((t) => /^<meta\s+http-equiv=["']?refresh/i.test(t)),
    ...styles.flatMap((css) => css.match(/@import|url\s*\(|@font-face/gi) ?? []),
  ];
}

describe('renderHtml', () => {
  const report = reportFixture();
  const html = renderHtml(report);

  it('is one self-contained document: inline style and script, a CSP that allows nothing else', () => {
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(count(html, /<style>/g)).toBe(1);
    expect(count(html, /<script>/g)).toBe(1);
    expect(count(html, /<script/g)).toBe(1);
    expect(networkReferences(html)).toEqual([]);
    // Not even the SVG namespace URL: nothing here names a network address.
    expect(html).not.toMatch(/https?:\/\//);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1]!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'none'");
    const hash = (tag: string) => {
      const body = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(html)![1]!;
      return `'sha256-${createHash('sha256').update(body).digest('base64')}'`;
    };
    expect(csp).toContain(`style-src ${hash('style')}`);
    expect(csp).toContain(`script-src ${hash('script')}`);
    expect(html).toContain('@media print');
  });

  it('is deterministic', () => {
    expect(renderHtml(reportFixture())).toBe(html);
  });

  it('shows the summary: target, profile, counts, gate and run metadata', () => {
    const r = report.run;
    expect(html).toContain(`<title>Gauntlet report: ${r.target} (${r.profile})</title>`);
    for (const [v, n] of Object.entries(report.summary)) {
      expect(html).toContain(`<div class="tile v-${v}" data-verdict="${v}"><span class="n">${n}</span><span class="label">${v}</span></div>`);
    }
    expect(html).toContain('Gate new-findings: FAILED');
    expect(html).toContain(escapeHtml(report.gate!.reason));
    expect(html).toContain('Expired acceptances');
    expect(html).toContain('Accepted (baseline)');
    for (const text of [r.id, String(r.seed), r.startedAt, r.finishedAt!, '2 min 24 s', r.harnessVersion, r.node, r.platform, 'AMD EPYC 7B13, 2 cores, 7.8 GiB', 'weak-lockout', 'acl-wildcard', '1/2']) {
      expect(html).toContain(text);
    }
    expect(html).toContain(`gauntlet ${r.argv.join(' ')}`);
    expect(html).toContain('<dt>Interrupted</dt><dd>no</dd>');
  });

  it('shows the requirement matrix with coverage and a row per requirement', () => {
    const m = report.requirements!;
    expect(html).toContain(escapeHtml(coverageLine(m)));
    const rows = /<table id="matrix-table"[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(html)![1]!;
    expect(count(rows, /<tr /g)).toBe(m.rows.length);
    for (const r of m.rows) {
      expect(rows).toContain(`data-verdict="${r.verdict}"><td class="id"><code>${escapeHtml(r.id)}</code></td><td>${escapeHtml(r.title)}</td><td>${r.status}</td>`);
      expect(rows).toContain(escapeHtml(r.reason));
    }
    // Instances link to their check rows.
    expect(rows).toContain('<a href="#check-1"><code>auth.brute-force@broker</code></a>');
  });

  it('shows the checks table with verdicts, reasons, durations and cases, and filter controls', () => {
    const rows = /<table id="checks-table"[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(html)![1]!;
    expect(count(rows, /<tr /g)).toBe(report.checks.length);
    for (const c of report.checks) {
      expect(rows).toContain(`data-verdict="${c.verdict}"><td><code>${escapeHtml(c.id)}</code>`);
      expect(rows).toContain(escapeHtml(c.reason));
    }
    expect(rows).toContain('<td class="num">31.2 s</td><td class="num">41</td>');
    expect(rows).toContain('<code class="code">CHECK_TIMEOUT</code>');
    expect(html).toContain('<div class="toolbar" data-for="checks-table"');
    expect(html).toContain('<div class="toolbar" data-for="matrix-table"');
    expect(html).toContain('<button type="button" class="f-fail" data-verdict="fail" aria-pressed="false">fail <span class="count">3</span></button>');
    expect(count(html, /<input type="search"/g)).toBe(2);
  });

  it('shows each finding with its evidence, counterexample, fuzz input and a copyable replay command', () => {
    for (const c of report.checks) {
      for (const f of c.findings) {
        expect(html).toContain(escapeHtml(f.summary));
        expect(html).toMatch(new RegExp(`<code id="copy-\\d+" class="cmd">${escapeRe(escapeHtml(f.replay))}</code><button type="button" class="copy" data-copy="copy-\\d+"`));
        expect(html).toContain(`<code>${escapeHtml(f.file)}</code>`);
      }
    }
    const brute = report.checks[1]!;
    expect(html).toContain(`<dt>Observed</dt><dd>${escapeHtml(brute.evidence!.observed)}</dd>`);
    expect(html).toContain('<dt>Declared</dt><dd>lockout 5 attempts / 30 s</dd>');
    expect(html).toContain('<dt>Source</dt><dd><code>target:declaration.lockout</code></dd>');
    expect(html).toContain('<td class="decoded">CONNACK returnCode=5 (not authorized)</td>');
    expect(html).toContain('<details class="hex"><summary>4 B</summary><code class="hex">20 02 00 05</code></details>');
    expect(html).toContain('<summary>64 B (+1,984 cut)</summary>');
    expect(html).toContain('<a href="findings/auth.brute-force%40broker-1.json"><code>findings/auth.brute-force@broker-1.json</code></a>');
    // counterexample
    expect(html).toContain('<dt>Seed</dt><dd><code>1938475001</code></dd><dt>Path</dt><dd><code>17:2:0</code></dd>');
    expect(html).toContain(escapeHtml('{ principal: "sensor", op: "subscribe", topic: "config/#" }'));
    // fuzz input
    expect(html).toContain('oracle <strong>crash</strong>');
    expect(html).toContain('<td>fixed header</td><td><code class="hex">10 ff ff ff ff 7f</code></td>');
    // figures of the campaign
    expect(html).toContain('<dt>cases/s</dt><dd>88.7</dd>');
    // inconclusive evidence, open
    expect(html).toMatch(/<details class="evidence" id="ev-5" open><summary><code>robustness\.malformed-coap@coap<\/code>/);
  });

  it('draws the bench paths as inline SVG bar charts of rate and p50/p99 latency', () => {
    const rate = /<figure class="chart" id="bench-rate">([\s\S]*?)<\/figure>/.exec(html)![1]!;
    const latency = /<figure class="chart" id="bench-latency">([\s\S]*?)<\/figure>/.exec(html)![1]!;
    expect(count(rate, /<rect class="bar-rate"/g)).toBe(4); // coap.block was not measured
    expect(rate).toContain('>24,000/s</text>');
    expect(rate).toContain('>broker mqtt.publish.qos0<title>');
    expect(count(latency, /<rect class="bar-p50"/g)).toBe(4);
    expect(count(latency, /<rect class="bar-p99"/g)).toBe(4);
    expect(latency).toContain('>p99 95.0 ms</text>');
    // the widest bar is the largest figure
    expect(rate).toMatch(/<rect class="bar-rate" x="230" y="\d+" width="300\.0"/);
    expect(html).toContain('not measured: no block-wise resource declared');
  });

  it('caps a long transcript and says how many entries more, pointing to the finding file', () => {
    const big = renderHtml(reportFixture({ transcriptEntries: 1000 }));
    const table = /Transcript \(1,002 entries\)<\/h4>\n<table class="data transcript">[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(big)![1]!;
    expect(count(table, /<tr /g)).toBe(TRANSCRIPT_ROWS);
    expect(big).toContain('802 more entries not shown; the full transcript is in <a href="findings/auth.brute-force%40broker-1.json">');
  });

  it('escapes every hostile string: no markup, no script, no network reference', () => {
    const hostile = renderHtml(reportFixture({ hostile: true }));
    expect(count(hostile, /<script/gi)).toBe(1);
    expect(count(hostile, /<style/gi)).toBe(1);
    expect(hostile).not.toContain('<img');
    expect(hostile).not.toMatch(/<[^>]*\sonerror=/i);
    expect(networkReferences(hostile)).toEqual([]);
    expect(hostile).toContain('&lt;script&gt;window.__pwned = 1; alert(1)&lt;/script&gt;');
    expect(hostile).toContain('&quot;&gt;&lt;img src=&quot;http://evil.example/x.png&quot;');
    expect(hostile).toContain('\\u0000\\u001b[31m');
    // The title and the transcript's decoded banner carry it as text too.
    expect(hostile).toMatch(/<title>Gauntlet report: thermo-x200 &lt;script&gt;/);
    expect(hostile).toContain('<td class="decoded">CONNACK banner=&lt;script&gt;');
    // The script itself never writes markup.
    const script = /<script>([\s\S]*?)<\/script>/.exec(hostile)![1]!;
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    expect(HOSTILE).toContain('<script>');
    // The detector itself finds what it should, so the checks above are not vacuous.
    expect(networkReferences('<p><img src="http://x.example/a.png"><a href="//x.example">x</a></p><style>@import url(x.css);</style>')).toHaveLength(6);
  });

  it('escapeHtml handles quotes, ampersands, controls and lone surrogates', () => {
    expect(escapeHtml(`a&b<c>"d'e`)).toBe('a&amp;b&lt;c&gt;&quot;d&#39;e');
    expect(escapeHtml('x\u0000y\u007fz\ud800')).toBe('x\\u0000y\\u007fz\\ud800');
    expect(escapeHtml('tab\tnl\n😀')).toBe('tab\tnl\n😀');
    expect(escapeHtml(undefined)).toBe('');
    expect(escapeHtml(42)).toBe('42');
  });

  it('says so when there is no gate, no matrix, no finding and no bench', () => {
    const bare = renderHtml({ ...reportFixture({ noGate: true }), requirements: undefined, checks: [reportFixture().checks[0]!] });
    expect(bare).toContain('No gate decision in this report.');
    expect(bare).toContain('No findings: no check failed.');
    expect(bare).not.toContain('id="matrix-table"');
    expect(bare).not.toContain('id="bench"');
  });
});

describe('HtmlReporter', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gauntlet-html-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes report.html at run end from the events, with what the finish hook adds', async () => {
    const path = join(dir, HTML_FILE);
    const events = syntheticRun();
    const withGate = (r: ReturnType<typeof buildReport>) => ({
      ...r,
      gate: evaluateGate('any-fail', r.checks.filter((c) => c.verdict === 'fail').map((c) => c.id), [], undefined, '2025-01-02'),
    });
    const reporter = new HtmlReporter(path, withGate);
    await feed(events.slice(0, -1), reporter);
    expect(existsSync(path)).toBe(false);
    await feed(events.slice(-1), reporter);
    expect(readFileSync(path, 'utf8')).toBe(renderHtml(withGate(buildReport(events))));
    expect(readFileSync(path, 'utf8')).toContain('Gate any-fail: FAILED');
  });

  it('flush() writes an interrupted run', async () => {
    const path = join(dir, HTML_FILE);
    const reporter = new HtmlReporter(path);
    reporter.flush();
    expect(existsSync(path)).toBe(false);
    await feed(syntheticRun({ killedAfter: 2 }), reporter);
    reporter.flush();
    expect(readFileSync(path, 'utf8')).toContain('<strong class="warn">yes: checks that did not run are inconclusive</strong>');
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
