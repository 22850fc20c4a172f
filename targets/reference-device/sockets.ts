// Listening and closing helpers shared by the TCP servers of the device:
// listen on a port (0 = free) and report the real one; close so that no
// connection, keep-alive or half-open socket keeps the process alive.

import type { Server, Socket } from 'node:net';

/** Open connections of each server started through listenTcp. */
const tracked = new WeakMap<Server, Set<Socket>>();

/** Listens and resolves with the bound port; rejects on EADDRINUSE and the like. */
export function listenTcp(server: Server, port: number, host: string): Promise<number> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  tracked.set(server, sockets);
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      // After listening, a server error must not crash the process.
      server.on('error', () => {});
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

/** Stops accepting, destroys every open connection and resolves once the server is closed. */
export function closeTcp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      for (const s of tracked.get(server) ?? []) s.destroy();
      resolve();
      return;
    }
    server.close(() => resolve());
    for (const s of tracked.get(server) ?? []) s.destroy();
  });
}

/**
 * A TCP port that was free a moment ago on `host`, below the kernel's
 * ephemeral range (Linux: 32768-60999): a port released here is never handed
 * out again by a later bind to port 0 (another unit's listener, a client
 * socket), so a closed port stays closed.
 */
export async function freeTcpPort(host: string): Promise<number> {
  const { createServer } = await import('node:net');
  for (let attempt = 0; ; attempt++) {
    const wanted = attempt < 50 ? 20_000 + Math.floor(Math.random() * 12_000) : 0;
    const server = createServer();
    const bound = await new Promise<boolean>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' || e.code === 'EACCES' ? resolve(false) : reject(e)));
      server.listen(wanted, host, () => resolve(true));
    });
    if (!bound) continue;
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }
}
