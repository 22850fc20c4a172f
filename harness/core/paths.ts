// Where the package's own files are (profiles, corpora, schemas), both when
// running from source (vitest) and from dist/ (the installed CLI).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'gauntlet') return (cached = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the gauntlet package root');
    dir = up;
  }
}

export function harnessVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
