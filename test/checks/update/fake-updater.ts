// A small fake updater (node:http on 127.0.0.1, port 0) for the update
// checks, with one switch per weakness. Two shapes, so the checks are shown
// to work from the declaration alone:
//
// "FKFW" (JSON token login, Ed25519), all integers big-endian:
//   0 magic "FKFW" | 4 version u32 | 8 payload length N u32 | 12 SHA-256 of
//   the payload | 44 CRC-32 of [0, 44) | 48 payload | 48+N Ed25519 signature
//   over [0, 48+N) (over [0, 48) with `manifestOnly`)
// "BKFW" (HTTP Basic, an HMAC-SHA256 tag the lab cannot forge or re-sign):
//   0 magic "BKFW" | 4 version u16 | 6 CRC-32 of the payload | 10 payload |
//   last 32 bytes HMAC-SHA256 over everything before them
//
// With `coap`, it also takes images block-wise (RFC 7959 Block1) on plain
// CoAP: PUT /fw, no authorisation, verified like the HTTP upload.

import { createHash, createHmac, generateKeyPairSync, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TargetFileInput } from '../../../harness/core/target-file.js';
import { JSON_LOGIN } from '../../support/http-target.js';
import { generate, parse } from 'coap-packet';
import { crc32 } from '../../../harness/checks/update/layout.js';

export interface Weaknesses {
  /** The signature is never verified (digest-only). */
  readonly noSignatureCheck?: boolean;
  /** An all-zero signature skips verification (unsigned-accepted). */
  readonly zeroSignatureOk?: boolean;
  /** FKFW: vendor images signed over the 48-byte header only; the payload digest is not checked. */
  readonly manifestOnly?: boolean;
  /** The version is not compared: older images install. */
  readonly rollback?: boolean;
  /** POST /api/firmware needs no session. */
  readonly noAuth?: boolean;
  /** POST /api/firmware takes any role's session. */
  readonly anyRole?: boolean;
  /** An upload cut before its end erases the running image: /api/version answers 503. */
  readonly brickOnCut?: boolean;
  /** FKFW: the signature is read right after the declared payload; trailing bytes and the size limit are ignored. */
  readonly ignoreTrailing?: boolean;
  /** Answers 400 to a verified image, then installs it 40 ms later. */
  readonly lieStatus?: boolean;
  /** Refuses every image, valid ones included. */
  readonly refuseAll?: boolean;
  /** CoAP: the first N block-wise transfers are lost after their first block (the next block is answered 4.08). */
  readonly loseTransfers?: number;
}

export type Shape = 'fkfw' | 'bkfw';

export interface FakeUpdater {
  readonly port: number;
  /** The plain CoAP port (only with `coap`). */
  readonly coapPort?: number;
  readonly images: { readonly newer: string; readonly older: string };
  /** The running version number (undefined while bricked). */
  running(): number | undefined;
  /** Images the fake installed, in order. */
  readonly installs: number[];
  /** A target file for it; `layout: false` leaves the layout out; `reset` declares POST /api/firmware/restore; with `coap` a block-wise path on the `dev` interface follows the upload. */
  target(opts?: { layout?: boolean; maxImageBytes?: number | null; reset?: boolean }): TargetFileInput;
  close(): Promise<void>;
}

export const BASELINE = 100;
export const NEWER = 200;
export const OLDER = 90;
export const MAX_IMAGE = 64 * 1024;
const HARD_CAP = 24 * 1024 * 1024;
const label = (v: number) => `fw-${v}`;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

function payloadOf(version: number): Buffer {
  const out = Buffer.alloc(4096);
  for (let i = 0; i < out.length; i++) out[i] = (i * 31 + version) & 0xff;
  return out;
}

function buildFk(version: number, payload: Buffer, key: KeyObject, manifestOnly: boolean): Buffer {
  const n = payload.length;
  const img = Buffer.alloc(48 + n + 64);
  img.write('FKFW', 0, 'latin1');
  img.writeUInt32BE(version, 4);
  img.writeUInt32BE(n, 8);
  sha256(payload).copy(img, 12);
  img.writeUInt32BE(crc32(img.subarray(0, 44)), 44);
  payload.copy(img, 48);
  sign(null, img.subarray(0, manifestOnly ? 48 : 48 + n), key).copy(img, 48 + n);
  return img;
}

