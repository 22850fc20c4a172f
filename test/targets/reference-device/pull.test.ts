// The reference device's PULL update path over real sockets: the test update
// CA each unit writes, the admin's MQTT trigger making the unit fetch an image
// over HTTPS from a real server here (trusted only with a certificate from the
// unit's CA, for the right host, in its validity), the refusals (self-signed,
// wrong host, expired, not https or another host, a sensor's publish, a cut
// body), the pull-any-certificate flaw, and the pull path in the target file.

import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { targetFromObject } from '../../../harness/core/target-file.js';
import { startReferenceDevice, type Flaw, type RunningDevice } from '../../../targets/reference-device/index.js';
import { http, sleep, token, until } from './helpers.js';
import { makeLeaf, pullOutcome, triggerPull, unitCa, updateServer, type UpdateServer } from './pull-helpers.js';

const opened: RunningDevice[] = [];
const servers: UpdateServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(opened.splice(0).map((d) => d.close()));
});

interface Unit {
  readonly dev: RunningDevice;
  readonly log: string[];
  readonly admin: string;
  readonly newer: Buffer;
}

async function unit(flaws: Flaw[] = []): Promise<Unit> {
  const log: string[] = [];
  const dev = await startReferenceDevice({ flaws, factoryFresh: false, log: (l) => log.push(l) });
  opened.push(dev);
  return { dev, log, admin: await token(dev, 'admin', dev.credentials.admin.pass), newer: readFileSync(dev.images.newer) };
}

async function serve(...args: Parameters<typeof updateServer>): Promise<UpdateServer> {
  const s = await updateServer(...args);
  servers.push(s);
  return s;
}

const status = async (u: Unit): Promise<{ status: number; firmware: unknown }> => {
  const r = await http(u.dev.endpoints.https, 'GET', '/api/status', { token: u.admin });
  return { status: r.status, firmware: (r.json as { firmware?: unknown } | undefined)?.firmware };
};

/** Triggers a pull as admin and resolves with the outcome line the unit logs. */
async function pull(u: Unit, url: string, payload?: string): Promise<string> {
  const from = u.log.length;
  await triggerPull(u.dev, 'admin', url, payload);
  await until(() => pullOutcome(u.log, from) !== undefined, 'the pull outcome', 3000);
  return pullOutcome(u.log, from)!;
}

const DAY_MS = 24 * 60 * 60 * 1000;

