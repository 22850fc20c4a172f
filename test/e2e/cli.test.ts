// The command line as a user meets it: the real bin, spawned, with exit
// codes, one-line config errors, reports on disk, replay of a finding, and
// an interrupted run that still writes its reports.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const BIN = resolve('bin/gauntlet.js');
let dir: string;
const children: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gauntlet-cli-'));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function gauntlet(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: 'true', NO_COLOR: '1', ...env }, timeout: 90_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('gauntlet CLI', () => {
  it('--help teaches the commands and exit codes; each command has its own help', () => {
    const r = gauntlet(['--help']);
    expect(r.code).toBe(0);
    for (const word of ['run', 'replay', 'device', 'list', 'Exit codes']) expect(r.out).toContain(word);
    const run = gauntlet(['run', '--help']);
    expect(run.code).toBe(0);
    expect(run.out).toContain('--target');
    expect(run.out).toContain('Examples:');
  });

  it('fuzz: --help teaches the budget and oracles; a short campaign on the hardened device exits 0 with its stats', () => {
    const help = gauntlet(['fuzz', '--help']);
    expect(help.code).toBe(0);
    for (const word of ['--protocol', '--budget', 'crash', 'hang', 'reboot', 'Examples:']) expect(help.out).toContain(word);
    const r = gauntlet(['fuzz', '--protocol', 'coap', '--budget', '80', '--seed', '9', '--out', 'fuzz1']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/PASS robustness\.fuzz@coap .*no crash, hang, reboot, invalid reply or latency creep: 80 cases in/);
    const report = JSON.parse(readFileSync(join(dir, 'fuzz1', 'report.json'), 'utf8'));
    expect(report.run.profile).toBe('fuzz-coap');
    expect(report.checks[0].stats).toMatchObject({ cases: 80, batch: 1, findings: 0, ended: 'cases' });
    expect(existsSync(join(dir, 'corpora', 'findings'))).toBe(false);
  });

  it('fuzz: a crash found in batches is kept in the corpus, and `gauntlet replay` of that file reproduces it byte for byte', () => {
    // The built-in device runs as a child process here: the crash is a real exit and the campaign restarts it.
    const r = gauntlet(['fuzz', '--protocol', 'coap', '--flaws', 'coap-crash-option', '--budget', '400', '--batch', '4', '--seed', '9', '--out', 'fuzz2']);
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.out).toMatch(/restart\(s\) through target control/);
    expect(r.out).toMatch(/FAIL robustness\.fuzz@coap .*stopped answering \(crash\)/);
    expect(r.out).toMatch(/fuzz corpus: \d+ finding input\(s\) kept \(corpora\/findings\//);
    const report = JSON.parse(readFileSync(join(dir, 'fuzz2', 'report.json'), 'utf8'));
    expect(report.checks[0].stats.batch).toBe(4);
    const [targetDir] = readdirSync(join(dir, 'corpora', 'findings'));
    const [file] = readdirSync(join(dir, 'corpora', 'findings', targetDir!));
    const again = gauntlet(['replay', join('corpora', 'findings', targetDir!, file!)]);
    expect(again.code, again.out + again.err).toBe(1);
    expect(again.out).toMatch(/reproduced/);
  }, 150_000);

  it('usage errors exit 2 with a message, never a stack trace', () => {
    for (const args of [['run', '--bogus'], ['run', '--seed', 'abc'], ['run', '--flaws', 'nonsense'], ['frobnicate'], ['run', '--gate', 'maybe'], ['fuzz'], ['fuzz', '--protocol', 'dtls'], ['fuzz', '--protocol', 'mqtt', '--budget', 'soon'], ['fuzz', '--protocol', 'mqtt', '--budget', '0'], ['fuzz', '--protocol', 'coap', '--batch', '0'], ['fuzz', '--protocol', 'coap', '--batch', 'many'], ['fuzz', '--protocol', 'coap', '--latency-factor', '1'], ['fuzz', '--protocol', 'coap', '--latency-window', '2.5']]) {
      const r = gauntlet(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).not.toMatch(/\n\s+at /);
    }
    expect(gauntlet(['run', '--flaws', 'nonsense']).err).toMatch(/unknown flaw "nonsense"/);
  });

  it('a missing or malformed target file exits 2 with one line naming the file, line and field', () => {
    const missing = gauntlet(['run', '--target', 'nope.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.err.trim()).toBe('gauntlet: nope.yaml: target file: no such file');

    const bad = write('bad.yaml', 'format: gauntlet-target/1\nname: x\nscope: { hosts: [127.0.0.1] }\ninterfaces:\n  - { id: b, protocol: mqtt, url: 42 }\n');
    const r = gauntlet(['run', '--target', bad]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/bad\.yaml:5: interfaces\[0\]\.url: expected string/);

    const yaml = write('broken.yaml', 'format: gauntlet-target/1\nname: [unclosed\n');
    const y = gauntlet(['run', '--target', yaml]);
    expect(y.code).toBe(2);
    expect(y.err).toMatch(/broken\.yaml:\d+:\d+: not valid YAML/);

    const newer = write('newer.yaml', 'format: gauntlet-target/9\nname: x\n');
    expect(gauntlet(['run', '--target', newer]).err).toMatch(/newer than this Gauntlet reads/);
  });

  it('a malformed profile exits 2 naming the file and field', () => {
    const p = write('p.yaml', 'format: gauntlet-profile/1\nname: p\nchecks:\n  - auth.nope\n');
    const r = gauntlet(['run', '--profile', p]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/p\.yaml:4: checks\[0\]: no check "auth\.nope"/);
    expect(gauntlet(['run', '--profile', 'no-such-profile']).code).toBe(2);
  });

  it('hardened device: exit 0 and the report.json contract', () => {
    const r = gauntlet(['run', '--only', 'auth.anonymous-access', '--out', 'out', '--seed', '42']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/2 checks: 2 pass/);
    const report = JSON.parse(readFileSync(join(dir, 'out', 'report.json'), 'utf8'));
    expect(report.format).toBe('gauntlet-report/1');
    expect(report.run).toMatchObject({ seed: 42, target: 'reference-device', profile: 'default', harnessVersion: expect.any(String), startedAt: expect.any(String), id: expect.any(String) });
    expect(report.summary).toEqual({ pass: 2, fail: 0, inconclusive: 0, error: 0, skipped: 0 });
    for (const c of report.checks) {
      expect(c).toMatchObject({ id: expect.any(String), interface: expect.any(String), verdict: 'pass', reason: expect.any(String), durationMs: expect.any(Number), findings: [] });
      expect(c.requirements.length).toBeGreaterThan(0);
    }
    const junit = readFileSync(join(dir, 'out', 'junit.xml'), 'utf8');
    expect(junit.match(/<testcase /g)).toHaveLength(2);
    expect(readFileSync(join(dir, 'out', 'events.jsonl'), 'utf8').split('\n')[0]).toBe('{"format":"gauntlet-events/1"}');
  });

  it('a flaw fails its check with exit 1, and the finding replays (exit 1, "reproduced")', () => {
    const r = gauntlet(['run', '--flaws', 'anonymous-mqtt', '--only', 'auth.anonymous-access@mqtts', '--seed', '7']);
    expect(r.code, r.out + r.err).toBe(1);
    const runs = readdirSync(join(dir, 'reports')).filter((d) => d !== 'latest');
    expect(runs).toHaveLength(1);
    expect(existsSync(join(dir, 'reports', 'latest', 'report.json'))).toBe(true);
    const report = JSON.parse(readFileSync(join(dir, 'reports', 'latest', 'report.json'), 'utf8'));
    const finding = report.checks[0].findings[0];
    expect(finding.replay).toMatch(/^gauntlet replay reports\/.+\/findings\/.+\.json$/);
    expect(r.out).toContain(finding.replay);

    const replay = gauntlet(finding.replay.split(' ').slice(1));
    expect(replay.code, replay.out + replay.err).toBe(1);
    expect(replay.out).toMatch(/reproduced: anonymous MQTT session accepted/);
  });

  it('a property counterexample replays from its file, running only the shrunk case', () => {
    const r = gauntlet(['run', '--flaws', 'password-prefix-match', '--only', 'auth.credential-robustness@https', '--out', 'run1', '--seed', '7']);
    expect(r.code, r.out + r.err).toBe(1);
    const [file] = readdirSync(join(dir, 'run1', 'findings'));
    const finding = JSON.parse(readFileSync(join(dir, 'run1', 'findings', file!), 'utf8'));
    expect(finding.format).toBe('gauntlet-finding/1');
    expect(finding.finding.evidence.counterexample.path).not.toBe('');
    const replay = gauntlet(['replay', join('run1', 'findings', file!), '--out', 'replay1']);
    expect(replay.code, replay.out + replay.err).toBe(1);
    expect(replay.out).toContain('reproduced');
    const again = JSON.parse(readFileSync(join(dir, 'replay1', 'report.json'), 'utf8'));
    expect(again.checks[0].cases).toBe(1);
  });

  it('replay of a finding that no longer reproduces exits 0 (the hardened device via --target)', async () => {
    const r = gauntlet(['run', '--flaws', 'anonymous-mqtt', '--only', 'auth.anonymous-access@mqtts', '--out', 'run2', '--seed', '7']);
    expect(r.code).toBe(1);
    const [file] = readdirSync(join(dir, 'run2', 'findings'));
    const target = join(dir, 'hardened.yaml');
    const device = spawn(process.execPath, [BIN, 'device', '--write-target', target, '--exit-after', '60s'], { cwd: dir });
    children.push(device);
    await new Promise<void>((res, rej) => {
      let seen = '';
      device.stdout!.on('data', (d) => {
        seen += d;
        if (seen.includes('running;')) res();
      });
      device.on('exit', () => rej(new Error(`device exited: ${seen}`)));
    });
    const replay = gauntlet(['replay', join('run2', 'findings', file!), '--target', target, '--out', 'replay2']);
    expect(replay.code, replay.out + replay.err).toBe(0);
    expect(replay.out).toContain('not reproduced');
  });

  it('an interrupted run exits 130 and still writes its reports', async () => {
    const child = spawn(process.execPath, [BIN, 'run', '--out', 'int', '--seed', '7'], { cwd: dir, env: { ...process.env, CI: 'true', NO_COLOR: '1' } });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await new Promise<void>((res, rej) => {
      const deadline = Date.now() + 30_000;
      const t = setInterval(() => {
        if (/\[\d+\/\d+\] PASS/.test(out)) {
          clearInterval(t);
          res();
        } else if (Date.now() > deadline || child.exitCode !== null) {
          clearInterval(t);
          rej(new Error(`no check finished before the deadline; output so far:\n${out}`));
        }
      }, 20);
    });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    expect(code).toBe(130);
    const report = JSON.parse(readFileSync(join(dir, 'int', 'report.json'), 'utf8'));
    expect(report.run.interrupted).toBe(true);
    expect(report.checks.length).toBeGreaterThan(5);
    expect(report.checks.some((c: { reason: string }) => /interrupted/.test(c.reason))).toBe(true);
  }, 60_000);

  it('list shows checks with requirement ids, profiles and flaws', () => {
    const checks = gauntlet(['list', 'checks']);
    expect(checks.code).toBe(0);
    expect(checks.out).toMatch(/auth\.brute-force .*C03/);
    expect(checks.out).toContain('ETSI-EN-303-645:5.1-5');
    const profiles = gauntlet(['list', 'profiles']);
    expect(profiles.code).toBe(0);
    expect(profiles.out).toMatch(/^default /m);
    // Each profile: its description, then its coverage figures (or that it has no requirement table).
    expect(profiles.out).toMatch(/^etsi-en-303-645 +ETSI EN 303 645.*\n +92 requirements: \d+ tested, \d+ declared, \d+ not covered$/m);
    for (const name of ['nistir-8259a', 'en-18031-1', 'sb-327', 'full']) {
      expect(profiles.out).toMatch(new RegExp(`^${name} .*\\n +\\d+ requirements: \\d+ tested, \\d+ declared, \\d+ not covered$`, 'm'));
    }
    expect(profiles.out).toMatch(/^ci-smoke .*\n +no requirement table/m);
    expect(gauntlet(['list', 'flaws']).out).toMatch(/^no-lockout /m);
    expect(gauntlet(['list', 'nothing']).code).toBe(2);
  });
});
