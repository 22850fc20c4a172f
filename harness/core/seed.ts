// Seeds: one per run, printed and stored; each check instance derives its
// own from (run seed, instance id), so `--only ID --seed N` replays the same
// cases whatever else the plan holds.

import { randomInt } from 'node:crypto';

export function newRunSeed(): number {
  return randomInt(1, 0x7fffffff);
}

/** FNV-1a over the instance id, mixed with the run seed; a positive 31-bit integer. */
export function deriveSeed(runSeed: number, instanceId: string): number {
  let h = 0x811c9dc5 ^ (runSeed >>> 0);
  for (let i = 0; i < instanceId.length; i++) {
    h ^= instanceId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h ^= h >>> 12;
  return (h & 0x7fffffff) || 1;
}

export function parseSeed(text: string): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 0x7fffffff ? n : undefined;
}
