// Brute-force protection of the reference device: per user name, across MQTT
// and HTTP, sliding window, fixed lock that refuses even the right password
// and is not extended by attempts during it, reset by a success.

import { afterEach, describe, expect, it } from 'vitest';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';
import { http, login, mqttConnack, sleep } from './helpers.js';

let dev: RunningDevice | undefined;

afterEach(async () => {
  await dev?.close();
  dev = undefined;
});

// A long window so slow machines still reach the limit inside it; a short lock so tests can wait it out.
const LOCKOUT = { attempts: 5, windowMs: 10_000, durationMs: 200 };

async function fail(d: RunningDevice, user: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await login(d, user, `wrong-${i}`)).status).toBe(401);
}

describe('reference device: lockout', () => {
  it('refuses the right password after N failures and accepts it again after the lock', async () => {
    const lines: string[] = [];
    dev = await startReferenceDevice({ factoryFresh: false, lockout: LOCKOUT, log: (l) => lines.push(l) });
    await fail(dev, 'admin', 5);
    const locked = await login(dev, 'admin', dev.credentials.admin.pass);
    expect(locked.status).toBe(401);
    expect(locked.json).toEqual({ error: 'invalid credentials' }); // same body: no lock oracle
    expect(lines.some((l) => l.includes('locked for 200ms'))).toBe(true);
    // Other users are not affected.
    expect((await login(dev, 'sensor-1', dev.credentials.sensor.pass)).status).toBe(200);
    await sleep(LOCKOUT.durationMs + 30);
    expect((await login(dev, 'admin', dev.credentials.admin.pass)).status).toBe(200);
  });

  it('does not lock below N failures, and a success resets the count', async () => {
    dev = await startReferenceDevice({ factoryFresh: false, lockout: LOCKOUT });
    await fail(dev, 'admin', 4);
    expect((await login(dev, 'admin', dev.credentials.admin.pass)).status).toBe(200);
    await fail(dev, 'admin', 4);
    expect((await login(dev, 'admin', dev.credentials.admin.pass)).status).toBe(200);
  });

  it('counts failures in a sliding window only', async () => {
    dev = await startReferenceDevice({ factoryFresh: false, lockout: { attempts: 3, windowMs: 150, durationMs: 1000 } });
    await fail(dev, 'admin', 2);
    await sleep(200);
    await fail(dev, 'admin', 2); // the first two are out of the window
    expect((await login(dev, 'admin', dev.credentials.admin.pass)).status).toBe(200);
  });

  it('locks across interfaces: HTTP failures lock MQTT, MQTT failures lock HTTP', async () => {
    dev = await startReferenceDevice({ factoryFresh: false, lockout: { attempts: 5, windowMs: 10_000, durationMs: 10_000 } });
    await fail(dev, 'admin', 5);
    expect(await mqttConnack(dev.endpoints.mqtts, { username: 'admin', password: dev.credentials.admin.pass })).toBe(4);
    for (let i = 0; i < 5; i++) expect(await mqttConnack(dev.endpoints.mqtts, { username: 'sensor-1', password: `wrong-${i}` })).toBe(4);
    expect((await login(dev, 'sensor-1', dev.credentials.sensor.pass)).status).toBe(401);
  });

  it('locks names that do not exist the same way', async () => {
    const lines: string[] = [];
    dev = await startReferenceDevice({ factoryFresh: false, lockout: LOCKOUT, log: (l) => lines.push(l) });
    await fail(dev, 'ghost', 5);
    expect(lines.filter((l) => l.includes('lockout: user="ghost"'))).toHaveLength(1);
  });

  it('does not extend a lock by attempts made during it', async () => {
    dev = await startReferenceDevice({ factoryFresh: false, lockout: { attempts: 5, windowMs: 10_000, durationMs: 300 } });
    await fail(dev, 'admin', 5);
    const lockedAt = Date.now();
    while (Date.now() - lockedAt < 250) {
      await login(dev, 'admin', 'still-guessing');
      await sleep(20);
    }
    await sleep(Math.max(0, 300 - (Date.now() - lockedAt)) + 30);
    expect((await login(dev, 'admin', dev.credentials.admin.pass)).status).toBe(200);
  });

  it('counts failed password changes toward the lockout', async () => {
    dev = await startReferenceDevice({ lockout: LOCKOUT });
    for (let i = 0; i < 5; i++) {
      const r = await http(dev.endpoints.https, 'POST', '/api/password', { json: { username: 'admin', password: `wrong-${i}`, newPassword: 'a-good-new-password' } });
      expect(r.status).toBe(401);
    }
    const r = await http(dev.endpoints.https, 'POST', '/api/password', {
      json: { username: 'admin', password: dev.credentials.shipped.pass, newPassword: 'a-good-new-password' },
    });
    expect(r.status).toBe(401);
    expect(dev.isFactoryFresh()).toBe(true);
  });
});
