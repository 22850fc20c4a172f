// QoS 2 exactly-once, model-based (fast-check commands): a publisher and a
// subscriber, both on persistent sessions, drive the QoS 2 handshakes on
// both sides of the server (publish, re-send with DUP, release, reuse an
// identifier, drop and resume either session, acknowledge deliveries step by
// step). After every command the oracle checks what the server owes at that
// point: the acknowledgement with the right identifier, no second onward
// delivery of one message, every released message delivered, and on resume
// the unacknowledged PUBLISH (DUP 1, same id) or PUBREL re-sent and never a
// PUBLISH after its PUBREL. A violation shrinks to the shortest sequence
// that shows it; `qos2-v4:<path>;commands=<path>` replays it. The classic
// sequence runs last for coverage; when it breaks a statement it is shrunk by
// dropping commands one at a time, and `qos2-v4:steps=<commands>` replays that.

import fc from 'fast-check';
import type { Counterexample } from '../../../model/index.js';
import { rawAck, rawPublish, T } from './frames.js';
import { Peer } from './peer.js';
import { persistent } from './cases-session.js';
import { defineCase, SetupError, type IdPair, type Trial } from './trial.js';

const IDS = {
  rec: ['MQTT-4.3.3-2', 'MQTT-4.3.3-8'],
  dupRec: ['MQTT-4.3.3-2', 'MQTT-4.3.3-10'],
  noDup: ['MQTT-4.3.3-2', 'MQTT-4.3.3-10'],
  comp: ['MQTT-4.3.3-2', 'MQTT-4.3.3-11'],
  newAfterComp: ['MQTT-4.3.3-2', 'MQTT-4.3.3-12'],
  rel: ['MQTT-4.3.3-1', 'MQTT-4.3.3-4'],
  noRepublish: ['MQTT-4.3.3-1', 'MQTT-4.3.3-6'],
  relResent: ['MQTT-4.4.0-1', 'MQTT-4.3.3-5'],
  resendPub: ['MQTT-4.4.0-1', 'MQTT-4.3.3-3'],
  dupFlag: ['MQTT-3.3.1-1', 'MQTT-3.3.1-1'],
  sp: ['MQTT-3.2.2-2', 'MQTT-3.2.2-3'],
  ownership: ['MQTT-4.5.0-1', 'MQTT-4.5.0-1'],
} as const satisfies Record<string, IdPair>;

type Key = keyof typeof IDS;

/** What the server did that a statement forbids. */
class Violation extends Error {
  /** The command during which it happened (set when the sequence stops). */
  cmd?: object;
  constructor(
    readonly key: Key,
    message: string,
  ) {
    super(message);
  }
}

interface Msg {
  readonly pid: number;
  readonly text: string;
  state: 'rec' | 'complete';
  /** Sent with the identifier of an earlier, completed message. */
  readonly reused: boolean;
}
interface Model {
  msgs: Msg[];
  n: number;
}
interface Inflight {
  readonly text: string;
  state: 'delivered' | 'released';
}
interface Real {
  readonly t: Trial<Key>;
  readonly topic: string;
  readonly pubId: string;
  readonly subId: string;
  pub: Peer;
  sub: Peer;
  /** Subscriber side: server-to-client QoS 2 flows by packet id. */
  readonly inflight: Map<number, Inflight>;
  /** Application deliveries (first arrivals) by payload. */
  readonly arrivals: Map<string, number>;
  absorbed: number;
  readonly exercised: Map<Key, number>;
  /** Breaches recorded without stopping the exploration (a resumed session reported absent), first per key. */
  readonly soft: Map<Key, string>;
  /** Commands run so far in this sequence, and the one running. */
  readonly history: string[];
  current?: object;
}

const hit = (r: Real, k: Key) => r.exercised.set(k, (r.exercised.get(k) ?? 0) + 1);

