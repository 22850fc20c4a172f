// The Acme IP camera emulator (targets/updaters/acme-cam/): its update rules
// directly, its weaknesses, the committed targets/acme-cam.yaml loading
// through the harness's target-file loader, and the update checks run from
// that file alone (hardened: pass; with a weakness: the matching check fails).

import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTargetFile } from '../../harness/core/target-file.js';
import { CHECKS } from '../../harness/checks/registry.js';
import type { Target } from '../../harness/model/index.js';
import {
  ACME_CONTENT_TYPE,
  ACME_WEAKNESSES,
  buildImage,
  crc32,
  firmwarePayload,
  generateSigningKeys,
  startAcmeCam,
  type AcmeCamOptions,
  type AcmeWeakness,
  type RunningAcmeCam,
} from '../../targets/updaters/acme-cam/index.js';
import { runAgainst, verdictTable } from '../support/run-target.js';

const TARGET_FILE = join(import.meta.dirname, '../../targets/acme-cam.yaml');

// One test key pair for the whole file (RSA generation is the slow part of a start).
const keys = generateSigningKeys();
let cam: RunningAcmeCam | undefined;
const tempDirs: string[] = [];

afterEach(async () => {
  await cam?.close();
  cam = undefined;
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(opts: AcmeCamOptions = {}): Promise<RunningAcmeCam> {
  cam = await startAcmeCam({ installDelayMs: 50, keys, ...opts });
  return cam;
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
type Who = 'admin' | 'viewer' | 'none' | 'wrong';
function authHeader(c: RunningAcmeCam, who: Who): Record<string, string> {
  if (who === 'none') return {};
  if (who === 'wrong') return { authorization: basic('admin', `${c.credentials.admin.pass}x`) };
  return { authorization: basic(c.credentials[who].user, c.credentials[who].pass) };
}

async function upload(c: RunningAcmeCam, body: Buffer, who: Who = 'admin', contentType = ACME_CONTENT_TYPE): Promise<{ status: number; body: string }> {
  const r = await request(`${c.url}/cgi-bin/upgrade.cgi`, { method: 'PUT', headers: { ...authHeader(c, who), 'content-type': contentType }, body });
  return { status: r.statusCode, body: await r.body.text() };
}

async function info(c: RunningAcmeCam, who: Who = 'admin'): Promise<{ status: number; json: unknown }> {
  const r = await request(`${c.url}/cgi-bin/info.cgi`, { headers: authHeader(c, who) });
  const text = await r.body.text();
  return { status: r.statusCode, json: r.statusCode === 200 ? JSON.parse(text) : text };
}

const newer = (c: RunningAcmeCam) => readFileSync(c.images.newer.file);
const older = (c: RunningAcmeCam) => readFileSync(c.images.older.file);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The version after any install the camera may have scheduled has had time to happen. */
async function settledVersion(c: RunningAcmeCam): Promise<string> {
  await sleep(150);
  return c.version();
}

/** A payload byte flipped; the CRC-32 fixed again when asked (so only the signature can tell). */
function tampered(image: Buffer, fixCrc: boolean): Buffer {
  const t = Buffer.from(image);
  t[100] = t[100]! ^ 0xff;
  if (fixCrc) t.writeUInt32BE(crc32(t.subarray(32, t.length - 256)), 16);
  return t;
}

/** Sends the headers of a full upload and half its body, then drops the connection. */
function cutUpload(c: RunningAcmeCam, image: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(c.port, c.host, () => {
      s.write(
        `PUT /cgi-bin/upgrade.cgi HTTP/1.1\r\nhost: ${c.host}\r\n${Object.entries(authHeader(c, 'admin')).map(([k, v]) => `${k}: ${v}\r\n`).join('')}` +
          `content-type: ${ACME_CONTENT_TYPE}\r\ncontent-length: ${image.length}\r\n\r\n`,
      );
      s.write(image.subarray(0, image.length >> 1), () => setTimeout(() => (s.destroy(), resolve()), 50));
    });
    s.on('error', reject);
  });
}

describe('Acme camera: update rules', () => {
  it('reports its version to any authenticated user, and nothing without credentials', async () => {
    const c = await start();
    expect(await info(c, 'admin')).toEqual({ status: 200, json: { fw: { version: '5.2', build: 1234 } } });
    expect((await info(c, 'viewer')).status).toBe(200);
    expect((await info(c, 'none')).status).toBe(401);
    expect((await info(c, 'wrong')).status).toBe(401);
    const page = await request(`${c.url}/`);
    expect(page.statusCode).toBe(200);
    expect(await page.body.text()).not.toContain('5.2');
    // Its own temp image folder goes with it.
    expect(existsSync(c.images.newer.file)).toBe(true);
    await c.close();
    expect(existsSync(c.images.dir)).toBe(false);
  });

  it('installs the valid newer image (after a short reboot)', async () => {
    const c = await start();
    const r = await upload(c, newer(c));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ result: 'ok', installing: '5.3' });
    expect(await settledVersion(c)).toBe('5.3');
    expect(await info(c)).toEqual({ status: 200, json: { fw: { version: '5.3', build: 1235 } } });
    // The same image again is not newer any more.
    expect((await upload(c, newer(c))).status).toBe(409);
  });

  it('refuses older and same-version images (409), bad CRC, bad signature, truncation (400), oversize (413), wrong content type (415)', async () => {
    const c = await start();
    expect((await upload(c, older(c))).status).toBe(409);
    const same = buildImage({ version: '5.2', payload: firmwarePayload('5.2', 4096), privateKey: c.signingKey });
    expect((await upload(c, same)).status).toBe(409);
    expect(JSON.parse((await upload(c, tampered(newer(c), false))).body)).toEqual({ result: 'error', error: 'invalid image: crc' });
    expect(JSON.parse((await upload(c, tampered(newer(c), true))).body)).toEqual({ result: 'error', error: 'invalid image: signature' });
    const img = newer(c);
    const forged = Buffer.concat([img.subarray(0, img.length - 256), randomBytes(256)]);
    expect((await upload(c, forged)).status).toBe(400);
    expect((await upload(c, img.subarray(0, img.length >> 1))).status).toBe(400);
    expect((await upload(c, img.subarray(0, img.length - 1))).status).toBe(400);
    expect((await upload(c, img.subarray(0, 20))).status).toBe(400);
    expect((await upload(c, Buffer.concat([img, Buffer.alloc(1)]))).status).toBe(400);
    expect((await upload(c, Buffer.concat([img, Buffer.alloc(600 * 1024)]))).status).toBe(413);
    expect((await upload(c, img, 'admin', 'application/octet-stream')).status).toBe(415);
    expect(await settledVersion(c)).toBe('5.2');
    // Still serving, and the valid image still installs.
    expect((await upload(c, img)).status).toBe(200);
    expect(await settledVersion(c)).toBe('5.3');
  });

  it('lets only the admin upgrade: viewer 403, no or wrong credential 401', async () => {
    const c = await start();
    expect((await upload(c, newer(c), 'viewer')).status).toBe(403);
    const none = await request(`${c.url}/cgi-bin/upgrade.cgi`, { method: 'PUT', headers: { 'content-type': ACME_CONTENT_TYPE }, body: newer(c) });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic realm=/);
    await none.body.text();
    expect((await upload(c, newer(c), 'wrong')).status).toBe(401);
    expect(await settledVersion(c)).toBe('5.2');
  });

  it('discards an upload cut half way and keeps the running version', async () => {
    const c = await start();
    await cutUpload(c, newer(c));
    expect(await settledVersion(c)).toBe('5.2');
    expect((await upload(c, newer(c))).status).toBe(200);
    expect(await settledVersion(c)).toBe('5.3');
  });
});

