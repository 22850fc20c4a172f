// The reference device's HTTP admin API, hardened: login and bearer sessions,
// roles, each user's own record (owner or admin only), logout, error bodies
// without enumeration, version or stack, no Server/X-Powered-By banner, path
// normalisation with authorization on the normalised route, 404/405/413/400
// on bad input, and no crash on malformed requests (the server keeps answering).

import { afterEach, describe, expect, it } from 'vitest';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';
import { dial, http, login, rawHttp, token, type HttpReply } from './helpers.js';

let dev: RunningDevice | undefined;

afterEach(async () => {
  await dev?.close();
  dev = undefined;
});

async function provisioned(): Promise<RunningDevice> {
  dev = await startReferenceDevice({ factoryFresh: false });
  return dev;
}

/** Sends raw bytes and resolves with everything the server answers before it closes (or 2 s). */
function raw(d: RunningDevice, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const { socket: s } = dial(d.endpoints.https);
    let out = '';
    const timer = setTimeout(() => (s.destroy(), resolve(out)), 2000);
    s.on('data', (b) => (out += b.toString('latin1')));
    s.on('close', () => (clearTimeout(timer), resolve(out)));
    s.on('error', () => {});
    s.write(bytes);
  });
}

describe('reference device: HTTP API', () => {
  it('answers GET /api/health without a session', async () => {
    const d = await provisioned();
    const r = await http(d.endpoints.https, 'GET', '/api/health');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'ok' });
    expect(r.headers['content-type']).toMatch(/^application\/json/);
  });

  it('logs admin in with a 32-byte hex token and serves status, config and users', async () => {
    const d = await provisioned();
    const r = await login(d, 'admin', d.credentials.admin.pass);
    expect(r.status).toBe(200);
    const t = (r.json as { token: string }).token;
    expect(t).toMatch(/^[0-9a-f]{64}$/);
    const status = await http(d.endpoints.https, 'GET', '/api/status', { token: t });
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({ firmware: '1.0.0', serial: d.identity.serial });
    expect(typeof (status.json as { uptimeSeconds: unknown }).uptimeSeconds).toBe('number');
    const config = await http(d.endpoints.https, 'GET', '/api/config', { token: t });
    expect(config.status).toBe(200);
    expect(config.json).toMatchObject({ reportIntervalSeconds: 60 });
    const users = await http(d.endpoints.https, 'GET', '/api/users', { token: t });
    expect(users.status).toBe(200);
    expect(users.json).toEqual([
      { user: 'admin', role: 'admin' },
      { user: 'sensor-1', role: 'device' },
    ]);
    expect(users.text).not.toContain(d.credentials.admin.pass);
  });

  it('changes the config with PUT /api/config (admin) and validates it', async () => {
    const d = await provisioned();
    const t = await token(d, 'admin', d.credentials.admin.pass);
    const put = await http(d.endpoints.https, 'PUT', '/api/config', { token: t, json: { reportIntervalSeconds: 15, temperatureUnit: 'F' } });
    expect(put.status).toBe(204);
    expect((await http(d.endpoints.https, 'GET', '/api/config', { token: t })).json).toMatchObject({ reportIntervalSeconds: 15, temperatureUnit: 'F' });
    const bad = ['{"reportIntervalSeconds":-1}', '{"reportIntervalSeconds":1.5}', '{"temperatureUnit":"K"}', '{"unknown":1}', '[1,2]', '"text"', '{"__proto__":{"x":1}}'];
    for (const body of bad) {
      const r = await http(d.endpoints.https, 'PUT', '/api/config', { token: t, raw: body });
      expect(r.status, body).toBe(400);
    }
    expect((await http(d.endpoints.https, 'GET', '/api/config', { token: t })).json).toMatchObject({ reportIntervalSeconds: 15 });
  });

  it('gives the device role its status but 403 on admin routes', async () => {
    const d = await provisioned();
    const t = await token(d, 'sensor-1', d.credentials.sensor.pass);
    expect((await http(d.endpoints.https, 'GET', '/api/status', { token: t })).status).toBe(200);
    for (const [method, path] of [['GET', '/api/config'], ['PUT', '/api/config'], ['GET', '/api/users']] as const) {
      const r = await http(d.endpoints.https, method, path, { token: t, json: { reportIntervalSeconds: 5 } });
      expect(r.status, `${method} ${path}`).toBe(403);
    }
  });

  it('refuses bad credentials with one body for wrong password and unknown user', async () => {
    const d = await provisioned();
    const wrong = await login(d, 'admin', 'wrong-password');
    const unknown = await login(d, 'nobody', 'wrong-password');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.json).toEqual({ error: 'invalid credentials' });
    expect(unknown.text).toBe(wrong.text);
    expect(wrong.text).not.toContain('token');
  });

  it('answers 401 "authentication required" on protected routes without, with a bad or with a dead token', async () => {
    const d = await provisioned();
    const bogus = 'a'.repeat(64);
    for (const [method, path] of [['GET', '/api/status'], ['GET', '/api/config'], ['PUT', '/api/config'], ['GET', '/api/users'], ['POST', '/api/logout']] as const) {
      for (const t of [undefined, bogus, 'not-a-token']) {
        const r = await http(d.endpoints.https, method, path, t === undefined ? {} : { token: t });
        expect(r.status, `${method} ${path} ${t}`).toBe(401);
        expect(r.json).toEqual({ error: 'authentication required' });
      }
    }
    const basic = await http(d.endpoints.https, 'GET', '/api/status', { headers: { authorization: `Basic ${Buffer.from(`admin:${d.credentials.admin.pass}`).toString('base64')}` } });
    expect(basic.status).toBe(401);
  });

  it('kills the token on logout', async () => {
    const d = await provisioned();
    const t = await token(d, 'admin', d.credentials.admin.pass);
    expect((await http(d.endpoints.https, 'POST', '/api/logout', { token: t })).status).toBe(204);
    expect((await http(d.endpoints.https, 'GET', '/api/status', { token: t })).status).toBe(401);
    expect((await http(d.endpoints.https, 'POST', '/api/logout', { token: t })).status).toBe(401);
  });

  it('answers 404 JSON to unknown routes and 405 with Allow to wrong methods', async () => {
    const d = await provisioned();
    for (const path of ['/', '/api', '/api/', '/etc/passwd', '/API/config', '/api/Config', '/api/configx', '/api/users/admin/x', '/api/users/%2e%2e', '/api/../etc/passwd']) {
      const r = await rawHttp(d.endpoints.https, 'GET', path);
      expect(r.status, path).toBe(404);
      expect(r.json).toEqual({ error: 'not found' });
    }
    const cases: [string, string, string][] = [
      ['POST', '/api/health', 'GET'],
      ['GET', '/api/login', 'POST'],
      ['DELETE', '/api/config', 'GET, PUT'],
      ['GET', '/api/logout', 'POST'],
      ['PATCH', '/api/users', 'GET'],
      ['DELETE', '/api/users/sensor-1', 'GET'],
      ['PUT', '/api/users/admin', 'GET'],
    ];
    for (const [method, path, allow] of cases) {
      const r = await http(d.endpoints.https, method, path);
      expect(r.status, `${method} ${path}`).toBe(405);
      expect(r.headers.allow).toBe(allow);
    }
  });

  it('serves a user record to admin (any user) and to the user themself; 403 for another user, existing or not', async () => {
    const d = await provisioned();
    const admin = await token(d, 'admin', d.credentials.admin.pass);
    const sensor = await token(d, 'sensor-1', d.credentials.sensor.pass);
    const get = (path: string, t?: string) => http(d.endpoints.https, 'GET', path, t === undefined ? {} : { token: t });
    expect((await get('/api/users/admin', admin)).json).toEqual({ user: 'admin', role: 'admin' });
    const own = await get('/api/users/sensor-1', admin);
    expect([own.status, own.json]).toEqual([200, { user: 'sensor-1', role: 'device' }]);
    expect((await get('/api/users/nobody', admin)).status).toBe(404);
    expect((await get('/api/users/sensor-1', sensor)).json).toEqual({ user: 'sensor-1', role: 'device' });
    for (const other of ['admin', 'nobody', 'sensor-2']) {
      const r = await get(`/api/users/${other}`, sensor);
      expect([r.status, r.json], other).toEqual([403, { error: 'forbidden' }]);
    }
    for (const path of ['/api/users/admin', '/api/users/sensor-1', '/api/users/nobody']) expect((await get(path)).status, path).toBe(401);
    expect((await get('/api/users/admin', 'f'.repeat(64))).status).toBe(401);
  });

  it('normalises the path before routing and authorizes on the normalised route', async () => {
    const d = await provisioned();
    const admin = await token(d, 'admin', d.credentials.admin.pass);
    const sensor = await token(d, 'sensor-1', d.credentials.sensor.pass);
    const spellings = ['/api/config', '//api/config', '/api/./config', '/api/x/../config', '/api/%63onfig', '/api/config/', '/api//config', '/./api/config?x=1', '/../api/config'];
    for (const path of spellings) {
      const anon = await rawHttp(d.endpoints.https, 'GET', path);
      expect([anon.status, anon.json], path).toEqual([401, { error: 'authentication required' }]);
      expect((await rawHttp(d.endpoints.https, 'PUT', path, { json: { reportIntervalSeconds: 9 } })).status, `PUT ${path}`).toBe(401);
      expect((await rawHttp(d.endpoints.https, 'GET', path, { token: sensor })).status, path).toBe(403);
      expect((await rawHttp(d.endpoints.https, 'GET', path, { token: admin })).status, path).toBe(200);
    }
    expect((await http(d.endpoints.https, 'GET', '/api/config', { token: admin })).json).toMatchObject({ reportIntervalSeconds: 60 });
    // The owner route too: a spelling of someone else's record is still someone else's.
    for (const path of ['/api/users/./admin', '/api/users/%61dmin', '/api/users/x/../admin/', '//api/users/admin']) {
      expect((await rawHttp(d.endpoints.https, 'GET', path)).status, path).toBe(401);
      expect((await rawHttp(d.endpoints.https, 'GET', path, { token: sensor })).status, path).toBe(403);
    }
    expect((await rawHttp(d.endpoints.https, 'GET', '/api/users/sensor-%31', { token: sensor })).json).toEqual({ user: 'sensor-1', role: 'device' });
    // Public routes in any spelling; a broken percent-encoding is a bad request.
    expect((await rawHttp(d.endpoints.https, 'GET', '/api/health/')).status).toBe(200);
    expect((await rawHttp(d.endpoints.https, 'GET', '/api/%zz')).status).toBe(400);
  });

  it('sends no product or version banner and short JSON error bodies', async () => {
    const d = await provisioned();
    const t = await token(d, 'admin', d.credentials.admin.pass);
    const replies: HttpReply[] = [
      await http(d.endpoints.https, 'GET', '/api/health'),
      await http(d.endpoints.https, 'GET', '/api/status', { token: t }),
      await login(d, 'admin', 'wrong-password'),
      await http(d.endpoints.https, 'GET', '/api/config'),
      await http(d.endpoints.https, 'GET', '/nope'),
      await http(d.endpoints.https, 'DELETE', '/api/config'),
      await http(d.endpoints.https, 'POST', '/api/login', { raw: '{' }),
      await http(d.endpoints.https, 'GET', '/api/users/nobody', { token: t }),
      await rawHttp(d.endpoints.https, 'GET', '/api/%zz'),
    ];
    for (const r of replies) {
      expect(r.headers.server, r.text).toBeUndefined();
      expect(r.headers['x-powered-by'], r.text).toBeUndefined();
      if (r.status < 400) continue;
      expect(Object.keys(r.json as object), r.text).toEqual(['error']);
      expect(typeof (r.json as { error: unknown }).error).toBe('string');
      expect(r.text.length, r.text).toBeLessThan(100);
      expect(r.text).not.toMatch(/\d+\.\d+\.\d+|stack|firmware|node|\.js|\/opt\//i);
    }
  });

  it('answers malformed JSON and wrong shapes with 400', async () => {
    const d = await provisioned();
    for (const body of ['{', '', 'null', '[]', '{"username":"admin"}', '{"username":1,"password":2}', '\u0000\u0001', '{"username":"admin","password":"x"']) {
      const r = await http(d.endpoints.https, 'POST', '/api/login', { raw: body, headers: { 'content-type': 'application/json' } });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.text).not.toMatch(/at .*\.(ts|js):\d+/); // no stack trace
    }
    const t = await token(d, 'admin', d.credentials.admin.pass);
    expect((await http(d.endpoints.https, 'PUT', '/api/config', { token: t, raw: '{"x":' })).status).toBe(400);
    expect((await http(d.endpoints.https, 'POST', '/api/password', { raw: 'nope' })).status).toBe(400);
  });

  it('refuses bodies over 64 KiB with 413 and keeps serving', async () => {
    const d = await provisioned();
    const big = JSON.stringify({ username: 'admin', password: 'x'.repeat(70 * 1024) });
    const r = await http(d.endpoints.https, 'POST', '/api/login', { raw: big, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(413);
    const huge = await raw(d, `POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{"username":`);
    expect(huge).toMatch(/^HTTP\/1\.1 413 /);
    const chunked = await raw(
      d,
      `POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` + `10000\r\n${'a'.repeat(0x10000)}\r\n`.repeat(2) + '0\r\n\r\n',
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 413 /);
    // Just under the limit is parsed (and here refused as bad credentials).
    const fits = JSON.stringify({ username: 'admin', password: 'x'.repeat(60 * 1024) });
    expect((await http(d.endpoints.https, 'POST', '/api/login', { raw: fits })).status).toBe(401);
    expect((await http(d.endpoints.https, 'GET', '/api/health')).status).toBe(200);
  });

  it('survives garbage on the socket and keeps answering', async () => {
    const d = await provisioned();
    const answers = await Promise.all([
      raw(d, 'GARBAGE\r\n\r\n'),
      raw(d, Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10])),
      raw(d, `GET /api/health HTTP/1.1\r\nHost: x\r\nX: ${'y'.repeat(64 * 1024)}\r\n\r\n`),
      raw(d, 'GET http://evil.example/api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      raw(d, 'GET /api/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\nConnection: close\r\n\r\n'),
    ]);
    for (const a of answers) {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(a)?.[1] ?? 0);
      // 400/401/404/431 are all fine; what matters is a 4xx and no crash.
      expect(status, a.slice(0, 80)).toBeGreaterThanOrEqual(400);
      expect(status, a.slice(0, 80)).toBeLessThan(500);
      expect(a).not.toMatch(/at .*\.(ts|js):\d+/);
    }
    expect((await http(d.endpoints.https, 'GET', '/api/health')).status).toBe(200);
  });
});
