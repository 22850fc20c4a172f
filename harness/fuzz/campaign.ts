// A fuzz campaign against one interface: generated cases (fast-check
// arbitraries) sent in batches (one case per batch by default), a probe
// after each batch, the oracles judging.
//   - The campaign is fast-check's property "the device survives every
//     batch", so a failing batch is shrunk by fast-check itself (dropping
//     cases from its front, shrinking each case); ddmin then bisects what is
//     left down to the case, or the few cases together, that do it. Every
//     shrink attempt is sent to the (recovered) device again, and counts only
//     if it triggers the same oracle as the first failure.
//   - After a failing batch the device is given time to come back (a reboot,
//     a watchdog restart): the probe is polled until it answers, at most
//     `rebootWaitMs`; then, if the target can be restarted (target control),
//     it is restarted and given `rebootWaitMs` again; the sentinel state is
//     set up again.
//   - A device that does not come back ends the campaign, but the batch that
//     brought it down is still a finding (not shrunk, not confirmed).
//   - A case mutated from a corpus seed is then cut down further by delta
//     debugging (its steps, then its bytes), each try sent to the device.
//   - A failing batch is sent once more on the recovered device before it is
//     shrunk, and the shrunk batch is confirmed once more after: a failure
//     the input does not repeat on its own (state left by earlier cases, the
//     device's own timer) is counted in one "unexplained" finding per oracle
//     instead of being shrunk.
//   - The campaign then goes on with the next seed segment for what is left
//     of the budget (cases and time), up to `maxFindings`.
// Every loop is bounded by the case count and the wall time.

import fc from 'fast-check';
import type { FuzzCase, FuzzThresholds, Interface, OracleKind, OracleVerdict, Principal, TargetControl, TranscriptEntry } from '../model/index.js';
import { TranscriptRecorder } from '../core/transcript.js';
import { deriveSeed } from '../core/seed.js';
import type { Io } from '../protocols/common/io.js';
import { FuzzProbe, LatencyWatch, invalidReply } from './oracles.js';
import { DEFAULT_SEND, sendCase, type SendOptions } from './send.js';
import { ddmin, minimizeCase } from './ddmin.js';

export interface CampaignOptions {
  readonly iface: Interface;
  /** The principal of the sentinel (reboot oracle); none: liveness only. */
  readonly principal?: Principal;
  /** MQTT: a topic the principal may subscribe to, for the sentinel's session. */
  readonly sentinelTopic?: string;
  readonly cases: fc.Arbitrary<FuzzCase>;
  /** Cases sent between two probes (default 1: a probe after every case). */
  readonly batch?: number;
  /** Restarts a device that does not come back on its own within rebootWaitMs. */
  readonly control?: TargetControl;
  readonly seed: number;
  readonly numRuns: number;
  readonly timeMs: number;
  /** Replays exactly this fast-check path (with `seed`). */
  readonly path?: string;
  readonly thresholds: FuzzThresholds;
  readonly send?: SendOptions;
  /** How long a device may take to answer again after a crash or hang. */
  readonly rebootWaitMs: number;
  readonly maxFindings: number;
  /** scope, signal, transcript (the campaign's notes) and the I/O bound. */
  readonly io: Io;
  /** Progress: called after every case. */
  readonly onCase?: (n: number, summary: string) => void;
}

export interface CampaignFinding {
  readonly oracle: OracleKind;
  readonly detail: string;
  /** The shrunk batch: usually one case; more when only cases together do it. */
  readonly cases: readonly FuzzCase[];
  /** Cases and steps in the batch as first found. */
  readonly original: { readonly cases: number; readonly steps: number };
  readonly seed: number;
  readonly path: string;
  readonly numRuns: number;
  readonly shrinks: number;
  /** The shrunk case triggered the same oracle again on the recovered device. */
  readonly confirmed: boolean;
  readonly confirmDetail: string;
  /**
   * Set when the shrunk input did not fire the oracle again on its own (the
   * device survived its replay): the device did fail, but needs state left by
   * earlier cases, or failed on its own timer. Later failures of that kind are
   * gathered here (the labels of the batches before each) instead of becoming
   * findings of their own, so the campaign runs on to its budget.
   */
  readonly unexplained?: string[];
  /** The exchange of the confirming replay (else of the last failing run). */
  readonly transcript: readonly TranscriptEntry[];
}

export type CampaignEnd = 'budget' | 'cases' | 'interrupted' | 'target-down' | 'max-findings' | 'replayed';

