// The gauntlet command line: a table of commands, each in its own file.
// Errors end here: a GauntletError prints one line and exits with its code;
// anything else is a harness bug (exit 3) and prints its stack only with
// GAUNTLET_DEBUG=1.

import { Command, CommanderError, Option } from 'commander';
import { describeError, EXIT, isGauntletError } from '../core/errors.js';
import { harnessVersion } from '../core/paths.js';
import { registerBaseline } from './commands/baseline.js';
import { registerBench } from './commands/bench.js';
import { registerDevice } from './commands/device.js';
import { registerFuzz } from './commands/fuzz.js';
import { registerInit } from './commands/init.js';
import { registerList } from './commands/list.js';
import { registerMerge } from './commands/merge.js';
import { registerPack } from './commands/pack.js';
import { registerReplay } from './commands/replay.js';
import { registerRun } from './commands/run.js';

export function buildProgram(): Command {
  const program = new Command('gauntlet')
    .version(harnessVersion(), '-V, --version')
    .description(
      'Protocol fuzzing and conformance harness for IoT devices (MQTT, CoAP, DTLS, HTTP).\n' +
        'Runs a profile of security checks against a target and reports verdicts traced to\n' +
        'NISTIR 8259A, ETSI EN 303 645 / TS 103 701, EN 18031-1 and California SB-327,\n' +
        'with evidence and a replay command for every finding.',
    )
    .addHelpText(
      'after',
      `
Quick start:
  gauntlet run                          test the built-in reference device (hardened: exits 0)
  gauntlet run --flaws no-lockout       the same device with a weakness switched on (exits 1)
  gauntlet run --target my-device.yaml  test your device (see targets/example-device.yaml)
  gauntlet device --flaws anonymous-mqtt  run the reference device alone and print its endpoints
  gauntlet list checks                  what is tested, with requirement ids
  gauntlet run --profile etsi-en-303-645  verdicts per EN 303 645 / TS 103 701 requirement
  gauntlet init --host 192.0.2.10       probe a new device and write a target-file skeleton
  gauntlet run --shard 2/4 ...; gauntlet merge s1 s2 s3 s4 --out all   spread a run over machines
  gauntlet pack reports/latest          one archive with a SHA-256 manifest, for the lab's file

Exit codes: 0 gate passed, 1 findings failed the gate, 2 usage or config error,
3 harness error, 130 interrupted (reports are still written).`,
    )
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) })
    .exitOverride();
  registerRun(program);
  registerFuzz(program);
  registerReplay(program);
  registerBench(program);
  registerDevice(program);
  registerInit(program);
  registerList(program);
  registerMerge(program);
  registerPack(program);
  registerBaseline(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  // Output piped into `head` or a closed pager: stop quietly, as other CLI tools do.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.ok);
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      return EXIT.usage; // commander already printed the message
    }
    if (isGauntletError(e)) {
      process.stderr.write(`gauntlet: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`gauntlet: internal error: ${describeError(e)}\n`);
    if (process.env['GAUNTLET_DEBUG'] === '1' && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    else process.stderr.write('(set GAUNTLET_DEBUG=1 for the stack trace, and please report it)\n');
    return EXIT.harness;
  }
}

export { Option };
