// A small fake "pulling device" for the pull update path: an MQTT listener
// speaking just enough MQTT 3.1.1 (mqtt-packet) to take CONNECT and PUBLISH,
// and an HTTP API for the version. A publish of {"url"} to
// devices/fk/cmd/update by an admin makes it fetch the image over HTTPS,
// trusting only its own test CA (whose files the target declares in
// serve.ca), verify it and install it. One switch per weakness.
//
// Image "PLFW": 0 magic | 4 version u32 BE | 8 payload (4096 bytes) | last 64
// bytes an Ed25519 signature over everything before them.

import { generateKeyPairSync, sign, verify as verifySig } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { request } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { newCa } from '../../../harness/core/certs.js';
import type { TargetFileInput } from '../../../harness/core/target-file.js';

export interface PullWeaknesses {
  /** TLS verification off: any certificate is accepted (pull-any-certificate). */
  readonly anyCertificate?: boolean;
  /** The trust anchor is the CA, but the host name is not checked. */
  readonly noHostCheck?: boolean;
  /** Anonymous CONNECT is accepted and anyone's trigger is obeyed. */
  readonly anonymousTrigger?: boolean;
  /** Any authenticated principal's trigger is obeyed. */
  readonly anyRole?: boolean;
  /** A body cut short is installed as far as it goes: the device is left without an image. */
  readonly brickOnCut?: boolean;
}

export interface FakePuller {
  readonly installs: number[];
  /** URLs the device was told to fetch. */
  readonly triggers: string[];
  running(): number | undefined;
  target(opts?: { ca?: boolean; reset?: boolean }): TargetFileInput;
  close(): Promise<void>;
}

export const BASELINE = 100;
export const NEWER = 200;
export const OLDER = 90;
const TOPIC = 'devices/fk/cmd/update';
export const IMAGE_BYTES = 8 + 4096 + 64;
const label = (v: number) => `fw-${v}`;

const accounts: Record<string, { pass: string; role: string }> = {
  admin: { pass: 'Adm1n-Secret-42', role: 'admin' },
  viewer: { pass: 'View-Secret-42', role: 'viewer' },
};

