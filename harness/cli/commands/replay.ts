// `gauntlet replay FINDING.json`: reproduces a finding from its file: the
// same target (the built-in device with the same flaws, or the same target
// file), the same check instance, the same seed, and for property checks the
// shrunk counterexample's path, so only that case runs.

import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { GauntletError } from '../../core/errors.js';
import { CHECKS } from '../../checks/registry.js';
import { readFindingFile } from '../../report/index.js';
import { parseFlaws } from '../../../targets/reference-device/index.js';
import type { Profile } from '../../model/index.js';
import { durationOption, useColor } from '../options.js';
import { BUILTIN_TARGET, runSession } from '../session.js';

interface ReplayFlags {
  target?: string;
  out?: string;
  reportsDir: string;
  ioTimeout: number;
  color?: boolean;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('reproduce a finding from its findings/<id>.json file')
    .argument('<finding>', 'a finding file written by a run (reports/<run>/findings/<id>.json)')
    .option('-t, --target <file>', 'target file to use instead of the one recorded in the finding')
    .option('-o, --out <dir>', 'write the replay\'s reports here')
    .option('--reports-dir <dir>', 'where run directories go', 'reports')
    .option('--io-timeout <duration>', 'bound on one connect or reply', durationOption('--io-timeout'), 2000)
    .option('--no-color', 'plain output')
    .addHelpText(
      'after',
      `
Exit code 1 means the finding reproduced (the check failed again); 0 means it
did not. The replay runs only the finding's check instance, with the run's
seed, and for a property-based check only the shrunk counterexample.`,
    )
    .action(async (file: string, flags: ReplayFlags) => {
      const f = readFindingFile(file);
      const recorded = f.run.targetSource;
      const targetFile = flags.target ?? (recorded === BUILTIN_TARGET ? undefined : recorded);
      if (targetFile && !existsSync(targetFile)) {
        throw new GauntletError('CONFIG_NOT_FOUND', `${file}: the recorded target file ${targetFile} does not exist; pass --target`);
      }
      const profile: Profile = { name: `replay ${f.finding.id}`, source: file, description: 'replay', checks: [f.instance.checkId], requirements: [] };
      if (!CHECKS.some((c) => c.id === f.instance.checkId)) {
        throw new GauntletError('CONFIG_INVALID', `${file}: check ${f.instance.checkId} is not known to this Gauntlet`);
      }
      const path = f.finding.evidence.counterexample?.path;
      process.stdout.write(`replaying ${f.finding.id}: ${f.finding.summary}\n  seed ${f.run.seed}${path ? `, counterexample path ${path}` : ''}${f.run.flaws.length ? `, flaws ${f.run.flaws.join(',')}` : ''}\n`);
      const result = await runSession({
        targetFile,
        flaws: targetFile ? [] : parseFlaws(f.run.flaws.join(',')),
        profile,
        only: [f.instance.id],
        seed: f.run.seed,
        out: flags.out,
        reportsBase: flags.reportsDir,
        gate: 'any-fail',
        ioTimeoutMs: flags.ioTimeout,
        budget: { numRuns: 1000, timeMs: 60_000 },
        replayPath: path || undefined,
        argv: process.argv.slice(2),
        color: useColor(flags.color),
        verbose: false,
      });
      const again = result.results.find((r) => r.instance.id === f.instance.id);
      process.stdout.write(again?.verdict === 'fail' ? `reproduced: ${again.reason}\n` : `not reproduced: ${again?.verdict ?? 'not run'}${again ? ` (${again.reason})` : ''}\n`);
      process.exitCode = result.exitCode;
    });
}
