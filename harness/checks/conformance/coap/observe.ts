// RFC 7641 cases on an observable resource (`obs` in the listing). First a
// fixed walk: register, watch two notifications (their token, their Observe
// order, the interval), register again with the same token (one notification
// per change, not two), deregister with Observe=1, register again and answer a
// notification with a Reset. Then a model-based run of random command
// sequences (register, await, deregister, reject) on two tokens, checked
// against a model of which registrations are live; a failure shrinks to the
// shortest sequence that shows it. Every wait is bounded by the measured
// notification interval; every registration is cancelled before its socket
// closes.

import fc from 'fast-check';
import type { Counterexample } from '../../../model/index.js';
import { getRequest } from './discovery.js';
import { answerText, describeShort, fail, open, pass, skip, type Probe, type Verdict } from './probe.js';
import { decodedOf, type CoapSession, type Heard } from './session.js';
import { ACK, CON, codeClass, codeText, NON, OPT, opt, uintOption, type WireMessage } from './wire.js';

const OBSERVE = ['RFC7641:4.1-register', 'RFC7641:4.2-notification-token', 'RFC7641:4.4-observe-sequence', 'RFC7641:4.1-reregister-replaces', 'RFC7641:2-deregister-get', 'RFC7641:4.5-rst-removes-observer'];
const ERROR_ID = 'RFC7641:4.2-error-no-observe';
const IS_GET_ID = 'RFC7641:2-register-is-get';
/** Longest wait for a notification before the resource counts as not changing. */
const MAX_INTERVAL_MS = 6000;
const MAX_COMMANDS = 5;

/** Whether Observe value b was sent after a, in 24-bit serial arithmetic [RFC7641 3.4]. */
export function newer(a: number, b: number): boolean {
  return (a < b && b - a < 2 ** 23) || (a > b && a - b > 2 ** 23);
}

const isNotification = (w: WireMessage | undefined): w is WireMessage => !!w && codeClass(w.code) === 2 && uintOption(w, OPT.Observe) !== undefined;

class Violation extends Error {
  constructor(
    readonly id: string,
    readonly why: string,
  ) {
    super(`${id}: ${why}`);
  }
}

/** Registers `token` on `path`; the response or why there is none. */
async function register(s: CoapSession, path: string, token: Buffer, value: 0 | 1 = 0) {
  const ex = await s.exchange(getRequest(s, path, [opt(OPT.Observe, value)], { token }));
  return ex;
}

const notificationsOf = (heard: readonly Heard[], token: Buffer) => heard.filter((h) => isNotification(decodedOf(h)) && decodedOf(h)!.token.equals(token));

/** Sends an RST for one message (a notification the client rejects). */
const reset = (s: CoapSession, mid: number) => s.send(Buffer.from([0x70, 0, mid >> 8, mid & 0xff]), `RST empty mid=${mid} (rejects the notification)`);

