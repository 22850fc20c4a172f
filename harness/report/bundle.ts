// Evidence bundle: one .tar.gz of a run directory that a lab can file and
// hand over, with MANIFEST.json (gauntlet-manifest/1: run id, when, which
// Gauntlet, and every file's path, size and SHA-256) and MANIFEST.sha256
// (`sha256sum -c` checks it after extraction, no Gauntlet needed). The `tar`
// package writes and reads the archive because Node has gzip (zlib) but no
// tar writer or reader, and a home-made one would get long names, modes and
// end-of-archive blocks wrong. The manifest shows a file was altered, lost or
// added since packing; it is not a signature: whoever can rewrite the
// archive can rewrite its manifest, so file the archive's own digest too.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, lstatSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Header, Pack, ReadEntry, list } from 'tar';
import { GauntletError } from '../core/errors.js';
import { harnessVersion as currentVersion } from '../core/paths.js';
import { readTextFile } from '../core/read-file.js';
import { REPORT_FORMAT } from '../model/index.js';
import { requireFormat } from './format-version.js';
import { EVENTS_FILE, REPORT_FILE } from './paths.js';

export const MANIFEST_FORMAT = 'gauntlet-manifest/1';
export const MANIFEST_FILE = 'MANIFEST.json';
export const MANIFEST_SUMS = 'MANIFEST.sha256';

export interface ManifestFile {
  /** Relative to the run directory, `/`-separated. */
  readonly path: string;
  readonly size: number;
  /** Lower-case hex. */
  readonly sha256: string;
}

export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly runId: string;
  readonly created: string;
  readonly harnessVersion: string;
  readonly files: readonly ManifestFile[];
}

/** MANIFEST.sha256: `<hex>  <path>` lines, with sha256sum's escaping of `\` and newlines in names. */
export function sha256sumText(files: readonly ManifestFile[]): string {
  return files
    .map((f) => {
      const escaped = /[\\\n\r]/.test(f.path);
      const name = f.path.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
      return `${escaped ? '\\' : ''}${f.sha256}  ${name}\n`;
    })
    .join('');
}

export interface PackOptions {
  /** Default: `<run-id>.tar.gz` next to the run directory. */
  readonly out?: string;
  readonly now?: Date;
  readonly harnessVersion?: string;
}

export interface PackResult {
  /** Absolute path of the archive. */
  readonly file: string;
  readonly manifest: Manifest;
  /** Entries of the run directory that are not regular files (symlinks, sockets), left out. */
  readonly skipped: readonly string[];
}

/** Packs run directory `runDir` into one .tar.gz with its manifest; the archive is verified before it is kept. */
export async function packRunDir(runDir: string, opts: PackOptions = {}): Promise<PackResult> {
  const runId = runIdOf(runDir);
  const dirAbs = resolve(runDir);
  const out = resolve(opts.out ?? join(dirname(dirAbs), `${runId}.tar.gz`));
  const { files, skipped } = listFiles(dirAbs, out);
  const entries: ManifestFile[] = [];
  for (const path of files) entries.push({ path, ...(await digestFile(join(dirAbs, path))) });
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    runId,
    created: (opts.now ?? new Date()).toISOString(),
    harnessVersion: opts.harnessVersion ?? currentVersion(),
    files: entries,
  };

  const tmp = `${out}.${process.pid}.tmp`;
  try {
    const pack = new Pack({ cwd: dirAbs, gzip: true, portable: true, prefix: runId, noDirRecurse: true, strict: true });
    const written = pipeline(pack, createWriteStream(tmp));
    addBuffer(pack, MANIFEST_FILE, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), manifest.created);
    addBuffer(pack, MANIFEST_SUMS, Buffer.from(sha256sumText(entries)), manifest.created);
    for (const f of files) pack.add(f);
    pack.end();
    await written;
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new GauntletError('REPORT_WRITE', `${out}: cannot write the bundle (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  // The files were digested, then read again into the archive: a run still writing would differ.
  const check = await verifyBundle(tmp);
  if (!check.intact) {
    rmSync(tmp, { force: true });
    throw new GauntletError('REPORT_WRITE', `${runDir}: files changed while packing (${describeVerify(check)}); pack again once the run has finished`);
  }
  try {
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new GauntletError('REPORT_WRITE', `${out}: cannot write the bundle (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { cause: e });
  }
  return { file: out, manifest, skipped };
}

