// Profiles (format gauntlet-profile/1): which checks a run plans and which
// requirements they evidence. Built-in ones live in profiles/; `--profile`
// takes a built-in name or a file path.

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

/** `name` is a built-in profile name or a path to a profile file. */
export function loadProfile(name: string, knownChecks: readonly string[]): Profile {
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
  return { name: file.name, source: path, description: file.description, checks: file.checks, requirements: file.requirements };
}