export async function observeCases(p: Probe): Promise<void> {
  await errorCase(p);
  if (!p.book.wantsAny(OBSERVE)) return;
  const path = p.resources.observable[0];
  if (!path) {
    p.book.skipRest(OBSERVE, 'no observable resource: the listing marks none with obs');
    return;
  }
  let intervalMs: number | undefined;
  await p.run(`observe ${path}: register, notifications, register again, deregister, reject`, OBSERVE, async (s) => {
    const out: Verdict[] = [];
    const t1 = s.token(4);
    const reg = await register(s, path, t1);
    const r = reg.response;
    if (!r) return OBSERVE.map((id) => open(id, `GET ${path} Observe=0: ${answerText(reg)}`));
    const seq0 = uintOption(r, OPT.Observe);
    if (codeClass(r.code) !== 2) return OBSERVE.map((id) => open(id, `GET ${path} Observe=0 -> ${codeText(r.code)}: no registration`));
    if (seq0 === undefined) {
      const why = `GET ${path} Observe=0 -> ${codeText(r.code)} without Observe: the server declined the registration (allowed), nothing to observe`;
      return [open('RFC7641:4.1-register', why), ...OBSERVE.slice(1).map((id) => skip(id, why))];
    }
    out.push(pass('RFC7641:4.1-register', `GET ${path} Observe=0 -> ${codeText(r.code)} Observe=${seq0}`));
    const since = s.mark();
    const t0 = performance.now();
    const first = await s.wait((h) => isNotification(decodedOf(h)) && h.index >= since, MAX_INTERVAL_MS, since);
    if (!first) {
      const why = `no notification within ${MAX_INTERVAL_MS}ms of the registration (the resource did not change)`;
      await register(s, path, t1, 1);
      return [...out, ...OBSERVE.slice(1).map((id) => open(id, why))];
    }
    const second = await s.wait((h) => isNotification(decodedOf(h)) && h.index > first.index, MAX_INTERVAL_MS, since);
    intervalMs = Math.max(50, Math.round(second ? second.at - first.at : first.at - t0));
    const seen = [first, second].filter((h): h is Heard => !!h).map((h) => decodedOf(h)!);
    const strange = seen.find((w) => !w.token.equals(t1));
    if (strange) out.push(fail('RFC7641:4.2-notification-token', `a notification after registering token ${t1.toString('hex')} carried token ${strange.token.toString('hex')}: ${describeShort(strange)}`));
    else out.push(pass('RFC7641:4.2-notification-token', `${seen.length} notifications, each with the registration token ${t1.toString('hex')}`));
    let last = seq0;
    let ordered = true;
    for (const w of seen) {
      const v = uintOption(w, OPT.Observe)!;
      if (!newer(last, v)) {
        out.push(fail('RFC7641:4.4-observe-sequence', `Observe went from ${last} to ${v}: not newer (${describeShort(w)})`));
        ordered = false;
        break;
      }
      last = v;
    }
    if (ordered) out.push(pass('RFC7641:4.4-observe-sequence', `Observe ${[seq0, ...seen.map((w) => uintOption(w, OPT.Observe))].join(' -> ')}, increasing; one notification every ~${intervalMs}ms`));

    // The same token again: one entry, so one notification per change.
    const again = await register(s, path, t1);
    const sinceAgain = s.mark();
    const window = Math.round(intervalMs * 2.5) + 100;
    const heard = notificationsOf(await s.collect(window, sinceAgain), t1);
    if (!again.response) out.push(open('RFC7641:4.1-reregister-replaces', `GET ${path} Observe=0 again with token ${t1.toString('hex')}: ${answerText(again)}`));
    else if (heard.length === 0) out.push(open('RFC7641:4.1-reregister-replaces', `no notification within ${window}ms after registering token ${t1.toString('hex')} again`));
    else {
      const values = heard.map((h) => uintOption(decodedOf(h)!, OPT.Observe)!);
      const dup = values.find((v, i) => values.indexOf(v) !== i);
      if (dup !== undefined) out.push(fail('RFC7641:4.1-reregister-replaces', `after registering token ${t1.toString('hex')} twice, Observe=${dup} came twice (${values.join(', ')}): two entries for one endpoint and token`));
      else out.push(pass('RFC7641:4.1-reregister-replaces', `after registering token ${t1.toString('hex')} twice: ${values.length} notifications in ${window}ms, each change once (${values.join(', ')})`));
    }

    // Deregister with Observe=1.
    out.push(await cancelled(s, path, t1, intervalMs, 'get'));
    // A second registration, rejected with a Reset.
    const t2 = s.token(4);
    const reg2 = await register(s, path, t2);
    if (!reg2.response || uintOption(reg2.response, OPT.Observe) === undefined) out.push(open('RFC7641:4.5-rst-removes-observer', `a second registration (token ${t2.toString('hex')}): ${answerText(reg2)}`));
    else out.push(await cancelled(s, path, t2, intervalMs, 'rst'));
    return out;
  });
  if (intervalMs === undefined || p.aborted) return;
  await modelCase(p, path, intervalMs);
}

