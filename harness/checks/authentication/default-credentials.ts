// auth.default-credentials (C01): every default, known or label-derived
// credential in the dictionary is refused. Positive control: the lab's own
// credential is granted the same way, so a refusal means "wrong password"
// and not "the login was described wrong".
// Users are tried side by side (a bounded number of connections at once),
// each user's own attempts one after another under the lockout pacer: the
// run takes as long as the user with the most entries, not the sum.
// On coaps a credential is a DTLS PSK (identity, key) and "granted" means the
// DTLS 1.2 handshake completed; see checkPsk below.

import type { Check, CheckContext, CheckOutcome, CoapInterface, FindingDraft, TranscriptSink } from '../../model/index.js';
import { requirementsOf } from '../requirements.js';
import { ioOf } from '../io.js';
import { credentialsApply, printable, protocolLabel, tryCredential, type Attempt } from './credential-attempt.js';
import { TranscriptRecorder } from '../../core/transcript.js';
import { openDtlsChannel, pskCredential, pskPrincipals, type PskPrincipal } from '../../protocols/dtls/client.js';
import { DEFAULT_DICTIONARY, DTLS_PSK_DICTIONARY, loadDictionary, loadPskDictionary, type DictionaryEntry, type PskDictionaryEntry } from './dictionary.js';
import { positiveControl } from './positive-control.js';

/** Connections open at once against the device. */
export const PARALLEL_USERS = 4;

/** Runs `fn` over entries: one queue per user, at most `width` queues at a time. */
export async function forEachUserConcurrently<T extends { user: string }>(entries: readonly T[], width: number, fn: (e: T) => Promise<void>): Promise<void> {
  const queues = new Map<string, T[]>();
  for (const e of entries) queues.set(e.user, [...(queues.get(e.user) ?? []), e]);
  const pending = [...queues.values()];
  const worker = async () => {
    for (let q = pending.shift(); q; q = pending.shift()) for (const e of q) await fn(e);
  };
  await Promise.all(Array.from({ length: Math.min(width, pending.length) }, worker));
}

export const defaultCredentials: Check = {
  id: 'auth.default-credentials',
  title: 'Default, known and label-derived credentials are refused',
  catalog: ['C01'],
  requirements: requirementsOf('C01'),
  protocols: ['mqtt', 'mqtts', 'http', 'https', 'coaps'],
  phase: 'main',
  severity: 'critical',
  remedy: 'Remove hard-coded and vendor-default accounts; give each unit a unique credential that is not derived from its serial or MAC, or force the user to set one at first use.',
  timeoutMs: 180_000,
  applies: (_t, iface) => (iface.protocol === 'coaps' ? undefined : credentialsApply(iface)),
  async run(ctx: CheckContext): Promise<CheckOutcome> {
    if (ctx.iface.protocol === 'coaps') return checkPsk(ctx);
    const control = await positiveControl(ctx);
    if (control.verdict) return control.verdict;

    const dictionary = loadDictionary(ctx.target.declaration.identity);
    const findings: FindingDraft[] = [];
    let refused = 0;
    let silent = 0;
    const tryOne = async (entry: DictionaryEntry) => {
      const transcript = new TranscriptRecorder();
      const a = await tryCredential(ctx, { user: entry.user, pass: entry.pass }, { transcript });
      ctx.caseDone(`${entry.user}:${entry.pass}`);
      ctx.transcript.note(`${entry.user}:${entry.pass} -> ${a.kind} (${a.detail})`);
      if (a.kind === 'granted') {
        findings.push({
          summary: `the ${entry.source.includes('{') ? 'label-derived' : 'dictionary'} credential ${entry.user}:${entry.pass} is accepted over ${protocolLabel(ctx)}`,
          evidence: {
            observed: `${entry.user}:${entry.pass} granted: ${a.detail}`,
            declared: 'no default or derivable credential',
            source: `dictionary:${DEFAULT_DICTIONARY} line "${entry.source}"`,
            transcript: transcript.entries(),
          },
        });
      } else if (a.kind === 'refused') refused++;
      else silent++;
    };
    await forEachUserConcurrently(dictionary, PARALLEL_USERS, tryOne);
    const tried = dictionary.length;
    if (findings.length > 0) {
      return { verdict: 'fail', reason: `${findings.length} of ${tried} dictionary credentials accepted`, findings, cases: tried };
    }
    if (silent > tried / 2) {
      return { verdict: 'inconclusive', reason: `${silent} of ${tried} attempts got no answer`, findings: [], cases: tried };
    }
    return {
      verdict: 'pass',
      reason: `all ${refused} dictionary credentials refused${silent ? `, ${silent} unanswered` : ''}; ${control.note}`,
      findings: [],
      cases: tried,
      evidence: { observed: `${refused} refused, ${silent} unanswered`, source: `dictionary:${DEFAULT_DICTIONARY}`, transcript: ctx.transcript.take() },
    };
  },
};

