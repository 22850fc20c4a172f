// Positive control for credential checks: the lab's own credential must be
// granted through the same path, or a refusal proves nothing (a wrong login
// description, a locked account, a dead service all look like "refused").

import type { CheckContext, CheckOutcome, Principal } from '../../model/index.js';
import { tryCredential } from './credential-attempt.js';

export interface ControlResult {
  /** Set when the check must stop here with this outcome. */
  readonly verdict?: CheckOutcome;
  /** Text for the pass reason. */
  readonly note: string;
  readonly principal?: Principal;
}

/** The principal a check logs in as: the first admin, else the first one given. */
export function labPrincipal(ctx: CheckContext): Principal | undefined {
  const list = ctx.target.principals;
  return list.find((p) => p.role === 'admin') ?? list[0];
}

export async function positiveControl(ctx: CheckContext): Promise<ControlResult> {
  const p = labPrincipal(ctx);
  if (!p) return { note: 'no principal in the target file, so no positive control' };
  const a = await tryCredential(ctx, { user: p.user, pass: p.pass });
  if (a.kind === 'granted') return { note: `positive control: principal ${p.name} granted`, principal: p };
  return {
    principal: p,
    note: '',
    verdict: {
      verdict: 'inconclusive',
      reason: `positive control failed: principal ${p.name} (${p.user}) was not granted (${a.detail}); a refusal cannot be told from a broken login`,
      findings: [],
      evidence: { observed: a.detail, source: `target:principals.${p.name}`, transcript: ctx.transcript.take() },
    },
  };
}
