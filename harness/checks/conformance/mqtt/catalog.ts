// Runs the catalog's cases for one protocol version: each case on fresh
// connections, bounded in time, its transcript kept apart, its topics and
// sessions cleaned afterwards; statements the declaration switches off are
// skipped without running. Then the passive statements over every packet.

import type { Counterexample, TranscriptEntry } from '../../../model/index.js';
import { CONNECT_CASES } from './cases-connect.js';
import { PUBLISH_CASES } from './cases-publish.js';
import { RETAIN_WILL_CASES } from './cases-retain.js';
import { SESSION_CASES } from './cases-session.js';
import { SUBSCRIBE_CASES } from './cases-subscribe.js';
import { V5_CASES } from './cases-v5.js';
import { PROP, rawConnect, rawDisconnect, rawPublish, T } from './frames.js';
import { judgePassive } from './passive.js';
import { lastCounterexample, qos2Case } from './qos2-model.js';
import { fold, SetupError, Trial, type Case, type Env, type Judgement } from './trial.js';
import { Wire } from './wire.js';

/** Every case, in run order (the model last: it takes the time budget). */
export function allCases(replay?: (v: 4 | 5) => string | undefined): readonly Case[] {
  return [...CONNECT_CASES, ...PUBLISH_CASES, ...SUBSCRIBE_CASES, ...RETAIN_WILL_CASES, ...SESSION_CASES, ...V5_CASES, qos2Case(replay) as Case];
}

/** What one statement came to in this run, with what shows it. */
export interface StatementOutcome {
  readonly id: string;
  readonly judgement: Judgement;
  readonly transcript: readonly TranscriptEntry[];
  readonly counterexample?: Counterexample;
  /** The case(s) that judged it. */
  readonly cases: readonly string[];
}

export interface CatalogOptions {
  /** Why a statement is not run (declared not implemented, not selected, ...), or undefined. */
  readonly skip: (id: string) => string | undefined;
  /** Cases run no later than this (ms since epoch); the rest are inconclusive. */
  readonly deadline: number;
  readonly onCase?: (summary: string) => void;
}

const idsOf = (c: Case, v: 4 | 5): string[] => [...new Set(Object.values(c.ids).map((pair) => pair[v === 4 ? 0 : 1]).filter((x): x is string => x !== undefined))];

/** Clears the retained topics and persistent sessions a case left, best effort. */
async function cleanup(env: Env, t: Trial<string>): Promise<void> {
  for (const w of t.wires) w.destroy();
  if (t.retained.size === 0 && t.sessions.size === 0) return;
  const cred = env.cred;
  const connect = (clientId: string) =>
    rawConnect({
      version: env.version,
      clientId,
      clean: true,
      ...(cred.username !== undefined ? { username: cred.username } : {}),
      ...(cred.password !== undefined ? { password: cred.password } : {}),
      ...(env.version === 5 ? { props: [[PROP.sessionExpiry, 0]] } : {}),
    });
  const once = async (clientId: string, after: Buffer[], what: string) => {
    const opened = await Wire.open(env.ep, env.version, env.io, 'cleanup');
    if (!opened.ok) return;
    const w = opened.wire;
    w.send(connect(clientId), `CONNECT clean (${what})`);
    const ack = await w.take((f) => f.type === T.CONNACK, env.waitMs);
    if (ack?.code === 0) {
      for (const b of after) w.send(b, 'clear retained');
      w.send(rawDisconnect(env.version), 'DISCONNECT');
      await w.waitClosed(env.waitMs);
    }
    w.destroy();
  };
  if (t.retained.size) await once(env.clientId(), [...t.retained].map((topic) => rawPublish({ version: env.version, topic, qos: 0, retain: true, payload: '' })), 'clear the retained topics');
  for (const id of t.sessions) await once(id, [], `discard session ${id}`);
}

