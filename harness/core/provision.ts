// Provisioning a factory-fresh unit: after the `fresh` phase, the run
// changes the shipped credential to the lab principal's through the declared
// route, as a user would at first use. Its success is the positive control of
// the first-use check; its failure makes those verdicts inconclusive.

import type { HttpInterface, Target } from '../model/index.js';
import type { Io } from '../protocols/common/io.js';
import { httpExchange } from '../protocols/http/exchange.js';
import { fillTemplate, httpLogin } from '../protocols/http/login.js';

export type ProvisionResult =
  | { readonly kind: 'not-needed'; readonly detail: string }
  | { readonly kind: 'already'; readonly detail: string }
  | { readonly kind: 'done'; readonly detail: string }
  | { readonly kind: 'failed'; readonly detail: string };

export async function provisionedAlready(target: Target, io: Io): Promise<boolean> {
  const change = target.declaration.firstUse?.change;
  if (!change) return false;
  const iface = target.interfaces.find((i) => i.id === change.via) as HttpInterface;
  const p = target.principals.find((x) => x.name === change.provisionAs)!;
  if (!iface.auth) return false;
  const r = await httpLogin(iface, { user: p.user, pass: p.pass }, io);
  return r.kind === 'granted';
}

export async function provision(target: Target, io: Io): Promise<ProvisionResult> {
  const fu = target.declaration.firstUse;
  if (!fu || fu.state !== 'factory-fresh') return { kind: 'not-needed', detail: 'unit declared provisioned' };
  if (!fu.change) return { kind: 'failed', detail: 'no change route declared (declaration.firstUse.change), so the run cannot provision the unit' };
  const iface = target.interfaces.find((i) => i.id === fu.change!.via) as HttpInterface;
  const p = target.principals.find((x) => x.name === fu.change!.provisionAs)!;
  const body = JSON.stringify(fillTemplate(fu.change.body, { user: fu.shipped.user, pass: fu.shipped.pass, new: p.pass }));
  const r = await httpExchange(iface, { method: fu.change.method, path: fu.change.path, headers: { 'content-type': 'application/json' }, body }, io);
  if (r.kind !== 'response') return { kind: 'failed', detail: `${fu.change.method} ${fu.change.path}: ${r.kind}` };
  if (r.status < 200 || r.status > 299) {
    return { kind: 'failed', detail: `${fu.change.method} ${fu.change.path} with the shipped credential answered ${r.status}: the unit was not factory-fresh, or the route is wrong` };
  }
  if (iface.auth) {
    const check = await httpLogin(iface, { user: p.user, pass: p.pass }, io);
    if (check.kind !== 'granted') return { kind: 'failed', detail: `changed, but principal ${p.name} is not granted afterwards (${'detail' in check ? check.detail : check.kind})` };
  }
  return { kind: 'done', detail: `shipped credential of ${fu.shipped.user} changed to principal ${p.name}'s via ${fu.change.method} ${fu.change.path}` };
}