/** The run id from report.json; refuses a directory without report.json or events.jsonl. */
function runIdOf(runDir: string): string {
  if (!existsSync(runDir) || !statSync(runDir).isDirectory()) {
    throw new GauntletError('CONFIG_NOT_FOUND', `${runDir}: no such run directory`);
  }
  for (const name of [REPORT_FILE, EVENTS_FILE]) {
    if (!existsSync(join(runDir, name))) {
      throw new GauntletError('CONFIG_NOT_FOUND', `${runDir}: not a run directory: no ${name} (pack takes a directory written by gauntlet run or merge)`);
    }
  }
  const path = join(runDir, REPORT_FILE);
  let report: unknown;
  try {
    report = JSON.parse(readTextFile(path, 'report'));
  } catch (e) {
    if (e instanceof GauntletError) throw e;
    throw new GauntletError('CONFIG_PARSE', `${path}: not valid JSON`);
  }
  const top = isObject(report) ? report : {};
  requireFormat(top.format, REPORT_FORMAT, path, 'Gauntlet report');
  const id = isObject(top.run) ? top.run.id : undefined;
  if (typeof id !== 'string' || !/^[A-Za-z0-9._-]+$/.test(id) || /^\.+$/.test(id)) {
    throw new GauntletError('CONFIG_INVALID', `${path}: run.id: missing or not a plain name`);
  }
  return id;
}

/** Every regular file under `dir`, relative and sorted, except an old manifest and the archive itself. */
function listFiles(dir: string, out: string): { files: string[]; skipped: string[] } {
  const files: string[] = [];
  const skipped: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(dir, path);
      if (abs === out || abs.startsWith(`${out}.`)) continue;
      const st = lstatSync(abs);
      if (st.isDirectory()) walk(path);
      else if (!st.isFile()) skipped.push(path);
      else if (rel !== '' || (name !== MANIFEST_FILE && name !== MANIFEST_SUMS)) files.push(path);
    }
  };
  walk('');
  return { files, skipped };
}

async function digestFile(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest('hex') };
}

function addBuffer(pack: Pack, path: string, data: Buffer, mtime: string): void {
  const entry = new ReadEntry(new Header({ path, mode: 0o644, size: data.length, mtime: new Date(mtime), type: 'File' }));
  pack.add(entry);
  entry.end(data);
}

export interface VerifyResult {
  readonly intact: boolean;
  readonly runId?: string;
  /** Files the manifest lists. */
  readonly files: number;
  /** Listed, present, but with another size or digest (MANIFEST.sha256 too, when it disagrees with MANIFEST.json). */
  readonly altered: readonly string[];
  /** Listed but not in the archive. */
  readonly missing: readonly string[];
  /** In the archive but not listed. */
  readonly extra: readonly string[];
  /** The archive itself is damaged, or has no manifest. */
  readonly problems: readonly string[];
}

/**
 * Reads a bundle (streaming, nothing extracted) and checks every file
 * against MANIFEST.json. Throws only for a missing file or a manifest of a
 * newer format; any damage is in the result.
 */
