// transport.plaintext against the reference device through the real planner
// and runner (the plaintext-credentials flaw fails it, the hardened unit
// passes, a secure-only declaration turns its plain listeners into
// findings), and alone for the listener list and the error paths: a refusal
// with no TLS interface to prove the credential, a hostile peer on a declared
// port, a closed one, and an interrupted run.

import { afterEach, describe, expect, it } from 'vitest';
import { plaintextListeners, transportPlaintext } from '../../../harness/checks/transport/plaintext.js';
import { targetFromObject, type TargetFileInput } from '../../../harness/core/target-file.js';
import { startReferenceDevice, type Flaw, type RunningDevice } from '../../../targets/reference-device/index.js';
import { closeFakes, closedPort, contextFor, tcpServer, targetOf } from '../access/fakes.js';
import { runAgainst, verdictTable } from '../../support/run-target.js';

const devices: RunningDevice[] = [];
afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.close()));
  await closeFakes();
});

async function device(flaws: readonly Flaw[] = []): Promise<RunningDevice> {
  const d = await startReferenceDevice({ flaws, factoryFresh: false });
  devices.push(d);
  return d;
}

const ID = 'transport.plaintext@target';
const run = (input: TargetFileInput) => runAgainst(input, { checks: [transportPlaintext], only: [ID], ioTimeoutMs: 800 });

