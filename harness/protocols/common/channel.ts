// A datagram channel to one peer: plain UDP, or a DTLS session (see
// protocols/dtls/client.ts). CoAP runs the same over either, so one exchange
// (or a block-wise upload of many) does not care which it has. Opening checks
// the scope; the channel records nothing itself: its users record the
// messages they send and receive, decoded.

import { createSocket } from 'node:dgram';
import type { Endpoint, TranscriptEntry, TranscriptSink } from '../../model/index.js';
import type { Io } from './io.js';

export interface DatagramChannel {
  /** 'udp', or 'dtls' with the identity and suite in `label`. */
  readonly kind: 'udp' | 'dtls';
  /** For transcripts: `udp` or `dtls as sensor-1 (TLS_PSK_WITH_AES_128_CCM_8)`. */
  readonly label: string;
  send(datagram: Buffer): void;
  /** Subscribes to datagrams from the peer; returns the unsubscribe. */
  onMessage(fn: (datagram: Buffer) => void): () => void;
  /** Subscribes to the channel's end (ICMP unreachable, a DTLS alert, a close); returns the unsubscribe. */
  onFailure(fn: (why: string) => void): () => void;
  close(): Promise<void>;
}

export type ChannelOpen =
  | { readonly kind: 'open'; readonly channel: DatagramChannel }
  /** The peer refused the session (a DTLS alert) or the port is closed (ICMP). */
  | { readonly kind: 'refused'; readonly detail: string }
  | { readonly kind: 'timeout'; readonly detail: string };

/**
 * Records the entry `build` returns. A sink that can keep it unbuilt until
 * its entries are read (core/transcript.ts: recordLater) is given `build`
 * itself; any other sink, the entry. For entries that cost something to
 * build (hex, a decoded packet) on paths run for every fuzz case: `build`
 * must return the same entry whenever it is called, so what it reads must
 * not change after this call.
 */
export function recordLater(sink: TranscriptSink, build: () => Omit<TranscriptEntry, 't'>): void {
  const deferring = sink as TranscriptSink & { recordLater?: (build: () => Omit<TranscriptEntry, 't'>) => void };
  if (typeof deferring.recordLater === 'function') deferring.recordLater(build);
  else sink.record(build());
}

/** What both channels share: listeners, and send/close that do nothing once closed. */
export abstract class ChannelBase {
  private closed = false;
  private readonly messageFns = new Set<(b: Buffer) => void>();
  private readonly failureFns = new Set<(why: string) => void>();
  private failed: string | undefined;

  onMessage(fn: (datagram: Buffer) => void): () => void {
    this.messageFns.add(fn);
    return () => this.messageFns.delete(fn);
  }

  onFailure(fn: (why: string) => void): () => void {
    if (this.failed !== undefined) {
      const why = this.failed;
      queueMicrotask(() => fn(why));
    }
    this.failureFns.add(fn);
    return () => this.failureFns.delete(fn);
  }

  // The listeners subscribed when a datagram or a failure comes are called, and only those (one may subscribe or
  // unsubscribe others meanwhile): a copy of the set, but for a single listener (an exchange's, a fuzz case's).
  protected deliver(b: Buffer): void {
    if (this.messageFns.size === 1) for (const fn of this.messageFns) return fn(b);
    for (const fn of [...this.messageFns]) fn(b);
  }

  protected fail(why: string): void {
    if (this.failed !== undefined) return;
    this.failed = why;
    if (this.failureFns.size === 1) for (const fn of this.failureFns) return fn(why);
    for (const fn of [...this.failureFns]) fn(why);
  }

  send(datagram: Buffer): void {
    if (!this.closed) this.transmit(datagram);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return this.shutdown();
  }

  protected abstract transmit(datagram: Buffer): void;
  protected abstract shutdown(): Promise<void>;
}

class UdpChannel extends ChannelBase implements DatagramChannel {
  readonly kind = 'udp' as const;
  readonly label = 'udp';

  /** The socket's errors are passed to onSocketError by whoever opened it (openUdpChannel). */
  constructor(private readonly socket: ReturnType<typeof createSocket>) {
    super();
    socket.on('message', (m: Buffer) => this.deliver(m));
  }

  onSocketError(err: NodeJS.ErrnoException): void {
    this.fail(err.code ?? err.message);
  }

  protected transmit(datagram: Buffer): void {
    this.socket.send(datagram);
  }

  protected shutdown(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** A connected UDP socket to `ep` (so ICMP port-unreachable shows as a failure). */
export async function openUdpChannel(ep: Endpoint, io: Io, what = `udp ${io.peer}`): Promise<ChannelOpen> {
  io.scope.assert(ep.host, what);
  const socket = createSocket(ep.host.includes(':') ? 'udp6' : 'udp4');
  return new Promise<ChannelOpen>((resolve) => {
    // One error listener for the socket's life: before the connect, it refuses the channel (once); after, it
    // fails the channel.
    let channel: UdpChannel | undefined;
    let refused = false;
    const onError = (err: NodeJS.ErrnoException) => {
      if (channel) return channel.onSocketError(err);
      if (refused) throw err;
      refused = true;
      socket.close();
      resolve({ kind: 'refused', detail: err.code ?? err.message });
    };
    socket.on('error', onError);
    socket.connect(ep.port, ep.host, () => {
      channel = new UdpChannel(socket);
      resolve({ kind: 'open', channel });
    });
  });
}
