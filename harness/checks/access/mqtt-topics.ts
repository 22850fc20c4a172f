// access.mqtt-topics (C04): model-based property over MQTT sessions.
// fast-check draws short command sequences (subscribe, publish, retained
// publish, will, unsubscribe) by the declared principals, on topics drawn from
// a grammar built on the policy's own edges (sibling tenant ids, prefix
// extensions like sensor-1 -> sensor-10, wildcards, $SYS, empty, unicode and
// long levels). The oracle is the declared policy under MQTT matching rules.
//
// SUBACK can lie (Mosquitto with an acl_file grants every SUBSCRIBE and
// filters at delivery), so read access is judged by delivery: an observer
// principal with full rights publishes a probe, and every session's inbox is
// checked against what its principal may read. Publishes are judged by
// whether the observer receives them (3.1.1 brokers drop unauthorised
// publishes silently). A violation shrinks to the shortest sequence, the
// lowest principal and the smallest topic.

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { Check, CheckContext, CheckOutcome, MqttInterface, Severity, TopicRules } from '../../model/index.js';
import { printable } from '../../protocols/common/io.js';
import { MqttSession } from '../../protocols/mqtt/session.js';
import { ioOf, propertyBounds } from '../io.js';
import { isTopicName, mayPublish, mayRead, maySubscribe, topicMatches } from '../policy/mqtt-topics.js';
import { requirementsOf } from '../requirements.js';

/** A principal as the property sees it: credentials and declared rules. */
interface Actor {
  readonly name: string;
  readonly user?: string;
  readonly pass?: string;
  readonly rules: TopicRules;
}

/** A contradiction between the declaration and what the broker did. */
class PolicyViolation extends Error {
  constructor(
    readonly kind: 'read-leak' | 'publish-bypass' | 'retained-bypass' | 'will-bypass' | 'declared-but-refused',
    readonly summary: string,
    readonly severity: Severity,
  ) {
    super(summary);
  }
}

interface Probe {
  readonly nonce: string;
  readonly topic: string;
  readonly cause: string;
}

interface Real {
  readonly ctx: CheckContext;
  readonly iface: MqttInterface;
  readonly actors: readonly Actor[];
  readonly observer: Actor;
  readonly sessions: Map<string, MqttSession>;
  readonly observerSession: MqttSession;
  readonly settleMs: number;
  readonly probes: Probe[];
  readonly extra: MqttSession[];
}

type Model = { subs: Map<string, Set<string>> };

const nonce = () => `gauntlet-${randomBytes(6).toString('hex')}`;
const show = (t: string) => `"${printable(t, 60)}"`;

/** Opens a session for an actor, or throws a plain Error the property reports as a setup failure. */
async function openFor(r: Pick<Real, 'ctx' | 'iface'>, a: Actor, will?: { topic: string; payload: Buffer }): Promise<MqttSession> {
  const o = await MqttSession.open(
    r.iface,
    r.iface.version,
    { clientId: `gauntlet-${a.name}-${randomBytes(3).toString('hex')}`, username: a.user, password: a.pass, will },
    ioOf(r.ctx),
    a.name,
  );
  if (!o.ok) throw new SetupError(`${a.name} could not connect: ${o.detail}`);
  return o.session;
}

class SetupError extends Error {}

/** After every command: no session holds a probe its principal may not read. */
async function checkInboxes(r: Real): Promise<void> {
  for (const a of r.actors) {
    const s = r.sessions.get(a.name)!;
    for (const p of r.probes) {
      if (!mayRead(a.rules, p.topic) && s.received().some((d) => d.payload.toString() === p.nonce)) {
        throw new PolicyViolation(
          'read-leak',
          `${a.name} received a message on ${show(p.topic)} (after ${p.cause}); declared readable: ${a.rules.subscribe.join(', ') || 'nothing'}`,
          'high',
        );
      }
    }
  }
}

async function observe(r: Real, topic: string, payload: string, cause: string): Promise<void> {
  r.probes.push({ nonce: payload, topic, cause });
  await r.observerSession.publish(topic, Buffer.from(payload));
}

