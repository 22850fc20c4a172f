// Evidence bundles: pack a run directory, verify it intact, then alter it the
// ways an archive gets altered (a byte of a file, a file added, a file lost,
// the archive itself damaged) and see verify name what changed.

import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, extract, list } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLogReporter } from '../../harness/report/event-log.js';
import { MANIFEST_FILE, MANIFEST_SUMS, describeVerify, packRunDir, sha256sumText, verifyBundle, type Manifest } from '../../harness/report/bundle.js';
import { EVENTS_FILE } from '../../harness/report/paths.js';
import { reportWriters } from '../../harness/report/report-set.js';
import { RUN, feed, syntheticRun } from './synthetic-run.js';
import { gauntletErrorOf } from '../support/errors.js';

let tmp: string;
let runDir: string;
beforeEach(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'gauntlet-bundle-'));
  runDir = join(tmp, 'reports', RUN.id);
  mkdirSync(runDir, { recursive: true });
  await feed(syntheticRun(), new EventLogReporter(join(runDir, EVENTS_FILE)), ...reportWriters(runDir));
  writeFileSync(join(runDir, 'summary.md'), '# summary\n');
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const FILES = ['events.jsonl', 'findings/auth.brute-force@broker-1.json', 'junit.xml', 'report.html', 'report.json', 'summary.md'];

async function entries(file: string): Promise<string[]> {
  const out: string[] = [];
  await list({ file, onReadEntry: (e) => out.push(e.path) });
  return out;
}

/** Extracts a bundle, lets `change` alter the tree, and packs it again with plain tar (the manifest as it was). */
async function repack(file: string, change: (root: string) => void): Promise<string> {
  const x = mkdtempSync(join(tmp, 'x-'));
  await extract({ file, cwd: x });
  change(join(x, RUN.id));
  const out = join(tmp, `altered-${Math.random().toString(16).slice(2)}.tar.gz`);
  await create({ file: out, gzip: true, cwd: x }, [RUN.id]);
  return out;
}


