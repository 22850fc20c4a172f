// The baseline of accepted findings (gauntlet-baseline/1, YAML or JSON) that
// `--gate new-findings` reads: each entry a finding's fingerprint, the
// instance and summary it was accepted for, a justification and an expiry
// date. `gauntlet baseline` writes and extends it from a run's report.

import { stringify } from 'yaml';
import { z } from 'zod';
import { BASELINE_FORMAT, fingerprintOf, type Baseline, type BaselineEntry, type GateFinding } from '../model/index.js';
import { GauntletError } from './errors.js';
import { checkFormat, readYamlFile, validate } from './yaml-file.js';
import { writeFileAtomic } from '../report/atomic-write.js';

export const BASELINE_FAMILY = 'gauntlet-baseline';
export const BASELINE_VERSION = 1;

const isoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD')
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), 'not a calendar date');

export const baselineFileSchema = z.strictObject({
  format: z.literal(BASELINE_FORMAT),
  accepted: z
    .array(
      z.strictObject({
        fingerprint: z.string().regex(/^[^\s:]+@[^\s:]+:[0-9a-f]{16}$/, 'expected <check>@<interface>:<16 hex digits>, as `gauntlet baseline` writes it'),
        instance: z.string().min(1),
        summary: z.string().default(''),
        justification: z.string().trim().min(1, 'say why the finding is accepted (who decided, ticket, risk)'),
        expires: isoDay,
      }),
    )
    .default([]),
});

export function loadBaseline(path: string): Baseline {
  const loaded = readYamlFile(path, 'baseline');
  checkFormat(loaded, BASELINE_FAMILY, BASELINE_VERSION);
  const file = validate(loaded, baselineFileSchema, 'a baseline');
  const seen = new Map<string, number>();
  for (const [i, e] of file.accepted.entries()) {
    const first = seen.get(e.fingerprint);
    if (first !== undefined) {
      throw new GauntletError('CONFIG_INVALID', `${path}:${loaded.lineOf(['accepted', i]) ?? 1}: accepted[${i}]: fingerprint ${e.fingerprint} is already accepted by accepted[${first}]`);
    }
    seen.set(e.fingerprint, i);
  }
  return { format: BASELINE_FORMAT, accepted: file.accepted };
}

/** Today as YYYY-MM-DD (UTC), the gate's clock. */
export function today(now = new Date()): string {
  return now.toISOString().slice(0, 10);
}

/**
 * The baseline with these findings accepted (entries already there are kept
 * as they are; a finding already accepted is not added twice). Returns the
 * new baseline and how many entries were added.
 */
export function acceptFindings(base: Baseline | undefined, findings: readonly GateFinding[], justification: string, expires: string): { baseline: Baseline; added: BaselineEntry[] } {
  if (!justification.trim()) throw new GauntletError('USAGE', '--why: say why these findings are accepted (who decided, ticket, risk)');
  if (!isoDay.safeParse(expires).success) throw new GauntletError('USAGE', `--expires ${expires}: expected a date YYYY-MM-DD`);
  const have = new Set((base?.accepted ?? []).map((e) => e.fingerprint));
  const added: BaselineEntry[] = [];
  for (const f of findings) {
    const fingerprint = fingerprintOf(f);
    if (have.has(fingerprint)) continue;
    have.add(fingerprint);
    added.push({ fingerprint, instance: f.instanceId, summary: f.summary, justification: justification.trim(), expires });
  }
  return { baseline: { format: BASELINE_FORMAT, accepted: [...(base?.accepted ?? []), ...added] }, added };
}

export function writeBaseline(path: string, b: Baseline): void {
  const text = `# Accepted findings for \`gauntlet run --gate new-findings --baseline ${path}\`.\n# Each entry holds until its expiry date; past it, the gate fails until it is renewed or fixed.\n${stringify(b, { lineWidth: 0 })}`;
  writeFileAtomic(path, text, 'the baseline');
}
