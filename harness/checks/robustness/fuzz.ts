// robustness.fuzz (C15, C16): a fuzz campaign on one MQTT, CoAP or HTTP
// interface (fuzz/campaign.ts). The cases come from the protocol's
// arbitraries, a sixth conforming (valid mode) and half breaking one rule
// each (hostile mode), and a third from mutations of the corpus seeds
// (fuzz/mutate.ts, corpora/<protocol>/seeds), aimed at what the target file
// declares: the principal's session (an MQTT CONNECT with its credential, an
// HTTP session header), the declared topics, resources and routes. Oracles:
// crash, hang, reboot (the sentinel's state), invalid response, latency creep.
// Each finding is the shrunk case, confirmed on the recovered device, with its
// bytes per step in the evidence and its fast-check path for `gauntlet replay`.
// In the default profile the budget is the run's property budget; `gauntlet
// fuzz` gives it minutes or thousands of cases.

import fc from 'fast-check';
import type { Check, CheckContext, CheckOutcome, FindingDraft, FuzzCase, FuzzProtocol, HttpInterface, Interface, MqttInterface, OracleKind, Principal, Target } from '../../model/index.js';
import { batchLabel, runCampaign, type CampaignFinding } from '../../fuzz/campaign.js';
import { rebootWaitFor, thresholdsFor } from '../../fuzz/oracles.js';
import { hexOf } from '../../protocols/common/io.js';
import { coapCaseArb } from '../../protocols/coap/arbitraries.js';
import { httpCaseArb } from '../../protocols/http/arbitraries.js';
import { httpLogin } from '../../protocols/http/login.js';
import { mqttCaseArb } from '../../protocols/mqtt/arbitraries.js';
import { loadSeeds } from '../../fuzz/corpus.js';
import { mutatedCaseArb } from '../../fuzz/mutate.js';
import { concreteTopic, fuzzPrincipal, rulesOf, sentinelTopicOf } from '../../fuzz/sentinel.js';
import { ioOf } from '../io.js';
import { requirementsOf } from '../requirements.js';

/** A campaign stops after this many distinct findings. */
export const MAX_FINDINGS = 3;
/**
 * Fuzz cases are cheap (a connection, a few packets, a probe): a campaign in a
 * run gets this many per unit of the run's property budget (--num-runs).
 */
export const CASES_PER_RUN = 8;
/** Hostile cases per conforming one. */
const HOSTILE_WEIGHT = 3;
/** Mutated corpus seeds (corpora/<protocol>/seeds) per conforming case. */
const MUTATED_WEIGHT = 2;

const mix = (valid: fc.Arbitrary<FuzzCase>, hostile: fc.Arbitrary<FuzzCase>, mutated: fc.Arbitrary<FuzzCase>) =>
  fc.oneof({ weight: 1, arbitrary: valid }, { weight: HOSTILE_WEIGHT, arbitrary: hostile }, { weight: MUTATED_WEIGHT, arbitrary: mutated });

/** Paths the target declares for CoAP (resources, anonymous ones, discovery). */
function coapPaths(target: Target): string[] {
  const c = target.declaration.access.coap;
  return [...new Set(['/.well-known/core', ...Object.keys(c.anonymous), ...c.resources])];
}

/** Paths the target declares for HTTP, `{param}`s filled with the principal's user name. */
function httpPaths(target: Target, iface: HttpInterface, principal: Principal | undefined): string[] {
  const h = target.declaration.access.http;
  const fill = (route: string) => route.replace(/\{[^}]+\}/g, principal?.user ?? 'admin');
  const paths = [iface.probePath, ...(iface.protectedPath ? [iface.protectedPath] : []), ...h.public.map((p) => p.split(' ')[1] ?? '/'), ...h.routes.map((r) => fill(r.route))];
  return [...new Set(paths.filter((p) => p.startsWith('/')))];
}

/** Topics the principal may use (its declared rules), for stateful MQTT cases. */
function mqttTopics(target: Target, principal: Principal | undefined): string[] {
  const rules = rulesOf(target, principal);
  const topics = [...(rules?.publish ?? []), ...(rules?.subscribe ?? [])].filter((t) => !t.startsWith('$')).map((f) => concreteTopic(f, 'fuzz'));
  return topics.length ? [...new Set(topics)] : ['gauntlet/fuzz'];
}