/** Takes in the subscriber's new deliveries: re-sends must be of an unreleased flow with DUP 1; a new arrival of a known message is a duplicate. */
function absorb(r: Real): void {
  const list = r.sub.deliveries;
  for (; r.absorbed < list.length; r.absorbed++) {
    const d = list[r.absorbed]!;
    if (d.qos !== 2 || d.id === undefined) throw new SetupError(`a QoS 2 message was delivered at QoS ${d.qos} to a QoS 2 subscription`);
    const known = r.inflight.get(d.id);
    if (known) {
      if (known.state === 'released') throw new Violation('noRepublish', `the server re-sent PUBLISH id ${d.id} ("${d.text}") after it had sent its PUBREL`);
      hit(r, 'noRepublish');
      // Recorded, not thrown: a wrong DUP flag does not break exactly-once, so the exploration goes on.
      if (!d.dup && !r.soft.has('dupFlag')) r.soft.set('dupFlag', `the server re-sent PUBLISH id ${d.id} ("${d.text}") with DUP 0 (after: ${r.history.join(', ')})`);
      else if (d.dup) hit(r, 'dupFlag');
      continue;
    }
    const n = (r.arrivals.get(d.text) ?? 0) + 1;
    r.arrivals.set(d.text, n);
    if (n > 1) throw new Violation('noDup', `message "${d.text}" was delivered ${n} times as a new message (id ${d.id} this time)`);
    hit(r, 'noDup');
    r.inflight.set(d.id, { text: d.text, state: 'delivered' });
  }
}

async function afterCommand(r: Real): Promise<void> {
  await r.t.settle();
  absorb(r);
}

function publishBytes(r: Real, m: { pid: number; text: string }, dup: boolean): Buffer {
  return rawPublish({ version: r.t.v, topic: r.topic, qos: 2, id: m.pid, dup, payload: m.text });
}

async function expectAck(r: Real, peer: Peer, type: number, pid: number, key: Key, what: string): Promise<void> {
  const f = await peer.wire.take((x) => x.type === type, r.t.env.waitMs);
  const name = type === T.PUBREC ? 'PUBREC' : type === T.PUBCOMP ? 'PUBCOMP' : 'PUBREL';
  if (!f) {
    if (peer.wire.closed) throw new SetupError(`the connection closed while waiting for ${name} to ${what}`);
    throw new Violation(key, `no ${name} to ${what} within ${r.t.env.waitMs}ms`);
  }
  if (f.id !== pid) throw new Violation(key, `${name} id ${f.id} to ${what} (expected ${pid})`);
  if ((f.code ?? 0) >= 0x80) throw new SetupError(`${name} id ${pid} with reason 0x${f.code!.toString(16)}: the server refused the message`);
  hit(r, key);
}

/** A command of the model: recorded in the history and as the current step before it acts. */
abstract class Step implements fc.AsyncCommand<Model, Real> {
  check(_m: Readonly<Model>): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.history.push(this.toString());
    r.current = this;
    await this.act(m, r);
  }
  protected abstract act(m: Model, r: Real): Promise<void>;
  abstract toString(): string;
}

class Publish extends Step {
  override check(m: Readonly<Model>): boolean {
    return m.msgs.filter((x) => x.state === 'rec').length < 8;
  }
  protected async act(m: Model, r: Real): Promise<void> {
    const busy = new Set(m.msgs.filter((x) => x.state === 'rec').map((x) => x.pid));
    let pid = 1;
    while (busy.has(pid) || m.msgs.some((x) => x.pid === pid)) pid++;
    const msg: Msg = { pid, text: `q2-${r.t.index}-${++m.n}-${Math.random().toString(36).slice(2, 6)}`, state: 'rec', reused: false };
    r.pub.wire.send(publishBytes(r, msg, false), `PUBLISH qos=2 id=${pid} "${msg.text}"`);
    await expectAck(r, r.pub, T.PUBREC, pid, 'rec', `PUBLISH id ${pid}`);
    m.msgs.push(msg);
    await afterCommand(r);
  }
  override toString(): string {
    return 'publish';
  }
}

