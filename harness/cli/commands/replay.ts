// `gauntlet replay FILE`: reproduces a finding from its file. Two kinds:
//   - a finding file (findings/<id>.json, gauntlet-finding/1): the same
//     target (the built-in device with the same flaws, or the same target
//     file), the same check instance, the same seed, and for property checks
//     the shrunk counterexample's path, so only that case runs;
//   - a fuzz finding record (corpora/findings/<target>/<id>.json,
//     gauntlet-fuzz-finding/1): the recorded bytes sent again as they are,
//     no generator or seed, judged by the fuzz oracles (fuzz/replay-input.ts).
// Exit 1 when it reproduced, 0 when not; 3 when a fuzz record could not be
// judged (the device was down before the replay).

import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { EXIT, GauntletError } from '../../core/errors.js';
import { createScopeGuard } from '../../core/scope.js';
import { loadTargetFile } from '../../core/target-file.js';
import { TranscriptRecorder } from '../../core/transcript.js';
import { CHECKS } from '../../checks/registry.js';
import { rebootWaitFor, thresholdsFor } from '../../fuzz/oracles.js';
import { recordInterface, replayFuzzRecord } from '../../fuzz/replay-input.js';
import { interfaceUrl, isFuzzRecordFile, readFuzzRecord, type FuzzFindingRecord } from '../../fuzz/store.js';
import { readFindingFile } from '../../report/index.js';
import { parseFlaws } from '../../../targets/reference-device/index.js';
import type { Profile, Target, TranscriptEntry } from '../../model/index.js';
import { durationOption, useColor } from '../options.js';
import { BUILTIN_TARGET, runSession, startBuiltinDevice } from '../session.js';

interface ReplayFlags {
  target?: string;
  out?: string;
  reportsDir: string;
  ioTimeout: number;
  color?: boolean;
  verbose?: boolean;
}

/** Bytes of a step shown on the console; the record has them all. */
const SHOWN_BYTES = 48;

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('reproduce a finding from its finding file or fuzz finding record')
    .argument('<file>', 'a finding file written by a run (reports/<run>/findings/<id>.json) or a fuzz finding record (corpora/findings/<target>/<id>.json)')
    .option('-t, --target <file>', 'target file to use instead of the one recorded in the file')
    .option('-o, --out <dir>', 'write the replay\'s reports here (finding files)')
    .option('--reports-dir <dir>', 'where run directories go (finding files)', 'reports')
    .option('--io-timeout <duration>', 'bound on one connect or reply (a fuzz replay\'s hang threshold)', durationOption('--io-timeout'), 2000)
    .option('-v, --verbose', 'print the replay\'s transcript (fuzz records) or the checks\' notes (finding files)')
    .option('--no-color', 'plain output')
    .addHelpText(
      'after',
      `
Both file kinds are accepted:
  findings/<id>.json               (gauntlet-finding/1) runs only the finding's check
                                   instance, with the run's seed, and for a
                                   property-based check only the shrunk counterexample
  corpora/findings/<target>/<id>.json  (gauntlet-fuzz-finding/1) sends the recorded
                                   bytes again, connection by connection, and
                                   probes the device after each: it reproduces when
                                   the same oracle (crash, hang, reboot, invalid
                                   response) fires again

The target is the one recorded in the file (the built-in reference device is
started with the recorded flaws), or --target.

Exit code 1 means the finding reproduced; 0 means it did not; 3 means a fuzz
record could not be judged (the device did not answer before the replay).`,
    )
    .action(async (file: string, flags: ReplayFlags) => {
      if (isFuzzRecordFile(file)) {
        process.exitCode = await replayRecord(file, flags);
        return;
      }
      const f = readFindingFile(file);
      const targetFile = targetFileFor(file, f.run.targetSource, flags.target);
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
        verbose: flags.verbose ?? false,
      });
      const again = result.results.find((r) => r.instance.id === f.instance.id);
      process.stdout.write(again?.verdict === 'fail' ? `reproduced: ${again.reason}\n` : `not reproduced: ${again?.verdict ?? 'not run'}${again ? ` (${again.reason})` : ''}\n`);
      process.exitCode = result.exitCode;
    });
}

