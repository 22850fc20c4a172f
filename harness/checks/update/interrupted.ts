// update.interrupted (C10; TS 103 701 5.3-2-2 "resuming after a failed
// step"): uploads of the newer image cut at half its length and after 128
// bytes, with the path's session; over a pull path, the update server cuts
// the body half way (the full Content-Length announced); over CoAP
// block-wise, the client stops sending half way and after the first block.
// The device must keep its running version
// and keep answering: a cut upload must not leave it without an image.
// That a valid image still installs afterwards is the run-level positive
// control's to prove.

import type { Check, CheckContext, CheckOutcome, HttpInterface } from '../../model/index.js';
import { deliver, sessionFor } from '../../core/update-control.js';
import { cutUpload } from '../../protocols/http/cut-upload.js';
import { UPDATE_CHECK, beginWithNewerImage, pathLabel, principalLabel, runAttempts, type PlannedAttempt } from './attempt.js';

/** Where uploads are cut: half way and after 128 bytes, each strictly inside the image. */
export function cutPoints(length: number): number[] {
  return [...new Set([Math.floor(length / 2), 128])].filter((n) => n > 0 && n < length);
}

/** Block-wise cut points: half way and after the first block, rounded up to a block boundary, each strictly inside the image. */
export function blockCuts(length: number, blockSize: number): number[] {
  const up = (n: number) => Math.ceil(n / blockSize) * blockSize;
  return [...new Set([up(Math.floor(length / 2)), blockSize])].filter((n) => n > 0 && n < length);
}

export const updateInterrupted: Check = {
  id: 'update.interrupted',
  title: 'An interrupted upload leaves the running firmware in place',
  ...UPDATE_CHECK,
  severity: 'high',
  remedy: 'Receive into a separate slot (A/B or staging) and switch only after the whole image verified; never overwrite the running image while receiving.',
  timeoutMs: 180_000,
  async run(ctx: CheckContext): Promise<CheckOutcome> {
    const begun = await beginWithNewerImage(ctx);
    if (begun.kind === 'stop') return begun.outcome;
    const { setup, image: newer } = begun;
    const iface = ctx.iface as HttpInterface;
    const points = cutPoints(newer.length);
    const half = Math.floor(newer.length / 2);
    const planned: PlannedAttempt[] = setup.paths.flatMap((path): PlannedAttempt[] => {
      if (path.kind === 'pull') {
        return half > 0 && half < newer.length
          ? [
              {
                label: `the newer image served with its body cut after ${half} of ${newer.length} bytes through ${pathLabel(path)} ${principalLabel(path.as)}`,
                send: (io) => deliver(ctx.target, path, newer, io, path.as, { cutAfter: half }),
              },
            ]
          : [];
      }
      if (path.kind === 'coap-block') {
        // The transfer stops on a block boundary: after the block that reaches the cut point.
        return blockCuts(newer.length, path.blockSize).map((cut) => ({
          label: `a block-wise upload of the newer image abandoned after ${cut} of ${newer.length} bytes through ${pathLabel(path)} ${principalLabel(path.as)}`,
          send: (io) => deliver(ctx.target, path, newer, io, path.as, { cutAfter: cut }),
        }));
      }
      return points.map((cut) => ({
        label: `an upload of the newer image cut after ${cut} of ${newer.length} bytes through ${pathLabel(path)} ${principalLabel(path.as)}`,
        send: async (io) => {
          const s = await sessionFor(ctx.target, path.via, path.as, io);
          if ('error' in s) return { kind: 'no-session' as const, detail: s.error };
          return cutUpload(iface, { method: path.method, path: path.path, headers: { ...s.headers, 'content-type': path.contentType }, body: newer }, cut, io);
        },
      }));
    });
    return runAttempts(setup, planned, { what: 'interrupted uploads', severity: 'high', passReason: (n) => `interrupted uploads left the running version in place (${n})` });
  },
};
