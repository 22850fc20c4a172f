// A conforming DTLS 1.2 PSK client session, on node-dtls-client (2.0.3,
// pinned: 1.x throws uncaught on a server's identity hint and on a truncated
// record). It is the harness's coaps transport; the hand-written codec next
// to it is for the malformed and probing side. node-dtls-client reports a
// refused PSK only as a handshake timeout, so "timeout" here may mean a wrong
// key as well as a silent peer: callers say so in what they report.

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dtls } from 'node-dtls-client';
import type { Endpoint, Principal } from '../../model/index.js';
import { ChannelBase, type ChannelOpen, type DatagramChannel } from '../common/channel.js';
import type { Io } from '../common/io.js';

/**
 * node-dtls-client 2.0.3 leaves a ClientHello without a cookie out of the
 * handshake hash (its own TODO: "only if verify request is used"), so against
 * a server that answers without a HelloVerifyRequest its Finished is wrong and
 * the handshake fails. Devices without cookies exist (that is a finding, not
 * a reason to be unable to talk to them), so the harness hashes every
 * ClientHello and forgets the hashed ones when a HelloVerifyRequest arrives
 * [RFC6347 4.2.1]. The handler module is reached by file: the package exports
 * only its entry point. The version is pinned in package.json.
 */
async function hashCookielessHellos(): Promise<void> {
  const entry = fileURLToPath(import.meta.resolve('node-dtls-client'));
  const mod = (await import(pathToFileURL(join(dirname(entry), 'DTLS', 'HandshakeHandler.js')).href)) as {
    ClientHandshakeHandler?: { prototype: { needsToHashMessage?: (m: { msg_type: number }) => boolean; allHandshakeData?: Buffer[] } };
  };
  const proto = mod.ClientHandshakeHandler?.prototype;
  if (!proto?.needsToHashMessage) throw new Error('node-dtls-client changed: ClientHandshakeHandler.needsToHashMessage is gone (see harness/protocols/dtls/client.ts)');
  const original = proto.needsToHashMessage;
  proto.needsToHashMessage = function (this: { allHandshakeData: Buffer[] }, message: { msg_type: number }): boolean {
    if (message.msg_type === HELLO_VERIFY_REQUEST) {
      // The ClientHello it answers (and this request) are not part of the handshake.
      this.allHandshakeData = [];
      return false;
    }
    if (message.msg_type === CLIENT_HELLO) return true;
    return original.call(this, message);
  };
}
const CLIENT_HELLO = 1;
const HELLO_VERIFY_REQUEST = 3;
await hashCookielessHellos();

export interface PskCredential {
  readonly identity: string;
  readonly key: Buffer;
}

export type PskPrincipal = Principal & { readonly psk: NonNullable<Principal['psk']> };

/** The declared principals that carry a DTLS PSK, in declaration order. */
export function pskPrincipals(principals: readonly Principal[]): PskPrincipal[] {
  return principals.filter((p): p is PskPrincipal => p.psk !== undefined);
}

/** A declared PSK (identity, key as hex) as the client takes it. */
export function pskCredential(psk: NonNullable<Principal['psk']>): PskCredential {
  return { identity: psk.identity, key: Buffer.from(psk.keyHex, 'hex') };
}

/** The suites node-dtls-client offers when the caller names none: the PSK AEAD suites CoAP uses [RFC7252 9.1.3.1]. */
export const DEFAULT_CLIENT_SUITES = ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_GCM_SHA256', 'TLS_PSK_WITH_AES_128_CCM'] as const;

type SuiteName = NonNullable<dtls.Options['ciphers']>[number];

class DtlsChannel extends ChannelBase implements DatagramChannel {
  readonly kind = 'dtls' as const;

  constructor(
    private readonly socket: dtls.Socket,
    readonly label: string,
  ) {
    super();
    socket.on('message', (m: Buffer) => this.deliver(m));
    socket.on('error', (e: Error) => this.fail(e.message));
    socket.on('close', () => this.fail('the DTLS session closed'));
  }

  protected transmit(datagram: Buffer): void {
    this.socket.send(datagram);
  }

  protected shutdown(): Promise<void> {
    return new Promise((resolve) => {
      const done = setTimeout(resolve, 200);
      try {
        this.socket.close(() => {
          clearTimeout(done);
          resolve();
        });
      } catch {
        clearTimeout(done);
        resolve();
      }
    });
  }
}

/** The suite the session runs, read from node-dtls-client's record layer (private; undefined if its shape changed). */
function negotiatedSuite(socket: dtls.Socket): string | undefined {
  const layer = (socket as unknown as { recordLayer?: { currentWriteEpoch?: { connectionState?: { cipherSuite?: { id?: number } } } } }).recordLayer;
  const id = layer?.currentWriteEpoch?.connectionState?.cipherSuite?.id;
  return id === undefined ? undefined : `0x${id.toString(16).padStart(4, '0')}`;
}

/**
 * Completes a DTLS 1.2 PSK handshake with `ep` as `psk.identity` within
 * io.timeoutMs (at least 500 ms: a handshake is four flights).
 */
export async function openDtlsChannel(ep: Endpoint, psk: PskCredential, io: Io, opts: { readonly suites?: readonly string[] } = {}): Promise<ChannelOpen> {
  io.scope.assert(ep.host, `dtls ${io.peer}`);
  if (io.signal?.aborted) return { kind: 'timeout', detail: 'aborted' };
  const timeout = Math.max(500, io.timeoutMs);
  const suites = (opts.suites ?? DEFAULT_CLIENT_SUITES) as readonly SuiteName[];
  let socket: dtls.Socket;
  try {
    socket = dtls.createSocket({
      type: ep.host.includes(':') ? 'udp6' : 'udp4',
      address: ep.host,
      port: ep.port,
      psk: { [psk.identity]: psk.key },
      timeout,
      ciphers: [...suites],
    });
  } catch (e) {
    return { kind: 'refused', detail: (e as Error).message };
  }
  return new Promise<ChannelOpen>((resolve) => {
    let settled = false;
    const finish = (o: ChannelOpen) => {
      if (settled) return;
      settled = true;
      io.signal?.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const onAbort = () => {
      try {
        socket.close();
      } catch {
        // already closed
      }
      finish({ kind: 'timeout', detail: 'aborted' });
    };
    io.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connected', () => {
      const suite = negotiatedSuite(socket);
      const label = `dtls as ${psk.identity}${suite ? ` (suite ${suite})` : ''}`;
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: `DTLS 1.2 handshake completed as ${psk.identity}${suite ? `, suite ${suite}` : ''}` });
      finish({ kind: 'open', channel: new DtlsChannel(socket, label) });
    });
    socket.once('error', (e: Error) => {
      const timedOut = /timed out/i.test(e.message);
      const detail = timedOut ? `no DTLS handshake within ${timeout}ms as ${psk.identity} (a refused key looks the same)` : `DTLS handshake as ${psk.identity} failed: ${e.message}`;
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: detail });
      finish(timedOut ? { kind: 'timeout', detail } : { kind: 'refused', detail });
    });
  });
}
