// auth.default-credentials (C01): every default, known or label-derived
// credential in the dictionary is refused. Positive control: the lab's own
// credential is granted the same way, so a refusal means "wrong password"
// and not "the login was described wrong".
// Users are tried side by side (a bounded number of connections at once),
// each user's own attempts one after another under the lockout pacer: the
// run takes as long as the user with the most entries, not the sum.

import type { Check, CheckContext, CheckOutcome, FindingDraft } from '../../model/index.js';
import { requirementsOf } from '../requirements.js';
import { credentialsApply, protocolLabel, tryCredential } from './credential-attempt.js';
import { TranscriptRecorder } from '../../core/transcript.js';
import { DEFAULT_DICTIONARY, loadDictionary, type DictionaryEntry } from './dictionary.js';
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
  protocols: ['mqtt', 'mqtts', 'http', 'https'],
  phase: 'main',
  severity: 'critical',
  remedy: 'Remove hard-coded and vendor-default accounts; give each unit a unique credential that is not derived from its serial or MAC, or force the user to set one at first use.',
  timeoutMs: 180_000,
  applies: (_t, iface) => credentialsApply(iface),
  async run(ctx: CheckContext): Promise<CheckOutcome> {
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
