// The reference device's plaintext ports: credentials are accepted over TLS
// only. Plain MQTT answers every CONNECT 5 before looking at the password
// (never counting toward the lockout); plain HTTP serves GET /api/health and
// redirects everything else to https without reading the body. The
// plaintext-credentials flaw serves both like their TLS twins.

import { afterEach, describe, expect, it } from 'vitest';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';
import { http, mqttConnack, rawHttp } from './helpers.js';

const units: RunningDevice[] = [];
afterEach(async () => {
  await Promise.all(units.splice(0).map((u) => u.close()));
});

async function unit(flaws: 'plaintext-credentials'[] = [], log?: string[]): Promise<RunningDevice> {
  const d = await startReferenceDevice({ factoryFresh: false, flaws, lockout: { attempts: 3, windowMs: 10_000, durationMs: 10_000 }, ...(log ? { log: (l) => log.push(l) } : {}) });
  units.push(d);
  return d;
}

describe('reference device: plaintext ports (hardened)', () => {
  it('plain MQTT refuses every CONNECT with 5, the right password included, and logs why', async () => {
    const log: string[] = [];
    const d = await unit([], log);
    expect(await mqttConnack(d.endpoints.mqtt, { username: 'admin', password: d.credentials.admin.pass })).toBe(5);
    expect(await mqttConnack(d.endpoints.mqtt, { username: 'sensor-1', password: d.credentials.sensor.pass })).toBe(5);
    expect(await mqttConnack(d.endpoints.mqtt)).toBe(5);
    expect(log.filter((l) => l.includes('on the plaintext port refused'))).toHaveLength(3);
    expect(await mqttConnack(d.endpoints.mqtts, { username: 'admin', password: d.credentials.admin.pass })).toBe(0);
  });

  it('a password sent in clear is never checked: wrong ones there do not lock the account', async () => {
    const d = await unit();
    for (let i = 0; i < 5; i++) expect(await mqttConnack(d.endpoints.mqtt, { username: 'admin', password: `wrong-${i}` })).toBe(5);
    for (let i = 0; i < 5; i++) expect((await http(d.endpoints.http, 'POST', '/api/login', { json: { username: 'admin', password: `wrong-${i}` } })).status).toBe(308);
    expect(await mqttConnack(d.endpoints.mqtts, { username: 'admin', password: d.credentials.admin.pass })).toBe(0);
  });

  it('plain HTTP serves GET /api/health, and redirects the rest (308) to the same path on https', async () => {
    const d = await unit();
    expect((await http(d.endpoints.http, 'GET', '/api/health')).status).toBe(200);
    expect((await http(d.endpoints.http, 'HEAD', '/api/health')).status).toBe(308);
    const login = await http(d.endpoints.http, 'POST', '/api/login', { json: { username: 'admin', password: d.credentials.admin.pass } });
    expect(login.status).toBe(308);
    expect(login.headers.location).toBe(`https://127.0.0.1:${d.endpoints.https.port}/api/login`);
    expect(login.json).toEqual({ error: 'use https', location: `https://127.0.0.1:${d.endpoints.https.port}/api/login` });
    expect(login.text).not.toContain('token');
    // Every other route and spelling, with or without a session.
    for (const path of ['/api/status', '/api/config?x=1', '//api/health/..', '/nope']) {
      const r = await rawHttp(d.endpoints.http, 'GET', path);
      expect(r.status, path).toBe(308);
      expect(r.headers.location, path).toBe(`https://127.0.0.1:${d.endpoints.https.port}${path}`);
    }
    expect((await rawHttp(d.endpoints.http, 'GET', 'http://evil.example/api/health')).status).toBe(403);
  });
});

describe('reference device: plaintext-credentials flaw', () => {
  it('plain MQTT and HTTP accept the credentials and serve what the TLS ports do', async () => {
    const d = await unit(['plaintext-credentials']);
    expect(await mqttConnack(d.endpoints.mqtt, { username: 'admin', password: d.credentials.admin.pass })).toBe(0);
    expect(await mqttConnack(d.endpoints.mqtt, { username: 'admin', password: 'wrong' })).toBe(4);
    const login = await http(d.endpoints.http, 'POST', '/api/login', { json: { username: 'admin', password: d.credentials.admin.pass } });
    expect(login.status).toBe(200);
    const t = (login.json as { token: string }).token;
    expect((await http(d.endpoints.http, 'GET', '/api/status', { token: t })).status).toBe(200);
  });
});
