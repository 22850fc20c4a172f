import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JsonReporter } from '../../harness/report/json-reporter.js';
import { NOT_RUN_REASON, buildReport } from '../../harness/report/report-builder.js';
import { feed, syntheticRun } from './synthetic-run.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gauntlet-json-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('JsonReporter', () => {
  it('writes report.json (2-space pretty) at run end, equal to the builder output', async () => {
    const path = join(dir, 'report.json');
    const reporter = new JsonReporter(path);
    const events = syntheticRun();
    await feed(events.slice(0, -1), reporter);
    expect(existsSync(path)).toBe(false);
    await feed(events.slice(-1), reporter);
    const text = readFileSync(path, 'utf8');
    expect(text).toMatch(/^\{\n {2}"format": "gauntlet-report\/1",\n/);
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(buildReport(events))));
    expect(readdirSync(dir)).toEqual(['report.json']); // no temp file left behind
  });

  it('flush() writes the state of an interrupted run', async () => {
    const path = join(dir, 'out', 'report.json');
    const reporter = new JsonReporter(path);
    reporter.flush(); // before run-begin: nothing to write
    expect(existsSync(path)).toBe(false);
    await feed(syntheticRun({ killedAfter: 2 }), reporter);
    reporter.flush();
    const report = JSON.parse(readFileSync(path, 'utf8'));
    expect(report.run.interrupted).toBe(true);
    expect(report.checks.at(-1)).toMatchObject({ verdict: 'inconclusive', reason: NOT_RUN_REASON });
    expect(report.summary.inconclusive).toBe(2);
  });

  it('throws REPORT_WRITE when the file cannot be written', async () => {
    writeFileSync(join(dir, 'blocker'), 'a file, not a directory');
    const reporter = new JsonReporter(join(dir, 'blocker', 'report.json'));
    await feed(syntheticRun().slice(0, 1), reporter);
    expect(() => reporter.flush()).toThrow(expect.objectContaining({ code: 'REPORT_WRITE' }));
  });
});
