// The built-in profiles (profiles/*.yaml): each loads against the real check
// registry; each standard profile lists every requirement of its standard and
// drops nothing its checks evidence; full is every check with the union of
// the standard profiles; ci-smoke is a subset of default.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKS } from '../../harness/checks/registry.js';
import { selectChecks } from '../../harness/core/planner.js';
import { loadProfile } from '../../harness/core/profile-file.js';
import { packageRoot } from '../../harness/core/paths.js';
import { requirementMatrix } from '../../harness/model/requirements.js';
import type { Profile } from '../../harness/model/index.js';

const NAMES = readdirSync(join(packageRoot(), 'profiles'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

const load = (name: string): Profile => loadProfile(name, CHECKS);
const range = (prefix: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

/** Every requirement of each standard, by id (STANDARDS.md section 1). */
const STANDARD_IDS: Readonly<Record<string, readonly string[]>> = {
  'nistir-8259a': [
    ...range('DevID-', 1, 2),
    ...range('Conf-', 1, 3),
    ...range('DP-', 1, 3),
    ...range('LAI-', 1, 3),
    ...range('SWU-', 1, 6),
    ...range('CSA-', 1, 5),
  ].map((x) => `NISTIR-8259A:${x}`),
  // EN 303 645 V2.1.1: every provision (TS 103 701 units come on top, checked below).
  'etsi-en-303-645': [
    ...range('5.1-', 1, 5),
    ...range('5.2-', 1, 3),
    ...range('5.3-', 1, 16),
    ...range('5.4-', 1, 4),
    ...range('5.5-', 1, 8),
    ...range('5.6-', 1, 9),
    ...range('5.7-', 1, 2),
    ...range('5.8-', 1, 3),
    ...range('5.9-', 1, 3),
    '5.10-1',
    ...range('5.11-', 1, 4),
    ...range('5.12-', 1, 3),
    '5.13-1',
    ...range('6-', 1, 5),
  ].map((x) => `ETSI-EN-303-645:${x}`),
  'en-18031-1': [
    'ACM-1', 'ACM-2',
    'AUM-1-1', 'AUM-1-2', 'AUM-2', 'AUM-3', 'AUM-4', 'AUM-5-1', 'AUM-5-2', 'AUM-6',
    ...range('SUM-', 1, 3),
    ...range('SSM-', 1, 3),
    ...range('SCM-', 1, 4),
    'RLM-1', 'NMM-1', 'TCM-1',
    ...range('CCK-', 1, 3),
    ...range('GEC-', 1, 6),
    'CRY-1',
  ].map((x) => `EN-18031-1:${x}`),
  'sb-327': ['(a)', '(b)(1)', '(b)(2)'].map((x) => `CA-SB-327:1798.91.04${x}`),
};
const STANDARD_PROFILES = Object.keys(STANDARD_IDS);

/** The standards a profile speaks for: the prefixes of its requirement ids. */
const standardsOf = (p: Profile) => new Set(p.requirements.map((r) => r.id.split(':')[0]!));

describe('built-in profiles', () => {
  it('are the ones DESIGN.md names, plus default and the conformance profiles', () => {
    expect(NAMES).toEqual(['ci-smoke', 'coap-conformance', 'default', 'en-18031-1', 'etsi-en-303-645', 'full', 'mqtt-conformance', 'nistir-8259a', 'sb-327']);
  });

  it.each(NAMES)('%s loads against the real registry, with a description', (name) => {
    const p = load(name);
    expect(p.name).toBe(name);
    expect(p.description.length).toBeGreaterThan(20);
    expect(selectChecks(p, CHECKS).length).toBeGreaterThan(0);
  });

  it.each(STANDARD_PROFILES)('%s lists every requirement of its standard', (name) => {
    const ids = load(name).requirements.map((r) => r.id);
    const theirs = new Set(STANDARD_IDS[name]!.map((x) => x.split(':')[0]));
    const mine = ids.filter((id) => theirs.has(id.split(':')[0]));
    expect(new Set(mine)).toEqual(new Set(STANDARD_IDS[name]));
  });

  it.each([...STANDARD_PROFILES, 'full'])('%s drops nothing its checks evidence: every id they emit for its standards is a covered row', (name) => {
    const p = load(name);
    const standards = standardsOf(p);
    const status = new Map(p.requirements.map((r) => [r.id, r.status]));
    const dropped: string[] = [];
    for (const c of selectChecks(p, CHECKS)) {
      for (const id of c.requirements) {
        if (standards.has(id.split(':')[0]!) && status.get(id) !== 'covered') dropped.push(`${c.id} -> ${id} (${status.get(id) ?? 'missing'})`);
      }
    }
    expect(dropped).toEqual([]);
  });

  it.each(STANDARD_PROFILES)('%s selects only checks that evidence one of its requirements', (name) => {
    const p = load(name);
    const ids = new Set(p.requirements.map((r) => r.id));
    const idle = selectChecks(p, CHECKS)
      .filter((c) => !c.requirements.some((id) => ids.has(id)) && !p.requirements.some((r) => r.checks.includes(c.id)))
      .map((c) => c.id);
    expect(idle).toEqual([]);
  });

  it.each([...STANDARD_PROFILES, 'full'])('%s: every declared or not-covered row says why, every title is short', (name) => {
    for (const r of load(name).requirements) {
      if (r.status !== 'covered') expect(r.reason?.length ?? 0, r.id).toBeGreaterThan(5);
      expect(r.title.length, r.id).toBeLessThanOrEqual(120);
    }
  });

  it('the ETSI profile carries the TS 103 701 functional units, each under its provision', () => {
    const p = load('etsi-en-303-645');
    const units = p.requirements.filter((r) => r.id.startsWith('ETSI-TS-103-701:')).map((r) => r.id.slice('ETSI-TS-103-701:'.length));
    expect(units).toEqual(expect.arrayContaining(['5.1-1-2a', '5.1-1-2b', '5.1-1-2c', '5.1-5-2a', '5.1-5-2b', '5.3-2-2', '5.3-10-1c', '5.5-4-2', '5.5-5-2', '5.6-1-2', '5.6-2-2', '5.13-1-2a', '5.13-1-2c']));
    const provisions = new Set(STANDARD_IDS['etsi-en-303-645']!.map((x) => x.slice('ETSI-EN-303-645:'.length)));
    // 5.3-10-1c is the provision's case 1 (conceptual and functional); the others are case 2.
    for (const u of units) expect(provisions.has(u.replace(/-[12][a-z]?$/, '')), u).toBe(true);
  });

  it.each([
    ['nistir-8259a', 22],
    ['etsi-en-303-645', 92],
    ['en-18031-1', 33],
    ['sb-327', 3],
  ] as const)('%s has non-trivial coverage figures (%i requirements)', (name, total) => {
    const c = requirementMatrix(load(name), []).coverage;
    expect(c.total).toBe(total);
    expect(c.tested + c.declared + c.notCovered).toBe(total);
    expect(c.tested).toBeGreaterThanOrEqual(3);
    if (name !== 'sb-327') {
      expect(c.declared).toBeGreaterThan(0);
      expect(c.notCovered).toBeGreaterThan(0);
    }
    // No run yet: every covered row is "not tested", none passed or failed.
    expect(c.notTested).toBe(c.tested);
    expect(c.pass + c.fail + c.inconclusive).toBe(0);
  });

  it('full selects every check and is the union of the standard profiles', () => {
    const full = load('full');
    expect(selectChecks(full, CHECKS).map((c) => c.id).sort()).toEqual(CHECKS.map((c) => c.id).sort());
    const union = STANDARD_PROFILES.flatMap((n) => load(n).requirements);
    expect(full.requirements).toEqual(union);
  });

  it("ci-smoke's checks are a subset of default's, and leave the slow ones out", () => {
    const smoke = selectChecks(load('ci-smoke'), CHECKS).map((c) => c.id);
    const def = new Set(selectChecks(load('default'), CHECKS).map((c) => c.id));
    expect(smoke.filter((id) => !def.has(id))).toEqual([]);
    expect(smoke.length).toBeLessThan(def.size);
    for (const slow of ['robustness.fuzz', 'robustness.flood', 'update.tamper', 'performance.bench']) expect(smoke).not.toContain(slow);
  });
});
