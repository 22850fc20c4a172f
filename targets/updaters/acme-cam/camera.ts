// The Acme IP camera emulator: a hardened firmware updater shaped unlike the
// reference device, to show a lab can describe an unseen update mechanism in
// a target file alone. HTTP (node:http) with Basic auth; CGI-style routes:
//
//   GET /                      public login page (the liveness probe), no version
//   GET /cgi-bin/info.cgi      any authenticated user: {"fw":{"version":"5.2","build":1234}}
//   PUT /cgi-bin/upgrade.cgi   admin only (viewer 403, none 401); body = raw ACME image
//                              (image.ts), content-type application/x-acme-firmware (else 415),
//                              at most 512 KiB (413). Verified in full before anything is
//                              written: length, CRC-32, RSA signature (400), then strictly
//                              newer than the running version (409). Accepted: 200, and the
//                              camera "reboots" into it after installDelayMs. An upload cut
//                              half way is discarded; the running image is never touched by
//                              a refused or incomplete upload.
//
// Weaknesses (ACME_WEAKNESSES) switch single rules off so each update check
// can be shown to fail on this device too.

import { createHash, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readHeader, verifyImage, versionCode, versionString } from './image.js';
import { BASELINE_VERSION, makeImages, type ImageRef, type SigningKeys } from './make-images.js';

export const ACME_CONTENT_TYPE = 'application/x-acme-firmware';
/** Largest image upgrade.cgi accepts (declared as maxImageBytes in targets/acme-cam.yaml). */
export const ACME_MAX_IMAGE_BYTES = 512 * 1024;
/** Past this (declared or received), a refused upload's connection is closed instead of read to the end. */
const MAX_DRAIN_BYTES = 8 * 1024 * 1024;
const BASELINE_BUILD = 1234;
const REALM = 'Acme IP Camera';

export const ACME_WEAKNESSES = [
  'acceptAnyImage',
  'noRollbackCheck',
  'viewerCanUpgrade',
  'noAuthUpgrade',
  'flashWhileReceiving',
  'crashOnOversized',
] as const;
export type AcmeWeakness = (typeof ACME_WEAKNESSES)[number];

export const ACME_WEAKNESS_INFO: Readonly<Record<AcmeWeakness, string>> = {
  acceptAnyImage: 'only the header (magic, header version) is checked: no length, CRC-32 or signature check',
  noRollbackCheck: 'any verified image installs, older or the same version included',
  viewerCanUpgrade: 'any authenticated user may upgrade, the viewer role included',
  noAuthUpgrade: 'upgrade.cgi needs no credentials at all',
  flashWhileReceiving: 'the camera flashes as bytes arrive: an upload cut half way boots the version its header names',
  crashOnOversized: 'an upload past 512 KiB overflows the receive buffer: the web server dies',
};

export interface AcmeCamOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (a free port). */
  readonly port?: number;
  /** Random when absent. */
  readonly adminPass?: string;
  readonly viewerPass?: string;
  /** Folder the image set is written to (kept on close); a temp folder (removed on close) when absent. */
  readonly imagesDir?: string;
  /** The camera's signing key pair; a fresh one per start when absent. */
  readonly keys?: SigningKeys;
  readonly weaknesses?: readonly AcmeWeakness[];
  /** How long the "reboot" into an accepted image takes; default 150 ms. */
  readonly installDelayMs?: number;
  readonly log?: (line: string) => void;
}

export interface RunningAcmeCam {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly images: { readonly dir: string; readonly newer: ImageRef; readonly older: ImageRef };
  /** The key the images are signed with, for tests that build images of their own. */
  readonly signingKey: KeyObject;
  readonly credentials: { readonly admin: { user: string; pass: string }; readonly viewer: { user: string; pass: string } };
  readonly weaknesses: ReadonlySet<AcmeWeakness>;
  /** The running firmware version, "major.minor". */
  version(): string;
  /** False once a crashOnOversized upload killed the web server. */
  alive(): boolean;
  close(): Promise<void>;
}

