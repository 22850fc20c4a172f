// The access-control and exposure flaws of the reference device in detail:
// each present with its flaw exactly as specified, and absent on the hardened
// unit (the matrix in flaws.test.ts proves each switches on only itself).

import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEBUG_BANNER } from '../../../targets/reference-device/debug-shell.js';
import { resolveOptions } from '../../../targets/reference-device/options.js';
import { startReferenceDevice, type Flaw, type RunningDevice } from '../../../targets/reference-device/index.js';
import {
  coapRequest,
  freeTcpPort,
  http,
  login,
  rawHttp,
  rawMqtt,
  tcpOpen,
  tcpSession,
  token,
  type LineSession,
  type RawMqtt,
  type Will,
} from './helpers.js';

let dev: RunningDevice | undefined;
const raws: RawMqtt[] = [];
const lines: LineSession[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  for (const l of lines.splice(0)) l.close();
  await dev?.close();
  dev = undefined;
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A provisioned unit with these flaws (the debug shell, if any, on a free port). */
async function unit(flaws: Flaw[], debug = 0): Promise<RunningDevice> {
  dev = await startReferenceDevice({ flaws, factoryFresh: false, ports: { debug } });
  return dev;
}

async function raw(d: RunningDevice, who: 'admin' | 'sensor', will?: Will): Promise<RawMqtt> {
  const c = who === 'admin' ? d.credentials.admin : d.credentials.sensor;
  const r = await rawMqtt(d.endpoints.mqtts, { username: c.user, password: c.pass }, will ? { will } : {});
  raws.push(r);
  expect(r.connack).toBe(0);
  return r;
}

async function grants(r: RawMqtt, filters: readonly string[]): Promise<number[]> {
  r.send({ cmd: 'subscribe', messageId: 5, subscriptions: filters.map((topic) => ({ topic, qos: 1 as const })) });
  const ack = await r.next('suback');
  return ack.cmd === 'suback' ? ack.granted.map(Number) : [];
}

/** [topic, payload] of every PUBLISH received until none came for `quietMs`. */
async function drain(r: RawMqtt, quietMs = 120): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for (;;) {
    const p = await r.next('publish', quietMs).catch(() => undefined);
    if (!p) return out;
    if (p.cmd === 'publish') out.push([p.topic, p.payload.toString()]);
  }
}

function publish(r: RawMqtt, topic: string, payload: string, retain = false): void {
  r.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain, dup: false });
}

describe('flaw acl-wildcard-leak', () => {
  it('grants any all-wildcard filter to the sensor, which then reads every non-$ topic', async () => {
    const d = await unit(['acl-wildcard-leak']);
    const sensor = await raw(d, 'sensor');
    expect(await grants(sensor, ['#', '+/#', '+/+/#', '+', 'devices/#', 'devices/+/temp', '$SYS/#'])).toEqual([1, 1, 1, 1, 128, 128, 128]);
    expect((await drain(sensor)).every(([t]) => t === 'config/sensor-1')).toBe(true); // retained config, nothing from $SYS
    const admin = await raw(d, 'admin');
    publish(admin, 'devices/sensor-2/temp', 't2');
    publish(admin, 'other/secret', 's');
    const got = await drain(sensor);
    expect(got.filter(([t]) => t.startsWith('$'))).toEqual([]);
    expect(got).toContainEqual(['devices/sensor-2/temp', 't2']);
    expect(got).toContainEqual(['other/secret', 's']);
    // Publishing stays restricted.
    const watcher = await raw(d, 'admin');
    expect(await grants(watcher, ['other/#'])).toEqual([1]);
    publish(sensor, 'other/forged', 'f');
    expect(await drain(watcher)).toEqual([]);
  });

  it('is absent on the hardened unit', async () => {
    const d = await unit([]);
    expect(await grants(await raw(d, 'sensor'), ['#', '+/#', '+/+/#', '+'])).toEqual([128, 128, 128, 128]);
  });
});

