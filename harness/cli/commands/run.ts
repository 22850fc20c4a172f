// `gauntlet run`: one profile against one target, reports to reports/<run-id>/.

import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_PROFILE, loadProfile } from '../../core/profile-file.js';
import { newRunSeed } from '../../core/seed.js';
import { CHECKS } from '../../checks/registry.js';
import { FLAWS, parseFlaws } from '../../../targets/reference-device/index.js';
import { durationOption, intOption, listOption, seedOption, useColor } from '../options.js';
import { GATES, type Gate } from '../../model/index.js';
import { parseShard, type Shard } from '../../core/shard.js';
import { runSession } from '../session.js';

function parseShardOption(value: string): Shard {
  try {
    return parseShard(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^--shard [^:]*: /, ''));
  }
}

export interface RunFlags {
  target?: string;
  profile: string;
  only: string[];
  seed?: number;
  out?: string;
  reportsDir: string;
  flaws?: string;
  gate: Gate;
  baseline?: string;
  shard?: Shard;
  ioTimeout: number;
  numRuns: number;
  timeBudget: number;
  color?: boolean;
  verbose?: boolean;
}

export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('-t, --target <file>', 'target file (YAML) describing the device; default: the built-in reference device')
    .option('-p, --profile <name|file>', 'profile: a built-in name (gauntlet list profiles) or a file', DEFAULT_PROFILE)
    .option('--only <ids>', 'run only these check ids or instances (auth.brute-force, auth.brute-force@mqtts); comma-separated, repeatable', listOption, [])
    .option('--seed <n>', 'run seed (printed in every report); the same seed replays the same cases', seedOption)
    .option('-o, --out <dir>', 'write reports here instead of <reports-dir>/<run-id>/')
    .option('--reports-dir <dir>', 'where run directories and the `latest` link go', 'reports')
    .option('--flaws <list>', `switch weaknesses on in the built-in reference device (demos, self-tests): ${FLAWS.join(', ')}`)
    .addOption(
      new Option('--gate <policy>', 'exit 1 when: any-fail = any check fails; new-findings = a finding not accepted in --baseline (or an expired acceptance); none = never')
        .choices([...GATES])
        .default('any-fail'),
    )
    .option('--shard <i/n>', 'run only the i-th of n deterministic, balanced slices of the plan (CI matrix, Kubernetes Indexed Job); `gauntlet merge` joins the slices', parseShardOption)
    .option('--baseline <file>', 'accepted findings for --gate new-findings (gauntlet-baseline/1; write one with `gauntlet baseline`)')
    .option('--io-timeout <duration>', 'bound on one connect or reply', durationOption('--io-timeout'), 2000)
    .option('--num-runs <n>', 'cases per property-based check', intOption('--num-runs', 1, 100000), 40)
    .option('--time-budget <duration>', 'wall-time bound per property-based check', durationOption('--time-budget'), 20000)
    .option('--no-color', 'plain output (also NO_COLOR=1)')
    .option('-v, --verbose', 'more detail per check');
}

export function registerRun(program: Command): void {
  addRunOptions(
    program
      .command('run')
      .description('run a profile of checks against a target and write reports')
      .addHelpText(
        'after',
        `
With no --target, Gauntlet starts its reference device on 127.0.0.1 (free ports)
and tests it; the hardened device passes every check. --flaws switches known
weaknesses on, so you can watch each check catch its flaw.

Examples:
  gauntlet run
  gauntlet run --flaws default-credentials,no-lockout
  gauntlet run --target targets/example-device.yaml --profile default
  gauntlet run --only auth.brute-force@mqtts --seed 1234
  gauntlet run --target dut.yaml --out /tmp/run1 --gate none
  gauntlet run --profile etsi-en-303-645 --target dut.yaml
  gauntlet run --gate new-findings --baseline accepted.yaml   (CI: fail only on new findings)

Reports: report.json (gauntlet-report/1), junit.xml, events.jsonl and
findings/<id>.json, each finding with the command that replays it.`,
      ),
  ).action(async (flags: RunFlags) => {
    const profile = loadProfile(flags.profile, CHECKS);
    const result = await runSession({
      targetFile: flags.target,
      flaws: flags.flaws ? parseFlaws(flags.flaws) : [],
      profile,
      only: flags.only,
      seed: flags.seed ?? newRunSeed(),
      out: flags.out,
      reportsBase: flags.reportsDir,
      gate: flags.gate,
      ...(flags.baseline !== undefined ? { baselinePath: flags.baseline } : {}),
      ...(flags.shard ? { shard: flags.shard } : {}),
      ioTimeoutMs: flags.ioTimeout,
      budget: { numRuns: flags.numRuns, timeMs: flags.timeBudget },
      argv: process.argv.slice(2),
      color: useColor(flags.color),
      verbose: Boolean(flags.verbose),
    });
    process.exitCode = result.exitCode;
  });
}