/** A step on the i-th message the publisher has had PUBREC for and not yet released. */
abstract class OnOpen extends Step {
  constructor(readonly i: number) {
    super();
  }
  override check(m: Readonly<Model>): boolean {
    return m.msgs.some((x) => x.state === 'rec');
  }
  protected open(m: Model): Msg {
    const open = m.msgs.filter((x) => x.state === 'rec');
    return open[this.i % open.length]!;
  }
}

class Resend extends OnOpen {
  protected async act(m: Model, r: Real): Promise<void> {
    const msg = this.open(m);
    r.pub.wire.send(publishBytes(r, msg, true), `PUBLISH qos=2 id=${msg.pid} DUP=1 (re-send, no PUBREL yet)`);
    await expectAck(r, r.pub, T.PUBREC, msg.pid, 'dupRec', `the re-sent PUBLISH id ${msg.pid}`);
    await afterCommand(r);
  }
  override toString(): string {
    return `resend(${this.i})`;
  }
}

class Release extends OnOpen {
  protected async act(m: Model, r: Real): Promise<void> {
    const msg = this.open(m);
    r.pub.wire.send(rawAck(T.PUBREL, msg.pid), `PUBREL id=${msg.pid}`);
    await expectAck(r, r.pub, T.PUBCOMP, msg.pid, 'comp', `PUBREL id ${msg.pid}`);
    msg.state = 'complete';
    // Released: the server owns it and owes the subscriber exactly one delivery.
    await r.sub.waitFor((d) => d.text === msg.text, r.t.env.waitMs);
    absorb(r);
    if (!r.arrivals.get(msg.text)) {
      throw new Violation(msg.reused ? 'newAfterComp' : 'ownership', msg.reused ? `PUBLISH id ${msg.pid} after the PUBCOMP of an earlier message with that id was not delivered as a new message` : `message "${msg.text}" was released (PUBREL, PUBCOMP) but never delivered to the subscriber`);
    }
    hit(r, msg.reused ? 'newAfterComp' : 'ownership');
    await afterCommand(r);
  }
  override toString(): string {
    return `release(${this.i})`;
  }
}

class Reuse extends Step {
  constructor(readonly i: number) {
    super();
  }
  override check(m: Readonly<Model>): boolean {
    return this.candidates(m).length > 0;
  }
  private candidates(m: Readonly<Model>): Msg[] {
    const busy = new Set(m.msgs.filter((x) => x.state === 'rec').map((x) => x.pid));
    return m.msgs.filter((x) => x.state === 'complete' && !busy.has(x.pid));
  }
  protected async act(m: Model, r: Real): Promise<void> {
    const done = this.candidates(m);
    const old = done[this.i % done.length]!;
    const msg: Msg = { pid: old.pid, text: `q2-${r.t.index}-${++m.n}-${Math.random().toString(36).slice(2, 6)}`, state: 'rec', reused: true };
    r.pub.wire.send(publishBytes(r, msg, false), `PUBLISH qos=2 id=${msg.pid} "${msg.text}" (identifier of a completed message)`);
    await expectAck(r, r.pub, T.PUBREC, msg.pid, 'rec', `PUBLISH id ${msg.pid}`);
    m.msgs.push(msg);
    await afterCommand(r);
  }
  override toString(): string {
    return `reuse(${this.i})`;
  }
}

async function resume(r: Real, which: 'pub' | 'sub'): Promise<Peer> {
  const old = which === 'pub' ? r.pub : r.sub;
  await old.sync();
  old.drop();
  await old.wire.waitClosed(r.t.env.waitMs);
  const id = which === 'pub' ? r.pubId : r.subId;
  const peer = await Peer.open(r.t as Trial<string>, which === 'pub' ? 'pub' : 'sub', persistent(r.t as Trial<string>, id, { resume: true, ack: 'manual' }));
  if (!peer.connack.sessionPresent) {
    // Recorded, not thrown: a server that reports the session absent may still keep its state, and the QoS 2 oracles go on.
    if (!r.soft.has('sp')) r.soft.set('sp', `the ${which === 'pub' ? 'publisher' : 'subscriber'} resumed its CleanSession 0 session and got Session Present 0 (after: ${r.history.join(', ')})`);
  } else hit(r, 'sp');
  return peer;
}

