// conformance.mqtt: the server-side normative statements of MQTT 3.1.1 and
// MQTT 5.0 that a client can observe on the wire, one verdict per statement
// (`MQTT-3.1.1:MQTT-3.1.0-2`, `MQTT-5.0:MQTT-3.3.1-4`), for an MQTT interface
// where the device is the server. The 3.1.1 catalog runs over level-4
// connections; the 5.0 catalog over level-5 connections when the interface
// declares `version: 5` (such a broker is asked for 3.1.1 too; it may decline
// it with CONNACK 1). Cases open their own connections as the lab's principal
// (the one with the widest declared topic rights) under a topic prefix unique
// to the run; sessions and QoS 2 flows are explored with fast-check commands
// (qos2-model.ts), so a violation shrinks to its shortest sequence.
//
// Verdicts: pass / fail / inconclusive (no answer, or the case could not set
// up what the statement needs) / skipped (declared not implemented in
// declaration.conformance.notImplemented, by statement id or feature, see
// mqtt/statements.ts; or the server announced it lacks the feature). One
// finding per failing statement, with the case's transcript.

import { randomBytes } from 'node:crypto';
import type { Check, CheckContext, CheckOutcome, FindingDraft, MqttInterface, Principal, StatementResult, TopicRules } from '../../model/index.js';
import { ioOf } from '../io.js';
import { mayPublish, maySubscribe } from '../policy/mqtt-topics.js';
import { allCases, runCatalog, type StatementOutcome } from './mqtt/catalog.js';
import { PROP, propOf, rawConnect, rawPublish, rawSubscribe, T, type Version } from './mqtt/frames.js';
import { requirementId, SPEC, SPEC_NAME, STATEMENTS, statementOf, VERSION_FEATURE, type Feature } from './mqtt/statements.js';
import type { Caps, Credentials, Env, WireRecord } from './mqtt/trial.js';
import { Wire } from './mqtt/wire.js';

const TIMEOUT_MS = 300_000;
/** Budgeted checks get the time budget plus this much (the runner's rule). */
const BUDGET_SLACK_MS = 120_000;

interface Lab {
  readonly name: string;
  readonly cred: Credentials;
  readonly rules?: TopicRules;
}

/** The principal with the widest declared rights (publish and subscribe `#` first), else an admin, else the first; anonymous when none is given. */
function pickPrincipal(ctx: CheckContext): Lab {
  const rules = ctx.target.declaration.access.mqtt.rules;
  const score = (p: Principal) => {
    const r = rules[p.name];
    if (!r) return p.role === 'admin' ? 2 : 1;
    return (r.publish.includes('#') ? 4 : 0) + (r.subscribe.includes('#') ? 4 : 0) + (p.role === 'admin' ? 2 : 0);
  };
  const best = [...ctx.target.principals].sort((a, b) => score(b) - score(a))[0];
  if (!best) return { name: 'anonymous', cred: {}, ...(rules['anonymous'] ? { rules: rules['anonymous'] } : {}) };
  return { name: best.name, cred: { username: best.user, password: best.pass }, ...(rules[best.name] ? { rules: rules[best.name] } : {}) };
}

/** A topic prefix the principal may publish and subscribe under (declared rules), unique to this run and version. */
function prefixFor(lab: Lab, seed: number, v: Version): string | undefined {
  const tail = `gauntlet/conf/${seed}/${randomBytes(3).toString('hex')}/v${v === 4 ? 4 : 5}/`;
  if (!lab.rules) return tail;
  for (const f of [...lab.rules.publish].sort((a, b) => a.length - b.length)) {
    if (!f.endsWith('#')) continue;
    const head = f.slice(0, -1);
    const probe = `${head}${tail}x`;
    if (mayPublish(lab.rules, probe) && maySubscribe(lab.rules, `${head}${tail}#`) && !head.includes('+')) return `${head}${tail}`;
  }
  return undefined;
}

/** A second principal declared not to publish somewhere under the prefix (for MQTT-3.3.5-2). */
function restrictedFor(ctx: CheckContext, lab: Lab): Env['restricted'] {
  const rules = ctx.target.declaration.access.mqtt.rules;
  for (const p of ctx.target.principals) {
    if (p.name === lab.name || !rules[p.name]) continue;
    const topic = `gauntlet/conf/forbidden/${randomBytes(3).toString('hex')}`;
    if (!mayPublish(rules[p.name], topic)) return { name: p.name, cred: { username: p.user, password: p.pass }, topic };
  }
  return undefined;
}