type Role = 'admin' | 'viewer';
interface Account {
  readonly user: string;
  readonly role: Role;
  readonly digest: Buffer;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export async function startAcmeCam(opts: AcmeCamOptions = {}): Promise<RunningAcmeCam> {
  const host = opts.host ?? '127.0.0.1';
  const weak = new Set<AcmeWeakness>(opts.weaknesses ?? []);
  for (const w of weak) if (!ACME_WEAKNESSES.includes(w)) throw new Error(`unknown Acme camera weakness "${w}" (known: ${ACME_WEAKNESSES.join(', ')})`);
  const log = opts.log ?? (() => {});
  const installDelayMs = opts.installDelayMs ?? 150;
  const credentials = {
    admin: { user: 'admin', pass: opts.adminPass ?? randomBytes(12).toString('base64url') },
    viewer: { user: 'viewer', pass: opts.viewerPass ?? randomBytes(12).toString('base64url') },
  };
  const accounts: Account[] = [
    { user: credentials.admin.user, role: 'admin', digest: sha256(credentials.admin.pass) },
    { user: credentials.viewer.user, role: 'viewer', digest: sha256(credentials.viewer.pass) },
  ];

  const tempDir = opts.imagesDir === undefined ? mkdtempSync(join(tmpdir(), 'acme-cam-')) : undefined;
  const imageSet = makeImages(opts.imagesDir ?? tempDir!, { keys: opts.keys });
  const publicKey = imageSet.publicKey;

  const running = { version: versionCode(BASELINE_VERSION), build: BASELINE_BUILD };
  let pendingInstall: NodeJS.Timeout | undefined;
  let crashed = false;

  const install = (version: number, why: string) => {
    if (pendingInstall) clearTimeout(pendingInstall);
    pendingInstall = setTimeout(() => {
      pendingInstall = undefined;
      running.version = version;
      running.build += 1;
      log(`upgrade: rebooted into ${versionString(version)} (${why})`);
    }, installDelayMs);
    pendingInstall.unref();
  };

  /** Basic credentials -> account; undefined for none or wrong. Constant time per comparison. */
  const authenticate = (req: IncomingMessage): Account | undefined => {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return undefined;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const digest = sha256(decoded.slice(colon + 1));
    const account = accounts.find((a) => a.user === user);
    const ok = timingSafeEqual(digest, account?.digest ?? sha256(`\0${randomBytes(8).toString('hex')}`));
    return ok ? account : undefined;
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const type = typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json';
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
    res.end(text);
  };
  const error = (res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) =>
    send(res, status, { result: 'error', error: message }, headers);
  const unauthorized = (res: ServerResponse) => error(res, 401, 'authentication required', { 'www-authenticate': `Basic realm="${REALM}", charset="UTF-8"` });

  /** Reads the rest of a refused request's body and discards it, then replies; past MAX_DRAIN_BYTES the connection is closed. */
  const refuseAfterDrain = (req: IncomingMessage, res: ServerResponse, reply: () => void) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (req.complete || (!(declared > 0) && req.headers['transfer-encoding'] === undefined)) {
      reply();
      return;
    }
    if (declared > MAX_DRAIN_BYTES) {
      res.setHeader('connection', 'close');
      reply();
      res.once('finish', () => req.socket.destroySoon());
      return;
    }
    let seen = 0;
    req.on('data', (c: Buffer) => {
      seen += c.length;
      if (seen > MAX_DRAIN_BYTES) req.socket.destroy();
    });
    req.once('end', reply);
  };

  const crash = () => {
    crashed = true;
    log('upgrade: receive buffer overflow: the web server died (crashOnOversized)');
    server.close();
    for (const s of sockets) s.destroy();
  };

  const upgrade = (req: IncomingMessage, res: ServerResponse) => {
    if (!weak.has('noAuthUpgrade')) {
      const account = authenticate(req);
      if (!account) return refuseAfterDrain(req, res, () => unauthorized(res));
      if (account.role !== 'admin' && !weak.has('viewerCanUpgrade')) {
        return refuseAfterDrain(req, res, () => error(res, 403, 'upgrade needs the admin role'));
      }
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== ACME_CONTENT_TYPE) {
      return refuseAfterDrain(req, res, () => error(res, 415, `expected content-type ${ACME_CONTENT_TYPE}`));
    }
    const tooLarge = () => error(res, 413, `image larger than ${ACME_MAX_IMAGE_BYTES} bytes`);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > ACME_MAX_IMAGE_BYTES) {
      if (weak.has('crashOnOversized')) return crash();
      return refuseAfterDrain(req, res, tooLarge);
    }

