// which.ts — find an executable the way a shell would (PATH lookup), plus the
// sbin directories that a non-root user's PATH usually lacks on Debian
// (mosquitto lives in /usr/sbin). Used by the test setup and the interop
// launchers; no dependencies beyond node:fs.
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/** Directories searched after $PATH: Debian puts daemons in sbin, which non-root PATHs omit. */
export const SBIN_DIRS: readonly string[] = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export interface WhichOptions {
  /** Defaults to process.env.PATH. */
  pathEnv?: string;
  /** Searched after pathEnv. Defaults to SBIN_DIRS. */
  extraDirs?: readonly string[];
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Absolute path of the first executable called `name`, or null. A name
 * containing a slash is checked as is (resolved against the cwd).
 */
export function which(name: string, opts: WhichOptions = {}): string | null {
  if (name.includes('/')) {
    const abs = path.resolve(name);
    return isExecutableFile(abs) ? abs : null;
  }
  const dirs = (opts.pathEnv ?? process.env['PATH'] ?? '')
    .split(path.delimiter)
    .filter((d) => d !== '')
    .concat(opts.extraDirs ?? SBIN_DIRS);
  const seen = new Set<string>();
  for (const dir of dirs) {
    const abs = path.resolve(dir);
    if (seen.has(abs)) continue;
    seen.add(abs);
    const candidate = path.join(abs, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}
