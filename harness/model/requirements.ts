// The requirement matrix: a profile's requirements, each with the verdict
// its checks' verdicts give it, and coverage figures per profile. Pure: the
// live run, `merge` (replaying shard logs) and the reports all derive the
// same matrix from the same profile and check verdicts.
//
// A requirement row's instances are the check instances whose requirement
// ids include the row's id, plus the instances of the checks the profile
// names for it. Verdict of a covered row: fail if any instance failed, else
// inconclusive if any was inconclusive or broke (error), else pass if any
// passed; a row whose instances were all skipped, or that no instance of this
// run evidences, is "not-tested" (covered by Gauntlet, not by this run).
// Declared rows are answered from the target's declaration (TS 103 701's
// conceptual cases); not-covered rows carry their reason.

import type { Profile, ProfileRequirement } from './profile.js';
import type { IcsAnswer } from './target.js';
import type { Verdict } from './verdict.js';

export type RequirementVerdict = 'pass' | 'fail' | 'inconclusive' | 'not-tested' | 'declared' | 'not-covered';

export const REQUIREMENT_VERDICTS: readonly RequirementVerdict[] = ['fail', 'inconclusive', 'pass', 'not-tested', 'declared', 'not-covered'];

/** The profile as the reports need it (carried in the run-begin event, so `merge` has it). */
export interface ProfileSummary {
  readonly name: string;
  readonly description: string;
  readonly requirements: readonly ProfileRequirement[];
}

/** What the matrix needs of one check instance's result. */
export interface InstanceVerdict {
  readonly id: string;
  readonly check: string;
  readonly verdict: Verdict;
  readonly requirements: readonly string[];
  readonly findings: number;
  /** Each finding's requirements, when some finding speaks to fewer than the instance (a row then counts only its own findings). */
  readonly findingRequirements?: readonly (readonly string[])[];
  /** Conformance checks: per-statement verdicts; a row whose id is one of them takes that statement's verdict from this instance. */
  readonly statements?: readonly { readonly id: string; readonly verdict: Verdict }[];
}

export interface RequirementRow {
  readonly id: string;
  readonly title: string;
  readonly status: ProfileRequirement['status'];
  readonly verdict: RequirementVerdict;
  /** Why: the deciding instances, the declaration's answer, or the reason it is not covered. */
  readonly reason: string;
  readonly instances: readonly { readonly id: string; readonly verdict: Verdict }[];
  readonly findings: number;
}

export interface Coverage {
  /** Requirements in the profile. */
  readonly total: number;
  /** Status covered: a check evidences them. */
  readonly tested: number;
  readonly declared: number;
  readonly notCovered: number;
  /** Verdicts of the covered ones in this run. */
  readonly pass: number;
  readonly fail: number;
  readonly inconclusive: number;
  readonly notTested: number;
}

export interface RequirementMatrix {
  readonly profile: string;
  readonly rows: readonly RequirementRow[];
  readonly coverage: Coverage;
}

function rowOf(req: ProfileRequirement, instances: readonly InstanceVerdict[]): RequirementRow {
  const base = { id: req.id, title: req.title, status: req.status };
  if (req.status === 'declared') {
    return { ...base, verdict: 'declared', reason: req.reason ?? 'answered from the declaration (ICS/IXIT), not by a network test', instances: [], findings: 0 };
  }
  if (req.status === 'not-covered') {
    return { ...base, verdict: 'not-covered', reason: req.reason ?? 'no network test evidences it', instances: [], findings: 0 };
  }
  // A conformance instance speaks for a statement row by that statement's own verdict.
  const mine = instances
    .filter((i) => i.requirements.includes(req.id) || req.checks.includes(i.check))
    .map((i) => {
      const s = i.statements?.find((x) => x.id === req.id);
      return s ? { ...i, verdict: s.verdict } : i;
    });
  const list = mine.map((i) => ({ id: i.id, verdict: i.verdict }));
  const findings = mine.reduce((n, i) => n + (i.findingRequirements ? i.findingRequirements.filter((rs) => rs.includes(req.id)).length : i.findings), 0);
  const ids = (v: readonly Verdict[]) => mine.filter((i) => v.includes(i.verdict)).map((i) => i.id);
  const failed = ids(['fail']);
  if (failed.length) return { ...base, verdict: 'fail', reason: `failed: ${failed.join(', ')}`, instances: list, findings };
  const open = ids(['inconclusive', 'error']);
  if (open.length) return { ...base, verdict: 'inconclusive', reason: `inconclusive: ${open.join(', ')}`, instances: list, findings };
  const passed = ids(['pass']);
  if (passed.length) return { ...base, verdict: 'pass', reason: `passed: ${passed.join(', ')}`, instances: list, findings };
  const reason = mine.length ? `every instance skipped (${mine.map((i) => i.id).join(', ')})` : 'no check instance of this run evidences it (no matching interface, or not selected)';
  return { ...base, verdict: 'not-tested', reason, instances: list, findings };
}

export function requirementMatrix(profile: ProfileSummary, instances: readonly InstanceVerdict[]): RequirementMatrix {
  const rows = profile.requirements.map((r) => rowOf(r, instances));
  const count = (f: (r: RequirementRow) => boolean) => rows.filter(f).length;
  return {
    profile: profile.name,
    rows,
    coverage: {
      total: rows.length,
      tested: count((r) => r.status === 'covered'),
      declared: count((r) => r.status === 'declared'),
      notCovered: count((r) => r.status === 'not-covered'),
      pass: count((r) => r.verdict === 'pass'),
      fail: count((r) => r.verdict === 'fail'),
      inconclusive: count((r) => r.verdict === 'inconclusive'),
      notTested: count((r) => r.verdict === 'not-tested'),
    },
  };
}

/** One line: `etsi-en-303-645: 58 requirements: 31 tested (29 pass, 1 fail, 1 not tested), 20 declared, 7 not covered`. */
export function coverageLine(m: RequirementMatrix): string {
  const c = m.coverage;
  const parts = [`${c.pass} pass`, ...(c.fail ? [`${c.fail} fail`] : []), ...(c.inconclusive ? [`${c.inconclusive} inconclusive`] : []), ...(c.notTested ? [`${c.notTested} not tested`] : [])];
  return `${m.profile}: ${c.total} requirements: ${c.tested} tested (${parts.join(', ')}), ${c.declared} declared, ${c.notCovered} not covered`;
}

/**
 * The profile as a run carries it: each declared requirement's reason says
 * what the target file's ICS (declaration.ics) answers for it, or that it
 * answers nothing. An N or N/A stays "declared": whether it is acceptable is
 * the provision's status (mandatory or recommended), judged by the lab.
 */
export function profileSummaryOf(profile: Pick<Profile, 'name' | 'description' | 'requirements'>, ics: Readonly<Record<string, IcsAnswer>> = {}): ProfileSummary {
  return {
    name: profile.name,
    description: profile.description,
    requirements: profile.requirements.map((r) => {
      if (r.status !== 'declared') return r;
      const a = ics[r.id];
      const what = r.reason ? ` (${r.reason})` : '';
      if (!a) return { ...r, reason: `no ICS answer in the target file${what}` };
      const detail = a.detail ? `: ${a.detail}` : '';
      const evidence = a.evidence ? ` (evidence: ${a.evidence})` : '';
      const answer = a.support === 'Y' ? `ICS Y, supported${detail}${evidence}` : a.support === 'N' ? `ICS N, not supported${detail}${evidence}` : `ICS N/A${detail}${evidence}`;
      return { ...r, reason: answer };
    }),
  };
}