/** The case generator for an interface, aimed at what the target declares. */
export async function casesFor(ctx: CheckContext, iface: Interface, principal: Principal | undefined): Promise<{ cases: fc.Arbitrary<FuzzCase>; note: string }> {
  switch (iface.protocol) {
    case 'mqtt':
    case 'mqtts': {
      const m = iface as MqttInterface;
      const auth = principal ? { username: principal.user, password: principal.pass } : undefined;
      const topics = mqttTopics(ctx.target, principal);
      const opts = { version: m.version, auth, topics };
      const seeds = loadSeeds('mqtt');
      return {
        cases: mix(mqttCaseArb({ ...opts, mode: 'valid' }), mqttCaseArb({ ...opts, mode: 'hostile' }), mutatedCaseArb('mqtt', seeds, auth ? { auth } : {})),
        note: `MQTT ${m.version === 5 ? '5.0' : '3.1.1'} cases${principal ? ` in ${principal.name}'s session` : ', anonymous'}; topics ${topics.join(', ')}; ${seeds.length} corpus seeds mutated`,
      };
    }
    case 'coap':
    case 'coaps': {
      const paths = coapPaths(ctx.target);
      const seeds = loadSeeds('coap');
      return { cases: mix(coapCaseArb({ mode: 'valid', paths }), coapCaseArb({ mode: 'hostile', paths }), mutatedCaseArb('coap', seeds)), note: `CoAP cases on ${paths.join(', ')}; ${seeds.length} corpus seeds mutated` };
    }
    case 'http':
    case 'https': {
      const h = iface as HttpInterface;
      // The cases' own session (not the sentinel's, which they must not be able to end).
      let headers: Readonly<Record<string, string>> | undefined;
      if (principal && h.auth) {
        const o = await httpLogin(h, { user: principal.user, pass: principal.pass }, ioOf(ctx));
        if (o.kind === 'granted') headers = o.headers;
      }
      const paths = httpPaths(ctx.target, h, principal);
      const host = `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`;
      const opts = { host, paths, ...(headers ? { headers } : {}) };
      const seeds = loadSeeds('http');
      const sessionHeader = headers ? Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n') : undefined;
      return {
        cases: mix(httpCaseArb({ ...opts, mode: 'valid' }), httpCaseArb({ ...opts, mode: 'hostile' }), mutatedCaseArb('http', seeds, { host, ...(sessionHeader ? { sessionHeader } : {}) })),
        note: `HTTP/1.1 cases on ${paths.length} declared paths${headers ? ` in ${principal!.name}'s session` : ', no session'}; ${seeds.length} corpus seeds mutated`,
      };
    }
  }
}

/** What the oracle saw, as a finding's verb. */
const WHAT: Readonly<Record<OracleKind, string>> = {
  crash: 'stopped answering (crash)',
  hang: 'hung',
  reboot: 'lost its state (reboot)',
  'invalid-response': 'sent a reply that does not parse',
  latency: 'slowed down',
};

const fuzzProtocolOf = (iface: Interface): FuzzProtocol => (iface.protocol.startsWith('mqtt') ? 'mqtt' : iface.protocol.startsWith('coap') ? 'coap' : 'http');

function findingOf(f: CampaignFinding, iface: Interface): FindingDraft {
  const steps = f.cases
    .map((c, k) => {
      const lines = c.steps.map((s, i) => `  ${i + 1}. ${s.label} [${s.bytes.length} B] ${hexOf(s.bytes, 48).hex}${s.bytes.length > 48 ? '…' : ''}`).join('\n');
      return f.cases.length > 1 ? `connection ${k + 1}: ${c.label}\n${lines}` : lines;
    })
    .join('\n');
  const nSteps = f.cases.reduce((n, c) => n + c.steps.length, 0);
  const shape = f.cases.length > 1 ? `${f.cases.length} connections, ${nSteps} step(s)` : `${nSteps} step(s)`;
  const from = f.original.cases > 1 ? `a batch of ${f.original.cases} cases, ${f.original.steps} step(s)` : `${f.original.steps}`;
  const status = f.confirmed ? 'confirmed' : f.confirmDetail.startsWith('not confirmed: the target did not come back') ? 'the target did not come back, so not confirmed' : 'not confirmed on replay';
  const times = f.unexplained?.length ?? 0;
  const summary = f.unexplained
    ? `${iface.protocol.toUpperCase()} ${WHAT[f.oracle]} ${times} ${times === 1 ? 'time' : 'times'} during the campaign; the input sent just before did not do it again on its own (it needs state left by earlier cases, or fails on the device's own timer)`
    : `${iface.protocol.toUpperCase()} ${WHAT[f.oracle]} after "${batchLabel(f.cases)}" (${shape}, shrunk from ${from}, ${status})`;
  const before = f.unexplained ? `\nthe input sent just before each time:\n${f.unexplained.map((l, i) => `  ${i + 1}. ${l}`).join('\n')}` : '';
  return {
    summary,
    severity: f.oracle === 'invalid-response' ? 'medium' : 'high',
    evidence: {
      observed: `${f.detail}\nreplay on the recovered device: ${f.confirmDetail}\n${f.shrinks ? 'shrunk ' : ''}${f.cases.length > 1 ? `batch of ${f.cases.length} cases` : 'case'} ${f.shrinks ? `(${f.shrinks} shrinks)` : 'as sent'}:\n${steps}${before}`,
      declared: 'the device survives every input, answers in its protocol, keeps its state (STANDARDS.md C15)',
      source: 'robustness.fuzz: black-box oracles (probe after every batch)',
      transcript: f.transcript,
      counterexample: { seed: f.seed, path: f.path, value: f.cases.map((c) => c.steps.map((s) => s.label).join(' | ')).join(' || '), numRuns: f.numRuns, shrinks: f.shrinks },
      fuzz: {
        protocol: fuzzProtocolOf(iface),
        oracle: f.oracle,
        connections: f.cases.map((c) => ({ label: c.label, steps: c.steps.map((s) => ({ label: s.label, hex: Buffer.from(s.bytes).toString('hex') })) })),
        confirmed: f.confirmed,
      },
    },
  };
}

