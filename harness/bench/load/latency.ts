// Latency samples of one load run: a fixed-size reservoir (uniform sample
// of every op once more arrive than it holds), so a long run at 100k ops/s
// costs bounded memory and one typed-array write per op; percentiles by
// sorting the reservoir once at the end.

import type { LatencySummary } from '../../model/index.js';

/** Samples kept at most: percentiles up to p99 stay within a fraction of a percent. */
export const RESERVOIR = 65_536;

export class LatencyRecorder {
  private readonly buf: Float64Array;
  private seen = 0;
  private max = 0;
  private sum = 0;
  /** xorshift32 state: reservoir replacement needs cheap randomness, not Math.random's. */
  private rng = 0x9e3779b9;

  constructor(capacity = RESERVOIR) {
    this.buf = new Float64Array(Math.max(1, capacity));
  }

  /** One op's latency, ms. */
  add(ms: number): void {
    this.seen++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (this.seen <= this.buf.length) {
      this.buf[this.seen - 1] = ms;
      return;
    }
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    const j = this.rng % this.seen;
    if (j < this.buf.length) this.buf[j] = ms;
  }

  get count(): number {
    return this.seen;
  }

  /** Undefined when nothing was recorded. */
  summary(): LatencySummary | undefined {
    if (this.seen === 0) return undefined;
    const kept = this.buf.slice(0, Math.min(this.seen, this.buf.length)).sort();
    const at = (q: number) => kept[Math.min(kept.length - 1, Math.max(0, Math.ceil(q * kept.length) - 1))]!;
    return { samples: this.seen, p50Ms: at(0.5), p90Ms: at(0.9), p99Ms: at(0.99), maxMs: this.max, meanMs: this.sum / this.seen };
  }
}

/** Milliseconds since an arbitrary origin, sub-microsecond resolution. */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
