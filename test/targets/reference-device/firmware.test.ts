// The reference device's firmware update over real sockets: the vendor images
// each unit writes, the hardened install rules of POST /api/firmware (valid
// newer installs at once; older, tampered, unsigned, wrong-signer, truncated,
// oversized, unauthenticated and cut uploads change nothing), the update
// declaration in the target file (and the harness's positive control on it),
// and each update flaw present with the flaw.

import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createScopeGuard } from '../../../harness/core/scope.js';
import { targetFromObject } from '../../../harness/core/target-file.js';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import { readVersion, updatePositiveControl } from '../../../harness/core/update-control.js';
import { buildImage, parseImage, sha256, type ParsedImage } from '../../../targets/reference-device/firmware-image.js';
import { startReferenceDevice, type Flaw, type RunningDevice } from '../../../targets/reference-device/index.js';
import { cutUpload, dial, http, rawHttp, sleep, token, until, uploadImage, type HttpReply } from './helpers.js';

const opened: RunningDevice[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.close()));
});

interface Unit {
  readonly dev: RunningDevice;
  readonly log: string[];
  readonly admin: string;
  readonly sensor: string;
  readonly newer: Buffer;
  readonly older: Buffer;
}

/** A provisioned unit with the given flaws, its log, admin and sensor sessions, and its vendor images. */
async function unit(flaws: Flaw[] = []): Promise<Unit> {
  const log: string[] = [];
  const dev = await startReferenceDevice({ flaws, factoryFresh: false, log: (l) => log.push(l) });
  opened.push(dev);
  return {
    dev,
    log,
    admin: await token(dev, 'admin', dev.credentials.admin.pass),
    sensor: await token(dev, 'sensor-1', dev.credentials.sensor.pass),
    newer: readFileSync(dev.images.newer),
    older: readFileSync(dev.images.older),
  };
}

const running = async (u: Unit): Promise<HttpReply> => http(u.dev.endpoints.https, 'GET', '/api/status', { token: u.admin });
const version = async (u: Unit): Promise<unknown> => ((await running(u)).json as { firmware?: unknown }).firmware;
const parsed = (img: Buffer): ParsedImage => {
  const p = parseImage(img);
  if (typeof p === 'string') throw new Error(p);
  return p;
};
/** A copy with one byte XORed (negative offsets from the end). */
const flip = (img: Buffer, at: number): Buffer => {
  const out = Buffer.from(img);
  out[at < 0 ? out.length + at : at]! ^= 0x01;
  return out;
};
const zeroSignature = (img: Buffer): Buffer => Buffer.concat([img.subarray(0, img.length - 64), Buffer.alloc(64)]);
/** An image for the unit's product, signed with a key that is not the unit's. */
const foreignKey = generateKeyPairSync('ed25519').privateKey;
const foreign = (u: Unit, v: string, payload = parsed(u.newer).payload): Buffer =>
  buildImage({ version: v, payload, vendor: u.dev.identity.vendor, model: u.dev.identity.model }, foreignKey);
/** Waits for the device to have handled a cut upload (its log line). */
const cutSeen = (u: Unit): Promise<void> => until(() => u.log.some((l) => /firmware: upload .* cut/.test(l)), 'the device noticing the cut upload');

