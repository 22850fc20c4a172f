// The named flaws of the reference device: parseFlaws, and a matrix proving
// each flaw switches on exactly its own weakness (every probe finds nothing
// on the hardened unit and only its flaw's weakness on a flawed one), plus the
// details of each weakness (the pull path's flaw in detail: pull.test.ts).

import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GauntletError } from '../../../harness/core/errors.js';
import { buildImage } from '../../../targets/reference-device/firmware-image.js';
import { FLAWS, FLAW_INFO, parseFlaws, startReferenceDevice, type Flaw, type RunningDevice } from '../../../targets/reference-device/index.js';
import {
  coapRequest,
  cutUpload,
  dial,
  freeTcpPort,
  http,
  login,
  mqttConnack,
  provision,
  rawHttp,
  rawMqtt,
  tcpSession,
  token,
  until,
  uploadImage,
  type RawMqtt,
} from './helpers.js';
import { answersReplay, hello, pskHandshake, survivesOverrunFragment } from './dtls-helpers.js';
import { makeLeaf, pullOutcome, triggerPull, updateServer } from './pull-helpers.js';

let dev: RunningDevice | undefined;

afterEach(async () => {
  await dev?.close();
  dev = undefined;
});

const macSuffix = (d: RunningDevice): string => d.identity.mac.replace(/:/g, '').slice(-6);

/** A raw MQTT session of a principal on a provisioned unit (closed by the probe). */
async function mqttAs(d: RunningDevice, who: 'admin' | 'sensor', will?: { topic: string; payload: string }): Promise<RawMqtt> {
  const c = who === 'admin' ? d.credentials.admin : d.credentials.sensor;
  const raw = await rawMqtt(d.endpoints.mqtts, { username: c.user, password: c.pass }, will ? { will } : {});
  if (raw.connack !== 0) throw new Error(`CONNECT ${c.user} -> ${raw.connack}`);
  return raw;
}

/** Whether sensor-1 is granted a SUBSCRIBE to `filter`. */
async function sensorGranted(d: RunningDevice, filter: string): Promise<boolean> {
  const s = await mqttAs(d, 'sensor');
  try {
    s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] });
    const ack = await s.next('suback');
    return ack.cmd === 'suback' && ack.granted[0] !== 128;
  } finally {
    s.close();
  }
}

