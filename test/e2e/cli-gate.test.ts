// CI gating from the command line: --gate any-fail / new-findings / none,
// a baseline written by `gauntlet baseline` from a run's report, an expired
// acceptance failing the gate again, and the requirement matrix on the
// console and in report.json.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const BIN = resolve('bin/gauntlet.js');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gauntlet-gate-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function gauntlet(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: 'true', NO_COLOR: '1' }, timeout: 90_000 });
  return { code: r.status, out: r.stdout, err: r.stderr, all: `${r.stdout}\n${r.stderr}` };
}

const ONLY = ['--only', 'auth.anonymous-access@https', '--seed', '5'];
const report = (d: string) => JSON.parse(readFileSync(join(dir, d, 'report.json'), 'utf8'));

describe('gauntlet run --gate', () => {
  it('new-findings: fails on a finding nobody accepted, passes once `gauntlet baseline` accepted it, fails again when the acceptance expired', () => {
    const first = gauntlet(['run', '--flaws', 'anonymous-http', ...ONLY, '--out', 'r1']);
    expect(first.code, first.all).toBe(1);
    expect(first.out).toMatch(/GATE FAILED: gate any-fail: 1 check instance\(s\) failed: auth\.anonymous-access@https/);
    expect(report('r1').gate).toMatchObject({ policy: 'any-fail', passed: false });

    const fresh = gauntlet(['run', '--flaws', 'anonymous-http', ...ONLY, '--gate', 'new-findings', '--out', 'r2']);
    expect(fresh.code, fresh.all).toBe(1);
    expect(fresh.out).toMatch(/GATE FAILED: gate new-findings: 3 finding\(s\) not in the baseline: auth\.anonymous-access@https#1, auth\.anonymous-access@https#2, auth\.anonymous-access@https#3/);

    const accept = gauntlet(['baseline', 'r1', '--why', 'demo unit, JIRA-7', '--expires', '2099-12-31', '--file', 'accepted.yaml']);
    expect(accept.code, accept.all).toBe(0);
    expect(accept.out).toMatch(/accepted\.yaml: 3 finding\(s\) accepted until 2099-12-31; 3 in all/);

    const gated = gauntlet(['run', '--flaws', 'anonymous-http', ...ONLY, '--gate', 'new-findings', '--baseline', 'accepted.yaml', '--out', 'r3']);
    expect(gated.code, gated.all).toBe(0);
    expect(gated.out).toMatch(/gate passed: gate new-findings: no new finding; 3 accepted by the baseline/);
    expect(report('r3').gate).toMatchObject({ policy: 'new-findings', passed: true, accepted: ['auth.anonymous-access@https#1', 'auth.anonymous-access@https#2', 'auth.anonymous-access@https#3'] });

    writeFileSync(join(dir, 'accepted.yaml'), readFileSync(join(dir, 'accepted.yaml'), 'utf8').replaceAll('2099-12-31', '2020-01-01'));
    const expired = gauntlet(['run', '--flaws', 'anonymous-http', ...ONLY, '--gate', 'new-findings', '--baseline', 'accepted.yaml', '--out', 'r4']);
    expect(expired.code, expired.all).toBe(1);
    expect(expired.out).toMatch(/3 baseline acceptance\(s\) expired: auth\.anonymous-access@https \(2020-01-01\)/);

    const none = gauntlet(['run', '--flaws', 'anonymous-http', ...ONLY, '--gate', 'none', '--out', 'r5']);
    expect(none.code, none.all).toBe(0);
  }, 120_000);

  it('bad gate input is a one-line usage or config error (exit 2)', () => {
    const noBase = gauntlet(['run', ...ONLY, '--gate', 'any-fail', '--baseline', 'x.yaml']);
    expect(noBase.code).toBe(2);
    expect(noBase.err).toMatch(/--baseline is read by --gate new-findings only/);
    writeFileSync(join(dir, 'bad.yaml'), 'format: gauntlet-baseline/1\naccepted:\n  - fingerprint: nope\n');
    const bad = gauntlet(['run', ...ONLY, '--gate', 'new-findings', '--baseline', 'bad.yaml']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/bad\.yaml:3: accepted\[0\]\.fingerprint/);
    expect(bad.err).not.toMatch(/\n\s+at /);
    const missing = gauntlet(['baseline', 'nowhere', '--why', 'x', '--expires', '2099-01-01']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nowhere\/report\.json: no such report|nowhere: no such report/);
  }, 60_000);

  it('the requirement matrix of the profile is on the console and in report.json', () => {
    const r = gauntlet(['run', '--profile', 'sb-327', '--flaws', 'anonymous-http', ...ONLY, '--out', 'm']);
    const rep = report('m');
    expect(rep.requirements.profile).toBe('sb-327');
    expect(rep.requirements.rows).toHaveLength(3);
    expect(r.out).toMatch(/Requirements:\n {2}sb-327: 3 requirements: 3 tested \(/);
    // auth.anonymous-access evidences (a): it fails there, and the console names it.
    expect(r.out).toMatch(/FAIL CA-SB-327:1798\.91\.04\(a\) .*failed: auth\.anonymous-access@https/);
  }, 60_000);
});
