// update.truncated-oversized (C10, CTA-2088-A DV-009 size limits): the newer
// image cut at half its length and at length-1, and the newer image padded
// past the declared maximum size, are refused, and the device still answers.
// Oversized: maxImageBytes + 1 bytes, or the image + 1 MiB when no maximum is
// declared; never more than 16 MiB.

import type { Check, CheckContext, CheckOutcome } from '../../model/index.js';
import { deliver } from '../../core/update-control.js';
import { UPDATE_CHECK, beginWithNewerImage, pathLabel, principalLabel, runAttempts, type PlannedAttempt } from './attempt.js';

export const OVERSIZE_CAP_BYTES = 16 * 1024 * 1024;
const PAD_WHEN_UNDECLARED = 1024 * 1024;

/** The test images, and a note on any that could not be made. */
export function sizeVariants(image: Buffer, maxImageBytes: number | undefined): { images: { what: string; image: Buffer }[]; notes: string[] } {
  const images: { what: string; image: Buffer }[] = [];
  const notes: string[] = [];
  const half = Math.floor(image.length / 2);
  if (half > 0) images.push({ what: `the newer image truncated to ${half} of ${image.length} bytes`, image: image.subarray(0, half) });
  if (image.length - 1 > half) images.push({ what: `the newer image without its last byte (${image.length - 1} bytes)`, image: image.subarray(0, image.length - 1) });
  const wanted = maxImageBytes !== undefined ? maxImageBytes + 1 : image.length + PAD_WHEN_UNDECLARED;
  const size = Math.min(wanted, OVERSIZE_CAP_BYTES);
  if (size < wanted) notes.push(`the declared maximum ${maxImageBytes} is above the ${OVERSIZE_CAP_BYTES}-byte cap: no oversized image sent`);
  else if (size <= image.length) notes.push(`the newer image (${image.length} bytes) is already above the declared maximum ${maxImageBytes}: no oversized image sent`);
  else {
    const why = maxImageBytes !== undefined ? `one byte over the declared maximum ${maxImageBytes}` : `the image + 1 MiB; no maximum declared`;
    images.push({ what: `the newer image zero-padded to ${size} bytes (${why})`, image: Buffer.concat([image, Buffer.alloc(size - image.length)]) });
  }
  return { images, notes };
}

export const updateTruncatedOversized: Check = {
  id: 'update.truncated-oversized',
  title: 'Truncated and oversized images are refused and the device keeps running',
  ...UPDATE_CHECK,
  severity: 'high',
  remedy: 'Check the received length against the manifest and a size limit before writing; verify the whole image before switching to it.',
  timeoutMs: 180_000,
  async run(ctx: CheckContext): Promise<CheckOutcome> {
    const u = ctx.target.declaration.update!;
    const begun = await beginWithNewerImage(ctx);
    if (begun.kind === 'stop') return begun.outcome;
    const { setup, image: newer } = begun;
    const { images, notes } = sizeVariants(newer, u.maxImageBytes);
    const planned: PlannedAttempt[] = setup.paths.flatMap((path) =>
      images.map(({ what, image }) => ({
        label: `${what} through ${pathLabel(path)} ${principalLabel(path.as)}`,
        send: (io) => deliver(ctx.target, path, image, io),
      })),
    );
    const outcome = await runAttempts(setup, planned, { what: 'truncated or oversized images', severity: 'high' });
    return notes.length > 0 && outcome.verdict === 'pass' ? { ...outcome, reason: `${outcome.reason} (${notes.join('; ')})` } : outcome;
  },
};
