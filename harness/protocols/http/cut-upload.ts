// One HTTP upload that stops half way: the request announces the full
// Content-Length, sends only the first `cutAt` bytes of the body, then the
// socket is destroyed, as a power cut or a dropped link would leave it.
// Hand-written over a raw stream (TCP, or TLS for https: common/stream.ts)
// because undici (exchange.ts) always sends the body it was given, or aborts
// before the server saw any of it: it cannot cut a body half way at a chosen byte.

import type { Socket } from 'node:net';
import type { HttpInterface } from '../../model/index.js';
import { hexOf, printable, type Io } from '../common/io.js';
import { connectStream } from '../common/stream.js';
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

  const note = (decoded: string) => io.transcript.record({ dir: 'note', peer: io.peer, decoded });
  if (io.signal?.aborted) {
    note('aborted by the run');
    return { kind: 'unreachable', error: 'aborted' };
  }
  // Asked above already, so nothing is recorded for a host out of scope; asking twice costs nothing.
  const opened = await connectStream(iface, io, `http ${io.peer}`);
  if (opened.kind === 'timeout') {
    if (io.signal?.aborted) {
      note('aborted by the run');
      return { kind: 'unreachable', error: 'aborted' };
    }
    note(`not connected within ${io.timeoutMs}ms`);
    return { kind: 'timeout' };
  }
  if (opened.kind === 'unreachable') {
    note(`request failed: ${opened.error}`);
    return { kind: 'unreachable', error: opened.error };
  }
  const socket: Socket = opened.socket;

  return new Promise<CutUploadOutcome>((resolve) => {
    let settled = false;
    let received = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    const finish = (o: CutUploadOutcome, text: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      io.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      note(text);
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
    io.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', (chunk: Buffer) => {
      if (received.length < 4096) received = Buffer.concat([received, chunk]).subarray(0, 4096);
    });
    // Connected: the device may close first (it answered early, or refused the size), and the cut then already happened.
    socket.on('error', () => {
      if (!settled) cutNow();
    });
    socket.on('close', () => {
      if (!settled) cutNow();
    });
    // Bound the write too: a device that stops reading must not hold the check.
    timer = setTimeout(cutNow, io.timeoutMs);
    socket.write(head);
    socket.write(sentBody, () => {
      clearTimeout(timer);
      timer = setTimeout(cutNow, SETTLE_MS);
    });
  });
}
