import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BenchWriter, benchMarkdown, benchTable } from '../../harness/report/bench-table.js';
import type { CheckResult, PathResult, RunMeta } from '../../harness/model/index.js';

const measured: PathResult = {
  path: 'coap.block',
  interface: 'coap',
  ops: 1234,
  elapsedMs: 5000,
  rate: 246.8,
  bytesPerSec: 2_500_000,
  errors: 2,
  errorDetail: ['timeout from coap'],
  latency: { samples: 1234, p50Ms: 3.21, p90Ms: 5.5, p99Ms: 12.25, maxMs: 140, meanMs: 3.9 },
  settings: { connections: 1, inFlight: 4, durationMs: 5000, maxOps: 1e7, resource: '/.well-known/core' },
  notes: ['64-byte blocks'],
};
const skipped: PathResult = {
  path: 'dtls.handshake',
  interface: 'coaps',
  ops: 0,
  elapsedMs: 0,
  rate: 0,
  errors: 0,
  skipped: 'no principal with a DTLS PSK',
  settings: { connections: 4, inFlight: 1, durationMs: 5000, maxOps: 1e7 },
  notes: [],
};

const meta: RunMeta = {
  id: 'r1',
  seed: 1,
  startedAt: '2026-11-22T00:00:00.000Z',
  target: 'unit',
  targetSource: 'test',
  profile: 'bench',
  harnessVersion: '0.1.0',
  flaws: [],
  argv: ['bench', '--duration', '5s'],
  node: 'v20.0.0',
  platform: 'linux-x64',
  machine: { cpu: 'Test CPU', cores: 2, memoryGiB: 24 },
};

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('bench tables', () => {
  it('a plain table: figures right-aligned, MB/s, percentiles, errors and settings; a skipped path says why', () => {
    const lines = benchTable([measured, skipped]);
    expect(lines[0]).toMatch(/^interface\s+path\s+rate \/s\s+unit\s+MB\/s\s+p50 ms\s+p90 ms\s+p99 ms\s+max ms\s+errors\s+conns x in flight\s+note$/);
    expect(lines[2]).toMatch(/^coap\s+coap\.block\s+247\s+transfer\s+2\.50\s+3\.21\s+5\.50\s+12\.3\s+140\s+2\s+1 x 4\s+errors: timeout from coap; 64-byte blocks$/);
    expect(lines[3]).toMatch(/dtls\.handshake .*not measured: no principal with a DTLS PSK$/);
  });

  it('bench.md carries the machine, the Node version, the command and the verdicts; written on run-end only when something was measured', () => {
    dir = mkdtempSync(join(tmpdir(), 'gauntlet-bench-md-'));
    const w = new BenchWriter(join(dir, 'bench.md'));
    const result: CheckResult = {
      instance: { id: 'performance.bench@coap', checkId: 'performance.bench', interfaceId: 'coap', seed: 1 },
      title: 'bench',
      verdict: 'pass',
      requirements: [],
      reason: 'coap.block 247/s',
      findings: [],
      durationMs: 5100,
      cases: 1,
      bench: [measured],
    };
    const end = { type: 'run-end', finishedAt: '2026-11-22T00:00:06.000Z', durationMs: 6000, summary: { pass: 1, fail: 0, inconclusive: 0, error: 0, skipped: 0 }, interrupted: false } as const;
    w.onRunBegin(meta, []);
    w.onCheckEnd(result);
    w.onRunEnd(end);
    const md = readFileSync(join(dir, 'bench.md'), 'utf8');
    expect(md).toContain('Node v20.0.0, linux-x64, Test CPU, 2 cores, 24 GiB');
    expect(md).toContain('command: gauntlet bench --duration 5s');
    expect(md).toMatch(/\| coap \| coap\.block \| 247 \| transfer \| 2\.50 \|/);
    expect(md).toContain('- performance.bench@coap: **pass**: coap.block 247/s');
    expect(benchMarkdown).toBeTypeOf('function');

    const empty = join(dir, 'none.md');
    const w2 = new BenchWriter(empty);
    w2.onRunBegin(meta, []);
    w2.onRunEnd(end);
    expect(existsSync(empty)).toBe(false);
  });
});
