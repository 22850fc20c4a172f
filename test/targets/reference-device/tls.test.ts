// The reference device over TLS: its device CA (device-ca.pem, its own key,
// no key on disk) and the server certificate it issues for the unit's host;
// mqtts served by the same broker as mqtt (accounts, ACL, retained messages;
// the plain port logs in only with the plaintext-credentials flaw)
// and https by the same handler as http (sessions); hardened TLS versions
// (1.2 minimum) and the tls-legacy-version flaw accepting TLS 1.0 and 1.1; the
// listeners in the start log, DEVICE_START on a taken port, and close().

import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { connect as tcpConnect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { connectAsync, type MqttClient } from 'mqtt';
import forge from 'node-forge';
import { afterEach, describe, expect, it } from 'vitest';
import { startReferenceDevice, type DeviceOptions, type RunningDevice } from '../../../targets/reference-device/index.js';
import { DEVICE_CA_FILE, LEGACY_CIPHERS, writeDeviceTls } from '../../../targets/reference-device/tls.js';
import { collect, connackOn, freeTcpPort, http, mqttClient, until, type Endpoint } from './helpers.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const TLS1_ONLY: ConnectionOptions = { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: LEGACY_CIPHERS };
const TLS11_ONLY: ConnectionOptions = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: LEGACY_CIPHERS };

const units: RunningDevice[] = [];
const closers: (() => void)[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await Promise.all(units.splice(0).map((d) => d.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function unit(opts: DeviceOptions = {}): Promise<RunningDevice> {
  const d = await startReferenceDevice({ factoryFresh: false, ...opts });
  units.push(d);
  return d;
}

let clients = 0;
const nextClientId = (): string => `tls-${process.pid}-${++clients}`;

const caOf = (d: RunningDevice): string => readFileSync(d.deviceCa.cert, 'utf8');

/** A verified TLS connection to an endpoint: the unit's device CA, hostname checked against ep.host. */
function tlsOpen(d: RunningDevice, ep: Endpoint, extra: ConnectionOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: ep.host, port: ep.port, ca: caOf(d), ...extra });
    closers.push(() => socket.destroy());
    const timer = setTimeout(() => (socket.destroy(), reject(new Error('no TLS handshake within 3 s'))), 3000);
    socket.once('secureConnect', () => (clearTimeout(timer), resolve(socket)));
    socket.once('error', (e) => (clearTimeout(timer), reject(e)));
  });
}

async function mqttsConnack(d: RunningDevice, auth: { username?: string; password?: string }, extra: ConnectionOptions = {}): Promise<number> {
  return connackOn(await tlsOpen(d, d.endpoints.mqtts, extra), auth);
}

/** An mqtt.js client over mqtts, trusting the unit's device CA only. */
async function mqttsClient(d: RunningDevice, username: string, password: string): Promise<MqttClient> {
  const c = await connectAsync({
    protocol: 'mqtts',
    host: d.endpoints.mqtts.host,
    port: d.endpoints.mqtts.port,
    ca: caOf(d),
    protocolVersion: 4,
    username,
    password,
    clientId: nextClientId(),
    reconnectPeriod: 0,
    connectTimeout: 3000,
  });
  closers.push(() => c.end(true));
  return c;
}

interface HttpsReply {
  readonly status: number;
  readonly json: unknown;
  readonly protocol: string | null;
}

/** One HTTPS request (a fresh connection), verified against the unit's device CA. */
function https(d: RunningDevice, method: string, path: string, opts: { json?: unknown; token?: string; tls?: ConnectionOptions } = {}): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const body = opts.json === undefined ? undefined : JSON.stringify(opts.json);
    const req = request({
      host: d.endpoints.https.host,
      port: d.endpoints.https.port,
      method,
      path,
      ca: caOf(d),
      agent: false,
      timeout: 3000,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}),
        ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}),
      },
      ...opts.tls,
    });
    req.on('timeout', () => req.destroy(new Error('no HTTPS answer within 3 s')));
    req.on('error', reject);
    req.on('response', (res) => {
      const protocol = (res.socket as TLSSocket).getProtocol();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : undefined, protocol });
      });
    });
    req.end(body);
  });
}

