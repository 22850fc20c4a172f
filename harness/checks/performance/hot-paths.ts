// performance.bench and performance.floors: the device's throughput and
// latency on its constrained-device hot paths (MQTT publish at QoS 0/1/2 and
// connect, CoAP confirmable/non-confirmable GET and block-wise transfer, DTLS
// handshakes, HTTP keep-alive requests and firmware upload), measured by the
// load generators of harness/bench/load, and judged against the floors the
// target file declares (declaration.performance.floors).
//   - performance.bench (gauntlet bench): every path each interface has;
//     pass when something was measured and no declared floor is missed.
//   - performance.floors (gauntlet run): only the paths with a declared
//     floor, for a short measured phase; fail when one is missed. No floor
//     declared for an interface: no instance there.
// A missed floor is a finding (regression gating for device firmware); a
// floor that could not be measured makes the verdict inconclusive.

import type { BenchPath, Check, CheckContext, CheckOutcome, FindingDraft, PathResult, PerformanceFloor, Target, Interface } from '../../model/index.js';
import { generatorFor } from '../../bench/load/index.js';
import { floorText, judgeFloor, rateText, type FloorJudgement } from '../../bench/floors.js';
import { httpLogin } from '../../protocols/http/login.js';
import { ioOf } from '../io.js';
import { planPaths, type PlannedPath } from './plan.js';

/** gauntlet bench: measured time per path unless --duration says otherwise. */
export const DEFAULT_BENCH_MS = 5000;
/** gauntlet run (performance.floors): a shorter measured phase per declared path. */
export const FLOORS_BENCH_MS = 3000;
/** Ops per path at most, whatever the duration. */
export const MAX_OPS = 10_000_000;

/** Connections and in-flight depth per path when the run does not set them: enough to keep a small device busy. */
export const PATH_DEFAULTS: Readonly<Record<BenchPath, { readonly connections: number; readonly inFlight: number }>> = {
  'mqtt.publish.qos0': { connections: 2, inFlight: 1 },
  'mqtt.publish.qos1': { connections: 2, inFlight: 16 },
  'mqtt.publish.qos2': { connections: 2, inFlight: 16 },
  'mqtt.connect': { connections: 4, inFlight: 1 },
  'coap.get': { connections: 1, inFlight: 16 },
  'coap.non': { connections: 1, inFlight: 16 },
  'coap.block': { connections: 1, inFlight: 4 },
  'dtls.handshake': { connections: 4, inFlight: 1 },
  'http.request': { connections: 4, inFlight: 1 },
  'http.upload': { connections: 1, inFlight: 1 },
};

const floorsOf = (t: Target, iface: Interface): readonly PerformanceFloor[] => (t.declaration.performance?.floors ?? []).filter((f) => f.interface === iface.id);


/** One path in a few words: `mqtt.publish.qos1 2,468/s p99 4.10 ms`. */
function brief(r: PathResult): string {
  if (r.skipped) return `${r.path} not measured`;
  return `${r.path} ${rateText(r.rate)}/s${r.latency ? ` p99 ${r.latency.p99Ms.toFixed(2)} ms` : ''}${r.errors ? ` (${r.errors} errors)` : ''}`;
}

function skippedResult(p: PlannedPath, durationMs: number): PathResult {
  const d = PATH_DEFAULTS[p.path];
  return {
    path: p.path,
    interface: p.iface.id,
    ops: 0,
    elapsedMs: 0,
    rate: 0,
    errors: 0,
    skipped: p.skipped!,
    settings: { connections: d.connections, inFlight: d.inFlight, durationMs, maxOps: MAX_OPS },
    notes: [],
  };
}

/** The session header of an HTTP principal (a login through the interface's declared auth). */
async function sessionHeaders(ctx: CheckContext, p: PlannedPath): Promise<{ headers?: Record<string, string>; skipped?: string }> {
  if (!p.login || (p.iface.protocol !== 'http' && p.iface.protocol !== 'https')) return {};
  const iface = p.iface;
  if (!iface.auth) return { skipped: `${iface.id} declares no auth (interfaces[].auth), so ${p.login.name} cannot log in for the upload` };
  const out = await httpLogin(iface, { user: p.login.user, pass: p.login.pass }, ioOf(ctx));
  if (out.kind === 'granted') return { headers: { ...out.headers } };
  const why = out.kind === 'refused' ? out.detail : out.kind === 'timeout' ? 'no answer' : out.error;
  return { skipped: `${p.login.name} could not log in on ${iface.id}: ${why}` };
}

