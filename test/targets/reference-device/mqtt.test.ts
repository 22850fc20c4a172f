// The reference device's MQTT broker, hardened: authentication with CONNACK
// return codes, the first-use gate, and the per-role ACL (SUBACK 128 for
// filters the principal's rules do not cover, refused publishes dropped and
// never retained, wills discarded when their topic may not be published to,
// '$' topics out of reach of leading wildcards, retained config for the sensor).

import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';
import { collect, mqttClient, mqttConnack, rawMqtt, sleep, type RawMqtt, type Will } from './helpers.js';

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

async function raw(d: RunningDevice, who: 'admin' | 'sensor', will?: Will): Promise<RawMqtt> {
  const c = who === 'admin' ? d.credentials.admin : d.credentials.sensor;
  const r = await rawMqtt(d.endpoints.mqtts, { username: c.user, password: c.pass }, will ? { will } : {});
  raws.push(r);
  expect(r.connack).toBe(0);
  return r;
}

/** SUBSCRIBE with one QoS 1 entry per filter; the granted codes. */
async function grants(r: RawMqtt, filters: readonly string[]): Promise<number[]> {
  r.send({ cmd: 'subscribe', messageId: 9, subscriptions: filters.map((topic) => ({ topic, qos: 1 as const })) });
  const ack = await r.next('suback');
  return ack.cmd === 'suback' ? ack.granted.map(Number) : [];
}

/** The topics of every PUBLISH received until none came for `quietMs`. */
async function drain(r: RawMqtt, quietMs = 150): Promise<string[]> {
  const topics: string[] = [];
  for (;;) {
    const p = await r.next('publish', quietMs).catch(() => undefined);
    if (!p) return topics;
    if (p.cmd === 'publish') topics.push(p.topic);
  }
}

async function client(d: RunningDevice, user: string, pass: string): Promise<MqttClient> {
  const c = await mqttClient(d.endpoints.mqtts, user, pass);
  clients.push(c);
  return c;
}