class Subscribe implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly actor: Actor,
    readonly filter: string,
    readonly probe: string,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const s = r.sessions.get(this.actor.name)!;
    const code = await s.subscribe(this.filter);
    const granted = code !== undefined && code < 128;
    if (granted) m.subs.get(this.actor.name)!.add(this.filter);
    r.ctx.caseDone(this.toString());
    // Probe through the observer: SUBACK alone proves nothing.
    if (isTopicName(this.probe) && mayPublish(r.observer.rules, this.probe)) {
      const n = nonce();
      await observe(r, this.probe, n, this.toString());
      const expected = maySubscribe(this.actor.rules, this.filter) && topicMatches(this.filter, this.probe) && mayRead(this.actor.rules, this.probe);
      const got = await s.waitFor((d) => d.payload.toString() === n, expected ? r.settleMs * 5 : r.settleMs);
      await checkInboxes(r);
      if (expected && !got) {
        throw new PolicyViolation(
          'declared-but-refused',
          `declaration mismatch: ${this.actor.name} is declared to read ${show(this.filter)} but ${granted ? 'did not receive' : `was refused (SUBACK ${code ?? 'none'}) and did not receive`} a message on ${show(this.probe)}`,
          'low',
        );
      }
    }
  }
  toString(): string {
    return `subscribe(${this.actor.name}, ${show(this.filter)})`;
  }
}

class Publish implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly actor: Actor,
    readonly topic: string,
    readonly retain: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  async run(_m: Model, r: Real): Promise<void> {
    const n = nonce();
    r.probes.push({ nonce: n, topic: this.topic, cause: this.toString() });
    await r.sessions.get(this.actor.name)!.publish(this.topic, Buffer.from(n), this.retain);
    r.ctx.caseDone(this.toString());
    const allowed = mayPublish(this.actor.rules, this.topic);
    const observable = mayRead(r.observer.rules, this.topic) && r.observer.rules.subscribe.some((f) => topicMatches(f, this.topic));
    const live = await r.observerSession.waitFor((d) => d.payload.toString() === n, allowed ? r.settleMs * 5 : r.settleMs);
    await checkInboxes(r);
    if (observable && live && !allowed) {
      throw new PolicyViolation('publish-bypass', `${this.actor.name} published to ${show(this.topic)} and it was delivered; declared publish: ${this.actor.rules.publish.join(', ') || 'nothing'}`, 'high');
    }
    if (observable && !live && allowed && !this.retain) {
      throw new PolicyViolation('declared-but-refused', `declaration mismatch: ${this.actor.name} is declared to publish to ${show(this.topic)} but the message was not delivered`, 'low');
    }
    if (this.retain && observable) {
      // A later subscriber must not get a retained message that was never authorised.
      const late = await openFor(r, r.observer);
      r.extra.push(late);
      await late.subscribe(this.topic);
      const stored = await late.waitFor((d) => d.payload.toString() === n && d.retain, allowed ? r.settleMs * 5 : r.settleMs * 2);
      if (mayPublish(r.observer.rules, this.topic)) await late.publish(this.topic, Buffer.alloc(0), true); // clear it
      late.close();
      if (stored && !allowed) {
        throw new PolicyViolation('retained-bypass', `${this.actor.name}'s unauthorised retained publish to ${show(this.topic)} was stored and handed to a later subscriber`, 'high');
      }
    }
  }
  toString(): string {
    return `${this.retain ? 'retained-publish' : 'publish'}(${this.actor.name}, ${show(this.topic)})`;
  }
}

