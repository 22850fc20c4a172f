// Mutation rate: fuzz/mutate.ts applying drawn mutation lists to the corpus
// seeds (placeholders filled as robustness.fuzz fills them), one op = one
// mutated case. The lists are drawn once, outside the timing, so the rows
// time the mutators alone (drawing and applying together: generate-*,
// "mutated corpus seed"). Beside the least a mutator can do: copy the
// seed's steps with one bit flipped in each.

import fc from 'fast-check';
import type { FuzzCase, FuzzProtocol } from '../../model/index.js';
import { loadSeeds } from '../../fuzz/corpus.js';
import { applyMutations, DEFAULT_MAX_MUTATIONS, instantiateSeed, mutationArb, type Mutation } from '../../fuzz/mutate.js';
import type { BenchTask, Suite } from '../hot-paths.js';
import { EXAMPLE_TARGET } from './arbitraries.js';
import { caseBytes, cycler, mean } from './util.js';

interface Plan {
  readonly seed: number;
  readonly mutations: readonly Mutation[];
}

const PLANS = 256;
const SEED = 20261122;

/** The seeds as mutatedCaseArb sees them, and PLANS mutation lists drawn as it draws them (1..4 mutations). */
function plansFor(protocol: FuzzProtocol): { ready: FuzzCase[]; plans: Plan[] } {
  const opts = protocol === 'mqtt' ? { auth: EXAMPLE_TARGET.mqtt.auth } : protocol === 'http' ? { host: EXAMPLE_TARGET.http.host } : {};
  const ready = loadSeeds(protocol).map((s) => instantiateSeed(protocol, s, opts));
  const plan = fc.record({ seed: fc.nat({ max: ready.length - 1 }), mutations: fc.array(mutationArb, { minLength: 1, maxLength: DEFAULT_MAX_MUTATIONS }) });
  return { ready, plans: fc.sample(plan, { seed: SEED, numRuns: PLANS }) };
}

/** Copies every step of the seed, flipping one bit in each (where the plan's first mutation points). */
function flipByHand(ready: readonly FuzzCase[], p: Plan): number {
  const seed = ready[p.seed]!;
  const at = p.mutations[0]!.step;
  let n = 0;
  for (const s of seed.steps) {
    const b = Buffer.from(s.bytes);
    const i = at % Math.max(1, b.length);
    if (i < b.length) b[i] = b[i]! ^ (1 << (at & 7));
    n += b.length;
  }
  return n;
}

export function mutation(): Suite {
  const protocols: readonly FuzzProtocol[] = ['mqtt', 'coap', 'http'];
  const all = protocols.map((protocol) => ({ protocol, ...plansFor(protocol) }));
  const batch = 64;
  const facts: string[] = [];
  const rows: BenchTask[] = all.map(({ protocol, ready, plans }) => {
    const out = plans.map((p) => applyMutations(protocol, ready, p.seed, p.mutations));
    // Deterministic: the same plan gives the same case.
    if (applyMutations(protocol, ready, plans[0]!.seed, plans[0]!.mutations).case.label !== out[0]!.case.label) throw new Error(`bench mutate: applyMutations(${protocol}) is not deterministic`);
    const edits = out.reduce((n, o) => n + o.applied.filter((a) => a.edit).length, 0);
    const tried = out.reduce((n, o) => n + o.applied.filter((a) => a.mutation.kind === 'field').length, 0);
    facts.push(`${protocol} ${Math.round(mean(out.map((o) => caseBytes(o.case))))} B cases, ${edits} of ${tried} field edits applied`);
    const apply = cycler(plans, (p) => caseBytes(applyMutations(protocol, ready, p.seed, p.mutations).case));
    return { name: `applyMutations, ${protocol} (${ready.length} seeds)`, batch, fn: () => apply(batch) };
  });
  const flips = all.flatMap(({ ready, plans }) => plans.map((p) => ({ ready, p })));
  const byHand = cycler(flips, ({ ready, p }) => flipByHand(ready, p));
  return {
    id: 'mutate',
    title: `Mutation of corpus seeds, fuzz/mutate.ts: ${PLANS} lists of 1..${DEFAULT_MAX_MUTATIONS} mutations per protocol drawn outside the timing (${facts.join('; ')})`,
    unit: 'mutated case',
    tasks: [{ name: 'copy + one bit flip per step, by hand (all three corpora)', baseline: true, batch: batch * 4, fn: () => byHand(batch * 4) }, ...rows],
  };
}