describe('reference device: firmware (hardened)', () => {
  it('runs 1.0.0 and writes its two signed vendor images to a temp dir', async () => {
    const u = await unit();
    expect(await version(u)).toBe('1.0.0');
    expect((await running(u)).json).toMatchObject({ firmware: '1.0.0', serial: u.dev.identity.serial });
    const { newer, older, dir } = u.dev.images;
    for (const f of [newer, older, dir]) expect(isAbsolute(f), f).toBe(true);
    expect(dirname(newer)).toBe(dir);
    expect(dirname(older)).toBe(dir);
    expect(newer.endsWith('/rd1-2.0.0.bin')).toBe(true);
    expect(older.endsWith('/rd1-0.9.0.bin')).toBe(true);
    for (const [img, v] of [[u.newer, '2.0.0'], [u.older, '0.9.0']] as const) {
      const p = parsed(img);
      expect(p).toMatchObject({ versionString: v, vendor: 'Gauntlet', model: 'RD-1', payloadLength: 16 * 1024 });
      expect(sha256(p.payload).equals(p.digest)).toBe(true);
    }
    expect(parsed(u.newer).payload.equals(parsed(u.older).payload)).toBe(false);
    // Deterministic payloads, per-unit keys: another unit has the same payload and another signature.
    const other = await unit();
    expect(parsed(other.newer).payload.equals(parsed(u.newer).payload)).toBe(true);
    expect(parsed(other.newer).signature.equals(parsed(u.newer).signature)).toBe(false);
    expect(other.dev.images.dir).not.toBe(dir);
  });

  it('installs the valid newer image at once (any content type); older and the same version are 409', async () => {
    const u = await unit();
    expect(await uploadImage(u.dev, u.older, u.admin)).toMatchObject({ status: 409, json: { error: 'not newer' } });
    const r = await http(u.dev.endpoints.https, 'POST', '/api/firmware', { raw: u.newer, token: u.admin, headers: { 'content-type': 'text/plain' } });
    expect(r).toMatchObject({ status: 200, json: { installed: '2.0.0' } });
    expect(await version(u)).toBe('2.0.0');
    expect(await uploadImage(u.dev, u.newer, u.admin)).toMatchObject({ status: 409, json: { error: 'not newer' } });
    expect(await uploadImage(u.dev, u.older, u.admin)).toMatchObject({ status: 409, json: { error: 'not newer' } });
    expect(await version(u)).toBe('2.0.0');
    expect(u.log.some((l) => l.includes('firmware: installed 2.0.0 (was 1.0.0) from user="admin"'))).toBe(true);
  });

  it('refuses tampered, unsigned, wrong-signer, truncated and foreign-product images with 400', async () => {
    const u = await unit();
    const n = u.newer.length;
    const cases: [string, Buffer, string][] = [
      ['tampered payload', flip(u.newer, 128 + 1000), 'digest mismatch'],
      ['tampered digest', flip(u.newer, 12), 'digest mismatch'],
      ['tampered version', flip(u.newer, 9), 'bad signature'],
      ['tampered signature', flip(u.newer, -1), 'bad signature'],
      ['unsigned (zero signature)', zeroSignature(u.newer), 'bad signature'],
      ['signed by another key', foreign(u, '2.0.0'), 'bad signature'],
      ['truncated to half', u.newer.subarray(0, Math.floor(n / 2)), 'malformed image'],
      ['without its last byte', u.newer.subarray(0, n - 1), 'malformed image'],
      ['one byte appended', Buffer.concat([u.newer, Buffer.alloc(1)]), 'malformed image'],
      ['signature cut off', u.newer.subarray(0, n - 64), 'malformed image'],
      ['empty', Buffer.alloc(0), 'malformed image'],
      ['JSON', Buffer.from('{"firmware":"9.9.9"}'), 'malformed image'],
      ['another product', buildImage({ version: '2.0.0', payload: parsed(u.newer).payload, vendor: 'Gauntlet', model: 'RD-2' }, foreignKey), 'wrong vendor or model'],
    ];
    for (const [what, img, error] of cases) {
      expect(await uploadImage(u.dev, img, u.admin), what).toMatchObject({ status: 400, json: { error } });
    }
    expect(await version(u)).toBe('1.0.0');
    expect(await uploadImage(u.dev, u.newer, u.admin)).toMatchObject({ status: 200, json: { installed: '2.0.0' } });
  });

  it('refuses images over 1 MiB with 413 and keeps answering', async () => {
    const u = await unit();
    // 1 MiB exactly is read and verified; one byte more is too large.
    expect(await uploadImage(u.dev, Buffer.alloc(1024 * 1024), u.admin)).toMatchObject({ status: 400, json: { error: 'malformed image' } });
    const padded = Buffer.concat([u.newer, Buffer.alloc(1024 * 1024 + 1 - u.newer.length)]);
    expect(await uploadImage(u.dev, padded, u.admin)).toMatchObject({ status: 413, json: { error: 'image larger than 1048576 bytes' } });
    // A huge declared length is refused from the head alone, and the connection closed.
    const huge = await new Promise<string>((resolve, reject) => {
      const { socket: s, ready } = dial(u.dev.endpoints.https);
      let got = '';
      s.on('data', (b) => (got += b.toString('latin1')));
      s.on('error', reject);
      s.on('close', () => resolve(got));
      s.on(ready, () => s.write(`POST /api/firmware HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${u.admin}\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`));
    });
    expect(huge).toMatch(/^HTTP\/1\.1 413 /);
    expect(huge).toMatch(/connection: close/i);
    expect(await version(u)).toBe('1.0.0');
  });

  it('needs an admin session: none 401, device role 403', async () => {
    const u = await unit();
    expect(await uploadImage(u.dev, u.newer)).toMatchObject({ status: 401, json: { error: 'authentication required' } });
    expect(await uploadImage(u.dev, u.newer, '0'.repeat(64))).toMatchObject({ status: 401 });
    expect(await uploadImage(u.dev, u.newer, u.sensor)).toMatchObject({ status: 403, json: { error: 'forbidden' } });
    expect((await rawHttp(u.dev.endpoints.https, 'GET', '/api/firmware', { token: u.admin })).status).toBe(405);
    expect(await version(u)).toBe('1.0.0');
    // The device role reads the version too.
    expect((await http(u.dev.endpoints.https, 'GET', '/api/status', { token: u.sensor })).json).toMatchObject({ firmware: '1.0.0' });
  });

  it('discards a cut upload and keeps running its image', async () => {
    const u = await unit();
    await cutUpload(u.dev.endpoints.https, u.newer, { token: u.admin });
    await cutSeen(u);
    expect(await running(u)).toMatchObject({ status: 200, json: { firmware: '1.0.0' } });
    // Cut after the head alone, too.
    await cutUpload(u.dev.endpoints.https, u.newer, { token: u.admin, sendBytes: 0 });
    await until(() => u.log.filter((l) => /firmware: upload .* cut/.test(l)).length === 2, 'the second cut');
    expect(await version(u)).toBe('1.0.0');
    expect(await uploadImage(u.dev, u.newer, u.admin)).toMatchObject({ status: 200, json: { installed: '2.0.0' } });
  });
});

