// update.unsigned (C10): the newer image with its signature bytes zeroed
// (digests recomputed, so only the signature is wrong), and the newer image
// with the signature cut off altogether, are refused on every path of this
// interface. Needs the declared signature field (layout.signature).

import type { Check, CheckContext, CheckOutcome } from '../../model/index.js';
import { deliver } from '../../core/update-control.js';
import { UPDATE_CHECK, beginWithNewerImage, pathLabel, principalLabel, runAttempts, updateApplies, type PlannedAttempt } from './attempt.js';
import { cutSignature, stripSignature } from './layout.js';

export const updateUnsigned: Check = {
  id: 'update.unsigned',
  title: 'An image without a valid signature (zeroed or cut off) is refused',
  ...UPDATE_CHECK,
  severity: 'critical',
  remedy: 'Verify the image signature against the vendor key before installing; treat a missing or all-zero signature as invalid.',
  timeoutMs: 180_000,
  applies: (target, iface) => updateApplies(target, iface, (u) => (u.layout?.signature ? undefined : 'no signature field declared (declaration.update.layout.signature)')),
  async run(ctx: CheckContext): Promise<CheckOutcome> {
    const u = ctx.target.declaration.update!;
    const layout = { ...u.layout!, signature: u.layout!.signature! };
    const begun = await beginWithNewerImage(ctx);
    if (begun.kind === 'stop') return begun.outcome;
    const { setup, image: newer } = begun;
    const images = [
      { what: 'the newer image with its signature zeroed', image: stripSignature(newer, layout) },
      { what: 'the newer image with its signature cut off', image: cutSignature(newer, layout) },
    ];
    const planned: PlannedAttempt[] = setup.paths.flatMap((path) =>
      images.map(({ what, image }) => ({
        label: `${what} through ${pathLabel(path)} ${principalLabel(path.as)}`,
        send: (io) => deliver(ctx.target, path, image, io),
      })),
    );
    return runAttempts(setup, planned, { what: 'unsigned images' });
  },
};
