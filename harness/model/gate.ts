// CI gating: the policy (`--gate`), the baseline file of accepted findings
// (gauntlet-baseline/1: each with a justification and an expiry date) and the
// gate's decision. Pure: the run, `merge` and tests decide the same way.
//
// A finding is matched to the baseline by its fingerprint: the check
// instance plus its summary with every number blanked, so a finding keeps its
// fingerprint across runs, seeds and timings but a different finding (another
// credential, another route) gets another. An accepted entry past its expiry
// date no longer covers its finding and fails the gate on its own, so an
// acceptance is revisited, never forgotten.

import type { Report } from './report.js';

export const GATES = ['any-fail', 'new-findings', 'none'] as const;
export type Gate = (typeof GATES)[number];

export const BASELINE_FORMAT = 'gauntlet-baseline/1';

export interface BaselineEntry {
  readonly fingerprint: string;
  /** The instance and summary when accepted, for the reader. */
  readonly instance: string;
  readonly summary: string;
  /** Why the finding is accepted (who, ticket, risk decision). */
  readonly justification: string;
  /** YYYY-MM-DD: the acceptance holds through this day. */
  readonly expires: string;
}

export interface Baseline {
  readonly format: typeof BASELINE_FORMAT;
  readonly accepted: readonly BaselineEntry[];
}

/** What the gate needs of one finding. */
export interface GateFinding {
  readonly id: string;
  readonly instanceId: string;
  readonly summary: string;
}

export interface GateResult {
  readonly policy: Gate;
  readonly passed: boolean;
  /** Failed instances (any-fail). */
  readonly failing: readonly string[];
  /** Findings the baseline does not cover (new-findings), by finding id. */
  readonly newFindings: readonly string[];
  /** Findings an unexpired baseline entry covers, by finding id. */
  readonly accepted: readonly string[];
  /** Baseline entries past their expiry date (by fingerprint, with the date). */
  readonly expired: readonly { readonly fingerprint: string; readonly instance: string; readonly expires: string }[];
  /** One line for the console and the reports. */
  readonly reason: string;
}

/** FNV-1a, 64-bit, as 16 hex digits: pure and stable across platforms. */
function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  const mask = 0xffffffffffffffffn;
  for (const b of new TextEncoder().encode(text)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & mask;
  }
  return h.toString(16).padStart(16, '0');
}

/** `<instance>:<16 hex>`: stable across runs, seeds and timings. */
export function fingerprintOf(f: { readonly instanceId: string; readonly summary: string }): string {
  const shape = f.summary.replace(/\d+(\.\d+)?/g, '#').replace(/\s+/g, ' ').trim();
  return `${f.instanceId}:${fnv1a64(shape)}`;
}

/**
 * The gate's decision. `today` is YYYY-MM-DD (the caller's clock); an entry
 * expires after its `expires` day. any-fail: every failed instance fails the
 * gate, accepted or not (a baseline is for new-findings); new-findings: a
 * finding no unexpired entry covers fails it, and so does any expired entry;
 * none: never fails.
 */
export function evaluateGate(policy: Gate, failing: readonly string[], findings: readonly GateFinding[], baseline: Baseline | undefined, today: string): GateResult {
  const entries = baseline?.accepted ?? [];
  const expired = entries.filter((e) => e.expires < today).map((e) => ({ fingerprint: e.fingerprint, instance: e.instance, expires: e.expires }));
  const live = new Set(entries.filter((e) => e.expires >= today).map((e) => e.fingerprint));
  const accepted = findings.filter((f) => live.has(fingerprintOf(f))).map((f) => f.id);
  const newFindings = findings.filter((f) => !live.has(fingerprintOf(f))).map((f) => f.id);
  const common = { policy, failing: [...failing], newFindings, accepted, expired };
  switch (policy) {
    case 'none':
      return { ...common, passed: true, reason: `gate none: never fails (${failing.length} failing, ${findings.length} findings)` };
    case 'any-fail':
      return failing.length
        ? { ...common, passed: false, reason: `gate any-fail: ${failing.length} check instance(s) failed: ${failing.join(', ')}` }
        : { ...common, passed: true, reason: 'gate any-fail: no check failed' };
    case 'new-findings': {
      const why: string[] = [];
      if (newFindings.length) why.push(`${newFindings.length} finding(s) not in the baseline: ${newFindings.join(', ')}`);
      if (expired.length) why.push(`${expired.length} baseline acceptance(s) expired: ${expired.map((e) => `${e.instance} (${e.expires})`).join(', ')}`);
      const tail = accepted.length ? `; ${accepted.length} accepted by the baseline` : '';
      return why.length
        ? { ...common, passed: false, reason: `gate new-findings: ${why.join('; ')}${tail}` }
        : { ...common, passed: true, reason: `gate new-findings: no new finding${tail}` };
    }
  }
}

/** The gate's inputs from a report: its failed instances and every finding. */
export function gateInputsOf(report: {
  readonly checks: readonly { readonly id: string; readonly verdict: string; readonly findings: readonly { readonly id: string; readonly summary: string }[] }[];
}): { failing: string[]; findings: GateFinding[] } {
  return {
    failing: report.checks.filter((c) => c.verdict === 'fail').map((c) => c.id),
    findings: report.checks.flatMap((c) => c.findings.map((f) => ({ id: f.id, instanceId: c.id, summary: f.summary }))),
  };
}

/** The report with the gate's decision on it (the report writers' finish hook). */
export function withGate(policy: Gate, baseline: Baseline | undefined, day: string): (r: Report) => Report {
  return (r) => {
    const { failing, findings } = gateInputsOf(r);
    return { ...r, gate: evaluateGate(policy, failing, findings, baseline, day) };
  };
}
