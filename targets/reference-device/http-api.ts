// The device's HTTP admin API (node:http, JSON): login with bearer sessions,
// the first-use password change, status/config/users behind roles, and each
// user's own record (object ownership: a device-role account reads only its
// own). Every answer is JSON with a fixed error body per case (no user
// enumeration, no stack traces, no Server or X-Powered-By banner); bad input
// of any kind gets a 4xx, never a crash.
//
// Firmware: POST /api/firmware (admin) takes a raw RDFW image (up to 1 MiB,
// any content type) and installs it synchronously when it verifies (see
// firmware-image.ts); GET /api/status names the running version. An upload
// cut before its end is discarded (with brick-on-interrupt it erases the
// running image, and /api/status then answers 503).
//
// Paths: the router normalises the request path (each segment percent-decoded,
// '.' segments removed, '..' resolved, empty segments from '//' and a trailing
// '/' dropped; case-sensitive) and authorization is decided on the route the
// normalised path names, so every spelling of a protected route needs the same
// session. The http-path-normalisation flaw checks authorization on the raw
// path instead (an exact string match against the protected routes).
//
// https (listenTls): the same request handler (same sessions, same state)
// also served over TLS on a second port; close() closes both.
//
// Credentials only over TLS: the plain port serves GET /api/health and
// answers everything else 308 Permanent Redirect to the same path on https
// (before reading the body, so a password sent there is never checked). The
// plaintext-credentials flaw serves the whole API on the plain port.
//
// Both ports take their connections through the unit's connection gate
// (connection-gate.ts) when one is given: the connection slots, and the
// readers of request heads (the slow-request-starvation flaw: no header
// deadline, and Node's own request and header timeouts off).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket, TlsOptions } from 'node:tls';
import type { Accounts, AccountRole } from './accounts.js';
import type { DeviceState } from './device-state.js';
import type { Flaw } from './flaws.js';
import { BASELINE_VERSION, MAX_IMAGE_BYTES, type Firmware } from './firmware.js';
import type { RejectReason } from './firmware-image.js';
import { Sessions, type Session } from './sessions.js';
import { closeTcp, listenTcp } from './sockets.js';
import { handshakeFailure } from './tls.js';
import { httpFault, type Fault } from './robustness-flaws.js';
import type { ConnectionGate } from './connection-gate.js';

/** The version every unit starts with. */
export const FIRMWARE_VERSION = BASELINE_VERSION;
/** The one route the plain port serves (as normalised path segments). */
const PLAIN_PUBLIC = ['api', 'health'];
/** Request bodies above this are refused with 413. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Past this (declared or received), the connection is closed after the 413 instead of reading the rest. */
const MAX_DRAIN_BYTES = 1024 * 1024;
/** The same for firmware images (kept up to MAX_IMAGE_BYTES). */
const MAX_IMAGE_DRAIN_BYTES = 4 * MAX_IMAGE_BYTES;

export interface HttpApiOptions {
  readonly host: string;
  readonly port: number;
  readonly accounts: Accounts;
  readonly flaws: ReadonlySet<Flaw>;
  readonly state: DeviceState;
  readonly serial: string;
  readonly log: (line: string) => void;
  /** The unit's session store (shared with the CoAP debug resource); a fresh one if absent. */
  readonly sessions?: Sessions;
  /** The unit's firmware slot: /api/status reads it, POST /api/firmware installs into it. */
  readonly firmware: Firmware;
  /** A robustness flaw fired on a request: the device's watchdog crashes the service. */
  readonly onFault?: (fault: Fault) => void;
  /** The unit's connection slots and request readers (connection-gate.ts); without one every connection is read at once. */
  readonly gate?: ConnectionGate;
}

export interface RunningHttp {
  readonly port: number;
  /** Also serves the API over TLS on `port` (0 = free); rejects when it cannot listen. Closed with the API. */
  listenTls(port: number, options: TlsOptions): Promise<{ readonly port: number; close(): Promise<void> }>;
  close(): Promise<void>;
}

interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

interface Context {
  readonly session: Session | undefined;
  readonly token: string | undefined;
  readonly body: unknown;
  /** The raw body of a route that takes an image. */
  readonly image?: Buffer;
  /** Values of the route's `{param}`s (percent-decoded). */
  readonly params: Readonly<Record<string, string>>;
  /** false when authorization was skipped (the http-path-normalisation flaw): the handler checks nothing either. */
  readonly checked: boolean;
}

