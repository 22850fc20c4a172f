// The HTTP load generator of `gauntlet bench`: GET requests (http.request)
// and firmware-sized uploads (http.upload) over raw TCP/TLS sockets.
// Hand-written rather than driving undici: measured against wrk on the same
// server, undici reached ~0.7x of wrk's request rate, and the generator must
// never be what limits a device's figure (issue 7 asks for 0.9x; see
// efficiency/http.ts). What keeps it lean: requests are pre-encoded once (a
// window's worth of identical requests in one buffer, sliced per write, never
// copied), o.inFlight of them pipelined per keep-alive connection, and
// replies are only delimited and counted (tcp-http.ts), never parsed into
// objects.
//
// http.request: op = a complete response with status < 400 (>= 400 is an
// error naming the status); latency = request written -> response complete,
// FIFO per connection. A `Connection: close` reply ends the connection and a
// new one takes its place (the requests it left unanswered are not errors: the
// server said it would close).
// http.upload: one POST of o.payloadBytes random bytes at a time per
// connection; op = any reply after the whole body was written (a reply before
// that is an error), bytesPerSec = body bytes of completed uploads per second.
//
// Every wait is bounded by io.timeoutMs (connect, and a reply while requests
// are outstanding); garbage ends that connection with an error; every socket
// is closed at the end.

import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { HttpInterface, PathResult } from '../../model/index.js';
import { nowMs } from './latency.js';
import { ResponseReader, type OnResponse } from './tcp-http.js';
import { LoadRun, SETTLE_MS, closeReason, closeSocket, endableIo, openStream, settle, type Opened } from './tcp-run.js';
import type { LoadGenerator, LoadOptions } from './types.js';

/** Upload body when the caller names no size, bytes. */
export const DEFAULT_UPLOAD_BYTES = 256 * 1024;
/** Pipelined requests per connection at most (the pre-encoded buffer holds this many). */
const MAX_PIPELINE = 1024;
/** After a failed connect during the run, before the next try. */
const RETRY_MS = 50;
/** How often stalls (no reply within io.timeoutMs) are looked for. */
const STALL_CHECK_MS = 250;
/** A reply that arrives in the same event-loop turn as the body's write completion is judged once the write callback had its chance. */
const BODY_VERDICT_MS = 100;

export const httpLoad: LoadGenerator = async (o) => {
  if (o.iface.protocol !== 'http' && o.iface.protocol !== 'https') throw new Error(`httpLoad: interface ${o.iface.id} is ${o.iface.protocol}, not http/https`);
  switch (o.path) {
    case 'http.request':
      return httpRun(o, o.iface, 'request');
    case 'http.upload':
      return httpRun(o, o.iface, 'upload');
    default:
      throw new Error(`httpLoad: no HTTP load for path ${o.path}`);
  }
};

/** `GET /x HTTP/1.1`, Host, the caller's headers; CR/LF in a header is a programming error (request splitting). */
export function requestHead(method: string, resource: string, iface: HttpInterface, headers: Readonly<Record<string, string>>): Buffer {
  if (!resource.startsWith('/') || /[\s]/.test(resource)) throw new Error(`httpLoad: resource must be an origin-form path without spaces, not ${JSON.stringify(resource)}`);
  const host = iface.host.includes(':') && !iface.host.startsWith('[') ? `[${iface.host}]` : iface.host;
  // The caller's own Host (a virtual host) wins over the interface's.
  const ownHost = Object.keys(headers).some((k) => k.toLowerCase() === 'host');
  let text = `${method} ${resource} HTTP/1.1\r\n${ownHost ? '' : `Host: ${host}:${iface.port}\r\n`}`;
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n:]/.test(name) || /[\r\n]/.test(value)) throw new Error(`httpLoad: header ${JSON.stringify(name)} contains CR, LF or a colon`);
    text += `${name}: ${value}\r\n`;
  }
  return Buffer.from(`${text}\r\n`, 'utf8');
}

/** One connection: responses in, one end. */
class HttpConn {
  readonly reader = new ResponseReader();
  closed = false;
  /** nowMs() when the current chunk arrived. */
  rxAt = 0;
  /** Last reply byte, or the write that started a wait for one. */
  lastProgress = nowMs();
  /** Requests written and not answered yet. */
  outstanding = 0;
  onResponse: OnResponse = () => undefined;
  afterData: () => void = () => undefined;
  /** The connection ended without us closing it (why), before `ended` resolves. */
  onEnd: (why: string) => void = () => undefined;
  readonly ended: Promise<void>;
  private lastError: (Error & { code?: string }) | undefined;

