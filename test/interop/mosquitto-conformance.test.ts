// conformance.mqtt against Eclipse Mosquitto (Debian's package, 2.0.11),
// which speaks MQTT 3.1.1 and 5.0: (a) allow_anonymous true, both catalogs;
// (b) a password file and an ACL with an admin and a device principal, for
// the statements that need credentials (refused logins, an unauthorised
// PUBLISH). Every verdict is pinned: a pass where Mosquitto follows the
// statement, a fail where it does not (reviewed: real deviations, cited).

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { CheckResult } from '../../harness/model/index.js';
import type { TargetFileInput } from '../../harness/core/target-file.js';
import { conformanceMqtt, mqttConformanceCheck } from '../../harness/checks/conformance/mqtt.js';
import { STATEMENTS } from '../../harness/checks/conformance/mqtt/statements.js';
import { startMosquitto, type MosquittoHandle } from '../../targets/interop/mosquitto.js';
import { runAgainst } from '../support/run-target.js';

const interop = inject('interop');

let broker: MosquittoHandle | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

const table = (r: CheckResult) => (r.statements ?? []).map((s) => `${s.verdict.padEnd(12)} ${s.id}: ${s.reason}`).join('\n');
const reasonOf = (r: CheckResult, id: string) => r.statements!.find((s) => s.id === id)!.reason;

function target(port: number, principals: TargetFileInput['principals'] = {}, rules?: Record<string, { publish: string[]; subscribe: string[] }>): TargetFileInput {
  return {
    format: 'gauntlet-target/1',
    name: 'mosquitto',
    scope: { hosts: ['127.0.0.1'] },
    interfaces: [{ id: 'broker', protocol: 'mqtt', url: `mqtt://127.0.0.1:${port}`, version: 5 }],
    principals,
    declaration: { access: { mqtt: { anonymous: !rules, ...(rules ? { rules } : {}) } } },
  };
}

/** Mosquitto 2.0.11's deviations, each seen on the wire and reviewed. */
const MOSQUITTO_DEVIATIONS: Readonly<Record<string, RegExp>> = {
  // A PINGREQ with a reserved flag bit set (0xC1) is answered with PINGRESP instead of closing.
  'MQTT-3.1.1:MQTT-2.2.2-2': /PINGREQ with fixed-header flags 0001.*answered PINGRESP/,
  'MQTT-5.0:MQTT-2.1.3-1': /PINGREQ with fixed-header flags 0001.*answered PINGRESP/,
  // Keep alive is checked on a coarse tick: a 1 s keep alive is enforced only after up to ~7 s, not 1.5 s.
  'MQTT-3.1.1:MQTT-3.1.2-24': /keep alive 1s \(1\.5x = 1500ms, allowed 2500ms\)/,
  'MQTT-5.0:MQTT-3.1.2-22': /keep alive 1s \(1\.5x = 1500ms, allowed 2500ms\)/,
  'MQTT-5.0:MQTT-3.2.2-22': /client's 1 s keep alive was not enforced in time/,
  // A client PUBLISH carrying a Subscription Identifier (a protocol error) is acknowledged and delivered.
  'MQTT-5.0:MQTT-3.3.4-6': /Subscription Identifier was delivered/,
  // A shared subscription with an empty ShareName ("$share//topic") is granted instead of refused.
  'MQTT-5.0:MQTT-4.8.2-1': /"\$share\/\/.*" granted \(SUBACK 0x00\)/,
};