export interface CampaignResult {
  readonly cases: number;
  /** Liveness probes sent (one per batch, plus recovery polls). */
  readonly probes: number;
  /** Times the target was restarted through target control. */
  readonly restarts: number;
  /** Times an oracle fired again on a case breaking the rule of an earlier finding (not shrunk again). */
  readonly repeats: number;
  readonly elapsedMs: number;
  readonly findings: readonly CampaignFinding[];
  /** Campaign-level observations (latency creep), without a single case to blame. */
  readonly observations: readonly OracleVerdict[];
  readonly ended: CampaignEnd;
  readonly endDetail: string;
  readonly baselineMs?: number;
  readonly watching: string;
}

class TargetDown extends Error {}

/** After the time budget, shrinking a failure found late may go on this long. */
export const SHRINK_GRACE_MS = 30_000;
const SURVIVED = 'the device survived the replay';
/** A case made by mutating a corpus seed (fuzz/mutate.ts labels them so). */
const MUTATED = /^seed /;
/** Most sends delta debugging spends on one mutated case (each crash costs a recovery). */
export const MINIMIZE_TESTS = 64;
/** Wait between a case and its probe, ms. */
export const SETTLE_MS = 5;
/** Cases per fast-check run (a chunk); each chunk has its own seed, derived from the campaign's. */
export const CHUNK_CASES = 1000;

/** Resolved: what a hook that does nothing returns. */
const NO_HOOK = Promise.resolve();

/**
 * The property as fast-check runs it, less the two hook calls it awaits around every run when there is no hook
 * to call (none set through fc.configureGlobal: the campaign sets none of its own). Generation, shrinking and
 * the run are the property's own, so the same batches are drawn, run and shrunk.
 */
function withoutIdleHooks<Ts>(property: fc.IAsyncPropertyWithHooks<Ts>): fc.IAsyncProperty<Ts> {
  const g: fc.GlobalParameters = fc.readConfigureGlobal() ?? {};
  if (g.beforeEach !== undefined || g.afterEach !== undefined || g.asyncBeforeEach !== undefined || g.asyncAfterEach !== undefined) return property;
  return {
    isAsync: () => true,
    generate: (mrng, runId) => property.generate(mrng, runId),
    shrink: (value) => property.shrink(value),
    run: (v) => property.run(v),
    runBeforeEach: () => NO_HOOK,
    runAfterEach: () => NO_HOOK,
  };
}

/** A batch in one line: its cases' labels. */
export const batchLabel = (cases: readonly FuzzCase[]) => cases.map((c) => c.label).join(' | then | ');

