// HTTP session tokens: random 32-byte hex bearer tokens that expire after a
// fixed time, die on logout and when the user's password changes.

import { randomBytes } from 'node:crypto';
import type { AccountRole } from './accounts.js';

export interface Session {
  readonly user: string;
  readonly role: AccountRole;
  readonly expiresAt: number;
}

export const SESSION_TTL_MS = 10 * 60_000;
const PRUNE_AT = 1000;

export class Sessions {
  private readonly tokens = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number = SESSION_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  create(user: string, role: AccountRole): string {
    if (this.tokens.size >= PRUNE_AT) this.prune();
    const token = randomBytes(32).toString('hex');
    this.tokens.set(token, { user, role, expiresAt: this.now() + this.ttlMs });
    return token;
  }

  /** The live session of a token, or undefined (unknown or expired; expired ones are dropped). */
  get(token: string): Session | undefined {
    const s = this.tokens.get(token);
    if (!s) return undefined;
    if (s.expiresAt <= this.now()) {
      this.tokens.delete(token);
      return undefined;
    }
    return s;
  }

  /** How many live sessions a role has (the coap-hidden-resource flaw shows it). */
  countLive(role: AccountRole): number {
    const t = this.now();
    let n = 0;
    for (const s of this.tokens.values()) if (s.role === role && s.expiresAt > t) n++;
    return n;
  }

  revoke(token: string): void {
    this.tokens.delete(token);
  }

  revokeUser(user: string): void {
    for (const [token, s] of this.tokens) if (s.user === user) this.tokens.delete(token);
  }

  private prune(): void {
    const t = this.now();
    for (const [token, s] of this.tokens) if (s.expiresAt <= t) this.tokens.delete(token);
  }
}
