// The update server of a pull path: a bounded node:https server on the
// declared serve host (port 0) that serves ONE image at a random path with a
// given certificate, for one delivery attempt, then closes. Optionally cuts
// the body after N bytes (the full Content-Length is announced, then the
// socket is destroyed), as a dropped link would. Everything the device did is
// recorded in the transcript: connections, the TLS outcome (a handshake the
// device aborted = it refused the certificate, seen as 'tlsClientError'),
// requests (method, path) and the bytes sent.
//
// It listens only on serve.host, which target-file validation keeps on
// loopback unless the target file allows otherwise. Bounds: at most
// MAX_CONNECTIONS connections and MAX_REQUESTS requests, a request header
// timeout, and close() destroys whatever is still open.

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { printable, type Io } from '../common/io.js';

const MAX_CONNECTIONS = 16;
const MAX_REQUESTS = 32;
/** How long after the bytes of a cut body left the socket is destroyed, so they reach the device first. */
const CUT_SETTLE_MS = 50;

export interface ImageServerOptions {
  readonly host: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly image: Buffer;
  /** Send only this many body bytes, then destroy the connection (Content-Length still announces the whole image). */
  readonly cutAfter?: number;
  /** Transcript and peer name; `peer` is used for the device side. */
  readonly io: Pick<Io, 'transcript' | 'peer' | 'timeoutMs'>;
  /** What the certificate is, for the transcript (e.g. `self-signed for 127.0.0.1`). */
  readonly certLabel?: string;
}

export type TlsOutcome = 'ok' | 'refused' | 'none';

export interface ServeReport {
  /** Connections the device opened. */
  readonly connections: number;
  /**
   * 'ok': the device sent a request over TLS (or a handshake completed and is still open);
   * 'refused': every connection ended in an aborted handshake or closed right after it without a request
   * (the device refused the certificate); 'none': no connection.
   */
  readonly tls: TlsOutcome;
  /** The first TLS error seen (e.g. `alert certificate unknown`). */
  readonly tlsError?: string;
  readonly requests: readonly { readonly method: string; readonly path: string; readonly status: number; readonly sent: number }[];
  /** The image was requested and its body sent to the end (or to the cut). */
  readonly fetched: boolean;
  /** Body bytes of the image sent, over all requests (the largest single response). */
  readonly sent: number;
  readonly of: number;
}

export interface ImageServer {
  readonly url: string;
  readonly port: number;
  report(): ServeReport;
  /** Resolves when the image was sent (or cut), when the device refused the certificate, or after `ms`. */
  settled(ms: number, signal?: AbortSignal): Promise<ServeReport>;
  close(): Promise<void>;
}

