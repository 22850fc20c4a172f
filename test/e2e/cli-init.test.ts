// `gauntlet init` as a lab meets it: the real bin, spawned, against the
// reference device on 127.0.0.1 (with its forgotten debug shell on), plus a
// closed TCP and a closed UDP port. The skeleton names the protocols found,
// its comments name IXIT tables, and it loads once its variables are set.

import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_INIT_PORTS, envPrefixOf, parsePortList } from '../../harness/core/init-skeleton.js';
import { loadTargetFile } from '../../harness/core/target-file.js';
import { startReferenceDevice, type RunningDevice } from '../../targets/reference-device/index.js';

const BIN = resolve('bin/gauntlet.js');

/** Spawned, not spawnSync: the device runs in this process and must keep answering. */
function gauntlet(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: 'true', NO_COLOR: '1', ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(kill);
      done({ code, out, err, ms: Date.now() - t0 });
    });
  });
}

/** A port nothing listens on (bound, then released). */
async function closedTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function closedUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gauntlet-init-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('gauntlet init against the reference device', () => {
  let device: RunningDevice;
  let debugPort: number;
  let ports: string;
  let closedTcp: number;
  let closedUdp: number;

  beforeAll(async () => {
    device = await startReferenceDevice({ flaws: ['debug-port'] });
    debugPort = device.targetFile().scope.probe!.tcp![0]!;
    closedTcp = await closedTcpPort();
    closedUdp = await closedUdpPort();
    const e = device.endpoints;
    ports = [e.mqtt.port, e.mqtts.port, `${e.coap.port}/udp`, `${e.coaps.port}/udp`, e.http.port, e.https.port, debugPort, closedTcp, `${closedUdp}/udp`].join(',');
  });
  afterAll(async () => {
    await device?.close();
  });

  it('finds each protocol, writes a skeleton whose comments name the IXIT tables, and it loads once its variables are set', async () => {
    const e = device.endpoints;
    const r = await gauntlet(['init', '--host', '127.0.0.1', '--ports', ports, '--out', 'dut.yaml'], dir);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`tcp ${e.mqtt.port} +mqtt: CONNACK 5 \\(not authorized\\)`));
    expect(r.out).toMatch(new RegExp(`tcp ${e.mqtts.port} +mqtts: TLS 1\\.[23] .*CONNACK 5`));
    expect(r.out).toMatch(new RegExp(`udp ${e.coap.port} +coap: CoAP .*/\\.well-known/core lists \\d+ resource`));
    expect(r.out).toMatch(new RegExp(`udp ${e.coaps.port} +coaps: DTLS HelloVerifyRequest .*ServerHello TLS_PSK_`));
    expect(r.out).toMatch(new RegExp(`tcp ${e.http.port} +http: GET / -> 308`));
    expect(r.out).toMatch(new RegExp(`tcp ${e.https.port} +https: TLS 1\\.[23] .*GET / -> \\d{3}`));
    expect(r.out).toMatch(new RegExp(`tcp ${debugPort} +unknown tcp service, banner "RD-1 debug shell"`));
    expect(r.out).toMatch(new RegExp(`tcp ${closedTcp} +closed`));
    expect(r.out).toMatch(new RegExp(`udp ${closedUdp} +closed`));
    expect(r.out).toMatch(/wrote dut\.yaml: 6 interface\(s\), 1 unknown service/);
    expect(r.out).toContain('next: set DUT_ADMIN_PASS, DUT_ADMIN_PSK_IDENTITY, DUT_ADMIN_PSK_KEY_HEX');

    const path = join(dir, 'dut.yaml');
    const text = readFileSync(path, 'utf8');
    for (const ixit of [
      'IXIT 15-Intf "Status"',
      'IXIT 15-Intf "Disclosed Information"',
      'IXIT 1-AuthMech "Brute Force Prevention"',
      'IXIT 1-AuthMech "Password Generation Mechanism"',
      'IXIT 1-AuthMech "Authentication Factor"',
      'IXIT 13-SoftServ',
      'IXIT 28-ExtAPI',
      'IXIT 7-UpdMech "Security Guarantees"',
      'IXIT 11-ComMech "Cryptographic Details"',
      'IXIT 11-ComMech "Security Guarantees"',
      'ICS (EN 303 645 Annex B)',
    ]) {
      expect(text, ixit).toContain(ixit);
    }
    expect(text).toMatch(/# TODO/);
    expect(text).toContain(`# - { port: ${debugPort}, transport: tcp, service: TODO }`);

    // Secrets are variables: without them the file says which one is missing.
    expect(() => loadTargetFile(path, {})).toThrow(/dut\.yaml:\d+: principals\.admin\.\S+: environment variable DUT_ADMIN_\w+ is not set/);
    const t = loadTargetFile(path, { DUT_ADMIN_PASS: 'pw', DUT_ADMIN_PSK_IDENTITY: device.credentials.psk.admin.identity, DUT_ADMIN_PSK_KEY_HEX: device.credentials.psk.admin.keyHex });
    expect(t.name).toBe('dut');
    expect(t.scope).toMatchObject({ hosts: ['127.0.0.1'], allowNonLoopback: false, probe: { tcp: [debugPort], udp: [] } });
    expect(t.interfaces.map((i) => [i.protocol, i.port])).toEqual([
      ['mqtt', e.mqtt.port],
      ['mqtts', e.mqtts.port],
      ['coap', e.coap.port],
      ['coaps', e.coaps.port],
      ['http', e.http.port],
      ['https', e.https.port],
    ]);
    expect(t.principals).toEqual([{ name: 'admin', user: 'admin', pass: 'pw', role: 'admin', psk: { identity: device.credentials.psk.admin.identity, keyHex: device.credentials.psk.admin.keyHex } }]);
    const d = t.declaration;
    expect(d.interfaces?.map((p) => `${p.transport}/${p.port} ${p.service}`)).toEqual([
      `tcp/${e.mqtt.port} mqtt`,
      `tcp/${e.mqtts.port} mqtts`,
      `udp/${e.coap.port} coap`,
      `udp/${e.coaps.port} coaps`,
      `tcp/${e.http.port} http`,
      `tcp/${e.https.port} https`,
    ]);
    expect(d.interfaces?.some((p) => p.port === debugPort)).toBe(false);
    expect(d.access.coap.resources).toContain('/sensors/temperature');
    expect(d.access.mqtt).toEqual({ anonymous: false, rules: {} });
    expect(d.dtls['coaps']).toEqual({ versions: ['1.2'], suites: [expect.stringMatching(/^TLS_PSK_WITH_/)], cookie: true });
    expect(d.secureOnly).toBe(false);
    expect(d.lockout).toBeUndefined();
    expect(d.update).toBeUndefined();
    expect(d.ics).toEqual({});
  });

  it('refuses to overwrite an existing file without --force, and overwrites with it', async () => {
    writeFileSync(join(dir, 'dut.yaml'), 'mine\n');
    const r = await gauntlet(['init', '--host', '127.0.0.1', '--ports', String(device.endpoints.mqtt.port), '--out', 'dut.yaml'], dir);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe('gauntlet: dut.yaml exists; pass --force to overwrite it');
    expect(r.out).toBe(''); // refused before any probe
    expect(readFileSync(join(dir, 'dut.yaml'), 'utf8')).toBe('mine\n');
    const f = await gauntlet(['init', '--host', '127.0.0.1', '--ports', String(device.endpoints.mqtt.port), '--out', 'dut.yaml', '--force', '--name', 'thermo-x200'], dir);
    expect(f.code, f.out + f.err).toBe(0);
    expect(readFileSync(join(dir, 'dut.yaml'), 'utf8')).toMatch(/^name: thermo-x200$/m);
    expect(f.out).toContain('next: set THERMO_X200_ADMIN_PASS;');
  });

  it('writes the declared-only requirements of a profile as ICS entries to answer', async () => {
    const profile = join(dir, 'p.yaml');
    writeFileSync(
      profile,
      [
        'format: gauntlet-profile/1',
        'name: p',
        'checks: [access.exposed-surface]',
        'requirements:',
        '  - { id: "ETSI-EN-303-645:5.2-1", title: "A vulnerability disclosure policy is published", status: declared }',
        '  - { id: "ETSI-EN-303-645:5.3-13", title: "The support period is published", status: declared }',
        '  - { id: "ETSI-EN-303-645:5.6-1", title: "Unused interfaces disabled", checks: [access.exposed-surface] }',
      ].join('\n'),
    );
    const r = await gauntlet(['init', '--host', '127.0.0.1', '--ports', String(device.endpoints.mqtt.port), '--out', 'dut.yaml', '--profile', profile], dir);
    expect(r.code, r.out + r.err).toBe(0);
    const text = readFileSync(join(dir, 'dut.yaml'), 'utf8');
    expect(text).toContain('#   "ETSI-EN-303-645:5.2-1": { support: TODO, detail: "", evidence: "" }   # A vulnerability disclosure policy is published');
    expect(text).toContain('"ETSI-EN-303-645:5.3-13"');
    expect(text).not.toContain('"ETSI-EN-303-645:5.6-1"');
  });
});

