// The reference device in a child process (process.ts, child.ts): it answers
// MQTT over TLS verified with its own device CA, and a restart keeps ports,
// credentials and key material; a crash flaw really ends the process (exit
// code 70, the ports refuse) where the hardened unit survives the same bytes;
// a hang flaw wedges the service past any watchdog delay until restart();
// close() and a dying parent leave no child behind; a taken port is a
// DEVICE_START naming it, not a hang; a missing build says to run it. Also
// the material dir (options.materialDir) that makes the key material survive
// a restart, against fresh material without it.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import {
  childEntryPath,
  startReferenceDevice,
  startReferenceDeviceProcess,
  type DeviceOptions,
  type DeviceProcess,
} from '../../../targets/reference-device/index.js';
import { connackOn, rawMqtt, sleep } from './helpers.js';
import { alive } from '../../../targets/interop/process.js';

const units: DeviceProcess[] = [];
const servers: Server[] = [];
const dirs: string[] = [];
const spawned: ChildProcess[] = [];

afterEach(async () => {
  for (const p of spawned.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await Promise.all(units.splice(0).map((u) => u.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function unit(opts: DeviceOptions = {}): Promise<DeviceProcess> {
  const u = await startReferenceDeviceProcess({ factoryFresh: false, ...opts });
  units.push(u);
  return u;
}

/** The device CA file the target file names for mqtts. */
function mqttsCa(u: DeviceProcess): string {
  const i = u.targetFile().interfaces.find((x) => x.id === 'mqtts') as { tls?: { ca?: string } } | undefined;
  if (!i?.tls?.ca) throw new Error('the target file names no CA for mqtts');
  return i.tls.ca;
}

/** CONNACK of an admin CONNECT over mqtts, the server certificate verified against `ca` (a PEM file, or the PEM itself). */
function verifiedConnack(u: DeviceProcess, ca: string | Buffer): Promise<number> {
  const pem = typeof ca === 'string' ? readFileSync(ca) : ca;
  const socket = tlsConnect({ host: u.endpoints.mqtts.host, port: u.endpoints.mqtts.port, ca: pem, servername: 'localhost' });
  return connackOn(socket, { username: u.credentials.admin.user, password: u.credentials.admin.pass }, 'secureConnect');
}

function tcpRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.on('connect', () => (s.destroy(), resolve(false)));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

/** Writes `bytes` on a fresh TCP connection and waits (at most 300 ms) for the peer to close it. */
function sendRaw(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1', () => s.write(bytes));
    const done = (): void => (clearTimeout(t), s.destroy(), resolve());
    const t = setTimeout(done, 300);
    s.on('error', done);
    s.on('close', done);
  });
}

/** A child entry that misbehaves: an ES module in a temp dir. */
function fakeChild(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gauntlet-rd1-fake-'));
  dirs.push(dir);
  const file = join(dir, 'child.mjs');
  writeFileSync(file, source);
  return file;
}

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** A fixed header whose remaining length takes a 5th byte (robustness-flaws.ts). */
const REMAINING_LENGTH_CRASH = Buffer.from('10b0808080000004', 'hex');

describe('reference device process', () => {
  it('answers MQTT over TLS verified with its device CA, and after restart() on the same ports, credentials and CA', async () => {
    const u = await unit();
    const ca = mqttsCa(u);
    const caPem = readFileSync(ca);
    const target = JSON.stringify(u.targetFile());
    const pid = u.pid();
    expect(pid).toBeGreaterThan(0);
    expect(u.exited()).toBeUndefined();
    expect(await verifiedConnack(u, ca)).toBe(0);
    // The CA really is checked: the unit's update CA did not issue the server certificate.
    await expect(verifiedConnack(u, u.updateCa.cert)).rejects.toThrow();
    // The hardened unit survives the crash flaw's bytes.
    await sendRaw(u.endpoints.mqtt.port, REMAINING_LENGTH_CRASH);
    await sleep(200);
    expect(u.pid()).toBe(pid);

    const line = await u.restart();
    expect(line).toBe(`restarted the reference device (pid ${pid} was still running: killed it); now pid ${u.pid()}`);
    expect(u.pid()).not.toBe(pid);
    expect(alive(pid!)).toBe(false);
    expect(JSON.stringify(u.targetFile())).toBe(target);
    expect(readFileSync(ca).equals(caPem)).toBe(true);
    // A client that kept the CA from before the restart still verifies the unit.
    expect(await verifiedConnack(u, caPem)).toBe(0);
  });

  it('mqtt-crash-remaining-length: the process really exits with code 70, the ports refuse, and restart() brings it back', async () => {
    const u = await unit({ flaws: ['mqtt-crash-remaining-length'] });
    const pid = u.pid()!;
    await sendRaw(u.endpoints.mqtt.port, REMAINING_LENGTH_CRASH);
    await until(() => u.exited() !== undefined, 'the child to exit');
    expect(u.exited()).toBe('exit code 70');
    expect(u.pid()).toBeUndefined();
    expect(alive(pid)).toBe(false);
    expect(await tcpRefused(u.endpoints.mqtt.port)).toBe(true);
    expect(await tcpRefused(u.endpoints.mqtts.port)).toBe(true);
    expect(await tcpRefused(u.endpoints.https.port)).toBe(true);

    const line = await u.restart();
    expect(line).toMatch(new RegExp(`^restarted the reference device \\(pid ${pid} had exited with code 70: mqtt crashed: remaining length with a 5th byte`));
    expect(line).not.toContain('\n');
    expect(u.exited()).toBeUndefined();
    expect(await verifiedConnack(u, mqttsCa(u))).toBe(0);
  });

  it('mqtt-hang-qos2: the broker stays wedged (no watchdog) until restart()', async () => {
    // hangMs is what an in-process watchdog would wait: long past by the probe below.
    const u = await unit({ flaws: ['mqtt-hang-qos2'], hangMs: 200 });
    const pid = u.pid();
    const s = await rawMqtt(u.endpoints.mqtts, { username: 'admin', password: u.credentials.admin.pass });
    expect(s.connack).toBe(0);
    s.send({ cmd: 'pubrel', messageId: 7 });
    await sleep(1000);
    s.close();
    await expect(verifiedConnack(u, mqttsCa(u))).rejects.toThrow(/no CONNACK/);
    expect(u.pid()).toBe(pid); // wedged, not dead

    expect(await u.restart()).toContain(`pid ${pid} was still running: killed it`);
    expect(await verifiedConnack(u, mqttsCa(u))).toBe(0);
  });

  it('close() kills the child, frees its ports and removes its material; it is idempotent', async () => {
    const u = await unit();
    const pid = u.pid()!;
    expect(alive(pid)).toBe(true);
    // An aborted restart leaves the running unit alone.
    await expect(u.restart(AbortSignal.abort())).rejects.toMatchObject({ code: 'ABORTED' });
    expect(u.pid()).toBe(pid);
    expect(existsSync(u.images.dir)).toBe(true);
    await u.close();
    await u.close();
    expect(alive(pid)).toBe(false);
    expect(u.pid()).toBeUndefined();
    expect(existsSync(u.images.dir)).toBe(false);
    expect(await tcpRefused(u.endpoints.mqtts.port)).toBe(true);
    await expect(u.restart()).rejects.toMatchObject({ code: 'DEVICE_START' });
  });

  it('a taken port is a DEVICE_START error naming the port, within the start bound', async () => {
    const taken = createServer();
    servers.push(taken);
    const port = await new Promise<number>((r) => taken.listen(0, '127.0.0.1', () => r((taken.address() as { port: number }).port)));
    const started = Date.now();
    const err = await startReferenceDeviceProcess({ ports: { mqtt: port } }).then(
      (u) => (units.push(u), undefined),
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'DEVICE_START' });
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
    expect(Date.now() - started).toBeLessThan(10_000);
    // Bad values never reach a child: USAGE from the caller's process.
    await expect(startReferenceDeviceProcess({ ports: { mqtt: 70_000 } })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('a child that never reports ready is killed after the bound and reported with the last 20 lines of its stderr', async () => {
    const entry = fakeChild(`for (let i = 1; i <= 25; i++) process.stderr.write('line ' + i + '\\n');\nsetInterval(() => {}, 1000);`);
    const started = Date.now();
    const err = (await startReferenceDeviceProcess({}, { entry, startTimeoutMs: 1500 }).then((u) => (units.push(u), undefined), (e: unknown) => e)) as Error & { code?: string };
    expect(err).toMatchObject({ code: 'DEVICE_START' });
    expect(err.message).toMatch(/did not report ready within 1500 ms; killed it; its last stderr lines:/);
    expect(err.message).toContain('line 25');
    expect(err.message).toContain('line 6\n');
    expect(err.message).not.toContain('line 5\n');
    expect(Date.now() - started).toBeLessThan(8000);
    const pid = Number(/\(pid (\d+)\)/.exec(err.message)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
  });

  it('a child that ends before it is ready is reported with how it ended and what it said', async () => {
    const entry = fakeChild(`process.stderr.write('boom: the flash is gone\\n');\nprocess.exit(3);`);
    await expect(startReferenceDeviceProcess({}, { entry })).rejects.toMatchObject({
      code: 'DEVICE_START',
      message: expect.stringMatching(/ended with exit code 3 before it was ready; its last stderr lines:\n {2}boom: the flash is gone/),
    });
  });

  it('a start the unit refuses (a material dir that is a file) is its DEVICE_START error, naming the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gauntlet-rd1-file-'));
    dirs.push(dir);
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    await expect(startReferenceDeviceProcess({ materialDir: file })).rejects.toMatchObject({ code: 'DEVICE_START', message: expect.stringContaining(file) });
  });

  it('the child ends when its parent dies', async () => {
    const index = pathToFileURL(join(process.cwd(), 'dist', 'targets', 'reference-device', 'index.js')).href;
    const script = `import { startReferenceDeviceProcess } from ${JSON.stringify(index)};
const u = await startReferenceDeviceProcess();
process.stdout.write(JSON.stringify({ pid: u.pid(), dir: u.images.dir }) + '\\n');
setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    spawned.push(parent);
    let out = '';
    let err = '';
    parent.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    parent.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    await until(() => out.endsWith('\n') || parent.exitCode !== null, `the parent to report its child (stderr: ${err})`, 15_000);
    const { pid: childPid, dir } = JSON.parse(out) as { pid: number; dir: string };
    dirs.push(dir); // a parent killed outright cannot remove its material dir
    expect(childPid, err).toBeGreaterThan(0);
    expect(alive(childPid)).toBe(true);
    parent.kill('SIGKILL');
    try {
      await until(() => !alive(childPid), 'the orphaned child to end');
    } finally {
      if (alive(childPid)) process.kill(childPid, 'SIGKILL');
    }
  });

  it('childEntryPath finds the built child, and says to build when dist/ lacks it', () => {
    expect(childEntryPath()).toBe(join(process.cwd(), 'dist', 'targets', 'reference-device', 'child.js'));
    const root = mkdtempSync(join(tmpdir(), 'gauntlet-rd1-nodist-'));
    dirs.push(root);
    writeFileSync(join(root, 'package.json'), '{}');
    mkdirSync(join(root, 'targets', 'reference-device'), { recursive: true });
    const from = pathToFileURL(join(root, 'targets', 'reference-device', 'process.ts')).href;
    expect(() => childEntryPath(from)).toThrow(expect.objectContaining({ code: 'DEVICE_START', message: expect.stringContaining('npm run build') }));
  });
});

describe('reference device material dir', () => {
  const material = (dir: string) =>
    ['device-ca.pem', 'ca.pem', 'ca-key.pem', 'rd1-2.0.0.bin', 'rd1-0.9.0.bin'].map((f) => readFileSync(join(dir, f)).toString('base64'));

  it('a second start with the same dir loads the first one’s key material, and close() keeps the dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gauntlet-rd1-material-'));
    dirs.push(dir);
    const first = await startReferenceDevice({ materialDir: dir, identity: { serial: 'RD1-000001' } });
    const files = material(dir);
    expect(first.deviceCa.cert).toBe(join(dir, 'device-ca.pem'));
    await first.close();
    expect(existsSync(join(dir, 'device-ca.pem'))).toBe(true);
    const second = await startReferenceDevice({ materialDir: dir, identity: { serial: 'RD1-000001' } });
    try {
      expect(material(dir)).toEqual(files);
      expect(second.images.newer).toBe(first.images.newer);
    } finally {
      await second.close();
    }
  });

  it('without a material dir every start makes new material and close() removes it', async () => {
    const a = await startReferenceDevice({ identity: { serial: 'RD1-000001' } });
    const b = await startReferenceDevice({ identity: { serial: 'RD1-000001' } });
    try {
      expect(material(a.images.dir)).not.toEqual(material(b.images.dir));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    expect(existsSync(a.images.dir)).toBe(false);
  });
});
