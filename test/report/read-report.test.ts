import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readReport } from '../../harness/report/read-report.js';
import { buildReport } from '../../harness/report/report-builder.js';
import { syntheticRun } from './synthetic-run.js';
import { thrown } from '../support/errors.js';

type Json = Record<string, unknown>;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gauntlet-read-report-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The synthetic run's report as plain JSON, for breaking. */
function report(): Json {
  return JSON.parse(JSON.stringify(buildReport(syntheticRun()))) as Json;
}

function write(doc: unknown, name = 'report.json'): string {
  const path = join(dir, name);
  writeFileSync(path, typeof doc === 'string' ? doc : `${JSON.stringify(doc, null, 2)}\n`);
  return path;
}

const checkOf = (r: Json, i: number): Json => (r.checks as Json[])[i]!;

describe('readReport', () => {
  it('reads a report the builder made, and keeps fields this version does not know', () => {
    const doc = report();
    doc.addedLater = { x: 1 };
    checkOf(doc, 0).addedLater = true;
    const r = readReport(write(doc));
    expect(r).toEqual(doc);
    expect(r.checks.map((c) => c.verdict)).toEqual(['pass', 'fail', 'skipped', 'error', 'inconclusive']);
  });

  it('refuses a newer version, naming the file', () => {
    const path = write({ ...report(), format: 'gauntlet-report/2' });
    const e = thrown(() => readReport(path));
    expect(e.code).toBe('CONFIG_VERSION');
    expect(e.message).toBe(`${path}: format gauntlet-report/2 is newer than this Gauntlet reads (gauntlet-report/1); upgrade Gauntlet`);
  });

  it('refuses another format and a missing one', () => {
    const foreign = write({ ...report(), format: 'gauntlet-finding/1' });
    const e = thrown(() => readReport(foreign));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(`${foreign}: not a Gauntlet report: format "gauntlet-finding/1" (expected "gauntlet-report/1")`);

    const { format: _format, ...rest } = report();
    const missing = write(rest, 'no-format.json');
    expect(thrown(() => readReport(missing))).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining(`${missing}: not a Gauntlet report: no format field`) });

    const array = write([1, 2], 'array.json');
    expect(thrown(() => readReport(array))).toMatchObject({ code: 'CONFIG_INVALID', message: `${array}: not a Gauntlet report: expected a JSON object` });
  });

  it('refuses a file that is not JSON, and a missing file', () => {
    const path = write('{"format": "gauntlet-report/1", "checks": [', 'cut.json');
    expect(thrown(() => readReport(path))).toMatchObject({ code: 'CONFIG_PARSE', message: `${path}: not a Gauntlet report: not valid JSON` });
    expect(thrown(() => readReport(join(dir, 'nope.json')))).toMatchObject({ code: 'CONFIG_NOT_FOUND', message: expect.stringContaining('no such file') });
  });

  it('names the file and field of a bad value: unknown verdict, missing field, wrong type, unknown severity', () => {
    const cases: [string, (r: Json) => void, string][] = [
      ['unknown verdict', (r) => (checkOf(r, 3).verdict = 'maybe'), 'checks[3].verdict: expected one of pass, fail, inconclusive, error, skipped; got "maybe"'],
      ['missing verdict', (r) => delete checkOf(r, 0).verdict, 'checks[0].verdict: missing (expected one of pass, fail, inconclusive, error, skipped)'],
      ['missing findings', (r) => delete checkOf(r, 1).findings, 'checks[1].findings: missing (expected array)'],
      ['checks not an array', (r) => (r.checks = {}), 'checks: expected array, got object'],
      ['id a number', (r) => (checkOf(r, 2).id = 7), 'checks[2].id: expected string, got number'],
      ['finding severity', (r) => ((checkOf(r, 1).findings as Json[])[0]!.severity = 'urgent'), 'checks[1].findings[0].severity: expected one of critical, high, medium, low, info; got "urgent"'],
      ['seed a string', (r) => ((r.run as Json).seed = '42'), 'run.seed: expected number, got string'],
      ['no summary', (r) => delete r.summary, 'summary: missing (expected object)'],
    ];
    for (const [what, breakIt, field] of cases) {
      const doc = report();
      breakIt(doc);
      const path = write(doc);
      const e = thrown(() => readReport(path));
      expect(e.code, what).toBe('CONFIG_INVALID');
      expect(e.message, what).toBe(`${path}: ${field}`);
    }
  });

  it('says how many more fields are wrong', () => {
    const doc = report();
    checkOf(doc, 0).verdict = 'maybe';
    checkOf(doc, 1).verdict = 'perhaps';
    const path = write(doc);
    expect(thrown(() => readReport(path)).message).toMatch(/checks\[0\]\.verdict: expected one of .*; got "maybe" \(\+1 more\)$/);
  });
});