describe('reference device: update declaration', () => {
  it('declares the hardened mechanism, valid through the harness schema, with existing image files', async () => {
    const u = await unit();
    const target = targetFromObject(u.dev.targetFile(), 'builtin:reference-device', {});
    const d = target.declaration.update!;
    expect(d).toEqual({
      version: { via: 'https', path: '/api/status', json: '$.firmware', as: 'admin' },
      installTimeoutMs: 500,
      images: { newer: { file: u.dev.images.newer, version: '2.0.0' }, older: { file: u.dev.images.older, version: '0.9.0' } },
      maxImageBytes: 1_048_576,
      layout: {
        payload: { start: 128, end: -64 },
        version: { at: 8, length: 4 },
        signature: { at: -64, length: 64, algorithm: 'ed25519', covers: { start: 0, end: -64 } },
        digests: [{ kind: 'sha256', at: 12, covers: { start: 128, end: -64 } }],
      },
      paths: [
        { id: 'upload', kind: 'http-upload', via: 'https', method: 'POST', path: '/api/firmware', as: 'admin', contentType: 'application/octet-stream' },
        { id: 'coap-block', kind: 'coap-block', via: 'coaps', method: 'PUT', path: '/fw', blockSize: 1024, contentFormat: 42, as: 'admin', plain: 'coap' },
        {
          id: 'pull',
          kind: 'pull',
          via: 'mqtts',
          trigger: { topic: 'devices/rd1/cmd/update', payload: '{"url":"{url}"}', as: 'admin' },
          serve: { host: '127.0.0.1', ca: { cert: u.dev.updateCa.cert, key: u.dev.updateCa.key } },
          as: 'admin',
        },
      ],
      reset: { via: 'https', method: 'POST', path: '/api/firmware/restore', as: 'admin' },
    });
    for (const f of [d.images.newer.file, d.images.older!.file]) expect(statSync(f).size).toBe(128 + 16 * 1024 + 64);
    expect(target.declaration.access.http.routes).toContainEqual({ route: '/api/firmware', methods: ['POST'], roles: ['admin'] });
  });

  it('the harness reads the version and its positive control installs the newer image', async () => {
    const u = await unit();
    const target = targetFromObject(u.dev.targetFile(), 'builtin:reference-device', {});
    const transcript = new TranscriptRecorder();
    const io = { scope: createScopeGuard(target), transcript, timeoutMs: 3000, peer: 'http' };
    expect(await readVersion(target, io)).toEqual({ kind: 'version', version: '1.0.0' });
    const control = await updatePositiveControl(target, io, sleep);
    expect(control.kind, control.detail).toBe('done');
    expect(await readVersion(target, io)).toEqual({ kind: 'version', version: '2.0.0' });
  });

  it('builds the images for the identity it was given; a product name that does not fit the image is USAGE', async () => {
    const log: string[] = [];
    const dev = await startReferenceDevice({ factoryFresh: false, identity: { vendor: 'Acme', model: 'T-1' }, log: (l) => log.push(l) });
    opened.push(dev);
    expect(parsed(readFileSync(dev.images.newer))).toMatchObject({ vendor: 'Acme', model: 'T-1' });
    expect(await uploadImage(dev, readFileSync(dev.images.newer), await token(dev, 'admin', dev.credentials.admin.pass))).toMatchObject({ status: 200 });
    await expect(startReferenceDevice({ identity: { vendor: 'A'.repeat(17) } })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(startReferenceDevice({ identity: { model: '' } })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('close() removes the image dir', async () => {
    const u = await unit();
    const { dir, newer } = u.dev.images;
    expect(existsSync(newer)).toBe(true);
    await u.dev.close();
    expect(existsSync(dir)).toBe(false);
    await u.dev.close();
  });
});

describe('reference device: update flaws', () => {
  it('unsigned-accepted: an all-zero signature installs; another key is still refused', async () => {
    const u = await unit(['unsigned-accepted']);
    expect(await uploadImage(u.dev, foreign(u, '2.0.0'), u.admin)).toMatchObject({ status: 400, json: { error: 'bad signature' } });
    expect(await uploadImage(u.dev, zeroSignature(flip(u.newer, 200)), u.admin)).toMatchObject({ status: 400, json: { error: 'digest mismatch' } });
    expect(await uploadImage(u.dev, zeroSignature(u.newer), u.admin)).toMatchObject({ status: 200, json: { installed: '2.0.0' } });
    expect(await version(u)).toBe('2.0.0');
  });

  it('digest-only: an image signed by anyone installs; the digest is still checked', async () => {
    const u = await unit(['digest-only']);
    expect(await uploadImage(u.dev, flip(u.newer, 200), u.admin)).toMatchObject({ status: 400, json: { error: 'digest mismatch' } });
    expect(await uploadImage(u.dev, foreign(u, '7.0.0', Buffer.from('attacker payload')), u.admin)).toMatchObject({ status: 200, json: { installed: '7.0.0' } });
    expect(await version(u)).toBe('7.0.0');
  });

  it('manifest-only-signature: the vendor images sign the manifest; any payload behind it installs', async () => {
    const u = await unit(['manifest-only-signature']);
    expect(await uploadImage(u.dev, flip(u.newer, 9), u.admin)).toMatchObject({ status: 400, json: { error: 'bad signature' } });
    expect(await uploadImage(u.dev, foreign(u, '2.0.0'), u.admin)).toMatchObject({ status: 400, json: { error: 'bad signature' } });
    const evil = Buffer.concat([u.newer.subarray(0, 128), Buffer.alloc(16 * 1024, 0xcc), u.newer.subarray(-64)]);
    expect(await uploadImage(u.dev, evil, u.admin)).toMatchObject({ status: 200, json: { installed: '2.0.0' } });
    expect(await version(u)).toBe('2.0.0');
  });

  it('rollback-allowed: the older image installs over the newer one; the signature is still checked', async () => {
    const u = await unit(['rollback-allowed']);
    expect(await uploadImage(u.dev, u.newer, u.admin)).toMatchObject({ status: 200, json: { installed: '2.0.0' } });
    expect(await uploadImage(u.dev, foreign(u, '0.9.0'), u.admin)).toMatchObject({ status: 400, json: { error: 'bad signature' } });
    expect(await uploadImage(u.dev, u.older, u.admin)).toMatchObject({ status: 200, json: { installed: '0.9.0' } });
    expect(await version(u)).toBe('0.9.0');
  });

  it('update-no-auth: installs without a session and for the device role', async () => {
    const u = await unit(['update-no-auth']);
    expect(await uploadImage(u.dev, u.older, u.sensor)).toMatchObject({ status: 409, json: { error: 'not newer' } });
    expect(await uploadImage(u.dev, zeroSignature(u.newer))).toMatchObject({ status: 400, json: { error: 'bad signature' } });
    expect(await uploadImage(u.dev, u.newer)).toMatchObject({ status: 200, json: { installed: '2.0.0' } });
    expect(await version(u)).toBe('2.0.0');
    expect(u.log.some((l) => l.includes('firmware: installed 2.0.0 (was 1.0.0) from user="(anonymous)"'))).toBe(true);
  });

  it('brick-on-interrupt: a cut upload leaves no bootable image until a valid one installs', async () => {
    const u = await unit(['brick-on-interrupt']);
    // A complete upload, valid or not, behaves as hardened.
    expect(await uploadImage(u.dev, flip(u.newer, 200), u.admin)).toMatchObject({ status: 400 });
    expect(await version(u)).toBe('1.0.0');
    await cutUpload(u.dev.endpoints.https, u.newer, { token: u.admin });
    await cutSeen(u);
    expect(await running(u)).toMatchObject({ status: 503, json: { error: 'no bootable image' } });
    expect((await http(u.dev.endpoints.https, 'GET', '/api/status', { token: u.sensor })).status).toBe(503);
    expect((await http(u.dev.endpoints.https, 'GET', '/api/health')).status).toBe(200);
    // Recovery: refused images keep it bricked (the anti-rollback floor stays 1.0.0); the newer one revives it.
    expect(await uploadImage(u.dev, u.older, u.admin)).toMatchObject({ status: 409 });
    expect(await uploadImage(u.dev, zeroSignature(u.newer), u.admin)).toMatchObject({ status: 400 });
    expect((await running(u)).status).toBe(503);
    expect(await uploadImage(u.dev, u.newer, u.admin)).toMatchObject({ status: 200, json: { installed: '2.0.0' } });
    expect(await running(u)).toMatchObject({ status: 200, json: { firmware: '2.0.0' } });
  });

  it('an unauthorised cut upload never bricks (it is refused before the body is read)', async () => {
    const u = await unit(['brick-on-interrupt']);
    await cutUpload(u.dev.endpoints.https, u.newer, { token: u.sensor });
    await cutUpload(u.dev.endpoints.https, u.newer);
    await sleep(50);
    expect(u.log.some((l) => /firmware: upload .* cut/.test(l))).toBe(false);
    expect(await version(u)).toBe('1.0.0');
  });
});

describe('reference device: firmware restore (the lab\'s recovery partition)', () => {
  it('admin puts the unit back on 1.0.0 after an install; without a session it is refused (401)', async () => {
    const u = await unit();
    const { resetFirmware, readVersion, updatePositiveControl } = await import('../../../harness/core/update-control.js');
    const { TranscriptRecorder } = await import('../../../harness/core/transcript.js');
    const target = targetFromObject(u.dev.targetFile(), 'builtin:reference-device', {});
    const io = { scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs: 2000, peer: 'http' };
    expect(await updatePositiveControl(target, io, (ms) => new Promise((r) => setTimeout(r, ms)))).toMatchObject({ kind: 'done' });
    expect(await readVersion(target, io)).toEqual({ kind: 'version', version: '2.0.0' });
    const noSession = { ...target, declaration: { ...target.declaration, update: { ...target.declaration.update!, reset: { ...target.declaration.update!.reset!, as: undefined } } } };
    expect(await resetFirmware(noSession, io)).toMatchObject({ kind: 'failed', detail: expect.stringContaining('401') });
    expect(await resetFirmware(target, io)).toMatchObject({ kind: 'done' });
    expect(await readVersion(target, io)).toEqual({ kind: 'version', version: '1.0.0' });
  });
});
