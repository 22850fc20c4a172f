// Deterministic sharding: `--shard i/n` takes one slice of the plan, so a CI
// matrix or a Kubernetes Indexed Job spreads one run over n machines with no
// coordinator. Pure: the same plan, shard and costs give the same slices on
// every machine, and the n slices together are the plan, each instance once.
//
// Balance: longest-processing-time greedy. Instances sorted by estimated cost
// (largest first, then id) each go to the currently lightest shard (ties: the
// one with fewer instances, then the lowest index), so no shard ends up
// heavier than another by more than the largest single cost. Each slice keeps
// the plan's order, so phases (fresh, main, update) still run in order.

import type { Budget, CheckDescriptor } from '../model/index.js';
import { GauntletError } from './errors.js';

export interface Shard {
  /** 1-based. */
  readonly index: number;
  readonly total: number;
}

/** More shards than this is a typo, not a cluster. */
export const MAX_SHARDS = 256;

/** Parses `--shard i/n` (1 <= i <= n <= 256). */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const usage = `expected i/n with 1 <= i <= n <= ${MAX_SHARDS}, e.g. --shard 2/4 for the second of four shards`;
  if (!m) throw new GauntletError('USAGE', `--shard ${JSON.stringify(text)}: ${usage}`);
  const index = Number(m[1]);
  const total = Number(m[2]);
  if (total < 1 || total > MAX_SHARDS) throw new GauntletError('USAGE', `--shard ${text.trim()}: ${total} shards; ${usage}`);
  if (index < 1 || index > total) throw new GauntletError('USAGE', `--shard ${text.trim()}: shard ${index} of ${total} does not exist; ${usage}`);
  return { index, total };
}

/**
 * The instances of `plan` that shard `shard` runs, in plan order. `cost`
 * estimates an instance's wall time (any unit); a cost that is not a
 * positive finite number counts as 0.
 */
export function shardPlan<T extends { readonly id: string }>(plan: readonly T[], shard: Shard, cost: (p: T) => number): T[] {
  if (!Number.isInteger(shard.total) || shard.total < 1 || !Number.isInteger(shard.index) || shard.index < 1 || shard.index > shard.total) {
    throw new GauntletError('USAGE', `shard ${shard.index}/${shard.total}: expected 1 <= i <= n`);
  }
  const owner = assignShards(plan, shard.total, cost);
  return plan.filter((_, i) => owner[i] === shard.index);
}

/** For each plan position, the 1-based shard that runs it. */
export function assignShards<T extends { readonly id: string }>(plan: readonly T[], total: number, cost: (p: T) => number): number[] {
  const items = plan.map((p, i) => {
    const c = cost(p);
    return { i, id: p.id, cost: Number.isFinite(c) && c > 0 ? c : 0 };
  });
  // Largest first; equal costs by id (and plan position for duplicate ids), so the order never depends on the sort's stability.
  items.sort((a, b) => b.cost - a.cost || (a.id < b.id ? -1 : a.id > b.id ? 1 : a.i - b.i));
  const load = new Array<number>(total).fill(0);
  const count = new Array<number>(total).fill(0);
  const owner = new Array<number>(plan.length);
  for (const item of items) {
    let best = 0;
    for (let s = 1; s < total; s++) {
      if (load[s]! < load[best]! || (load[s] === load[best] && count[s]! < count[best]!)) best = s;
    }
    load[best]! += item.cost;
    count[best]!++;
    owner[item.i] = best + 1;
  }
  return owner;
}

/**
 * Share of a check's time bound taken as its expected wall time. Bounds are
 * set for a slow device and a loaded machine; on the reference device a
 * check typically takes a few percent of its bound.
 */
export const TIMEOUT_SHARE = 0.05;

/**
 * Estimated wall time of one instance of `check`, ms, for balancing shards.
 * A budgeted check (a fuzz campaign, a flood) runs for the run's time budget,
 * so that is its cost; any other check costs a fixed share of its time bound
 * (`timeoutMs`), which check authors already scale to the work the check
 * does. An estimate, not a measurement: it only has to rank a 5-minute update
 * check above a 1-minute replay probe. A skipped instance costs nothing
 * (callers pass 0 for `skipReason`).
 */
export function instanceCost(check: Pick<CheckDescriptor, 'timeoutMs' | 'budgeted'>, budget?: Pick<Budget, 'timeMs'>): number {
  if (check.budgeted) return budget?.timeMs ?? check.timeoutMs;
  return check.timeoutMs * TIMEOUT_SHARE;
}

/** The cost of a planned instance: 0 when the planner already skips it, else instanceCost. */
export function plannedCost(p: { readonly check: Pick<CheckDescriptor, 'timeoutMs' | 'budgeted'>; readonly skipReason?: string }, budget?: Pick<Budget, 'timeMs'>): number {
  return p.skipReason !== undefined ? 0 : instanceCost(p.check, budget);
}
