// The runner: executes a plan against a target, one check instance at a
// time, with a liveness probe before and after each, and emits run events.
// Device behaviour becomes verdicts; harness failures become 'error' with a
// code. An aborted run stops between (or inside) checks and still ends with
// run-end, so every reporter writes what it has.

import type {
  ProfileSummary,
  Budget,
  CheckContext,
  CheckOutcome,
  CheckResult,
  Finding,
  FuzzTuning,
  BenchSettings,
  Interface,
  RunEvent,
  RunMeta,
  Target,
  TargetControl,
  Verdict,
} from '../model/index.js';
import { emptyCounts } from '../model/index.js';
import { probe } from '../monitor/liveness.js';
import type { Io } from '../protocols/common/io.js';
import { describeError, GauntletError, isGauntletError } from './errors.js';
import { LockoutPacer } from './pacer.js';
import type { PlannedCheck } from './planner.js';
import { provision, provisionedAlready } from './provision.js';
import { resetFirmware, updatePositiveControl, type UpdateControl } from './update-control.js';
import { createScopeGuard } from './scope.js';
import { commandControl } from './control.js';
import { TranscriptRecorder } from './transcript.js';

/** Beyond the run's time budget, what a check may take for setup, shrinking and recovery. */
export const BUDGET_SLACK_MS = 120_000;

export interface RunnerOptions {
  /** The profile's requirement table, carried in run-begin for the requirement matrix. */
  readonly profile?: ProfileSummary;
  readonly target: Target;
  readonly plan: readonly PlannedCheck[];
  readonly meta: RunMeta;
  readonly dispatch: (event: RunEvent) => Promise<void>;
  readonly signal: AbortSignal;
  readonly ioTimeoutMs: number;
  readonly budget: Budget;
  /** fast-check path to replay (with `gauntlet replay`), applied to every planned instance. */
  readonly replayPath?: string;
  /** How checks restart the device (the built-in device's process); default: the target file's restart command, if any. */
  readonly control?: TargetControl;
  /** Fuzz oracle thresholds for this run. */
  readonly fuzz?: FuzzTuning;
  /** Device benchmark settings, handed to every check. */
  readonly bench?: BenchSettings;
  /** The shell command that reproduces a finding, from its file id. */
  replayCommand(finding: { instanceId: string; fileId: string }): string;
}

export interface RunOutcome {
  readonly results: readonly CheckResult[];
  readonly interrupted: boolean;
}

