// Connected UDP sockets for the datagram load generators (CoAP load, the CoAP
// efficiency ceiling), hand-written because the load path is measured against
// the device: a connected socket sends without a per-datagram address lookup
// and hears ICMP port unreachable (ECONNREFUSED) instead of going silent.

import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';

/** Socket buffers asked for (Linux silently caps them at net.core.[rw]mem_max): a burst of replies must not be dropped here. */
const SOCKET_BUFFER = 1 << 20;

export interface OpenedSockets {
  readonly sockets: Socket[];
  /** Why sockets failed to open, one per failure. */
  readonly failures: string[];
}

/**
 * Opens `count` UDP sockets connected to host:port (each bound to an
 * ephemeral port), within timeoutMs. A socket gets a no-op 'error' listener
 * at once, so nothing it reports is ever uncaught; callers add their own.
 */
export async function openConnectedSockets(host: string, port: number, count: number, timeoutMs: number): Promise<OpenedSockets> {
  const type = isIP(host) === 6 || host.includes(':') ? 'udp6' : 'udp4';
  const failures: string[] = [];
  const opened = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket | undefined>((resolve) => {
          const s = createSocket({ type, recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER });
          let settled = false;
          const done = (ok: boolean, why?: string) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            s.off('error', onError);
            if (ok) return resolve(s);
            failures.push(why ?? 'failed');
            closeQuietly(s);
            resolve(undefined);
          };
          const onError = (e: NodeJS.ErrnoException) => done(false, e.code ?? e.message);
          const timer = setTimeout(() => done(false, `no UDP socket to ${host}:${port} within ${timeoutMs} ms`), timeoutMs);
          s.on('error', () => {});
          s.on('error', onError);
          try {
            s.connect(port, host, () => done(true));
          } catch (e) {
            done(false, (e as Error).message);
          }
        }),
    ),
  );
  return { sockets: opened.filter((s): s is Socket => s !== undefined), failures };
}

/** Closes a socket, whatever state it is in. */
export function closeQuietly(s: Socket): void {
  try {
    s.close();
  } catch {
    // already closed
  }
}

/** CoAP Uri-Path and Uri-Query option values of a resource such as `/sensors/temperature?unit=c` [RFC7252 6.4]. */
export function uriOptions(resource: string): { name: 'Uri-Path' | 'Uri-Query'; value: Buffer }[] {
  const q = resource.indexOf('?');
  const path = q < 0 ? resource : resource.slice(0, q);
  const query = q < 0 ? '' : resource.slice(q + 1);
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  return [
    ...path
      .split('/')
      .filter((s) => s.length > 0)
      .map((s) => ({ name: 'Uri-Path' as const, value: Buffer.from(decode(s)) })),
    ...query
      .split('&')
      .filter((s) => s.length > 0)
      .map((s) => ({ name: 'Uri-Query' as const, value: Buffer.from(decode(s)) })),
  ];
}
