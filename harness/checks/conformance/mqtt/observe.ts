// Small observations several cases share: did the server close the
// connection after a violation (and did it still serve it), did a message
// that must not be delivered stay away.

import { PINGREQ, T } from './frames.js';
import type { Peer } from './peer.js';
import type { Trial } from './trial.js';
import type { Wire } from './wire.js';

export interface Closing {
  readonly closed: boolean;
  /** One phrase: `closed after 3ms (DISCONNECT 0x81)` or `still open after 1500ms; a later PINGREQ was answered`. */
  readonly detail: string;
  /** Packets the server sent after the violation, before closing (DISCONNECT excluded). */
  readonly answered: readonly string[];
}

/**
 * Waits for the server to close `wire` after a violation sent at frame
 * count `since`; when it stays open, a PINGREQ shows whether it still serves
 * the connection.
 */
export async function closing(t: Trial<string>, wire: Wire, since = wire.frames.length): Promise<Closing> {
  const closed = await wire.waitClosed(t.env.waitMs);
  const after = wire.frames.slice(since);
  const disc = after.find((f) => f.type === T.DISCONNECT);
  const answered = after.filter((f) => f.type !== T.DISCONNECT).map((f) => typeName(f.type));
  if (closed) {
    const by = wire.closedBy === 'us' ? ' (by us)' : '';
    return { closed: wire.closedBy !== 'us', detail: `closed${by}${disc ? ` with DISCONNECT 0x${(disc.code ?? 0).toString(16)}` : ''}${answered.length ? ` after answering ${answered.join(', ')}` : ''}`, answered };
  }
  wire.send(PINGREQ, 'PINGREQ (is the connection still served?)');
  const pong = await wire.take((f) => f.type === T.PINGRESP, t.env.waitMs);
  return { closed: false, detail: `still open ${t.env.waitMs}ms later${pong ? ', and a later PINGREQ was answered' : ''}${answered.length ? `; it answered ${answered.join(', ')}` : ''}`, answered };
}

const NAMES = ['RESERVED', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH'];
export const typeName = (type: number): string => NAMES[type] ?? `type ${type}`;

/** Whether `peer` received a delivery with payload `text` within the settle window (it must not). */
export async function leaked(t: Trial<string>, peer: Peer, text: string, factor = 1): Promise<boolean> {
  return (await peer.waitFor((d) => d.text === text, t.env.settleMs * factor)) !== undefined;
}

/** A unique payload for one probe. */
export function nonce(t: Trial<string>, what: string): string {
  return `${what}-${t.index}-${Math.random().toString(36).slice(2, 8)}`;
}