/** Whether a TLS 1.0-only client completes a handshake (OpenSSL 3 offers TLS 1.0 at security level 0 only). */
function tls10Handshake(ep: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: ep.host, port: ep.port, rejectUnauthorized: false, minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' });
    const done = (ok: boolean) => (clearTimeout(timer), s.destroy(), resolve(ok));
    const timer = setTimeout(() => done(false), 3000);
    s.once('secureConnect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** How long a probe waits for a message that must not come (loopback delivery takes a few ms). */
const QUIET_MS = 100;

/** An image for the unit's product with a valid digest, signed by a key that is not the unit's; `zero` blanks the signature. */
const foreignKey = generateKeyPairSync('ed25519').privateKey;
function foreignImage(d: RunningDevice, version: string, zero = false): Buffer {
  const img = buildImage({ version, payload: Buffer.from(`payload ${version}`), vendor: d.identity.vendor, model: d.identity.model }, foreignKey);
  if (zero) img.fill(0, img.length - 64);
  return img;
}
const adminToken = (d: RunningDevice): Promise<string> => token(d, 'admin', d.credentials.admin.pass);
/** Each unit's log lines (matrix units log here). */
const unitLogs = new WeakMap<RunningDevice, string[]>();

/** The debug-port flaw's shell port in these tests: a free one, so parallel suites do not fight over 2323. */
let debugPort = 0;

/** One probe per flaw: resolves true when the weakness is present. Run on a factory-fresh unit, in order. */
const PROBES: readonly (readonly [Flaw, (d: RunningDevice) => Promise<boolean>])[] = [
  ['no-forced-change', async (d) => (await login(d, 'admin', d.credentials.shipped.pass)).status === 200],
  ['anonymous-mqtt', async (d) => (await mqttConnack(d.endpoints.mqtts)) === 0],
  [
    'plaintext-credentials',
    async (d) =>
      (await mqttConnack(d.endpoints.mqtt, { username: 'admin', password: d.credentials.admin.pass })) === 0 ||
      (await http(d.endpoints.http, 'POST', '/api/login', { json: { username: 'admin', password: d.credentials.admin.pass } })).status === 200,
  ],
  ['tls-legacy-version', async (d) => (await tls10Handshake(d.endpoints.mqtts)) || (await tls10Handshake(d.endpoints.https))],
  ['anonymous-http', async (d) => (await http(d.endpoints.https, 'GET', '/api/config')).status === 200],
  ['anonymous-coap-config', async (d) => (await coapRequest(d.endpoints.coap, 'GET', '/config')).code === '2.05'],
  ['default-credentials', async (d) => (await login(d, 'support', 'support')).status === 200],
  ['derived-credentials', async (d) => (await login(d, 'service', macSuffix(d))).status === 200],
  ['password-prefix-match', async (d) => (await login(d, 'admin', d.credentials.admin.pass.slice(0, 3))).status === 200],
  ['acl-wildcard-leak', (d) => sensorGranted(d, '#')],
  ['acl-prefix-match', (d) => sensorGranted(d, 'devices/sensor-10/x')],
  [
    'will-bypass',
    async (d) => {
      const admin = await mqttAs(d, 'admin');
      try {
        admin.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'devices/sensor-2/will', qos: 0 }] });
        await admin.next('suback');
        (await mqttAs(d, 'sensor', { topic: 'devices/sensor-2/will', payload: 'gone' })).close();
        return await admin.next('publish', QUIET_MS).then(
          () => true,
          () => false,
        );
      } finally {
        admin.close();
      }
    },
  ],
  [
    'retained-bypass',
    async (d) => {
      const sensor = await mqttAs(d, 'sensor');
      sensor.send({ cmd: 'publish', topic: 'devices/sensor-2/state', payload: Buffer.from('forged'), qos: 1, messageId: 1, retain: true, dup: false });
      await sensor.next('puback');
      sensor.close();
      const admin = await mqttAs(d, 'admin');
      try {
        admin.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'devices/sensor-2/state', qos: 0 }] });
        await admin.next('suback');
        return await admin.next('publish', QUIET_MS).then(
          () => true,
          () => false,
        );
      } finally {
        admin.close();
      }
    },
  ],
  ['coap-hidden-resource', async (d) => (await coapRequest(d.endpoints.coap, 'GET', '/debug')).code === '2.05'],
  ['coap-method-confusion', async (d) => (await coapRequest(d.endpoints.coap, 'DELETE', '/sensors/temperature')).code === '2.02'],
  [
    'http-idor',
    async (d) => (await http(d.endpoints.https, 'GET', '/api/users/admin', { token: await token(d, 'sensor-1', d.credentials.sensor.pass) })).status === 200,
  ],
  // PUT: anonymous-http opens GET /api/config (every spelling of it), never PUT.
  ['http-path-normalisation', async (d) => (await rawHttp(d.endpoints.https, 'PUT', '/api/./config', { json: {} })).status === 204],
  [
    'debug-port',
    (d) =>
      // The banner, not an open port: once freed, the port may be any other suite's listener.
      tcpSession({ host: d.endpoints.https.host, port: debugPort }).then(
        (s) => s.waitFor('RD-1 debug shell', 1000).then(() => true, () => false).finally(() => s.close()),
        () => false,
      ),
  ],
  ['verbose-errors', async (d) => (await http(d.endpoints.https, 'GET', '/nope')).headers.server !== undefined],
  [
    'no-lockout',
    async (d) => {
      for (let i = 0; i < d.lockout.attempts + 2; i++) await login(d, 'sensor-1', `wrong-${i}`);
      return (await login(d, 'sensor-1', d.credentials.sensor.pass)).status === 200;
    },
  ],
  // The update probes: versions only go up across them, so an image one flaw installs never makes a later probe's image "not newer".
  ['update-no-auth', async (d) => (await uploadImage(d, Buffer.from('not an image'))).status === 400],
  ['rollback-allowed', async (d) => (await uploadImage(d, readFileSync(d.images.older), await adminToken(d))).status === 200],
  ['digest-only', async (d) => (await uploadImage(d, foreignImage(d, '3.0.0'), await adminToken(d))).status === 200],
  [
    'unsigned-accepted',
    async (d) => {
      const t = await adminToken(d);
      // Exactly this weakness: a zero signature passes while a wrong one is still refused (digest-only passes both).
      if ((await uploadImage(d, foreignImage(d, '5.0.0'), t)).status !== 400) return false;
      return (await uploadImage(d, foreignImage(d, '4.0.0', true), t)).status === 200;
    },
  ],
  [
    'manifest-only-signature',
    async (d) => {
      const img = readFileSync(d.images.newer);
      img[200]! ^= 0xff; // the payload; the manifest and signature are the vendor's
      return (await uploadImage(d, img, await adminToken(d))).status === 200;
    },
  ],
  [
    'brick-on-interrupt',
    async (d) => {
      const t = await adminToken(d);
      const log = unitLogs.get(d)!;
      await cutUpload(d.endpoints.https, readFileSync(d.images.newer), { token: t });
      await until(() => log.some((l) => /firmware: upload .* cut/.test(l)), 'the cut upload');
      return (await http(d.endpoints.https, 'GET', '/api/status', { token: t })).status === 503;
    },
  ],
  [
    // Changes nothing: the body is not an image, so only whether it was fetched at all tells.
    'pull-any-certificate',
    async (d) => {
      const log = unitLogs.get(d)!;
      const server = await updateServer(makeLeaf(), Buffer.from('not an image'));
      try {
        const from = log.length;
        await triggerPull(d, 'admin', server.url);
        await until(() => pullOutcome(log, from) !== undefined, 'the pull outcome', 3000);
        return server.requests() > 0;
      } finally {
        await server.close();
      }
    },
  ],
  // DTLS (coaps). The crash probe stays last: under its flaw coaps is down for a while after it.
  ['dtls-no-cookie', async (d) => (await hello(d, [0xc0a8], 'ignore')).kind === 'server-hello'],
  ['dtls-weak-suite', async (d) => (await hello(d, [0x00b0, 0x008c])).kind === 'server-hello'],
  ['dtls-default-psk', async (d) => pskHandshake(d, 'Client_identity', Buffer.from('secretPSK'))],
  ['dtls-no-replay-window', async (d) => answersReplay(d)],
  ['dtls-crash-fragment', async (d) => !(await survivesOverrunFragment(d))],
  // Robustness (fuzz targets): each probe sends the one input, sees the service die or wedge, and waits for its watchdog.
  ['mqtt-crash-remaining-length', async (d) => knocksOut(d, 'mqtt', () => rawTcp(d.endpoints.mqtt.port, Buffer.from('10b0808080000004', 'hex')))],
  [
    'mqtt-hang-qos2',
    async (d) =>
      knocksOut(d, 'mqtt', async () => {
        const s = await mqttAs(d, 'admin');
        s.send({ cmd: 'pubrel', messageId: 7 });
        await new Promise((r) => setTimeout(r, 50));
        s.close();
      }),
  ],
  // Option 14/ext 0xffff: option number 65804 (past 65535).
  ['coap-crash-option', async (d) => knocksOut(d, 'coap', () => rawUdp(d.endpoints.coap.port, Buffer.from('40011234e0ffff', 'hex')))],
  // PUT /fw, Block1 num 0 M=1 szx 0, Size1 0xffffffff, 16 bytes.
  ['coap-block-leak', async (d) => knocksOut(d, 'coap', () => rawUdp(d.endpoints.coap.port, Buffer.from(`40031235b26677d10308d414ffffffffff${'61'.repeat(16)}`, 'hex')))],
  ['http-crash-header', async (d) => knocksOut(d, 'http', () => rawTcp(d.endpoints.http.port, Buffer.from(`GET /api/health HTTP/1.1\r\nHost: x\r\nX-Long: ${'a'.repeat(2000)}\r\n\r\n`)))],
  // Resilience under load (robustness.flood). The slots are the unit's: 80 idle connections to the
  // plain HTTP port starve HTTPS too, unless each service's unauthenticated connections are capped.
  ['no-connection-limit', async (d) => !(await servedDuring(d, () => holdIdle(d.endpoints.http, 80)))],
  // Ten request heads left unfinished hold every one of the API's eight readers, unless the slowest is evicted.
  ['slow-request-starvation', async (d) => !(await servedDuring(d, () => holdSlowHeads(d.endpoints.https, 10)))],
];