async function measure(ctx: CheckContext, mode: 'bench' | 'floors'): Promise<CheckOutcome> {
  const floors = floorsOf(ctx.target, ctx.iface);
  const durationMs = ctx.bench?.durationMs ?? (mode === 'bench' ? DEFAULT_BENCH_MS : FLOORS_BENCH_MS);
  const only = mode === 'floors' ? [...new Set(floors.map((f) => f.path))] : ctx.bench?.paths;
  const plans = planPaths(ctx.target, ctx.iface, only);
  const results: PathResult[] = [];
  for (const p of plans) {
    if (ctx.signal.aborted) break;
    if (p.skipped) {
      results.push(skippedResult(p, durationMs));
      continue;
    }
    const session = await sessionHeaders(ctx, p);
    if (session.skipped) {
      results.push(skippedResult({ ...p, skipped: session.skipped }, durationMs));
      continue;
    }
    const d = PATH_DEFAULTS[p.path];
    ctx.transcript.note(`${p.path}: ${p.resource || '(no resource)'}${p.principal ? ` as ${p.principal.name}` : ''}${p.note ? `; ${p.note}` : ''}`);
    const started = Date.now();
    const r = await generatorFor(p.path)({
      path: p.path,
      iface: p.iface,
      ...(p.principal ? { principal: p.principal } : {}),
      io: ioOf(ctx),
      durationMs,
      maxOps: MAX_OPS,
      connections: ctx.bench?.connections ?? d.connections,
      inFlight: ctx.bench?.inFlight ?? d.inFlight,
      resource: p.resource,
      ...(p.payloadBytes !== undefined ? { payloadBytes: p.payloadBytes } : {}),
      ...(session.headers ? { headers: session.headers } : {}),
      onProgress: (ops) => {
        const s = (Date.now() - started) / 1000;
        ctx.caseDone(`bench: ${p.path} ${ops.toLocaleString('en-US')} ops${s >= 1 ? `, ${rateText(ops / s)}/s` : ''}`);
      },
    });
    results.push(p.note && !r.skipped ? { ...r, notes: [...r.notes, p.note] } : r);
    ctx.caseDone(`bench: ${brief(r)}`);
    ctx.transcript.note(`${p.path}: ${brief(r)}`);
  }
  return verdictOf(ctx, mode, results, floors);
}

function verdictOf(ctx: CheckContext, mode: 'bench' | 'floors', results: PathResult[], floors: readonly PerformanceFloor[]): CheckOutcome {
  const judged: FloorJudgement[] = floors.map((f) => judgeFloor(f, results.find((r) => r.path === f.path)));
  const measured = results.filter((r) => !r.skipped && r.ops > 0);
  const summary = results.map(brief).join('; ');
  const observed = results.map((r) => `${brief(r)}${r.skipped ? `: ${r.skipped}` : ''}`).join('\n');
  const missed = judged.filter((j) => j.verdict === 'fail');
  const base = { findings: [] as FindingDraft[], bench: results, cases: results.length };
  if (ctx.signal.aborted) return { ...base, verdict: 'inconclusive', reason: `interrupted after ${results.length} path(s): ${summary}` };
  if (missed.length) {
    const findings: FindingDraft[] = missed.map((j) => ({
      summary: `${j.floor.path} on ${j.floor.interface} misses its declared floor: ${j.detail.slice(floorText(j.floor).length + 2)}`,
      severity: 'medium',
      evidence: {
        observed,
        declared: floorText(j.floor),
        source: `target:declaration.performance.floors[${(ctx.target.declaration.performance?.floors ?? []).indexOf(j.floor)}]`,
        transcript: ctx.transcript.entries(),
      },
    }));
    return { ...base, findings, verdict: 'fail', reason: `${missed.length} of ${floors.length} declared floor(s) missed: ${missed.map((j) => j.detail).join('; ')}` };
  }
  const unmeasured = judged.filter((j) => j.verdict === 'unmeasured');
  if (unmeasured.length) return { ...base, verdict: 'inconclusive', reason: `${unmeasured.length} declared floor(s) could not be judged: ${unmeasured.map((j) => j.detail).join('; ')}`, evidence: { observed, transcript: [] } };
  if (measured.length === 0) {
    const why = results.every((r) => r.skipped) ? 'no path could be measured' : 'no path completed an op';
    return { ...base, verdict: 'inconclusive', reason: `${why}: ${results.map((r) => `${r.path}: ${r.skipped ?? r.errorDetail?.join('; ') ?? 'nothing completed'}`).join('; ')}`, evidence: { observed, transcript: [] } };
  }
  const floorsText = judged.length ? `; ${judged.length} declared floor(s) met: ${judged.map((j) => j.detail).join('; ')}` : mode === 'bench' ? '; no floor declared' : '';
  return { ...base, verdict: 'pass', reason: `${summary}${floorsText}`, evidence: { observed, transcript: [] } };
}

const common = {
  catalog: [] as string[],
  requirements: [] as string[],
  protocols: ['mqtt', 'mqtts', 'coap', 'coaps', 'http', 'https'] as const,
  phase: 'main' as const,
  severity: 'medium' as const,
  remedy:
    'Profile the path on the device (the broker\'s or server\'s per-message work, allocations, logging, crypto) and restore the throughput the firmware declared; if the floor no longer holds by design, declare the new one in the release notes and the target file.',
  // Each path is bounded by the run's duration; this bounds a whole interface.
  timeoutMs: 3_600_000,
};

export const performanceBench: Check = {
  ...common,
  id: 'performance.bench',
  title: 'Device benchmark: throughput and latency of each hot path (MQTT, CoAP, DTLS, HTTP), against declared floors',
  applies: (_t, iface) => (iface.role === 'server' ? undefined : `${iface.id}: the device is a client here; load goes to its servers`),
  run: (ctx) => measure(ctx, 'bench'),
};

export const performanceFloors: Check = {
  ...common,
  id: 'performance.floors',
  title: 'Declared performance floors: each hot path with a floor keeps its throughput and p99 latency',
  relevant: (t, iface) => floorsOf(t, iface).length > 0,
  applies: (_t, iface) => (iface.role === 'server' ? undefined : `${iface.id}: the device is a client here; load goes to its servers`),
  run: (ctx) => measure(ctx, 'floors'),
};
