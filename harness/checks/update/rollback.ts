// update.rollback (C10; TS 103 701 5.3-2-2 "older firmware"): the older,
// validly signed image is refused. Needs images.older.

import type { Check, CheckContext, CheckOutcome } from '../../model/index.js';
import { deliver } from '../../core/update-control.js';
import { UPDATE_CHECK, beginUpdateCheck, loadImage, pathLabel, principalLabel, runAttempts, updateApplies } from './attempt.js';

export const updateRollback: Check = {
  id: 'update.rollback',
  title: 'An older validly signed image is refused (no rollback)',
  ...UPDATE_CHECK,
  severity: 'high',
  remedy: 'Refuse images whose version is below the running one (anti-rollback counter), unless an authorised rollback is explicitly requested.',
  timeoutMs: 120_000,
  applies: (target, iface) => updateApplies(target, iface, (u) => (u.images.older ? undefined : 'no older image declared (declaration.update.images.older)')),
  async run(ctx: CheckContext): Promise<CheckOutcome> {
    const u = ctx.target.declaration.update!;
    const older = u.images.older!;
    // The layout describes the images' shape; a digest mismatch here means the older file is not what is declared.
    const loaded = loadImage(older.file, u.layout, 'the older image');
    if ('problem' in loaded) return { verdict: 'inconclusive', reason: loaded.problem, findings: [] };
    const begun = await beginUpdateCheck(ctx, { version: older.version, what: 'the older image' });
    if (begun.kind === 'stop') return begun.outcome;
    const { setup } = begun;
    return runAttempts(
      setup,
      setup.paths.map((path) => ({
        label: `the older image ${older.version} through ${pathLabel(path)} ${principalLabel(path.as)}`,
        send: (io) => deliver(ctx.target, path, loaded.image, io),
      })),
      { what: 'older images', severity: 'high' },
    );
  },
};