function buildBk(version: number, payload: Buffer, key: Buffer): Buffer {
  const img = Buffer.alloc(10 + payload.length + 32);
  img.write('BKFW', 0, 'latin1');
  img.writeUInt16BE(version, 4);
  img.writeUInt32BE(crc32(payload), 6);
  payload.copy(img, 10);
  createHmac('sha256', key).update(img.subarray(0, img.length - 32)).digest().copy(img, img.length - 32);
  return img;
}

type Verdict = { ok: true; version: number } | { ok: false; status: number; why: string };

function verifyFk(buf: Buffer, w: Weaknesses, current: number, pub: KeyObject): Verdict {
  const bad = (why: string, status = 400): Verdict => ({ ok: false, status, why });
  if (buf.length < 48 + 64) return bad('short');
  if (buf.toString('latin1', 0, 4) !== 'FKFW') return bad('magic');
  const n = buf.readUInt32BE(8);
  const sigAt = w.ignoreTrailing ? 48 + n : buf.length - 64;
  if (w.ignoreTrailing ? 48 + n + 64 > buf.length : 48 + n + 64 !== buf.length) return bad('length');
  if (crc32(buf.subarray(0, 44)) !== buf.readUInt32BE(44)) return bad('header crc');
  const payload = buf.subarray(48, 48 + n);
  if (!w.manifestOnly && !sha256(payload).equals(buf.subarray(12, 44))) return bad('digest');
  const sig = buf.subarray(sigAt, sigAt + 64);
  const skip = w.noSignatureCheck || (w.zeroSignatureOk && sig.every((b) => b === 0));
  if (!skip) {
    let ok = false;
    try {
      ok = verify(null, buf.subarray(0, w.manifestOnly ? 48 : sigAt), pub, sig);
    } catch {
      ok = false;
    }
    if (!ok) return bad('signature');
  }
  const version = buf.readUInt32BE(4);
  if (!w.rollback && version <= current) return bad('not newer', 409);
  return { ok: true, version };
}

function verifyBk(buf: Buffer, w: Weaknesses, current: number, key: Buffer): Verdict {
  const bad = (why: string, status = 400): Verdict => ({ ok: false, status, why });
  if (buf.length < 10 + 32) return bad('short');
  if (buf.toString('latin1', 0, 4) !== 'BKFW') return bad('magic');
  const payload = buf.subarray(10, buf.length - 32);
  if (crc32(payload) !== buf.readUInt32BE(6)) return bad('crc');
  const tag = buf.subarray(buf.length - 32);
  const skip = w.noSignatureCheck || (w.zeroSignatureOk && tag.every((b) => b === 0));
  if (!skip && !timingSafeEqual(tag, createHmac('sha256', key).update(buf.subarray(0, buf.length - 32)).digest())) return bad('tag');
  const version = buf.readUInt16BE(4);
  if (!w.rollback && version <= current) return bad('not newer', 409);
  return { ok: true, version };
}

/** Reads a body up to the hard cap; `cut` when the client went away before its end. */
function readBody(req: IncomingMessage): Promise<{ kind: 'ok'; data: Buffer } | { kind: 'cut' } | { kind: 'too-large' }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > HARD_CAP) {
        resolve({ kind: 'too-large' });
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve({ kind: 'ok', data: Buffer.concat(chunks) }));
    req.on('close', () => {
      if (!req.complete) resolve({ kind: 'cut' });
    });
    req.on('error', () => resolve({ kind: 'cut' }));
  });
}