/** The positive control: one CONNECT as the lab's principal; the server's capabilities from its CONNACK. */
async function control(ctx: CheckContext, iface: MqttInterface, v: Version, cred: Credentials, io: ReturnType<typeof ioOf>): Promise<{ ok: true; caps: Caps; wire: Wire } | { ok: false; reason: string; declined?: boolean }> {
  const opened = await Wire.open(iface, v, io, 'control');
  if (!opened.ok) return { ok: false, reason: opened.detail };
  const w = opened.wire;
  w.send(rawConnect({ version: v, clientId: `gc${randomBytes(6).toString('hex')}`, ...(cred.username !== undefined ? { username: cred.username } : {}), ...(cred.password !== undefined ? { password: cred.password } : {}) }), `CONNECT (positive control, ${SPEC_NAME[v]})`);
  const ack = await w.take((f) => f.type === T.CONNACK, io.timeoutMs);
  if (!ack) {
    w.destroy();
    return { ok: false, reason: w.closed ? 'closed without CONNACK' : `no CONNACK within ${io.timeoutMs}ms` };
  }
  if (ack.code !== 0) {
    w.destroy();
    return { ok: false, reason: `CONNACK 0x${(ack.code ?? 0).toString(16)}`, declined: ack.code === 1 || ack.code === 0x84 };
  }
  const p = ack.props;
  const num = (id: number, dflt: number) => (propOf(p, id) as number | undefined) ?? dflt;
  const caps: Caps =
    v === 4
      ? { maximumQos: 2, retainAvailable: true, wildcard: true, subscriptionIds: false, shared: false, topicAliasMaximum: 0, receiveMaximum: 65535 }
      : {
          maximumQos: num(PROP.maximumQos, 2),
          retainAvailable: num(PROP.retainAvailable, 1) === 1,
          wildcard: num(PROP.wildcardAvailable, 1) === 1,
          subscriptionIds: num(PROP.subscriptionIdAvailable, 1) === 1,
          shared: num(PROP.sharedAvailable, 1) === 1,
          topicAliasMaximum: num(PROP.topicAliasMaximum, 0),
          receiveMaximum: num(PROP.receiveMaximum, 65535),
          ...(propOf(p, PROP.serverKeepAlive) !== undefined ? { serverKeepAlive: num(PROP.serverKeepAlive, 0) } : {}),
          ...(propOf(p, PROP.maximumPacketSize) !== undefined ? { maximumPacketSize: num(PROP.maximumPacketSize, 0) } : {}),
        };
  return { ok: true, caps, wire: w };
}

/** Round trip through the broker (subscribe, publish, delivery), best of three: sizes the "nothing arrives" window. */
async function settleWindow(w: Wire, v: Version, topic: string, waitMs: number): Promise<number> {
  w.send(rawSubscribe(v, 1, [{ topic, options: 0 }]), 'SUBSCRIBE (round-trip probe)');
  if (!(await w.take((f) => f.type === T.SUBACK, waitMs))) return 200;
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    const text = `rtt-${i}-${randomBytes(3).toString('hex')}`;
    w.send(rawPublish({ version: v, topic, qos: 0, payload: text }), 'PUBLISH (round-trip probe)');
    if (await w.take((f) => f.type === T.PUBLISH && f.pub?.payload.toString() === text, waitMs)) best = Math.min(best, Date.now() - t0);
  }
  return Math.min(400, Math.max(80, (Number.isFinite(best) ? best : 60) * 4 + 40));
}

/** Why a feature of the 5.0 catalog is not there, from the CONNACK. */
function capabilityGap(caps: Caps, v: Version, f: Feature): string | undefined {
  if (v === 4) return undefined;
  if (f === 'mqtt:retain' && !caps.retainAvailable) return 'the server announced Retain Available 0';
  if (f === 'mqtt:wildcards' && !caps.wildcard) return 'the server announced Wildcard Subscription Available 0';
  if (f === 'mqtt:subscription-identifiers' && !caps.subscriptionIds) return 'the server announced Subscription Identifiers Available 0';
  if (f === 'mqtt:shared-subscriptions' && !caps.shared) return 'the server announced Shared Subscription Available 0';
  if (f === 'mqtt:qos2' && caps.maximumQos < 2) return `the server announced Maximum QoS ${caps.maximumQos}`;
  if (f === 'mqtt:qos1' && caps.maximumQos < 1) return 'the server announced Maximum QoS 0';
  return undefined;
}

export interface ConformanceOptions {
  /** Run only the statements with these requirement ids (`MQTT-3.1.1:MQTT-3.1.0-2`); the rest are skipped as not selected. */
  readonly only?: readonly string[];
}

