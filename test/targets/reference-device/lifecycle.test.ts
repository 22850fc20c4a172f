// Starting and stopping reference-device units: given ports, port conflicts
// (DEVICE_START), bad options (USAGE), and close() releasing every socket so
// the ports refuse connections afterwards and no handle is left open.

import { createSocket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';
import { http, mqttClient, mqttConnack, provision } from './helpers.js';

const opened: RunningDevice[] = [];
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function start(opts: Parameters<typeof startReferenceDevice>[0] = {}): Promise<RunningDevice> {
  const d = await startReferenceDevice(opts);
  opened.push(d);
  return d;
}

function tcpRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => (s.destroy(), resolve(false)));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

/** A UDP port is free when it can be bound again (without SO_REUSEADDR). */
function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket({ type: 'udp4', reuseAddr: false });
    s.on('error', () => (s.close(), resolve(false)));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const NET_HANDLES = ['TCPServerWrap', 'TCPSocketWrap', 'UDPWrap'];
const countNetHandles = (): number => process.getActiveResourcesInfo().filter((r) => NET_HANDLES.includes(r)).length;

/** Open network handles of this process once closing sockets from earlier steps have finished closing. */
async function netHandles(): Promise<number> {
  let last = -1;
  for (let i = 0; i < 50; i++) {
    const n = countNetHandles();
    if (n === last) return n;
    last = n;
    await new Promise((r) => setTimeout(r, 30));
  }
  return last;
}

describe('reference device: lifecycle', () => {
  it('binds to 127.0.0.1 on free ports by default', async () => {
    const d = await start();
    for (const ep of Object.values(d.endpoints)) {
      expect(ep.host).toBe('127.0.0.1');
      expect(ep.port).toBeGreaterThan(0);
    }
    expect(new Set([d.endpoints.mqtt.port, d.endpoints.mqtts.port, d.endpoints.http.port, d.endpoints.https.port]).size).toBe(4);
  });

  it('listens on the ports it is given', async () => {
    const mqtt = await freeTcpPort();
    const httpPort = await freeTcpPort();
    const d = await start({ ports: { mqtt, http: httpPort } });
    expect(d.endpoints.mqtt.port).toBe(mqtt);
    expect(d.endpoints.http.port).toBe(httpPort);
    expect((await http(d.endpoints.http, 'GET', '/api/health')).status).toBe(200);
  });

  it('fails with DEVICE_START when a port is taken, and leaves nothing open', async () => {
    const first = await start();
    const before = await netHandles();
    await expect(start({ ports: { http: first.endpoints.http.port } })).rejects.toMatchObject({ code: 'DEVICE_START' });
    await expect(start({ ports: { coap: first.endpoints.coap.port } })).rejects.toMatchObject({ code: 'DEVICE_START' });
    await expect(start({ ports: { mqtt: first.endpoints.mqtt.port } })).rejects.toMatchObject({ code: 'DEVICE_START' });
    expect(await netHandles()).toBe(before);
  });

  it('refuses bad options with USAGE', async () => {
    await expect(startReferenceDevice({ ports: { mqtt: 70_000 } })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(startReferenceDevice({ lockout: { attempts: 0, windowMs: 1000, durationMs: 1000 } })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(startReferenceDevice({ identity: { mac: 'not-a-mac' } })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(startReferenceDevice({ credentials: { adminPass: '' } })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('close() releases every port, even with clients connected, and is idempotent', async () => {
    const before = await netHandles();
    const d = await startReferenceDevice();
    await provision(d);
    const client = await mqttClient(d.endpoints.mqtts, 'admin', d.credentials.admin.pass);
    client.on('error', () => {});
    // Idle connections that never sent a request / a CONNECT.
    for (const port of [d.endpoints.http.port, d.endpoints.mqtt.port, d.endpoints.https.port, d.endpoints.mqtts.port]) {
      const idle = connect(port, '127.0.0.1');
      idle.on('error', () => {});
      await new Promise((r) => idle.on('connect', r));
    }
    expect(await mqttConnack(d.endpoints.mqtts, { username: 'admin', password: d.credentials.admin.pass })).toBe(0);

    const closing = d.close();
    expect(d.close()).toBe(closing);
    await closing;
    await d.close();

    expect(await tcpRefused(d.endpoints.mqtt.port)).toBe(true);
    expect(await tcpRefused(d.endpoints.http.port)).toBe(true);
    expect(await tcpRefused(d.endpoints.mqtts.port)).toBe(true);
    expect(await tcpRefused(d.endpoints.https.port)).toBe(true);
    expect(await udpFree(d.endpoints.coap.port)).toBe(true);
    await client.endAsync(true);
    expect(await netHandles()).toBe(before);
  });
});
