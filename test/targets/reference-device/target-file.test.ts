// The target file a reference-device unit emits: valid under the harness's
// gauntlet-target/1 schema, pointing at the unit's real ports, with the
// hardened declaration whatever flaws are on.

import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { targetFromObject, targetFileSchema } from '../../../harness/core/target-file.js';
import { FLAWS, startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';

let dev: RunningDevice | undefined;

afterEach(async () => {
  await dev?.close();
  dev = undefined;
});

describe('reference device: target file', () => {
  it('validates and resolves through the harness schema', async () => {
    dev = await startReferenceDevice({ lockout: { attempts: 4, windowMs: 30_000, durationMs: 60_000 } });
    const file = dev.targetFile();
    expect(targetFileSchema.safeParse(file).success).toBe(true);
    const target = targetFromObject(file, 'builtin:reference-device', {});
    expect(target.name).toBe('reference-device');
    expect(target.scope.hosts).toEqual(['127.0.0.1']);

    const byId = Object.fromEntries(target.interfaces.map((i) => [i.id, i]));
    // Credentials go over TLS only: the plain MQTT and HTTP ports are declared ports, not interfaces.
    expect(Object.keys(byId)).toEqual(['mqtts', 'coap', 'coaps', 'https']);
    const deviceCa = readFileSync(dev.deviceCa.cert, 'utf8');
    expect(byId.mqtts).toMatchObject({ protocol: 'mqtts', host: '127.0.0.1', port: dev.endpoints.mqtts.port, version: 4, role: 'server', tls: { caPem: deviceCa } });
    expect(byId.coap).toMatchObject({ protocol: 'coap', host: '127.0.0.1', port: dev.endpoints.coap.port });
    expect(byId.https).toMatchObject({
      protocol: 'https',
      port: dev.endpoints.https.port,
      tls: { caPem: deviceCa },
      probePath: '/api/health',
      protectedPath: '/api/config',
      auth: {
        kind: 'json',
        method: 'POST',
        path: '/api/login',
        body: { username: '{user}', password: '{pass}' },
        token: '$.token',
        header: { name: 'Authorization', value: 'Bearer {token}' },
      },
    });

    expect(target.principals).toEqual([
      { name: 'admin', user: 'admin', pass: dev.credentials.admin.pass, role: 'admin', psk: dev.credentials.psk.admin },
      { name: 'sensor', user: 'sensor-1', pass: dev.credentials.sensor.pass, role: 'device', psk: dev.credentials.psk.sensor },
    ]);
    const d = target.declaration;
    expect(d.identity).toEqual(dev.identity);
    expect(d.lockout).toEqual({ attempts: 4, windowMs: 30_000, durationMs: 60_000 });
    expect(d.firstUse).toEqual({
      state: 'factory-fresh',
      shipped: { user: 'admin', pass: dev.credentials.shipped.pass },
      change: {
        via: 'https',
        method: 'POST',
        path: '/api/password',
        body: { username: '{user}', password: '{pass}', newPassword: '{new}' },
        provisionAs: 'admin',
      },
    });
    expect(d.access.mqtt.anonymous).toBe(false);
    expect(Object.keys(d.access.mqtt.rules).sort()).toEqual(['admin', 'sensor']);
    expect(d.access.coap.anonymous).toEqual({ '/.well-known/core': ['GET'], '/sensors/temperature': ['GET'], '/sensors/humidity': ['GET'] });
    expect([...d.access.coap.resources].sort()).toEqual(['/config', '/fw', '/sensors/humidity', '/sensors/temperature']);
    expect(d.access.http.public).toEqual(['GET /api/health', 'POST /api/login', 'POST /api/password']);
    expect(d.access.http.routes.map((r) => `${r.methods.join(',')} ${r.route}`)).toEqual([
      'GET /api/status',
      'GET,PUT /api/config',
      'GET /api/users',
      'GET /api/users/{user}',
      'POST /api/logout',
      'POST /api/firmware',
      'POST /api/firmware/restore',
    ]);
    expect(d.update?.images.newer).toEqual({ file: dev.images.newer, version: '2.0.0' });
    expect(d.update?.images.older).toEqual({ file: dev.images.older, version: '0.9.0' });
    expect(d.interfaces?.map((i) => `${i.service} ${i.transport}/${i.port}`)).toEqual(
      (['mqtt', 'mqtts', 'coap', 'coaps', 'http', 'https'] as const).map((s) => `${s} ${s.startsWith('coap') ? 'udp' : 'tcp'}/${dev!.endpoints[s].port}`),
    );
    expect(d.secureOnly).toBe(false);
    expect(d.update?.paths.map((p) => `${p.id} via ${p.via}`)).toEqual(['upload via https', 'coap-block via coaps', 'pull via mqtts']);
  });

  it('keeps the hardened declaration when flaws are on', async () => {
    dev = await startReferenceDevice({ factoryFresh: false });
    const hardened = dev.targetFile().declaration;
    await dev.close();
    // The debug shell on a free port: parallel suites may hold 2323.
    dev = await startReferenceDevice({ factoryFresh: false, flaws: [...FLAWS], ports: { debug: 0 } });
    const flawed = dev.targetFile();
    expect(targetFileSchema.safeParse(flawed).success).toBe(true);
    // Only the secrets, the (free) ports, the image files and the update CA files (each unit's temp dir) differ between units.
    const strip = (x: unknown) =>
      JSON.parse(
        JSON.stringify(x, (k, v: unknown) => (k === 'pass' ? '<secret>' : k === 'port' ? '<port>' : k === 'file' ? '<file>' : k === 'ca' ? '<ca files>' : v)),
      );
    expect(strip(flawed.declaration)).toEqual(strip(hardened));
    expect(flawed.declaration?.firstUse?.state).toBe('provisioned');
  });

  it('uses the identity it was given and random, well-formed ones otherwise', async () => {
    dev = await startReferenceDevice({ identity: { vendor: 'Acme', model: 'T-1', serial: 'SN-42', mac: '02:00:5E:10:00:01' } });
    expect(dev.targetFile().identity).toEqual({ vendor: 'Acme', model: 'T-1', serial: 'SN-42', mac: '02:00:5e:10:00:01' });
    await dev.close();
    dev = await startReferenceDevice();
    expect(dev.identity.vendor).toBe('Gauntlet');
    expect(dev.identity.model).toBe('RD-1');
    expect(dev.identity.serial).toMatch(/^RD1-\d{6}$/);
    expect(dev.identity.mac).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    for (const p of [dev.credentials.admin.pass, dev.credentials.sensor.pass, dev.credentials.shipped.pass]) expect(p).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(new Set([dev.credentials.admin.pass, dev.credentials.sensor.pass, dev.credentials.shipped.pass]).size).toBe(3);
    const other = await startReferenceDevice();
    try {
      expect(other.credentials.admin.pass).not.toBe(dev.credentials.admin.pass);
      expect(other.identity.mac).not.toBe(dev.identity.mac);
    } finally {
      await other.close();
    }
  });

  it('brackets an IPv6 host in URLs and keeps it bare in scope', async (ctx) => {
    try {
      dev = await startReferenceDevice({ host: '::1' });
    } catch (e) {
      if ((e as { code?: string }).code === 'DEVICE_START' && /EADDRNOTAVAIL|EAFNOSUPPORT/.test(String(e))) return ctx.skip();
      throw e;
    }
    const file = dev.targetFile();
    expect(file.scope.hosts).toEqual(['::1']);
    expect(file.interfaces.map((i) => i.url)).toEqual([
      `mqtts://[::1]:${dev.endpoints.mqtts.port}`,
      `coap://[::1]:${dev.endpoints.coap.port}`,
      `coaps://[::1]:${dev.endpoints.coaps.port}`,
      `https://[::1]:${dev.endpoints.https.port}`,
    ]);
    const target = targetFromObject(file, 'builtin:reference-device', {});
    expect(target.interfaces.map((i) => [i.host, i.port])).toEqual([
      ['::1', dev.endpoints.mqtts.port],
      ['::1', dev.endpoints.coap.port],
      ['::1', dev.endpoints.coaps.port],
      ['::1', dev.endpoints.https.port],
    ]);
  });
});
