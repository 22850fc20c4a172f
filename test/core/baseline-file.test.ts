// The baseline file: loaded and validated with errors naming file, line and
// field; findings accepted into it once, with a justification and a date.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptFindings, loadBaseline, today, writeBaseline } from '../../harness/core/baseline-file.js';
import { fingerprintOf } from '../../harness/model/index.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});
function file(text: string): string {
  dir ??= mkdtempSync(join(tmpdir(), 'gauntlet-baseline-'));
  const p = join(dir, 'baseline.yaml');
  writeFileSync(p, text);
  return p;
}
const f = { id: 'auth.brute-force@mqtts#1', instanceId: 'auth.brute-force@mqtts', summary: 'login accepted after 6 failures' };

describe('baseline file', () => {
  it('round-trips: accepted findings are written, read back and not added twice', () => {
    const first = acceptFindings(undefined, [f], 'risk accepted until 2.1 (JIRA-12)', '2027-01-31');
    expect(first.added).toHaveLength(1);
    const p = file('');
    writeBaseline(p, first.baseline);
    const back = loadBaseline(p);
    expect(back.accepted).toEqual([{ fingerprint: fingerprintOf(f), instance: f.instanceId, summary: f.summary, justification: 'risk accepted until 2.1 (JIRA-12)', expires: '2027-01-31' }]);
    expect(acceptFindings(back, [f], 'again', '2027-02-01').added).toEqual([]);
  });

  it('refuses a missing justification, a bad date, a bad fingerprint, a duplicate and a newer format, naming the line', () => {
    const entry = (o: Record<string, string>) => `format: gauntlet-baseline/1\naccepted:\n  - fingerprint: "${o.fp ?? fingerprintOf(f)}"\n    instance: ${f.instanceId}\n    justification: "${o.why ?? 'ok'}"\n    expires: "${o.exp ?? '2027-01-01'}"\n`;
    expect(() => loadBaseline(file(entry({ why: ' ' })))).toThrow(/baseline\.yaml:\d+: accepted\[0\]\.justification: say why/);
    expect(() => loadBaseline(file(entry({ exp: '2027-02-30' })))).toThrow(/accepted\[0\]\.expires: not a calendar date/);
    expect(() => loadBaseline(file(entry({ exp: 'soon' })))).toThrow(/accepted\[0\]\.expires: expected a date YYYY-MM-DD/);
    expect(() => loadBaseline(file(entry({ fp: 'nope' })))).toThrow(/accepted\[0\]\.fingerprint: expected <check>@<interface>:<16 hex digits>/);
    const twice = `${entry({})}  - fingerprint: "${fingerprintOf(f)}"\n    instance: x\n    justification: y\n    expires: "2027-01-01"\n`;
    expect(() => loadBaseline(file(twice))).toThrow(/baseline\.yaml:7: accepted\[1\]: fingerprint .* is already accepted by accepted\[0\]/);
    expect(() => loadBaseline(file('format: gauntlet-baseline/9\naccepted: []\n'))).toThrow(/newer/);
    expect(() => acceptFindings(undefined, [f], '', '2027-01-01')).toThrow(/--why/);
    expect(() => acceptFindings(undefined, [f], 'x', '31/01/2027')).toThrow(/--expires 31\/01\/2027: expected a date YYYY-MM-DD/);
  });

  it('today is the UTC day', () => {
    expect(today(new Date('2026-11-22T23:59:59Z'))).toBe('2026-11-22');
  });
});