export function abortableSleep(signal: AbortSignal): (ms: number) => Promise<void> {
  return (ms) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(new GauntletError('ABORTED', 'interrupted'));
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      const onAbort = () => {
        clearTimeout(t);
        reject(new GauntletError('ABORTED', 'interrupted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
}

/** How long an interrupted check may take to return what it has. */
export const ABORT_GRACE_MS = 2000;

const fileSafe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

/** A finding's requirements: the ones it names among its check's, else all of the check's. */
function narrowed(all: readonly string[], named: readonly string[] | undefined): readonly string[] {
  const mine = named?.filter((r) => all.includes(r)) ?? [];
  return mine.length ? mine : all;
}

export async function runChecks(opts: RunnerOptions): Promise<RunOutcome> {
  const { target, signal } = opts;
  const started = Date.now();
  const scope = createScopeGuard(target);
  const sleep = abortableSleep(signal);
  const pacer = new LockoutPacer(target.declaration.lockout, sleep);
  const control = opts.control ?? commandControl(target);
  const results: CheckResult[] = [];

  // Events go out strictly in order, even when a check reports cases synchronously.
  let queue = Promise.resolve();
  // A reporter failure is the multiplexer's to report; it never breaks the run.
  const emit = (e: RunEvent) => {
    queue = queue.then(() => opts.dispatch(e)).catch(() => undefined);
    return queue;
  };
  const runIo = (iface: Interface | undefined, transcript = new TranscriptRecorder()): Io => ({
    scope,
    transcript,
    timeoutMs: opts.ioTimeoutMs,
    signal,
    peer: iface?.id ?? 'run',
  });

  const plan = opts.plan.map(({ check: _c, ...p }) => p);
  await emit(opts.profile ? { type: 'run-begin', run: opts.meta, plan, profile: opts.profile } : { type: 'run-begin', run: opts.meta, plan });
  const total = opts.plan.length;
  let index = 0;

  const freshPlan = opts.plan.filter((p) => p.check.phase === 'fresh');
  const mainPlan = opts.plan.filter((p) => p.check.phase === 'main');
  const updatePlan = opts.plan.filter((p) => p.check.phase === 'update');
  const fu = target.declaration.firstUse;
  const wantsProvisioning = fu?.state === 'factory-fresh';
  let already = false;
  if (wantsProvisioning && !signal.aborted) {
    try {
      already = await provisionedAlready(target, runIo(undefined));
    } catch (e) {
      await emit({ type: 'note', text: `could not tell whether the unit is provisioned: ${describeError(e)}` });
    }
    if (already) await emit({ type: 'note', text: 'the unit declared factory-fresh is already provisioned (the principal can log in): first-use checks are skipped' });
  }

  const held: CheckResult[] = [];
  for (const planned of freshPlan) {
    if (signal.aborted) break;
    const skip = already ? 'the unit is already provisioned; first use needs a factory-fresh unit' : undefined;
    held.push(await execute(planned, ++index, skip, false));
  }
  if (wantsProvisioning && !already && !signal.aborted) {
    let outcome;
    try {
      outcome = await provision(target, runIo(undefined));
    } catch (e) {
      outcome = { kind: 'failed' as const, detail: describeError(e) };
    }
    await emit({ type: 'note', text: `provisioning: ${outcome.detail}` });
    if (outcome.kind === 'failed') {
      for (const [i, r] of held.entries()) {
        if (r.verdict === 'pass') held[i] = { ...r, verdict: 'inconclusive', reason: `${r.reason}; but provisioning failed (${outcome.detail}), so the unit may not have been factory-fresh` };
      }
    }
  }
  for (const r of held) {
    results.push(r);
    await emit({ type: 'check-end', result: r });
  }
  for (const planned of mainPlan) {
    if (signal.aborted) break;
    const r = await execute(planned, ++index, undefined, true);
    results.push(r);
  }

  // Update checks run on the baseline firmware; then one positive control
  // (the valid newer image installs) confirms their refusals meant something.
  const heldUpdates: CheckResult[] = [];
  for (const planned of updatePlan) {
    if (signal.aborted) break;
    // With a declared reset, every update check starts on the baseline image.
    if (target.declaration.update?.reset) {
      const r = await resetFirmware(target, runIo(undefined)).catch((e: unknown) => ({ kind: 'failed' as const, detail: describeError(e) }));
      if (r.kind === 'failed') await emit({ type: 'note', instanceId: planned.id, text: `firmware reset before the check failed: ${r.detail}` });
    }
    heldUpdates.push(await execute(planned, ++index, undefined, false));
  }
  if (target.declaration.update?.reset && heldUpdates.length > 0 && !signal.aborted) {
    await resetFirmware(target, runIo(undefined)).catch(() => undefined);
  }
  if (heldUpdates.some((r) => r.verdict === 'pass' || r.verdict === 'fail') && !signal.aborted) {
    let control: UpdateControl;
    try {
      control = await updatePositiveControl(target, runIo(undefined), sleep);
    } catch (e) {
      control = { kind: 'failed', detail: describeError(e) };
    }
    await emit({ type: 'note', text: `update positive control: ${control.detail}` });
    if (control.kind === 'failed') {
      for (const [i, r] of heldUpdates.entries()) {
        if (r.verdict === 'pass') heldUpdates[i] = { ...r, verdict: 'inconclusive', reason: `${r.reason}; but the positive control failed (${control.detail}), so a refusal may mean the device refuses every image` };
      }
    }
  }
  for (const r of heldUpdates) {
    results.push(r);
    await emit({ type: 'check-end', result: r });
  }

  const summary = emptyCounts();
  for (const r of results) summary[r.verdict]++;
  await emit({
    type: 'run-end',
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
    summary,
    interrupted: signal.aborted || results.length < total,
  });
  await queue;
  return { results, interrupted: signal.aborted || results.length < total };

  async function execute(planned: PlannedCheck, n: number, extraSkip: string | undefined, emitEnd: boolean): Promise<CheckResult> {
    await emit({ type: 'check-begin', instanceId: planned.id, index: n, total });
    const t0 = Date.now();
    // A whole-device instance probes liveness through the first interface.
    const iface = target.interfaces.find((i) => i.id === planned.interfaceId) ?? target.interfaces[0]!;
    const { check: _c, skipReason, title, requirements, ...instance } = planned;
    const base = { instance, title, requirements };
    let cases = 0;
    const finish = async (verdict: Verdict, reason: string, outcome?: CheckOutcome, errorCode?: string): Promise<CheckResult> => {
      const findings: Finding[] = (outcome?.findings ?? []).map((d, i) => {
        const fileId = fileSafe(`${planned.checkId}--${planned.interfaceId}--${i + 1}`);
        return {
          id: `${planned.id}#${i + 1}`,
          fileId,
          checkId: planned.checkId,
          instanceId: planned.id,
          interfaceId: planned.interfaceId,
          severity: d.severity ?? planned.check.severity,
          summary: d.summary,
          remedy: planned.check.remedy,
          requirements: narrowed(requirements, d.requirements),
          evidence: d.evidence,
          replay: opts.replayCommand({ instanceId: planned.id, fileId }),
        };
      });
      const result: CheckResult = {
        ...base,
        verdict,
        reason,
        durationMs: Date.now() - t0,
        cases: outcome?.cases ?? cases,
        findings,
        evidence: outcome?.evidence,
        ...(outcome?.stats ? { stats: outcome.stats } : {}),
        ...(outcome?.bench ? { bench: outcome.bench } : {}),
        ...(outcome?.statements ? { statements: outcome.statements } : {}),
        errorCode,
      };
      if (emitEnd) await emit({ type: 'check-end', result });
      return result;
    };

    const skip = skipReason ?? extraSkip;
    if (skip) return finish('skipped', skip);

    const before = await probe(iface, runIo(iface));
    if (!before.alive) return finish('inconclusive', `target not answering before the check: ${before.detail}`);

    const controller = new AbortController();
    const onRunAbort = () => controller.abort();
    signal.addEventListener('abort', onRunAbort, { once: true });
    const transcript = new TranscriptRecorder();
    const ctx: CheckContext = {
      target,
      ...(control ? { control } : {}),
      ...(opts.fuzz ? { fuzz: opts.fuzz } : {}),
      ...(opts.bench ? { bench: opts.bench } : {}),
      iface,
      instance,
      scope,
      transcript,
      signal: controller.signal,
      ioTimeoutMs: opts.ioTimeoutMs,
      budget: opts.budget,
      replay: { path: opts.replayPath },
      sleep: abortableSleep(controller.signal),
      caseDone(summary) {
        cases++;
        void emit({ type: 'case', instanceId: planned.id, n: cases, summary });
      },
      pacer,
      principal: (name) => target.principals.find((p) => p.name === name),
    };

    let timer: NodeJS.Timeout | undefined;
    // A check whose wall time follows the budget (a long fuzz campaign) gets the budget plus room for shrinking and recovery.
    const boundMs = planned.check.budgeted ? Math.max(planned.check.timeoutMs, opts.budget.timeMs + BUDGET_SLACK_MS) : planned.check.timeoutMs;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new GauntletError('CHECK_TIMEOUT', `${planned.id} ran past its ${boundMs}ms bound`));
      }, boundMs);
    });
    let outcome: CheckOutcome | undefined;
    let error: { code: string; message: string } | undefined;
    // After Ctrl-C a check gets a short grace to return what it found (its own
    // signal is aborted, so its I/O ends at once); one that ignores the signal
    // must not hold the interrupted run for its whole time bound.
    let grace: NodeJS.Timeout | undefined;
    let startGrace = () => {};
    const runAborted = new Promise<never>((_, reject) => {
      startGrace = () => {
        grace = setTimeout(() => reject(new GauntletError('ABORTED', 'interrupted')), ABORT_GRACE_MS);
      };
    });
    if (signal.aborted) startGrace();
    else signal.addEventListener('abort', startGrace, { once: true });
    runAborted.catch(() => undefined);
    try {
      outcome = await Promise.race([planned.check.run(ctx), timeout, runAborted]);
    } catch (e) {
      if (isGauntletError(e)) error = { code: e.code, message: e.message };
      else error = { code: 'CHECK_CRASHED', message: `${planned.id} threw: ${describeError(e)}` };
    } finally {
      clearTimeout(timer);
      clearTimeout(grace);
      signal.removeEventListener('abort', startGrace);
      signal.removeEventListener('abort', onRunAbort);
    }

    if (signal.aborted && (!outcome || outcome.verdict === 'pass')) {
      return finish('inconclusive', 'interrupted before the check finished', outcome && { ...outcome, findings: [] });
    }
    if (error) return finish('error', error.message, undefined, error.code);
    outcome = outcome!;
    if (outcome.verdict === 'fail' && outcome.findings.length === 0) {
      // A fail must carry evidence; a check that says fail without it is a harness bug.
      return finish('error', `${planned.id} returned fail without a finding`, undefined, 'CHECK_CRASHED');
    }
    // Only a failed verdict carries findings.
    if (outcome.verdict !== 'fail' && outcome.findings.length > 0) outcome = { ...outcome, findings: [] };

    // Probe with a signal of its own: after Ctrl-C the run's signal is aborted, the target is not.
    const after = await probe(iface, { ...runIo(iface), signal: undefined });
    if (!after.alive) {
      if (outcome.verdict === 'fail') return finish('fail', `${outcome.reason}; target stopped answering afterwards (${after.detail})`, outcome);
      return finish('inconclusive', `target stopped answering during the check (${after.detail}); ${outcome.reason}`, { ...outcome, findings: [] });
    }
    return finish(outcome.verdict, outcome.reason, outcome);
  }
}