export async function startImageServer(opts: ImageServerOptions): Promise<ImageServer> {
  const { io, image } = opts;
  const imagePath = `/gauntlet/${randomBytes(12).toString('hex')}.bin`;
  const cut = opts.cutAfter === undefined ? undefined : Math.min(Math.max(0, Math.floor(opts.cutAfter)), image.length);
  let connections = 0;
  let handshakes = 0;
  let refusals = 0;
  let withRequest = 0;
  const asked = new WeakSet<object>();
  let tlsError: string | undefined;
  let fetched = false;
  let sent = 0;
  const requests: { method: string; path: string; status: number; sent: number }[] = [];
  const sockets = new Set<Socket>();
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of listeners) l();
  };
  const record = (dir: 'sent' | 'received' | 'note', decoded: string) => io.transcript.record({ dir, peer: `${io.peer} (update server)`, decoded });

  const server: Server = createServer({ cert: opts.certPem, key: opts.keyPem, requestTimeout: io.timeoutMs, headersTimeout: io.timeoutMs }, (req, res) => {
    const method = req.method ?? '?';
    const path = req.url ?? '?';
    record('received', `${method} ${printable(path, 80)}`);
    if (!asked.has(req.socket)) {
      asked.add(req.socket);
      withRequest++;
    }
    if (requests.length >= MAX_REQUESTS) {
      req.socket.destroy();
      return;
    }
    const entry = { method, path: printable(path, 80), status: 0, sent: 0 };
    requests.push(entry);
    if (path !== imagePath || (method !== 'GET' && method !== 'HEAD')) {
      entry.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain', connection: 'close' });
      res.end('not found');
      record('sent', '404');
      return;
    }
    entry.status = 200;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(image.length), connection: 'close' });
    if (method === 'HEAD') {
      res.end();
      record('sent', `200 (HEAD, Content-Length ${image.length})`);
      return;
    }
    if (cut === undefined) {
      res.end(image, () => {
        entry.sent = image.length;
        sent = Math.max(sent, image.length);
        fetched = true;
        record('sent', `200, the image: ${image.length} bytes`);
        changed();
      });
      return;
    }
    res.write(image.subarray(0, cut), () => {
      entry.sent = cut;
      sent = Math.max(sent, cut);
      setTimeout(() => {
        req.socket.destroy();
        fetched = true;
        record('note', `200, Content-Length ${image.length}; connection destroyed by the harness after ${cut} body bytes`);
        changed();
      }, CUT_SETTLE_MS).unref();
    });
  });

  server.on('connection', (s: Socket) => {
    connections++;
    if (connections > MAX_CONNECTIONS) {
      s.destroy();
      return;
    }
    sockets.add(s);
    record('note', `the device connected from ${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`);
    s.on('close', () => {
      sockets.delete(s);
    });
  });
  server.on('secureConnection', (s: TLSSocket) => {
    handshakes++;
    record('note', `TLS handshake completed (${s.getProtocol() ?? '?'}${opts.certLabel ? `, certificate ${opts.certLabel}` : ''})`);
    // A client that checks the host name after the handshake (Node does) closes here without a request.
    s.on('close', () => {
      if (asked.has(s)) return;
      refusals++;
      tlsError ??= 'closed after the handshake without a request';
      record('note', `the device closed the connection after the TLS handshake without a request: it refused the certificate${opts.certLabel ? ` (${opts.certLabel})` : ''} after the handshake`);
      changed();
    });
    changed();
  });
  server.on('tlsClientError', (e: NodeJS.ErrnoException) => {
    refusals++;
    const raw = String(e.message || e.code || 'handshake failed').replace(/^.*routines::/, '');
    // A client that drops the connection mid-handshake shows as ECONNRESET ("socket hang up"); an alert names its reason.
    const what = e.code === 'ECONNRESET' || /socket hang up/i.test(raw) ? 'closed the connection during the handshake' : raw;
    tlsError ??= what;
    record('note', `TLS handshake aborted by the device (${printable(what, 80)}): it refused the certificate${opts.certLabel ? ` (${opts.certLabel})` : ''}`);
    changed();
  });
  server.on('clientError', (_e, s: Socket) => s.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}${imagePath}`;
  record('note', `serving ${image.length} bytes at ${url}${opts.certLabel ? ` with a certificate ${opts.certLabel}` : ''}${cut !== undefined ? `, body cut after ${cut} bytes` : ''}`);

  const report = (): ServeReport => ({
    connections,
    tls: withRequest > 0 ? 'ok' : refusals > 0 ? 'refused' : handshakes > 0 ? 'ok' : 'none',
    ...(tlsError !== undefined ? { tlsError } : {}),
    requests: requests.map((r) => ({ ...r })),
    fetched,
    sent,
    of: image.length,
  });
  let closed: Promise<void> | undefined;

  return {
    url,
    port,
    report,
    settled(ms, signal) {
      return new Promise<ServeReport>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
          signal?.removeEventListener('abort', done);
          resolve(report());
        };
        const check = () => {
          if (fetched || (refusals > 0 && withRequest === 0)) done();
        };
        const timer = setTimeout(done, Math.max(0, ms));
        signal?.addEventListener('abort', done, { once: true });
        listeners.add(check);
        check();
      });
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => record('note', `update server closed (${connections} connection(s), ${requests.length} request(s))`));
      return closed;
    },
  };
}
