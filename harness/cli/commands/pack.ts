// `gauntlet pack RUN_DIR`: the run directory as one evidence bundle
// (<run-id>.tar.gz with MANIFEST.json and MANIFEST.sha256), and
// `gauntlet pack --verify FILE`: is a bundle still as it was packed?
// Exit 0 packed / intact, 1 not intact, 2 not a run directory or bundle.

import { relative } from 'node:path';
import { Command } from 'commander';
import { EXIT } from '../../core/errors.js';
import { MANIFEST_FILE, MANIFEST_SUMS, packRunDir, verifyBundle } from '../../report/bundle.js';

interface PackFlags {
  out?: string;
  verify?: boolean;
}

export function registerPack(program: Command): void {
  program
    .command('pack')
    .description('pack a run directory into one evidence bundle (.tar.gz with a SHA-256 manifest), or verify one')
    .argument('<path>', 'the run directory to pack (reports/<run-id>/), or with --verify the bundle to check')
    .option('-o, --out <file>', 'the archive to write (default: <run-id>.tar.gz next to the run directory)')
    .option('--verify', 'check a bundle: every file against its manifest; exit 0 intact, 1 altered, missing or extra files')
    .addHelpText(
      'after',
      `
The bundle holds every file of the run directory (report.json, junit.xml,
events.jsonl, findings/, and report.html, summary.md, bench.md when present)
under <run-id>/, with ${MANIFEST_FILE} (gauntlet-manifest/1: run id, when,
Gauntlet version, each file's path, size and SHA-256) and ${MANIFEST_SUMS}.

Examples:
  gauntlet pack reports/latest
  gauntlet pack reports/20260101-120000-ab12 --out evidence/thermo-x200.tar.gz
  gauntlet pack --verify evidence/thermo-x200.tar.gz
  tar xzf thermo-x200.tar.gz && cd <run-id> && sha256sum -c ${MANIFEST_SUMS}   (no Gauntlet needed)`,
    )
    .action(async (path: string, flags: PackFlags) => {
      if (flags.verify) {
        const r = await verifyBundle(path);
        if (r.intact) {
          process.stdout.write(`intact: ${path}: ${r.files} file(s) of run ${r.runId} match ${MANIFEST_FILE}\n`);
          process.exitCode = EXIT.ok;
          return;
        }
        const lines = [`NOT intact: ${path}${r.runId ? ` (run ${r.runId})` : ''}`, ...r.problems.map((p) => `  ${p}`)];
        for (const f of r.altered) lines.push(`  altered: ${f}`);
        for (const f of r.missing) lines.push(`  missing: ${f}`);
        for (const f of r.extra) lines.push(`  extra:   ${f}`);
        process.stdout.write(`${lines.join('\n')}\n`);
        process.exitCode = EXIT.gateFailed;
        return;
      }
      const r = await packRunDir(path, flags.out !== undefined ? { out: flags.out } : {});
      const rel = relative(process.cwd(), r.file) || r.file;
      const bytes = r.manifest.files.reduce((t, f) => t + f.size, 0);
      for (const s of r.skipped) process.stderr.write(`gauntlet: ${path}/${s}: not a regular file; left out of the bundle\n`);
      process.stdout.write(`packed ${r.manifest.files.length} file(s) of run ${r.manifest.runId} (${bytes} bytes) into ${rel}\ncheck it with: gauntlet pack --verify ${rel}\n`);
    });
}