describe('gauntlet init: usage errors and nothing to find', () => {
  it('a bad --ports value is a usage error showing the expected form', async () => {
    // Spawned for three forms; the parser's other refusals are in the parsePortList test below.
    for (const bad of ['1883,abc', '70000', '9000-8000']) {
      const r = await gauntlet(['init', '--host', '127.0.0.1', '--ports', bad, '--out', 'x.yaml'], dir);
      expect(r.code, bad).toBe(2);
      expect(r.err, bad).toMatch(/--ports takes ports like 1883,8883,5683\/udp,8000-8010/);
      expect(r.err, bad).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(join(dir, 'x.yaml'))).toBe(false);
    const host = await gauntlet(['init', '--host', 'not a host', '--out', 'x.yaml'], dir);
    expect(host.code).toBe(2);
    expect(host.err).toMatch(/--host takes one IP address or host name/);
    const missing = await gauntlet(['init'], dir);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/required option '--host <host>'/);
  });

  it('a host off loopback needs --allow-non-loopback: refused before any packet', async () => {
    const r = await gauntlet(['init', '--host', '192.0.2.10', '--out', 'x.yaml'], dir);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe('gauntlet: --host 192.0.2.10 is not a loopback address; pass --allow-non-loopback to probe a device on the network');
    expect(r.out).toBe('');
  });

  it('closed and silent ports: a clear message, no file, and no hang', async () => {
    // A TCP service that accepts and never says a word, and a UDP port that swallows every datagram.
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    try {
      const silentPort = (silent.address() as { port: number }).port;
      const ports = [await closedTcpPort(), `${await closedUdpPort()}/udp`, silentPort, `${udp.address().port}/udp`].join(',');
      const r = await gauntlet(['init', '--host', '127.0.0.1', '--ports', ports, '--timeout', '300ms', '--out', 'x.yaml'], dir);
      expect(r.code, r.out + r.err).toBe(1);
      expect(r.out).toMatch(new RegExp(`tcp ${silentPort} +unknown tcp service: no banner, and neither a TLS handshake`));
      expect(r.out).toMatch(/udp \d+ +open\|filtered \(no reply to a CoAP ping or a DTLS ClientHello within 300 ms\)/);
      expect(r.err.trim()).toBe('gauntlet init: no MQTT, CoAP or HTTP service answered on 127.0.0.1 (1 open port(s), none recognised among 4 probed): nothing written');
      expect(existsSync(join(dir, 'x.yaml'))).toBe(false);
      // Each step is bounded by --timeout: three steps on the silent port, in parallel with the rest, plus start-up.
      expect(r.ms).toBeLessThan(15_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
      udp.close();
    }
  });
});