describe('Acme camera: weaknesses switch single rules off', () => {
  it('names its weaknesses', () => {
    expect([...ACME_WEAKNESSES].sort()).toEqual(['acceptAnyImage', 'crashOnOversized', 'flashWhileReceiving', 'noAuthUpgrade', 'noRollbackCheck', 'viewerCanUpgrade']);
  });

  it('acceptAnyImage installs a tampered image; noRollbackCheck installs the older one', async () => {
    let c = await start({ weaknesses: ['acceptAnyImage'] });
    expect((await upload(c, tampered(newer(c), false))).status).toBe(200);
    expect(await settledVersion(c)).toBe('5.3');
    await c.close();
    c = await start({ weaknesses: ['noRollbackCheck'] });
    expect((await upload(c, tampered(newer(c), true))).status).toBe(400);
    expect((await upload(c, older(c))).status).toBe(200);
    expect(await settledVersion(c)).toBe('5.1');
  });

  it('viewerCanUpgrade and noAuthUpgrade drop the role and the credential requirement', async () => {
    let c = await start({ weaknesses: ['viewerCanUpgrade'] });
    expect((await upload(c, newer(c), 'none')).status).toBe(401);
    expect((await upload(c, newer(c), 'viewer')).status).toBe(200);
    await c.close();
    c = await start({ weaknesses: ['noAuthUpgrade'] });
    expect((await upload(c, newer(c), 'none')).status).toBe(200);
    expect(await settledVersion(c)).toBe('5.3');
  });

  it('flashWhileReceiving boots a cut upload; crashOnOversized kills the web server', async () => {
    let c = await start({ weaknesses: ['flashWhileReceiving'] });
    await cutUpload(c, newer(c));
    expect(await settledVersion(c)).toBe('5.3');
    await c.close();
    c = await start({ weaknesses: ['crashOnOversized'] });
    await expect(upload(c, Buffer.alloc(600 * 1024))).rejects.toThrow();
    expect(c.alive()).toBe(false);
    await expect(request(`${c.url}/`)).rejects.toThrow();
  });

  it('refuses an unknown weakness', async () => {
    await expect(startAcmeCam({ weaknesses: ['nope' as never] })).rejects.toThrow(/unknown Acme camera weakness/);
  });
});

