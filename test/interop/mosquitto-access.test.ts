// access.mqtt-topics against Eclipse Mosquitto (Debian's package): with an
// acl_file (per-user and `pattern` rules) and with the dynamic-security
// plugin. The check must agree with Mosquitto's real decisions: no false
// finding when the declaration matches the broker's ACL, the finding when one
// ACL line is loosened, and a declaration mismatch when the ACL is tighter
// than declared.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { TargetFileInput } from '../../harness/core/target-file.js';
import { dynsecPlugin, writeDynsecConfig } from '../../targets/interop/mosquitto-dynsec.js';
import { startMosquitto, type MosquittoHandle } from '../../targets/interop/mosquitto.js';
import { runAgainst, verdictTable } from '../support/run-target.js';

const interop = inject('interop');
const ADMIN = randomBytes(9).toString('base64url');
const SENSOR = randomBytes(9).toString('base64url');

/** The declaration a manufacturer would write for the broker below. */
function target(port: number): TargetFileInput {
  return {
    format: 'gauntlet-target/1',
    name: 'mosquitto-acl',
    scope: { hosts: ['127.0.0.1'] },
    interfaces: [{ id: 'broker', protocol: 'mqtt', url: `mqtt://127.0.0.1:${port}`, version: 4 }],
    principals: { admin: { user: 'admin', pass: ADMIN, role: 'admin' }, sensor: { user: 'sensor-1', pass: SENSOR, role: 'device' } },
    declaration: {
      access: {
        mqtt: {
          anonymous: false,
          rules: {
            admin: { publish: ['#'], subscribe: ['#', '$SYS/#'] },
            sensor: { publish: ['devices/sensor-1/#'], subscribe: ['config/sensor-1', 'devices/sensor-1/#'] },
          },
        },
      },
    },
  };
}

const MATCHING_ACL = [
  'user admin',
  'topic readwrite #',
  'topic read $SYS/#',
  '',
  '# every device: its own subtree and its own config topic',
  'pattern readwrite devices/%u/#',
  'pattern read config/%u',
  '',
].join('\n');

let broker: MosquittoHandle | undefined;
let scratch: string | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
});

async function withAcl(acl: string): Promise<number> {
  broker = await startMosquitto({
    binary: interop.mosquitto!,
    passwdBinary: interop.mosquittoPasswd!,
    anonymous: false,
    users: { admin: ADMIN, 'sensor-1': SENSOR },
    acl,
    // Without it Mosquitto 2.0 answers small packets after a ~40 ms Nagle/delayed-ACK stall.
    extraConfig: 'set_tcp_nodelay true\n',
  });
  return broker.port;
}

const OPTS = { only: ['access.mqtt-topics@broker'], numRuns: 25, timeMs: 25_000 };