describe('parsePortList and the defaults', () => {
  it('bare numbers are TCP except CoAP\'s 5683 and 5684; /tcp and /udp choose; ranges expand; duplicates go', () => {
    const r = parsePortList('1883, 5683,5684/tcp,8000-8002/udp,1883');
    expect(r).toEqual({
      ok: true,
      ports: [
        { transport: 'tcp', port: 1883 },
        { transport: 'udp', port: 5683 },
        { transport: 'tcp', port: 5684 },
        { transport: 'udp', port: 8000 },
        { transport: 'udp', port: 8001 },
        { transport: 'udp', port: 8002 },
      ],
    });
    expect(parsePortList('1-2000')).toEqual({ ok: false, error: 'at most 1024 ports per run; "1-2000" goes past it' });
    for (const bad of ['0', '65536', '1883/sctp', '', ' , ', '80;443', '-5']) {
      const r = parsePortList(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.error, bad).toMatch(/^expected ports like 1883,8883,5683\/udp,8000-8010 .*; got /);
    }
    expect(DEFAULT_INIT_PORTS.map((p) => `${p.port}/${p.transport}`)).toEqual(['1883/tcp', '8883/tcp', '5683/udp', '5684/udp', '80/tcp', '443/tcp', '8080/tcp', '8443/tcp', '23/tcp', '22/tcp']);
  });

  it('the secret variables\' prefix comes from the name', () => {
    expect(envPrefixOf('thermo-x200')).toBe('THERMO_X200');
    expect(envPrefixOf('2nd unit')).toBe('ND_UNIT');
    expect(envPrefixOf('---')).toBe('DUT');
  });
});
