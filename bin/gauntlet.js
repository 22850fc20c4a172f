#!/usr/bin/env node
// Entry point of the installed CLI: runs the compiled harness from dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/harness/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('gauntlet: dist/ is missing; run `npm run build` (npm ci does it for you)\n');
  process.exit(3);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Never hang on a handle a device left open: the work is done and reported.
setTimeout(() => process.exit(code), 1500).unref();