class Will implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly actor: Actor,
    readonly topic: string,
  ) {}
  check(): boolean {
    return true;
  }
  async run(_m: Model, r: Real): Promise<void> {
    const n = nonce();
    r.probes.push({ nonce: n, topic: this.topic, cause: this.toString() });
    const s = await openFor(r, this.actor, { topic: this.topic, payload: Buffer.from(n) });
    s.destroy(); // no DISCONNECT: the broker must now decide whether to publish the will
    r.ctx.caseDone(this.toString());
    const allowed = mayPublish(this.actor.rules, this.topic);
    const observable = mayRead(r.observer.rules, this.topic);
    const got = await r.observerSession.waitFor((d) => d.payload.toString() === n, allowed ? r.settleMs * 5 : r.settleMs * 2);
    await checkInboxes(r);
    if (observable && got && !allowed) {
      throw new PolicyViolation('will-bypass', `${this.actor.name}'s will message on ${show(this.topic)} was published; declared publish: ${this.actor.rules.publish.join(', ') || 'nothing'}`, 'high');
    }
  }
  toString(): string {
    return `will(${this.actor.name}, ${show(this.topic)})`;
  }
}

class Unsubscribe implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly actor: Actor,
    readonly pick: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return (m.subs.get(this.actor.name)?.size ?? 0) > 0;
  }
  async run(m: Model, r: Real): Promise<void> {
    const subs = [...m.subs.get(this.actor.name)!];
    const filter = subs[this.pick % subs.length]!;
    await r.sessions.get(this.actor.name)!.unsubscribe(filter);
    m.subs.get(this.actor.name)!.delete(filter);
    r.ctx.caseDone(this.toString());
  }
  toString(): string {
    return `unsubscribe(${this.actor.name}, #${this.pick})`;
  }
}

/** Levels the grammar draws from: the policy's own, their near neighbours, and the awkward ones. */
export function levelPool(actors: readonly Actor[]): string[] {
  const literal = new Set<string>();
  for (const a of actors) {
    for (const f of [...a.rules.publish, ...a.rules.subscribe]) for (const l of f.split('/')) if (l !== '+' && l !== '#' && !l.startsWith('$')) literal.add(l);
    if (a.user) literal.add(a.user);
  }
  const out = new Set<string>(literal);
  for (const l of literal) {
    const m = /^(.*?)(\d+)$/.exec(l);
    if (m) {
      out.add(`${m[1]}${Number(m[2]) + 1}`); // another tenant
      out.add(`${l}0`); // a prefix extension: sensor-1 -> sensor-10
    } else if (l.length > 0) {
      out.add(`${l}x`);
    }
  }
  for (const odd of ['', 'x', 'température', 'l'.repeat(200)]) out.add(odd);
  return [...out];
}

function filterArbitrary(actors: readonly Actor[], pool: readonly string[]): fc.Arbitrary<string> {
  const declared = [...new Set(actors.flatMap((a) => [...a.rules.publish, ...a.rules.subscribe]))];
  const level = fc.constantFrom(...pool);
  const random = fc
    .tuple(fc.array(fc.oneof({ weight: 4, arbitrary: level }, { weight: 1, arbitrary: fc.constant('+') }), { minLength: 1, maxLength: 4 }), fc.boolean())
    .map(([ls, hash]) => [...ls, ...(hash ? ['#'] : [])].join('/'));
  const arms: { weight: number; arbitrary: fc.Arbitrary<string> }[] = [
    { weight: 1, arbitrary: random },
    { weight: 1, arbitrary: fc.constantFrom('#', '+/#', '+', '$SYS/#', '+/+/#') },
  ];
  if (declared.length > 0) {
    // The policy's edges, where ACL bugs live: a declared filter with one level
    // replaced (another tenant, a prefix extension), widened to `+` or `#`,
    // lengthened or shortened.
    const edge = fc.tuple(fc.constantFrom(...declared), fc.nat(), level).chain(([f, i, l]) => {
      const ls = f.split('/');
      const at = i % ls.length;
      const replaced = [...ls];
      replaced[at] = l;
      const widened = [...ls];
      widened[at] = '+';
      const lengthened = ls.at(-1) === '#' ? [...ls.slice(0, -1), l, '#'] : [...ls, l];
      const hashed = [...ls.slice(0, at), '#'];
      const options = [
        { weight: 4, arbitrary: fc.constant(replaced.join('/')) },
        { weight: 3, arbitrary: fc.constant(widened.join('/')) },
        { weight: 1, arbitrary: fc.constant(hashed.join('/')) },
        { weight: 1, arbitrary: fc.constant(lengthened.join('/')) },
        { weight: 1, arbitrary: fc.constant(ls.length > 1 ? ls.slice(0, -1).join('/') : f) },
        { weight: 1, arbitrary: fc.constant(f) },
      ];
      return fc.oneof(...options);
    });
    arms.push({ weight: 8, arbitrary: edge });
  }
  return fc.oneof(...arms);
}

