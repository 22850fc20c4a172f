// Reads a file the user named, or fails with one line naming it and why.

import { readFileSync } from 'node:fs';
import { GauntletError } from './errors.js';

export function readTextFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? 'error'})`;
    throw new GauntletError('CONFIG_NOT_FOUND', `${path}: ${what}: ${why}`);
  }
}
