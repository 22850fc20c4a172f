// Run events: the runner emits them, every reporter consumes them, and the
// event log stores them one per line so `merge` can replay shards later.

import type { CheckInstance, StatementResult, Stats } from './check.js';
import type { Evidence, Finding } from './evidence.js';
import type { Verdict, VerdictCounts } from './verdict.js';
import type { PathResult } from './bench.js';
import type { ProfileSummary } from './requirements.js';

export const EVENT_LOG_FORMAT = 'gauntlet-events/1';
export const REPORT_FORMAT = 'gauntlet-report/1';
export const FINDING_FORMAT = 'gauntlet-finding/1';

export interface RunMeta {
  readonly id: string;
  readonly seed: number;
  readonly startedAt: string;
  readonly target: string;
  /** Target file path, or `builtin:reference-device`. */
  readonly targetSource: string;
  readonly profile: string;
  readonly harnessVersion: string;
  /** Reference-device flaws switched on for this run (demos and self-tests). */
  readonly flaws: readonly string[];
  /** The exact command line, for the record. */
  readonly argv: readonly string[];
  readonly node: string;
  readonly platform: string;
  /** The machine the harness ran on (benchmarks are read against it). */
  readonly machine?: { readonly cpu: string; readonly cores: number; readonly memoryGiB: number };
  /** `--shard i/n`; planIds: every instance id of the whole (unsharded) plan, in order, so `merge` keeps the order and refuses shards of different plans. */
  readonly shard?: { readonly index: number; readonly total: number; readonly planIds?: readonly string[] };
}

export interface PlannedInstance extends CheckInstance {
  readonly title: string;
  readonly requirements: readonly string[];
  /** Set when the planner already knows the check does not apply. */
  readonly skipReason?: string;
}

export interface CheckResult {
  readonly instance: CheckInstance;
  readonly title: string;
  readonly verdict: Verdict;
  readonly reason: string;
  readonly requirements: readonly string[];
  readonly durationMs: number;
  readonly cases: number;
  readonly findings: readonly Finding[];
  readonly evidence?: Evidence;
  readonly stats?: Stats;
  /** Device benchmarks: one result per hot path measured. */
  readonly bench?: readonly PathResult[];
  /** Conformance checks: one verdict per normative statement. */
  readonly statements?: readonly StatementResult[];
  /** For verdict 'error': the harness error code. */
  readonly errorCode?: string;
}

export type RunEvent =
  | {
      readonly type: 'run-begin';
      readonly run: RunMeta;
      readonly plan: readonly PlannedInstance[];
      /** The profile's requirement table, for the requirement matrix (absent in logs before it existed). */
      readonly profile?: ProfileSummary;
    }
  | { readonly type: 'check-begin'; readonly instanceId: string; readonly index: number; readonly total: number }
  | { readonly type: 'case'; readonly instanceId: string; readonly n: number; readonly summary: string }
  | { readonly type: 'note'; readonly instanceId?: string; readonly text: string }
  | { readonly type: 'check-end'; readonly result: CheckResult }
  | {
      readonly type: 'run-end';
      readonly finishedAt: string;
      readonly durationMs: number;
      readonly summary: VerdictCounts;
      readonly interrupted: boolean;
    };

export type RunEventType = RunEvent['type'];