describe('reference device: pull update (hardened)', () => {
  it('writes its own test update CA next to its images, removed by close()', async () => {
    const u = await unit();
    const { cert, key } = u.dev.updateCa;
    for (const f of [cert, key]) {
      expect(isAbsolute(f), f).toBe(true);
      expect(dirname(f)).toBe(u.dev.images.dir);
    }
    const x = new X509Certificate(readFileSync(cert));
    expect(x.subject).toBe('CN=RD-1 test update CA');
    expect(x.issuer).toBe(x.subject);
    expect(x.ca).toBe(true);
    expect(x.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const from = Date.parse(x.validFrom);
    expect(Math.abs(from - (Date.now() - DAY_MS))).toBeLessThan(5 * 60_000);
    expect(Date.parse(x.validTo) - from).toBe(30 * DAY_MS);
    expect(x.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(key)))).toBe(true);
    // Each unit has its own CA.
    const other = await unit();
    expect(readFileSync(other.dev.updateCa.cert, 'utf8')).not.toBe(readFileSync(cert, 'utf8'));
    await u.dev.close();
    expect(existsSync(cert)).toBe(false);
  });

  it('(a) installs an image served with a certificate from its CA for its host', async () => {
    const u = await unit();
    const s = await serve(makeLeaf({ issuer: unitCa(u.dev) }), u.newer);
    expect(await status(u)).toEqual({ status: 200, firmware: '1.0.0' });
    expect(await pull(u, s.url)).toMatch(/: installed 2\.0\.0$/);
    expect(s.requests()).toBe(1);
    expect(await status(u)).toEqual({ status: 200, firmware: '2.0.0' });
  });

  it('installs through the same rules as POST /api/firmware: a second pull of the same version is refused', async () => {
    const u = await unit();
    const s = await serve(makeLeaf({ issuer: unitCa(u.dev) }), u.newer);
    expect(await pull(u, s.url)).toMatch(/installed 2\.0\.0$/);
    expect(await pull(u, s.url)).toMatch(/image refused \(not-newer\)$/);
    const older = await serve(makeLeaf({ issuer: unitCa(u.dev) }), readFileSync(u.dev.images.older));
    expect(await pull(u, older.url)).toMatch(/image refused/);
    const junk = await serve(makeLeaf({ issuer: unitCa(u.dev) }), Buffer.from('not an image'));
    expect(await pull(u, junk.url)).toMatch(/image refused/);
    expect((await status(u)).firmware).toBe('2.0.0');
  });

  it('(b) refuses a self-signed server certificate', async () => {
    const u = await unit();
    const s = await serve(makeLeaf(), u.newer);
    expect(await pull(u, s.url)).toMatch(/fetch failed .*nothing installed/);
    expect(s.requests()).toBe(0);
    expect((await status(u)).firmware).toBe('1.0.0');
  });

  it('(c) refuses a certificate from its CA for another host (SAN IP 127.0.0.2)', async () => {
    const u = await unit();
    const s = await serve(makeLeaf({ issuer: unitCa(u.dev), ip: '127.0.0.2' }), u.newer);
    expect(await pull(u, s.url)).toMatch(/fetch failed \(ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(s.requests()).toBe(0);
    expect((await status(u)).firmware).toBe('1.0.0');
  });

  it('(d) refuses an expired certificate from its CA', async () => {
    const u = await unit();
    const now = Date.now();
    const s = await serve(makeLeaf({ issuer: unitCa(u.dev), notBefore: new Date(now - 10 * DAY_MS), notAfter: new Date(now - DAY_MS) }), u.newer);
    expect(await pull(u, s.url)).toMatch(/fetch failed \(CERT_HAS_EXPIRED/);
    expect(s.requests()).toBe(0);
    expect((await status(u)).firmware).toBe('1.0.0');
  });

  it('a certificate from another unit\'s CA is not trusted', async () => {
    const u = await unit();
    const other = await unit();
    const s = await serve(makeLeaf({ issuer: unitCa(other.dev) }), u.newer);
    expect(await pull(u, s.url)).toMatch(/fetch failed/);
    expect((await status(u)).firmware).toBe('1.0.0');
  });

  it('(e) ignores the trigger published by sensor-1 (refused by the ACL): nothing is fetched', async () => {
    const u = await unit();
    const s = await serve(makeLeaf({ issuer: unitCa(u.dev) }), u.newer);
    await triggerPull(u.dev, 'sensor', s.url);
    await until(() => u.log.some((l) => l.includes('publish dropped user="sensor-1" topic="devices/rd1/cmd/update"')), 'the dropped publish');
    await sleep(200);
    expect(s.requests()).toBe(0);
    expect(u.log.filter((l) => l.startsWith('update: pull'))).toEqual([]);
    expect((await status(u)).firmware).toBe('1.0.0');
  });

  it('refuses URLs that are not https on its own host, and malformed payloads, without fetching', async () => {
    const u = await unit();
    const s = await serve(makeLeaf({ issuer: unitCa(u.dev) }), u.newer);
    const port = new URL(s.url).port;
    for (const url of [`http://127.0.0.1:${port}/fw/rd1.bin`, `https://localhost:${port}/fw/rd1.bin`, `https://127.0.0.2:${port}/fw/rd1.bin`, 'ftp://127.0.0.1/x']) {
      expect(await pull(u, url), url).toMatch(/^update: pull refused from "admin": .* is not an https URL on 127\.0\.0\.1$/);
    }
    expect(await pull(u, s.url, 'not json')).toMatch(/^update: pull refused from "admin": payload is not/);
    expect(await pull(u, s.url, '{"href":"x"}')).toMatch(/^update: pull refused from "admin": payload is not/);
    expect(s.requests()).toBe(0);
    expect((await status(u)).firmware).toBe('1.0.0');
  });

  it('(g) discards a body cut before its Content-Length, and stays updatable', async () => {
    const u = await unit();
    const s = await serve(makeLeaf({ issuer: unitCa(u.dev) }), u.newer, { cutAt: Math.floor(u.newer.length / 2) });
    expect(await pull(u, s.url)).toMatch(/: cut after \d+ of \d+ bytes/);
    expect(u.log.some((l) => /^firmware: download from "admin" .* cut; discarded, still running 1\.0\.0$/.test(l))).toBe(true);
    expect(await status(u)).toEqual({ status: 200, firmware: '1.0.0' });
    const whole = await serve(makeLeaf({ issuer: unitCa(u.dev) }), u.newer);
    expect(await pull(u, whole.url)).toMatch(/installed 2\.0\.0$/);
  });
});

describe('reference device: pull update flaws', () => {
  it('(f) pull-any-certificate: a self-signed, wrong-host or expired certificate is accepted', async () => {
    const u = await unit(['pull-any-certificate']);
    const s = await serve(makeLeaf(), u.newer);
    expect(await pull(u, s.url)).toMatch(/installed 2\.0\.0$/);
    expect(await status(u)).toEqual({ status: 200, firmware: '2.0.0' });
    // The image itself is still verified.
    const junk = await serve(makeLeaf({ ip: '127.0.0.2', notBefore: new Date(Date.now() - 10 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) }), Buffer.from('junk'));
    expect(await pull(u, junk.url)).toMatch(/image refused/);
    expect(junk.requests()).toBe(1);
  });

  it('brick-on-interrupt: a cut download erases the running image', async () => {
    const u = await unit(['brick-on-interrupt']);
    const s = await serve(makeLeaf({ issuer: unitCa(u.dev) }), u.newer, { cutAt: 1000 });
    expect(await pull(u, s.url)).toMatch(/: cut after/);
    expect((await status(u)).status).toBe(503);
    const whole = await serve(makeLeaf({ issuer: unitCa(u.dev) }), u.newer);
    expect(await pull(u, whole.url)).toMatch(/installed 2\.0\.0$/);
    expect(await status(u)).toEqual({ status: 200, firmware: '2.0.0' });
  });
});

describe('reference device: pull path in the target file', () => {
  it('declares the pull path after the upload and block-wise paths, valid through the harness schema', async () => {
    const u = await unit();
    const file = u.dev.targetFile();
    const target = targetFromObject(file, 'builtin:reference-device', {});
    const d = target.declaration.update!;
    expect(d.paths.map((p) => p.id)).toEqual(['upload', 'coap-block', 'pull']);
    expect(d.paths[2]).toMatchObject({
      id: 'pull',
      kind: 'pull',
      via: 'mqtts',
      trigger: { topic: 'devices/rd1/cmd/update', payload: '{"url":"{url}"}', as: 'admin' },
      serve: { host: '127.0.0.1', ca: { cert: u.dev.updateCa.cert, key: u.dev.updateCa.key } },
    });
    expect(target.declaration.access.mqtt.rules).toMatchObject({
      admin: { publish: ['#'], subscribe: ['#', '$SYS/#'] },
      sensor: { publish: ['devices/sensor-1/#'], subscribe: ['config/sensor-1', 'devices/sensor-1/#'] },
    });
  });
});
