// `gauntlet fuzz`: a fuzz campaign (robustness.fuzz) on the interfaces of one
// protocol family of a target, with a budget in time or cases. The same
// session as `run`: reports, findings/*.json with their replay commands, the
// live progress line and the exit code.

import { Command, InvalidArgumentError, Option } from 'commander';
import type { Profile, Protocol } from '../../model/index.js';
import { CASES_PER_RUN } from '../../checks/robustness/fuzz.js';
import { DEFAULT_THRESHOLDS } from '../../fuzz/oracles.js';
import { newRunSeed } from '../../core/seed.js';
import { FLAWS, parseFlaws } from '../../../targets/reference-device/index.js';
import { durationOption, seedOption, useColor } from '../options.js';
import { runSession } from '../session.js';
import { DEFAULT_CORPUS_DIR } from '../../fuzz/store.js';

/** Every campaign is bounded: a case budget still stops after this long, a time budget after this many cases. */
export const MAX_CAMPAIGN_MS = 24 * 3600_000;
export const MAX_CAMPAIGN_CASES = 10_000_000;

export const FAMILIES: Readonly<Record<string, readonly Protocol[]>> = { mqtt: ['mqtt', 'mqtts'], coap: ['coap'], http: ['http', 'https'] };

export interface Budget {
  readonly cases: number;
  readonly timeMs: number;
  readonly text: string;
}