/** A concrete topic a filter matches: wildcards replaced from the pool. */
function instantiate(filter: string, pool: readonly string[]): fc.Arbitrary<string> {
  const ls = filter.split('/');
  const concrete = pool.filter((l) => l.length > 0);
  return fc.array(fc.constantFrom(...concrete), { minLength: ls.length, maxLength: ls.length }).map((fill) =>
    ls
      .map((l, i) => (l === '+' ? fill[i]! : l === '#' ? fill[i]! : l))
      .join('/'),
  );
}

/**
 * The classic ACL bugs, tried first and deterministically, one command per
 * fresh set of sessions: a sibling or prefix-extended tenant id on each
 * declared filter (sensor-1 -> sensor-2, sensor-10), `#`, and a will and a
 * retained publish on a topic the principal may not publish to.
 */
function classicSweep(actors: readonly Actor[], observer: Actor): fc.AsyncCommand<Model, Real>[] {
  const out: fc.AsyncCommand<Model, Real>[] = [];
  const neighbours = (level: string): string[] => {
    const m = /^(.*?)(\d+)$/.exec(level);
    return m ? [`${m[1]}${Number(m[2]) + 1}`, `${level}0`] : [`${level}x`];
  };
  const concrete = (f: string) => f.replace(/(^|\/)\+(?=\/|$)/g, '$1x').replace(/(^|\/)#$/, '$1x');
  for (const a of actors) {
    if (a === observer) continue;
    const forbidden = ['gauntlet/forbidden', ...observer.rules.publish.map(concrete)].find((t) => isTopicName(t) && !mayPublish(a.rules, t) && mayRead(observer.rules, t));
    const unreadable = ['gauntlet/forbidden', ...observer.rules.subscribe.map(concrete)].find((t) => isTopicName(t) && !mayRead(a.rules, t) && mayPublish(observer.rules, t));
    if (unreadable) out.push(new Subscribe(a, '#', unreadable));
    for (const f of a.rules.subscribe) {
      const ls = f.split('/');
      for (let i = ls.length - 1; i >= 0; i--) {
        if (ls[i] === '+' || ls[i] === '#' || ls[i]!.startsWith('$')) continue;
        for (const n of neighbours(ls[i]!)) {
          const g = [...ls];
          g[i] = n;
          out.push(new Subscribe(a, g.join('/'), concrete(g.join('/'))));
        }
        break;
      }
      if (!f.endsWith('#')) out.push(new Subscribe(a, `${f}/#`, `${f}/x`));
    }
    for (const f of a.rules.publish) {
      const ls = f.split('/');
      for (let i = ls.length - 1; i >= 0; i--) {
        if (ls[i] === '+' || ls[i] === '#') continue;
        for (const n of neighbours(ls[i]!)) {
          const g = [...ls];
          g[i] = n;
          out.push(new Publish(a, concrete(g.join('/')), false));
        }
        break;
      }
    }
    if (forbidden) out.push(new Will(a, forbidden), new Publish(a, forbidden, true));
  }
  return out;
}

function actorsOf(ctx: CheckContext): { actors: Actor[]; observer?: Actor } {
  const decl = ctx.target.declaration.access.mqtt;
  const actors: Actor[] = ctx.target.principals.map((p) => ({ name: p.name, user: p.user, pass: p.pass, rules: decl.rules[p.name] ?? { publish: [], subscribe: [] } }));
  if (decl.anonymous && decl.rules['anonymous']) actors.push({ name: 'anonymous', rules: decl.rules['anonymous'] });
  // Least privileged first, so shrinking lands on the principal that matters.
  actors.sort((a, b) => a.rules.publish.length + a.rules.subscribe.length - (b.rules.publish.length + b.rules.subscribe.length));
  const observer = actors.find((a) => a.rules.publish.includes('#') && a.rules.subscribe.includes('#'));
  return { actors, observer };
}

export const mqttTopics: Check = {
  id: 'access.mqtt-topics',
  title: 'MQTT topic access matches the declared policy (model-based property)',
  catalog: ['C04'],
  requirements: requirementsOf('C04'),
  protocols: ['mqtt', 'mqtts'],
  phase: 'main',
  severity: 'high',
  remedy: 'Enforce the per-principal topic ACL on SUBSCRIBE (or at delivery), on PUBLISH, on will messages and on retained messages, with MQTT matching rules rather than string prefixes.',
  timeoutMs: 180_000,
  applies(target) {
    if (Object.keys(target.declaration.access.mqtt.rules).length === 0) return 'no MQTT topic rules declared (declaration.access.mqtt.rules)';
    if (target.principals.length === 0) return 'needs principals to connect as';
    return undefined;
  },
  async run(ctx: CheckContext): Promise<CheckOutcome> {
    const iface = ctx.iface as MqttInterface;
    const { actors, observer } = actorsOf(ctx);
    if (!observer) {
      return { verdict: 'inconclusive', reason: 'needs an observer principal declared to publish and subscribe "#", to see deliveries', findings: [] };
    }
    const pool = levelPool(actors);
    const filter = filterArbitrary(actors, pool);
    // The observer (full rights) can hardly violate anything: draw the others far more often.
    const actor = fc.oneof(...actors.map((a) => ({ weight: a === observer ? 1 : 6, arbitrary: fc.constant(a) })));
    const topic = filter.chain((f) => instantiate(f, pool)).filter(isTopicName);
    const commands = [
      fc.tuple(actor, filter).chain(([a, f]) => instantiate(f, pool).map((t) => new Subscribe(a, f, t))),
      fc.tuple(actor, topic, fc.boolean()).map(([a, t, retain]) => new Publish(a, t, retain)),
      fc.tuple(actor, topic).map(([a, t]) => new Will(a, t)),
      fc.tuple(actor, fc.nat()).map(([a, i]) => new Unsubscribe(a, i)),
    ];
    const [path, commandsPath] = (ctx.replay.path ?? '').split(';commands=');

    // Settle window from the measured round trip: long enough on a slow device, short on loopback.
    let settleMs = 60;
    let measured = false;
    const withSessions = async (fn: (real: Real) => Promise<void>): Promise<void> => {
      const real: Real = { ctx, iface, actors, observer, sessions: new Map(), observerSession: undefined as unknown as MqttSession, settleMs, probes: [], extra: [] };
      ctx.transcript.take();
      try {
        for (const a of actors) real.sessions.set(a.name, await openFor(real, a));
        const obs = await openFor(real, observer);
        (real as { observerSession: MqttSession }).observerSession = obs;
        for (const f of observer.rules.subscribe) await obs.subscribe(f);
        if (!measured) {
          measured = true;
          // Round trip through the broker, best of three (the first one is cold).
          let rtt = Infinity;
          for (let i = 0; i < 3; i++) {
            const t0 = Date.now();
            const n = nonce();
            await obs.publish(`gauntlet/rtt/${n}`, Buffer.from(n));
            if (await obs.waitFor((d) => d.payload.toString() === n, 2000)) rtt = Math.min(rtt, Date.now() - t0);
          }
          settleMs = Math.min(400, Math.max(40, (Number.isFinite(rtt) ? rtt : 50) * 4 + 20));
          (real as { settleMs: number }).settleMs = settleMs;
        }
        await fn(real);
      } finally {
        for (const sess of [...real.sessions.values(), ...real.extra]) sess.close();
        real.observerSession?.close();
      }
    };
    const freshModel = (): Model => ({ subs: new Map(actors.map((a) => [a.name, new Set<string>()])) });
    const violationOutcome = (v: PolicyViolation, steps: string, cx: { seed: number; path: string; numRuns: number; shrinks: number }, cases: number): CheckOutcome => ({
      verdict: 'fail',
      reason: v.summary,
      cases,
      findings: [
        {
          summary: `${v.kind}: ${v.summary}`,
          severity: v.severity,
          evidence: {
            observed: `${steps} -> ${v.summary}`,
            declared: JSON.stringify(ctx.target.declaration.access.mqtt.rules),
            source: 'target:declaration.access.mqtt.rules',
            transcript: ctx.transcript.take(),
            counterexample: { ...cx, value: steps },
          },
        },
      ],
    });

    // 1. The classic sweep, deterministic; `sweep:<n>` replays one of its commands.
    const sweep = classicSweep(actors, observer);
    const only = /^sweep:(\d+)$/.exec(ctx.replay.path ?? '');
    const sweepIdx = only ? [Number(only[1])] : ctx.replay.path ? [] : sweep.map((_, i) => i);
    let swept = 0;
    for (const i of sweepIdx) {
      const cmd = sweep[i];
      if (!cmd || ctx.signal.aborted) continue;
      try {
        await withSessions(async (real) => {
          swept++;
          await cmd.run(freshModel(), real);
        });
      } catch (e) {
        if (e instanceof PolicyViolation) return violationOutcome(e, cmd.toString(), { seed: ctx.instance.seed, path: `sweep:${i}`, numRuns: swept, shrinks: 0 }, swept);
        if (e instanceof SetupError) return { verdict: 'inconclusive', reason: e.message, findings: [], cases: swept };
        throw e;
      }
    }
    if (only) return { verdict: 'pass', reason: `sweep case ${only[1]} did not violate the policy`, findings: [], cases: swept };

    // 2. Random exploration: short command sequences, shrunk on failure.
    let setupError: Error | undefined;
    let harnessError: unknown;
    let runs = 0;
    const property = fc.asyncProperty(fc.commands(commands, { maxCommands: 4, replayPath: commandsPath || undefined }), async (cmds) => {
      if (setupError || harnessError) return;
      runs++;
      try {
        await withSessions((real) => fc.asyncModelRun(() => ({ model: freshModel(), real }), cmds));
      } catch (e) {
        if (e instanceof PolicyViolation) throw e;
        if (e instanceof SetupError) setupError = e;
        else harnessError = e;
      }
    });
    const details = await fc.check(property, { ...propertyBounds(ctx), path: path || undefined });
    if (harnessError !== undefined) throw harnessError;
    if (setupError) return { verdict: 'inconclusive', reason: setupError.message, findings: [], cases: swept + runs };
    if (details.failed && details.errorInstance instanceof PolicyViolation && details.counterexample) {
      const sequence = String(details.counterexample[0]);
      const replayPath = /replayPath="([^"]*)"/.exec(sequence)?.[1];
      const steps = sequence.replace(/\s*\/\*replayPath=.*\*\//, '');
      const path = `${details.counterexamplePath ?? ''}${replayPath ? `;commands=${replayPath}` : ''}`;
      return violationOutcome(details.errorInstance, steps, { seed: details.seed, path, numRuns: details.numRuns, shrinks: details.numShrinks }, swept + runs);
    }
    if (details.failed) throw details.errorInstance ?? new Error('access.mqtt-topics: property failed without a counterexample');
    return {
      verdict: 'pass',
      reason: `${swept} classic edge cases and ${runs} random command sequences by ${actors.length} principals matched the declared topic policy${details.interrupted ? ' (time budget reached)' : ''}; settle ${settleMs}ms`,
      findings: [],
      cases: swept + runs,
    };
  },
};
