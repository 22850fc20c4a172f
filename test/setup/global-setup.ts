// Vitest global setup (see vitest.config.ts): runs once before any test file.
//  1. Builds dist/ (`tsc -b tsconfig.build.json`), because the CLI tests spawn
//     `node bin/gauntlet.js`; a compile error fails the whole run with tsc's output.
//  2. Makes sure the Debian packages the interop suites need are there
//     (installs them as root, shouts and skips them otherwise, fails in CI) —
//     see ./debian-packages.ts.
//  3. Hands the tool paths to test files: `inject('interop')`.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

// The empty type import makes 'vitest' resolvable for the augmentation below.
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';

import { ensureDebianPackages, type InteropTools } from './debian-packages.js';

declare module 'vitest' {
  export interface ProvidedContext {
    interop: InteropTools;
  }
}

function buildDist(root: string): void {
  const require = createRequire(path.join(root, 'package.json'));
  const tsc = require.resolve('typescript/bin/tsc');
  const started = Date.now();
  const r = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (r.error || r.status !== 0) {
    throw new Error(
      `[gauntlet setup] build failed: tsc -b tsconfig.build.json (exit ${r.status ?? r.error?.message})\n${output}`,
    );
  }
  console.log(`[gauntlet setup] built dist/ in ${Date.now() - started} ms`);
}

export default async function setup(project: TestProject): Promise<void> {
  buildDist(project.config.root);
  const interop = ensureDebianPackages();
  project.provide('interop', interop);
}