export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const t0 = Date.now();
  const deadline = t0 + o.timeMs;
  const send = o.send ?? DEFAULT_SEND;
  const batch = Math.max(1, Math.floor(o.batch ?? 1));
  const probe = new FuzzProbe(o.iface, o.principal, o.thresholds, o.seed, o.sentinelTopic);
  const latency = new LatencyWatch(o.thresholds);
  const findings: CampaignFinding[] = [];
  const observations: OracleVerdict[] = [];
  let cases = 0;
  let restarts = 0;
  /** Oracles fired again on a case breaking the rule of an earlier finding. */
  let repeats = 0;
  const note = (text: string) => o.io.transcript.note(text);
  const result = (ended: CampaignEnd, endDetail: string): CampaignResult => ({
    cases,
    probes: probe.checks,
    restarts,
    repeats,
    elapsedMs: Date.now() - t0,
    findings,
    observations,
    ended,
    endDetail,
    ...(latency.baseline !== undefined ? { baselineMs: latency.baseline } : {}),
    watching: probe.watching,
  });

  const firstLook = await probe.check(o.io);
  if (!firstLook.alive) return result('target-down', `the target did not answer before fuzzing: ${firstLook.detail}`);
  await probe.start(o.io);

  /** Polls until the device answers, at most rebootWaitMs; the last probe's detail when it did not (undefined when interrupted). */
  const poll = async (): Promise<string | undefined> => {
    const p = await probe.awaitAlive(o.io, o.rebootWaitMs);
    return p.alive || o.io.signal?.aborted ? undefined : p.detail;
  };
  /** Waits for the device to answer again (restarting it through target control if it must); sets the sentinel up anew. */
  const recover = async (): Promise<void> => {
    let missing = await poll();
    if (missing !== undefined && o.control && !o.io.signal?.aborted) {
      note(`the target did not come back within ${o.rebootWaitMs} ms (${missing}): restarting it`);
      let how: string;
      try {
        how = await o.control.restart(o.io.signal ?? new AbortController().signal);
      } catch (e) {
        throw new TargetDown(`the target did not come back within ${o.rebootWaitMs} ms (${missing}), and restarting it failed: ${(e as Error).message}`);
      }
      restarts++;
      note(how);
      missing = await poll();
      if (missing !== undefined) throw new TargetDown(`the target did not come back within ${o.rebootWaitMs} ms after a restart (${how}; ${missing})`);
    } else if (missing !== undefined) {
      throw new TargetDown(`the target did not come back within ${o.rebootWaitMs} ms (${missing})${o.control ? '' : '; no restart is declared (target file control.restart)'}`);
    }
    if (!o.io.signal?.aborted) await probe.start(o.io);
  };

  /**
   * One batch: send its cases, each on its own connection, judge the replies, probe once. Its
   * transcript is built only when asked for (when the batch failed): see TranscriptRecorder.takeDeferred.
   */
  const trial = async (batchCases: readonly FuzzCase[]): Promise<{ verdict?: OracleVerdict; transcript: () => TranscriptEntry[] }> => {
    const rec = new TranscriptRecorder();
    const io: Io = { ...o.io, transcript: rec };
    let invalid: string | undefined;
    for (let i = 0; i < batchCases.length; i++) {
      const c = batchCases[i]!;
      if (o.io.signal?.aborted) return { transcript: rec.takeDeferred() };
      if (batchCases.length > 1) rec.note(`case ${i + 1} of ${batchCases.length}: ${c.label}`);
      const trace = await sendCase(o.iface, c, io, send);
      cases++;
      if (trace.unreachable) {
        // Down before this case began: an earlier case of the batch did it, or none did (i = 0).
        if (i > 0) break;
        await recover();
        return { transcript: rec.takeDeferred() };
      }
      invalid ??= invalidReply(o.iface, trace);
    }
    // A device dies a moment after the input that kills it: give it that moment before the probe.
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const p = await probe.check(io);
    // An interrupted probe says nothing about the device.
    if (o.io.signal?.aborted) return { transcript: rec.takeDeferred() };
    rec.recordLater(() => ({ dir: 'note', peer: '-', decoded: `probe: ${p.detail} (${p.ms.toFixed(1)} ms)` }));
    let verdict = p.verdict ?? (invalid ? { oracle: 'invalid-response' as const, detail: invalid } : undefined);
    if (!verdict && p.alive) {
      const creep = latency.add(p.ms);
      if (creep && observations.length === 0) {
        observations.push(creep);
        note(`latency: ${creep.detail}`);
      }
    }
    o.onCase?.(cases, verdict ? `${verdict.oracle}: ${batchLabel(batchCases)}` : batchLabel(batchCases));
    return { verdict, transcript: rec.takeDeferred() };
  };
  /** recover(), but a device that stays down is remembered instead of thrown. */
  let down: TargetDown | undefined;
  const recoverOrRemember = async (): Promise<void> => {
    try {
      await recover();
    } catch (e) {
      if (!(e instanceof TargetDown)) throw e;
      down = e;
    }
  };
  const batches = fc.array(o.cases, { minLength: 1, maxLength: batch });
  /** Whether a batch fires `oracle` again (recovering after any oracle); false once the target is down. */
  const sameOracle = async (b: readonly FuzzCase[], oracle: OracleKind): Promise<boolean> => {
    if (down || o.io.signal?.aborted) return false;
    try {
      const t = await trial(b);
      if (t.verdict) await recoverOrRemember();
      return t.verdict?.oracle === oracle;
    } catch (e) {
      if (!(e instanceof TargetDown)) throw e;
      down = e;
      return false;
    }
  };

  /**
   * A failure whose input did not do it again on its own: counted with the
   * oracle's one "unexplained" finding (made by the first such failure).
   */
  const gather = (
    verdict: OracleVerdict,
    b: readonly FuzzCase[],
    confirmDetail: string,
    transcript: TranscriptEntry[],
    seed: number,
    path: string,
    numRuns: number,
    original = { cases: b.length, steps: b.reduce((n, c) => n + c.steps.length, 0) },
    shrinks = 0,
  ): void => {
    const label = batchLabel(b);
    const gathered = findings.find((f) => f.oracle === verdict.oracle && f.unexplained);
    if (gathered) {
      gathered.unexplained!.push(label);
      note(`${verdict.oracle} again after "${label}", which did not do it again on its own: counted with finding ${findings.indexOf(gathered) + 1} (${gathered.unexplained!.length} times so far)`);
      return;
    }
    findings.push({ unexplained: [label], oracle: verdict.oracle, detail: verdict.detail, cases: b, original, seed, path, numRuns, shrinks, confirmed: false, confirmDetail, transcript });
    note(`finding ${findings.length}: ${verdict.oracle} after "${label}", which did not do it again on its own (replay: ${confirmDetail})`);
  };

  let ended: CampaignEnd = 'budget';
  let endDetail = '';
  // Replay: `<segment>:<fast-check path>` names the chunk the case came from.
  const replay = o.path === undefined ? undefined : /^(\d+):(.*)$/.exec(o.path) ?? [o.path, '0', o.path];
  for (let segment = replay ? Number(replay[1]) : 0; ; segment++) {
    const leftMs = deadline - Date.now();
    const leftCases = o.numRuns - cases;
    if (o.io.signal?.aborted) {
      ended = 'interrupted';
      break;
    }
    if (leftMs <= 0) break;
    if (leftCases <= 0) {
      ended = 'cases';
      break;
    }
    if (findings.length >= o.maxFindings) {
      ended = 'max-findings';
      break;
    }
    const seed = segment === 0 ? o.seed : deriveSeed(o.seed, `segment ${segment}`);
    let first: OracleVerdict | undefined;
    let original = { cases: 0, steps: 0 };
    let failing: { verdict: OracleVerdict; transcript: TranscriptEntry[] } | undefined;
    /** The index of the run fast-check is on (its replay path), until the first failure. */
    let run = replay ? Number(replay[2]!.split(':')[0]) || 0 : 0;
    const property = withoutIdleHooks(fc.asyncProperty(batches, async (b) => {
      if (!first) run++;
      // Past the deadline or the case budget nothing more is sent, except to finish shrinking a failure (a grace period).
      const over = first ? Date.now() > deadline + SHRINK_GRACE_MS : Date.now() > deadline || cases >= o.numRuns;
      if (o.io.signal?.aborted || down || over) return true;
      try {
        const t = await trial(b);
        if (!t.verdict) return true;
        if (first && t.verdict.oracle !== first.oracle) {
          note(`while shrinking a ${first.oracle}: a ${t.verdict.oracle} (${t.verdict.detail}) on ${batchLabel(b)}`);
          await recoverOrRemember();
          return true;
        }
        if (!first) {
          // A case breaking the same rule as a finding's single case, with the same oracle: the same bug met
          // again. Counted, not shrunk again (every shrink attempt would crash the device once more).
          const known = findings.find((f) => f.oracle === t.verdict!.oracle && !f.unexplained && f.cases.length === 1 && b.some((c) => c.label === f.cases[0]!.label));
          if (known) {
            repeats++;
            note(`${t.verdict.oracle} again on "${known.cases[0]!.label}" (finding ${findings.indexOf(known) + 1}): not shrunk again`);
            await recoverOrRemember();
            return true;
          }
          // Sent once more on the recovered device before any shrinking: a device that fails on its own
          // timer (or on state earlier cases left) would otherwise have its shrinker chase coincidences.
          // A device that stays down still leaves this batch as the finding (unshrunk).
          await recoverOrRemember();
          const again = down || o.io.signal?.aborted ? undefined : await trial(b).catch((e: unknown) => {
            if (!(e instanceof TargetDown)) throw e;
            down = e;
            return undefined;
          });
          if (again && again.verdict?.oracle !== t.verdict.oracle) {
            gather(t.verdict, b, again.verdict ? `${again.verdict.oracle}: ${again.verdict.detail}` : SURVIVED, t.transcript(), seed, `${segment}:${run - 1}`, run);
            if (again.verdict) await recoverOrRemember();
            return true;
          }
          first = t.verdict;
          original = { cases: b.length, steps: b.reduce((n, c) => n + c.steps.length, 0) };
        }
        failing = { verdict: t.verdict, transcript: t.transcript() };
        // A device that does not come back still leaves this batch as the finding (unshrunk).
        if (!down) await recoverOrRemember();
        return false;
      } catch (e) {
        if (e instanceof TargetDown) {
          down = e;
          return true;
        }
        throw e;
      }
    }));
    // Chunks of CHUNK_CASES: past the deadline the property returns at once, so a
    // chunk ends quickly; fast-check's own time limit is not used, as it races
    // the running case (its recovery would go on behind fast-check's back).
    const r = await fc.check(property, {
      seed,
      numRuns: Math.min(leftCases, CHUNK_CASES),
      ...(replay ? { path: replay[2] } : {}),
    });
    if (down) {
      ended = 'target-down';
      endDetail = (down as TargetDown).message;
      note(endDetail);
    }
    if (r.failed && r.counterexample && first) {
      const oracle = first.oracle;
      let shrunk = r.counterexample[0] as FuzzCase[];
      // fast-check drops cases from a batch's front only: ddmin finds the case (or cases) that do it wherever they sit.
      if (shrunk.length > 1 && !down && !o.io.signal?.aborted) {
        const dd = await ddmin(shrunk, (b) => sameOracle(b, oracle), { maxTests: 4 * shrunk.length, deadlineMs: Date.now() + SHRINK_GRACE_MS });
        if (dd.items.length < shrunk.length) note(`bisected the batch: ${dd.items.length} of ${shrunk.length} cases do it (${dd.tests} tries${dd.complete ? '' : ', stopped on its bound'})`);
        shrunk = dd.items;
      }
      // A mutated corpus seed: fast-check shrank the mutations; delta debugging cuts the seed's steps and bytes.
      if (shrunk.length === 1 && MUTATED.test(shrunk[0]!.label) && !down && !o.io.signal?.aborted) {
        const m = await minimizeCase(shrunk[0]!, (c) => sameOracle([c], oracle), { maxTests: MINIMIZE_TESTS, deadlineMs: Date.now() + SHRINK_GRACE_MS });
        if (m.case !== shrunk[0]) note(`delta debugging (${m.tests} tries): ${m.case.label}`);
        shrunk = [m.case];
      }
      const label = batchLabel(shrunk);
      const key = `${first.oracle}|${label}`;
      const seen = findings.some((f) => `${f.oracle}|${batchLabel(f.cases)}` === key);
      if (seen) {
        note(`${first.oracle} on "${label}" again (already a finding): not reported twice`);
        if (down) break;
        continue;
      }
      // Confirm on the recovered device: the same oracle again.
      let confirmed = false;
      let confirmDetail = down ? `not confirmed: ${(down as TargetDown).message}` : 'not confirmed: interrupted';
      let transcript = failing?.transcript ?? [];
      if (!down && !o.io.signal?.aborted) {
        const again = await trial(shrunk).catch((e: unknown) => {
          if (!(e instanceof TargetDown)) throw e;
          down = e;
          return undefined;
        });
        if (again) {
          transcript = again.transcript();
          confirmed = again.verdict?.oracle === first.oracle;
          confirmDetail = again.verdict ? `${again.verdict.oracle}: ${again.verdict.detail}` : SURVIVED;
          if (again.verdict) await recoverOrRemember();
        }
        if (down) {
          ended = 'target-down';
          endDetail = (down as TargetDown).message;
          note(endDetail);
        }
      }
      if (!confirmed && confirmDetail === SURVIVED) {
        gather(failing?.verdict ?? first, shrunk, confirmDetail, transcript, r.seed, `${segment}:${r.counterexamplePath ?? ''}`, r.numRuns, original, r.numShrinks);
        if (down) break;
        continue;
      }
      findings.push({
        oracle: first.oracle,
        detail: failing?.verdict.detail ?? first.detail,
        cases: shrunk,
        original,
        seed: r.seed,
        path: `${segment}:${r.counterexamplePath ?? ''}`,
        numRuns: r.numRuns,
        shrinks: r.numShrinks,
        confirmed,
        confirmDetail,
        transcript,
      });
      note(`finding ${findings.length}: ${first.oracle} on "${label}" (${shrunk.length} case(s), ${shrunk.reduce((n, c) => n + c.steps.length, 0)} step(s), ${r.numShrinks} shrinks, ${confirmed ? 'confirmed' : 'NOT confirmed'})`);
      if (replay) {
        ended = 'replayed';
        break;
      }
      if (down) break;
      continue;
    }
    if (replay) {
      ended = 'replayed';
      break;
    }
    if (down) break;
    // A chunk that ran to its end without a failure: the next one, if budget is left.
  }
  return result(ended, endDetail);
}