export async function startFakePuller(w: PullWeaknesses = {}): Promise<FakePuller> {
  const ed = generateKeyPairSync('ed25519');
  const build = (v: number) => {
    const img = Buffer.alloc(IMAGE_BYTES);
    for (let i = 8; i < IMAGE_BYTES - 64; i++) img[i] = (i * 31 + v) & 0xff;
    img.write('PLFW', 0, 'latin1');
    img.writeUInt32BE(v, 4);
    sign(null, img.subarray(0, IMAGE_BYTES - 64), ed.privateKey).copy(img, IMAGE_BYTES - 64);
    return img;
  };
  const dir = mkdtempSync(join(tmpdir(), 'gauntlet-fake-pull-'));
  const files = { newer: join(dir, 'newer.bin'), older: join(dir, 'older.bin'), caCert: join(dir, 'ca.pem'), caKey: join(dir, 'ca.key') };
  writeFileSync(files.newer, build(NEWER));
  writeFileSync(files.older, build(OLDER));
  const ca = newCa('Fake puller CA', 'fake-puller-ca');
  writeFileSync(files.caCert, ca.certPem);
  writeFileSync(files.caKey, ca.keyPem);

  let current: number | undefined = BASELINE;
  const installs: number[] = [];
  const triggers: string[] = [];

  const verify = (img: Buffer): number | undefined => {
    if (img.length !== IMAGE_BYTES || img.toString('latin1', 0, 4) !== 'PLFW') return undefined;
    let ok = false;
    try {
      ok = verifySig(null, img.subarray(0, IMAGE_BYTES - 64), ed.publicKey, img.subarray(IMAGE_BYTES - 64));
    } catch {
      ok = false;
    }
    if (!ok) return undefined;
    const v = img.readUInt32BE(4);
    return current !== undefined && v > current ? v : undefined;
  };

  const fetchAndInstall = (url: string) => {
    const req = request(
      url,
      {
        ca: ca.certPem,
        rejectUnauthorized: !w.anyCertificate,
        ...(w.noHostCheck ? { checkServerIdentity: () => undefined } : {}),
        timeout: 2000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        const done = (complete: boolean) => {
          const body = Buffer.concat(chunks);
          if (!complete || body.length !== Number(res.headers['content-length'])) {
            if (w.brickOnCut) current = undefined;
            return;
          }
          const v = verify(body);
          if (v !== undefined) {
            current = v;
            installs.push(v);
          }
        };
        res.on('end', () => done(res.complete));
        res.on('aborted', () => done(false));
        res.on('error', () => done(false));
      },
    );
    req.on('error', () => undefined);
    req.end();
  };

  const sockets = new Set<Socket>();
  const broker: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let role: string | undefined;
    let connected = false;
    const send = (p: Packet) => socket.write(mqttPacket.generate(p));
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connect') {
        const a = p.username !== undefined ? accounts[p.username] : undefined;
        const ok = a ? a.pass === p.password?.toString() : p.username === undefined && !!w.anonymousTrigger;
        send({ cmd: 'connack', returnCode: ok ? 0 : 5, sessionPresent: false });
        if (!ok) return void socket.end();
        connected = true;
        role = a?.role ?? 'anonymous';
        return;
      }
      if (!connected) return void socket.destroy();
      if (p.cmd === 'publish') {
        if (p.qos === 1 && p.messageId !== undefined) send({ cmd: 'puback', messageId: p.messageId });
        if (p.topic !== TOPIC) return;
        const allowed = role === 'admin' || (w.anyRole && role !== 'anonymous') || w.anonymousTrigger;
        if (!allowed) return;
        try {
          const { url } = JSON.parse(p.payload.toString()) as { url?: unknown };
          if (typeof url === 'string' && url.startsWith('https://')) {
            triggers.push(url);
            fetchAndInstall(url);
          }
        } catch {
          /* not JSON: ignored */
        }
        return;
      }
      if (p.cmd === 'pingreq') send({ cmd: 'pingresp' });
      if (p.cmd === 'disconnect') socket.end();
    });
    parser.on('error', () => socket.destroy());
    socket.on('data', (d: Buffer) => parser.parse(d));
  });

  const web: HttpServer = createHttpServer((req, res) => {
    const send = (status: number, data: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(data));
    };
    const [user, pass] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString('utf8').split(':');
    const a = user ? accounts[user] : undefined;
    const who = a && a.pass === pass ? a.role : undefined;
    req.resume();
    if (req.url === '/api/health') return send(200, { ok: true });
    if (req.method === 'GET' && req.url === '/api/version') {
      if (!who) return send(401, {});
      if (current === undefined) return send(503, { error: 'no bootable image' });
      return send(200, { firmware: label(current) });
    }
    if (req.method === 'POST' && req.url === '/api/firmware/restore') {
      if (who !== 'admin') return send(401, {});
      current = BASELINE;
      return send(200, { restored: label(current) });
    }
    return send(404, {});
  });
  await new Promise<void>((r) => broker.listen(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
  const mqttPort = (broker.address() as AddressInfo).port;
  const webPort = (web.address() as AddressInfo).port;

  return {
    installs,
    triggers,
    running: () => current,
    target(opts = {}) {
      return {
        format: 'gauntlet-target/1',
        name: 'fake-puller',
        scope: { hosts: ['127.0.0.1'] },
        interfaces: [
          { id: 'web', protocol: 'http', url: `http://127.0.0.1:${webPort}`, probe: '/api/health', protected: '/api/version', auth: { kind: 'basic' } },
          { id: 'broker', protocol: 'mqtt', url: `mqtt://127.0.0.1:${mqttPort}`, version: 4 },
        ],
        principals: Object.fromEntries(Object.entries(accounts).map(([name, a]) => [name, { user: name, pass: a.pass, role: a.role }])),
        declaration: {
          update: {
            version: { via: 'web', path: '/api/version', json: '$.firmware', as: 'viewer' },
            installTimeout: '400ms',
            images: { newer: { file: files.newer, version: label(NEWER) }, older: { file: files.older, version: label(OLDER) } },
            layout: { payload: [8, -64], version: { at: 4, length: 4 }, signature: { at: -64, length: 64, algorithm: 'ed25519', covers: [0, -64] }, digests: [] },
            maxImageBytes: IMAGE_BYTES,
            paths: [
              {
                id: 'pull',
                kind: 'pull',
                via: 'broker',
                trigger: { topic: TOPIC, payload: '{"url":"{url}"}', as: 'admin' },
                serve: { host: '127.0.0.1', ...(opts.ca === false ? {} : { ca: { cert: files.caCert, key: files.caKey } }) },
              },
            ],
            ...(opts.reset ? { reset: { via: 'web', method: 'POST', path: '/api/firmware/restore', as: 'admin' } } : {}),
          },
        },
      } as TargetFileInput;
    },
    async close() {
      for (const s of sockets) s.destroy();
      web.closeAllConnections();
      await Promise.all([new Promise<void>((r) => broker.close(() => r())), new Promise<void>((r) => web.close(() => r()))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function withPuller<T>(w: PullWeaknesses, fn: (f: FakePuller) => Promise<T>): Promise<T> {
  const f = await startFakePuller(w);
  try {
    return await fn(f);
  } finally {
    await f.close();
  }
}