/** Ends a registration (GET Observe=1, or a Reset of its next notification) and watches that no notification follows. */
async function cancelled(s: CoapSession, path: string, token: Buffer, intervalMs: number, how: 'get' | 'rst'): Promise<Verdict> {
  const id = how === 'get' ? 'RFC7641:2-deregister-get' : 'RFC7641:4.5-rst-removes-observer';
  const tok = token.toString('hex');
  let what: string;
  if (how === 'get') {
    const ex = await register(s, path, token, 1);
    if (!ex.response && !ex.ack) return open(id, `GET ${path} Observe=1 token ${tok}: ${answerText(ex)}`);
    what = `GET ${path} Observe=1 token ${tok} -> ${ex.response ? describeShort(ex.response) : 'empty ACK'}`;
  } else {
    const since = s.mark();
    s.onCon = (w) => (w.token.equals(token) && isNotification(w) ? 'rst' : undefined);
    const n = await s.wait((h) => isNotification(decodedOf(h)) && decodedOf(h)!.token.equals(token), Math.min(MAX_INTERVAL_MS, intervalMs * 3), since);
    s.onCon = undefined;
    if (!n) return open(id, `no notification for token ${tok} within ${Math.min(MAX_INTERVAL_MS, intervalMs * 3)}ms to reject`);
    const w = decodedOf(n)!;
    if (w.type === NON) reset(s, w.messageId);
    what = `${w.type === CON ? 'CON' : 'NON'} notification mid=${w.messageId} Observe=${uintOption(w, OPT.Observe)} answered by RST`;
  }
  // A notification already on its way when the cancel arrived is not a violation.
  const grace = Math.min(300, Math.round(intervalMs / 2));
  const tCancel = performance.now();
  const since = s.mark();
  const heard = await s.collect(Math.round(intervalMs * 2.5) + grace, since);
  const late = notificationsOf(heard, token).filter((h) => h.at - tCancel > grace);
  if (late.length) {
    const w = decodedOf(late[0]!)!;
    if (how === 'rst') s.onCon = (x) => (x.token.equals(token) ? 'rst' : undefined);
    else await register(s, path, token, 1);
    return fail(id, `${what}; yet ${late.length} more notification(s) for token ${tok} followed: ${describeShort(w)}`);
  }
  return pass(id, `${what}; no notification for token ${tok} in the next ${Math.round(intervalMs * 2.5) + grace}ms (one every ~${intervalMs}ms before)`);
}

/**
 * A registration answered as the same GET [RFC7641 2], on a path that does
 * not exist (an error without Observe [RFC7641 4.2]) and on the control path.
 */
async function errorCase(p: Probe): Promise<void> {
  const nx = `/gauntlet-nx-${(p.ctx.instance.seed >>> 0).toString(16)}`;
  await p.run(`observe a resource that does not exist (${nx}) and ${p.resources.control ?? 'no control resource'}`, [ERROR_ID, IS_GET_ID], async (s) => {
    const out: Verdict[] = [];
    const plain = await s.exchange(getRequest(s, nx));
    const ex = await register(s, nx, s.token(4));
    const r = ex.response;
    if (!r || !plain.response) return [open(ERROR_ID, `GET ${nx}: ${answerText(plain)}; with Observe=0: ${answerText(ex)}`), open(IS_GET_ID, `GET ${nx}: ${answerText(plain)}; with Observe=0: ${answerText(ex)}`)];
    const code = codeText(r.code);
    const plainCode = codeText(plain.response.code);
    if (codeClass(r.code) === 2) await register(s, nx, Buffer.from(ex.sent.token), 1);
    if (code === plainCode) out.push(pass(IS_GET_ID, `GET ${nx} -> ${plainCode}, and with Observe=0 -> ${code}`));
    else out.push(fail(IS_GET_ID, `GET ${nx} -> ${plainCode}, but with Observe=0 -> ${describeShort(r)}: the registration is not answered as the GET`));
    if (codeClass(r.code) === 2) out.push(skip(ERROR_ID, `GET ${nx} Observe=0 -> ${code}: no error response to judge`));
    else if (uintOption(r, OPT.Observe) !== undefined) out.push(fail(ERROR_ID, `GET ${nx} Observe=0 -> ${describeShort(r)}: an error response carrying Observe`));
    else out.push(pass(ERROR_ID, `GET ${nx} Observe=0 -> ${code}, no Observe`));
    const control = p.resources.control;
    if (control) {
      const c = await s.exchange(getRequest(s, control));
      const t = s.token(4);
      const o = await register(s, control, t);
      if (o.response && codeClass(o.response.code) === 2 && uintOption(o.response, OPT.Observe) !== undefined) await register(s, control, t, 1);
      if (c.response && o.response) {
        const a = codeText(c.response.code);
        const b = codeText(o.response.code);
        out.push(a === b ? pass(IS_GET_ID, `GET ${control} -> ${a}, and with Observe=0 -> ${b}`) : fail(IS_GET_ID, `GET ${control} -> ${a}, but with Observe=0 -> ${describeShort(o.response)}`));
      }
    }
    return out;
  });
}