/**
 * Copies the committed target file next to a fresh camera's images, on the
 * camera's port, and loads it; `installTimeout` replaces the declared one
 * (the check runs use a shorter one, still well above the camera's reboot).
 */
async function loadCommittedTarget(opts: AcmeCamOptions = {}, installTimeout?: string): Promise<{ c: RunningAcmeCam; target: Target; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'acme-target-'));
  tempDirs.push(dir);
  const c = await start({ installDelayMs: 100, ...opts, imagesDir: join(dir, 'acme-images') });
  const file = join(dir, 'acme-cam.yaml');
  copyFileSync(TARGET_FILE, file);
  const text = readFileSync(file, 'utf8');
  expect(text).toContain('http://127.0.0.1:18080');
  let rewritten = text.replaceAll('18080', String(c.port));
  if (installTimeout !== undefined) rewritten = rewritten.replace(/^(\s+installTimeout:) \S+/m, `$1 ${installTimeout}`);
  writeFileSync(file, rewritten);
  const env = { ACME_ADMIN_PASS: c.credentials.admin.pass, ACME_VIEWER_PASS: c.credentials.viewer.pass };
  return { c, target: loadTargetFile(file, env), dir };
}

describe('targets/acme-cam.yaml', () => {
  it('loads through the target-file loader and declares the camera\'s update mechanism', async () => {
    const { c, target, dir } = await loadCommittedTarget();
    expect(target.name).toBe('acme-ipc5');
    expect(target.interfaces).toEqual([
      { id: 'web', role: 'server', host: '127.0.0.1', port: c.port, protocol: 'http', auth: { kind: 'basic' }, protectedPath: '/cgi-bin/info.cgi', probePath: '/' },
    ]);
    expect(target.principals).toEqual([
      { name: 'admin', user: 'admin', pass: c.credentials.admin.pass, role: 'admin' },
      { name: 'viewer', user: 'viewer', pass: c.credentials.viewer.pass, role: 'viewer' },
    ]);
    const u = target.declaration.update!;
    expect(u.version).toEqual({ via: 'web', path: '/cgi-bin/info.cgi', json: '$.fw.version', as: 'admin' });
    expect(u.installTimeoutMs).toBe(1000);
    expect(u.images).toEqual({
      newer: { file: join(dir, 'acme-images', 'acme-5.3.bin'), version: '5.3' },
      older: { file: join(dir, 'acme-images', 'acme-5.1.bin'), version: '5.1' },
    });
    expect(existsSync(u.images.newer.file) && existsSync(u.images.older!.file)).toBe(true);
    expect(readFileSync(u.images.newer.file).equals(readFileSync(c.images.newer.file))).toBe(true);
    expect(u.layout).toEqual({
      payload: { start: 32, end: -256 },
      version: { at: 6, length: 2 },
      signature: { at: -256, length: 256, covers: { start: 0, end: -256 } },
      digests: [{ kind: 'crc32', at: 16, covers: { start: 32, end: -256 } }],
    });
    expect(u.maxImageBytes).toBe(512 * 1024);
    expect(u.paths).toEqual([
      { id: 'upgrade', kind: 'http-upload', via: 'web', method: 'PUT', path: '/cgi-bin/upgrade.cgi', as: 'admin', contentType: 'application/x-acme-firmware' },
    ]);
    // The declared version field really is where the camera's version is.
    const img = readFileSync(u.images.newer.file);
    expect(img.readUIntBE(u.layout!.version!.at, u.layout!.version!.length)).toBe(503);
  });

  it('names the environment variable a missing password needs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'acme-target-'));
    tempDirs.push(dir);
    const c = await start({ imagesDir: join(dir, 'acme-images') });
    copyFileSync(TARGET_FILE, join(dir, 'acme-cam.yaml'));
    expect(() => loadTargetFile(join(dir, 'acme-cam.yaml'), { ACME_ADMIN_PASS: c.credentials.admin.pass })).toThrow(/ACME_VIEWER_PASS/);
    // A folder the caller named is kept when the camera closes.
    await c.close();
    expect(existsSync(join(dir, 'acme-images', 'acme-5.3.bin'))).toBe(true);
  });
});