export function mqttConformanceCheck(opts: ConformanceOptions = {}): Check {
  const only = opts.only ? new Set(opts.only) : undefined;
  return {
    id: 'conformance.mqtt',
    title: 'MQTT 3.1.1 and 5.0 server conformance: one verdict per normative statement',
    catalog: [],
    requirements: STATEMENTS.map((s) => requirementId(s.version, s.id)),
    protocols: ['mqtt', 'mqtts'],
    phase: 'main',
    severity: 'medium',
    remedy: 'Fix the MQTT stack where it departs from the statement named in each finding (OASIS MQTT 3.1.1 / 5.0, Appendix B), or declare the optional feature as not implemented (declaration.conformance.notImplemented).',
    timeoutMs: TIMEOUT_MS,
    budgeted: true,
    relevant(_target, iface) {
      return iface.role === 'server';
    },
    applies(_target, iface) {
      if (iface.role !== 'server') return 'the device is an MQTT client on this interface: the catalog judges servers';
      return undefined;
    },
    async run(ctx: CheckContext): Promise<CheckOutcome> {
      const iface = ctx.iface as MqttInterface;
      const started = Date.now();
      const bound = Math.max(TIMEOUT_MS, ctx.budget.timeMs + BUDGET_SLACK_MS);
      const deadline = started + bound - 20_000;
      const notImplemented = new Set(ctx.target.declaration.conformance?.notImplemented ?? []);
      const lab = pickPrincipal(ctx);
      const io = ioOf(ctx);
      const replay = /^qos2-v([45]):(.*)$/.exec(ctx.replay.path ?? '');
      // `statement:<id>[,<id>]` replays the cases of those statements alone (a finding's replay path).
      const replayStatements = /^statement:(.+)$/.exec(ctx.replay.path ?? '');
      const selected = replayStatements ? new Set(replayStatements[1]!.split(',')) : only;
      const versions: Version[] = iface.version === 5 ? [4, 5] : [4];
      const modelShare = Math.max(1000, Math.floor(ctx.budget.timeMs / versions.length));

      const outcomes = new Map<string, StatementOutcome>();
      const notRun = new Map<Version, string>();
      if (iface.version !== 5) notRun.set(5, `interface ${iface.id} declares MQTT 3.1.1 (version 4); the 5.0 catalog runs on an interface declared version: 5`);
      const stats: Record<string, number | string> = { principal: lab.name };
      for (const v of versions) {
        if (notImplemented.has(VERSION_FEATURE[v])) {
          notRun.set(v, `declared not implemented (declaration.conformance.notImplemented: ${VERSION_FEATURE[v]})`);
          continue;
        }
        if (replay && Number(replay[1]) !== v) {
          notRun.set(v, 'not part of the replayed counterexample');
          continue;
        }
        const base = prefixFor(lab, ctx.instance.seed, v);
        if (!base) {
          notRun.set(v, `principal ${lab.name} is declared no topic subtree it may both publish and subscribe ("prefix/#")`);
          continue;
        }
        ctx.transcript.take();
        const ctl = await control(ctx, iface, v, lab.cred, io);
        if (!ctl.ok) {
          if (ctl.declined && v === 4 && iface.version === 5) notRun.set(4, `the server does not speak MQTT 3.1.1 (${ctl.reason} to a level-4 CONNECT); 5.0 servers need not`);
          else notRun.set(v, `inconclusive: positive control failed: CONNECT as ${lab.name} was not accepted (${ctl.reason})`);
          continue;
        }
        const settleMs = await settleWindow(ctl.wire, v, `${base}rtt`, io.timeoutMs);
        const restricted = restrictedFor(ctx, lab);
        ctl.wire.destroy();
        let n = 0;
        const env: Env = {
          ctx,
          version: v,
          ep: iface,
          io,
          cred: lab.cred,
          base,
          settleMs,
          waitMs: io.timeoutMs,
          rootRead: !lab.rules || lab.rules.subscribe.includes('#'),
          ...(restricted ? { restricted } : {}),
          caps: ctl.caps,
          wires: [] as WireRecord[],
          clientId: () => `g${v}${randomBytes(5).toString('hex')}${(n++).toString(36)}`.slice(0, 23),
        };
        stats[`${v === 4 ? 'mqtt311' : 'mqtt5'}_settle_ms`] = settleMs;
        const cases = allCases((ver) => (replay && Number(replay[1]) === ver ? replay[2] : undefined)).filter((c) => !replay || c.name.includes('model-based'));
        // A replayed counterexample judges the model's statements only.
        const replayed = replay ? new Set(cases.flatMap((c) => Object.values(c.ids).map((pair) => pair[v === 4 ? 0 : 1]))) : undefined;
        const skip = (id: string): string | undefined => {
          const req = requirementId(v, id);
          if (selected && !selected.has(req)) return 'not selected in this run';
          if (replayed && !replayed.has(id)) return 'not part of the replayed counterexample';
          if (notImplemented.has(req)) return `declared not implemented (declaration.conformance.notImplemented: ${req})`;
          const s = statementOf(v, id);
          for (const f of s?.features ?? []) {
            if (notImplemented.has(f)) return `declared not implemented (declaration.conformance.notImplemented: ${f})`;
            const gap = capabilityGap(ctl.caps, v, f);
            if (gap) return gap;
          }
          return undefined;
        };
        const budgetCtx: CheckContext = { ...ctx, budget: { ...ctx.budget, timeMs: modelShare } };
        const out = await runCatalog({ ...env, ctx: budgetCtx }, cases, { skip, deadline, onCase: (s) => ctx.caseDone(s) });
        for (const o of out) outcomes.set(requirementId(v, o.id), o);
      }

      // One result per statement of both catalogs.
      const statements: StatementResult[] = [];
      const findings: FindingDraft[] = [];
      for (const s of STATEMENTS) {
        const req = requirementId(s.version, s.id);
        const o = outcomes.get(req);
        if (!o) {
          const why = notRun.get(s.version);
          const reason = why ?? (selected && !selected.has(req) ? 'not selected in this run' : replay ? 'not part of the replayed counterexample' : 'no case judged it in this run');
          statements.push({ id: req, verdict: why?.startsWith('inconclusive') ? 'inconclusive' : 'skipped', reason: why?.replace(/^inconclusive: /, '') ?? reason });
          continue;
        }
        statements.push({ id: req, verdict: o.judgement.verdict, reason: o.judgement.reason });
        if (o.judgement.verdict === 'fail') {
          findings.push({
            summary: `${SPEC_NAME[s.version]} [${s.id}]: ${o.judgement.reason}`,
            requirements: [req],
            evidence: {
              observed: o.judgement.reason,
              declared: `${SPEC[s.version]} ${s.id} (paraphrased): ${s.text}`,
              source: `spec:${req}`,
              transcript: o.transcript.slice(-400),
              // The model's shrunk sequence, or the statement's own cases (replayed alone by `gauntlet replay`).
              counterexample: o.counterexample ?? { seed: ctx.instance.seed, path: `statement:${req}`, value: `case${o.cases.length > 1 ? 's' : ''} ${o.cases.map((c) => `"${c}"`).join(', ')}`, numRuns: 1, shrinks: 0 },
            },
          });
        }
      }

      const count = (v: Version) => {
        const mine = statements.filter((x) => x.id.startsWith(`${SPEC[v]}:`));
        const by = (verdict: string) => mine.filter((x) => x.verdict === verdict).length;
        return { total: mine.length, pass: by('pass'), fail: by('fail'), inconclusive: by('inconclusive'), skipped: by('skipped') };
      };
      const parts: string[] = [];
      for (const v of [4, 5] as const) {
        const c = count(v);
        const key = v === 4 ? 'mqtt311' : 'mqtt5';
        Object.assign(stats, { [`${key}_statements`]: c.total, [`${key}_pass`]: c.pass, [`${key}_fail`]: c.fail, [`${key}_inconclusive`]: c.inconclusive, [`${key}_skipped`]: c.skipped });
        const figures = [`${c.pass} pass`, ...(c.fail ? [`${c.fail} fail`] : []), ...(c.inconclusive ? [`${c.inconclusive} inconclusive`] : []), ...(c.skipped ? [`${c.skipped} skipped`] : [])];
        const why = notRun.get(v);
        parts.push(`${SPEC_NAME[v]}: ${c.total} statements: ${c.pass + c.fail + c.inconclusive === 0 && why ? `not run (${why.replace(/^inconclusive: /, '')})` : figures.join(', ')}`);
      }
      stats['duration_ms'] = Date.now() - started;
      const all = statements.map((x) => x.verdict);
      const verdict = all.includes('fail') ? 'fail' : all.includes('inconclusive') ? 'inconclusive' : all.includes('pass') ? 'pass' : 'skipped';
      return { verdict, reason: parts.join('; '), findings, statements, stats, cases: statements.filter((x) => x.verdict !== 'skipped').length };
    },
  };
}

export const conformanceMqtt: Check = mqttConformanceCheck();
