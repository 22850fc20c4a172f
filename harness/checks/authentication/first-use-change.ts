// auth.first-use-change (C02, SB-327 (b)(2)): a factory-fresh unit gives no
// function with the credential it ships with; it demands a new one first.
// Runs in the `fresh` phase, before the run provisions the unit. The
// runner's provisioning (which changes the shipped credential through the
// declared route) is the positive control: if it fails, the unit was not
// fresh and a pass here becomes inconclusive.

import type { Check, CheckContext, CheckOutcome } from '../../model/index.js';
import { requirementsOf } from '../requirements.js';
import { credentialsApply, protocolLabel, tryCredential } from './credential-attempt.js';

export const firstUseChange: Check = {
  id: 'auth.first-use-change',
  title: 'A factory-fresh unit demands a new credential before any function',
  catalog: ['C02'],
  requirements: requirementsOf('C02'),
  protocols: ['mqtt', 'mqtts', 'http', 'https'],
  phase: 'fresh',
  severity: 'critical',
  remedy: 'Refuse every function but the credential change while the shipped credential is in force (SB-327 (b)(2)), or ship a unique credential per unit.',
  timeoutMs: 60_000,
  applies(target, iface) {
    const why = credentialsApply(iface);
    if (why) return why;
    const fu = target.declaration.firstUse;
    if (!fu) return 'no first-use policy declared (declaration.firstUse)';
    if (fu.state !== 'factory-fresh') return 'the unit is declared provisioned; first use needs a factory-fresh unit';
    return undefined;
  },
  async run(ctx: CheckContext): Promise<CheckOutcome> {
    const shipped = ctx.target.declaration.firstUse!.shipped;
    const a = await tryCredential(ctx, { user: shipped.user, pass: shipped.pass });
    ctx.caseDone(`shipped credential ${shipped.user}`);
    const evidence = {
      observed: a.detail,
      declared: `factory-fresh; shipped credential ${shipped.user}:${shipped.pass} must be changed before use`,
      source: 'target:declaration.firstUse',
      transcript: ctx.transcript.take(),
    };
    if (a.kind === 'no-answer') return { verdict: 'inconclusive', reason: `no answer (${a.detail})`, findings: [], evidence };
    if (a.kind === 'granted') {
      return {
        verdict: 'fail',
        reason: 'the shipped credential gives access before a new one was set',
        findings: [{ summary: `factory-fresh unit grants ${protocolLabel(ctx)} access with the shipped credential ${shipped.user} (${a.detail})`, evidence }],
      };
    }
    return { verdict: 'pass', reason: `the shipped credential gives no access until changed (${a.detail})`, findings: [], evidence };
  },
};
