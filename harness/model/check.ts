// The check contract. A check is a descriptor plus a run function; it gets a
// context with everything it may touch and returns an outcome. It never
// throws for a device's behaviour: that is a verdict. It throws (a
// GauntletError) only when the harness itself breaks.

import type { Evidence, Severity, TranscriptEntry } from './evidence.js';
import type { Interface, Principal, Protocol, Target } from './target.js';
import type { Verdict } from './verdict.js';
import type { FuzzTuning } from './fuzz.js';
import type { BenchPath, PathResult } from './bench.js';

export interface CheckDescriptor {
  /** Stable id, e.g. `auth.default-credentials`. */
  readonly id: string;
  readonly title: string;
  /** STANDARDS.md check id(s) this implements, e.g. `C01`. */
  readonly catalog: readonly string[];
  /** Requirement ids it evidences, e.g. `EN303645:5.1-1`, `NISTIR8259A:LAI-2`. */
  readonly requirements: readonly string[];
  /** Protocols it applies to: one instance per matching interface. */
  readonly protocols: readonly Protocol[];
  /**
   * `target`: one instance for the whole device (`<id>@target`), e.g. a port
   * scan; its context's `iface` is the first interface, used for liveness.
   * Default `interface`: one instance per matching interface.
   */
  readonly per?: 'interface' | 'target';
  /**
   * `fresh` checks run before the run provisions a factory-fresh unit;
   * `update` checks run last, on the baseline firmware, followed by one
   * run-level positive control (a valid newer image installs) whose failure
   * makes their passes inconclusive; all others are `main`.
   */
  readonly phase: 'fresh' | 'main' | 'update';
  readonly severity: Severity;
  readonly remedy: string;
  /** Upper bound on one instance's wall time, before a per-run override. */
  readonly timeoutMs: number;
  /**
   * The check's wall time follows the run's time budget (a fuzz campaign):
   * its bound widens to the budget plus room for shrinking and recovery.
   */
  readonly budgeted?: boolean;
}

/** One planned unit of work: a check against one interface. */
export interface CheckInstance {
  /** `<check id>@<interface id>` */
  readonly id: string;
  readonly checkId: string;
  readonly interfaceId: string;
  /** Derived from the run seed and the instance id, so `--only` replays the same cases. */
  readonly seed: number;
}

/** A failed observation a check reports; the runner turns it into a Finding. */
export interface FindingDraft {
  readonly summary: string;
  readonly evidence: Evidence;
  readonly severity?: Severity;
  /** The requirements this finding speaks to, when fewer than the check's (a conformance statement); ids outside the check's are dropped. */
  readonly requirements?: readonly string[];
}

export interface CheckOutcome {
  readonly verdict: Exclude<Verdict, 'error'>;
  /** One line: why this verdict. */
  readonly reason: string;
  readonly findings: readonly FindingDraft[];
  /** Evidence for a non-failing verdict (what was tried, what came back). */
  readonly evidence?: Evidence;
  /** Property checks: how many cases ran. */
  readonly cases?: number;
  /** Figures a lab reads at a glance (fuzz: cases/s, probes, restarts, how the campaign ended). */
  readonly stats?: Stats;
  /** Device benchmarks: one result per hot path measured. */
  readonly bench?: readonly PathResult[];
  /** Conformance checks: one result per normative statement (its id is a requirement id of the check). */
  readonly statements?: readonly StatementResult[];
}

/**
 * One normative statement judged by a conformance check, e.g.
 * `MQTT-3.1.1:MQTT-3.1.0-2` or `RFC7252:4.2-dedup`. Its id is one of the
 * check's requirement ids, so a conformance profile's requirement matrix has
 * a verdict per statement. Skipped: the declaration marks it not implemented
 * (an optional feature), or the target lacks what it needs.
 */
export interface StatementResult {
  /** `<SPEC>:<statement id>`. */
  readonly id: string;
  readonly verdict: Exclude<Verdict, 'error'>;
  /** One line: what was sent, what came back, why this verdict. */
  readonly reason: string;
}

