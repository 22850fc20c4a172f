// A profile names the checks a run plans and the requirements they evidence.

export interface ProfileRequirement {
  readonly id: string;
  readonly title: string;
  /** Check ids evidencing it; empty with a `status` other than covered. */
  readonly checks: readonly string[];
  readonly status: 'covered' | 'declared' | 'not-covered';
  readonly reason?: string;
}

export interface Profile {
  readonly name: string;
  readonly source: string;
  readonly description: string;
  /** Check ids (or `prefix.*`) to plan. */
  readonly checks: readonly string[];
  readonly requirements: readonly ProfileRequirement[];
}
