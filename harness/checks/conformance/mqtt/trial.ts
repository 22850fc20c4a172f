// What one catalog case works with: the run's environment for one protocol
// version (endpoint, credentials, topic prefix, timing, the server's
// announced capabilities), and a Trial that records the case's judgements.
// Cases name statements by a key with one id per version, so one case body
// serves MQTT 3.1.1 and 5.0 where the spec says the same thing twice.

import type { CheckContext, Verdict } from '../../../model/index.js';
import type { Io } from '../../../protocols/common/io.js';
import type { MqttEndpoint } from '../../../protocols/mqtt/connect-attempt.js';
import type { Version } from './frames.js';
import type { Wire } from './wire.js';

/** The device did not do what a positive step needs (a CONNECT refused, a SUBACK missing): the statement could not be judged. */
export class SetupError extends Error {}

export interface Credentials {
  readonly username?: string;
  readonly password?: string;
}

/** What the server announced (v5 CONNACK properties; v4: the protocol's fixed answers). */
export interface Caps {
  readonly maximumQos: number;
  readonly retainAvailable: boolean;
  readonly wildcard: boolean;
  readonly subscriptionIds: boolean;
  readonly shared: boolean;
  readonly topicAliasMaximum: number;
  readonly receiveMaximum: number;
  readonly serverKeepAlive?: number;
  readonly maximumPacketSize?: number;
}

/** A connection opened during the run, for the statements judged over every packet (passive ones). */
export interface WireRecord {
  readonly wire: Wire;
  /** Client sent an Authentication Method. */
  readonly authMethod: boolean;
}

export interface Env {
  readonly ctx: CheckContext;
  readonly version: Version;
  readonly ep: MqttEndpoint;
  readonly io: Io;
  readonly cred: Credentials;
  /** Topic prefix for this run and version, ending with `/`. */
  readonly base: string;
  /** How long to wait for something that must NOT arrive. */
  readonly settleMs: number;
  /** How long to wait for an answer that must arrive. */
  readonly waitMs: number;
  /** Whether the principal may subscribe to `#` (declared, or nothing declared). */
  readonly rootRead: boolean;
  /** A second principal declared NOT to publish `topic` (3.3.5-2). */
  readonly restricted?: { readonly name: string; readonly cred: Credentials; readonly topic: string };
  readonly caps: Caps;
  readonly wires: WireRecord[];
  /** A fresh client identifier: 23 alphanumeric characters at most. */
  clientId(): string;
}

export type Outcome = Exclude<Verdict, 'error'>;
export interface Judgement {
  readonly verdict: Outcome;
  readonly reason: string;
}

/** [3.1.1 id, 5.0 id]: undefined where the version has no such statement. */
export type IdPair = readonly [v4: string | undefined, v5: string | undefined];

export interface Case<K extends string = string> {
  readonly name: string;
  readonly ids: Readonly<Record<K, IdPair>>;
  run(t: Trial<K>): Promise<unknown>;
}

/** Types the keys of a case from its `ids`. */
export function defineCase<K extends string>(c: Case<K>): Case<K> {
  return c;
}

const RANK: Readonly<Record<Outcome, number>> = { fail: 3, inconclusive: 2, pass: 1, skipped: 0 };

/** Several judgements of one statement: fail > inconclusive > pass > skipped. */
export function fold(list: readonly Judgement[]): Judgement {
  const worst = Math.max(...list.map((j) => RANK[j.verdict]));
  const top = list.filter((j) => RANK[j.verdict] === worst);
  const reasons = [...new Set(top.map((j) => j.reason))];
  return { verdict: top[0]!.verdict, reason: reasons.join('; ') };
}

export class Trial<K extends string = string> {
  readonly judged = new Map<string, Judgement[]>();
  /** Connections to close when the case ends. */
  readonly wires: Wire[] = [];
  /** Retained topics to clear, persistent client ids to clean, when the case ends. */
  readonly retained = new Set<string>();
  readonly sessions = new Set<string>();

  constructor(
    readonly env: Env,
    readonly c: Case<K>,
    readonly index: number,
  ) {}

  get v(): Version {
    return this.env.version;
  }

  /** The statement id a key stands for in this version. */
  idOf(key: K): string | undefined {
    return this.c.ids[key][this.v === 4 ? 0 : 1];
  }

  /** A topic of this case under the run's prefix. */
  topic(name: string): string {
    return `${this.env.base}c${this.index}/${name}`;
  }

  judge(key: K, verdict: Outcome, reason: string): void {
    const id = this.idOf(key);
    if (!id) return;
    const list = this.judged.get(id) ?? [];
    list.push({ verdict, reason });
    this.judged.set(id, list);
  }

  pass(key: K, reason: string): void {
    this.judge(key, 'pass', reason);
  }
  fail(key: K, reason: string): void {
    this.judge(key, 'fail', reason);
  }
  inconclusive(key: K, reason: string): void {
    this.judge(key, 'inconclusive', reason);
  }
  skip(key: K, reason: string): void {
    this.judge(key, 'skipped', reason);
  }
  /** pass or fail on `ok`. */
  expect(key: K, ok: boolean, passReason: string, failReason: string): boolean {
    this.judge(key, ok ? 'pass' : 'fail', ok ? passReason : failReason);
    return ok;
  }

  sleep(ms: number): Promise<void> {
    return this.env.ctx.sleep(ms);
  }

  /** Waits the settle window: long enough for anything in flight to arrive. */
  settle(factor = 1): Promise<void> {
    return this.sleep(this.env.settleMs * factor);
  }
}