  constructor(readonly socket: Socket) {
    let gone!: () => void;
    this.ended = new Promise<void>((r) => (gone = r));
    socket.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      this.rxAt = nowMs();
      this.lastProgress = this.rxAt;
      const bad = this.reader.feed(chunk, this.onResponse);
      if (bad !== undefined) return this.fail(bad);
      if (!this.closed) this.afterData();
    });
    socket.on('error', (e: Error & { code?: string }) => {
      this.lastError = e;
    });
    socket.on('close', () => {
      if (!this.closed) {
        this.rxAt = nowMs();
        // A response delimited by the close of the connection is complete now.
        this.reader.end(this.onResponse);
        this.fail(closeReason(this.lastError));
      }
      gone();
    });
  }

  fail(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.onEnd(why);
  }

  /** Our own end (FIN, destroyed after a short grace). */
  close(): Promise<void> {
    this.closed = true;
    return closeSocket(this.socket);
  }
}

async function httpRun(o: LoadOptions, iface: HttpInterface, kind: 'request' | 'upload'): Promise<PathResult> {
  const what = `bench ${o.path} ${iface.id}`;
  o.io.scope.assert(iface.host, what);
  const run = new LoadRun(o);
  const connections = Math.max(1, Math.floor(o.connections));
  const window = kind === 'upload' ? 1 : Math.min(MAX_PIPELINE, Math.max(1, Math.floor(o.inFlight)));
  const payloadBytes = kind === 'upload' ? Math.max(0, Math.floor(o.payloadBytes ?? DEFAULT_UPLOAD_BYTES)) : undefined;
  const headers = o.headers ?? {};
  // Pre-encoded: `window` identical GETs back to back (a write is a slice of it), or the upload's head and body.
  const get = kind === 'request' ? requestHead('GET', o.resource, iface, headers) : Buffer.alloc(0);
  const gets = kind === 'request' ? Buffer.concat(Array.from({ length: window }, () => get)) : Buffer.alloc(0);
  const body = payloadBytes !== undefined ? randomBytes(payloadBytes) : Buffer.alloc(0);
  const post =
    kind === 'upload'
      ? requestHead('POST', o.resource, iface, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length), ...withoutLength(headers) })
      : Buffer.alloc(0);
  // Our own abort: connects in progress when the phase ends are cut short.
  const { io, end: endConnects } = endableIo(o.io);
  const live = new Set<HttpConn>();
  const statuses = new Map<number, number>();
  let reconnects = 0;
  let uploaded = 0;
  const notes: string[] = [];
  let stallTimer: NodeJS.Timeout | undefined;

  const open = () => openStream(iface, { ...o, io }, what);

  /** Drives one connection until it ends (peer, garbage, stall, Connection: close, or our close). */
  const drive = (conn: HttpConn): Promise<void> => {
    live.add(conn);
    const sentAt = new Float64Array(window);
    let head = 0;
    let closing = false;
    let waiting = false;
    let bodyWritten = false;
    /** An upload reply that came before the body's write callback (judged within BODY_VERDICT_MS). */
    let pending: { readonly status: number; readonly close: boolean; readonly at: number } | undefined;
    let verdict: NodeJS.Timeout | undefined;

    /** Ends this connection on our side; the slot opens the next. */
    const retire = (closeReply: boolean) => {
      if (conn.closed) return;
      closing = true;
      if (closeReply) reconnects++;
      void conn.close();
    };
    const sendGets = () => {
      if (waiting || closing || conn.closed || !run.running) return;
      const n = window - conn.outstanding;
      if (n <= 0) return;
      const now = nowMs();
      if (conn.outstanding === 0) conn.lastProgress = now;
      for (let k = 0, at = head + conn.outstanding; k < n; k++, at++) sentAt[at % window] = now;
      conn.outstanding += n;
      if (!conn.socket.write(n === window ? gets : gets.subarray(0, n * get.length))) {
        waiting = true;
        conn.socket.once('drain', () => {
          waiting = false;
          sendGets();
        });
      }
    };
    const sendUpload = () => {
      if (closing || conn.closed || !run.running || conn.outstanding > 0) return;
      bodyWritten = false;
      conn.outstanding = 1;
      const now = nowMs();
      sentAt[0] = now;
      conn.lastProgress = now;
      conn.socket.cork();
      conn.socket.write(post);
      conn.socket.write(body, (err) => {
        if (err) return;
        bodyWritten = true;
        conn.lastProgress = nowMs();
        judge();
      });
      conn.socket.uncork();
    };

    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (kind === 'request') {
      conn.onResponse = (status, close) => {
        if (conn.closed) return;
        if (conn.outstanding === 0) return conn.fail(`HTTP ${status} answering no request`);
        const t = sentAt[head]!;
        head = (head + 1) % window;
        conn.outstanding--;
        count(status);
        if (status >= 400) run.error(`HTTP ${status} for GET ${o.resource}`);
        else run.op(conn.rxAt - t);
        // The requests still pipelined behind this one are not answered on this connection: the next one sends anew.
        if (close) retire(true);
      };
      conn.afterData = sendGets;
    } else {
      conn.onResponse = (status, close) => {
        if (conn.closed) return;
        if (conn.outstanding === 0 || pending) return conn.fail(`HTTP ${status} answering no request`);
        if (bodyWritten) return settled(status, close, conn.rxAt);
        // The body's write callback may still be due in this event-loop turn: judge once it had its chance.
        pending = { status, close, at: conn.rxAt };
        verdict = setTimeout(judge, BODY_VERDICT_MS);
      };
    }
    /** An upload's reply, once it is known whether the body was written before it. */
    function settled(status: number, close: boolean, at: number): void {
      conn.outstanding = 0;
      count(status);
      if (!bodyWritten) {
        run.error(`answered before the body was sent (HTTP ${status})`);
        return retire(false);
      }
      if (run.phase === 'measure') uploaded += body.length;
      run.op(at - sentAt[0]!);
      if (close) return retire(true);
      sendUpload();
    }
    function judge(): void {
      if (!pending) return;
      const p = pending;
      pending = undefined;
      clearTimeout(verdict);
      settled(p.status, p.close, p.at);
    }
    conn.onEnd = (why) => {
      if (pending) return; // the early reply is judged (an error) when the connection is gone
      if (conn.outstanding > 0) run.error(why, conn.outstanding);
      else if (!why.startsWith('connection closed by peer')) run.error(why);
      conn.outstanding = 0;
    };
    if (kind === 'request') sendGets();
    else sendUpload();
    return conn.ended.then(() => {
      judge();
      live.delete(conn);
    });
  };

  /** One connection slot: drives connections one after another while the phase runs. */
  const slot = async (first: Opened | undefined): Promise<void> => {
    let opened = first;
    while (run.running) {
      opened ??= await open();
      if (!run.running) {
        if (opened.kind === 'connected') opened.socket.destroy();
        return;
      }
      if (opened.kind === 'failed') {
        run.error(opened.error);
        opened = undefined;
        await new Promise((r) => setTimeout(r, RETRY_MS));
        continue;
      }
      const conn = new HttpConn(opened.socket);
      opened = undefined;
      await drive(conn);
    }
  };

  try {
    const firsts = await Promise.all(Array.from({ length: connections }, open));
    const up = firsts.filter((f) => f.kind === 'connected');
    if (run.aborted) {
      for (const f of up) f.socket.destroy();
      return run.result({ inFlight: window, notes: ['aborted before the measured phase'], ...(payloadBytes !== undefined ? { payloadBytes } : {}) });
    }
    for (const f of firsts) if (f.kind === 'failed') run.error(f.error);
    if (up.length === 0) {
      const first = firsts[0];
      return run.result({ inFlight: window, skipped: `no connection with ${iface.id}: ${first?.kind === 'failed' ? first.error : 'unknown'}`, ...(payloadBytes !== undefined ? { payloadBytes } : {}) });
    }
    if (up.length < connections) notes.push(`${up.length} of ${connections} connections established at the start`);
    stallTimer = setInterval(() => {
      const now = nowMs();
      for (const c of live) if (!c.closed && c.outstanding > 0 && now - c.lastProgress > o.io.timeoutMs) c.fail(`no response within ${o.io.timeoutMs} ms (${c.outstanding} outstanding)`);
    }, STALL_CHECK_MS);
    run.begin();
    const slots = up.map((f) => slot(f));
    await run.done;
    await settle(SETTLE_MS, () => [...live].every((c) => c.outstanding === 0 || c.closed));
    const unanswered = [...live].reduce((n, c) => n + (c.closed ? 0 : c.outstanding), 0);
    endConnects();
    await Promise.all([...live].map((c) => c.close()));
    await Promise.all(slots);

    const replies = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s} x ${n}`);
    if (kind === 'request') {
      notes.push(
        `op = a complete response with status < 400; latency = request written -> response complete (FIFO per connection); ${connections} keep-alive connection(s), ${window} pipelined request(s) each${iface.protocol === 'https' ? ', over TLS' : ''}`,
      );
    } else {
      notes.push(`op = a reply after the whole ${body.length}-byte body was written (any status); latency = request start -> reply complete; ${connections} connection(s), one upload at a time each${iface.protocol === 'https' ? ', over TLS' : ''}`);
    }
    notes.push(`replies: ${replies.length > 0 ? replies.join(', ') : 'none'} (warm-up and settle included)`);
    if (reconnects > 0) notes.push(`${reconnects} connection(s) ended by a Connection: close reply and replaced`);
    if (unanswered > 0) notes.push(`${unanswered} request(s) still unanswered ${SETTLE_MS} ms after the measured phase (not counted)`);
    if (run.aborted) notes.push('aborted: the measured phase ended early');
    const elapsed = run.elapsedMs;
    return run.result({ inFlight: window,
      notes,
      ...(payloadBytes !== undefined ? { payloadBytes, bytesPerSec: elapsed > 0 ? uploaded / (elapsed / 1000) : 0 } : {}),
    });
  } finally {
    run.stop();
    endConnects();
    clearInterval(stallTimer);
    await Promise.all([...live].map((c) => c.close()));
  }
}

/** The caller's headers without a Content-Length of their own (the body's is set here). */
function withoutLength(h: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).filter(([k]) => k.toLowerCase() !== 'content-length'));
}