export async function startFakeUpdater(shape: Shape, w: Weaknesses = {}, opts: { coap?: boolean } = {}): Promise<FakeUpdater> {
  const ed = generateKeyPairSync('ed25519');
  const hmacKey = createHash('sha256').update(`fake-vendor-${Math.random()}`).digest();
  const build = (v: number) => (shape === 'fkfw' ? buildFk(v, payloadOf(v), ed.privateKey, !!w.manifestOnly) : buildBk(v, payloadOf(v), hmacKey));
  const dir = mkdtempSync(join(tmpdir(), 'gauntlet-fake-fw-'));
  const images = { newer: join(dir, 'newer.bin'), older: join(dir, 'older.bin') };
  writeFileSync(images.newer, build(NEWER));
  writeFileSync(images.older, build(OLDER));

  let current = BASELINE;
  let bricked = false;
  const installs: number[] = [];
  const tokens = new Map<string, string>();
  const accounts: Record<string, { pass: string; role: string }> = {
    admin: { pass: 'Adm1n-Secret-42', role: 'admin' },
    ops: { pass: 'Ops-Secret-42', role: 'admin' },
    viewer: { pass: 'View-Secret-42', role: 'viewer' },
  };
  const install = (v: number) => {
    current = v;
    bricked = false;
    installs.push(v);
  };

  const server: Server = createServer((req, res) => {
    const send = (status: number, data: unknown) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(data));
    };
    const roleOf = (): string | undefined => {
      const h = req.headers.authorization ?? '';
      if (shape === 'fkfw') return tokens.get(h.replace(/^Bearer /, ''));
      const [user, pass] = Buffer.from(h.replace(/^Basic /, ''), 'base64').toString('utf8').split(':');
      const a = user ? accounts[user] : undefined;
      return a && a.pass === pass ? a.role : undefined;
    };
    void (async () => {
      if (req.method === 'POST' && req.url === '/api/firmware') {
        const body = await readBody(req);
        const role = roleOf();
        if (body.kind === 'cut') {
          if (w.brickOnCut && (role || w.noAuth)) bricked = true;
          return;
        }
        if (!w.noAuth && !role) return send(401, { error: 'authentication required' });
        if (!w.noAuth && !w.anyRole && role !== 'admin') return send(403, { error: 'forbidden' });
        if (body.kind === 'too-large' || (!w.ignoreTrailing && body.data.length > MAX_IMAGE)) return send(413, { error: 'too large' });
        const v = shape === 'fkfw' ? verifyFk(body.data, w, current, ed.publicKey) : verifyBk(body.data, w, current, hmacKey);
        if (!v.ok || w.refuseAll) return send(v.ok ? 400 : v.status, { error: v.ok ? 'refused' : v.why });
        if (w.lieStatus) {
          setTimeout(() => install(v.version), 40);
          return send(400, { error: 'refused' });
        }
        install(v.version);
        return send(200, { installed: label(v.version) });
      }
      let body = '';
      for await (const c of req) body += c;
      // The recovery partition a lab reflashes between update tests (admin only).
      if (req.method === 'POST' && req.url === '/api/firmware/restore') {
        if (roleOf() !== 'admin') return send(401, {});
        current = BASELINE;
        bricked = false;
        return send(200, { restored: label(current) });
      }
      if (req.url === '/api/health') return send(200, { ok: true });
      if (shape === 'fkfw' && req.method === 'POST' && req.url === '/api/login') {
        let c: { username?: string; password?: string } = {};
        try {
          c = JSON.parse(body);
        } catch {
          return send(400, {});
        }
        const a = c.username ? accounts[c.username] : undefined;
        if (!a || a.pass !== c.password) return send(401, { error: 'invalid credentials' });
        const t = `t-${tokens.size + 1}`;
        tokens.set(t, a.role);
        return send(200, { token: t });
      }
      if (req.method === 'GET' && req.url === '/api/version') {
        if (!roleOf()) return send(401, {});
        if (bricked) return send(503, { error: 'no bootable image' });
        return send(200, { firmware: label(current) });
      }
      return send(404, {});
    })().catch(() => send(500, {}));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;

  // Block1 on PUT /fw: one transfer per peer, in sequence, verified when the last block arrives.
  let udp: Socket | undefined;
  if (opts.coap) {
    const sock = createSocket('udp4');
    const transfers = new Map<string, { chunks: Buffer[]; lost: boolean }>();
    let toLose = w.loseTransfers ?? 0;
    sock.on('message', (msg, rinfo) => {
      let req;
      try {
        req = parse(msg);
      } catch {
        return;
      }
      const peer = `${rinfo.address}:${rinfo.port}`;
      const reply = (code: string, block?: Buffer) =>
        sock.send(generate({ messageId: req.messageId, token: req.token, ack: req.confirmable, code, options: block ? [{ name: 'Block1', value: block }] : [] }), rinfo.port, rinfo.address);
      const path = req.options.filter((o) => o.name === 'Uri-Path').map((o) => o.value.toString()).join('/');
      if (req.code !== '0.03' || path !== 'fw') return reply('4.04');
      const raw = req.options.find((o) => o.name === 'Block1')?.value;
      if (raw === undefined) return reply('4.00');
      const v = raw.length === 0 ? 0 : raw.readUIntBE(0, raw.length);
      const num = v >>> 4;
      const more = (v & 8) !== 0;
      let t = transfers.get(peer);
      if (num === 0) {
        t = { chunks: [], lost: toLose > 0 };
        if (t.lost) toLose--;
        transfers.set(peer, t);
      } else if (t === undefined || t.lost || t.chunks.length !== num) {
        transfers.delete(peer);
        // A transfer broken off half way is a cut upload too.
        if (w.brickOnCut) bricked = true;
        return reply('4.08');
      }
      t.chunks.push(req.payload);
      if (more) return reply('2.31', raw);
      transfers.delete(peer);
      const data = Buffer.concat(t.chunks);
      const verdict = shape === 'fkfw' ? verifyFk(data, w, current, ed.publicKey) : verifyBk(data, w, current, hmacKey);
      if (!verdict.ok || w.refuseAll) return reply('4.00', raw);
      install(verdict.version);
      return reply('2.04', raw);
    });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    udp = sock;
  }
  const coapPort = udp ? udp.address().port : undefined;

  return {
    port,
    ...(coapPort !== undefined ? { coapPort } : {}),
    images,
    installs,
    running: () => (bricked ? undefined : current),
    target(opts = {}) {
      const layout =
        shape === 'fkfw'
          ? {
              payload: [48, -64],
              version: { at: 4, length: 4 },
              signature: { at: -64, length: 64, algorithm: 'ed25519' as const, covers: [0, -64] },
              digests: [
                { kind: 'sha256' as const, at: 12, covers: [48, -64] },
                { kind: 'crc32' as const, at: 44, covers: [0, 44] },
              ],
            }
          : {
              payload: [10, -32],
              version: { at: 4, length: 2 },
              signature: { at: -32, length: 32, covers: [0, -32] },
              digests: [{ kind: 'crc32' as const, at: 6, covers: [10, -32] }],
            };
      const maxImageBytes = opts.maxImageBytes === null ? undefined : (opts.maxImageBytes ?? MAX_IMAGE);
      return {
        format: 'gauntlet-target/1',
        name: `fake-updater-${shape}`,
        scope: { hosts: ['127.0.0.1'] },
        interfaces: [
          {
            id: 'web',
            protocol: 'http',
            url: `http://127.0.0.1:${port}`,
            probe: '/api/health',
            protected: '/api/version',
            auth: shape === 'fkfw' ? JSON_LOGIN : { kind: 'basic' },
          },
          ...(coapPort !== undefined ? [{ id: 'dev', protocol: 'coap', url: `coap://127.0.0.1:${coapPort}` }] : []),
        ],
        principals: Object.fromEntries(Object.entries(accounts).map(([name, a]) => [name, { user: name, pass: a.pass, role: a.role }])),
        declaration: {
          update: {
            version: { via: 'web', path: '/api/version', json: '$.firmware', as: 'viewer' },
            installTimeout: '150ms',
            images: { newer: { file: images.newer, version: label(NEWER) }, older: { file: images.older, version: label(OLDER) } },
            ...(opts.layout === false ? {} : { layout }),
            ...(maxImageBytes === undefined ? {} : { maxImageBytes }),
            paths: [
              { id: 'upload', kind: 'http-upload', via: 'web', method: 'POST', path: '/api/firmware', as: 'admin' },
              ...(coapPort !== undefined ? [{ id: 'block', kind: 'coap-block', via: 'dev', method: 'PUT', path: '/fw', blockSize: 256 }] : []),
            ],
            ...(opts.reset ? { reset: { via: 'web', method: 'POST', path: '/api/firmware/restore', as: 'admin' } } : {}),
          },
        },
      } as TargetFileInput;
    },
    async close() {
      if (udp) await new Promise<void>((r) => udp.close(() => r()));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a fake, runs `fn`, and always closes it. */
export async function withFake<T>(shape: Shape, w: Weaknesses, fn: (f: FakeUpdater) => Promise<T>, opts: { coap?: boolean } = {}): Promise<T> {
  const f = await startFakeUpdater(shape, w, opts);
  try {
    return await fn(f);
  } finally {
    await f.close();
  }
}