export type Stats = Readonly<Record<string, number | string>>;

/** Records what crosses the wire during one check instance. */
export interface TranscriptSink {
  record(entry: Omit<TranscriptEntry, 't'>): void;
  note(text: string): void;
  /** Everything recorded so far (a copy). */
  entries(): TranscriptEntry[];
  /** Starts a fresh segment; returns what was recorded before. */
  take(): TranscriptEntry[];
}

/** The only way a check reaches the network: every connect goes through the scope guard. */
export interface ScopeGuard {
  /** Throws GauntletError(SCOPE_VIOLATION) if host is not named in the target file. */
  assert(host: string, what: string): void;
}

export interface ReplayHint {
  /** fast-check path to replay a shrunk counterexample directly. */
  readonly path?: string;
}

/**
 * The lab's hand on the device's power: restarts it after a crash or hang
 * (the target file's restart command, or the built-in device's own process).
 */
export interface TargetControl {
  /** How long the device may take to come back on its own before restart() is called, ms. */
  readonly rebootWaitMs?: number;
  /** Restarts the device; resolves to one line saying what was done, rejects with a GauntletError saying what failed. */
  restart(signal: AbortSignal): Promise<string>;
}

/** How `gauntlet bench` (and the floors check of `gauntlet run`) drives each hot path. */
export interface BenchSettings {
  /** Measured time per path, ms. */
  readonly durationMs: number;
  /** Connections (sockets, sessions) per path; undefined: each path's own default. */
  readonly connections?: number;
  /** Requests or messages in flight per connection; undefined: each path's own default. */
  readonly inFlight?: number;
  /** Only these paths (others are not planned). */
  readonly paths?: readonly BenchPath[];
}

/** Bound on property-based runs and fuzz campaigns. */
export interface Budget {
  readonly numRuns: number;
  readonly timeMs: number;
  /** Fuzz: cases sent between two liveness probes (default 1). */
  readonly batch?: number;
}

export interface CheckContext {
  readonly target: Target;
  /** Present when the target can be restarted (robustness checks recover with it). */
  readonly control?: TargetControl;
  /** Fuzz oracle thresholds set for this run (defaults otherwise). */
  readonly fuzz?: FuzzTuning;
  /** Device benchmark settings set for this run (gauntlet bench; defaults otherwise). */
  readonly bench?: BenchSettings;
  readonly iface: Interface;
  readonly instance: CheckInstance;
  readonly scope: ScopeGuard;
  readonly transcript: TranscriptSink;
  readonly signal: AbortSignal;
  /** Per-operation network timeout (connect, reply), ms. */
  readonly ioTimeoutMs: number;
  /** Bound on property-based runs: cases and wall time. */
  readonly budget: Budget;
  readonly replay: ReplayHint;
  /** Resolves after ms, or rejects when the run is aborted. */
  sleep(ms: number): Promise<void>;
  /** Reports a case (one input or sequence) for progress and the event log. */
  caseDone(summary: string): void;
  /** Keeps failed logins per user name under the declared lockout limit. */
  readonly pacer: LoginPacer;
  principal(name: string): Principal | undefined;
}

export interface LoginPacer {
  /** Waits until one more failed login for `user` would stay under the declared limit. */
  beforeAttempt(user: string): Promise<void>;
  /** Tells the pacer how the attempt went. */
  afterAttempt(user: string, granted: boolean): void;
  /** Waits until the device's lockout for `user` must have lapsed (after a deliberate lockout). */
  waitOut(user: string): Promise<void>;
}

export interface Check extends CheckDescriptor {
  /**
   * Whether the interface has anything for this check at all; false plans no
   * instance there (e.g. update checks on an interface that carries no
   * declared update path). Default: every interface of the check's protocols.
   */
  relevant?(target: Target, iface: Interface): boolean;
  /** Why the check does not apply to this interface, or undefined when it does. */
  applies(target: Target, iface: Interface): string | undefined;
  run(ctx: CheckContext): Promise<CheckOutcome>;
}
