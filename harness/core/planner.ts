// The plan: profile x target -> check instances, in a stable order (phase,
// then profile order, then interface order). Pure: same inputs, same plan,
// so shards and replays agree.

import type { Check, PlannedInstance, Profile, Target } from '../model/index.js';
import { GauntletError } from './errors.js';
import { deriveSeed } from './seed.js';

/** The interface id of a whole-device instance: `access.exposed-surface@target`. */
export const TARGET_INSTANCE = 'target';

export interface PlanOptions {
  readonly runSeed: number;
  /** Instance ids (`check@iface`) or check ids; empty = everything in the profile. */
  readonly only?: readonly string[];
}

export interface PlannedCheck extends PlannedInstance {
  readonly check: Check;
}

export function selectChecks(profile: Profile, checks: readonly Check[]): Check[] {
  const out: Check[] = [];
  for (const pattern of profile.checks) {
    const matched = pattern.endsWith('.*') ? checks.filter((c) => c.id.startsWith(pattern.slice(0, -1))) : checks.filter((c) => c.id === pattern);
    for (const c of matched) if (!out.includes(c)) out.push(c);
  }
  return out;
}

export function plan(target: Target, profile: Profile, checks: readonly Check[], opts: PlanOptions): PlannedCheck[] {
  const selected = selectChecks(profile, checks);
  const all: PlannedCheck[] = [];
  for (const phase of ['fresh', 'main', 'update'] as const) {
    for (const check of selected.filter((c) => c.phase === phase)) {
      if (check.per === 'target') {
        const iface = target.interfaces[0]!;
        const id = `${check.id}@${TARGET_INSTANCE}`;
        all.push({
          id,
          checkId: check.id,
          interfaceId: TARGET_INSTANCE,
          seed: deriveSeed(opts.runSeed, id),
          title: check.title,
          requirements: check.requirements,
          skipReason: check.applies(target, iface),
          check,
        });
        continue;
      }
      for (const iface of target.interfaces) {
        if (!check.protocols.includes(iface.protocol)) continue;
        if (check.relevant && !check.relevant(target, iface)) continue;
        const id = `${check.id}@${iface.id}`;
        all.push({
          id,
          checkId: check.id,
          interfaceId: iface.id,
          seed: deriveSeed(opts.runSeed, id),
          title: check.title,
          requirements: check.requirements,
          skipReason: check.applies(target, iface),
          check,
        });
      }
    }
  }
  const only = opts.only?.filter((s) => s.length > 0) ?? [];
  if (only.length === 0) return all;
  for (const o of only) {
    if (!all.some((p) => p.id === o || p.checkId === o)) {
      const known = all.map((p) => p.id);
      throw new GauntletError('USAGE', `--only ${o}: no such check instance in this plan; known: ${known.join(', ') || '(none)'}`);
    }
  }
  return all.filter((p) => only.includes(p.id) || only.includes(p.checkId));
}
