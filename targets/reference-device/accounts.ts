// The device's one account store, shared by MQTT and HTTP: who exists, with
// which role, password verification (constant time, or the prefix-match flaw),
// lockout bookkeeping, the factory-fresh gate and password changes. The
// interfaces only translate its answers into their protocol.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { Flaw } from './flaws.js';
import type { Lockout } from './lockout.js';

export type AccountRole = 'admin' | 'device';

export interface Account {
  readonly user: string;
  readonly role: AccountRole;
  /** A hard-coded account a flaw adds: not listed by /api/users, not changeable, not subject to the first-use gate. */
  readonly hardCoded: boolean;
}

export type AuthResult =
  | { readonly ok: true; readonly account: Account }
  | { readonly ok: false; readonly reason: 'invalid' | 'locked' };

export type ChangeResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'invalid' | 'locked' }
  | { readonly ok: false; readonly reason: 'weak' | 'immutable'; readonly message: string };

export interface AccountsOptions {
  readonly adminPass: string;
  readonly sensorPass: string;
  readonly shippedPass: string;
  readonly factoryFresh: boolean;
  readonly flaws: ReadonlySet<Flaw>;
  /** Normalised MAC (lower case, colon separated): the derived-credentials flaw reads it. */
  readonly mac: string;
  readonly lockout: Lockout;
  readonly log: (line: string) => void;
}

export const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 1024;

interface Stored extends Account {
  pass: string;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
/** Compared against when the user does not exist, so unknown names cost the same time. */
const DUMMY = sha256('gauntlet-reference-device-no-such-user');

/** A user name as it may appear in a log line (quoted, escaped, bounded). */
export function logName(user: string): string {
  return JSON.stringify(user.length > 64 ? `${user.slice(0, 64)}...` : user);
}

export class Accounts {
  private readonly store = new Map<string, Stored>();
  private factoryFresh: boolean;

  constructor(private readonly opts: AccountsOptions) {
    this.factoryFresh = opts.factoryFresh;
    this.store.set('admin', { user: 'admin', role: 'admin', hardCoded: false, pass: opts.factoryFresh ? opts.shippedPass : opts.adminPass });
    this.store.set('sensor-1', { user: 'sensor-1', role: 'device', hardCoded: false, pass: opts.sensorPass });
    if (opts.flaws.has('default-credentials')) {
      this.store.set('support', { user: 'support', role: 'admin', hardCoded: true, pass: 'support' });
    }
    if (opts.flaws.has('derived-credentials')) {
      this.store.set('service', { user: 'service', role: 'admin', hardCoded: true, pass: opts.mac.replace(/:/g, '').slice(-6) });
    }
  }

  /** Whether the admin account still has the shipped password and must change it. */
  isFactoryFresh(): boolean {
    return this.factoryFresh;
  }

  /**
   * Whether the first-use gate refuses this (correctly authenticated) account:
   * while factory-fresh, no account works until admin's shipped password is changed.
   */
  blockedByFirstUse(account: Account): boolean {
    return this.factoryFresh && !account.hardCoded && !this.opts.flaws.has('no-forced-change');
  }

  /** The accounts an administrator can see (hard-coded ones are not listed: the owner cannot know about them). */
  list(): { user: string; role: AccountRole }[] {
    return [...this.store.values()].filter((a) => !a.hardCoded).map((a) => ({ user: a.user, role: a.role }));
  }

  /** One listed account (hard-coded ones are not found, as they are not listed), or undefined. */
  find(user: string): { user: string; role: AccountRole } | undefined {
    const a = this.store.get(user);
    return a && !a.hardCoded ? { user: a.user, role: a.role } : undefined;
  }

  /** Checks a user name and password, applying and updating the lockout. `via` names the interface for the log. */
  authenticate(user: string, pass: string, via: string): AuthResult {
    const { lockout, log } = this.opts;
    if (lockout.isLocked(user)) {
      log(`${via}: login refused user=${logName(user)} (locked)`);
      return { ok: false, reason: 'locked' };
    }
    const stored = this.store.get(user);
    const match = this.verify(stored?.pass, pass) && stored !== undefined;
    if (!match || !stored) {
      const locked = lockout.recordFailure(user);
      log(`${via}: login failed user=${logName(user)}`);
      if (locked) {
        log(`lockout: user=${logName(user)} locked for ${lockout.policy.durationMs}ms after ${lockout.policy.attempts} failures`);
      }
      return { ok: false, reason: 'invalid' };
    }
    lockout.recordSuccess(user);
    log(`${via}: login ok user=${logName(user)}`);
    return { ok: true, account: { user: stored.user, role: stored.role, hardCoded: stored.hardCoded } };
  }

  /** Changes a password, authenticated by the old one (which counts toward the lockout). */
  changePassword(user: string, pass: string, newPass: string, via: string): ChangeResult {
    const auth = this.authenticate(user, pass, via);
    if (!auth.ok) return auth;
    const stored = this.store.get(user)!;
    if (stored.hardCoded) return { ok: false, reason: 'immutable', message: 'the password of this account cannot be changed' };
    if (newPass.length < MIN_PASSWORD_LENGTH) {
      return { ok: false, reason: 'weak', message: `the new password must have at least ${MIN_PASSWORD_LENGTH} characters` };
    }
    if (newPass.length > MAX_PASSWORD_LENGTH) {
      return { ok: false, reason: 'weak', message: `the new password must have at most ${MAX_PASSWORD_LENGTH} characters` };
    }
    if (newPass === stored.pass) return { ok: false, reason: 'weak', message: 'the new password must differ from the old one' };
    if (newPass === user) return { ok: false, reason: 'weak', message: 'the new password must differ from the user name' };
    stored.pass = newPass;
    this.opts.log(`${via}: password changed user=${logName(user)}`);
    if (user === 'admin' && this.factoryFresh) {
      this.factoryFresh = false;
      this.opts.log('first use: shipped admin password replaced; the unit is provisioned');
    }
    return { ok: true };
  }

  private verify(stored: string | undefined, given: string): boolean {
    if (this.opts.flaws.has('password-prefix-match')) {
      // The flaw: an empty password is refused, but then only as many characters
      // as the caller sent are compared (memcmp with the attacker's length).
      return stored !== undefined && given.length > 0 && stored.startsWith(given);
    }
    return timingSafeEqual(stored === undefined ? DUMMY : sha256(stored), sha256(given));
  }
}
