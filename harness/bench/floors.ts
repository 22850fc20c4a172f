// Declared floors (target file declaration.performance.floors) against what a
// bench measured: regression gating for device firmware. Pure: no I/O.

import type { PathResult, PerformanceFloor } from '../model/index.js';

export interface FloorJudgement {
  readonly floor: PerformanceFloor;
  /** unmeasured: the path was skipped or completed nothing, so the floor cannot be judged. */
  readonly verdict: 'pass' | 'fail' | 'unmeasured';
  readonly detail: string;
}

/** A rate as the tables and reasons print it: `12,345`, `42.0`. */
export const rateText = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3));
const fmtMs = (n: number) => (n >= 100 ? `${Math.round(n).toLocaleString('en-US')} ms` : `${n.toPrecision(3)} ms`);

/** What a floor says, as the target file puts it. */
export function floorText(f: PerformanceFloor): string {
  const parts = [f.minRate !== undefined ? `at least ${rateText(f.minRate)}/s` : '', f.maxP99Ms !== undefined ? `p99 at most ${fmtMs(f.maxP99Ms)}` : ''].filter(Boolean);
  return `${f.path}@${f.interface}: ${parts.join(', ')}`;
}

export function judgeFloor(f: PerformanceFloor, r: PathResult | undefined): FloorJudgement {
  if (!r || r.skipped) return { floor: f, verdict: 'unmeasured', detail: `${floorText(f)}; not measured: ${r?.skipped ?? 'the path did not run'}` };
  if (r.ops === 0) return { floor: f, verdict: 'unmeasured', detail: `${floorText(f)}; no op completed${r.errorDetail?.length ? ` (${r.errorDetail.join('; ')})` : ''}` };
  const misses: string[] = [];
  if (f.minRate !== undefined && r.rate < f.minRate) misses.push(`${rateText(r.rate)}/s is below ${rateText(f.minRate)}/s`);
  if (f.maxP99Ms !== undefined) {
    if (!r.latency) misses.push('no latency was measured');
    else if (r.latency.p99Ms > f.maxP99Ms) misses.push(`p99 ${fmtMs(r.latency.p99Ms)} is above ${fmtMs(f.maxP99Ms)}`);
  }
  const got = `measured ${rateText(r.rate)}/s${r.latency ? `, p99 ${fmtMs(r.latency.p99Ms)}` : ''}`;
  return misses.length
    ? { floor: f, verdict: 'fail', detail: `${floorText(f)}; ${misses.join(', ')} (${got})` }
    : { floor: f, verdict: 'pass', detail: `${floorText(f)}; ${got}` };
}
