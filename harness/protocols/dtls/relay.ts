// A UDP relay the harness puts between one DTLS client and the device: the
// on-path attacker of a replay test. It listens on loopback (the device
// host's address family), forwards every datagram both ways, records them,
// and can send a recorded client datagram to the device again from its own
// device-side socket, so the device sees the copy arrive from the same
// address and port as the session it belongs to. Only the device side leaves
// the harness, and it goes through the scope guard.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Endpoint } from '../../model/index.js';
import { hexOf, type Io } from '../common/io.js';
import { describeDatagram } from './codec.js';

export type RelayDirection = 'to-device' | 'to-client';

export interface RelayedDatagram {
  /** Position in the relay's record, from 0. */
  readonly n: number;
  readonly dir: RelayDirection;
  readonly bytes: Buffer;
  /** ms since the relay started. */
  readonly t: number;
  /** A copy the relay sent itself (resend), not one the client sent. */
  readonly resent?: true;
}

export interface DtlsRelay {
  /** Where the client sends its datagrams: the relay's own loopback socket. */
  readonly endpoint: Endpoint;
  /** Everything relayed so far, in order (a copy; at most MAX_RECORDED). */
  datagrams(): RelayedDatagram[];
  /** Called for each datagram from the device (forwarded to the client or not); returns the unsubscribe. */
  onDeviceDatagram(fn: (d: RelayedDatagram) => void): () => void;
  /** Sends `datagram` to the device again, from the relay's device-side socket; resolves once sent. */
  resend(datagram: Uint8Array, why?: string): Promise<void>;
  /**
   * The Io for a client that talks to the relay: the relay is the harness's
   * own socket, so its address passes the scope guard even when the target
   * file names another host. Any other host still goes to `io.scope`.
   */
  clientIo(io: Io): Io;
  close(): Promise<void>;
}

/** The relay keeps at most this many datagrams (a replay test needs a handful). */
export const MAX_RECORDED = 1000;

const udpType = (host: string) => (host.includes(':') ? 'udp6' : 'udp4');

function bindLoopback(socket: Socket, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    socket.bind({ port: 0, address }, () => {
      socket.off('error', onError);
      resolve(socket.address().port);
    });
  });
}

function connectTo(socket: Socket, ep: Endpoint): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    socket.connect(ep.port, ep.host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

const closeSocket = (s: Socket) =>
  new Promise<void>((resolve) => {
    try {
      s.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });

/**
 * Starts a relay to `device`. The first address that sends to the relay is
 * its client; datagrams from anyone else are dropped. Each datagram is
 * recorded in io.transcript, decoded with the codec (epoch > 0 stays opaque).
 */
export async function startDtlsRelay(device: Endpoint, io: Io): Promise<DtlsRelay> {
  io.scope.assert(device.host, `dtls relay ${io.peer}`);
  const loopback = device.host.includes(':') ? '::1' : '127.0.0.1';
  const clientSide = createSocket(udpType(loopback));
  // Connected: the kernel passes only the device's datagrams, and reports ICMP port-unreachable.
  const deviceSide = createSocket(udpType(device.host));
  let port: number;
  try {
    port = await bindLoopback(clientSide, loopback);
    await connectTo(deviceSide, device);
  } catch (e) {
    await Promise.all([closeSocket(clientSide), closeSocket(deviceSide)]);
    throw e;
  }

  const started = performance.now();
  const recorded: RelayedDatagram[] = [];
  let count = 0;
  let client: RemoteInfo | undefined;
  let closed = false;
  const listeners = new Set<(d: RelayedDatagram) => void>();

  const record = (dir: RelayDirection, bytes: Buffer, resent?: true): RelayedDatagram => {
    const d: RelayedDatagram = { n: count++, dir, bytes: Buffer.from(bytes), t: Math.round((performance.now() - started) * 10) / 10, ...(resent ? { resent } : {}) };
    if (recorded.length < MAX_RECORDED) recorded.push(d);
    const what = `${resent ? 'relay resends ' : dir === 'to-device' ? 'relay: client -> device ' : 'relay: device -> client '}#${d.n}: ${describeDatagram(bytes)}`;
    io.transcript.record({ dir: dir === 'to-device' ? 'sent' : 'received', peer: io.peer, decoded: what, ...hexOf(bytes) });
    return d;
  };

  clientSide.on('message', (msg, from) => {
    if (closed) return;
    client ??= from;
    if (from.address !== client.address || from.port !== client.port) {
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: `relay: dropped a datagram from ${from.address}:${from.port} (not its client)` });
      return;
    }
    record('to-device', msg);
    deviceSide.send(msg);
  });
  deviceSide.on('message', (msg) => {
    if (closed) return;
    const d = record('to-client', msg);
    if (client) clientSide.send(msg, client.port, client.address);
    for (const fn of [...listeners]) fn(d);
  });
  // After binding, errors (ICMP unreachable on the device side) must not throw: they are notes.
  deviceSide.on('error', (err: NodeJS.ErrnoException) => io.transcript.record({ dir: 'note', peer: io.peer, decoded: `relay: device side ${err.code ?? err.message}` }));
  clientSide.on('error', (err: NodeJS.ErrnoException) => io.transcript.record({ dir: 'note', peer: io.peer, decoded: `relay: client side ${err.code ?? err.message}` }));

  const endpoint: Endpoint = { host: loopback, port };
  return {
    endpoint,
    datagrams: () => [...recorded],
    onDeviceDatagram(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    async resend(datagram, why) {
      io.scope.assert(device.host, `dtls relay ${io.peer}`);
      if (closed) return;
      const bytes = Buffer.from(datagram);
      if (why) io.transcript.record({ dir: 'note', peer: io.peer, decoded: `relay: ${why}` });
      record('to-device', bytes, true);
      return new Promise<void>((resolve) => deviceSide.send(bytes, () => resolve()));
    },
    clientIo(outer) {
      const own = endpoint.host;
      return { ...outer, scope: { assert: (host, what) => (host.replace(/^\[|\]$/g, '') === own ? undefined : outer.scope.assert(host, what)) } };
    },
    async close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      await Promise.all([closeSocket(clientSide), closeSocket(deviceSide)]);
    },
  };
}
