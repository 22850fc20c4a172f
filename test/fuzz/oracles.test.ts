// The latency oracle (LatencyWatch), proven both ways: a median that grows
// past the factor and the floor is creep, said once; scheduling jitter on a
// busy host (a 2 ms probe taking 50) and a slow but steady device are not.

import { describe, expect, it } from 'vitest';
import { DEFAULT_THRESHOLDS, LatencyWatch } from '../../harness/fuzz/oracles.js';

const feed = (w: LatencyWatch, xs: readonly number[]) => xs.map((x) => w.add(x)).filter((v) => v !== undefined);
const many = (n: number, ms: number) => Array.from({ length: n }, () => ms);

describe('LatencyWatch', () => {
  it('reports creep once the window median passes the factor and the floor', () => {
    const w = new LatencyWatch(DEFAULT_THRESHOLDS);
    const verdicts = feed(w, [...many(20, 5), ...many(25, 400)]);
    expect(verdicts).toHaveLength(6);
    expect(verdicts[0]).toEqual({ oracle: 'latency', detail: 'probe median 400.0 ms over the last 20 cases, baseline 5.0 ms (threshold x10 and +250 ms)' });
    expect(w.baseline).toBe(5);
  });

  it('jitter of a loaded host (2 ms probes taking 50 ms) is not creep', () => {
    expect(feed(new LatencyWatch(DEFAULT_THRESHOLDS), [...many(20, 2), ...many(40, 56)])).toEqual([]);
  });

  it('a slow but steady device is not creep, and nothing is judged before the baseline and a full window', () => {
    expect(feed(new LatencyWatch(DEFAULT_THRESHOLDS), many(100, 900))).toEqual([]);
    expect(feed(new LatencyWatch(DEFAULT_THRESHOLDS), [...many(20, 5), ...many(19, 5000)])).toEqual([]);
    expect(new LatencyWatch(DEFAULT_THRESHOLDS).baseline).toBeUndefined();
  });

  it('the thresholds are the caller\'s: a tighter floor catches a smaller creep', () => {
    expect(feed(new LatencyWatch({ ...DEFAULT_THRESHOLDS, latencyFloorMs: 20 }), [...many(20, 2), ...many(20, 56)])).toHaveLength(1);
  });
});
