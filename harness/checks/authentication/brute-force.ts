// auth.brute-force (C03): the declared brute-force protection holds.
// Oracle: the declared lockout (attempts within a window, then refusal for
// a duration). Steps: the lab's credential works (positive control); N
// wrong passwords within the window; the right password must now be refused;
// after the declared duration it must work again. A round of failures slower
// than the window (a loaded device or machine) proves a lockout when the right
// password is then refused; when it is granted the round is tried again, and
// only rounds that all miss the window are inconclusive. Without a declared
// lockout the check still tries DEFAULT_ATTEMPTS failures and fails when the
// right password is accepted straight after them.

import { randomBytes } from 'node:crypto';
import type { Check, CheckContext, CheckOutcome } from '../../model/index.js';
import { formatDuration } from '../../core/duration.js';
import { requirementsOf } from '../requirements.js';
import { credentialsApply, protocolLabel, tryCredential, type Attempt } from './credential-attempt.js';
import { labPrincipal } from './positive-control.js';

export const DEFAULT_ATTEMPTS = 10;
/** Rounds of failures tried when each is slower than the declared window. */
export const MAX_ROUNDS = 3;

export const bruteForce: Check = {
  id: 'auth.brute-force',
  title: 'Repeated failed logins are throttled as declared',
  catalog: ['C03'],
  requirements: requirementsOf('C03'),
  protocols: ['mqtt', 'mqtts', 'http', 'https'],
  phase: 'main',
  severity: 'high',
  remedy: 'Lock or delay a user name after a small number of failed logins on every interface that authenticates, and declare the limit.',
  timeoutMs: 180_000,
  applies(target, iface) {
    const why = credentialsApply(iface);
    if (why) return why;
    if (target.principals.length === 0) return 'needs a principal (a valid credential) in the target file to tell a lockout from a refusal';
    return undefined;
  },
  async run(ctx: CheckContext): Promise<CheckOutcome> {
    const p = labPrincipal(ctx)!;
    const lockout = ctx.target.declaration.lockout;
    const attempts = lockout?.attempts ?? DEFAULT_ATTEMPTS;
    const declared = lockout
      ? `${lockout.attempts} failures within ${formatDuration(lockout.windowMs)} lock the user for ${formatDuration(lockout.durationMs)}`
      : 'no lockout declared';
    const evidence = (observed: string) => ({ observed, declared, source: 'target:declaration.lockout', transcript: ctx.transcript.entries() });

    const control = await tryCredential(ctx, { user: p.user, pass: p.pass });
    if (control.kind !== 'granted') {
      return { verdict: 'inconclusive', reason: `positive control failed: principal ${p.name} not granted (${control.detail})`, findings: [], evidence: evidence(control.detail) };
    }

    // Deliberate failures, unpaced, as fast as the device answers. The declared
    // window binds the device only when the failures arrive within it; on a
    // loaded machine a round can take longer. A refusal after a slow round still
    // proves a lockout; a grant after one proves nothing, so the round is tried
    // again (after waiting out what it may have started), up to MAX_ROUNDS.
    let elapsed = 0;
    let after: Attempt;
    const slowRounds: number[] = [];
    for (let round = 1; ; round++) {
      const started = Date.now();
      for (let i = 1; i <= attempts; i++) {
        const wrong = `gauntlet-${randomBytes(6).toString('hex')}`;
        const a = await tryCredential(ctx, { user: p.user, pass: wrong }, { paced: false });
        ctx.pacer.afterAttempt(p.user, false);
        ctx.caseDone(`wrong password ${i}/${attempts}${round > 1 ? ` (round ${round})` : ''}`);
        if (a.kind === 'no-answer') {
          return { verdict: 'inconclusive', reason: `no answer to failed login ${i} (${a.detail})`, findings: [], evidence: evidence(a.detail) };
        }
        if (a.kind === 'granted') {
          return {
            verdict: 'fail',
            reason: 'a random wrong password was accepted',
            findings: [{ summary: `a wrong password for ${p.user} was accepted over ${protocolLabel(ctx)}`, evidence: evidence(a.detail), severity: 'critical' }],
          };
        }
      }
      elapsed = Date.now() - started;
      after = await tryCredential(ctx, { user: p.user, pass: p.pass }, { paced: false });
      ctx.caseDone('right password right after the failures');
      if (after.kind === 'no-answer') {
        return { verdict: 'inconclusive', reason: `no answer to the login after the failures (${after.detail})`, findings: [], evidence: evidence(after.detail) };
      }
      if (after.kind !== 'granted' || !lockout || elapsed <= lockout.windowMs) break;
      // Granted, but the failures were spread wider than the declared window.
      ctx.pacer.afterAttempt(p.user, true);
      slowRounds.push(elapsed);
      if (round >= MAX_ROUNDS) {
        const spans = slowRounds.map(formatDuration).join(', ');
        return {
          verdict: 'inconclusive',
          reason: `${attempts} failures never fitted the declared window ${formatDuration(lockout.windowMs)} (${MAX_ROUNDS} rounds took ${spans}); the right password was then accepted, which a device may do once its window has passed`,
          findings: [],
          cases: MAX_ROUNDS * (attempts + 1),
          evidence: evidence(`${MAX_ROUNDS} rounds of ${attempts} failures took ${spans}; granted after each (${after.detail})`),
        };
      }
      await ctx.pacer.waitOut(p.user);
    }
    const cases = (slowRounds.length + 1) * (attempts + 1);
    const slowNote = slowRounds.length > 0 ? ` (${slowRounds.length} earlier round(s) slower than the window, ${slowRounds.map(formatDuration).join(', ')}, tried again)` : '';

    if (after.kind === 'granted') {
      ctx.pacer.afterAttempt(p.user, true);
      const observed = `after ${attempts} failed logins in ${formatDuration(elapsed)}, the right password was still accepted (${after.detail})${slowNote}`;
      return {
        verdict: 'fail',
        reason: lockout ? `no lockout after ${attempts} failures (declared: ${declared})` : `no brute-force protection after ${attempts} failures, and none declared`,
        findings: [{ summary: `${protocolLabel(ctx)} login for ${p.user} is not throttled: ${observed}`, evidence: evidence(observed) }],
        cases,
      };
    }
    if (!lockout) {
      return {
        verdict: 'pass',
        reason: `the right password was refused after ${attempts} failures (protection present, but none declared)`,
        findings: [],
        cases,
        evidence: evidence(after.detail),
      };
    }

    // The lockout must lapse after the declared duration (no permanent denial of service).
    await ctx.pacer.waitOut(p.user);
    let recovered = await tryCredential(ctx, { user: p.user, pass: p.pass }, { paced: false });
    if (recovered.kind !== 'granted') {
      await ctx.sleep(Math.max(200, Math.round(lockout.durationMs * 0.5)));
      recovered = await tryCredential(ctx, { user: p.user, pass: p.pass }, { paced: false });
    }
    ctx.caseDone('right password after the declared duration');
    if (recovered.kind === 'granted') {
      ctx.pacer.afterAttempt(p.user, true);
      return {
        verdict: 'pass',
        reason: `locked after ${attempts} failures and unlocked after ${formatDuration(lockout.durationMs)}, as declared${slowNote}`,
        findings: [],
        cases: cases + 1,
        evidence: evidence(`refused right after the failures (${after.detail}); granted again after the declared duration`),
      };
    }
    const observed = `still refused ${formatDuration(lockout.durationMs)} (+50%) after the lockout began (${recovered.detail})`;
    return {
      verdict: 'fail',
      reason: `declaration mismatch: the lockout outlasts the declared ${formatDuration(lockout.durationMs)}`,
      findings: [{ summary: `${protocolLabel(ctx)} lockout of ${p.user} does not lapse as declared: ${observed}`, evidence: evidence(observed), severity: 'medium' }],
      cases: cases + 1,
    };
  },
};