interface RouteDef {
  /** public: no session; session: any role; admin: role admin. */
  readonly access: 'public' | 'session' | 'admin';
  /** Open to anyone (no session, any role) when this flaw is on. */
  readonly openWith?: Flaw;
  /** The route takes a body: JSON (up to MAX_BODY_BYTES), or a raw firmware image (up to MAX_IMAGE_BYTES). */
  readonly body?: 'json' | 'image';
  readonly run: (ctx: Context) => Reply;
  /** Called instead of run when the client cut the connection before the body ended. */
  readonly cut?: (ctx: Omit<Context, 'body' | 'image'>) => void;
}

const AUTH_REQUIRED: Reply = { status: 401, body: { error: 'authentication required' }, headers: { 'WWW-Authenticate': 'Bearer' } };
const INVALID_CREDENTIALS: Reply = { status: 401, body: { error: 'invalid credentials' } };
const FORBIDDEN: Reply = { status: 403, body: { error: 'forbidden' } };
const NOT_FOUND: Reply = { status: 404, body: { error: 'not found' } };

/** A route: its template (`{param}` for one path segment) and its methods. */
export interface RouteEntry {
  readonly template: string;
  readonly methods: Readonly<Record<string, RouteDef>>;
}

/**
 * The path segments a request path names: each segment percent-decoded, '.'
 * removed, '..' resolved (never above the root), empty segments ('//', a
 * trailing '/') dropped. undefined for a malformed percent-encoding.
 */
export function normalisePath(rawPath: string): string[] | undefined {
  const out: string[] = [];
  for (const raw of rawPath.split('/')) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return out;
}

/** The route whose template the (normalised) segments fill, with the parameter values; case-sensitive. */
export function matchRoute(
  routes: readonly RouteEntry[],
  segments: readonly string[],
): { readonly entry: RouteEntry; readonly params: Record<string, string> } | undefined {
  for (const entry of routes) {
    const parts = entry.template.split('/').slice(1);
    if (parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const ok = parts.every((part, i) => {
      const m = /^\{([A-Za-z]\w*)\}$/.exec(part);
      if (m) {
        params[m[1]!] = segments[i]!;
        return true;
      }
      return part === segments[i];
    });
    if (ok) return { entry, params };
  }
  return undefined;
}

/** The http-path-normalisation flaw's test: whether the RAW path is, character for character, one of the protected routes. */
export function rawPathIsProtected(routes: readonly RouteEntry[], rawPath: string): boolean {
  return routes.some((entry) => {
    if (Object.values(entry.methods).every((d) => d.access === 'public')) return false;
    const pattern = entry.template
      .split('/')
      .map((part) => (/^\{[A-Za-z]\w*\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    return new RegExp(`^${pattern}$`).test(rawPath);
  });
}

function badRequest(error: string): Reply {
  return { status: 400, body: { error } };
}

/** The named fields of a JSON object body, all strings, or undefined. */
function stringFields<K extends string>(body: unknown, keys: readonly K[]): Record<K, string> | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const out = {} as Record<K, string>;
  for (const k of keys) {
    const v = (body as Record<string, unknown>)[k];
    if (typeof v !== 'string' || !Object.prototype.hasOwnProperty.call(body, k)) return undefined;
    out[k] = v;
  }
  return out;
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer[ ]+([0-9a-f]{64})[ ]*$/i.exec(h);
  return m?.[1]?.toLowerCase();
}

type BodyResult = { readonly kind: 'ok'; readonly data: Buffer } | { readonly kind: 'too-large'; readonly close: boolean } | { readonly kind: 'aborted' };

/** Reads a body of at most `keep` bytes; a larger one is read and discarded up to `drain`, past which the connection is closed. */
function readBody(req: IncomingMessage, keep: number, drain: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > drain) return Promise.resolve({ kind: 'too-large', close: true });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > drain) {
        req.pause();
        resolve({ kind: 'too-large', close: true });
      } else if (size > keep) {
        chunks.length = 0; // keep draining, stop keeping
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(size > keep ? { kind: 'too-large', close: false } : { kind: 'ok', data: Buffer.concat(chunks) }));
    req.on('error', () => resolve({ kind: 'aborted' }));
    req.on('close', () => resolve({ kind: 'aborted' })); // no effect once resolved
  });
}