    const chunks: Buffer[] = [];
    let received = 0;
    let oversized = false;
    let ended = false;
    req.on('data', (c: Buffer) => {
      received += c.length;
      if (received > ACME_MAX_IMAGE_BYTES) {
        if (!oversized && weak.has('crashOnOversized')) return crash();
        oversized = true;
        chunks.length = 0;
        if (received > MAX_DRAIN_BYTES) req.socket.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', () => {});
    req.once('close', () => {
      if (ended) return;
      // The connection dropped before the body was complete: nothing is written.
      if (weak.has('flashWhileReceiving') && !oversized) {
        const partial = Buffer.concat(chunks);
        const h = readHeader(partial);
        if (h.ok) {
          log(`upgrade: upload cut at ${received} bytes, half-flashed image boots as ${versionString(h.version)} (flashWhileReceiving)`);
          install(h.version, 'half-flashed');
          return;
        }
      }
      log(`upgrade: upload cut at ${received} bytes: discarded, running ${versionString(running.version)} untouched`);
    });
    req.once('end', () => {
      ended = true;
      if (oversized) return tooLarge();
      const image = Buffer.concat(chunks);
      let version: number;
      if (weak.has('acceptAnyImage')) {
        const h = readHeader(image);
        if (!h.ok) return error(res, 400, `invalid image: ${h.detail}`);
        version = h.version;
      } else {
        const v = verifyImage(image, publicKey);
        if (!v.ok) {
          log(`upgrade: refused (${v.reason}: ${v.detail})`);
          return error(res, 400, `invalid image: ${v.reason}`);
        }
        version = v.version;
      }
      if (version <= running.version && !weak.has('noRollbackCheck')) {
        log(`upgrade: refused ${versionString(version)}: not newer than ${versionString(running.version)}`);
        return error(res, 409, `version ${versionString(version)} is not newer than the running ${versionString(running.version)}`);
      }
      log(`upgrade: accepted ${versionString(version)} (${image.length} bytes), rebooting`);
      install(version, 'upload');
      send(res, 200, { result: 'ok', installing: versionString(version), reboot: true });
    });
  };

  const LOGIN_PAGE = `<!doctype html><html><head><title>${REALM}</title></head><body><h1>${REALM}</h1><p>Sign in to continue.</p></body></html>`;
  const routes: Record<string, { methods: string[]; handle: (req: IncomingMessage, res: ServerResponse) => void }> = {
    '/': { methods: ['GET', 'HEAD'], handle: (_req, res) => send(res, 200, LOGIN_PAGE) },
    '/cgi-bin/info.cgi': {
      methods: ['GET'],
      handle: (req, res) => {
        if (!authenticate(req)) return unauthorized(res);
        send(res, 200, { fw: { version: versionString(running.version), build: running.build } });
      },
    },
    '/cgi-bin/upgrade.cgi': { methods: ['PUT'], handle: upgrade },
  };

  const sockets = new Set<Socket>();
  const server = createServer({ requestTimeout: 20_000, headersTimeout: 10_000, connectionsCheckingInterval: 1000 }, (req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://camera').pathname;
    } catch {
      return refuseAfterDrain(req, res, () => error(res, 400, 'bad request'));
    }
    const route = routes[path];
    if (!route) return refuseAfterDrain(req, res, () => error(res, 404, 'not found'));
    if (!route.methods.includes(req.method ?? '')) {
      return refuseAfterDrain(req, res, () => error(res, 405, 'method not allowed', { allow: route.methods.join(', ') }));
    }
    if (route.handle !== upgrade) return refuseAfterDrain(req, res, () => route.handle(req, res));
    try {
      route.handle(req, res);
    } catch (e) {
      log(`upgrade: internal error ${String(e)}`);
      error(res, 500, 'internal error');
    }
  });
  server.keepAliveTimeout = 2000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_e, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      server.on('error', () => {});
      resolve((server.address() as { port: number }).port);
    });
  }).catch((e: unknown) => {
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    throw e;
  });
  log(`Acme IP camera on http://${host}:${port}, firmware ${BASELINE_VERSION}${weak.size ? `, weaknesses: ${[...weak].join(', ')}` : ''}`);

  let closed = false;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    images: { dir: imageSet.dir, newer: imageSet.newer, older: imageSet.older },
    signingKey: imageSet.privateKey,
    credentials,
    weaknesses: weak,
    version: () => versionString(running.version),
    alive: () => !crashed,
    close: async () => {
      if (closed) return;
      closed = true;
      if (pendingInstall) clearTimeout(pendingInstall);
      await new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      for (const s of sockets) s.destroy();
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    },
  };
}