async function httpsToken(d: RunningDevice, tls: ConnectionOptions = {}): Promise<string> {
  const r = await https(d, 'POST', '/api/login', { json: { username: 'admin', password: d.credentials.admin.pass }, tls });
  expect(r.status).toBe(200);
  return (r.json as { token: string }).token;
}

/** The signature algorithm OID of a certificate (node:crypto does not expose it; forge parses only RSA certificates). */
function signatureOid(cert: X509Certificate): string {
  const outer = forge.asn1.fromDer(forge.util.createBuffer(cert.raw.toString('binary')));
  const algorithm = (outer.value as forge.asn1.Asn1[])[1]!.value as forge.asn1.Asn1[];
  return forge.asn1.derToOid(algorithm[0]!.value as string);
}

function tcpRefused(ep: Endpoint): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(ep.port, ep.host);
    s.on('connect', () => (s.destroy(), resolve(false)));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('reference device: device CA and server certificate', () => {
  it('writes device-ca.pem (a CA certificate, no key) into the unit temp dir, with a key pair of its own', async () => {
    const d = await unit();
    expect(isAbsolute(d.deviceCa.cert)).toBe(true);
    expect(basename(d.deviceCa.cert)).toBe(DEVICE_CA_FILE);
    expect(dirname(d.deviceCa.cert)).toBe(d.images.dir);
    const pem = caOf(d);
    expect(pem).not.toContain('PRIVATE KEY');
    // Nothing else was added next to it (no device CA key, no server key).
    expect(readdirSync(d.images.dir).sort()).toEqual(
      [basename(d.images.newer), basename(d.images.older), basename(d.updateCa.cert), basename(d.updateCa.key), DEVICE_CA_FILE].sort(),
    );
    const ca = new X509Certificate(pem);
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    expect(ca.subject).toContain(d.identity.serial);
    const updateCa = new X509Certificate(readFileSync(d.updateCa.cert));
    expect(ca.publicKey.equals(updateCa.publicKey)).toBe(false);
    // Per unit: another unit has another CA.
    const other = await unit();
    expect(new X509Certificate(caOf(other)).publicKey.equals(ca.publicKey)).toBe(false);
  });

  it('presents one server certificate on mqtts and https: issued by the device CA for 127.0.0.1, EC P-256, ECDSA-SHA256, from yesterday for a year', async () => {
    const before = Date.now();
    const d = await unit();
    const ca = new X509Certificate(caOf(d));
    const certs = [];
    for (const ep of [d.endpoints.mqtts, d.endpoints.https]) {
      const socket = await tlsOpen(d, ep);
      expect(socket.authorized).toBe(true);
      certs.push(socket.getPeerX509Certificate()!);
      socket.destroy();
    }
    const [leaf, other] = certs as [X509Certificate, X509Certificate];
    expect(other.fingerprint256).toBe(leaf.fingerprint256);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost');
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(leaf.keyUsage).toEqual([SERVER_AUTH]);
    expect(leaf.publicKey.asymmetricKeyType).toBe('ec');
    expect(leaf.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(signatureOid(leaf)).toBe(ECDSA_WITH_SHA256);
    expect(signatureOid(ca)).toBe(ECDSA_WITH_SHA256);
    for (const cert of [leaf, ca]) {
      const from = Date.parse(cert.validFrom);
      const to = Date.parse(cert.validTo);
      // X.509 times have whole seconds.
      expect(from).toBeGreaterThanOrEqual(before - DAY_MS - 1000);
      expect(from).toBeLessThanOrEqual(Date.now() - DAY_MS);
      expect(to - from).toBe(365 * DAY_MS);
    }
  });

  it('names a DNS host by a DNS SAN and an IPv6 loopback by its address and localhost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rd-tls-'));
    dirs.push(dir);
    const subject = { vendor: 'Gauntlet', model: 'RD-1', serial: 'RD1-000001' };
    const named = await writeDeviceTls(dir, { ...subject, host: 'rd1.example' });
    expect(new X509Certificate(named.certPem).subjectAltName).toBe('DNS:rd1.example');
    expect(new X509Certificate(named.certPem).checkIssued(new X509Certificate(named.caPem))).toBe(true);
    const v6 = await writeDeviceTls(dir, { ...subject, host: '::1' });
    expect(new X509Certificate(v6.certPem).checkIP('::1')).toBe('::1');
    expect(new X509Certificate(v6.certPem).checkHost('localhost')).toBe('localhost');
  });
});

