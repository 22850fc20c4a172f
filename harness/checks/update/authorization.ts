// update.authorization (C10 "unauthenticated trigger", C04; NISTIR 8259A
// SWU-4): the valid newer image, sent through each path without a session
// and with every principal whose role differs from the path's installer, is
// refused. A path that declares no installer (`as`) has nobody to compare
// with and is left out.

import type { Check, CheckContext, CheckOutcome, Target, UpdatePath } from '../../model/index.js';
import { deliver } from '../../core/update-control.js';
import { UPDATE_CHECK, beginWithNewerImage, pathLabel, pathsOn, principalLabel, runAttempts, updateApplies, type PlannedAttempt } from './attempt.js';

/** Who must not install through `path`: nobody (null), then principals whose role differs from the installer's. */
export function outsiders(target: Target, path: UpdatePath): (string | null)[] {
  const installer = target.principals.find((p) => p.name === path.as);
  if (!installer) return [];
  return [null, ...target.principals.filter((p) => p.name !== installer.name && p.role !== installer.role).map((p) => p.name)];
}

export const updateAuthorization: Check = {
  id: 'update.authorization',
  title: 'Only the declared installer can push an image',
  ...UPDATE_CHECK,
  severity: 'critical',
  remedy: 'Require an authenticated session with the installer role on every update route, checked before the body is accepted.',
  timeoutMs: 180_000,
  applies: (target, iface) =>
    updateApplies(target, iface, () => (pathsOn(target, iface).some((p) => p.as !== undefined) ? undefined : `no update path over ${iface.id} declares its installer (as)`)),
  async run(ctx: CheckContext): Promise<CheckOutcome> {
    const begun = await beginWithNewerImage(ctx);
    if (begun.kind === 'stop') return begun.outcome;
    const { setup, image: newer } = begun;
    const planned: PlannedAttempt[] = setup.paths.flatMap((path) =>
      outsiders(ctx.target, path).map((who) => ({
        label: `the valid newer image through ${pathLabel(path)} ${principalLabel(who)}`,
        installed: `the valid newer image was installed ${principalLabel(who)} through ${pathLabel(path)}`,
        send: (io) => deliver(ctx.target, path, newer, io, who),
      })),
    );
    return runAttempts(setup, planned, { what: 'unauthorised uploads' });
  },
};