/** Whether GET /api/health on https is answered within 1 s while `flood` holds its sockets; then they are closed and the unit must serve again. */
async function servedDuring(d: RunningDevice, flood: () => Promise<Socket[]>): Promise<boolean> {
  const held = await flood();
  try {
    await new Promise((r) => setTimeout(r, 100));
    return await healthWithin(d.endpoints.https, 1000);
  } finally {
    for (const s of held) s.destroy();
    const until = Date.now() + 5000;
    while (!(await healthWithin(d.endpoints.https, 500)) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  }
}

/** One GET /api/health on a connection of its own: true when a status line comes back within `ms`. */
function healthWithin(ep: { host: string; port: number; tls?: boolean }, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const { socket, ready } = dial(ep);
    const done = (ok: boolean) => (clearTimeout(timer), socket.destroy(), resolve(ok));
    const timer = setTimeout(() => done(false), ms);
    socket.on(ready, () => socket.write('GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    socket.on('data', (b: Buffer) => done(b.toString('latin1').startsWith('HTTP/1.1 ')));
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

/** `n` TCP connections that send nothing, once all are connected. */
function holdIdle(ep: { host: string; port: number }, n: number): Promise<Socket[]> {
  return Promise.all(
    Array.from({ length: n }, () => new Promise<Socket>((resolve) => {
      const s = tcpConnect(ep.port, ep.host);
      s.on('error', () => {});
      s.once('connect', () => resolve(s));
      s.once('close', () => resolve(s));
    })),
  );
}

/** `n` connections (TLS for https) that each sent the start of a request head and nothing more. */
function holdSlowHeads(ep: { host: string; port: number; tls?: boolean }, n: number): Promise<Socket[]> {
  return Promise.all(
    Array.from({ length: n }, () => new Promise<Socket>((resolve) => {
      const { socket, ready } = dial(ep);
      socket.on('error', () => {});
      socket.once(ready, () => socket.write('GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: a', () => resolve(socket)));
      socket.once('close', () => resolve(socket));
    })),
  );
}

/** Whether a service answers a cheap probe now (MQTT: CONNACK on mqtts; CoAP: GET; HTTP: GET /api/health). */
async function serviceUp(d: RunningDevice, svc: 'mqtt' | 'coap' | 'http'): Promise<boolean> {
  try {
    if (svc === 'mqtt') return (await mqttConnack(d.endpoints.mqtts, { username: 'admin', password: d.credentials.admin.pass })) >= 0;
    if (svc === 'coap') return (await coapRequest(d.endpoints.coap, 'GET', '/sensors/temperature')).code === '2.05';
    return (await http(d.endpoints.https, 'GET', '/api/health')).status === 200;
  } catch {
    return false;
  }
}

/** Runs `input`; true when the service then stops answering. Waits (up to 8 s) for the watchdog to bring it back either way. */
async function knocksOut(d: RunningDevice, svc: 'mqtt' | 'coap' | 'http', input: () => Promise<void>): Promise<boolean> {
  await input();
  await new Promise((r) => setTimeout(r, 30));
  const down = !(await serviceUp(d, svc));
  const until = Date.now() + 8000;
  while (!(await serviceUp(d, svc)) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  return down;
}

function rawTcp(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1', () => s.write(bytes));
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    setTimeout(() => (s.destroy(), resolve()), 100);
  });
}

function rawUdp(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.send(bytes, port, '127.0.0.1', () => setTimeout(() => (s.close(), resolve()), 30));
  });
}

/** A window long enough that slow machines still reach the limit inside it. */
const MATRIX_LOCKOUT = { attempts: 5, windowMs: 10_000, durationMs: 10_000 };

beforeAll(async () => {
  debugPort = await freeTcpPort();
});

/** A unit for the matrix, its debug shell (if any) on the suite's port. */
async function matrixUnit(flaws: Flaw[]): Promise<RunningDevice> {
  const log: string[] = [];
  const d = await startReferenceDevice({ flaws, lockout: MATRIX_LOCKOUT, ports: { debug: debugPort }, rebootMs: 100, hangMs: 500, log: (l) => log.push(l) });
  unitLogs.set(d, log);
  return d;
}

async function weaknesses(d: RunningDevice): Promise<Flaw[]> {
  const found: Flaw[] = [];
  for (const [flaw, probe] of PROBES) {
    if (await probe(d)) found.push(flaw);
    if (flaw === 'no-forced-change') await provision(d); // the remaining probes need a provisioned unit
  }
  return found;
}

describe('reference device: flaw list', () => {
  it('describes every flaw in one line, and the matrix probes every flaw', () => {
    expect(Object.keys(FLAW_INFO).sort()).toEqual([...FLAWS].sort());
    expect(PROBES.map(([f]) => f).sort()).toEqual([...FLAWS].sort());
    for (const f of FLAWS) expect(FLAW_INFO[f]).toMatch(/^[^\n]{10,}$/);
  });

  it('parses comma-separated lists and refuses unknown names with USAGE', () => {
    expect(parseFlaws('')).toEqual([]);
    expect(parseFlaws('no-lockout')).toEqual(['no-lockout']);
    expect(parseFlaws(' anonymous-mqtt , no-lockout,anonymous-mqtt,')).toEqual(['anonymous-mqtt', 'no-lockout']);
    expect(() => parseFlaws('no-lockout,telnet')).toThrowError(GauntletError);
    try {
      parseFlaws('telnet');
    } catch (e) {
      expect((e as GauntletError).code).toBe('USAGE');
      expect((e as Error).message).toBe(`unknown flaw "telnet"; known: ${FLAWS.join(', ')}`);
    }
  });

  it('refuses unknown flaws passed to startReferenceDevice', async () => {
    await expect(startReferenceDevice({ flaws: ['telnet' as Flaw] })).rejects.toMatchObject({ code: 'USAGE' });
  });
});

describe('reference device: each flaw switches on exactly its weakness', () => {
  it('the hardened unit shows none of the weaknesses', async () => {
    dev = await matrixUnit([]);
    expect(await weaknesses(dev)).toEqual([]);
  });

  it.each(FLAWS.map((f) => [f]))('%s shows only its own weakness', async (flaw) => {
    dev = await matrixUnit([flaw]);
    expect(dev.flaws).toEqual([flaw]);
    expect(await weaknesses(dev)).toEqual([flaw]);
  });

  it('flaws combine', async () => {
    dev = await matrixUnit(['anonymous-mqtt', 'default-credentials', 'no-lockout', 'acl-prefix-match', 'http-idor', 'debug-port']);
    expect((await weaknesses(dev)).sort()).toEqual(['acl-prefix-match', 'anonymous-mqtt', 'debug-port', 'default-credentials', 'http-idor', 'no-lockout']);
  });
});

describe('reference device: flaw details', () => {
  it('default-credentials: support/support is an admin on HTTP and MQTT, even factory-fresh, and is not listed', async () => {
    dev = await startReferenceDevice({ flaws: ['default-credentials'] });
    expect(await mqttConnack(dev.endpoints.mqtts, { username: 'support', password: 'support' })).toBe(0);
    const t = await token(dev, 'support', 'support');
    const users = await http(dev.endpoints.https, 'GET', '/api/users', { token: t });
    expect(users.status).toBe(200);
    expect(JSON.stringify(users.json)).not.toContain('support');
    expect((await login(dev, 'support', 'supporT')).status).toBe(401);
  });

  it('derived-credentials: service / last 6 hex digits of the MAC, whatever MAC the unit has', async () => {
    dev = await startReferenceDevice({ flaws: ['derived-credentials'], factoryFresh: false, identity: { mac: '02-AB-CD-EF-12-3A' } });
    expect(dev.identity.mac).toBe('02:ab:cd:ef:12:3a');
    expect((await login(dev, 'service', 'ef123a')).status).toBe(200);
    expect((await login(dev, 'service', 'EF123A')).status).toBe(401);
    expect(await mqttConnack(dev.endpoints.mqtts, { username: 'service', password: 'ef123a' })).toBe(0);
  });

  it('anonymous-mqtt: an anonymous client gets full rights', async () => {
    dev = await startReferenceDevice({ flaws: ['anonymous-mqtt'], factoryFresh: false });
    expect(await mqttConnack(dev.endpoints.mqtts)).toBe(0);
    // Named users are still checked.
    expect(await mqttConnack(dev.endpoints.mqtts, { username: 'admin', password: 'wrong-password' })).toBe(4);
  });

  it('anonymous-http: status, config and users answer without a session; PUT still needs admin', async () => {
    dev = await startReferenceDevice({ flaws: ['anonymous-http'], factoryFresh: false });
    for (const path of ['/api/status', '/api/config', '/api/users']) {
      expect((await http(dev.endpoints.https, 'GET', path)).status, path).toBe(200);
    }
    expect((await http(dev.endpoints.https, 'PUT', '/api/config', { json: { reportIntervalSeconds: 5 } })).status).toBe(401);
    expect((await http(dev.endpoints.https, 'POST', '/api/logout')).status).toBe(401);
  });

  it('anonymous-coap-config: GET returns the config JSON and PUT really changes it', async () => {
    dev = await startReferenceDevice({ flaws: ['anonymous-coap-config'], factoryFresh: false });
    const get = await coapRequest(dev.endpoints.coap, 'GET', '/config');
    expect(get.code).toBe('2.05');
    expect(get.contentFormat).toBe(50);
    expect(JSON.parse(get.payload)).toMatchObject({ reportIntervalSeconds: 60 });
    expect((await coapRequest(dev.endpoints.coap, 'PUT', '/config', '{"reportIntervalSeconds":7}')).code).toBe('2.04');
    expect((await coapRequest(dev.endpoints.coap, 'PUT', '/config', '{"reportIntervalSeconds":"x"}')).code).toBe('4.00');
    expect((await coapRequest(dev.endpoints.coap, 'PUT', '/config', 'not json')).code).toBe('4.00');
    const t = await token(dev, 'admin', dev.credentials.admin.pass);
    expect((await http(dev.endpoints.https, 'GET', '/api/config', { token: t })).json).toMatchObject({ reportIntervalSeconds: 7 });
  });

  it('no-forced-change: factory-fresh admin gets a token and MQTT access with the shipped password', async () => {
    dev = await startReferenceDevice({ flaws: ['no-forced-change'] });
    expect((await login(dev, 'admin', dev.credentials.shipped.pass)).status).toBe(200);
    expect(await mqttConnack(dev.endpoints.mqtts, { username: 'admin', password: dev.credentials.shipped.pass })).toBe(0);
    expect(dev.isFactoryFresh()).toBe(true);
  });

  it('password-prefix-match: any non-empty prefix works; the empty one and a non-prefix do not; lockout still applies', async () => {
    dev = await startReferenceDevice({ flaws: ['password-prefix-match'], factoryFresh: false, lockout: { attempts: 3, windowMs: 10_000, durationMs: 10_000 } });
    const pass = dev.credentials.admin.pass;
    for (const guess of [pass.slice(0, 1), pass.slice(0, 8), pass]) expect((await login(dev, 'admin', guess)).status).toBe(200);
    expect(await mqttConnack(dev.endpoints.mqtts, { username: 'admin', password: pass.slice(0, 2) })).toBe(0);
    expect((await login(dev, 'admin', '')).status).toBe(401);
    expect(await mqttConnack(dev.endpoints.mqtts, { username: 'admin', password: '' })).toBe(4);
    expect((await login(dev, 'admin', `${pass}x`)).status).toBe(401);
    expect((await login(dev, 'nobody', '')).status).toBe(401);
    await login(dev, 'admin', 'not-a-prefix-1');
    await login(dev, 'admin', 'not-a-prefix-2');
    expect((await login(dev, 'admin', pass)).status).toBe(401);
  });

  it('no-lockout: unlimited guessing on HTTP and MQTT', async () => {
    dev = await startReferenceDevice({ flaws: ['no-lockout'], factoryFresh: false, lockout: { attempts: 2, windowMs: 10_000, durationMs: 10_000 } });
    for (let i = 0; i < 6; i++) {
      await login(dev, 'admin', `wrong-${i}`);
      await mqttConnack(dev.endpoints.mqtts, { username: 'admin', password: `wrong-${i}` });
    }
    expect((await login(dev, 'admin', dev.credentials.admin.pass)).status).toBe(200);
    expect(await mqttConnack(dev.endpoints.mqtts, { username: 'admin', password: dev.credentials.admin.pass })).toBe(0);
  });
});
