// A block-wise upload [RFC7959]: one request body sent as Block1 blocks over
// one channel, each block a confirmable request answered before the next
// goes. The server may ask for smaller blocks in its 2.31 Continue (its SZX
// below ours): the transfer goes on at that size, from the byte it reached
// [RFC7959 2.3]. `stopAfterBytes` cuts the transfer: the client just stops
// sending, as a client that lost power would, and the device must notice on
// its own. The `coap` package's agent is not used: it hides the blocks, and a
// check needs each one in its transcript and the cut on a block boundary.

import { randomBytes } from 'node:crypto';
import type { CoapMethod } from 'coap-packet';
import type { DatagramChannel } from '../common/channel.js';
import type { Io } from '../common/io.js';
import { codeName, coapExchangeOn, decodeBlockOption, optionOf, type CoapOutcome } from './exchange.js';

export interface BlockUpload {
  readonly method: Extract<CoapMethod, 'PUT' | 'POST'>;
  readonly path: string;
  readonly payload: Buffer;
  /** 16..1024, a power of two. */
  readonly blockSize: number;
  readonly contentFormat?: number;
  /** Stop after the block that reaches this many bytes (a cut transfer). */
  readonly stopAfterBytes?: number;
}

export type BlockUploadOutcome =
  /** The final response (to the last block, or an error that ended the transfer early). */
  | { readonly kind: 'response'; readonly code: string; readonly payload: Buffer; readonly blocks: number; readonly sent: number; readonly of: number }
  /** The client stopped on purpose (stopAfterBytes) after `sent` bytes. */
  | { readonly kind: 'cut'; readonly blocks: number; readonly sent: number; readonly of: number }
  /** No answer, a reset, a failed channel or an unparseable reply, at block `blocks`. */
  | { readonly kind: 'broken'; readonly outcome: Exclude<CoapOutcome, { kind: 'response' }>; readonly blocks: number; readonly sent: number; readonly of: number };

/** SZX for a block size: 2^(szx+4). */
export function szxOf(blockSize: number): number {
  const szx = Math.log2(blockSize) - 4;
  if (!Number.isInteger(szx) || szx < 0 || szx > 6) throw new RangeError(`block size ${blockSize} is not 16..1024 and a power of two`);
  return szx;
}

/** Hard bound on the blocks of one upload (1 MiB at 16-byte blocks = 65536): the largest image is capped elsewhere. */
const MAX_BLOCKS = 1 << 20;

export async function blockUpload(channel: DatagramChannel, u: BlockUpload, io: Io): Promise<BlockUploadOutcome> {
  const of = u.payload.length;
  const token = randomBytes(4);
  let szx = szxOf(u.blockSize);
  let offset = 0;
  let blocks = 0;
  for (;;) {
    const size = 2 ** (szx + 4);
    const num = offset / size;
    const end = Math.min(of, offset + size);
    const more = end < of;
    const o = await coapExchangeOn(
      channel,
      {
        method: u.method,
        path: u.path,
        payload: u.payload.subarray(offset, end),
        token,
        block1: { num, more, szx },
        ...(num === 0 ? { size1: of } : {}),
        ...(num === 0 && u.contentFormat !== undefined ? { contentFormat: u.contentFormat } : {}),
      },
      io,
    );
    blocks++;
    if (o.kind !== 'response') return { kind: 'broken', outcome: o, blocks, sent: offset, of };
    offset = end;
    if (!more || o.code !== '2.31') return { kind: 'response', code: o.code, payload: o.payload, blocks, sent: offset, of };
    // 2.31 Continue: the server may ask for a smaller size from here on.
    const echoed = optionOf(o.packet, 'Block1');
    const b = echoed ? decodeBlockOption(echoed) : undefined;
    if (b && b.szx < szx) {
      szx = b.szx;
      io.transcript.note(`the device asked for ${2 ** (szx + 4)}-byte blocks`);
    }
    if (u.stopAfterBytes !== undefined && offset >= u.stopAfterBytes) return { kind: 'cut', blocks, sent: offset, of };
    if (blocks >= MAX_BLOCKS || io.signal?.aborted) return { kind: 'broken', outcome: { kind: 'timeout' }, blocks, sent: offset, of };
  }
}

/** One line for a block-wise outcome. */
export function blockUploadText(o: BlockUploadOutcome): string {
  switch (o.kind) {
    case 'response':
      return o.sent < o.of ? `answered ${codeName(o.code)} after ${o.sent} of ${o.of} bytes (${o.blocks} blocks)` : `answered ${codeName(o.code)} (${o.blocks} blocks)`;
    case 'cut':
      return `cut after ${o.sent} of ${o.of} bytes (${o.blocks} blocks)`;
    case 'broken':
      return `${o.outcome.kind === 'unreachable' ? `channel failed (${o.outcome.error})` : o.outcome.kind === 'malformed' ? `unparseable reply (${o.outcome.detail})` : o.outcome.kind === 'reset' ? 'reset' : 'no reply in time'} at block ${o.blocks - 1}, after ${o.sent} of ${o.of} bytes`;
  }
}