describe('transport.plaintext on the reference device', () => {
  it('passes on the hardened unit: plain MQTT, HTTP and CoAP answer, each credential is refused in clear and granted over TLS', async () => {
    const d = await device();
    const r = (await run(d.targetFile())).byId.get(ID)!;
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.reason).toMatch(/^3 plaintext listener\(s\) answer, none accepts a credential \(each principal's credential refused in clear on 2 and granted over TLS\)/);
    const observed = r.evidence!.observed;
    expect(observed).toContain(`MQTT 127.0.0.1:${d.endpoints.mqtt.port} (declared tcp/${d.endpoints.mqtt.port} (mqtt)): anonymous CONNECT answered CONNACK 5`);
    expect(observed).toMatch(/refused in clear: admin \(CONNACK 5 .*; granted on mqtts\); sensor/);
    expect(observed).toContain(`HTTP 127.0.0.1:${d.endpoints.http.port}`);
    expect(observed).toMatch(/GET \/api\/health answered 200; refused in clear: admin \(login answered 308; granted on https\); sensor \(login answered 308; granted on https\)/);
    expect(observed).toContain(`COAP 127.0.0.1:${d.endpoints.coap.port} (interface coap): GET /.well-known/core answered 2.05 Content`);
  });

  it('fails on plaintext-credentials: both principals accepted in clear on MQTT and on HTTP, critical, with the exchange', async () => {
    const d = await device(['plaintext-credentials']);
    const r = (await run(d.targetFile())).byId.get(ID)!;
    expect(r.verdict, r.reason).toBe('fail');
    expect(r.findings.map((f) => f.summary)).toEqual([
      `credentials accepted in clear on MQTT 127.0.0.1:${d.endpoints.mqtt.port}: admin, sensor`,
      `credentials accepted in clear on HTTP 127.0.0.1:${d.endpoints.http.port}: admin, sensor`,
    ]);
    expect(r.findings.every((f) => f.severity === 'critical')).toBe(true);
    const http = r.findings[1]!;
    expect(http.evidence.observed).toMatch(/admin: login answered 200 with a token/);
    expect(http.evidence.transcript.some((e) => e.dir === 'sent' && e.decoded.includes('/api/login'))).toBe(true);
    expect(r.requirements).toEqual(expect.arrayContaining(['ETSI-EN-303-645:5.5-6', 'CTA-2088-A:DIT-009', 'EN-18031-1:SCM-3']));
  });

  it('declared secure-only: every plaintext listener that answers is a finding', async () => {
    const d = await device();
    const input = d.targetFile();
    const r = (await run({ ...input, declaration: { ...input.declaration, secureOnly: true } } as TargetFileInput)).byId.get(ID)!;
    expect(r.verdict).toBe('fail');
    expect(r.findings.map((f) => f.summary).sort()).toEqual(
      [
        `plaintext COAP listener on 127.0.0.1:${d.endpoints.coap.port} on a device declared secure-only`,
        `plaintext HTTP listener on 127.0.0.1:${d.endpoints.http.port} on a device declared secure-only`,
        `plaintext MQTT listener on 127.0.0.1:${d.endpoints.mqtt.port} on a device declared secure-only`,
      ].sort(),
    );
    expect(r.findings[0]!.evidence.source).toBe('target:declaration.secureOnly');
  });

  it('inconclusive when a refusal in clear cannot be proven: no mqtts interface to show the credential works', async () => {
    const d = await device();
    const input = d.targetFile();
    const noMqtts = {
      ...input,
      interfaces: input.interfaces.filter((i) => i.protocol !== 'mqtts'),
      declaration: { ...input.declaration, update: undefined },
    } as TargetFileInput;
    const r = (await run(noMqtts)).byId.get(ID)!;
    expect(r.verdict).toBe('inconclusive');
    expect(r.reason).toMatch(/admin refused \(CONNACK 5 .*\) and the target file has no mqtts interface to prove the credential valid/);
  });
});

describe('transport.plaintext: listeners and error paths', () => {
  it('lists interfaces, declared plain services and the usual ports once each, leaving out TLS ports', () => {
    const target = targetOf({
      interfaces: [
        { id: 'broker', protocol: 'mqtt', role: 'server', url: 'mqtt://127.0.0.1:1883' },
        { id: 'api', protocol: 'https', role: 'server', url: 'https://127.0.0.1:443' },
      ],
      declaration: {
        interfaces: [
          { port: 1883, transport: 'tcp', service: 'mqtt' },
          { port: 8080, transport: 'tcp', service: 'http' },
          { port: 8081, transport: 'tcp', service: 'http', status: 'disabled' },
          { port: 80, transport: 'tcp', service: 'https' },
        ],
      },
      scope: { hosts: ['127.0.0.1'], probe: { usual: true } },
    } as never);
    const { listeners } = plaintextListeners(target);
    expect(listeners.map((l) => `${l.protocol} ${l.port} ${l.origin}`)).toEqual([
      'mqtt 1883 interface broker',
      'http 8080 declared tcp/8080 (http)',
      // 80 is declared https: not probed as plain HTTP.
      'coap 5683 usual port',
    ]);
    const noUsual = plaintextListeners({ ...target, scope: { ...target.scope, probe: { ...target.scope.probe, usual: false } } });
    expect(noUsual.listeners.map((l) => l.port)).toEqual([1883, 8080]);
  });

  it('is skipped when there is nothing plaintext to probe', async () => {
    const target = targetOf({ interfaces: [{ id: 'api', protocol: 'https', role: 'server', url: 'https://127.0.0.1:8443' }], scope: { hosts: ['127.0.0.1'], probe: { usual: false } } } as never);
    expect(transportPlaintext.applies(target, target.interfaces[0]!)).toMatch(/^no plaintext listener to probe/);
  });

  it('a hostile peer (garbage instead of CONNACK) and a closed port on declared plain ports are no listeners: pass, named', async () => {
    const garbage = await tcpServer('\xff\xfe not mqtt\r\n');
    const closed = await closedPort('tcp');
    const target = targetOf({
      interfaces: [{ id: 'api', protocol: 'https', role: 'server', url: 'https://127.0.0.1:8443' }],
      declaration: { interfaces: [{ port: garbage.port, transport: 'tcp', service: 'mqtt' }, { port: closed, transport: 'tcp', service: 'mqtt' }] },
      scope: { hosts: ['127.0.0.1'], probe: { usual: false } },
    } as never);
    const out = await transportPlaintext.run(contextFor(target, { ioTimeoutMs: 500 }));
    expect(out.verdict).toBe('pass');
    expect(out.reason).toBe(`no plaintext listener answers (MQTT 127.0.0.1:${garbage.port} no listener; MQTT 127.0.0.1:${closed} no listener)`);
    expect(out.evidence!.observed).toMatch(/not MQTT|closed the connection without a CONNACK|no CONNACK in time/);
    expect(out.evidence!.observed).toMatch(new RegExp(`MQTT 127.0.0.1:${closed} .*closed \\(`));
  });

  it('an interrupted run is inconclusive, never a pass', async () => {
    const d = await device();
    const target = targetFromObject(d.targetFile(), 'test');
    const ac = new AbortController();
    ac.abort();
    const out = await transportPlaintext.run(contextFor(target, { signal: ac.signal }));
    expect(out.verdict).toBe('inconclusive');
    expect(out.reason).toMatch(/^interrupted/);
  });
});