export async function verifyBundle(file: string): Promise<VerifyResult> {
  if (!existsSync(file) || !statSync(file).isFile()) throw new GauntletError('CONFIG_NOT_FOUND', `${file}: bundle: no such file`);
  const seen = new Map<string, { size: number; sha256: string; data?: Buffer; file: boolean }>();
  const problems: string[] = [];
  try {
    await list({
      file,
      strict: true,
      onReadEntry: (entry) => {
        const path = entry.path.replace(/\/+$/, '');
        if (entry.type === 'Directory') return;
        const isFile = entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'ContiguousFile';
        if (seen.has(path)) problems.push(`${path} appears twice in the archive`);
        const hash = createHash('sha256');
        const keep = /(^|\/)MANIFEST\.(json|sha256)$/.test(path);
        const chunks: Buffer[] = [];
        let size = 0;
        entry.on('data', (c: Buffer) => {
          hash.update(c);
          size += c.length;
          if (keep) chunks.push(c);
        });
        entry.on('end', () => {
          seen.set(path, { size, sha256: hash.digest('hex'), file: isFile, ...(keep ? { data: Buffer.concat(chunks) } : {}) });
        });
      },
    });
  } catch (e) {
    problems.push(`${file}: damaged archive: ${(e as Error).message}`);
  }

  const manifestPaths = [...seen.keys()].filter((p) => p === MANIFEST_FILE || /^[^/]+\/MANIFEST\.json$/.test(p));
  if (manifestPaths.length !== 1) {
    if (problems.length === 0) {
      problems.push(manifestPaths.length === 0 ? `${file}: no ${MANIFEST_FILE}: not a Gauntlet bundle, or its manifest was removed` : `${file}: more than one ${MANIFEST_FILE}: ${manifestPaths.join(', ')}`);
    }
    return { intact: false, files: 0, altered: [], missing: [], extra: [], problems };
  }
  const root = manifestPaths[0]!.slice(0, -MANIFEST_FILE.length);
  const manifest = parseManifest(seen.get(manifestPaths[0]!)!.data!, `${file}:${manifestPaths[0]}`);

  const altered: string[] = [];
  const missing: string[] = [];
  const listed = new Set([`${root}${MANIFEST_FILE}`, `${root}${MANIFEST_SUMS}`]);
  for (const f of manifest.files) {
    const path = `${root}${f.path}`;
    listed.add(path);
    const got = seen.get(path);
    if (!got) missing.push(f.path);
    else if (!got.file || got.size !== f.size || got.sha256 !== f.sha256) altered.push(f.path);
  }
  const sums = seen.get(`${root}${MANIFEST_SUMS}`);
  if (!sums) missing.push(MANIFEST_SUMS);
  else if (!sums.data!.equals(Buffer.from(sha256sumText(manifest.files)))) altered.push(MANIFEST_SUMS);
  const extra = [...seen.keys()].filter((p) => !listed.has(p)).map((p) => (p.startsWith(root) ? p.slice(root.length) : p));
  return {
    intact: altered.length + missing.length + extra.length + problems.length === 0,
    runId: manifest.runId,
    files: manifest.files.length,
    altered,
    missing,
    extra,
    problems,
  };
}

function parseManifest(data: Buffer, where: string): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(data.toString('utf8'));
  } catch {
    throw new GauntletError('CONFIG_PARSE', `${where}: not valid JSON`);
  }
  const top = isObject(m) ? m : {};
  requireFormat(top.format, MANIFEST_FORMAT, where, 'Gauntlet bundle manifest');
  const ok =
    typeof top.runId === 'string' &&
    Array.isArray(top.files) &&
    top.files.every((f) => isObject(f) && typeof f.path === 'string' && typeof f.size === 'number' && typeof f.sha256 === 'string');
  if (!ok) throw new GauntletError('CONFIG_INVALID', `${where}: runId or files: missing or invalid`);
  return top as unknown as Manifest;
}

/** One line for a damaged bundle: what is altered, missing, extra. */
export function describeVerify(r: VerifyResult): string {
  const parts = [
    ...r.problems,
    ...(r.altered.length ? [`altered: ${r.altered.join(', ')}`] : []),
    ...(r.missing.length ? [`missing: ${r.missing.join(', ')}`] : []),
    ...(r.extra.length ? [`extra: ${r.extra.join(', ')}`] : []),
  ];
  return parts.join('; ') || 'intact';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
