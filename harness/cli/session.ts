// One run from the command line's point of view: resolve the target (a file,
// or the built-in reference device started in-process), plan, run with
// reporters, handle Ctrl-C by writing what there is, and compute the exit
// code from the gate. `run` and `replay` both come through here.

import { join, relative } from 'node:path';
import { profileSummaryOf, withGate, type BenchSettings, type Budget, type CheckResult, type FuzzTuning, type Gate, type GateResult, type Profile, type Protocol, type RunMeta, type Target, type TargetControl } from '../model/index.js';
import { loadBaseline, today } from '../core/baseline-file.js';
import { EXIT, GauntletError } from '../core/errors.js';
import { harnessVersion } from '../core/paths.js';
import { machineOf } from '../core/machine.js';
import { plan } from '../core/planner.js';
import { plannedCost, shardPlan, type Shard } from '../core/shard.js';
import { runChecks } from '../core/runner.js';
import { loadTargetFile, targetFromObject } from '../core/target-file.js';
import { CHECKS } from '../checks/registry.js';
import { HTML_FILE } from '../report/html-report.js';
import { SUMMARY_FILE } from '../report/markdown-summary.js';
import { reportWriters } from '../report/report-set.js';
import {
  BENCH_FILE,
  ConsoleReporter,
  EventLogReporter,
  FuzzCorpusWriter,
  JsonReporter,
  ReporterMux,
  createReportDir,
  newRunId,
  EVENTS_FILE,
  REPORT_FILE,
  JUNIT_FILE,
  findingFilePath,
} from '../report/index.js';
import { startReferenceDevice, startReferenceDeviceProcess, type DeviceProcess, type Flaw, type RunningDevice } from '../../targets/reference-device/index.js';

/** How long the built-in device's child process is polled after a crash or hang before it is restarted. */
export const BUILTIN_REBOOT_WAIT_MS = 500;

export const BUILTIN_TARGET = 'builtin:reference-device';

export type { Gate } from '../model/index.js';

/**
 * Starts the built-in reference device: in this process (its services under
 * a watchdog), or as a child process whose restart is the target control.
 */
export async function startBuiltinDevice(flaws: readonly Flaw[], asProcess = false): Promise<{ device: RunningDevice | DeviceProcess; target: Target; control?: TargetControl }> {
  let device: RunningDevice | DeviceProcess;
  let control: TargetControl | undefined;
  try {
    if (asProcess) {
      const child = await startReferenceDeviceProcess({ flaws });
      device = child;
      control = { rebootWaitMs: BUILTIN_REBOOT_WAIT_MS, restart: (signal) => child.restart(signal) };
    } else {
      device = await startReferenceDevice({ flaws });
    }
  } catch (e) {
    throw new GauntletError('DEVICE_START', `the built-in reference device did not start: ${(e as Error).message}`, { cause: e });
  }
  return { device, target: targetFromObject(device.targetFile(), BUILTIN_TARGET), ...(control ? { control } : {}) };
}

export interface SessionOptions {
  readonly targetFile?: string;
  readonly flaws: readonly Flaw[];
  readonly profile: Profile;
  readonly only: readonly string[];
  /** Plan only instances on interfaces of these protocols (gauntlet fuzz --protocol). */
  readonly protocols?: readonly Protocol[];
  readonly seed: number;
  /** `--shard i/n`: run only this deterministic slice of the plan. */
  readonly shard?: Shard;
  readonly out?: string;
  readonly reportsBase: string;
  readonly gate: Gate;
  /** Accepted findings for --gate new-findings (a gauntlet-baseline/1 file). */
  readonly baselinePath?: string;
  readonly ioTimeoutMs: number;
  readonly budget: Budget;
  readonly replayPath?: string;
  /**
   * The built-in device runs in a child process (gauntlet fuzz): a crash is a
   * real process exit, and the campaign restarts it through target control.
   */
  readonly deviceProcess?: boolean;
  /** Fuzz oracle thresholds (gauntlet fuzz --latency-*). */
  readonly fuzz?: FuzzTuning;
  /** Device benchmark settings (gauntlet bench). */
  readonly bench?: BenchSettings;
  /** Fuzz: also keep every fuzz finding's exact input in this corpus directory (corpora/findings). */
  readonly corpusDir?: string;
  readonly argv: readonly string[];
  readonly color: boolean;
  readonly verbose: boolean;
}

export interface SessionResult {
  readonly exitCode: number;
  readonly reportDir: string;
  readonly results: readonly CheckResult[];
  readonly interrupted: boolean;
}

/** Exit code: 1 when the gate failed, else 3 on harness errors, else 0; 130 when interrupted. */
export function exitCodeFor(results: readonly CheckResult[], gate: GateResult, interrupted: boolean): number {
  if (interrupted) return EXIT.interrupted;
  if (!gate.passed) return EXIT.gateFailed;
  if (results.some((r) => r.verdict === 'error')) return EXIT.harness;
  return EXIT.ok;
}


