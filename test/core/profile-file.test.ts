// Profiles: built-in by name or a file path; every check id must exist,
// requirement ids are unique, and a covered requirement rests on a check the
// profile selects.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHECKS } from '../../harness/checks/registry.js';
import { GauntletError } from '../../harness/core/errors.js';
import { builtinProfilePath, DEFAULT_PROFILE, loadProfile } from '../../harness/core/profile-file.js';

const KNOWN = ['auth.default-credentials', 'auth.brute-force', 'net.ports'];
/** The same checks with the requirement ids they emit. */
const WITH_IDS = [
  { id: 'auth.default-credentials', requirements: ['STD:1', 'STD:2'] },
  { id: 'auth.brute-force', requirements: ['STD:3'] },
  { id: 'net.ports', requirements: ['STD:4'] },
];

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

describe('loadProfile: requirements', () => {
  const head = ['format: gauntlet-profile/1', 'name: lab', 'checks: [auth.*]', 'requirements:'];

  it('a covered row rests on the requirement ids a selected check emits, or on a selected check it names', () => {
    const path = write([
      ...head,
      '  - { id: "STD:1", title: Emitted by default-credentials }',
      '  - { id: "STD:9", title: Named explicitly, checks: [auth.brute-force] }',
      '  - { id: "STD:4", title: Needs a port scan, status: not-covered, reason: net.ports not selected }',
    ]);
    const p = loadProfile(path, WITH_IDS);
    expect(p.requirements.map((r) => [r.id, r.status])).toEqual([
      ['STD:1', 'covered'],
      ['STD:9', 'covered'],
      ['STD:4', 'not-covered'],
    ]);
  });

  it('a covered row no selected check evidences is CONFIG_INVALID naming the file, line and requirement', () => {
    const path = write([...head, '  - { id: "STD:1", title: Fine }', '  - id: "STD:4"', '    title: Only net.ports emits it']);
    const e = failure(() => loadProfile(path, WITH_IDS));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(
      `${path}:6: requirements[1]: "STD:4" is marked covered, but none of the profile's checks evidences it: select a check that does, or mark it declared or not-covered with a reason`,
    );
  });

  it('naming a check the profile does not select is no evidence', () => {
    const path = write([...head, '  - { id: "STD:7", title: Port scan, checks: [net.ports] }']);
    const e = failure(() => loadProfile(path, WITH_IDS));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain(`${path}:5: requirements[0]: "STD:7" is marked covered`);
    expect(e.message).toContain('it names net.ports, which the profile\'s checks do not select');
  });

  it('bare check ids carry no requirement ids: a covered row then needs a named check', () => {
    const path = write([...head, '  - { id: "STD:1", title: Emitted but the loader cannot know }']);
    expect(failure(() => loadProfile(path, KNOWN)).message).toContain('"STD:1" is marked covered');
    expect(loadProfile(path, WITH_IDS).requirements).toHaveLength(1);
  });

  it('declared and not-covered rows need no evidence', () => {
    const path = write([
      ...head,
      '  - { id: "STD:5", title: Paper, status: declared, reason: ICS 5 }',
      '  - { id: "STD:6", title: Physical, status: not-covered, reason: needs a screwdriver }',
    ]);
    expect(loadProfile(path, WITH_IDS).requirements.map((r) => r.status)).toEqual(['declared', 'not-covered']);
  });

  it('a duplicate requirement id is CONFIG_INVALID naming both lines', () => {
    const path = write([...head, '  - { id: "STD:1", title: Once }', '  - { id: "STD:2", title: Other }', '  - { id: "STD:1", title: Twice }']);
    const e = failure(() => loadProfile(path, WITH_IDS));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(`${path}:7: requirements[2]: duplicate requirement id "STD:1" (first at line 5)`);
  });

  it('an unknown check named by a requirement is CONFIG_INVALID with its line', () => {
    const path = write([...head, '  - id: "STD:1"', '    title: Typo', '    checks:', '      - auth.brute-farce']);
    const e = failure(() => loadProfile(path, WITH_IDS));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(`${path}:8: requirements[0].checks[0]: no check "auth.brute-farce"`);
  });

  it('the real registry: a built-in standard profile loads against CHECKS', () => {
    const p = loadProfile('sb-327', CHECKS);
    expect(p.requirements.map((r) => r.id)).toContain('CA-SB-327:1798.91.04(b)(2)');
  });
});