// The update checks, from the committed file alone. Live once harness/checks/update
// is registered (phase `update` in CHECKS and the default profile); until then, todo.
// The update checks that plan on an HTTP interface (update.channel needs a pull path over MQTT, which the camera has not).
const UPDATE_CHECKS = CHECKS.filter((c) => c.phase === 'update' && c.protocols.includes('http')).map((c) => c.id);
/** Each weakness and the check that must fail because of it (run alone). */
const WEAKNESS_FAILS: readonly (readonly [AcmeWeakness, string])[] = [
  ['acceptAnyImage', 'update.tamper'],
  ['acceptAnyImage', 'update.unsigned'],
  ['noRollbackCheck', 'update.rollback'],
  ['viewerCanUpgrade', 'update.authorization'],
  ['noAuthUpgrade', 'update.authorization'],
  ['flashWhileReceiving', 'update.interrupted'],
  ['crashOnOversized', 'update.truncated-oversized'],
];
/** Every refusal costs a check one install-time wait: the runs declare 400 ms instead of 1 s (the camera reboots in 100 ms here). */
const CHECK_RUN_INSTALL_TIMEOUT = '400ms';

describe('update checks against the Acme camera (from targets/acme-cam.yaml)', () => {
  if (UPDATE_CHECKS.length === 0) {
    it.todo('hardened camera: every update check passes, update.wrong-signer is skipped (RSA)');
    it.todo('acceptAnyImage: update.tamper fails');
    return;
  }

  it('hardened camera: every update check passes, update.wrong-signer is skipped (RSA), the positive control installs 5.3', async () => {
    const { c, target } = await loadCommittedTarget({}, CHECK_RUN_INSTALL_TIMEOUT);
    const run = await runAgainst(target, { only: UPDATE_CHECKS });
    const table = verdictTable(run.results);
    expect(run.results.map((r) => r.instance.checkId).sort(), table).toEqual([...UPDATE_CHECKS].sort());
    for (const r of run.results) {
      expect(r.verdict, table).toBe(r.instance.checkId === 'update.wrong-signer' ? 'skipped' : 'pass');
    }
    expect(run.events.some((e) => e.type === 'note' && /update positive control: the valid newer image 5\.3 installed/.test(e.text)), table).toBe(true);
    expect(c.version()).toBe('5.3');
  });

  it.each(WEAKNESS_FAILS)('%s: %s fails', async (weakness, checkId) => {
    const { target } = await loadCommittedTarget({ weaknesses: [weakness] }, CHECK_RUN_INSTALL_TIMEOUT);
    const run = await runAgainst(target, { only: [checkId] });
    expect(run.failing, verdictTable(run.results)).toEqual([`${checkId}@web`]);
  });
});