const shellQuote = (s: string) => (/^[A-Za-z0-9_./:@,=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export async function runSession(o: SessionOptions): Promise<SessionResult> {
  if (o.targetFile && o.flaws.length > 0) {
    throw new GauntletError('USAGE', '--flaws switches weaknesses on in the built-in reference device; it cannot be used with --target');
  }
  // Load and validate everything before anything starts or is written.
  let target: Target | undefined = o.targetFile ? loadTargetFile(o.targetFile) : undefined;
  if (o.baselinePath && o.gate !== 'new-findings') {
    throw new GauntletError('USAGE', `--baseline is read by --gate new-findings only (this run's gate: ${o.gate})`);
  }
  const baseline = o.baselinePath ? loadBaseline(o.baselinePath) : undefined;
  const finish = withGate(o.gate, baseline, today());
  const runId = newRunId(new Date());
  let device: RunningDevice | DeviceProcess | undefined;
  let control: TargetControl | undefined;
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write(`\ngauntlet: ${sig}: stopping after the current step and writing reports (again to quit at once)\n`);
      controller.abort();
    } else {
      process.exit(EXIT.interrupted);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (!target) {
      ({ device, target, control } = await startBuiltinDevice(o.flaws, o.deviceProcess));
    }
    let planned = plan(target, o.profile, CHECKS, { runSeed: o.seed, only: o.only });
    if (o.protocols) {
      const t = target;
      const wanted = new Set(t.interfaces.filter((i) => o.protocols!.includes(i.protocol)).map((i) => i.id));
      planned = planned.filter((p) => wanted.has(p.interfaceId));
      if (planned.length === 0) {
        throw new GauntletError('USAGE', `${t.name}: no ${o.protocols.join('/')} interface to fuzz; its interfaces: ${t.interfaces.map((i) => `${i.id} (${i.protocol})`).join(', ')}`);
      }
    }
    const planIds = planned.map((p) => p.id);
    if (o.shard) planned = shardPlan(planned, o.shard, (p) => plannedCost(p, o.budget));
    const reportDir = createReportDir(o.reportsBase, runId, o.out);
    const relDir = relative(process.cwd(), reportDir) || '.';
    const meta: RunMeta = {
      id: runId,
      seed: o.seed,
      startedAt: new Date().toISOString(),
      target: target.name,
      targetSource: o.targetFile ?? BUILTIN_TARGET,
      profile: o.profile.name,
      harnessVersion: harnessVersion(),
      flaws: [...o.flaws],
      argv: [...o.argv],
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      machine: machineOf(),
      ...(o.shard ? { shard: { index: o.shard.index, total: o.shard.total, planIds } } : {}),
    };
    const writers = reportWriters(reportDir, finish);
    const json = writers.find((w): w is JsonReporter => w instanceof JsonReporter)!;
    const corpus = o.corpusDir !== undefined ? new FuzzCorpusWriter(o.corpusDir, target.interfaces) : undefined;
    const mux = new ReporterMux([
      ...(corpus ? [corpus] : []),
      new ConsoleReporter({ out: process.stdout, tty: Boolean(process.stdout.isTTY) && !process.env['CI'], color: o.color, verbose: o.verbose }),
      new EventLogReporter(join(reportDir, EVENTS_FILE)),
      ...writers,
    ]);
    const outcome = await runChecks({
      target,
      plan: planned,
      meta,
      dispatch: (e) => mux.dispatch(e),
      signal: controller.signal,
      ioTimeoutMs: o.ioTimeoutMs,
      budget: o.budget,
      replayPath: o.replayPath,
      profile: profileSummaryOf(o.profile, target.declaration.ics),
      ...(control ? { control } : {}),
      ...(o.fuzz ? { fuzz: o.fuzz } : {}),
      ...(o.bench ? { bench: o.bench } : {}),
      replayCommand: ({ fileId }) => `gauntlet replay ${shellQuote(join(relDir, findingFilePath(fileId)))}`,
    });
    await mux.idle();
    for (const f of mux.errors()) process.stderr.write(`gauntlet: reporter ${f.reporter} failed on ${f.event}: ${f.message}\n`);
    const benched = outcome.results.some((r) => r.bench?.length);
    process.stdout.write(
      `\nreports: ${relDir}/ (${REPORT_FILE}, ${HTML_FILE}, ${SUMMARY_FILE}, ${JUNIT_FILE}, ${EVENTS_FILE}${benched ? `, ${BENCH_FILE}` : ''}${outcome.results.some((r) => r.findings.length) ? ', findings/' : ''})\n`,
    );
    const kept = corpus?.written() ?? [];
    if (kept.length) process.stdout.write(`fuzz corpus: ${kept.length} finding input(s) kept (${kept.map((f) => relative(process.cwd(), f)).join(', ')}); replay one with: gauntlet replay FILE\n`);
    const gate = json.report().gate!;
    process.stdout.write(`${gate.passed ? 'gate passed' : 'GATE FAILED'}: ${gate.reason}\n`);
    return {
      exitCode: exitCodeFor(outcome.results, gate, outcome.interrupted),
      reportDir,
      results: outcome.results,
      interrupted: outcome.interrupted,
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await device?.close();
  }
}