describe.skipIf(!interop.mosquitto || !interop.mosquittoPasswd)('Mosquitto interop: conformance.mqtt', () => {
  it('(a) allow_anonymous true: the 3.1.1 and 5.0 catalogs, Mosquitto\'s deviations found and nothing else', async () => {
    broker = await startMosquitto({ binary: interop.mosquitto!, anonymous: true, extraConfig: 'set_tcp_nodelay true\n' });
    const t0 = Date.now();
    const run = await runAgainst(target(broker.port), { checks: [conformanceMqtt], numRuns: 4, timeMs: 6000 });
    const ms = Date.now() - t0;
    const r = run.byId.get('conformance.mqtt@broker')!;
    const all = table(r);
    expect(r.statements!.length).toBe(STATEMENTS.length);
    expect(r.statements!.filter((s) => s.verdict === 'fail').map((s) => s.id).sort(), all).toEqual(Object.keys(MOSQUITTO_DEVIATIONS).sort());
    for (const [id, why] of Object.entries(MOSQUITTO_DEVIATIONS)) expect(reasonOf(r, id), id).toMatch(why);
    expect(r.statements!.filter((s) => s.verdict === 'inconclusive'), all).toEqual([]);
    // Skipped: no restricted principal in this target; QoS 2 supported; one copy per overlapping subscription.
    expect(r.statements!.filter((s) => s.verdict === 'skipped').map((s) => s.id).sort(), all).toEqual(['MQTT-3.1.1:MQTT-3.3.5-2', 'MQTT-5.0:MQTT-3.2.2-10', 'MQTT-5.0:MQTT-3.3.4-4']);
    expect(r.reason).toMatch(/^MQTT 3\.1\.1: 92 statements: 89 pass, 2 fail, 1 skipped; MQTT 5\.0: 152 statements: 145 pass, 5 fail, 2 skipped$/);
    expect(r.findings).toHaveLength(7);
    // The keep-alive finding says how late the close came.
    expect(reasonOf(r, 'MQTT-5.0:MQTT-3.1.2-22')).toMatch(/connection \d: [3-9]\d{3}ms/);
    console.log(`mosquitto, 3.1.1 + 5.0 catalogs: ${ms}ms; ${r.reason}`);
  }, 90_000);

  it('(b) password file and ACL: logins, refusals and an unauthorised PUBLISH as the principals', async () => {
    const adminPass = randomBytes(12).toString('base64url');
    const sensorPass = randomBytes(12).toString('base64url');
    broker = await startMosquitto({
      binary: interop.mosquitto!,
      passwdBinary: interop.mosquittoPasswd!,
      anonymous: false,
      users: { admin: adminPass, 'sensor-1': sensorPass },
      acl: 'user admin\ntopic readwrite #\ntopic read $SYS/#\n\nuser sensor-1\ntopic readwrite devices/sensor-1/#\n',
      extraConfig: 'set_tcp_nodelay true\n',
    });
    const only = [
      'MQTT-3.1.1:MQTT-3.1.4-4',
      'MQTT-3.1.1:MQTT-3.2.2-4',
      'MQTT-3.1.1:MQTT-3.2.2-5',
      'MQTT-3.1.1:MQTT-3.3.5-2',
      'MQTT-3.1.1:MQTT-4.7.2-1',
      'MQTT-5.0:MQTT-3.1.4-5',
      'MQTT-5.0:MQTT-3.2.2-6',
      'MQTT-5.0:MQTT-3.2.2-7',
      'MQTT-5.0:MQTT-3.2.2-8',
      'MQTT-5.0:MQTT-4.7.2-1',
    ];
    const principals = { admin: { user: 'admin', pass: adminPass, role: 'admin' }, sensor: { user: 'sensor-1', pass: sensorPass, role: 'device' } };
    const rules = { admin: { publish: ['#'], subscribe: ['#', '$SYS/#'] }, sensor: { publish: ['devices/sensor-1/#'], subscribe: ['devices/sensor-1/#'] } };
    const run = await runAgainst(target(broker.port, principals, rules), { checks: [mqttConformanceCheck({ only })] });
    const r = run.byId.get('conformance.mqtt@broker')!;
    const all = table(r);
    for (const id of only) expect(r.statements!.find((s) => s.id === id)!.verdict, `${id}\n${all}`).toBe('pass');
    expect(r.stats).toMatchObject({ principal: 'admin' });
    // 3.1.1: Mosquitto acknowledges the sensor's unauthorised QoS 1 PUBLISH and drops it.
    expect(reasonOf(r, 'MQTT-3.1.1:MQTT-3.3.5-2')).toMatch(/acknowledged \(PUBACK id=119\)/);
    // An unknown user: CONNACK 0x05 (3.1.1) / 0x86 (5.0), then closed.
    expect(reasonOf(r, 'MQTT-3.1.1:MQTT-3.2.2-5')).toMatch(/CONNACK 0x0[45], then closed by the server/);
    expect(reasonOf(r, 'MQTT-5.0:MQTT-3.2.2-7')).toMatch(/CONNACK 0x8[67], then closed by the server/);
    expect(r.verdict, all).toBe('pass');
  }, 30_000);
});
