import { describe, expect, it } from 'vitest';
import { planPaths } from '../../../harness/checks/performance/plan.js';
import type { Declaration, Interface, Principal, Target } from '../../../harness/model/index.js';

const IFACES: Interface[] = [
  { id: 'broker', role: 'server', host: '127.0.0.1', port: 1883, protocol: 'mqtt', version: 4 },
  { id: 'sensors', role: 'server', host: '127.0.0.1', port: 5683, protocol: 'coap' },
  { id: 'secure', role: 'server', host: '127.0.0.1', port: 5684, protocol: 'coaps' },
  { id: 'web', role: 'server', host: '127.0.0.1', port: 8080, protocol: 'http', probePath: '/health', auth: { kind: 'basic' } },
];
const ADMIN: Principal = { name: 'admin', user: 'admin', pass: 'a', role: 'admin', psk: { identity: 'admin-1', keyHex: '00' } };
const SENSOR: Principal = { name: 'sensor', user: 'sensor-1', pass: 's', role: 'device', psk: { identity: 'sensor-1', keyHex: '01' } };

function target(decl: Partial<Declaration> = {}, principals: Principal[] = [ADMIN, SENSOR]): Target {
  return {
    name: 't',
    source: 'test',
    scope: { hosts: ['127.0.0.1'], allowNonLoopback: false, probe: { tcp: [], udp: [], usual: false } },
    interfaces: IFACES,
    principals,
    declaration: {
      identity: {},
      dtls: {},
      access: {
        mqtt: { anonymous: false, rules: { admin: { publish: ['#'], subscribe: ['#'] }, sensor: { publish: ['devices/sensor-1/+/data'], subscribe: ['devices/sensor-1/#'] } } },
        coap: { anonymous: { '/.well-known/core': ['GET'], '/sensors/temp': ['GET'] }, resources: [] },
        http: { public: [], routes: [] },
      },
      disclosure: { mqttSys: false, banners: [] },
      secureOnly: false,
      ...decl,
    },
  };
}
const iface = (id: string) => IFACES.find((i) => i.id === id)!;

describe('planPaths: what each hot path drives, read off the target file', () => {
  it('MQTT: a device principal first, on a topic it may both publish and subscribe (wildcards made concrete)', () => {
    const plans = planPaths(target(), iface('broker'));
    expect(plans.map((p) => p.path)).toEqual(['mqtt.publish.qos0', 'mqtt.publish.qos1', 'mqtt.publish.qos2', 'mqtt.connect']);
    for (const p of plans) {
      expect(p.principal?.name).toBe('sensor');
      expect(p.resource).toBe('devices/sensor-1/gauntlet/data');
      expect(p.skipped).toBeUndefined();
    }
  });

  it('MQTT: a principal that may publish but not observe its topic is passed over; none at all: skipped, naming the field', () => {
    const t = target({ access: { ...target().declaration.access, mqtt: { anonymous: false, rules: { sensor: { publish: ['up/#'], subscribe: ['down/#'] } } } } });
    const plans = planPaths(t, iface('broker'), ['mqtt.publish.qos1', 'mqtt.connect']);
    expect(plans[0]!.skipped).toMatch(/declaration\.access\.mqtt\.rules/);
    // Connecting needs no topic.
    expect(plans[1]!.skipped).toBeUndefined();
    expect(plans[1]!.principal?.name).toBe('sensor');
  });

  it('MQTT: an anonymous broker with no principals is driven anonymously', () => {
    const t = target({ access: { ...target().declaration.access, mqtt: { anonymous: true, rules: {} } } }, []);
    const [p] = planPaths(t, iface('broker'), ['mqtt.publish.qos0']);
    expect(p).toMatchObject({ resource: 'gauntlet/bench', note: expect.stringMatching(/anonymous/) });
    expect(p!.principal).toBeUndefined();
  });

  it('CoAP: an anonymous GET resource other than discovery; block-wise on /.well-known/core', () => {
    const plans = planPaths(target(), iface('sensors'));
    expect(plans.map((p) => [p.path, p.resource])).toEqual([
      ['coap.get', '/sensors/temp'],
      ['coap.non', '/sensors/temp'],
      ['coap.block', '/.well-known/core'],
    ]);
  });

  it('DTLS: the device principal\'s PSK; no PSK anywhere: skipped', () => {
    expect(planPaths(target(), iface('secure'))[0]!.principal?.name).toBe('sensor');
    const bare = target({}, [{ name: 'admin', user: 'admin', pass: 'a', role: 'admin' }]);
    expect(planPaths(bare, iface('secure'))[0]!.skipped).toMatch(/no principal with a DTLS PSK/);
  });

  it('HTTP: the probe route; an upload only where an http-upload update path goes through the interface, logged in as its principal', () => {
    const none = planPaths(target(), iface('web'));
    expect(none.map((p) => [p.path, p.resource, p.skipped ?? ''])).toEqual([
      ['http.request', '/health', ''],
      ['http.upload', '', 'no http-upload update path via web (declaration.update.paths)'],
    ]);
    const t = target({
      update: {
        version: { via: 'web', path: '/status', json: '$.v' },
        installTimeoutMs: 1000,
        images: { newer: { file: '/x', version: '2' } },
        paths: [{ id: 'upload', kind: 'http-upload', via: 'web', method: 'POST', path: '/fw', as: 'admin', contentType: 'application/octet-stream' }],
      },
    });
    const up = planPaths(t, iface('web'), ['http.upload'])[0]!;
    expect(up).toMatchObject({ resource: '/fw', login: { name: 'admin' }, payloadBytes: 256 * 1024 });
    expect(up.note).toMatch(/random bytes, so no image installs/);
  });

  it('`only` narrows the paths, and never plans one the protocol cannot carry', () => {
    expect(planPaths(target(), iface('web'), ['mqtt.connect', 'http.request']).map((p) => p.path)).toEqual(['http.request']);
  });
});