// ---- coaps: DTLS pre-shared keys ----------------------------------------

/** The principal whose PSK is the positive control: the first admin with one, else the first with one. */
function pskPrincipal(ctx: CheckContext): PskPrincipal | undefined {
  const withPsk = pskPrincipals(ctx.target.principals);
  return withPsk.find((p) => p.role === 'admin') ?? withPsk[0];
}

const pskLabel = (identity: string, keyText: string) => `identity "${printable(identity)}", key "${printable(keyText)}"`;

/**
 * One DTLS handshake as (identity, key), under the lockout pacer; the session
 * is closed at once. Undefined: not tried, because `stop()` said so after the
 * pacer's wait (budget spent, run aborted).
 * A timeout counts as a failed login for the pacer: a device that drops a
 * wrong key's Finished without an alert has still seen a failed attempt.
 */
async function tryPsk(ctx: CheckContext, identity: string, key: Buffer, transcript: TranscriptSink, stop: () => boolean): Promise<Attempt | undefined> {
  await ctx.pacer.beforeAttempt(identity);
  if (stop()) return undefined;
  const o = await openDtlsChannel(ctx.iface as CoapInterface, { identity, key }, { ...ioOf(ctx), transcript });
  if (o.kind === 'open') {
    await o.channel.close();
    ctx.pacer.afterAttempt(identity, true);
    return { kind: 'granted', detail: `DTLS 1.2 handshake completed (${o.channel.label})` };
  }
  if (!ctx.signal.aborted) ctx.pacer.afterAttempt(identity, false);
  return o.kind === 'refused' ? { kind: 'refused', detail: o.detail } : { kind: 'no-answer', detail: o.detail };
}

/**
 * The dictionary over coaps. Only a completed handshake counts as granted. A
 * device may refuse a wrong key with an alert (quick) or by dropping the
 * client's Finished (RFC 6347 4.1.2.7), which node-dtls-client reports only
 * as a timeout after io.timeoutMs: with a positive control that holds before
 * and after, such a silence is a refusal; without one it proves nothing.
 * The run is bounded by the context's time budget: pairs not reached leave
 * the verdict inconclusive, unless one already failed it.
 */
