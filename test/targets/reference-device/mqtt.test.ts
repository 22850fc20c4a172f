// The reference device's MQTT broker, hardened: authentication with CONNACK
// return codes, the first-use gate, and the per-role ACL (SUBACK 128 for
// refused filters, refused publishes dropped, retained config for the sensor).

import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';
import { collect, mqttClient, mqttConnack, rawMqtt, sleep, type RawMqtt } from './helpers.js';

let dev: RunningDevice | undefined;
const clients: MqttClient[] = [];
const raws: RawMqtt[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  for (const r of raws.splice(0)) r.close();
  await dev?.close();
  dev = undefined;
});

async function provisioned(): Promise<RunningDevice> {
  dev = await startReferenceDevice({ factoryFresh: false });
  return dev;
}

async function client(d: RunningDevice, user: string, pass: string): Promise<MqttClient> {
  const c = await mqttClient(d.endpoints.mqtt, user, pass);
  clients.push(c);
  return c;
}

describe('reference device: MQTT authentication', () => {
  it('accepts admin and sensor-1 with their passwords (return code 0)', async () => {
    const d = await provisioned();
    expect(await mqttConnack(d.endpoints.mqtt, { username: 'admin', password: d.credentials.admin.pass })).toBe(0);
    expect(await mqttConnack(d.endpoints.mqtt, { username: 'sensor-1', password: d.credentials.sensor.pass })).toBe(0);
  });

  it('refuses a wrong password, an unknown user and a missing password with 4', async () => {
    const d = await provisioned();
    expect(await mqttConnack(d.endpoints.mqtt, { username: 'admin', password: 'wrong-password' })).toBe(4);
    expect(await mqttConnack(d.endpoints.mqtt, { username: 'nobody', password: d.credentials.admin.pass })).toBe(4);
    expect(await mqttConnack(d.endpoints.mqtt, { username: 'admin' })).toBe(4);
    // The sensor's password is not the admin's.
    expect(await mqttConnack(d.endpoints.mqtt, { username: 'admin', password: d.credentials.sensor.pass })).toBe(4);
  });

  it('refuses an anonymous CONNECT with 5, also with an empty user name', async () => {
    const d = await provisioned();
    expect(await mqttConnack(d.endpoints.mqtt)).toBe(5);
    expect(await mqttConnack(d.endpoints.mqtt, { username: '' })).toBe(5);
  });

  it('refuses every CONNECT with 5 while factory-fresh, the shipped admin password included', async () => {
    dev = await startReferenceDevice();
    const ep = dev.endpoints.mqtt;
    expect(dev.isFactoryFresh()).toBe(true);
    expect(await mqttConnack(ep, { username: 'admin', password: dev.credentials.shipped.pass })).toBe(5);
    expect(await mqttConnack(ep, { username: 'sensor-1', password: dev.credentials.sensor.pass })).toBe(5);
    expect(await mqttConnack(ep, { username: 'admin', password: dev.credentials.admin.pass })).toBe(5);
    expect(await mqttConnack(ep, { username: 'admin', password: 'wrong-password' })).toBe(5);
    expect(await mqttConnack(ep)).toBe(5);
  });
});

describe('reference device: MQTT access control', () => {
  it('grants sensor-1 only its own filters and refuses the rest with SUBACK 128', async () => {
    const d = await provisioned();
    const raw = await rawMqtt(d.endpoints.mqtt, { username: 'sensor-1', password: d.credentials.sensor.pass });
    raws.push(raw);
    expect(raw.connack).toBe(0);
    const filters = ['config/sensor-1', 'devices/sensor-1/#', 'devices/sensor-1/temp', 'devices/sensor-1', 'devices/+/temp', '#', 'config/#', 'config/sensor-2', '+/sensor-1/temp'];
    raw.send({ cmd: 'subscribe', messageId: 7, subscriptions: filters.map((topic) => ({ topic, qos: 1 as const })) });
    const suback = await raw.next('suback');
    expect(suback.cmd === 'suback' && suback.granted).toEqual([1, 1, 1, 1, 128, 128, 128, 128, 128]);
    // Refused filters do not end the session.
    raw.send({ cmd: 'pingreq' });
    await raw.next('pingresp');
  });

  it('lets admin subscribe to anything', async () => {
    const d = await provisioned();
    const admin = await client(d, 'admin', d.credentials.admin.pass);
    const grants = await admin.subscribeAsync(['#', 'config/+', '$SYS/#']);
    expect(grants.map((g) => g.qos)).toEqual([0, 0, 0]);
  });

  it('delivers what sensor-1 may publish and drops the rest without disconnecting it', async () => {
    const d = await provisioned();
    const admin = await client(d, 'admin', d.credentials.admin.pass);
    const got = collect(admin);
    await admin.subscribeAsync(['devices/#', 'config/#', 'elsewhere/#']);
    const sensor = await client(d, 'sensor-1', d.credentials.sensor.pass);
    await sensor.publishAsync('config/sensor-1', 'forged', { qos: 1 });
    await sensor.publishAsync('devices/sensor-2/temp', 'spoofed', { qos: 1 });
    await sensor.publishAsync('elsewhere/x', 'nope', { qos: 0, retain: true });
    await sensor.publishAsync('devices/sensor-1/temp', '21.5', { qos: 1 });
    await sleep(150);
    expect(sensor.connected).toBe(true);
    expect(got.some((m) => m.topic === 'devices/sensor-1/temp' && m.payload === '21.5')).toBe(true);
    expect(got.map((m) => m.payload)).not.toContain('forged');
    expect(got.map((m) => m.payload)).not.toContain('spoofed');
    expect(got.map((m) => m.payload)).not.toContain('nope');
  });

  it('does not retain a dropped publish', async () => {
    const d = await provisioned();
    const sensor = await client(d, 'sensor-1', d.credentials.sensor.pass);
    await sensor.publishAsync('elsewhere/retained', 'should-not-stick', { qos: 1, retain: true });
    const admin = await client(d, 'admin', d.credentials.admin.pass);
    const got = collect(admin);
    await admin.subscribeAsync('elsewhere/#');
    await sleep(100);
    expect(got).toEqual([]);
  });

  it('lets admin publish anywhere and keeps the sensor config retained on config/sensor-1', async () => {
    const d = await provisioned();
    const sensor = await client(d, 'sensor-1', d.credentials.sensor.pass);
    const got = collect(sensor);
    await sensor.subscribeAsync(['config/sensor-1', 'devices/sensor-1/#']);
    const admin = await client(d, 'admin', d.credentials.admin.pass);
    await admin.publishAsync('devices/sensor-1/cmd', 'blink', { qos: 1 });
    await sleep(100);
    const config = got.find((m) => m.topic === 'config/sensor-1');
    expect(config).toBeDefined();
    expect(JSON.parse(config!.payload)).toMatchObject({ reportIntervalSeconds: 60 });
    expect(got).toContainEqual({ topic: 'devices/sensor-1/cmd', payload: 'blink' });
  });
});
