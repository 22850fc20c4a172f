// report.json, format gauntlet-report/1. Later tools (merge, gates, the HTML
// report) read this shape; add fields, never rename or remove them.

import type { RunMeta } from './events.js';
import type { StatementResult, Stats } from './check.js';
import type { Evidence, Severity } from './evidence.js';
import type { Verdict, VerdictCounts } from './verdict.js';
import type { PathResult } from './bench.js';
import type { RequirementMatrix } from './requirements.js';
import type { GateResult } from './gate.js';

export interface ReportFinding {
  readonly id: string;
  readonly summary: string;
  readonly severity: Severity;
  readonly replay: string;
  /** Path of the finding file, relative to the report directory. */
  readonly file: string;
  /** Present when the finding speaks to fewer requirements than its check (a conformance statement). */
  readonly requirements?: readonly string[];
}

export interface ReportCheck {
  readonly id: string;
  readonly check: string;
  readonly interface: string;
  readonly title: string;
  readonly verdict: Verdict;
  readonly requirements: readonly string[];
  readonly reason: string;
  readonly durationMs: number;
  readonly cases: number;
  readonly errorCode?: string;
  readonly findings: readonly ReportFinding[];
  readonly evidence?: Evidence;
  /** Figures of the check (fuzz campaigns: cases, cases/s, probes, restarts, end). */
  readonly stats?: Stats;
  /** Device benchmarks (performance checks): per hot path, rate, latency percentiles, errors and settings. */
  readonly bench?: readonly PathResult[];
  /** Conformance checks: one verdict per normative statement. */
  readonly statements?: readonly StatementResult[];
}

export interface Report {
  readonly format: 'gauntlet-report/1';
  readonly run: RunMeta & { readonly finishedAt?: string; readonly durationMs?: number; readonly interrupted: boolean };
  readonly checks: readonly ReportCheck[];
  readonly summary: VerdictCounts;
  /** The profile's requirements with their verdicts and coverage figures. */
  readonly requirements?: RequirementMatrix;
  /** The CI gate's decision, when the run computed one. */
  readonly gate?: GateResult;
}