describe('reference device: mqtts', () => {
  it('accepts admin and sensor-1 over TLS verified against the device CA and the host 127.0.0.1', async () => {
    const d = await unit();
    expect(await mqttsConnack(d, { username: 'admin', password: d.credentials.admin.pass })).toBe(0);
    expect(await mqttsConnack(d, { username: 'sensor-1', password: d.credentials.sensor.pass })).toBe(0);
  });

  it('refuses a bad password (4) and an anonymous CONNECT (5), and the shipped password while factory-fresh (5)', async () => {
    const d = await unit();
    expect(await mqttsConnack(d, { username: 'admin', password: 'wrong-password' })).toBe(4);
    expect(await mqttsConnack(d, {})).toBe(5);
    const fresh = await unit({ factoryFresh: true });
    expect(await mqttsConnack(fresh, { username: 'admin', password: fresh.credentials.shipped.pass })).toBe(5);
  });

  it('fails the handshake for a client that does not trust the device CA or expects another name', async () => {
    const d = await unit();
    await expect(tlsOpen(d, d.endpoints.mqtts, { ca: undefined })).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    await expect(tlsOpen(d, d.endpoints.mqtts, { servername: 'rd1.example' })).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('is the same broker (plaintext-credentials flaw: the plain port logs in too): mqtts publishes reach plain subscribers, retained messages and the ACL are shared', async () => {
    const d = await unit({ flaws: ['plaintext-credentials'] });
    const plain = await mqttClient(d.endpoints.mqtt, 'admin', d.credentials.admin.pass);
    closers.push(() => plain.end(true));
    const got = collect(plain);
    await plain.subscribeAsync('devices/sensor-1/#', { qos: 1 });
    const sensor = await mqttsClient(d, 'sensor-1', d.credentials.sensor.pass);
    await sensor.publishAsync('devices/sensor-1/temp', '21.5', { qos: 1 });
    await until(() => got.some((m) => m.topic === 'devices/sensor-1/temp'), 'the plain subscriber gets the mqtts publish', 3000);
    expect(got).toContainEqual({ topic: 'devices/sensor-1/temp', payload: '21.5' });
    // The retained config the broker keeps for the sensor, delivered over mqtts.
    const seen = collect(sensor);
    await sensor.subscribeAsync('config/sensor-1');
    await until(() => seen.some((m) => m.topic === 'config/sensor-1'), 'the retained config over mqtts', 3000);
    // The sensor's ACL holds over mqtts too.
    await expect(sensor.subscribeAsync('#')).rejects.toMatchObject({ packet: { cmd: 'suback', granted: [128] } });
  });
});

describe('reference device: https', () => {
  it('logs in over https and serves /api/status with the token; the plain port only redirects', async () => {
    const d = await unit();
    const t = await httpsToken(d);
    expect(t).toMatch(/^[0-9a-f]{64}$/);
    const status = await https(d, 'GET', '/api/status', { token: t });
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({ firmware: '1.0.0', serial: d.identity.serial });
    expect(status.protocol).toBe('TLSv1.3');
    // The plain port serves no session: it redirects to the same path on https.
    const plain = await http(d.endpoints.http, 'GET', '/api/status', { token: t });
    expect(plain.status).toBe(308);
    expect(plain.headers.location).toBe(`https://127.0.0.1:${d.endpoints.https.port}/api/status`);
    expect((await https(d, 'GET', '/api/status')).status).toBe(401);
    expect((await https(d, 'POST', '/api/login', { json: { username: 'admin', password: 'wrong-password' } })).status).toBe(401);
  });
});

describe('reference device: TLS versions', () => {
  it('hardened: refuses TLS 1.1-only and 1.0-only clients on both listeners; accepts 1.2 and negotiates 1.3', async () => {
    const log: string[] = [];
    const d = await unit({ log: (l) => log.push(l) });
    for (const ep of [d.endpoints.mqtts, d.endpoints.https]) {
      await expect(tlsOpen(d, ep, TLS11_ONLY)).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
      await expect(tlsOpen(d, ep, TLS1_ONLY)).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
      expect((await tlsOpen(d, ep, { maxVersion: 'TLSv1.2' })).getProtocol()).toBe('TLSv1.2');
      expect((await tlsOpen(d, ep)).getProtocol()).toBe('TLSv1.3');
    }
    expect(await mqttsConnack(d, { username: 'admin', password: d.credentials.admin.pass }, { maxVersion: 'TLSv1.2' })).toBe(0);
    await until(() => log.some((l) => l.startsWith('mqtts: TLS handshake failed')) && log.some((l) => l.startsWith('https: TLS handshake failed')), 'the refusals logged');
  });

  it('tls-legacy-version: a TLS 1.0-only client (ciphers DEFAULT:@SECLEVEL=0) completes the handshake, MQTT CONNECT and HTTPS login', async () => {
    const d = await unit({ flaws: ['tls-legacy-version'] });
    for (const ep of [d.endpoints.mqtts, d.endpoints.https]) {
      const s = await tlsOpen(d, ep, TLS1_ONLY);
      expect(s.authorized).toBe(true);
      expect(s.getProtocol()).toBe('TLSv1');
      s.destroy();
      expect((await tlsOpen(d, ep, TLS11_ONLY)).getProtocol()).toBe('TLSv1.1');
      expect((await tlsOpen(d, ep)).getProtocol()).toBe('TLSv1.3');
    }
    expect(await mqttsConnack(d, { username: 'admin', password: d.credentials.admin.pass }, TLS1_ONLY)).toBe(0);
    const t = await httpsToken(d, TLS1_ONLY);
    const status = await https(d, 'GET', '/api/status', { token: t, tls: TLS1_ONLY });
    expect(status.status).toBe(200);
    expect(status.protocol).toBe('TLSv1');
  });
});

describe('reference device: TLS listeners lifecycle', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  });

  async function occupied(): Promise<number> {
    const s = createServer();
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    return (s.address() as { port: number }).port;
  }

  it('names mqtts and https in the start line and listens on the ports it is given', async () => {
    const log: string[] = [];
    const d = await unit({ log: (l) => log.push(l) });
    expect(log.find((l) => l.startsWith('started '))).toContain(`mqtts ${d.endpoints.mqtts.port}`);
    expect(log.find((l) => l.startsWith('started '))).toContain(`https ${d.endpoints.https.port}`);
    expect(new Set([d.endpoints.mqtt.port, d.endpoints.mqtts.port, d.endpoints.http.port, d.endpoints.https.port]).size).toBe(4);
    const [mqtts, httpsPort] = [await freeTcpPort(), await freeTcpPort()];
    const given = await unit({ ports: { mqtts, https: httpsPort } });
    expect(given.endpoints.mqtts).toEqual({ host: '127.0.0.1', port: mqtts, tls: true });
    expect(given.endpoints.https).toEqual({ host: '127.0.0.1', port: httpsPort, tls: true });
    expect(await mqttsConnack(given, { username: 'admin', password: given.credentials.admin.pass })).toBe(0);
    expect((await https(given, 'GET', '/api/health')).status).toBe(200);
  });

  it('fails with DEVICE_START naming the listener when its port is taken', async () => {
    await expect(startReferenceDevice({ ports: { mqtts: await occupied() } })).rejects.toMatchObject({
      code: 'DEVICE_START',
      message: expect.stringContaining('MQTT over TLS'),
    });
    await expect(startReferenceDevice({ ports: { https: await occupied() } })).rejects.toMatchObject({
      code: 'DEVICE_START',
      message: expect.stringContaining('HTTPS'),
    });
  });

  it('close() closes mqtts and https, with sessions open', async () => {
    const d = await startReferenceDevice({ factoryFresh: false });
    const mqtts = await mqttsClient(d, 'admin', d.credentials.admin.pass);
    mqtts.on('error', () => {});
    const idle = await tlsOpen(d, d.endpoints.https);
    idle.on('error', () => {});
    expect(await https(d, 'GET', '/api/health')).toMatchObject({ status: 200 });
    await d.close();
    expect(await tcpRefused(d.endpoints.mqtts)).toBe(true);
    expect(await tcpRefused(d.endpoints.https)).toBe(true);
    await until(() => idle.destroyed, 'the idle TLS connection closed');
  });
});
