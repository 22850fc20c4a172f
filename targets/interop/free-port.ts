// free-port.ts — pick loopback ports that are free right now. A port is found
// by binding 127.0.0.1:0 (the kernel chooses) and releasing it, so there is an
// unavoidable window before the real server binds; the launchers in this
// directory retry with a fresh port when their server reports "address in use".
import dgram from 'node:dgram';
import net from 'node:net';

export type PortKind = 'tcp' | 'udp';

export const LOOPBACK = '127.0.0.1';

function bindTcp(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port, exclusive: true }, () => {
      const addr = server.address();
      const bound = typeof addr === 'object' && addr !== null ? addr.port : 0;
      server.close(() => resolve(bound));
    });
  });
}

function bindUdp(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    socket.unref();
    socket.once('error', (err) => {
      socket.close();
      reject(err);
    });
    socket.bind({ address: LOOPBACK, port, exclusive: true }, () => {
      const bound = socket.address().port;
      socket.close(() => resolve(bound));
    });
  });
}

function bind(kind: PortKind, port: number): Promise<number> {
  return kind === 'tcp' ? bindTcp(port) : bindUdp(port);
}

/** A port on 127.0.0.1 that was free for `kind` a moment ago. */
export async function freePort(kind: PortKind): Promise<number> {
  return bind(kind, 0);
}

/** True if `port` can be bound on 127.0.0.1 for `kind` right now. */
export async function isPortFree(kind: PortKind, port: number): Promise<boolean> {
  try {
    await bind(kind, port);
    return true;
  } catch {
    return false;
  }
}

/**
 * First port p such that p, p+1, ..., p+count-1 are all free for every kind in
 * `kinds` (e.g. libcoap binds UDP and TCP on its port, and DTLS/TLS on port+1).
 */
export async function freePortBlock(
  kinds: readonly PortKind[],
  count = 1,
  attempts = 50,
): Promise<number> {
  if (kinds.length === 0) throw new Error('freePortBlock: no port kinds given');
  const first = kinds[0] as PortKind;
  for (let i = 0; i < attempts; i++) {
    const base = await freePort(first);
    if (base + count - 1 > 65535) continue;
    let ok = true;
    for (let offset = 0; ok && offset < count; offset++) {
      for (const kind of kinds) {
        if (offset === 0 && kind === first) continue;
        if (!(await isPortFree(kind, base + offset))) {
          ok = false;
          break;
        }
      }
    }
    if (ok) return base;
  }
  throw new Error(`freePortBlock: no block of ${count} port(s) free for ${kinds.join('+')} after ${attempts} attempts`);
}
