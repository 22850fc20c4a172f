// Writes a file so a reader never sees half of it: write a sibling temp file,
// then rename over the target (atomic on one file system). Synchronous, so it
// also works from a SIGINT handler flushing an interrupted run.

import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { GauntletError } from '../core/errors.js';

export function writeFileAtomic(path: string, content: string, what: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, content, 'utf8');
    renameSync(tmp, path);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // The directory itself is the problem; nothing was left behind.
    }
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new GauntletError('REPORT_WRITE', `${path}: cannot write ${what} (${code})`, { cause: e });
  }
}