class PubReconnect extends Step {
  protected async act(_m: Model, r: Real): Promise<void> {
    r.pub = await resume(r, 'pub');
    await afterCommand(r);
  }
  override toString(): string {
    return 'publisher-reconnect';
  }
}

class SubRec extends Step {
  protected async act(_m: Model, r: Real): Promise<void> {
    absorb(r);
    const entry = [...r.inflight.entries()].find(([, v]) => v.state === 'delivered');
    if (!entry) return;
    const [pid, v] = entry;
    r.sub.wire.send(rawAck(T.PUBREC, pid), `PUBREC id=${pid}`);
    await expectAck(r, r.sub, T.PUBREL, pid, 'rel', `PUBREC id ${pid}`);
    v.state = 'released';
    await afterCommand(r);
  }
  override toString(): string {
    return 'subscriber-pubrec';
  }
}

class SubComp extends Step {
  protected async act(_m: Model, r: Real): Promise<void> {
    const entry = [...r.inflight.entries()].find(([, v]) => v.state === 'released');
    if (!entry) return;
    r.sub.wire.send(rawAck(T.PUBCOMP, entry[0]), `PUBCOMP id=${entry[0]}`);
    r.inflight.delete(entry[0]);
    await afterCommand(r);
  }
  override toString(): string {
    return 'subscriber-pubcomp';
  }
}

class SubReconnect extends Step {
  protected async act(_m: Model, r: Real): Promise<void> {
    absorb(r);
    r.sub = await resume(r, 'sub');
    r.absorbed = 0;
    const owed = [...r.inflight.entries()];
    const deadline = Date.now() + r.t.env.waitMs;
    const pending = () => owed.filter(([pid, v]) => (v.state === 'delivered' ? !r.sub.deliveries.some((d) => d.id === pid) : !r.sub.wire.frames.some((f) => f.type === T.PUBREL && f.id === pid)));
    while (pending().length > 0 && Date.now() < deadline && !r.sub.wire.closed) await r.t.sleep(5);
    await r.t.settle();
    absorb(r);
    for (const [pid, v] of pending()) {
      if (v.state === 'delivered') throw new Violation('resendPub', `on resume the server did not re-send the unacknowledged PUBLISH id ${pid} ("${v.text}")`);
      throw new Violation('relResent', `on resume the server did not re-send PUBREL id ${pid} (PUBREC sent, PUBCOMP not)`);
    }
    for (const [, v] of owed) hit(r, v.state === 'delivered' ? 'resendPub' : 'relResent');
    // Re-sent PUBRELs are still answered by SubComp; drop them from the inbox.
    await afterCommand(r);
  }
  override toString(): string {
    return 'subscriber-reconnect';
  }
}

/** The classic sequence, run after the random ones so every statement is exercised at least once. */
function sweep(): fc.AsyncCommand<Model, Real>[] {
  return [new Publish(), new Resend(0), new SubRec(), new PubReconnect(), new Resend(0), new SubReconnect(), new Release(0), new SubReconnect(), new SubRec(), new SubReconnect(), new SubComp(), new Reuse(0), new Release(0), new Publish(), new Release(0)];
}

/** Commands from their names (`publish,publisher-reconnect,resend(0)`): how a shrunk sweep is replayed. */
function parseSteps(text: string): fc.AsyncCommand<Model, Real>[] {
  return text.split(',').map((step) => {
    const m = /^([a-z-]+)(?:\((\d+)\))?$/.exec(step.trim());
    const i = Number(m?.[2] ?? 0);
    switch (m?.[1]) {
      case 'publish':
        return new Publish();
      case 'resend':
        return new Resend(i);
      case 'release':
        return new Release(i);
      case 'reuse':
        return new Reuse(i);
      case 'publisher-reconnect':
        return new PubReconnect();
      case 'subscriber-pubrec':
        return new SubRec();
      case 'subscriber-pubcomp':
        return new SubComp();
      case 'subscriber-reconnect':
        return new SubReconnect();
      default:
        throw new Error(`qos2 model: unknown step "${step}" in the replay path`);
    }
  });
}