describe('flaw acl-prefix-match', () => {
  it('lets sensor-1 publish, subscribe and read under devices/sensor-10 and config/sensor-12, never #', async () => {
    const d = await unit(['acl-prefix-match']);
    const sensor = await raw(d, 'sensor');
    expect(await grants(sensor, ['devices/sensor-10/x', 'devices/sensor-10/#', 'config/sensor-12', '#', 'devices/+/temp', 'devices/sensor-2/#'])).toEqual([
      1, 1, 1, 128, 128, 128,
    ]);
    await drain(sensor);
    const admin = await raw(d, 'admin');
    expect(await grants(admin, ['devices/#'])).toEqual([1]);
    await drain(admin);
    publish(admin, 'devices/sensor-10/cmd', 'for-10');
    expect(await drain(sensor)).toEqual([['devices/sensor-10/cmd', 'for-10']]);
    publish(sensor, 'devices/sensor-10/temp', 'spoofed');
    publish(sensor, 'devices/sensor-2/temp', 'refused');
    expect(await drain(admin)).toEqual([
      ['devices/sensor-10/cmd', 'for-10'],
      ['devices/sensor-10/temp', 'spoofed'],
    ]);
  });

  it('is absent on the hardened unit', async () => {
    const d = await unit([]);
    const sensor = await raw(d, 'sensor');
    expect(await grants(sensor, ['devices/sensor-10/x', 'devices/sensor-10/#', 'config/sensor-12'])).toEqual([128, 128, 128]);
    const admin = await raw(d, 'admin');
    expect(await grants(admin, ['devices/#'])).toEqual([1]);
    publish(sensor, 'devices/sensor-10/temp', 'spoofed');
    expect(await drain(admin)).toEqual([]);
  });
});

describe('flaw will-bypass', () => {
  it.each([
    [['will-bypass'] as Flaw[], [['devices/sensor-2/status', 'forged-will']]],
    [[] as Flaw[], []],
  ])('flaws %j: a will on a topic sensor-1 may not publish to -> %j', async (flaws, expected) => {
    const d = await unit(flaws);
    const admin = await raw(d, 'admin');
    expect(await grants(admin, ['devices/#'])).toEqual([1]);
    (await raw(d, 'sensor', { topic: 'devices/sensor-2/status', payload: 'forged-will' })).close();
    expect(await drain(admin, 200)).toEqual(expected);
  });
});

describe('flaw retained-bypass', () => {
  it.each([
    [['retained-bypass'] as Flaw[], [['devices/sensor-2/state', 'forged']]],
    [[] as Flaw[], []],
  ])('flaws %j: an unauthorised retained publish is never live; stored -> %j', async (flaws, expected) => {
    const d = await unit(flaws);
    const live = await raw(d, 'admin');
    expect(await grants(live, ['devices/#'])).toEqual([1]);
    const sensor = await raw(d, 'sensor');
    sensor.send({ cmd: 'publish', topic: 'devices/sensor-2/state', payload: Buffer.from('forged'), qos: 1, messageId: 2, retain: true, dup: false });
    await sensor.next('puback');
    expect(await drain(live)).toEqual([]);
    const later = await raw(d, 'admin');
    expect(await grants(later, ['devices/sensor-2/state'])).toEqual([1]);
    expect(await drain(later)).toEqual(expected);
    // A later subscriber without read rights gets nothing either way.
    expect(await grants(await raw(d, 'sensor'), ['devices/sensor-2/state'])).toEqual([128]);
  });
});