// ------------------------------------------------------------------ model-based run

interface ObsModel {
  /** Live registrations by token index. */
  readonly live: Set<number>;
}

interface Cancel {
  readonly at: number;
  readonly how: 'get' | 'rst';
}

interface ObsReal {
  readonly s: CoapSession;
  readonly path: string;
  readonly tokens: readonly Buffer[];
  readonly intervalMs: number;
  /** Last Observe value seen per token index, and whether it was registered twice since. */
  readonly last: Map<number, number>;
  readonly twice: Set<number>;
  readonly cancels: Map<number, Cancel>;
  /** Index in the session's inbox up to which notifications were judged. */
  judged: number;
}

/** Judges every notification received since the last call against the model. */
function judge(m: ObsModel, r: ObsReal): void {
  const heard = r.s.received(r.judged);
  r.judged += heard.length;
  const grace = Math.min(300, Math.round(r.intervalMs / 2));
  const perValue = new Map<string, number>();
  for (const h of heard) {
    const w = decodedOf(h);
    if (!isNotification(w) || w.type === ACK) continue;
    const k = r.tokens.findIndex((t) => t.equals(w.token));
    if (k < 0) throw new Violation('RFC7641:4.2-notification-token', `a notification with token ${w.token.toString('hex')}, which no registration used: ${describeShort(w)}`);
    const v = uintOption(w, OPT.Observe)!;
    if (!m.live.has(k)) {
      const c = r.cancels.get(k);
      if (c && h.at - c.at <= grace) continue; // on its way when the cancel arrived
      const id = c?.how === 'rst' ? 'RFC7641:4.5-rst-removes-observer' : 'RFC7641:2-deregister-get';
      throw new Violation(id, `token ${k} was ${c?.how === 'rst' ? 'rejected with RST' : 'deregistered'} ${c ? Math.round(h.at - c.at) : '?'}ms before, yet ${describeShort(w)} came`);
    }
    const key = `${k}:${v}`;
    perValue.set(key, (perValue.get(key) ?? 0) + 1);
    if ((perValue.get(key) ?? 0) > 1) {
      throw new Violation(r.twice.has(k) ? 'RFC7641:4.1-reregister-replaces' : 'RFC7641:4.4-observe-sequence', `token ${k} got Observe=${v} twice${r.twice.has(k) ? ' after registering twice' : ''}: ${describeShort(w)}`);
    }
    const before = r.last.get(k);
    if (before !== undefined && !newer(before, v) && before !== v) throw new Violation('RFC7641:4.4-observe-sequence', `token ${k}: Observe went from ${before} to ${v}, not newer: ${describeShort(w)}`);
    r.last.set(k, v);
  }
}

class Register implements fc.AsyncCommand<ObsModel, ObsReal> {
  constructor(readonly k: number) {}
  check(): boolean {
    return true;
  }
  async run(m: ObsModel, r: ObsReal): Promise<void> {
    judge(m, r);
    const ex = await register(r.s, r.path, r.tokens[this.k]!);
    const w = ex.response;
    if (!w || codeClass(w.code) !== 2 || uintOption(w, OPT.Observe) === undefined) throw new Error(`registration of token ${this.k} was not taken: ${answerText(ex)}`);
    if (m.live.has(this.k)) r.twice.add(this.k);
    else r.twice.delete(this.k);
    m.live.add(this.k);
    r.cancels.delete(this.k);
    r.last.set(this.k, uintOption(w, OPT.Observe)!);
  }
  toString(): string {
    return `Register(${this.k})`;
  }
}

class Await implements fc.AsyncCommand<ObsModel, ObsReal> {
  check(): boolean {
    return true;
  }
  async run(m: ObsModel, r: ObsReal): Promise<void> {
    await r.s.collect(Math.round(r.intervalMs * 1.5) + 50);
    judge(m, r);
  }
  toString(): string {
    return 'Await';
  }
}

class Deregister implements fc.AsyncCommand<ObsModel, ObsReal> {
  constructor(readonly k: number) {}
  check(m: Readonly<ObsModel>): boolean {
    return m.live.has(this.k);
  }
  async run(m: ObsModel, r: ObsReal): Promise<void> {
    judge(m, r);
    await register(r.s, r.path, r.tokens[this.k]!, 1);
    m.live.delete(this.k);
    r.twice.delete(this.k);
    r.cancels.set(this.k, { at: performance.now(), how: 'get' });
  }
  toString(): string {
    return `Deregister(${this.k})`;
  }
}

