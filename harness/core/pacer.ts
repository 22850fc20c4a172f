// Keeps failed logins per user name under the declared lockout limit, so a
// dictionary or property run does not lock the account it is testing (and
// so does not mistake a lockout for a refusal). The brute-force check
// exceeds the limit on purpose and then calls waitOut().

import type { LockoutPolicy, LoginPacer } from '../model/index.js';

export class LockoutPacer implements LoginPacer {
  private readonly failures = new Map<string, number[]>();
  private readonly lockedUntil = new Map<string, number>();

  constructor(
    private readonly policy: LockoutPolicy | undefined,
    private readonly sleep: (ms: number) => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Margin for clock differences between harness and device. */
  private get slack(): number {
    return this.policy ? Math.max(50, Math.round(this.policy.windowMs * 0.1)) : 0;
  }

  async beforeAttempt(user: string): Promise<void> {
    if (!this.policy) return;
    const until = this.lockedUntil.get(user);
    if (until !== undefined && until > this.now()) await this.sleep(until - this.now());
    const allowed = this.policy.attempts - 1;
    const list = this.recent(user);
    if (list.length >= allowed) {
      // Wait until the oldest failure that matters leaves the window.
      const oldest = list[list.length - allowed]!;
      const wait = oldest + this.policy.windowMs + this.slack - this.now();
      if (wait > 0) await this.sleep(wait);
    }
  }

  afterAttempt(user: string, granted: boolean): void {
    if (!this.policy) return;
    if (granted) {
      // A grant proves the user is not locked, whatever we expected.
      this.failures.delete(user);
      this.lockedUntil.delete(user);
      return;
    }
    const list = this.recent(user);
    list.push(this.now());
    this.failures.set(user, list);
    if (list.length >= this.policy.attempts) this.lockedUntil.set(user, this.now() + this.policy.durationMs + this.slack);
  }

  async waitOut(user: string): Promise<void> {
    if (!this.policy) return;
    const last = this.recent(user).at(-1) ?? this.now();
    const until = Math.max(this.lockedUntil.get(user) ?? 0, last + Math.max(this.policy.windowMs, this.policy.durationMs) + this.slack);
    const wait = until - this.now();
    if (wait > 0) await this.sleep(wait);
    this.failures.delete(user);
    this.lockedUntil.delete(user);
  }

  private recent(user: string): number[] {
    if (!this.policy) return [];
    const cutoff = this.now() - this.policy.windowMs - this.slack;
    return (this.failures.get(user) ?? []).filter((t) => t > cutoff);
  }
}
