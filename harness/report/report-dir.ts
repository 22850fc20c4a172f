// Where a run writes: `<base>/<runId>/` (or the directory given with --out),
// with `<base>/latest` a relative symlink to it so `reports/latest/` is always
// the last run. Where symlinks are not allowed (Windows without developer
// mode) `<base>/latest.txt` holds the path instead.

import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { GauntletError } from '../core/errors.js';

/** Creates the report directory, points `<base>/latest` at it, and returns its absolute path. */
export function createReportDir(base: string, runId: string, explicitOut?: string): string {
  const dir = resolve(explicitOut ?? join(base, runId));
  const baseAbs = resolve(base);
  try {
    mkdirSync(dir, { recursive: true });
    mkdirSync(baseAbs, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new GauntletError('REPORT_WRITE', `${dir}: cannot create the report directory (${code})`, { cause: e });
  }
  pointLatest(baseAbs, dir);
  return dir;
}

function pointLatest(base: string, dir: string): void {
  const latest = join(base, 'latest');
  const latestTxt = join(base, 'latest.txt');
  const tmp = join(base, `.latest.${process.pid}.tmp`);
  if (dir === latest) return;
  try {
    // Never replace a real file or directory someone named `latest`.
    if (isPresentNonLink(latest)) throw new Error('latest exists and is not a symlink');
    rmSync(tmp, { force: true });
    symlinkSync(relative(base, dir) || '.', tmp, 'dir');
    renameSync(tmp, latest); // atomic replace of the old link
    rmSync(latestTxt, { force: true });
  } catch {
    rmSync(tmp, { force: true });
    try {
      writeFileSync(latestTxt, `${dir}\n`, 'utf8');
    } catch {
      // `latest` is a convenience; the run's own directory is what matters.
    }
  }
}

function isPresentNonLink(path: string): boolean {
  try {
    return !lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** `YYYYMMDD-HHMMSS-<4 hex>` in UTC: sorts by time, unique enough for parallel runs. */
export function newRunId(date: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const day = `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}`;
  const time = `${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}`;
  return `${day}-${time}-${randomBytes(2).toString('hex')}`;
}
