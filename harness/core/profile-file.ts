// Profiles (format gauntlet-profile/1): which checks a run plans and which
// requirements they evidence. Built-in ones live in profiles/; `--profile`
// takes a built-in name or a file path.
//
// Beyond the schema the loader refuses a profile that claims more than its
// checks can show: every check id must exist, requirement ids are unique,
// and a requirement marked `covered` must be evidenced by a check the
// profile selects (one whose requirement ids include it, or one the row
// names in its `checks`). Anything else is `declared` or `not-covered`.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Profile } from '../model/index.js';
import { GauntletError } from './errors.js';
import { packageRoot } from './paths.js';
import { checkFormat, readYamlFile, validate } from './yaml-file.js';

export const PROFILE_FORMAT = 'gauntlet-profile';
export const PROFILE_FORMAT_VERSION = 1;

export const profileFileSchema = z.strictObject({
  format: z.literal(`${PROFILE_FORMAT}/${PROFILE_FORMAT_VERSION}`),
  name: z.string().min(1),
  description: z.string().default(''),
  checks: z.array(z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+|\.\*)?$/, 'expected a check id like auth.brute-force or a group like auth.*')).min(1),
  requirements: z
    .array(
      z.strictObject({
        id: z.string().min(1),
        title: z.string().min(1),
        checks: z.array(z.string()).default([]),
        status: z.enum(['covered', 'declared', 'not-covered']).default('covered'),
        reason: z.string().optional(),
      }),
    )
    .default([]),
});

export const DEFAULT_PROFILE = 'default';

export function builtinProfilePath(name: string): string {
  return join(packageRoot(), 'profiles', `${name}.yaml`);
}

/** What the loader needs of a check: its id and the requirement ids it emits. */
export interface KnownCheck {
  readonly id: string;
  readonly requirements: readonly string[];
}

/** The checks a list of patterns (`id` or `prefix.*`) selects. */
function selectKnown(patterns: readonly string[], known: readonly KnownCheck[]): KnownCheck[] {
  return known.filter((k) => patterns.some((p) => (p.endsWith('.*') ? k.id.startsWith(p.slice(0, -1)) : k.id === p)));
}

/**
 * `name` is a built-in profile name or a path to a profile file. `known` is
 * the check registry: give the checks themselves (id and requirement ids); a
 * bare id stands for a check whose requirement ids are unknown, so a covered
 * requirement can then only rest on a check the row names.
 */
export function loadProfile(name: string, known: readonly (string | KnownCheck)[]): Profile {
  const knownList: readonly KnownCheck[] = known.map((k) => (typeof k === 'string' ? { id: k, requirements: [] } : k));
  const knownChecks = knownList.map((k) => k.id);
  const looksLikePath = name.includes('/') || name.endsWith('.yaml') || name.endsWith('.yml');
  const path = looksLikePath ? name : builtinProfilePath(name);
  if (!looksLikePath && !existsSync(path)) {
    throw new GauntletError('CONFIG_NOT_FOUND', `profile "${name}": no built-in profile of that name (see \`gauntlet list profiles\`), and not a file path`);
  }
  const loaded = readYamlFile(path, 'profile');
  checkFormat(loaded, PROFILE_FORMAT, PROFILE_FORMAT_VERSION);
  const file = validate(loaded, profileFileSchema, 'a profile');
  for (const [i, c] of file.checks.entries()) {
    const matches = c.endsWith('.*') ? knownChecks.some((k) => k.startsWith(c.slice(0, -1))) : knownChecks.includes(c);
    if (!matches) {
      throw new GauntletError('CONFIG_INVALID', `${path}:${loaded.lineOf(['checks', i]) ?? 1}: checks[${i}]: no check "${c}" (known: ${knownChecks.join(', ')})`);
    }
  }
  const selected = selectKnown(file.checks, knownList);
  const firstLine = new Map<string, number>();
  for (const [i, r] of file.requirements.entries()) {
    const line = loaded.lineOf(['requirements', i, 'id']) ?? 1;
    const where = `${path}:${line}: requirements[${i}]`;
    const seen = firstLine.get(r.id);
    if (seen !== undefined) throw new GauntletError('CONFIG_INVALID', `${where}: duplicate requirement id "${r.id}" (first at line ${seen})`);
    firstLine.set(r.id, line);
    for (const [j, c] of r.checks.entries()) {
      if (!knownChecks.includes(c)) {
        throw new GauntletError('CONFIG_INVALID', `${path}:${loaded.lineOf(['requirements', i, 'checks', j]) ?? 1}: requirements[${i}].checks[${j}]: no check "${c}"`);
      }
    }
    if (r.status !== 'covered') continue;
    const evidenced = selected.some((k) => k.requirements.includes(r.id) || r.checks.includes(k.id));
    if (!evidenced) {
      const named = r.checks.length ? ` (it names ${r.checks.join(', ')}, which the profile's checks do not select)` : '';
      throw new GauntletError(
        'CONFIG_INVALID',
        `${where}: "${r.id}" is marked covered, but none of the profile's checks evidences it${named}: select a check that does, or mark it declared or not-covered with a reason`,
      );
    }
  }
  return { name: file.name, source: path, description: file.description, checks: file.checks, requirements: file.requirements };
}
