// The reporter contract: optional hooks, one per run event. A reporter may be
// async; the multiplexer awaits each in turn and isolates failures, so one
// broken reporter never ends a run.

import type { CheckResult, ProfileSummary, RunEvent, RunMeta, PlannedInstance } from '../model/index.js';

export interface Reporter {
  readonly name: string;
  onRunBegin?(run: RunMeta, plan: readonly PlannedInstance[], profile?: ProfileSummary): void | Promise<void>;
  onCheckBegin?(instanceId: string, index: number, total: number): void | Promise<void>;
  onCase?(instanceId: string, n: number, summary: string): void | Promise<void>;
  onNote?(text: string, instanceId?: string): void | Promise<void>;
  onCheckEnd?(result: CheckResult): void | Promise<void>;
  onRunEnd?(end: Extract<RunEvent, { type: 'run-end' }>): void | Promise<void>;
}