/** The target file a replay uses: --target, else the recorded one (none: the built-in device); it must exist. */
function targetFileFor(file: string, recorded: string, override: string | undefined): string | undefined {
  const targetFile = override ?? (recorded === BUILTIN_TARGET ? undefined : recorded);
  if (targetFile && !existsSync(targetFile)) {
    throw new GauntletError('CONFIG_NOT_FOUND', `${file}: the recorded target file ${targetFile} does not exist; pass --target`);
  }
  return targetFile;
}

/** Replays a fuzz finding record byte for byte; returns the exit code. */
async function replayRecord(file: string, flags: ReplayFlags): Promise<number> {
  const rec = readFuzzRecord(file);
  const targetFile = targetFileFor(file, rec.target.source, flags.target);
  // Everything is validated before anything starts or is sent.
  let target: Target | undefined = targetFile ? loadTargetFile(targetFile) : undefined;
  if (target) recordInterface(target, rec);
  const flaws = targetFile ? [] : parseFlaws(rec.target.flaws.join(','));
  process.stdout.write(header(rec, file));

  let device: { close(): Promise<void> } | undefined;
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    process.stderr.write(`\ngauntlet: ${sig}: stopping the replay (again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (!target) {
      ({ device, target } = await startBuiltinDevice(flaws));
    }
    const iface = recordInterface(target, rec);
    process.stdout.write(`  to ${iface.id} of ${target.name} (${target.source}), ${interfaceUrl(iface)}\n`);
    const r = await replayFuzzRecord(
      target,
      rec,
      { scope: createScopeGuard(target), transcript: new TranscriptRecorder(), timeoutMs: flags.ioTimeout, signal: controller.signal, peer: iface.id },
      {
        thresholds: thresholdsFor(flags.ioTimeout),
        rebootWaitMs: rebootWaitFor(target, flags.ioTimeout),
        // The built-in device is closed right after: no need to wait for it to come back.
        recover: device === undefined,
      },
    );
    if (flags.verbose) process.stdout.write(transcriptText(r.transcript));
    if (r.reproduced) {
      process.stdout.write(`reproduced: ${r.detail}\n`);
      return EXIT.gateFailed;
    }
    if (r.inconclusive) {
      process.stdout.write(`inconclusive: ${r.detail}\n`);
      return controller.signal.aborted ? EXIT.interrupted : EXIT.harness;
    }
    process.stdout.write(`not reproduced: ${r.detail}\n`);
    return EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await device?.close();
  }
}

function header(rec: FuzzFindingRecord, file: string): string {
  const lines = [
    `replaying fuzz finding ${rec.id} (${file}): ${rec.summary}`,
    `  recorded: ${rec.oracle} on ${rec.interface.id} (${rec.interface.protocol}) of ${rec.target.name}, ${rec.confirmed ? 'confirmed' : 'not confirmed'} when found; Gauntlet ${rec.harnessVersion}, seed ${rec.seed}${rec.path ? `, path ${rec.path}` : ''}${rec.target.flaws.length ? `, flaws ${rec.target.flaws.join(',')}` : ''}`,
  ];
  for (const [i, c] of rec.connections.entries()) {
    lines.push(`  connection ${i + 1}: ${c.label}`);
    for (const [j, s] of c.steps.entries()) {
      const n = s.hex.length / 2;
      lines.push(`    ${j + 1}. ${s.label} [${n} B] ${s.hex.slice(0, SHOWN_BYTES * 2)}${n > SHOWN_BYTES ? '…' : ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function transcriptText(entries: readonly TranscriptEntry[]): string {
  const lines = ['transcript:'];
  for (const e of entries) {
    const hex = e.hex ? ` ${e.hex.slice(0, SHOWN_BYTES * 2)}${e.hex.length > SHOWN_BYTES * 2 || e.truncated ? '…' : ''}` : '';
    lines.push(`  ${e.t.toFixed(1).padStart(8)} ms  ${e.dir.padEnd(8)} ${e.peer}  ${e.decoded}${hex}`);
  }
  return `${lines.join('\n')}\n`;
}
