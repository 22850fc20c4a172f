// A fuzz campaign against one interface: generated cases (fast-check
// arbitraries) sent one by one, a probe after each, the oracles judging.
//   - The campaign is fast-check's property "the device survives every case",
//     so a failing case is shrunk by fast-check itself: every shrink attempt
//     is sent to the (recovered) device again, and counts only if it
//     triggers the same oracle as the first failure.
//   - After a failing case the device is given time to come back (a reboot,
//     a watchdog restart): the probe is polled until it answers, at most
//     `rebootWaitMs`; the sentinel state is set up again.
//   - The shrunk case is confirmed once more on the recovered device.
//   - The campaign then goes on with the next seed segment for what is left
//     of the budget (cases and time), up to `maxFindings`.
// Every loop is bounded by the case count and the wall time.

import fc from 'fast-check';
import type { FuzzCase, FuzzThresholds, Interface, OracleKind, OracleVerdict, Principal, TranscriptEntry } from '../model/index.js';
import { TranscriptRecorder } from '../core/transcript.js';
import { deriveSeed } from '../core/seed.js';
import type { Io } from '../protocols/common/io.js';
import { FuzzProbe, LatencyWatch, invalidReply } from './oracles.js';
import { DEFAULT_SEND, sendCase, type SendOptions } from './send.js';

export interface CampaignOptions {
  readonly iface: Interface;
  /** The principal of the sentinel (reboot oracle); none: liveness only. */
  readonly principal?: Principal;
  /** MQTT: a topic the principal may subscribe to, for the sentinel's session. */
  readonly sentinelTopic?: string;
  readonly cases: fc.Arbitrary<FuzzCase>;
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
  /** The shrunk case. */
  readonly case: FuzzCase;
  readonly originalSteps: number;
  readonly seed: number;
  readonly path: string;
  readonly numRuns: number;
  readonly shrinks: number;
  /** The shrunk case triggered the same oracle again on the recovered device. */
  readonly confirmed: boolean;
  readonly confirmDetail: string;
  /** The exchange of the confirming replay (else of the last failing run). */
  readonly transcript: readonly TranscriptEntry[];
}

export type CampaignEnd = 'budget' | 'cases' | 'interrupted' | 'target-down' | 'max-findings' | 'replayed';

export interface CampaignResult {
  readonly cases: number;
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
/** Wait between a case and its probe, ms. */
export const SETTLE_MS = 5;
/** Cases per fast-check run (a chunk); each chunk has its own seed, derived from the campaign's. */
export const CHUNK_CASES = 1000;

export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const t0 = Date.now();
  const deadline = t0 + o.timeMs;
  const send = o.send ?? DEFAULT_SEND;
  const probe = new FuzzProbe(o.iface, o.principal, o.thresholds, o.seed, o.sentinelTopic);
  const latency = new LatencyWatch(o.thresholds);
  const findings: CampaignFinding[] = [];
  const observations: OracleVerdict[] = [];
  let cases = 0;
  const note = (text: string) => o.io.transcript.note(text);

  const firstLook = await probe.check(o.io);
  if (!firstLook.alive) {
    return { cases, elapsedMs: Date.now() - t0, findings, observations, ended: 'target-down', endDetail: `the target did not answer before fuzzing: ${firstLook.detail}`, watching: probe.watching };
  }
  await probe.start(o.io);