/** A number option within [min, max] (whole when `integer`). */
function numberIn(flag: string, min: number, max: number, integer = false): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${flag}: ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`);
    }
    return n;
  };
}

/** Cases per probe. */
export const MAX_BATCH = 64;

function batchOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > MAX_BATCH) throw new InvalidArgumentError(`--batch: a whole number from 1 to ${MAX_BATCH}`);
  return n;
}

/** `10m`, `90s`, `1h` (time) or `100000` (cases). */
export function parseBudget(value: string): Budget {
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 1 || n > MAX_CAMPAIGN_CASES) throw new InvalidArgumentError(`--budget: a case count from 1 to ${MAX_CAMPAIGN_CASES}`);
    return { cases: n, timeMs: MAX_CAMPAIGN_MS, text: `${n} cases` };
  }
  if (!/[a-z]$/.test(v)) throw new InvalidArgumentError('--budget takes a duration (10m, 90s, 1h) or a case count (100000)');
  const ms = durationOption('--budget')(v);
  return { cases: MAX_CAMPAIGN_CASES, timeMs: ms, text: v };
}

interface FuzzFlags {
  target?: string;
  protocol: string;
  budget: Budget;
  seed?: number;
  out?: string;
  reportsDir: string;
  flaws?: string;
  ioTimeout: number;
  gate: 'any-fail' | 'none';
  batch: number;
  corpus: string | false;
  latencyFactor?: number;
  latencyFloor?: number;
  latencyWindow?: number;
  color?: boolean;
  verbose?: boolean;
}

export function registerFuzz(program: Command): void {
  program
    .command('fuzz')
    .description('run a fuzz campaign against the MQTT, CoAP or HTTP interfaces of a target')
    .option('-t, --target <file>', 'target file (YAML); default: the built-in reference device')
    .addOption(new Option('-P, --protocol <family>', 'which interfaces: mqtt (mqtt, mqtts), coap, http (http, https)').choices(Object.keys(FAMILIES)).makeOptionMandatory())
    .addOption(new Option('-b, --budget <time|cases>', 'how long: a duration (10m) or a number of cases (100000)').argParser(parseBudget).default(parseBudget('2m'), '2m'))
    .option('--seed <n>', 'campaign seed; the same seed sends the same cases', seedOption)
    .option('-o, --out <dir>', 'write reports here instead of <reports-dir>/<run-id>/')
    .option('--reports-dir <dir>', 'where run directories and the `latest` link go', 'reports')
    .option('--flaws <list>', `switch weaknesses on in the built-in reference device: ${FLAWS.join(', ')}`)
    .option('--io-timeout <duration>', 'bound on one connect or reply; also the hang threshold of the probe', durationOption('--io-timeout'), 2000)
    .option('--batch <n>', 'cases sent between two probes, 1 to 64: faster; a failing batch is bisected to its case', batchOption, 1)
    .option('--corpus <dir>', 'keep each finding\'s exact input here as <target>/<id>.json (gauntlet replay FILE)', DEFAULT_CORPUS_DIR)
    .option('--no-corpus', 'do not keep finding inputs outside the run directory')
    .option('--latency-factor <x>', `latency creep: the probe's median over the window past x times its baseline (default ${DEFAULT_THRESHOLDS.latencyFactor})`, numberIn('--latency-factor', 1.5, 1000))
    .option('--latency-floor <duration>', `latency creep: and more than this above the baseline (default ${DEFAULT_THRESHOLDS.latencyFloorMs}ms)`, durationOption('--latency-floor'))
    .option('--latency-window <n>', `latency creep: probes in the baseline and in the window (default ${DEFAULT_THRESHOLDS.latencyWindow})`, numberIn('--latency-window', 5, 1000, true))
    .addOption(new Option('--gate <policy>', 'exit 1 when: any-fail = a finding; none = never').choices(['any-fail', 'none']).default('any-fail'))
    .option('--no-color', 'plain output (also NO_COLOR=1)')
    .option('-v, --verbose', 'more detail')
    .addHelpText(
      'after',
      `
Each case is one connection's (or one UDP socket's) worth of packets: a
sixth conform to the protocol, half break one rule each (lengths, reserved
bits, UTF-8, option deltas, framing, sizes at type limits), a third are
mutations of the corpus seeds (corpora/<protocol>/seeds), all aimed at the
principal's session and the declared topics, resources and routes. After
every case a probe judges: crash (refused), hang (no answer within
--io-timeout), reboot (a sentinel session lost), invalid response, latency
creep. With --batch N the probe runs after every N cases; a failing batch is
bisected down to the case (or cases) that do it. A failing case is shrunk
(each attempt sent again), confirmed on the recovered device and written to
findings/ with its bytes and a replay command, and its exact input is kept
in the corpus (--corpus) for a byte-level replay.

A crashed or hung device is polled until it answers again (target file
control.rebootWait, default 15s); if it does not, the target file's
control.restart command is run and the campaign goes on. Without one, the
campaign ends there and the case that brought the device down is still a
finding (not shrunk, not confirmed). The built-in reference device runs as a
child process here: a crash is a real exit, and the campaign restarts it.

Examples:
  gauntlet fuzz --protocol mqtt --budget 2m
  gauntlet fuzz --protocol coap --budget 100000 --seed 42
  gauntlet fuzz --protocol http --flaws http-crash-header --budget 60s
  gauntlet fuzz --target dut.yaml --protocol mqtt --budget 10m --batch 8 --out /tmp/fuzz1
  gauntlet replay corpora/findings/<target>/<id>.json

Exit codes: 0 no finding, 1 findings, 2 usage, 3 harness error, 130 interrupted.`,
    )
    .action(async (flags: FuzzFlags) => {
      const profile: Profile = {
        name: `fuzz-${flags.protocol}`,
        source: 'gauntlet fuzz',
        description: `fuzz campaign on the ${flags.protocol} interfaces (${flags.budget.text})`,
        checks: ['robustness.fuzz'],
        requirements: [],
      };
      const result = await runSession({
        targetFile: flags.target,
        flaws: flags.flaws ? parseFlaws(flags.flaws) : [],
        profile,
        only: [],
        protocols: FAMILIES[flags.protocol],
        seed: flags.seed ?? newRunSeed(),
        out: flags.out,
        reportsBase: flags.reportsDir,
        gate: flags.gate,
        ioTimeoutMs: flags.ioTimeout,
        budget: { numRuns: Math.ceil(flags.budget.cases / CASES_PER_RUN), timeMs: flags.budget.timeMs, batch: flags.batch },
        ...(flags.corpus !== false ? { corpusDir: flags.corpus } : {}),
        deviceProcess: true,
        fuzz: {
          ...(flags.latencyFactor !== undefined ? { latencyFactor: flags.latencyFactor } : {}),
          ...(flags.latencyFloor !== undefined ? { latencyFloorMs: flags.latencyFloor } : {}),
          ...(flags.latencyWindow !== undefined ? { latencyWindow: flags.latencyWindow } : {}),
        },
        argv: process.argv.slice(2),
        color: useColor(flags.color),
        verbose: Boolean(flags.verbose),
      });
      process.exitCode = result.exitCode;
    });
}