describe('flaw coap-hidden-resource', () => {
  it('serves /debug with internal state, unlisted in /.well-known/core', async () => {
    const d = await unit(['coap-hidden-resource']);
    const r = await coapRequest(d.endpoints.coap, 'GET', '/debug');
    expect(r.code).toBe('2.05');
    expect(r.contentFormat).toBe(0);
    expect(r.payload).toMatch(/^uptime=\d+;heap=\d+;admin-session=none$/);
    await token(d, 'admin', d.credentials.admin.pass);
    expect((await coapRequest(d.endpoints.coap, 'GET', '/debug')).payload).toMatch(/;admin-session=active$/);
    expect((await coapRequest(d.endpoints.coap, 'PUT', '/debug', 'x')).code).toBe('4.05');
    expect((await coapRequest(d.endpoints.coap, 'GET', '/.well-known/core')).payload).not.toContain('debug');
    expect(d.targetFile().declaration?.access?.coap?.resources).not.toContain('/debug');
  });

  it('is absent on the hardened unit', async () => {
    const d = await unit([]);
    expect((await coapRequest(d.endpoints.coap, 'GET', '/debug')).code).toBe('4.04');
  });
});

describe('flaw coap-method-confusion', () => {
  it('answers DELETE /sensors/temperature with 2.02 and resets the reading; nothing else changes', async () => {
    const d = await unit(['coap-method-confusion']);
    expect(Number((await coapRequest(d.endpoints.coap, 'GET', '/sensors/temperature')).payload)).toBeGreaterThan(15);
    expect((await coapRequest(d.endpoints.coap, 'DELETE', '/sensors/temperature')).code).toBe('2.02');
    expect((await coapRequest(d.endpoints.coap, 'GET', '/sensors/temperature')).payload).toBe('0.0');
    expect((await coapRequest(d.endpoints.coap, 'PUT', '/sensors/temperature', '1')).code).toBe('4.05');
    expect((await coapRequest(d.endpoints.coap, 'POST', '/sensors/temperature', '1')).code).toBe('4.05');
    expect((await coapRequest(d.endpoints.coap, 'DELETE', '/sensors/humidity')).code).toBe('4.05');
  });
});

describe('flaw http-idor', () => {
  it('gives any authenticated principal any user record; unknown users stay 404, no session stays 401', async () => {
    const d = await unit(['http-idor']);
    const t = await token(d, 'sensor-1', d.credentials.sensor.pass);
    const r = await http(d.endpoints.https, 'GET', '/api/users/admin', { token: t });
    expect([r.status, r.json]).toEqual([200, { user: 'admin', role: 'admin' }]);
    expect((await http(d.endpoints.https, 'GET', '/api/users/nobody', { token: t })).status).toBe(404);
    expect((await http(d.endpoints.https, 'GET', '/api/users/admin')).status).toBe(401);
    // Only the ownership check is gone: the admin routes still refuse the device role.
    expect((await http(d.endpoints.https, 'GET', '/api/users', { token: t })).status).toBe(403);
  });
});

describe('flaw http-path-normalisation', () => {
  it('skips authorization for every spelling but the exact one', async () => {
    const d = await unit(['http-path-normalisation']);
    for (const path of ['//api/config', '/api/./config', '/api/x/../config', '/api/%63onfig', '/api/config/']) {
      const r = await rawHttp(d.endpoints.https, 'GET', path);
      expect(r.status, path).toBe(200);
      expect(r.json, path).toMatchObject({ reportIntervalSeconds: 60 });
    }
    expect((await rawHttp(d.endpoints.https, 'PUT', '/api/%63onfig', { json: { reportIntervalSeconds: 11 } })).status).toBe(204);
    const t = await token(d, 'admin', d.credentials.admin.pass);
    expect((await http(d.endpoints.https, 'GET', '/api/config', { token: t })).json).toMatchObject({ reportIntervalSeconds: 11 });
    // The exact spellings still need a session.
    expect((await rawHttp(d.endpoints.https, 'GET', '/api/config')).status).toBe(401);
    expect((await rawHttp(d.endpoints.https, 'GET', '/api/config?x=1')).status).toBe(401);
    expect((await rawHttp(d.endpoints.https, 'PUT', '/api/config', { json: {} })).status).toBe(401);
    expect((await rawHttp(d.endpoints.https, 'GET', '/api/users/admin')).status).toBe(401);
    expect((await rawHttp(d.endpoints.https, 'GET', '/api/users/./admin')).json).toEqual({ user: 'admin', role: 'admin' });
    expect((await rawHttp(d.endpoints.https, 'GET', '/API/config')).status).toBe(404);
  });
});