export const robustnessFuzz: Check = {
  id: 'robustness.fuzz',
  title: 'Fuzz campaign: no crash, hang, reboot, invalid reply or latency creep (MQTT, CoAP, HTTP)',
  catalog: ['C15', 'C16'],
  requirements: requirementsOf('C15', 'C16'),
  protocols: ['mqtt', 'mqtts', 'coap', 'http', 'https'],
  phase: 'main',
  severity: 'high',
  remedy:
    'Validate every length, flag and field of an input against the bytes received and the protocol before acting on it; bound every buffer and every per-peer state (block-wise transfers, QoS 2 handshakes, sessions) and drop what does not fit; run services under a watchdog, but treat every restart as a bug.',
  // The campaign's own time budget, plus shrinking, confirmation and recovery waits.
  timeoutMs: 900_000,
  budgeted: true,
  applies: (_t, iface) => (iface.role === 'server' ? undefined : `${iface.id}: the device is a client here; fuzz cases go to its servers`),
  run: async (ctx) => fuzzInterface(ctx),
};

async function fuzzInterface(ctx: CheckContext): Promise<CheckOutcome> {
  const iface = ctx.iface;
  const principal = fuzzPrincipal(ctx.target);
  const { cases, note } = await casesFor(ctx, iface, principal);
  const thresholds = thresholdsFor(ctx.ioTimeoutMs, ctx.fuzz);
  ctx.transcript.note(note);
  const r = await runCampaign({
    iface,
    principal,
    sentinelTopic: sentinelTopicOf(ctx.target, principal),
    cases,
    ...(ctx.budget.batch !== undefined ? { batch: ctx.budget.batch } : {}),
    ...(ctx.control ? { control: ctx.control } : {}),
    seed: ctx.instance.seed,
    numRuns: ctx.budget.numRuns * CASES_PER_RUN,
    timeMs: ctx.budget.timeMs,
    path: ctx.replay.path,
    thresholds,
    rebootWaitMs: rebootWaitFor(ctx.target, ctx.ioTimeoutMs, ctx.control),
    maxFindings: MAX_FINDINGS,
    io: ioOf(ctx),
    onCase: (_n, summary) => ctx.caseDone(summary),
  });
  const rate = r.elapsedMs > 0 ? r.cases / (r.elapsedMs / 1000) : 0;
  const restarted = `${r.repeats > 0 ? `; the same rule's oracle fired ${r.repeats} more time(s)` : ''}${r.restarts > 0 ? `; ${r.restarts} restart(s) through target control` : ''}`;
  const stats = `${r.cases} cases in ${(r.elapsedMs / 1000).toFixed(1)} s (${rate.toFixed(1)}/s); probe baseline ${r.baselineMs !== undefined ? `${r.baselineMs.toFixed(1)} ms` : 'not measured (under 20 probes)'}; watching ${r.watching}${restarted}; seed ${ctx.instance.seed}`;
  const figures = {
    cases: r.cases,
    casesPerSecond: Math.round(rate * 10) / 10,
    elapsedMs: r.elapsedMs,
    probes: r.probes,
    batch: ctx.budget.batch ?? 1,
    restarts: r.restarts,
    findings: r.findings.length,
    repeats: r.repeats,
    ended: r.ended,
    ...(r.baselineMs !== undefined ? { probeBaselineMs: Math.round(r.baselineMs * 10) / 10 } : {}),
    seed: ctx.instance.seed,
  };
  const findings: FindingDraft[] = r.findings.map((f) => findingOf(f, iface));
  for (const o of r.observations) {
    findings.push({
      summary: `${iface.protocol.toUpperCase()} probe latency crept up during the campaign: ${o.detail}`,
      severity: 'medium',
      evidence: { observed: o.detail, declared: `probe median within x${thresholds.latencyFactor} of the baseline, or within ${thresholds.latencyFloorMs} ms of it`, source: 'robustness.fuzz: latency oracle', transcript: ctx.transcript.entries() },
    });
  }
  const evidence = { observed: stats, declared: 'no crash, hang, reboot, invalid reply or latency creep', source: 'robustness.fuzz', transcript: ctx.transcript.take() };
  const common = { evidence, cases: r.cases, stats: figures };
  if (findings.length) return { verdict: 'fail', reason: `${findings.map((f) => f.summary).join('; ')}; ${stats}${r.ended === 'target-down' ? `; then ${r.endDetail}` : ''}`, findings, ...common };
  if (r.ended === 'target-down') return { verdict: 'inconclusive', reason: `${r.endDetail}; ${stats}`, findings: [], ...common };
  if (r.ended === 'interrupted') return { verdict: 'inconclusive', reason: `interrupted; ${stats}`, findings: [], ...common };
  return { verdict: 'pass', reason: `no crash, hang, reboot, invalid reply or latency creep: ${stats}`, findings: [], ...common };
}