/** The answer to a refused image. */
const IMAGE_REFUSED: Readonly<Record<RejectReason, Reply>> = {
  malformed: badRequest('malformed image'),
  'wrong-product': badRequest('wrong vendor or model'),
  'digest-mismatch': badRequest('digest mismatch'),
  'bad-signature': badRequest('bad signature'),
  'not-newer': { status: 409, body: { error: 'not newer' } },
};

const who = (session: Session | undefined): string => `user=${JSON.stringify(session?.user ?? '(anonymous)')}`;

export function createRoutes(opts: HttpApiOptions, sessions: Sessions): readonly RouteEntry[] {
  const { accounts, state, log, firmware } = opts;
  const userList = (): Reply => ({ status: 200, body: accounts.list() });
  const table: Readonly<Record<string, Readonly<Record<string, RouteDef>>>> = {
    '/api/health': { GET: { access: 'public', run: () => ({ status: 200, body: { status: 'ok' } }) } },
    '/api/login': {
      POST: {
        access: 'public',
        body: 'json',
        run: ({ body }) => {
          const f = stringFields(body, ['username', 'password'] as const);
          if (!f) return badRequest('expected {"username": string, "password": string}');
          const result = accounts.authenticate(f.username, f.password, 'http');
          if (!result.ok) return INVALID_CREDENTIALS;
          if (accounts.blockedByFirstUse(result.account)) {
            return result.account.user === 'admin'
              ? { status: 403, body: { error: 'password change required', change: '/api/password' } }
              : { status: 403, body: { error: 'device not provisioned' } };
          }
          return { status: 200, body: { token: sessions.create(result.account.user, result.account.role) } };
        },
      },
    },
    '/api/password': {
      POST: {
        access: 'public',
        body: 'json',
        run: ({ body }) => {
          const f = stringFields(body, ['username', 'password', 'newPassword'] as const);
          if (!f) return badRequest('expected {"username": string, "password": string, "newPassword": string}');
          const result = accounts.changePassword(f.username, f.password, f.newPassword, 'http');
          if (result.ok) {
            sessions.revokeUser(f.username);
            return { status: 204 };
          }
          switch (result.reason) {
            case 'invalid':
            case 'locked':
              return INVALID_CREDENTIALS;
            case 'weak':
              return badRequest(result.message);
            case 'immutable':
              return { status: 403, body: { error: result.message } };
          }
        },
      },
    },
    '/api/status': {
      GET: {
        access: 'session',
        openWith: 'anonymous-http',
        run: () => {
          const running = firmware.running();
          if (running === undefined) return { status: 503, body: { error: 'no bootable image' } };
          return { status: 200, body: { firmware: running, uptimeSeconds: state.uptimeSeconds(), serial: opts.serial } };
        },
      },
    },
    '/api/firmware': {
      POST: {
        access: 'admin',
        openWith: 'update-no-auth',
        body: 'image',
        run: ({ image, session }) => {
          const result = firmware.install(image ?? Buffer.alloc(0), who(session));
          return result.ok ? { status: 200, body: { installed: result.version } } : IMAGE_REFUSED[result.reason];
        },
        cut: ({ session }) => firmware.uploadCut(who(session)),
      },
    },
    // The recovery partition, as labs use between update tests (admin only; no flaw opens it).
    '/api/firmware/restore': {
      POST: {
        access: 'admin',
        run: ({ session }) => {
          firmware.restore(who(session));
          return { status: 200, body: { restored: firmware.running() } };
        },
      },
    },
    '/api/config': {
      GET: { access: 'admin', openWith: 'anonymous-http', run: () => ({ status: 200, body: state.config() }) },
      PUT: {
        access: 'admin',
        body: 'json',
        run: ({ body, session }) => {
          const result = state.updateConfig(body);
          if (!result.ok) return badRequest(result.error);
          log(`http: config changed by user=${JSON.stringify(session?.user ?? '(anonymous)')}`);
          return { status: 204 };
        },
      },
    },
    '/api/users': { GET: { access: 'admin', openWith: 'anonymous-http', run: userList } },
    '/api/users/{user}': {
      GET: {
        access: 'session',
        run: ({ session, params, checked }) => {
          const user = params.user ?? '';
          // Object ownership: an admin reads any record, anyone else only their
          // own; someone else's record is 403 whether it exists or not (no
          // enumeration). The http-idor flaw leaves the ownership check out.
          const idor = opts.flaws.has('http-idor');
          if (checked && !idor && session !== undefined && session.role !== 'admin' && session.user !== user) return FORBIDDEN;
          const record = accounts.find(user);
          return record ? { status: 200, body: record } : NOT_FOUND;
        },
      },
    },
    '/api/logout': {
      POST: {
        access: 'session',
        run: ({ token, session }) => {
          if (token) sessions.revoke(token);
          log(`http: logout user=${JSON.stringify(session?.user ?? '')}`);
          return { status: 204 };
        },
      },
    },
  };
  return Object.entries(table).map(([template, methods]) => ({ template, methods }));
}

