// update.wrong-signer (C10): the newer image re-signed with a fresh Ed25519
// key (a well-formed signature by someone who is not the vendor) is refused.
// Needs layout.signature with algorithm ed25519: other algorithms cannot be
// re-signed by the harness.

import type { Check, CheckContext, CheckOutcome } from '../../model/index.js';
import { deliver } from '../../core/update-control.js';
import { UPDATE_CHECK, beginWithNewerImage, pathLabel, principalLabel, runAttempts, updateApplies } from './attempt.js';
import { resignEd25519 } from './layout.js';

export const updateWrongSigner: Check = {
  id: 'update.wrong-signer',
  title: 'An image signed by another key is refused',
  ...UPDATE_CHECK,
  severity: 'critical',
  remedy: 'Verify the signature against the vendor key pinned in the device (not a key the image carries), over the whole image.',
  timeoutMs: 180_000,
  applies: (target, iface) =>
    updateApplies(target, iface, (u) => {
      if (!u.layout?.signature) return 'no signature field declared (declaration.update.layout.signature)';
      if (u.layout.signature.algorithm !== 'ed25519') return 'the signature algorithm is not declared as ed25519, so the harness cannot re-sign';
      return undefined;
    }),
  async run(ctx: CheckContext): Promise<CheckOutcome> {
    const u = ctx.target.declaration.update!;
    const layout = { ...u.layout!, signature: u.layout!.signature! };
    const begun = await beginWithNewerImage(ctx);
    if (begun.kind === 'stop') return begun.outcome;
    const { setup, image: newer } = begun;
    const { image } = resignEd25519(newer, layout);
    return runAttempts(
      setup,
      setup.paths.map((path) => ({
        label: `the newer image re-signed with a fresh Ed25519 key through ${pathLabel(path)} ${principalLabel(path.as)}`,
        send: (io) => deliver(ctx.target, path, image, io),
      })),
      { what: 'images signed by another key' },
    );
  },
};
