// report.html in a real browser: Debian's chromium driven by playwright-core
// (which never downloads a browser of its own here). The page must render
// from file:// with no request beyond its own file, its filters must hide and
// show rows, and no hostile string may run as script. Without chromium the
// test is skipped with a loud notice, except under CI=true, where that fails.
//
// A full-page screenshot goes to the test's temp dir, and is copied to
// $GAUNTLET_SCREENSHOT_DIR when that is set (generated files are never
// committed).

import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HTML_FILE, renderHtml } from '../../harness/report/html-report.js';
import { reportFixture } from './fixtures-report.js';

const CHROMIUM_PACKAGE = 'chromium';
const executable = inject('chromium');
const ci = (process.env['CI'] ?? '').toLowerCase() === 'true' || process.env['CI'] === '1';

if (!executable && !ci) {
  const bar = '!'.repeat(78);
  console.error(
    [
      '',
      bar,
      `!!  test/report/html-browser.test.ts SKIPPED: Debian package ${CHROMIUM_PACKAGE} is missing (/usr/bin/chromium)`,
      `!!      sudo apt-get update && sudo apt-get install -y ${CHROMIUM_PACKAGE}`,
      bar,
      '',
    ].join('\n'),
  );
}

describe.skipIf(!executable && !ci)('report.html in chromium', () => {
  let dir: string;
  let browser: Browser | undefined;
  let page: Page;
  const requests: string[] = [];
  const problems: string[] = [];
  // A device banner carrying script and markup, as a hostile device would send it.
  const report = reportFixture({ hostile: 'banner' });

  beforeAll(async () => {
    if (!executable) {
      throw new Error(`CI=true but Debian package ${CHROMIUM_PACKAGE} is missing: the browser test must not be skipped in CI. Install with: apt-get install -y ${CHROMIUM_PACKAGE}`);
    }
    dir = mkdtempSync(join(tmpdir(), 'gauntlet-html-browser-'));
    writeFileSync(join(dir, HTML_FILE), renderHtml(report));
    browser = await chromium.launch({ executablePath: executable, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await page.goto(pathToFileURL(join(dir, HTML_FILE)).href, { waitUntil: 'load' });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const visibleRows = (table: string) => page.locator(`#${table} tbody tr:visible`).count();

  it('renders the title, the summary counts and the matrix', async () => {
    expect(await page.title()).toBe('Gauntlet report: thermo-x200 (etsi-en-303-645)');
    expect(await page.locator('h1').textContent()).toBe('Gauntlet report: thermo-x200');
    for (const [verdict, n] of Object.entries(report.summary)) {
      await expect(page.locator(`#verdict-counts .tile[data-verdict="${verdict}"] .n`).textContent()).resolves.toBe(String(n));
    }
    expect(await page.locator('#matrix-table tbody tr').count()).toBe(report.requirements!.rows.length);
    expect(await visibleRows('matrix-table')).toBe(report.requirements!.rows.length);
    expect(await page.locator('#checks-table tbody tr').count()).toBe(report.checks.length);
    expect(await page.locator('#gate-decision').textContent()).toContain('FAILED');
    // The hostile banner is text on the page, never markup or script.
    expect(await page.locator('#findings td.decoded').nth(1).textContent()).toContain('CONNACK banner=<script>window.__pwned = 1; alert(1)</script> "><img src=');
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('svg rect').count()).toBeGreaterThan(0);
  });

  it('makes no request but its own file, and logs no error', () => {
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('filters the checks by verdict and by text', async () => {
    const toolbar = page.locator('.toolbar[data-for="checks-table"]');
    await toolbar.locator('button[data-verdict="fail"]').click();
    expect(await visibleRows('checks-table')).toBe(report.summary.fail);
    expect(await page.locator('#checks-table tbody tr:visible[data-verdict="fail"]').count()).toBe(report.summary.fail);
    expect(await toolbar.locator('.filter-status').textContent()).toBe(`showing ${report.summary.fail} of ${report.checks.length}`);

    await toolbar.locator('input[type="search"]').fill('brute-force');
    expect(await visibleRows('checks-table')).toBe(1);
    expect(await page.locator('#checks-table tbody tr:visible code').first().textContent()).toBe('auth.brute-force@broker');

    await toolbar.locator('button[data-verdict="pass"]').click();
    expect(await visibleRows('checks-table')).toBe(0);

    await toolbar.locator('button[data-verdict="all"]').click();
    await toolbar.locator('input[type="search"]').fill('');
    expect(await visibleRows('checks-table')).toBe(report.checks.length);
  });

  it('filters the requirement matrix by verdict and by text', async () => {
    const rows = report.requirements!.rows;
    const toolbar = page.locator('.toolbar[data-for="matrix-table"]');
    await toolbar.locator('button[data-verdict="declared"]').click();
    expect(await visibleRows('matrix-table')).toBe(rows.filter((r) => r.verdict === 'declared').length);
    await toolbar.locator('button[data-verdict="all"]').click();
    await toolbar.locator('input[type="search"]').fill('5.13-1');
    expect(await visibleRows('matrix-table')).toBe(1);
    await toolbar.locator('input[type="search"]').fill('');
    expect(await visibleRows('matrix-table')).toBe(rows.length);
  });

  it('selects a replay command for copying, and prints without the controls', async () => {
    const replay = report.checks[1]!.findings[0]!.replay;
    const block = page.locator('#findings .replay').first();
    expect(await block.locator('code.cmd').textContent()).toBe(replay);
    await block.locator('button.copy').click();
    expect(await page.evaluate('String(window.getSelection())')).toBe(replay);

    expect(await page.locator('.toolbar').first().isVisible()).toBe(true);
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('.toolbar').first().isVisible()).toBe(false);
    expect(await page.locator('nav').isVisible()).toBe(false);
    expect(await page.locator('#checks-table').isVisible()).toBe(true);
    await page.emulateMedia({ media: 'screen' });
  });

  it('takes a full-page screenshot', async () => {
    const shot = join(dir, 'report-html.png');
    await page.screenshot({ path: shot, fullPage: true });
    const keep = process.env['GAUNTLET_SCREENSHOT_DIR'];
    if (keep) {
      mkdirSync(keep, { recursive: true });
      copyFileSync(shot, join(keep, 'report-html.png'));
    }
  });
});
