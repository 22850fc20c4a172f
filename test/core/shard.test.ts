// Sharding: --shard i/n parsing, and the slices as properties: a partition
// of the plan, the same on every call, balanced within the largest single
// cost, each in plan order.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GauntletError } from '../../harness/core/errors.js';
import { MAX_SHARDS, TIMEOUT_SHARE, assignShards, instanceCost, parseShard, plannedCost, shardPlan } from '../../harness/core/shard.js';

interface Item {
  readonly id: string;
  readonly checkId: string;
  readonly cost: number;
}

const FC = { seed: 20261122, numRuns: 200 } as const;

/** A plan: unique ids, costs from 0 to a few minutes (some equal, some zero). */
const planArb = fc
  .uniqueArray(fc.tuple(fc.constantFrom('auth.a', 'auth.b', 'access.c', 'update.d', 'robustness.e'), fc.constantFrom('mqtt', 'coap', 'http', 'target')), {
    maxLength: 40,
    selector: ([c, i]) => `${c}@${i}`,
  })
  .chain((pairs) =>
    fc.tuple(
      fc.constant(pairs),
      fc.array(fc.oneof(fc.constant(0), fc.constant(1000), fc.integer({ min: 0, max: 300_000 })), { minLength: pairs.length, maxLength: pairs.length }),
    ),
  )
  .map(([pairs, costs]): Item[] => pairs.map(([c, i], k) => ({ id: `${c}@${i}`, checkId: c, cost: costs[k]! })));

const totalArb = fc.integer({ min: 1, max: 12 });
const cost = (p: Item) => p.cost;
const slices = (plan: readonly Item[], total: number) => Array.from({ length: total }, (_, k) => shardPlan(plan, { index: k + 1, total }, cost));

describe('parseShard', () => {
  it('reads i/n', () => {
    expect(parseShard('1/1')).toEqual({ index: 1, total: 1 });
    expect(parseShard('3/4')).toEqual({ index: 3, total: 4 });
    expect(parseShard(' 2 / 256 ')).toEqual({ index: 2, total: MAX_SHARDS });
  });

  it('refuses anything else with USAGE, naming --shard and the expected form', () => {
    for (const bad of ['', '1', '0/4', '5/4', '1/0', '1/257', 'a/b', '1/4/2', '-1/4', '1.5/4', '2/4x']) {
      let err: unknown;
      try {
        parseShard(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(GauntletError);
      expect((err as GauntletError).code, bad).toBe('USAGE');
      expect((err as GauntletError).message, bad).toMatch(/^--shard .*expected i\/n with 1 <= i <= n <= 256, e\.g\. --shard 2\/4/);
    }
    expect(() => parseShard('5/4')).toThrow(/shard 5 of 4 does not exist/);
  });
});

describe('shardPlan', () => {
  it('partitions the plan: every instance in exactly one shard', () => {
    fc.assert(
      fc.property(planArb, totalArb, (plan, total) => {
        const ids = slices(plan, total).flatMap((s) => s.map((p) => p.id));
        expect(ids.slice().sort()).toEqual(plan.map((p) => p.id).sort());
      }),
      FC,
    );
  });

  it('is deterministic: the same inputs give the same slices, whatever order the costs were computed in', () => {
    fc.assert(
      fc.property(planArb, totalArb, (plan, total) => {
        expect(slices(plan, total)).toEqual(slices(plan.map((p) => ({ ...p })), total));
      }),
      FC,
    );
  });

  it('keeps plan order inside each slice (phases stay in order)', () => {
    fc.assert(
      fc.property(planArb, totalArb, (plan, total) => {
        const pos = new Map(plan.map((p, i) => [p.id, i]));
        for (const s of slices(plan, total)) {
          const idx = s.map((p) => pos.get(p.id)!);
          expect(idx).toEqual(idx.slice().sort((a, b) => a - b));
        }
      }),
      FC,
    );
  });

  it('balances: the heaviest and the lightest shard differ by at most the largest single cost', () => {
    fc.assert(
      fc.property(planArb, totalArb, (plan, total) => {
        const loads = slices(plan, total).map((s) => s.reduce((t, p) => t + p.cost, 0));
        const largest = Math.max(0, ...plan.map((p) => p.cost));
        expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(largest);
      }),
      FC,
    );
  });

  it('spreads equal and zero costs by count too', () => {
    const plan: Item[] = Array.from({ length: 8 }, (_, i) => ({ id: `c.x@i${i}`, checkId: 'c.x', cost: 0 }));
    expect(slices(plan, 4).map((s) => s.length)).toEqual([2, 2, 2, 2]);
  });

  it('puts the expensive instance alone when it outweighs the rest', () => {
    const plan: Item[] = [
      { id: 'a@1', checkId: 'a', cost: 10 },
      { id: 'fuzz@1', checkId: 'fuzz', cost: 1000 },
      { id: 'b@1', checkId: 'b', cost: 10 },
      { id: 'c@1', checkId: 'c', cost: 10 },
    ];
    const [s1, s2] = slices(plan, 2);
    expect(s1!.map((p) => p.id)).toEqual(['fuzz@1']);
    expect(s2!.map((p) => p.id)).toEqual(['a@1', 'b@1', 'c@1']);
    expect(assignShards(plan, 2, cost)).toEqual([2, 1, 2, 2]);
  });

  it('more shards than instances leaves some empty', () => {
    const plan: Item[] = [{ id: 'a@1', checkId: 'a', cost: 5 }];
    expect(slices(plan, 3).map((s) => s.length)).toEqual([1, 0, 0]);
  });

  it('refuses an impossible shard', () => {
    expect(() => shardPlan([], { index: 0, total: 2 }, () => 1)).toThrow(GauntletError);
    expect(() => shardPlan([], { index: 3, total: 2 }, () => 1)).toThrow(/expected 1 <= i <= n/);
  });
});

describe('instanceCost', () => {
  it('a budgeted check costs the run\'s time budget; others a share of their time bound; a planner skip nothing', () => {
    expect(instanceCost({ timeoutMs: 900_000, budgeted: true }, { timeMs: 20_000 })).toBe(20_000);
    expect(instanceCost({ timeoutMs: 900_000, budgeted: true })).toBe(900_000);
    expect(instanceCost({ timeoutMs: 180_000 }, { timeMs: 20_000 })).toBe(180_000 * TIMEOUT_SHARE);
    expect(plannedCost({ check: { timeoutMs: 180_000 }, skipReason: 'no coap' })).toBe(0);
    expect(plannedCost({ check: { timeoutMs: 180_000 } })).toBe(180_000 * TIMEOUT_SHARE);
  });
});