describe('pack', () => {
  it('writes <run-id>.tar.gz next to the run directory: every file under <run-id>/, with the manifest and sums', async () => {
    const r = await packRunDir(runDir, { now: new Date('2026-01-02T00:00:00Z'), harnessVersion: '9.9.9' });
    expect(r.file).toBe(join(tmp, 'reports', `${RUN.id}.tar.gz`));
    expect((await entries(r.file)).sort()).toEqual([...FILES, MANIFEST_FILE, MANIFEST_SUMS].map((f) => `${RUN.id}/${f}`).sort());
    expect(r.manifest).toMatchObject({ format: 'gauntlet-manifest/1', runId: RUN.id, created: '2026-01-02T00:00:00.000Z', harnessVersion: '9.9.9' });
    expect(r.manifest.files.map((f) => f.path)).toEqual(FILES);
    const report = r.manifest.files.find((f) => f.path === 'report.json')!;
    expect(report.size).toBe(readFileSync(join(runDir, 'report.json')).length);
    expect(report.sha256).toMatch(/^[0-9a-f]{64}$/);

    const x = join(tmp, 'x');
    mkdirSync(x);
    await extract({ file: r.file, cwd: x });
    const manifest = JSON.parse(readFileSync(join(x, RUN.id, MANIFEST_FILE), 'utf8')) as Manifest;
    expect(manifest).toEqual(r.manifest);
    expect(readFileSync(join(x, RUN.id, MANIFEST_SUMS), 'utf8')).toBe(sha256sumText(manifest.files));
    for (const f of FILES) expect(readFileSync(join(x, RUN.id, f))).toEqual(readFileSync(join(runDir, f)));
  });

  it('MANIFEST.sha256 passes `sha256sum -c` after extraction', async (ctx) => {
    if (spawnSync('sha256sum', ['--version']).status !== 0) ctx.skip();
    const r = await packRunDir(runDir);
    const x = join(tmp, 'x');
    mkdirSync(x);
    await extract({ file: r.file, cwd: x });
    const check = spawnSync('sha256sum', ['-c', MANIFEST_SUMS], { cwd: join(x, RUN.id), encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout.trim().split('\n')).toHaveLength(FILES.length);
  });

  it('--out inside the run directory: the archive does not pack itself; a second pack replaces an old manifest', async () => {
    writeFileSync(join(runDir, MANIFEST_FILE), '{}');
    const r = await packRunDir(runDir, { out: join(runDir, 'bundle.tar.gz') });
    expect(r.manifest.files.map((f) => f.path)).toEqual(FILES);
    expect((await verifyBundle(r.file)).intact).toBe(true);
  });

  it('refuses a directory without report.json or events.jsonl, naming it', async () => {
    rmSync(join(runDir, 'events.jsonl'));
    const e = await gauntletErrorOf(() => packRunDir(runDir));
    expect(e.code).toBe('CONFIG_NOT_FOUND');
    expect(e.message).toBe(`${runDir}: not a run directory: no events.jsonl (pack takes a directory written by gauntlet run or merge)`);
    rmSync(join(runDir, 'report.json'));
    expect((await gauntletErrorOf(() => packRunDir(runDir))).message).toMatch(/no report\.json/);
    expect((await gauntletErrorOf(() => packRunDir(join(tmp, 'nope')))).message).toBe(`${join(tmp, 'nope')}: no such run directory`);
  });
});

describe('pack --verify', () => {
  it('an untouched bundle is intact', async () => {
    const r = await packRunDir(runDir);
    const v = await verifyBundle(r.file);
    expect(v).toEqual({ intact: true, runId: RUN.id, files: FILES.length, altered: [], missing: [], extra: [], problems: [] });
    expect(describeVerify(v)).toBe('intact');
  });

  it('one byte changed in a file: names the file', async () => {
    const r = await packRunDir(runDir);
    const bad = await repack(r.file, (root) => {
      const path = join(root, 'report.json');
      const buf = readFileSync(path);
      buf[10] = buf[10]! ^ 1;
      writeFileSync(path, buf);
    });
    const v = await verifyBundle(bad);
    expect(v.intact).toBe(false);
    expect(v.altered).toEqual(['report.json']);
    expect(v.missing).toEqual([]);
    expect(v.extra).toEqual([]);
  });

  it('a file added, a file removed, the sums edited', async () => {
    const r = await packRunDir(runDir);
    const bad = await repack(r.file, (root) => {
      writeFileSync(join(root, 'findings', 'planted.json'), '{}');
      rmSync(join(root, 'junit.xml'));
      appendFileSync(join(root, MANIFEST_SUMS), `${'0'.repeat(64)}  planted\n`);
    });
    const v = await verifyBundle(bad);
    expect(v.extra).toEqual(['findings/planted.json']);
    expect(v.missing).toEqual(['junit.xml']);
    expect(v.altered).toEqual([MANIFEST_SUMS]);
    expect(describeVerify(v)).toBe(`altered: ${MANIFEST_SUMS}; missing: junit.xml; extra: findings/planted.json`);
  });

  it('a damaged archive (one byte of the .tar.gz) is not intact', async () => {
    const r = await packRunDir(runDir);
    const buf = readFileSync(r.file);
    buf[Math.floor(buf.length / 2)] = buf[Math.floor(buf.length / 2)]! ^ 0xff;
    const bad = join(tmp, 'damaged.tar.gz');
    writeFileSync(bad, buf);
    const v = await verifyBundle(bad);
    expect(v.intact).toBe(false);
    expect(v.problems.join('\n')).toMatch(/damaged archive: zlib/);
  });

  it('no manifest: not a Gauntlet bundle; a newer manifest format: CONFIG_VERSION', async () => {
    const r = await packRunDir(runDir);
    const none = await verifyBundle(await repack(r.file, (root) => rmSync(join(root, MANIFEST_FILE))));
    expect(none.intact).toBe(false);
    expect(none.problems[0]).toMatch(/no MANIFEST\.json: not a Gauntlet bundle/);

    const newer = await repack(r.file, (root) => {
      const p = join(root, MANIFEST_FILE);
      writeFileSync(p, readFileSync(p, 'utf8').replace('gauntlet-manifest/1', 'gauntlet-manifest/2'));
    });
    const e = await gauntletErrorOf(() => verifyBundle(newer));
    expect(e.code).toBe('CONFIG_VERSION');
    expect(e.message).toMatch(/gauntlet-manifest\/2 is newer than this Gauntlet reads/);
  });

  it('a missing bundle file is CONFIG_NOT_FOUND', async () => {
    const e = await gauntletErrorOf(() => verifyBundle(join(tmp, 'nope.tar.gz')));
    expect(e.code).toBe('CONFIG_NOT_FOUND');
    expect(existsSync(join(tmp, 'nope.tar.gz'))).toBe(false);
  });
});