export interface ModelReport {
  /** Per statement key: a violation, or how often its oracle held. */
  readonly violation?: { readonly key: Key; readonly message: string; readonly counterexample: Counterexample };
  readonly exercised: ReadonlyMap<Key, number>;
  readonly soft: ReadonlyMap<Key, string>;
  readonly runs: number;
  readonly interrupted: boolean;
}

/**
 * Runs the property: `replay` is the part of the replay path after
 * `qos2-v<n>:` (`<fc path>;commands=<commands path>`).
 */
async function explore(t: Trial<Key>, replay: string | undefined): Promise<ModelReport> {
  const exercised = new Map<Key, number>();
  const soft = new Map<Key, string>();
  const ctx = t.env.ctx;
  let runs = 0;
  let setup: Error | undefined;
  let harness: unknown;
  const fresh = async (cmds: Iterable<fc.AsyncCommand<Model, Real>>): Promise<void> => {
    runs++;
    const topic = t.topic(`m${runs}`);
    const pubId = t.env.clientId();
    const subId = t.env.clientId();
    const sub = await Peer.open(t as Trial<string>, 'sub', persistent(t as Trial<string>, subId, { ack: 'manual' }));
    await sub.mustSubscribe([{ topic, qos: 2 }]);
    const pub = await Peer.open(t as Trial<string>, 'pub', persistent(t as Trial<string>, pubId, { ack: 'manual' }));
    const real: Real = { t, topic, pubId, subId, pub, sub, inflight: new Map(), arrivals: new Map(), absorbed: 0, exercised, soft, history: [] };
    try {
      await fc.asyncModelRun(() => ({ model: { msgs: [], n: 0 }, real }), cmds);
    } catch (e) {
      if (e instanceof Violation) e.cmd = real.current;
      throw e;
    } finally {
      real.pub.drop();
      real.sub.drop();
    }
  };
  /** Runs a fixed sequence; on a violation, drops commands one at a time while the same statement still breaks (bounded by the budget). */
  const fixed = async (cmds: fc.AsyncCommand<Model, Real>[], shrink: boolean): Promise<ModelReport> => {
    const attempt = async (list: fc.AsyncCommand<Model, Real>[]): Promise<Violation | undefined> => {
      try {
        await fresh(list);
        return undefined;
      } catch (e) {
        if (e instanceof Violation) return e;
        if (e instanceof SetupError) return undefined;
        throw e;
      }
    };
    const first = await attempt(cmds);
    if (!first) return { exercised, soft, runs, interrupted: false };
    // Nothing after the command that broke the statement ran: cut there.
    let cur = first.cmd && cmds.includes(first.cmd as fc.AsyncCommand<Model, Real>) ? cmds.slice(0, cmds.indexOf(first.cmd as fc.AsyncCommand<Model, Real>) + 1) : cmds;
    let last = first;
    let shrinks = 0;
    const until = Date.now() + Math.max(2000, ctx.budget.timeMs * 0.3);
    for (let improved = shrink; improved && Date.now() < until; ) {
      improved = false;
      for (let i = 0; i < cur.length && Date.now() < until; i++) {
        const cand = [...cur.slice(0, i), ...cur.slice(i + 1)];
        const v = await attempt(cand);
        if (v?.key === first.key) {
          cur = v.cmd && cand.includes(v.cmd as fc.AsyncCommand<Model, Real>) ? cand.slice(0, cand.indexOf(v.cmd as fc.AsyncCommand<Model, Real>) + 1) : cand;
          last = v;
          shrinks++;
          improved = true;
          break;
        }
      }
    }
    const steps = cur.map(String).join(',');
    return { violation: { key: last.key, message: last.message, counterexample: { seed: ctx.instance.seed, path: `qos2-v${t.v}:steps=${steps}`, value: steps, numRuns: runs, shrinks } }, exercised, soft, runs, interrupted: false };
  };
  if (replay?.startsWith('steps=')) return fixed(parseSteps(replay.slice('steps='.length)), false);
  const [fcPath, commandsPath] = (replay ?? '').split(';commands=');
  const property = fc.asyncProperty(
    fc.commands(
      [
        fc.constant(new Publish()),
        fc.constant(new Publish()),
        fc.nat(7).map((i) => new Resend(i)),
        fc.nat(7).map((i) => new Release(i)),
        fc.nat(7).map((i) => new Release(i)),
        fc.nat(7).map((i) => new Reuse(i)),
        fc.constant(new PubReconnect()),
        fc.constant(new SubRec()),
        fc.constant(new SubComp()),
        fc.constant(new SubReconnect()),
      ],
      { maxCommands: 10, ...(commandsPath ? { replayPath: commandsPath } : {}) },
    ),
    async (cmds) => {
      if (setup || harness) return;
      try {
        await fresh(cmds);
      } catch (e) {
        if (e instanceof Violation) throw e;
        if (e instanceof SetupError) setup = e;
        else harness = e;
      }
    },
  );
  const details = await fc.check(property, {
    seed: ctx.instance.seed,
    ...(fcPath ? { path: fcPath } : {}),
    numRuns: replay ? 1 : Math.max(1, ctx.budget.numRuns),
    // Most of the budget; the rest is for the classic sequence and its shrinking.
    interruptAfterTimeLimit: Math.max(1000, Math.floor(ctx.budget.timeMs * 0.7)),
    markInterruptAsFailure: false,
  });
  if (harness !== undefined) throw harness;
  if (setup) throw setup;
  if (details.failed && details.errorInstance instanceof Violation && details.counterexample) {
    const sequence = String(details.counterexample[0]);
    const commands = /replayPath="([^"]*)"/.exec(sequence)?.[1];
    const steps = sequence.replace(/\s*\/\*replayPath=.*\*\//, '');
    return {
      violation: {
        key: details.errorInstance.key,
        message: details.errorInstance.message,
        counterexample: { seed: details.seed, path: `qos2-v${t.v}:${details.counterexamplePath ?? ''}${commands ? `;commands=${commands}` : ''}`, value: steps, numRuns: details.numRuns, shrinks: details.numShrinks },
      },
      exercised,
      soft,
      runs,
      interrupted: details.interrupted,
    };
  }
  if (details.failed) throw details.errorInstance ?? new Error('qos2 model: property failed without a counterexample');
  // Coverage: the classic sequence once, shrunk like the others when it breaks something.
  if (!replay) return fixed(sweep(), true).then((r) => (r.violation ? r : { ...r, interrupted: details.interrupted }));
  return { exercised, soft, runs, interrupted: details.interrupted };
}

