// Reassembly of fragmented handshake messages (RFC 6347 4.2.3): fragments may
// come in any order and overlap. Only a few message_seq values ahead of the
// next expected one are kept, so a peer cannot make the buffer grow.

import type { HandshakeFragment } from './handshake.js';

export interface WholeMessage {
  readonly type: number;
  readonly seq: number;
  readonly body: Buffer;
}

interface PartialMessage {
  readonly type: number;
  readonly body: Buffer;
  /** 1 for every byte received so far. */
  readonly have: Uint8Array;
  received: number;
}

export type AddResult = 'ok' | 'ignored' | { readonly inconsistent: string };

export class Reassembler {
  private readonly partial = new Map<number, PartialMessage>();

  /** `window`: how many message_seq values from the next expected one are buffered. */
  constructor(private readonly window = 4) {}

  /** Buffers a fragment of message `f.seq`; `next` is the message_seq the handshake waits for. */
  add(f: HandshakeFragment, next: number): AddResult {
    if (f.seq < next || f.seq >= next + this.window) return 'ignored';
    let p = this.partial.get(f.seq);
    if (p === undefined) {
      p = { type: f.type, body: Buffer.alloc(f.length), have: new Uint8Array(f.length), received: 0 };
      this.partial.set(f.seq, p);
    } else if (p.type !== f.type || p.body.length !== f.length) {
      return { inconsistent: `message_seq ${f.seq}: a fragment says type ${f.type} length ${f.length}, an earlier one type ${p.type} length ${p.body.length}` };
    }
    if (p.received === p.body.length) return 'ok';
    f.body.copy(p.body, f.offset);
    for (let i = f.offset; i < f.offset + f.body.length; i++) {
      if (p.have[i] === 0) {
        p.have[i] = 1;
        p.received++;
      }
    }
    return 'ok';
  }

  /** Message `seq` if all of it is in; it is then forgotten. */
  take(seq: number): WholeMessage | undefined {
    const p = this.partial.get(seq);
    if (p === undefined || p.received !== p.body.length) return undefined;
    this.partial.delete(seq);
    return { type: p.type, seq, body: p.body };
  }
}