async function checkPsk(ctx: CheckContext): Promise<CheckOutcome> {
  const started = Date.now();
  const deadline = started + ctx.budget.timeMs;
  const stop = () => ctx.signal.aborted || Date.now() >= deadline;
  const source = `dictionary:${DTLS_PSK_DICTIONARY}`;

  const principal = pskPrincipal(ctx);
  const control = async (): Promise<Attempt | undefined> => {
    if (!principal) return undefined;
    const a = await tryPsk(ctx, principal.psk.identity, pskCredential(principal.psk).key, ctx.transcript, () => ctx.signal.aborted);
    return a ?? { kind: 'no-answer', detail: 'aborted' };
  };
  const before = await control();
  if (principal && before?.kind !== 'granted') {
    return {
      verdict: 'inconclusive',
      reason: `positive control failed: principal ${principal.name} (PSK identity ${printable(principal.psk.identity)}) got no DTLS session (${before?.detail}); a refusal cannot be told from a broken setup`,
      findings: [],
      evidence: { observed: before?.detail ?? '', source: `target:principals.${principal.name}.psk`, transcript: ctx.transcript.take() },
    };
  }
  const controlNote = principal
    ? `positive control: principal ${principal.name}'s PSK (identity ${printable(principal.psk.identity)}) opened a DTLS session`
    : 'no principal with a DTLS PSK in the target file, so no positive control';

  // The lab's own credentials are not defaults, even when a line of the corpus matches one.
  const own = (e: PskDictionaryEntry) =>
    ctx.target.principals.some((p) => p.psk !== undefined && p.psk.identity === e.identity && pskCredential(p.psk).key.equals(e.key));
  const dictionary = loadPskDictionary(ctx.target.declaration.identity);
  const entries = dictionary.filter((e) => !own(e));
  const skippedOwn = dictionary.length - entries.length;

  const findings: FindingDraft[] = [];
  let refused = 0;
  let silent = 0;
  let untried = 0;
  const tryOne = async (entry: PskDictionaryEntry) => {
    if (stop()) {
      untried++;
      return;
    }
    const transcript = new TranscriptRecorder();
    transcript.note(`DTLS PSK ${pskLabel(entry.identity, entry.keyText)} (${source} line "${entry.source}")`);
    const a = await tryPsk(ctx, entry.identity, entry.key, transcript, stop);
    if (!a) {
      untried++;
      return;
    }
    const label = pskLabel(entry.identity, entry.keyText);
    ctx.caseDone(`psk ${printable(entry.identity)}:${printable(entry.keyText)}`);
    ctx.transcript.note(`${label} -> ${a.kind} (${a.detail})`);
    if (a.kind === 'granted') {
      findings.push({
        summary: `the ${entry.source.includes('{') ? 'label-derived' : 'dictionary'} DTLS PSK (${label}) is accepted over ${protocolLabel(ctx)}`,
        evidence: {
          observed: `${label}: ${a.detail}`,
          declared: 'no default or derivable credential',
          source: `${source} line "${entry.source}"`,
          transcript: transcript.entries(),
        },
      });
    } else if (a.kind === 'refused') refused++;
    else silent++;
  };
  // Under a declared lockout one identity's keys go one after another (the
  // pacer counts per identity); without one every pair is its own queue, so
  // a device that answers wrong keys with silence costs (pairs / width)
  // timeouts, not the longest identity's list.
  const queueOf = ctx.target.declaration.lockout ? (e: PskDictionaryEntry) => e.identity : (e: PskDictionaryEntry) => `${e.identity}\u0000${e.keyText}`;
  await forEachUserConcurrently(
    entries.map((entry) => ({ user: queueOf(entry), entry })),
    PARALLEL_USERS,
    ({ entry }) => tryOne(entry),
  );

  const tried = entries.length - untried;
  const ownNote = skippedOwn ? `; ${skippedOwn} dictionary pair${skippedOwn === 1 ? ' is' : 's are'} a declared principal's own PSK, not tried` : '';
  const elapsed = `${((Date.now() - started) / 1000).toFixed(1)}s`;
  if (findings.length > 0) {
    return { verdict: 'fail', reason: `${findings.length} of ${tried} dictionary PSKs accepted${untried ? ` (${untried} not reached)` : ''}`, findings, cases: tried };
  }
  const counts = `${refused} refused with an alert, ${silent} unanswered`;
  if (untried > 0) {
    const why = ctx.signal.aborted ? 'before the run was interrupted' : `within the ${ctx.budget.timeMs}ms time budget`;
    return {
      verdict: 'inconclusive',
      reason: `${untried} of ${entries.length} dictionary PSKs not tried ${why} (${counts})${ctx.signal.aborted ? '' : '; raise --time-budget'}`,
      findings: [],
      cases: tried,
      evidence: { observed: counts, source, transcript: ctx.transcript.take() },
    };
  }
  if (tried === 0) {
    return { verdict: 'inconclusive', reason: `no dictionary PSK was tried${ownNote}`, findings: [], cases: 0, evidence: { observed: 'nothing tried', source, transcript: ctx.transcript.take() } };
  }
  if (!principal && silent > tried / 2) {
    return {
      verdict: 'inconclusive',
      reason: `${silent} of ${tried} DTLS handshakes got no answer and there is no positive control: a silent refusal cannot be told from a dead service`,
      findings: [],
      cases: tried,
      evidence: { observed: counts, source, transcript: ctx.transcript.take() },
    };
  }
  let silenceNote = '';
  if (principal && silent > 0) {
    // Silence is a refusal only if the device still completes the right handshake.
    const after = await control();
    if (after?.kind !== 'granted') {
      return {
        verdict: 'inconclusive',
        reason: `${silent} of ${tried} DTLS handshakes got no answer and afterwards principal ${principal.name}'s own PSK got no session either (${after?.detail}): the silences prove nothing`,
        findings: [],
        cases: tried,
        evidence: { observed: counts, source: `target:principals.${principal.name}.psk`, transcript: ctx.transcript.take() },
      };
    }
    silenceNote = ` (the device drops a wrong key without an alert; its own PSK still opened a session afterwards)`;
  }
  return {
    verdict: 'pass',
    reason: `all ${tried} dictionary PSKs refused: ${counts}${silenceNote}, in ${elapsed}; ${controlNote}${ownNote}`,
    findings: [],
    cases: tried,
    evidence: { observed: counts, source, transcript: ctx.transcript.take() },
  };
}
