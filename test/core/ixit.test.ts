// model/ixit.ts: every evidence source a check writes either names the IXIT
// table (and field) its oracle stands for, or is deliberately Gauntlet's own
// (a policy, a dictionary, a property, a test hook). The sources are read from
// the checks' code, so a new `source:` cannot slip past unmapped.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { targetFileSchema } from '../../harness/core/target-file.js';
import { IXIT_MAP, declarationPathOf, ixitEntryOf, ixitEntryOfPath, ixitLabel, ixitRef } from '../../harness/model/ixit.js';

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** String and template literals in the checks that are evidence sources, `${...}` filled with a sample name. */
function sourcesInChecks(): { file: string; source: string }[] {
  const out: { file: string; source: string }[] = [];
  const literal = /(['`])((?:target|policy|dictionary|property):[^'`]*?)\1/g;
  const assigned = /(?:\bsource:|\bSOURCE\s*=)\s*(['`])([^'`]*?)\1/g;
  for (const file of tsFiles('harness/checks')) {
    const text = readFileSync(file, 'utf8');
    for (const re of [literal, assigned]) {
      for (const m of text.matchAll(re)) out.push({ file, source: m[2]!.replace(/\$\{[^}]*\}/g, 'x') });
    }
  }
  return out;
}

const sources = sourcesInChecks();
const targetSources = sources.filter((s) => s.source.startsWith('target:'));
const ownSources = sources.filter((s) => !s.source.startsWith('target:'));

describe('ixitRef: the examples reporters show', () => {
  it.each([
    ['target:declaration.lockout', 'IXIT 1-AuthMech "Brute Force Prevention"'],
    ['target:declaration.firstUse', 'IXIT 1-AuthMech "Password Generation Mechanism"'],
    ['target:declaration.interfaces', 'IXIT 15-Intf "Status"'],
    ['target:interfaces (declaration.interfaces absent: the interface ports count as declared, enabled)', 'IXIT 15-Intf "Status"'],
    ['target:declaration.disclosure', 'IXIT 15-Intf "Disclosed Information"'],
    ['target:declaration.access.http.routes', 'IXIT 13-SoftServ'],
    ['target:declaration.access.coap.anonymous', 'IXIT 13-SoftServ'],
    ['target:declaration.access.mqtt.anonymous', 'IXIT 1-AuthMech "Authentication Factor"'],
    ['target:declaration.access.coap.resources', 'IXIT 28-ExtAPI'],
    ['target:declaration.update', 'IXIT 7-UpdMech "Security Guarantees"'],
    ['target:declaration.dtls.coaps', 'IXIT 11-ComMech "Cryptographic Details"'],
    ['target:declaration.secureOnly, target:principals', 'IXIT 11-ComMech "Security Guarantees"'],
    ['target:principals.admin.psk', 'IXIT 1-AuthMech "Authentication Factor"'],
    ['target:declaration.ics.ETSI-EN-303-645:5.2-1', 'ICS ETSI-EN-303-645:5.2-1'],
  ])('%s -> %s', (source, ref) => {
    expect(ixitRef(source)).toBe(ref);
  });

  it.each([
    'target:declaration.performance.floors[3]',
    'target:declaration.performance.floodLatency',
    'target:declaration.update.version',
    'target:declaration.update.images',
    'policy:C06',
    'policy:C16',
    'dictionary:corpora/credentials/mqtt.txt line "admin:admin"',
    'property: update.tamper',
    'robustness.fuzz: latency oracle',
    '',
  ])('%s -> none (Gauntlet\'s own)', (source) => {
    expect(ixitRef(source)).toBeUndefined();
  });

  it('indices and names in a path do not matter: the longest key that covers it answers', () => {
    expect(declarationPathOf('target:declaration.performance.floors[2]')).toBe('declaration.performance.floors');
    expect(declarationPathOf('policy:C06')).toBeUndefined();
    expect(ixitEntryOfPath('declaration.update.paths.upload')?.declarationKey).toBe('declaration.update');
    expect(ixitEntryOfPath('interfaces.tls')?.ixitTable).toBe('11-ComMech');
    expect(ixitEntryOfPath('scope.hosts')).toBeUndefined();
  });
});

describe('every evidence source in harness/checks is mapped', () => {
  it('finds the sources (the scan works)', () => {
    expect(targetSources.length).toBeGreaterThan(15);
    expect(targetSources.map((s) => s.source)).toContain('target:declaration.lockout');
    expect(ownSources.map((s) => s.source)).toContain('policy:C06');
  });

  it('each target: source has an entry, and either an IXIT reference or a reason it has none', () => {
    const unmapped = targetSources.filter((s) => !ixitEntryOf(s.source)).map((s) => `${s.file}: ${s.source}`);
    expect(unmapped).toEqual([]);
    for (const s of targetSources) {
      const e = ixitEntryOf(s.source)!;
      if (ixitRef(s.source) === undefined) expect(e.why, `${s.file}: ${s.source} has no IXIT reference and no reason`).toBeTruthy();
      else expect(e.why, `${s.file}: ${s.source}`).toBeUndefined();
    }
  });

  it('every other source is Gauntlet\'s own: a policy, a dictionary, a property, a protocol statement or a check\'s own oracle', () => {
    for (const s of ownSources) {
      expect(ixitRef(s.source), `${s.file}: ${s.source}`).toBeUndefined();
      // `x...`: built from a variable (`${source} line ...`) whose own literal is scanned too.
      expect(s.source, s.file).toMatch(/^(policy:|dictionary:|property: |spec:|robustness\.fuzz|transport\.dtls-replay:|x\b)/);
    }
  });
});

describe('IXIT_MAP covers the target file', () => {
  it('every declaration key of the schema has an entry', () => {
    const keys = Object.keys(targetFileSchema.shape.declaration.unwrap().shape);
    expect(keys.length).toBeGreaterThan(8);
    for (const k of keys) expect(ixitEntryOfPath(`declaration.${k}`), k).toBeDefined();
  });

  it('every entry says what the checks compare; an entry without a table says why', () => {
    for (const e of IXIT_MAP) {
      expect(e.compares.length, e.declarationKey).toBeGreaterThan(20);
      expect(Boolean(e.ixitTable) !== Boolean(e.why), e.declarationKey).toBe(true);
      if (e.ixitField) expect(e.ixitTable, e.declarationKey).toBeDefined();
    }
    expect(new Set(IXIT_MAP.map((e) => e.declarationKey)).size).toBe(IXIT_MAP.length);
  });

  it('ixitLabel names the table, or why there is none', () => {
    expect(ixitLabel('declaration.lockout')).toBe('IXIT 1-AuthMech "Brute Force Prevention"');
    expect(ixitLabel('declaration.performance')).toMatch(/^no IXIT table: Gauntlet's own oracle; TS 103 701 has no table for performance/);
    expect(ixitLabel('scope')).toBe('no IXIT table');
  });
});
