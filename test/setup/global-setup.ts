// Vitest global setup (see vitest.config.ts): runs once before any test file.
//  1. Builds dist/ (`tsc -b tsconfig.build.json`), because the CLI tests spawn
//     `node bin/gauntlet.js`; a compile error fails the whole run with tsc's output.
//  2. Makes sure the Debian packages the interop suites need are there
//     (installs them as root, shouts and skips them otherwise, fails in CI) —
//     see ./debian-packages.ts.
//  3. Does the same for Debian's `chromium`, which the HTML report's browser
//     test drives through playwright-core (a missing one skips that test
//     loudly, and fails it under CI=true).
//  4. Hands the tool paths to test files: `inject('interop')`, `inject('chromium')`.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

// The empty type import makes 'vitest' resolvable for the augmentation below.
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';

import { which } from '../../targets/interop/which.js';
import { APT_ENV, aptCommandFor, ensureDebianPackages, isCi, runInherited, type InteropTools } from './debian-packages.js';

declare module 'vitest' {
  export interface ProvidedContext {
    interop: InteropTools;
    /** Absolute path of Debian's chromium, or null when the package is missing. */
    chromium: string | null;
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

/** The Debian package the browser test needs; playwright-core never downloads a browser here. */
export const CHROMIUM_PACKAGE = 'chromium';

function chromiumNotice(ci: boolean): string {
  const bar = '!'.repeat(78);
  return [
    '',
    bar,
    ci
      ? `!!  CI=true: THE HTML REPORT BROWSER TEST WILL FAIL: missing Debian package ${CHROMIUM_PACKAGE}`
      : `!!  THE HTML REPORT BROWSER TEST WILL BE SKIPPED: missing Debian package ${CHROMIUM_PACKAGE}`,
    '!!  Not running as root, so Gauntlet cannot install it itself. Run:',
    `!!      ${aptCommandFor([CHROMIUM_PACKAGE])}`,
    bar,
    '',
  ].join('\n');
}

/** Finds chromium; as root, apt-get installs it when missing; otherwise says loudly why the browser test will not run. */
function ensureChromium(): string | null {
  let found = which('chromium');
  if (found) return found;
  if (process.getuid?.() === 0) {
    console.log(`[gauntlet setup] missing Debian package ${CHROMIUM_PACKAGE}; installing with apt-get (running as root)`);
    const steps: [string, string[]][] = [
      ['apt-get', ['-q', 'update']],
      ['apt-get', ['-q', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=120', 'install', CHROMIUM_PACKAGE]],
    ];
    for (const [cmd, args] of steps) {
      console.log(`[gauntlet setup] $ DEBIAN_FRONTEND=noninteractive ${cmd} ${args.join(' ')}`);
      const r = runInherited(cmd, args, { ...APT_ENV });
      if (r.status !== 0) {
        console.error(`[gauntlet setup] ${cmd} ${args.join(' ')} failed (status ${r.status})${r.output ? `:\n${r.output}` : ''}`);
        break;
      }
    }
    found = which('chromium');
    if (found) console.log(`[gauntlet setup] installed: ${CHROMIUM_PACKAGE}`);
  } else {
    console.error(chromiumNotice(isCi()));
  }
  return found;
}

export default async function setup(project: TestProject): Promise<void> {
  buildDist(project.config.root);
  const interop = ensureDebianPackages();
  project.provide('interop', interop);
  project.provide('chromium', ensureChromium());
}