describe('flaw debug-port', () => {
  it('opens an undeclared shell: banner, prompt, echo; close() shuts it', async () => {
    const port = await freeTcpPort();
    const d = await unit(['debug-port'], port);
    const s = await tcpSession({ host: '127.0.0.1', port });
    lines.push(s);
    expect(await s.waitFor('# ')).toBe(DEBUG_BANNER);
    s.send('id\r\nuname -a\n');
    expect(await s.waitFor('uname -a\r\n# ')).toBe(`${DEBUG_BANNER}id\r\n# uname -a\r\n# `);
    expect(d.targetFile().declaration?.interfaces?.map((i) => i.port)).not.toContain(port);
    await d.close();
    expect(await tcpOpen(port)).toBe(false);
  });

  it('names its diagnostics port in scope.probe on every unit; only the flawed one listens there', async () => {
    expect(resolveOptions({}).ports.debug).toBe(0);
    dev = await startReferenceDevice({ factoryFresh: false });
    const [hardenedPort] = dev.targetFile().scope.probe!.tcp!;
    expect(await tcpOpen(hardenedPort!)).toBe(false);
    await dev.close();
    dev = await startReferenceDevice({ flaws: ['debug-port'], factoryFresh: false });
    const [port] = dev.targetFile().scope.probe!.tcp!;
    const s = await tcpSession({ host: '127.0.0.1', port: port! });
    lines.push(s);
    expect(await s.waitFor('# ')).toBe(DEBUG_BANNER);
  });

  it('fails with DEVICE_START naming the port when the port is taken', async () => {
    const port = await freeTcpPort();
    const blocker = createServer();
    servers.push(blocker);
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    const started = startReferenceDevice({ flaws: ['debug-port'], ports: { debug: port } });
    await expect(started).rejects.toMatchObject({ code: 'DEVICE_START' });
    await expect(started).rejects.toThrow(new RegExp(`debug shell could not listen on 127\\.0\\.0\\.1:${port}`));
  });
});

describe('flaw verbose-errors', () => {
  it('puts product and version in HTTP headers and stack traces in error bodies', async () => {
    const d = await unit(['verbose-errors']);
    const health = await http(d.endpoints.https, 'GET', '/api/health');
    expect(health.headers.server).toBe(`RD-1/1.0.0 (node ${process.versions.node})`);
    expect(health.headers['x-powered-by']).toBe('rd1-firmware 1.0.0');
    expect(health.json).toEqual({ status: 'ok' });
    const missing = await http(d.endpoints.https, 'GET', '/nope');
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ error: 'not found', firmware: '1.0.0' });
    expect((missing.json as { stack: string }).stack).toContain('at handle (/opt/rd1/http-api.js:42:7)');
    for (const r of [await http(d.endpoints.https, 'GET', '/api/config'), await http(d.endpoints.https, 'DELETE', '/api/config')]) {
      expect(r.headers.server).toMatch(/^RD-1\/1\.0\.0 /);
      expect(r.json).toMatchObject({ firmware: '1.0.0', stack: expect.stringMatching(/\/opt\/rd1\//) });
    }
    // Same body for a wrong password and an unknown user: still no enumeration.
    expect((await login(d, 'nobody', 'x')).text).toBe((await login(d, 'admin', 'x')).text);
  });

  it('adds a version diagnostic to CoAP 4.xx replies', async () => {
    const d = await unit(['verbose-errors']);
    for (const [method, path, code] of [
      ['GET', '/nope', '4.04'],
      ['DELETE', '/sensors/temperature', '4.05'],
      ['GET', '/config', '4.01'],
    ] as const) {
      const r = await coapRequest(d.endpoints.coap, method, path);
      expect(r.code).toBe(code);
      expect(r.payload).toMatch(/^rd1-firmware\/1\.0\.0 /);
    }
    expect((await coapRequest(d.endpoints.coap, 'GET', '/sensors/humidity')).payload).toMatch(/^\d+\.\d$/);
  });
});