/** The model as a catalog case; `replay` set (from the run's replay path) runs only the counterexample. */
export function qos2Case(replay?: (v: 4 | 5) => string | undefined) {
  return defineCase({
    name: 'QoS 2 exactly once across resumed sessions (model-based)',
    ids: IDS,
    async run(t) {
      const report = await explore(t, replay?.(t.v));
      lastCounterexample.set(t.env, report.violation?.counterexample);
      for (const key of Object.keys(IDS) as Key[]) {
        if (report.violation?.key === key) {
          t.fail(key, `${report.violation.message} (shrunk sequence: ${report.violation.counterexample.value})`);
          continue;
        }
        const soft = report.soft.get(key);
        if (soft) {
          t.fail(key, soft);
          continue;
        }
        const n = report.exercised.get(key) ?? 0;
        if (n > 0) t.pass(key, `held ${n} time(s) over ${report.runs} command sequence(s)${report.violation ? ' before the counterexample' : ''}${report.interrupted ? ' (time budget reached)' : ''}`);
        else t.inconclusive(key, report.violation ? 'not reached before the counterexample' : `never exercised in ${report.runs} sequence(s)`);
      }
    },
  });
}

/** The counterexample of the last model run per environment, for the finding's evidence. */
export const lastCounterexample = new WeakMap<object, Counterexample | undefined>();
