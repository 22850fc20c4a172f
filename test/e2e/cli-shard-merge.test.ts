// Sharding end to end, through the real bin: four `gauntlet run --shard i/4`
// of the same seed, merged with `gauntlet merge`, give the same instances
// and verdicts as one unsharded run; the merged directory then packs into an
// evidence bundle that verifies.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve('bin/gauntlet.js');
/** Fast checks (under a second each but the DTLS replay's 4 s), with a flaw so one fails and writes a finding. */
const ONLY = 'access.exposed-surface,access.unauthenticated-disclosure,auth.anonymous-access,transport.plaintext,transport.dtls-replay';
const COMMON = ['run', '--only', ONLY, '--seed', '42', '--flaws', 'anonymous-mqtt'];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gauntlet-shard-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Ran {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

function gauntlet(args: readonly string[]): Promise<Ran> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, CI: 'true', NO_COLOR: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, out, err });
    });
  });
}

/** Runs the commands two at a time (two cores: each run also hosts its reference device). */
async function pool(commands: readonly (readonly string[])[], width = 2): Promise<Ran[]> {
  const results: Ran[] = new Array(commands.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < commands.length) {
        const i = next++;
        results[i] = await gauntlet(commands[i]!);
      }
    }),
  );
  return results;
}

interface ReportJson {
  run: { id: string; seed: number; shard?: { index: number; total: number; planIds?: string[] }; interrupted: boolean };
  checks: { id: string; verdict: string; findings: { file: string }[] }[];
  summary: Record<string, number>;
}
const report = (d: string): ReportJson => JSON.parse(readFileSync(join(dir, d, 'report.json'), 'utf8')) as ReportJson;
const verdicts = (r: ReportJson) => Object.fromEntries(r.checks.map((c) => [c.id, c.verdict]));

describe('gauntlet run --shard and gauntlet merge', () => {
  it('four shards merged give the unsharded run\'s instances and verdicts; the merge packs and verifies', async () => {
    const shards = [1, 2, 3, 4];
    const runs = await pool([[...COMMON, '--out', 'all'], ...shards.map((i) => [...COMMON, '--shard', `${i}/4`, '--out', `s${i}`])]);
    for (const [i, r] of runs.entries()) {
      expect([0, 1], `run ${i}: ${r.out}${r.err}`).toContain(r.code);
    }
    const all = report('all');
    expect(all.summary['fail']).toBeGreaterThan(0);

    // The slices are disjoint and together the whole plan.
    const sliceIds = shards.map((i) => report(`s${i}`).checks.map((c) => c.id));
    expect(sliceIds.flat().sort()).toEqual(all.checks.map((c) => c.id).sort());
    for (const i of shards) expect(report(`s${i}`).run.shard).toMatchObject({ index: i, total: 4 });

    const merge = await gauntlet(['merge', 's1', 's2', 's3', 's4', '--out', 'merged']);
    expect(merge.code, merge.out + merge.err).toBe(1);
    expect(merge.out).toContain('merged 4 of 4 shard(s) of run seed 42');
    expect(merge.out).toMatch(/reports: merged\/ \(report\.json, report\.html, summary\.md, junit\.xml, events\.jsonl, findings\/\)/);

    const merged = report('merged');
    expect(merged.run.seed).toBe(42);
    expect(merged.run.shard).toBeUndefined();
    expect(merged.run.interrupted).toBe(false);
    expect(merged.checks.map((c) => c.id).sort()).toEqual(all.checks.map((c) => c.id).sort());
    // Shards that record the whole plan's order (run.shard.planIds) merge in exactly that order.
    if (report('s1').run.shard?.planIds) expect(merged.checks.map((c) => c.id)).toEqual(all.checks.map((c) => c.id));
    expect(verdicts(merged)).toEqual(verdicts(all));
    expect(merged.summary).toEqual(all.summary);
    expect(readdirSync(join(dir, 'merged', 'findings')).sort()).toEqual(readdirSync(join(dir, 'all', 'findings')).sort());
    expect(readFileSync(join(dir, 'merged', 'junit.xml'), 'utf8').match(/<testcase /g)).toHaveLength(all.checks.length);

    // A shard given twice, or one missing: exit 2 with one line, no stack.
    const twice = await gauntlet(['merge', 's1', 's1', 's2', 's3', 's4', '--out', 'm2']);
    expect(twice.code).toBe(2);
    expect(twice.err).toMatch(/^gauntlet: s1: given twice\n$/);
    const missing = await gauntlet(['merge', 's1', 's2', 's4', '--out', 'm3']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/shard 3\/4 missing .*--allow-partial/);
    const partial = await gauntlet(['merge', 's1', 's2', 's4', '--out', 'm4', '--allow-partial']);
    expect([0, 1]).toContain(partial.code);
    expect(partial.out).toContain('missing: shard(s) 3/4');

    const pack = await gauntlet(['pack', 'merged', '--out', 'evidence.tar.gz']);
    expect(pack.code, pack.out + pack.err).toBe(0);
    expect(existsSync(join(dir, 'evidence.tar.gz'))).toBe(true);
    const verify = await gauntlet(['pack', '--verify', 'evidence.tar.gz']);
    expect(verify.code, verify.out + verify.err).toBe(0);
    expect(verify.out).toMatch(/^intact: evidence\.tar\.gz: \d+ file\(s\) of run /);
  }, 150_000);

  it('--help of merge and pack shows the CI examples', async () => {
    const merge = await gauntlet(['merge', '--help']);
    expect(merge.code).toBe(0);
    for (const word of ['--allow-partial', 'GitHub Actions', 'Kubernetes Indexed Job', 'JOB_COMPLETION_INDEX']) expect(merge.out).toContain(word);
    const pack = await gauntlet(['pack', '--help']);
    expect(pack.code).toBe(0);
    expect(pack.out).toContain('sha256sum -c');
  });
});
