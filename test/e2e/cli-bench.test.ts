// `gauntlet bench` as a user meets it: the real bin against the built-in
// device (in a child process), the table on the console, bench.md and the
// figures in report.json; bad options are one line and exit 2. No figure is
// asserted: speed is measured in benchmarks, not in tests.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Report } from '../../harness/model/index.js';

const BIN = resolve('bin/gauntlet.js');
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gauntlet-bench-cli-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function gauntlet(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: 'true', NO_COLOR: '1' }, timeout: 90_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('gauntlet bench', () => {
  it('--help teaches the paths, the defaults, floors and the exit codes', () => {
    const r = gauntlet(['bench', '--help']);
    expect(r.code).toBe(0);
    for (const word of ['mqtt.publish.qos0', 'coap.block', 'dtls.handshake', 'http.upload', 'connections x in flight', 'floors:', 'Exit codes']) expect(r.out).toContain(word);
  });

  it('measures the chosen paths of the built-in device: a table, bench.md, and every figure in report.json', () => {
    const r = gauntlet(['bench', '--duration', '300ms', '--paths', 'coap.get,http.request', '--out', 'b1']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/Bench \(Node v\d+/);
    expect(r.out).toMatch(/coap\s+coap\.get\s+[\d,.]+\s+request/);
    expect(r.out).toMatch(/https\s+http\.request\s+[\d,.]+\s+request/);
    expect(r.out).toContain('bench.md');
    const md = readFileSync(join(dir, 'b1', 'bench.md'), 'utf8');
    expect(md).toMatch(/\| coap \| coap\.get \| [\d,.]+ \| request \|/);
    expect(md).toMatch(/cores/);
    const report = JSON.parse(readFileSync(join(dir, 'b1', 'report.json'), 'utf8')) as Report;
    expect(report.run.machine?.cores).toBeGreaterThan(0);
    const paths = report.checks.flatMap((c) => c.bench ?? []);
    expect(paths.map((p) => `${p.path}@${p.interface}`).sort()).toEqual(['coap.get@coap', 'http.request@https']);
    for (const p of paths) expect(p.ops).toBeGreaterThan(0);
  }, 90_000);

  it('bad options: one line naming the option and what it takes, exit 2, nothing measured', () => {
    const bad = gauntlet(['bench', '--paths', 'mqtt.publish.qos3', '--out', 'b2']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--paths: unknown path "mqtt\.publish\.qos3"; paths: mqtt\.publish\.qos0/);
    expect(existsSync(join(dir, 'b2'))).toBe(false);
    const dur = gauntlet(['bench', '--duration', '20m']);
    expect(dur.code).toBe(2);
    expect(dur.err).toMatch(/--duration: from 200ms to 10m/);
    const conns = gauntlet(['bench', '--connections', '0']);
    expect(conns.code).toBe(2);
    expect(conns.err).toMatch(/--connections takes a whole number from 1 to 1024/);
  });
});