describe('reference device: MQTT authentication', () => {
  it('accepts admin and sensor-1 with their passwords (return code 0)', async () => {
    const d = await provisioned();
    expect(await mqttConnack(d.endpoints.mqtts, { username: 'admin', password: d.credentials.admin.pass })).toBe(0);
    expect(await mqttConnack(d.endpoints.mqtts, { username: 'sensor-1', password: d.credentials.sensor.pass })).toBe(0);
  });

  it('refuses a wrong password, an unknown user and a missing password with 4', async () => {
    const d = await provisioned();
    expect(await mqttConnack(d.endpoints.mqtts, { username: 'admin', password: 'wrong-password' })).toBe(4);
    expect(await mqttConnack(d.endpoints.mqtts, { username: 'nobody', password: d.credentials.admin.pass })).toBe(4);
    expect(await mqttConnack(d.endpoints.mqtts, { username: 'admin' })).toBe(4);
    // The sensor's password is not the admin's.
    expect(await mqttConnack(d.endpoints.mqtts, { username: 'admin', password: d.credentials.sensor.pass })).toBe(4);
  });

  it('refuses an anonymous CONNECT with 5, also with an empty user name', async () => {
    const d = await provisioned();
    expect(await mqttConnack(d.endpoints.mqtts)).toBe(5);
    expect(await mqttConnack(d.endpoints.mqtts, { username: '' })).toBe(5);
  });

  it('refuses every CONNECT with 5 while factory-fresh, the shipped admin password included', async () => {
    dev = await startReferenceDevice();
    const ep = dev.endpoints.mqtts;
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
    const raw = await rawMqtt(d.endpoints.mqtts, { username: 'sensor-1', password: d.credentials.sensor.pass });
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

  it('grants a filter only when an allowed filter covers every topic it can match', async () => {
    const d = await provisioned();
    const sensor = await raw(d, 'sensor');
    const cases: [string, number][] = [
      ['devices/sensor-1/#', 1],
      ['devices/sensor-1/+/x', 1],
      ['devices/sensor-1/+', 1],
      ['devices/sensor-1', 1],
      ['config/sensor-1', 1],
      ['devices/+/temp', 128],
      ['devices/#', 128],
      ['#', 128],
      ['+', 128],
      ['+/#', 128],
      ['+/+/#', 128],
      ['devices/sensor-10/x', 128],
      ['devices/sensor-1x', 128],
      ['config/+', 128],
      ['config/sensor-1/x', 128],
      ['$SYS/#', 128],
    ];
    expect(await grants(sensor, cases.map(([f]) => f))).toEqual(cases.map(([, g]) => g));
  });

  it('lets admin subscribe to every non-$ filter and to $SYS/#, but not to other $ topics', async () => {
    const d = await provisioned();
    const admin = await client(d, 'admin', d.credentials.admin.pass);
    const granted = await admin.subscribeAsync(['#', 'config/+', '$SYS/#', '+/#']);
    expect(granted.map((g) => g.qos)).toEqual([0, 0, 0, 0]);
    expect(await grants(await raw(d, 'admin'), ['$SYS/+/heartbeat', '$gauntlet/#', '$internal'])).toEqual([1, 128, 128]);
  });

  it('never matches $ topics with a leading wildcard [MQTT-4.7.2-1]; $SYS/# reaches them', async () => {
    const d = await provisioned();
    const sys = await raw(d, 'admin');
    expect(await grants(sys, ['$SYS/#'])).toEqual([1]);
    const wild = await raw(d, 'admin');
    // This SUBSCRIBE makes the broker publish $SYS/<id>/new/subscribes.
    expect(await grants(wild, ['#', '+/#', '+/+/+/+'])).toEqual([1, 1, 1]);
    const seen = await sys.next('publish');
    expect(seen.cmd === 'publish' && seen.topic).toMatch(/^\$SYS\/.+\/new\/subscribes$/);
    // The wildcards get the retained config, never a $ topic.
    expect(await drain(wild)).toEqual(['config/sensor-1', 'config/sensor-1']);
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

  it('discards a will whose topic the principal may not publish to, retained or not', async () => {
    const d = await provisioned();
    const admin = await raw(d, 'admin');
    expect(await grants(admin, ['devices/#', 'elsewhere/#'])).toEqual([1, 1]);
    (await raw(d, 'sensor', { topic: 'devices/sensor-2/status', payload: 'forged-will', qos: 1 })).close();
    (await raw(d, 'sensor', { topic: 'elsewhere/status', payload: 'forged-retained-will', retain: true })).close();
    // The allowed will is delivered (and comes after the refused ones).
    (await raw(d, 'sensor', { topic: 'devices/sensor-1/status', payload: 'offline' })).close();
    const got = await admin.next('publish');
    expect(got.cmd === 'publish' && [got.topic, got.payload.toString()]).toEqual(['devices/sensor-1/status', 'offline']);
    await expect(admin.next('publish', 150)).rejects.toThrow(/no publish/);
    // Nothing was retained from the refused will.
    const later = await raw(d, 'admin');
    expect(await grants(later, ['elsewhere/#'])).toEqual([1]);
    await expect(later.next('publish', 100)).rejects.toThrow(/no publish/);
  });

  it('neither delivers nor retains an unauthorised retained publish, at QoS 0 and 1', async () => {
    const d = await provisioned();
    const admin = await raw(d, 'admin');
    expect(await grants(admin, ['devices/#'])).toEqual([1]);
    const sensor = await raw(d, 'sensor');
    sensor.send({ cmd: 'publish', topic: 'devices/sensor-2/state', payload: Buffer.from('q0'), qos: 0, retain: true, dup: false });
    sensor.send({ cmd: 'publish', topic: 'devices/sensor-3/state', payload: Buffer.from('q1'), qos: 1, messageId: 3, retain: true, dup: false });
    await sensor.next('puback');
    await expect(admin.next('publish', 100)).rejects.toThrow(/no publish/);
    const later = await raw(d, 'admin');
    expect(await grants(later, ['devices/+/state'])).toEqual([1]);
    await expect(later.next('publish', 100)).rejects.toThrow(/no publish/);
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
