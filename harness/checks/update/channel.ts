// update.channel (C07 + C10; ETSI EN 303 645 5.3-10 / 5.5-1 "updates over a
// secure channel", EN 18031-1 AUM-3 / SUM-2): over every pull path the
// device fetches the valid NEWER image from Gauntlet's update server, which
// presents (a) a self-signed certificate, (b) a certificate from the
// declared CA (serve.ca) issued for another host, (c) a certificate from the
// declared CA that expired yesterday. A device that authenticates its update
// server refuses all three: the version stays. The image itself is valid, so
// an install here means the channel, not the image, let it through.
// Without serve.ca only (a) can be made, and the reason says so. That the
// valid image installs over a trusted certificate is the run-level positive
// control's to prove.

import type { Check, CheckContext, CheckOutcome, PullPath } from '../../model/index.js';
import { deliver, type ServeCert } from '../../core/update-control.js';
import { requirementsOf } from '../requirements.js';
import { UPDATE_CHECK, beginWithNewerImage, pathLabel, pathsOn, principalLabel, runAttempts, updateApplies, type PlannedAttempt } from './attempt.js';

const CASES: readonly { readonly cert: Exclude<ServeCert, 'trusted'>; readonly what: string; readonly needsCa: boolean }[] = [
  { cert: 'self-signed', what: 'a self-signed certificate', needsCa: false },
  { cert: 'wrong-host', what: 'a certificate from the declared CA for another host', needsCa: true },
  { cert: 'expired', what: 'an expired certificate from the declared CA', needsCa: true },
];

/** The certificates tried on a pull path (all three with serve.ca, the self-signed one alone without). */
export function channelCases(path: PullPath): typeof CASES {
  return CASES.filter((c) => !c.needsCa || path.serve.ca !== undefined);
}

export const updateChannel: Check = {
  id: 'update.channel',
  title: 'Pulled images are fetched only from an authenticated update server',
  ...UPDATE_CHECK,
  catalog: ['C07', 'C10'],
  requirements: requirementsOf('C07', 'C10'),
  protocols: ['mqtt', 'mqtts'],
  severity: 'critical',
  remedy:
    'Fetch updates over TLS with certificate verification on: a pinned vendor CA as the only trust anchor, the host name checked against the certificate, and the validity period enforced.',
  timeoutMs: 180_000,
  applies: (target, iface) =>
    updateApplies(target, iface, () => (pathsOn(target, iface).some((p) => p.kind === 'pull') ? undefined : `no pull update path is triggered over ${iface.id}`)),
  async run(ctx: CheckContext): Promise<CheckOutcome> {
    const begun = await beginWithNewerImage(ctx);
    if (begun.kind === 'stop') return begun.outcome;
    const { setup, image: newer } = begun;
    const pulls = setup.paths.filter((p): p is PullPath => p.kind === 'pull');
    const noCa = pulls.filter((p) => !p.serve.ca).map((p) => p.id);
    const planned: PlannedAttempt[] = pulls.flatMap((path) =>
      channelCases(path).map((c) => ({
        label: `the valid newer image served with ${c.what} through ${pathLabel(path)} ${principalLabel(path.as)}`,
        installed: `the device installed the valid newer image fetched over ${c.what} through ${pathLabel(path)}`,
        send: (io) => deliver(ctx.target, path, newer, io, path.as, { cert: c.cert }),
      })),
    );
    const outcome = await runAttempts(setup, planned, {
      what: 'untrusted update servers',
      severity: 'critical',
      passReason: (n) => `untrusted update-server certificates refused (${n})`,
    });
    if (noCa.length === 0) return outcome;
    const note = `only the self-signed certificate was tried on ${noCa.join(', ')}: no serve.ca declared, so the wrong-host and expired certificates from the device's CA cannot be made`;
    return { ...outcome, reason: `${outcome.reason} (${note})` };
  },
};