class Reject implements fc.AsyncCommand<ObsModel, ObsReal> {
  constructor(readonly k: number) {}
  check(m: Readonly<ObsModel>): boolean {
    return m.live.has(this.k);
  }
  async run(m: ObsModel, r: ObsReal): Promise<void> {
    judge(m, r);
    const token = r.tokens[this.k]!;
    const since = r.s.mark();
    r.s.onCon = (w) => (w.token.equals(token) && isNotification(w) ? 'rst' : undefined);
    const n = await r.s.wait((h) => isNotification(decodedOf(h)) && decodedOf(h)!.token.equals(token), Math.min(MAX_INTERVAL_MS, r.intervalMs * 3), since);
    r.s.onCon = undefined;
    if (!n) throw new Error(`no notification for token ${this.k} to reject`);
    const w = decodedOf(n)!;
    if (w.type === NON) reset(r.s, w.messageId);
    judge(m, r);
    m.live.delete(this.k);
    r.twice.delete(this.k);
    r.cancels.set(this.k, { at: performance.now(), how: 'rst' });
  }
  toString(): string {
    return `Reject(${this.k})`;
  }
}

async function modelCase(p: Probe, path: string, intervalMs: number): Promise<void> {
  const ids = ['RFC7641:4.2-notification-token', 'RFC7641:4.4-observe-sequence', 'RFC7641:4.1-reregister-replaces', 'RFC7641:2-deregister-get', 'RFC7641:4.5-rst-removes-observer'];
  await p.run(`observe ${path}, model-based (register, await, deregister, reject on two tokens)`, ids, async (s) => {
    const k = fc.integer({ min: 0, max: 1 });
    const commands = [k.map((i) => new Register(i)), fc.constant(new Await()), k.map((i) => new Deregister(i)), k.map((i) => new Reject(i))];
    let runs = 0;
    let setup: string | undefined;
    const property = fc.asyncProperty(fc.commands(commands, { maxCommands: MAX_COMMANDS }), async (cmds) => {
      if (setup) return;
      runs++;
      const tokens = [s.token(4), s.token(4)];
      const model: ObsModel = { live: new Set() };
      const real: ObsReal = { s, path, tokens, intervalMs, last: new Map(), twice: new Set(), cancels: new Map(), judged: s.mark() };
      try {
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        // What the last command caused shows within one more interval.
        await s.collect(Math.round(intervalMs * 1.5) + 50);
        judge(model, real);
      } catch (e) {
        if (!(e instanceof Violation)) setup = (e as Error).message;
        else throw e;
      } finally {
        s.onCon = undefined;
        for (const i of model.live) await register(s, path, tokens[i]!, 1);
        for (const [i, c] of real.cancels) if (c.how === 'rst') await register(s, path, tokens[i]!, 1);
      }
    });
    const d = await fc.check(property, {
      seed: p.ctx.instance.seed,
      numRuns: Math.max(1, Math.min(p.ctx.budget.numRuns, 8)),
      interruptAfterTimeLimit: Math.min(p.ctx.budget.timeMs, 12_000),
      markInterruptAsFailure: false,
    });
    if (d.failed && d.errorInstance instanceof Violation) {
      const sequence = String(d.counterexample?.[0] ?? '').replace(/\s*\/\*replayPath=.*\*\//, '');
      const cx: Counterexample = { seed: d.seed, path: d.counterexamplePath ?? '', value: sequence, numRuns: d.numRuns, shrinks: d.numShrinks };
      return [fail(d.errorInstance.id, `${d.errorInstance.why} (shrunk to ${sequence})`, cx)];
    }
    if (d.failed) return [open('RFC7641:4.4-observe-sequence', `the model-based run stopped: ${(d.errorInstance as Error | undefined)?.message ?? 'unknown'}`)];
    if (setup) return [open('RFC7641:4.4-observe-sequence', `the model-based run stopped after ${runs} sequences: ${setup}`)];
    return ids.map((id) => pass(id, `${runs} random sequences of up to ${MAX_COMMANDS} observe commands on two tokens held it (seed ${d.seed})${d.interrupted ? ', time bound reached' : ''}`));
  });
}


