// One HTTP upload that stops half way: the request announces the full
// Content-Length, sends only the first `cutAt` bytes of the body, then the
// socket is destroyed, as a power cut or a dropped link would leave it.
// Hand-written over node:net / node:tls because undici (exchange.ts) always
// sends the body it was given, or aborts before the server saw any of it: it
// cannot cut a body half way at a chosen byte.

import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { HttpInterface } from '../../model/index.js';
import { hexOf, printable, type Io } from '../common/io.js';
import { headerText } from './exchange.js';

export interface CutUploadRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export type CutUploadOutcome =
  /** `sent` body bytes went out before the cut; `reply` is the status line if the device answered before it. */
  | { readonly kind: 'cut'; readonly sent: number; readonly of: number; readonly reply?: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'unreachable'; readonly error: string };

/** How long the cut waits after the bytes left, so they reach the device before the close does. */
const SETTLE_MS = 50;

export async function cutUpload(iface: HttpInterface, req: CutUploadRequest, cutAt: number, io: Io): Promise<CutUploadOutcome> {
  io.scope.assert(iface.host, `http ${io.peer}`);
  const cut = Math.min(Math.max(0, Math.floor(cutAt)), req.body.length);
  const hostHeader = `${iface.host.includes(':') ? `[${iface.host}]` : iface.host}:${iface.port}`;
  const headers: Record<string, string> = { host: hostHeader, ...req.headers, 'content-length': String(req.body.length), connection: 'close' };
  const head = `${req.method} ${req.path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v.replace(/[\r\n]/g, '')}`)
    .join('\r\n')}\r\n\r\n`;
  const sentBody = req.body.subarray(0, cut);
  io.transcript.record({
    dir: 'sent',
    peer: io.peer,
    ...hexOf(sentBody, 64),
    decoded: `${req.method} ${req.path}${headerText(req.headers)} Content-Length: ${req.body.length}, body cut after ${cut} bytes`,
  });

  return new Promise<CutUploadOutcome>((resolve) => {
    let settled = false;
    let received = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    const socket: Socket =
      iface.protocol === 'https'
        ? tlsConnect({ host: iface.host, port: iface.port, rejectUnauthorized: false, ...(isIP(iface.host) ? {} : { servername: iface.host }) })
        : netConnect({ host: iface.host, port: iface.port });
    const finish = (o: CutUploadOutcome, note: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      io.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: note });
      resolve(o);
    };
    const statusLine = () => {
      const line = received.toString('latin1').split('\r\n', 1)[0] ?? '';
      return /^HTTP\/\d/.test(line) ? line : undefined;
    };
    const cutNow = () => {
      const reply = statusLine();
      if (reply) io.transcript.record({ dir: 'received', peer: io.peer, decoded: `"${printable(received.toString('latin1'), 100)}"` });
      finish({ kind: 'cut', sent: cut, of: req.body.length, ...(reply ? { reply } : {}) }, `connection destroyed by the harness after ${cut} of ${req.body.length} body bytes${reply ? ` (the device had answered: ${printable(reply, 60)})` : ''}`);
    };
    const onAbort = () => finish({ kind: 'unreachable', error: 'aborted' }, 'aborted by the run');
    if (io.signal?.aborted) return onAbort();
    io.signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => finish({ kind: 'timeout' }, `not connected within ${io.timeoutMs}ms`), io.timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      if (received.length < 4096) received = Buffer.concat([received, chunk]).subarray(0, 4096);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // The device may close first (it answered early, or refused the size): the cut then already happened.
      if (settled) return;
      if (socket.bytesWritten > 0 || received.length > 0) return cutNow();
      finish({ kind: 'unreachable', error: String(e.code ?? e.message) }, `request failed: ${e.code ?? e.message}`);
    });
    socket.on('close', () => {
      if (!settled) cutNow();
    });
    socket.once(iface.protocol === 'https' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      // Bound the write too: a device that stops reading must not hold the check.
      timer = setTimeout(cutNow, io.timeoutMs);
      socket.write(head);
      socket.write(sentBody, () => {
        clearTimeout(timer);
        timer = setTimeout(cutNow, SETTLE_MS);
      });
    });
  });
}