  /** Polls until the device answers again; sets the sentinel up anew. */
  const recover = async (): Promise<void> => {
    const until = Date.now() + o.rebootWaitMs;
    for (;;) {
      if (o.io.signal?.aborted) return;
      const p = await probe.check(o.io);
      if (p.alive) {
        await probe.start(o.io);
        return;
      }
      if (Date.now() > until) throw new TargetDown(`the target did not come back within ${o.rebootWaitMs} ms (${p.detail})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  /** One case: send, judge the replies, probe. */
  const trial = async (c: FuzzCase): Promise<{ verdict?: OracleVerdict; transcript: TranscriptEntry[] }> => {
    const rec = new TranscriptRecorder();
    const io: Io = { ...o.io, transcript: rec };
    const trace = await sendCase(o.iface, c, io, send);
    cases++;
    if (trace.unreachable) {
      // Down before the case began: the case did not do it. Wait for the device.
      await recover();
      return { transcript: rec.take() };
    }
    const invalid = invalidReply(o.iface, trace);
    // A device dies a moment after the input that kills it: give it that moment before the probe.
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const p = await probe.check(io);
    // An interrupted probe says nothing about the device.
    if (o.io.signal?.aborted) return { transcript: rec.take() };
    rec.note(`probe: ${p.detail} (${p.ms.toFixed(1)} ms)`);
    let verdict = p.verdict ?? (invalid ? { oracle: 'invalid-response' as const, detail: invalid } : undefined);
    if (!verdict && p.alive) {
      const creep = latency.add(p.ms);
      if (creep && observations.length === 0) {
        observations.push(creep);
        note(`latency: ${creep.detail}`);
      }
    }
    o.onCase?.(cases, verdict ? `${verdict.oracle}: ${c.label}` : c.label);
    return { verdict, transcript: rec.take() };
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
    let originalSteps = 0;
    let failing: { verdict: OracleVerdict; transcript: TranscriptEntry[] } | undefined;
    let down: TargetDown | undefined;
    const property = fc.asyncProperty(o.cases, async (c) => {
      // Past the deadline nothing more is sent, except to finish shrinking a failure (a grace period).
      const over = Date.now() > (first ? deadline + SHRINK_GRACE_MS : deadline);
      if (o.io.signal?.aborted || down || over) return true;
      try {
        const t = await trial(c);
        if (!t.verdict) return true;
        if (first && t.verdict.oracle !== first.oracle) {
          note(`while shrinking a ${first.oracle}: a ${t.verdict.oracle} (${t.verdict.detail}) on ${c.label}`);
          await recover();
          return true;
        }
        if (!first) {
          first = t.verdict;
          originalSteps = c.steps.length;
        }
        failing = { verdict: t.verdict, transcript: t.transcript };
        await recover();
        return false;
      } catch (e) {
        if (e instanceof TargetDown) {
          down = e;
          return true;
        }
        throw e;
      }
    });
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
      const shrunk = r.counterexample[0] as FuzzCase;
      const key = `${first.oracle}|${shrunk.label}`;
      const seen = findings.some((f) => `${f.oracle}|${f.case.label}` === key);
      if (seen) {
        note(`${first.oracle} on "${shrunk.label}" again (already a finding): not reported twice`);
        if (down) break;
        continue;
      }
      // Confirm on the recovered device: the same oracle again.
      let confirmed = false;
      let confirmDetail = 'not confirmed: interrupted';
      let transcript = failing?.transcript ?? [];
      if (!down && !o.io.signal?.aborted) {
        try {
          const again = await trial(shrunk);
          transcript = again.transcript;
          confirmed = again.verdict?.oracle === first.oracle;
          confirmDetail = again.verdict ? `${again.verdict.oracle}: ${again.verdict.detail}` : 'the device survived the replay';
          if (again.verdict) await recover();
        } catch (e) {
          if (!(e instanceof TargetDown)) throw e;
          down = e;
          ended = 'target-down';
          endDetail = e.message;
        }
      }
      findings.push({
        oracle: first.oracle,
        detail: failing?.verdict.detail ?? first.detail,
        case: shrunk,
        originalSteps,
        seed: r.seed,
        path: `${segment}:${r.counterexamplePath ?? ''}`,
        numRuns: r.numRuns,
        shrinks: r.numShrinks,
        confirmed,
        confirmDetail,
        transcript,
      });
      note(`finding ${findings.length}: ${first.oracle} on "${shrunk.label}" (${shrunk.steps.length} step(s), ${r.numShrinks} shrinks, ${confirmed ? 'confirmed' : 'NOT confirmed'})`);
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
  return { cases, elapsedMs: Date.now() - t0, findings, observations, ended, endDetail, baselineMs: latency.baseline, watching: probe.watching };
}
