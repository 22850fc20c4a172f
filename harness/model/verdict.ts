// Verdicts: what the device did, as the check's oracle judged it. A harness
// failure is never a verdict of the device; it is 'error' with a typed code.

export const VERDICTS = ['pass', 'fail', 'inconclusive', 'error', 'skipped'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Severity order used when several verdicts are folded into one (requirement, shard merge). */
export const VERDICT_RANK: Readonly<Record<Verdict, number>> = {
  skipped: 0,
  pass: 1,
  inconclusive: 2,
  error: 3,
  fail: 4,
};

export function worstVerdict(verdicts: readonly Verdict[]): Verdict | undefined {
  let worst: Verdict | undefined;
  for (const v of verdicts) if (worst === undefined || VERDICT_RANK[v] > VERDICT_RANK[worst]) worst = v;
  return worst;
}

export type VerdictCounts = Record<Verdict, number>;

export function emptyCounts(): VerdictCounts {
  return { pass: 0, fail: 0, inconclusive: 0, error: 0, skipped: 0 };
}