describe.skipIf(!interop.mosquitto || !interop.mosquittoPasswd)('Mosquitto interop: access.mqtt-topics', () => {
  it('acl_file matching the declaration (user and pattern rules): no finding', async () => {
    const run = await runAgainst(target(await withAcl(MATCHING_ACL)), OPTS);
    const r = run.byId.get('access.mqtt-topics@broker')!;
    expect(r.verdict, `${verdictTable(run.results)}\n${broker!.logs().slice(-2000)}`).toBe('pass');
    expect(r.cases).toBeGreaterThan(5);
  }, 60_000);

  it('every access check on the matching broker: no false finding', async () => {
    const run = await runAgainst(target(await withAcl(MATCHING_ACL)), { numRuns: 15, timeMs: 20_000 });
    const access = run.results.filter((r) => r.instance.checkId.startsWith('access.'));
    const table = verdictTable(access);
    expect(access.map((r) => r.instance.id).sort(), table).toEqual([
      'access.exposed-surface@target',
      'access.mqtt-topics@broker',
      'access.unauthenticated-disclosure@target',
    ]);
    for (const r of access) expect(r.verdict, table).toBe('pass');
  }, 90_000);

  it('an anonymous broker discloses $SYS (broker version) without authentication: found', async () => {
    broker = await startMosquitto({ binary: interop.mosquitto!, anonymous: true, extraConfig: 'set_tcp_nodelay true\nsys_interval 1\n' });
    const run = await runAgainst(target(broker.port), { only: ['access.unauthenticated-disclosure@target'] });
    const r = run.byId.get('access.unauthenticated-disclosure@target')!;
    expect(r.verdict, verdictTable(run.results)).toBe('fail');
    expect(r.findings.map((f) => f.summary).join('\n')).toMatch(/\$SYS\/broker\/version/);
  }, 60_000);

  it('one loosened ACL line (pattern read config/#): the leak is found and shrunk', async () => {
    const run = await runAgainst(target(await withAcl(MATCHING_ACL.replace('pattern read config/%u', 'pattern read config/#'))), OPTS);
    const r = run.byId.get('access.mqtt-topics@broker')!;
    expect(r.verdict, verdictTable(run.results)).toBe('fail');
    const f = r.findings[0]!;
    expect(f.summary).toMatch(/^read-leak: sensor received a message on "config\//);
    expect(f.evidence.counterexample!.value).toMatch(/subscribe\(sensor, "(config\/|#|\+)/);
  }, 60_000);

  it('ACL tighter than declared (devices/%u/# write only): a declaration mismatch, not a leak', async () => {
    const tighter = MATCHING_ACL.replace('pattern readwrite devices/%u/#', 'pattern write devices/%u/#');
    const run = await runAgainst(target(await withAcl(tighter)), OPTS);
    const r = run.byId.get('access.mqtt-topics@broker')!;
    expect(r.verdict, verdictTable(run.results)).toBe('fail');
    expect(r.findings[0]!.summary).toMatch(/^declared-but-refused: declaration mismatch: sensor is declared to read "devices\/sensor-1/);
    expect(r.findings[0]!.severity).toBe('low');
  }, 60_000);

  it.skipIf(!dynsecPlugin())('dynamic-security plugin with roles matching the declaration: no finding; a loosened role is found', async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'gauntlet-dynsec-'));
    const roles = (sensorRead: string) => [
      {
        rolename: 'admin',
        acls: [
          { acltype: 'publishClientSend' as const, topic: '#', allow: true },
          { acltype: 'subscribePattern' as const, topic: '#', allow: true },
          { acltype: 'subscribePattern' as const, topic: '$SYS/#', allow: true },
        ],
      },
      {
        // Literal topics: Mosquitto 2.0.11's dynsec refused devices/%u/# patterns for sensor-1 here.
        rolename: 'device',
        acls: [
          { acltype: 'publishClientSend' as const, topic: 'devices/sensor-1/#', allow: true },
          { acltype: 'subscribePattern' as const, topic: 'devices/sensor-1/#', allow: true },
          { acltype: 'subscribePattern' as const, topic: sensorRead, allow: true },
          // Default publishClientReceive is allow: deny what the device may not read.
          { acltype: 'publishClientReceive' as const, topic: 'devices/sensor-1/#', allow: true },
          { acltype: 'publishClientReceive' as const, topic: sensorRead, allow: true },
          { acltype: 'publishClientReceive' as const, topic: '#', allow: false },
        ],
      },
    ];
    const clients = [
      { username: 'admin', password: ADMIN, roles: ['admin'] },
      { username: 'sensor-1', password: SENSOR, roles: ['device'] },
    ];
    for (const [sensorRead, expected] of [
      ['config/sensor-1', 'pass'],
      ['config/#', 'fail'],
    ] as const) {
      const dir = mkdtempSync(path.join(scratch, 'run-'));
      broker = await startMosquitto({
        binary: interop.mosquitto!,
        anonymous: false,
        extraConfig: `set_tcp_nodelay true\n${writeDynsecConfig(dir, clients, roles(sensorRead), dynsecPlugin()!)}`,
      });
      const run = await runAgainst(target(broker.port), OPTS);
      const r = run.byId.get('access.mqtt-topics@broker')!;
      expect(r.verdict, `${sensorRead}\n${verdictTable(run.results)}\n${broker.logs().slice(-1500)}`).toBe(expected);
      await broker.close();
      broker = undefined;
    }
  }, 120_000);
});
