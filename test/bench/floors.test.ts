import { describe, expect, it } from 'vitest';
import { floorText, judgeFloor } from '../../harness/bench/floors.js';
import type { PathResult } from '../../harness/model/index.js';

const result = (over: Partial<PathResult> = {}): PathResult => ({
  path: 'mqtt.publish.qos1',
  interface: 'broker',
  ops: 10_000,
  elapsedMs: 5000,
  rate: 2000,
  errors: 0,
  latency: { samples: 10_000, p50Ms: 1, p90Ms: 2, p99Ms: 8, maxMs: 20, meanMs: 1.2 },
  settings: { connections: 2, inFlight: 16, durationMs: 5000, maxOps: 1e7 },
  notes: [],
  ...over,
});

describe('judgeFloor: declared floors against what was measured', () => {
  it('passes at or above the rate and at or under the p99', () => {
    const j = judgeFloor({ interface: 'broker', path: 'mqtt.publish.qos1', minRate: 2000, maxP99Ms: 8 }, result());
    expect(j.verdict).toBe('pass');
    expect(j.detail).toBe('mqtt.publish.qos1@broker: at least 2,000/s, p99 at most 8.00 ms; measured 2,000/s, p99 8.00 ms');
  });

  it('fails below the rate, and above the p99, saying each miss', () => {
    expect(judgeFloor({ interface: 'broker', path: 'mqtt.publish.qos1', minRate: 2001 }, result()).detail).toMatch(/2,000\/s is below 2,001\/s/);
    const j = judgeFloor({ interface: 'broker', path: 'mqtt.publish.qos1', minRate: 5000, maxP99Ms: 5 }, result());
    expect(j.verdict).toBe('fail');
    expect(j.detail).toMatch(/2,000\/s is below 5,000\/s, p99 8\.00 ms is above 5\.00 ms/);
  });

  it('a p99 floor on a path with no latency fails (nothing shows it holds)', () => {
    const { latency: _, ...bare } = result();
    expect(judgeFloor({ interface: 'broker', path: 'mqtt.publish.qos1', maxP99Ms: 5 }, bare).verdict).toBe('fail');
  });

  it('a skipped path, or one that completed nothing, is unmeasured, never a pass', () => {
    const f = { interface: 'broker', path: 'mqtt.publish.qos1' as const, minRate: 1 };
    expect(judgeFloor(f, undefined)).toMatchObject({ verdict: 'unmeasured', detail: expect.stringMatching(/the path did not run/) });
    expect(judgeFloor(f, result({ skipped: 'no principal' })).detail).toMatch(/not measured: no principal/);
    expect(judgeFloor(f, result({ ops: 0, rate: 0, errorDetail: ['CONNACK 5'] })).detail).toMatch(/no op completed \(CONNACK 5\)/);
  });

  it('floorText reads like the target file', () => {
    expect(floorText({ interface: 'web', path: 'http.request', maxP99Ms: 250 })).toBe('http.request@web: p99 at most 250 ms');
  });
});
