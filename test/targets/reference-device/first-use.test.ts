// The factory-fresh flow of the reference device (SB-327 (b)(2)): the shipped
// admin password works only to change itself; nothing authenticated works
// until it is changed; the change is validated and ends factory-fresh state.

import { afterEach, describe, expect, it } from 'vitest';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';
import { http, login, mqttConnack, provision, token } from './helpers.js';

let dev: RunningDevice | undefined;

afterEach(async () => {
  await dev?.close();
  dev = undefined;
});

const change = (d: RunningDevice, username: string, password: string, newPassword: string) =>
  http(d.endpoints.https, 'POST', '/api/password', { json: { username, password, newPassword } });

describe('reference device: first use', () => {
  it('starts factory-fresh by default and demands a password change at login, without a token', async () => {
    dev = await startReferenceDevice();
    expect(dev.isFactoryFresh()).toBe(true);
    const r = await login(dev, 'admin', dev.credentials.shipped.pass);
    expect(r.status).toBe(403);
    expect(r.json).toEqual({ error: 'password change required', change: '/api/password' });
    // The password the lab will set does not work yet, nor does the sensor.
    expect((await login(dev, 'admin', dev.credentials.admin.pass)).status).toBe(401);
    const sensor = await login(dev, 'sensor-1', dev.credentials.sensor.pass);
    expect(sensor.status).toBe(403);
    expect(sensor.text).not.toContain('token');
  });

  it('refuses weak new passwords with 400 and bad old ones with 401', async () => {
    dev = await startReferenceDevice();
    const shipped = dev.credentials.shipped.pass;
    expect((await change(dev, 'admin', shipped, 'short')).status).toBe(400);
    expect((await change(dev, 'admin', shipped, shipped)).status).toBe(400);
    expect((await change(dev, 'admin', shipped, 'admin')).status).toBe(400);
    expect((await change(dev, 'admin', 'wrong-password', 'a-good-new-password')).status).toBe(401);
    expect((await change(dev, 'nobody', shipped, 'a-good-new-password')).status).toBe(401);
    expect((await http(dev.endpoints.https, 'POST', '/api/password', { json: { username: 'admin', password: shipped } })).status).toBe(400);
    expect(dev.isFactoryFresh()).toBe(true);
  });

  it('ends factory-fresh state when admin changes the shipped password; then HTTP and MQTT work', async () => {
    dev = await startReferenceDevice({ credentials: { adminPass: 'lab-chosen-pass-1', shippedPass: 'label-pass-0' } });
    expect(dev.credentials.shipped).toEqual({ user: 'admin', pass: 'label-pass-0' });
    await provision(dev);
    expect(dev.isFactoryFresh()).toBe(false);
    expect((await login(dev, 'admin', 'label-pass-0')).status).toBe(401);
    const t = await token(dev, 'admin', 'lab-chosen-pass-1');
    expect((await http(dev.endpoints.https, 'GET', '/api/config', { token: t })).status).toBe(200);
    expect((await login(dev, 'sensor-1', dev.credentials.sensor.pass)).status).toBe(200);
    expect(await mqttConnack(dev.endpoints.mqtts, { username: 'admin', password: 'lab-chosen-pass-1' })).toBe(0);
    expect(await mqttConnack(dev.endpoints.mqtts, { username: 'sensor-1', password: dev.credentials.sensor.pass })).toBe(0);
    // The target file still says how the unit was handed over.
    expect(dev.targetFile().declaration?.firstUse?.state).toBe('factory-fresh');
  });

  it("does not leave factory-fresh state when only the sensor's password changes", async () => {
    dev = await startReferenceDevice();
    expect((await change(dev, 'sensor-1', dev.credentials.sensor.pass, 'new-sensor-pass')).status).toBe(204);
    expect(dev.isFactoryFresh()).toBe(true);
    expect((await login(dev, 'sensor-1', 'new-sensor-pass')).status).toBe(403);
  });

  it('starts provisioned with factoryFresh:false (admin has adminPass)', async () => {
    dev = await startReferenceDevice({ factoryFresh: false });
    expect(dev.isFactoryFresh()).toBe(false);
    expect((await login(dev, 'admin', dev.credentials.admin.pass)).status).toBe(200);
    expect((await login(dev, 'admin', dev.credentials.shipped.pass)).status).toBe(401);
    expect(dev.targetFile().declaration?.firstUse?.state).toBe('provisioned');
  });

  it('ends the sessions of a user whose password changes', async () => {
    dev = await startReferenceDevice({ factoryFresh: false });
    const t = await token(dev, 'admin', dev.credentials.admin.pass);
    expect((await change(dev, 'admin', dev.credentials.admin.pass, 'another-admin-pass')).status).toBe(204);
    expect((await http(dev.endpoints.https, 'GET', '/api/status', { token: t })).status).toBe(401);
    expect((await login(dev, 'admin', 'another-admin-pass')).status).toBe(200);
  });
});