/** What the verbose-errors flaw adds to every reply: the product and (last installed) version. */
function bannerHeaders(version: string): Record<string, string> {
  return { Server: `RD-1/${version} (node ${process.versions.node})`, 'X-Powered-By': `rd1-firmware ${version}` };
}

/** What the verbose-errors flaw adds to error bodies: the firmware version and a stack trace with file paths. */
function verboseError(body: unknown, version: string): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const error = String((body as { error?: unknown }).error ?? 'error');
  return {
    ...body,
    firmware: version,
    stack: [
      `Error: ${error}`,
      '    at handle (/opt/rd1/http-api.js:42:7)',
      '    at Server.<anonymous> (/opt/rd1/http-api.js:311:5)',
      '    at Server.emit (node:events:519:28)',
    ].join('\n'),
  };
}

/** Sends a reply; `verbose` (the verbose-errors flaw) is the firmware version to disclose. */
function send(res: ServerResponse, reply: Reply, close = false, verbose?: string): void {
  if (res.headersSent) return;
  const headers: Record<string, string> = {
    ...(verbose !== undefined ? bannerHeaders(verbose) : {}),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...reply.headers,
  };
  if (verbose !== undefined && reply.status >= 400 && reply.body !== undefined) reply = { ...reply, body: verboseError(reply.body, verbose) };
  if (close) headers.Connection = 'close';
  if (reply.status === 204 || reply.body === undefined) {
    res.writeHead(reply.status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(reply.body);
  headers['Content-Type'] = 'application/json; charset=utf-8';
  headers['Content-Length'] = String(Buffer.byteLength(text));
  res.writeHead(reply.status, headers);
  res.end(text);
}

const hasRole = (session: Session, role: AccountRole): boolean => session.role === role;

export async function startHttpApi(opts: HttpApiOptions): Promise<RunningHttp> {
  const sessions = opts.sessions ?? new Sessions();
  const routes = createRoutes(opts, sessions);
  const verbose = opts.flaws.has('verbose-errors');
  const rawAuthz = opts.flaws.has('http-path-normalisation');
  const reply = (res: ServerResponse, r: Reply, close = false): void => send(res, r, close, verbose ? opts.firmware.lastInstalled() : undefined);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '';
    if (!rawUrl.startsWith('/')) return reply(res, badRequest('bad request target'));
    const rawPath = rawUrl.split(/[?#]/, 1)[0]!;
    const segments = normalisePath(rawPath);
    if (!segments) return reply(res, badRequest('bad request target'));
    const match = matchRoute(routes, segments);
    if (!match) return reply(res, NOT_FOUND);
    const route = match.entry.methods;
    const method = req.method ?? '';
    const def = Object.prototype.hasOwnProperty.call(route, method) ? route[method] : undefined;
    if (!def) {
      return reply(res, { status: 405, body: { error: 'method not allowed' }, headers: { Allow: Object.keys(route).join(', ') } });
    }

    const token = bearer(req);
    const session = token === undefined ? undefined : sessions.get(token);
    // Hardened: authorization follows the route the normalised path names. The
    // flaw: it is only checked when the raw path spells a protected route exactly.
    const checked = !rawAuthz || rawPathIsProtected(routes, rawPath);
    const open = !checked || def.access === 'public' || (def.openWith !== undefined && opts.flaws.has(def.openWith));
    if (!open) {
      if (!session) return reply(res, AUTH_REQUIRED);
      if (def.access === 'admin' && !hasRole(session, 'admin')) return reply(res, FORBIDDEN);
    }

    const base = { session, token, params: match.params, checked };
    let body: unknown;
    let image: Buffer | undefined;
    if (def.body === 'json') {
      const read = await readBody(req, MAX_BODY_BYTES, MAX_DRAIN_BYTES);
      if (read.kind === 'aborted') return;
      if (read.kind === 'too-large') return reply(res, { status: 413, body: { error: `request body larger than ${MAX_BODY_BYTES} bytes` } }, read.close);
      try {
        body = JSON.parse(read.data.toString('utf8'));
      } catch {
        return reply(res, badRequest('malformed JSON'));
      }
    } else if (def.body === 'image') {
      const read = await readBody(req, MAX_IMAGE_BYTES, MAX_IMAGE_DRAIN_BYTES);
      if (read.kind === 'aborted') return def.cut?.(base);
      if (read.kind === 'too-large') return reply(res, { status: 413, body: { error: `image larger than ${MAX_IMAGE_BYTES} bytes` } }, read.close);
      image = read.data;
    }
    reply(res, def.run({ ...base, body, image }));
  }

  /** The robustness flaw, on every request of either port, before anything else reads it. */
  const faulted = (req: IncomingMessage): boolean => {
    const fault = httpFault(req.url ?? '', req.rawHeaders, opts.flaws);
    if (!fault) return false;
    req.socket.destroy();
    opts.onFault?.(fault);
    return true;
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (!faulted(req)) serve(req, res);
  };
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      opts.log(`http: internal error: ${err instanceof Error ? err.message : String(err)}`);
      reply(res, { status: 500, body: { error: 'internal error' } }, true);
    });
  };
  const slowHeads = opts.flaws.has('slow-request-starvation');
  const withTimeouts = <S extends Server>(s: S): S => {
    // slow-request-starvation: no deadline at all on a request (0 = none).
    s.requestTimeout = slowHeads ? 0 : 10_000;
    s.headersTimeout = slowHeads ? 0 : 5_000;
    s.keepAliveTimeout = 5_000;
    return s;
  };
  const shut = async (s: Server): Promise<void> => {
    s.closeAllConnections();
    await closeTcp(s);
  };
  /** The first TLS port, where the plain port redirects to. */
  let httpsPort: number | undefined;
  const plainLogins = opts.flaws.has('plaintext-credentials');
  const onPlainRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (faulted(req)) return;
    if (plainLogins) return serve(req, res);
    const rawUrl = req.url ?? '';
    const path = rawUrl.startsWith('/') ? normalisePath(rawUrl.split(/[?#]/, 1)[0]!) : undefined;
    if (path && path.join('/') === PLAIN_PUBLIC.join('/') && req.method === 'GET') return serve(req, res);
    if (httpsPort === undefined || !rawUrl.startsWith('/')) return reply(res, { status: 403, body: { error: 'plaintext HTTP serves /api/health only' } }, true);
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    const location = `https://${host}:${httpsPort}${rawUrl}`;
    opts.log(`http: ${req.method ?? '?'} ${rawUrl.slice(0, 80)} on the plaintext port redirected to https`);
    reply(res, { status: 308, body: { error: 'use https', location }, headers: { Location: location } }, true);
  };
  const server = withTimeouts(createServer(onPlainRequest));
  opts.gate?.guard(server, 'http', 'http');
  const port = await listenTcp(server, opts.port, opts.host);

  const tlsListeners: { close(): Promise<void> }[] = [];
  let closing: Promise<void> | undefined;
  return {
    port,
    async listenTls(tlsPort, options) {
      if (closing) throw new Error('the HTTP API is closed');
      const tlsServer = withTimeouts(createHttpsServer(options, onRequest));
      tlsServer.on('tlsClientError', (err: Error, socket: TLSSocket) => {
        if (opts.gate?.dropped(socket)) return; // the gate closed it (idle, evicted): logged there
        opts.log(`https: TLS handshake failed from ${socket.remoteAddress ?? '?'}: ${handshakeFailure(err)}`);
      });
      opts.gate?.guard(tlsServer, 'https', 'http');
      const bound = await listenTcp(tlsServer, tlsPort, opts.host);
      httpsPort ??= bound;
      let closingTls: Promise<void> | undefined;
      const listener = {
        port: bound,
        close() {
          closingTls ??= shut(tlsServer);
          return closingTls;
        },
      };
      tlsListeners.push(listener);
      return listener;
    },
    close() {
      closing ??= Promise.all([shut(server), ...tlsListeners.map((l) => l.close())]).then(() => {});
      return closing;
    },
  };
}
