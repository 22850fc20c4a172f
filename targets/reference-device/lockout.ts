// Brute-force protection shared by every interface: failed logins are counted
// per user name (existing or not) in a sliding window; reaching the limit locks
// that name for a fixed time in which every attempt is refused, the right
// password included. Time is read through `now` so tests can drive it.

export interface LockoutPolicyMs {
  readonly attempts: number;
  readonly windowMs: number;
  readonly durationMs: number;
}

interface Entry {
  /** Times of failures inside the current window, oldest first. */
  failures: number[];
  /** Locked until this time (ms), or 0. */
  lockedUntil: number;
}

/** Past this many tracked names, stale entries are pruned (bounded memory under guessing of random names). */
const PRUNE_AT = 10_000;

export class Lockout {
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly policy: LockoutPolicyMs,
    private readonly enabled: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `user` is locked right now. A lock is never extended by attempts made during it. */
  isLocked(user: string): boolean {
    if (!this.enabled) return false;
    const e = this.entries.get(user);
    if (!e) return false;
    if (e.lockedUntil > this.now()) return true;
    if (e.lockedUntil !== 0) {
      e.lockedUntil = 0;
      e.failures = [];
    }
    return false;
  }

  /** Records a failed attempt; returns true when this failure started a lock. */
  recordFailure(user: string): boolean {
    if (!this.enabled) return false;
    if (this.isLocked(user)) return false;
    const t = this.now();
    let e = this.entries.get(user);
    if (!e) {
      if (this.entries.size >= PRUNE_AT) this.prune(t);
      e = { failures: [], lockedUntil: 0 };
      this.entries.set(user, e);
    }
    e.failures = e.failures.filter((at) => t - at < this.policy.windowMs);
    e.failures.push(t);
    if (e.failures.length >= this.policy.attempts) {
      e.failures = [];
      e.lockedUntil = t + this.policy.durationMs;
      return true;
    }
    return false;
  }

  /** A successful login resets the count of `user`. */
  recordSuccess(user: string): void {
    this.entries.delete(user);
  }

  private prune(t: number): void {
    for (const [user, e] of this.entries) {
      const live = e.lockedUntil > t || e.failures.some((at) => t - at < this.policy.windowMs);
      if (!live) this.entries.delete(user);
    }
  }
}
