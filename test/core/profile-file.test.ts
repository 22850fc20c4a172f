// Profiles: built-in by name or a file path; every check id must exist.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHECKS } from '../../harness/checks/registry.js';
import { GauntletError } from '../../harness/core/errors.js';
import { builtinProfilePath, DEFAULT_PROFILE, loadProfile } from '../../harness/core/profile-file.js';

const KNOWN = ['auth.default-credentials', 'auth.brute-force', 'net.ports'];

function failure(fn: () => unknown): GauntletError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GauntletError) return e;
    throw e;
  }
  throw new Error('expected a throw');
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gauntlet-profile-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(lines: string[]): string {
  const path = join(dir, 'p.yaml');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('loadProfile', () => {
  it('loads the built-in default against the real check registry', () => {
    const p = loadProfile(DEFAULT_PROFILE, CHECKS.map((c) => c.id));
    expect(p.name).toBe('default');
    expect(p.source).toBe(builtinProfilePath('default'));
    expect(p.checks).toEqual(['auth.*', 'access.*', 'transport.*', 'robustness.*', 'update.*', 'performance.floors']);
    expect(p.description).not.toBe('');
  });

  it('loads a file with requirements and defaults', () => {
    const path = write([
      'format: gauntlet-profile/1',
      'name: lab',
      'checks: [auth.brute-force, net.*]',
      'requirements:',
      '  - { id: "EN303645:5.1-5", title: Brute force, checks: [auth.brute-force] }',
      '  - { id: "X:1", title: Paper only, status: declared, reason: manual review }',
    ]);
    expect(loadProfile(path, KNOWN)).toEqual({
      name: 'lab',
      source: path,
      description: '',
      checks: ['auth.brute-force', 'net.*'],
      requirements: [
        { id: 'EN303645:5.1-5', title: 'Brute force', checks: ['auth.brute-force'], status: 'covered' },
        { id: 'X:1', title: 'Paper only', checks: [], status: 'declared', reason: 'manual review' },
      ],
    });
  });

  it('an unknown check id is CONFIG_INVALID naming its line and the known ids', () => {
    const path = write(['format: gauntlet-profile/1', 'name: lab', 'checks:', '  - auth.brute-force', '  - auth.brute-farce']);
    const e = failure(() => loadProfile(path, KNOWN));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(`${path}:5: checks[1]: no check "auth.brute-farce" (known: ${KNOWN.join(', ')})`);
  });

  it('a group that matches nothing is CONFIG_INVALID too', () => {
    const path = write(['format: gauntlet-profile/1', 'name: lab', 'checks: [auth.*, fuzz.*]']);
    const e = failure(() => loadProfile(path, KNOWN));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain(`${path}:3: checks[1]: no check "fuzz.*"`);
  });

  it('a malformed check id fails the schema with its line', () => {
    const path = write(['format: gauntlet-profile/1', 'name: lab', 'checks:', '  - "Auth Brute"']);
    const e = failure(() => loadProfile(path, KNOWN));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(new RegExp(`:4: checks\\[0\\]: expected a check id`));
  });

  it('an unknown built-in name is CONFIG_NOT_FOUND; a missing path too', () => {
    const e = failure(() => loadProfile('no-such-profile', KNOWN));
    expect(e.code).toBe('CONFIG_NOT_FOUND');
    expect(e.message).toContain('profile "no-such-profile"');
    expect(failure(() => loadProfile(join(dir, 'missing.yaml'), KNOWN)).code).toBe('CONFIG_NOT_FOUND');
  });

  it('a newer format is CONFIG_VERSION; a target file is CONFIG_INVALID', () => {
    expect(failure(() => loadProfile(write(['format: gauntlet-profile/2', 'name: x', 'checks: [auth.*]']), KNOWN)).code).toBe('CONFIG_VERSION');
    expect(failure(() => loadProfile(write(['format: gauntlet-target/1', 'name: x', 'checks: [auth.*]']), KNOWN)).code).toBe('CONFIG_INVALID');
  });
});