export async function runCatalog(env: Env, cases: readonly Case[], o: CatalogOptions): Promise<StatementOutcome[]> {
  const v = env.version;
  const ctx = env.ctx;
  const results = new Map<string, { judgements: Judgement[]; transcripts: TranscriptEntry[][]; cases: string[]; counterexample?: Counterexample }>();
  const add = (id: string, j: Judgement, transcript: TranscriptEntry[], name: string, cx?: Counterexample) => {
    const r = results.get(id) ?? { judgements: [], transcripts: [], cases: [] };
    r.judgements.push(j);
    if (j.verdict === 'fail') r.transcripts.push(transcript);
    r.cases.push(name);
    if (cx) r.counterexample = cx;
    results.set(id, r);
  };
  for (const [index, c] of cases.entries()) {
    const ids = idsOf(c, v);
    if (ids.length === 0) continue;
    const skips = new Map(ids.map((id) => [id, o.skip(id)]));
    if (ids.every((id) => skips.get(id) !== undefined)) {
      for (const id of ids) add(id, { verdict: 'skipped', reason: skips.get(id)! }, [], c.name);
      continue;
    }
    if (ctx.signal.aborted || Date.now() > o.deadline) {
      for (const id of ids) add(id, { verdict: 'inconclusive', reason: ctx.signal.aborted ? 'the run was interrupted' : "the check's time bound was reached before this case" }, [], c.name);
      continue;
    }
    ctx.transcript.take();
    ctx.transcript.note(`case "${c.name}" (${ids.join(', ')})`);
    const t = new Trial(env, c as Case<string>, index);
    let setup: string | undefined;
    const isModel = c.name.includes('model-based');
    const boundMs = Math.min(Math.max(0, o.deadline - Date.now()), isModel ? ctx.budget.timeMs + 60_000 : Math.max(20_000, env.waitMs * 15));
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<'overrun'>((resolve) => {
      timer = setTimeout(() => resolve('overrun'), boundMs);
    });
    const work = c.run(t).then(
      () => undefined,
      (e: unknown) => e,
    );
    const first = await Promise.race([work, overrun]);
    clearTimeout(timer);
    let failure: unknown;
    if (first === 'overrun') {
      setup = `the case ran past its ${boundMs}ms bound`;
      for (const w of t.wires) w.destroy();
      await Promise.race([work, new Promise((r) => setTimeout(r, 3000))]);
    } else if (first instanceof SetupError) {
      setup = first.message;
    } else if (first !== undefined) {
      failure = first;
    }
    await cleanup(env, t);
    const transcript = ctx.transcript.take();
    if (failure !== undefined) throw failure;
    const cx = isModel ? lastCounterexample.get(env) : undefined;
    const verdicts: string[] = [];
    for (const id of ids) {
      const skip = skips.get(id);
      if (skip !== undefined) {
        add(id, { verdict: 'skipped', reason: skip }, [], c.name);
        continue;
      }
      const js = t.judged.get(id);
      const j: Judgement = js?.length ? fold(js) : { verdict: 'inconclusive', reason: setup ? `could not be judged: ${setup}` : 'the case ended before judging it' };
      // A setup failure after some judgements leaves the rest open.
      const withSetup = setup && js?.length && j.verdict !== 'fail' ? fold([j, { verdict: 'inconclusive', reason: `the case stopped early: ${setup}` }]) : j;
      add(id, withSetup, transcript, c.name, withSetup.verdict === 'fail' ? cx : undefined);
      verdicts.push(`${id} ${withSetup.verdict}`);
    }
    o.onCase?.(`${v === 4 ? '3.1.1' : '5.0'} ${c.name}: ${verdicts.join(', ')}`);
  }
  for (const p of judgePassive(v, env.wires, env.io.peer)) {
    const skip = o.skip(p.id);
    add(p.id, skip !== undefined ? { verdict: 'skipped', reason: skip } : p.judgement, [...p.evidence], 'every packet of the run');
  }
  return [...results.entries()].map(([id, r]) => {
    const j = fold(r.judgements);
    return { id, judgement: j, transcript: r.transcripts.flat(), cases: [...new Set(r.cases)], ...(r.counterexample ? { counterexample: r.counterexample } : {}) };
  });
}
