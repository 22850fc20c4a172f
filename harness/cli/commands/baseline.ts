// `gauntlet baseline RUN_DIR --why TEXT --expires DATE [--file F]`: accepts
// the findings of a run (report.json) into a baseline file, each with the
// justification and the expiry date, so `gauntlet run --gate new-findings
// --baseline F` fails only on findings nobody has accepted yet.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { acceptFindings, loadBaseline, writeBaseline } from '../../core/baseline-file.js';
import { GauntletError } from '../../core/errors.js';
import { gateInputsOf } from '../../model/index.js';
import { readReport } from '../../report/read-report.js';
import { listOption } from '../options.js';

interface BaselineFlags {
  why: string;
  expires: string;
  file: string;
  only: string[];
}

export function registerBaseline(program: Command): void {
  program
    .command('baseline')
    .description("accept a run's findings into a baseline file for --gate new-findings")
    .argument('<run-dir>', 'a run directory (holding report.json) or a report.json file')
    .requiredOption('--why <text>', 'why these findings are accepted: who decided, the ticket, the risk')
    .requiredOption('--expires <date>', 'YYYY-MM-DD: the acceptance holds through this day; after it the gate fails again')
    .option('--file <path>', 'the baseline file to create or extend', 'gauntlet-baseline.yaml')
    .option('--only <instances>', 'accept only the findings of these check instances (comma-separated, repeatable)', listOption, [])
    .addHelpText(
      'after',
      `
A finding is matched by its fingerprint: the check instance and its summary
with every number blanked, so it survives new seeds and timings. Entries
already in the file are kept as they are.

Examples:
  gauntlet baseline reports/latest --why "weak TLS suite, fixed in 2.1 (JIRA-12)" --expires 2027-03-31
  gauntlet run --gate new-findings --baseline gauntlet-baseline.yaml`,
    )
    .action((runDir: string, flags: BaselineFlags) => {
      const path = existsSync(runDir) && statSync(runDir).isDirectory() ? join(runDir, 'report.json') : runDir;
      if (!existsSync(path)) throw new GauntletError('CONFIG_NOT_FOUND', `${path}: no such report (give a run directory or its report.json)`);
      const report = readReport(path);
      const { findings } = gateInputsOf(report);
      const unknown = flags.only.filter((id) => !report.checks.some((c) => c.id === id));
      if (unknown.length) throw new GauntletError('USAGE', `--only ${unknown.join(', ')}: not a check instance of ${path}`);
      const chosen = flags.only.length ? findings.filter((f) => flags.only.includes(f.instanceId)) : findings;
      const base = existsSync(flags.file) ? loadBaseline(flags.file) : undefined;
      const { baseline, added } = acceptFindings(base, chosen, flags.why, flags.expires);
      writeBaseline(flags.file, baseline);
      process.stdout.write(
        `${flags.file}: ${added.length} finding(s) accepted until ${flags.expires}${chosen.length > added.length ? ` (${chosen.length - added.length} already there)` : ''}; ${baseline.accepted.length} in all\n`,
      );
      for (const e of added) process.stdout.write(`  ${e.fingerprint}  ${e.summary}\n`);
    });
}
