// access.exposed-surface both ways against fakes on 127.0.0.1: the scan logic
// on free ports through exposedSurfaceWith (the usual-ports list is fixed
// ports a test cannot bind), and the real check end to end through the
// runner, where the open port under test comes in through the declaration.

import { afterEach, describe, expect, it } from 'vitest';
import { declaredView, exposedSurface, exposedSurfaceWith, scanList, DEFAULT_SURFACE_OPTIONS, USUAL_PORTS } from '../../../harness/checks/access/exposed-surface.js';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import type { TargetFileInput } from '../../../harness/core/target-file.js';
import { probePort } from '../../../harness/protocols/common/port-probe.js';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { closedPort, closeFakes, coapPingResponder, contextFor, HOST, httpServer, recordingScope, targetOf, tcpServer, udpServer } from './fakes.js';

afterEach(closeFakes);

const ONLY = ['access.exposed-surface@target'];
const NO_USUAL = { usual: { tcp: [], udp: [] } };

/** An HTTP fake for the first interface (the runner's liveness probe). */
async function httpIface(): Promise<{ port: number; iface: TargetFileInput['interfaces'][number] }> {
  const h = await httpServer((_req, res) => res.writeHead(200).end('ok'));
  return { port: h.port, iface: { id: 'http', protocol: 'http', url: `http://${HOST}:${h.port}`, probe: '/' } };
}

/** The usual ports that happen to be open on this machine: declared enabled, so only the port under test decides. */
async function openUsualPorts(): Promise<{ port: number; transport: 'tcp' | 'udp'; status: 'enabled' }[]> {
  const out: { port: number; transport: 'tcp' | 'udp'; status: 'enabled' }[] = [];
  for (const transport of ['tcp', 'udp'] as const) {
    for (const port of USUAL_PORTS[transport]) {
      const r = await probePort(HOST, { transport, port }, { scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs: 300, peer: 'pre-scan' }, { bannerMs: 10 });
      if (r.state === 'open') out.push({ port, transport, status: 'enabled' });
    }
  }
  return out;
}

describe('scan list and declared view', () => {
  it('declared ports first, then interface ports, then the usual ones; capped per transport', () => {
    const many = Array.from({ length: 70 }, (_, k) => ({ port: 10_000 + k, transport: 'tcp' as const }));
    const t = targetOf({
      interfaces: [
        { id: 'http', protocol: 'http', url: `http://${HOST}:18080` },
        { id: 'dtls', protocol: 'coaps', url: `coaps://${HOST}:15684` },
      ],
      declaration: { interfaces: [...many, { port: 15684, transport: 'udp', service: 'coaps' }] },
    });
    const view = declaredView(t);
    expect(view.extra.has('tcp/18080')).toBe(true); // an interface the declaration leaves out
    const { specs, dropped } = scanList(view, DEFAULT_SURFACE_OPTIONS);
    const tcp = specs.filter((s) => s.transport === 'tcp');
    expect(tcp).toHaveLength(64);
    expect(tcp[0]!.port).toBe(10_000);
    expect(dropped).toBe(70 + 1 + USUAL_PORTS.tcp.length - 64);
    const udp = specs.filter((s) => s.transport === 'udp');
    expect(udp.map((s) => [s.port, s.udpProbe])).toEqual([
      [15684, 'dtls-client-hello'],
      [1900, 'ssdp-m-search'],
      [5353, 'mdns-query'],
      [5683, 'coap-ping'],
      [5684, 'dtls-client-hello'],
    ]);
  });

  it('without declaration.interfaces, the interface ports count as declared, enabled', () => {
    const t = targetOf({ interfaces: [{ id: 'mqtt', protocol: 'mqtt', url: `mqtt://${HOST}:11883` }, { id: 'coap', protocol: 'coap', url: `coap://${HOST}:15683` }] });
    const view = declaredView(t);
    expect([...view.declared.keys()]).toEqual(['tcp/11883', 'udp/15683']);
    expect(view.text).toBe('tcp 11883 enabled (mqtt), udp 15683 enabled (coap)');
    expect(view.source).toMatch(/declaration\.interfaces absent/);
  });
});

describe('access.exposed-surface: scan logic on free ports', () => {
  it('an open undeclared port with a banner: one finding naming the banner, with the probe transcript', async () => {
    const { iface } = await httpIface();
    const debug = await tcpServer('RD-1 debug shell\r\n# ');
    const check = exposedSurfaceWith({ usual: { tcp: [debug.port], udp: [] } });
    const ctx = contextFor(targetOf({ interfaces: [iface] }));
    const out = await check.run(ctx);
    expect(out.verdict, out.reason).toBe('fail');
    expect(out.findings).toHaveLength(1);
    const f = out.findings[0]!;
    expect(f.summary).toBe(`TCP ${debug.port} is open and answers "RD-1 debug shell" but is not in the declaration (IXIT 15-Intf)`);
    expect(f.severity).toBeUndefined(); // the check's: high
    expect(check.severity).toBe('high');
    expect(f.evidence.declared).toMatch(/^tcp \d+ enabled \(http\)$/);
    expect(f.evidence.transcript.some((e) => e.hex === Buffer.from('RD-1 debug shell\r\n# ').toString('hex'))).toBe(true);
  });

  it('UDP: a declared-disabled port that answers is a finding; a silent undeclared one is a note', async () => {
    const { iface } = await httpIface();
    const coap = await udpServer(coapPingResponder);
    const silent = await udpServer();
    const check = exposedSurfaceWith({ usual: { tcp: [], udp: [silent.port] } });
    const ctx = contextFor(targetOf({ interfaces: [iface], declaration: { interfaces: [{ port: Number(iface.url.split(':')[2]), transport: 'tcp' }, { port: coap.port, transport: 'udp', status: 'disabled', service: 'coap' }] } }), { ioTimeoutMs: 300 });
    const out = await check.run(ctx);
    expect(out.verdict, out.reason).toBe('fail');
    expect(out.findings.map((f) => f.summary)).toEqual([`UDP ${coap.port} is declared disabled (coap) but is open and answers a coap-ping probe (CoAP RST empty)`]);
    const notes = await check.run(contextFor(targetOf({ interfaces: [iface] }), { ioTimeoutMs: 300 }));
    expect(notes.verdict, notes.reason).toBe('pass');
    expect(notes.evidence!.transcript.map((e) => e.decoded)).toContain(`UDP ${silent.port}: no reply to a coap-ping probe (open|filtered)`);
  });

  it('a host that answers nothing: declared-enabled closed ports are a low mismatch, disabled closed ports pass', async () => {
    const [ifacePort, enabled, disabled, udpDisabled] = await Promise.all([closedPort('tcp'), closedPort('tcp'), closedPort('tcp'), closedPort('udp')]);
    const iface = { id: 'http', protocol: 'http' as const, url: `http://${HOST}:${ifacePort}` };
    const check = exposedSurfaceWith(NO_USUAL);
    const mismatch = await check.run(
      contextFor(
        targetOf({
          interfaces: [iface],
          declaration: {
            interfaces: [
              { port: ifacePort, transport: 'tcp', status: 'disabled' },
              { port: enabled, transport: 'tcp', status: 'enabled', service: 'mqtt' },
              { port: disabled, transport: 'tcp', status: 'disabled' },
              { port: udpDisabled, transport: 'udp', status: 'disabled' },
            ],
          },
        }),
      ),
    );
    expect(mismatch.verdict, mismatch.reason).toBe('fail');
    expect(mismatch.findings.map((f) => [f.summary, f.severity])).toEqual([[`declaration mismatch: TCP ${enabled} is declared enabled (mqtt) but is closed (ECONNREFUSED)`, 'low']]);

    const clean = await check.run(
      contextFor(targetOf({ interfaces: [iface], declaration: { interfaces: [{ port: ifacePort, transport: 'tcp', status: 'disabled' }, { port: disabled, transport: 'tcp', status: 'disabled' }, { port: udpDisabled, transport: 'udp', status: 'disabled' }] } })),
    );
    expect(clean.verdict, clean.reason).toBe('pass');
  });

  it('a declared-disabled UDP port that stays silent: inconclusive, not pass', async () => {
    const { iface, port } = await httpIface();
    const silent = await udpServer();
    const out = await exposedSurfaceWith(NO_USUAL).run(
      contextFor(targetOf({ interfaces: [iface], declaration: { interfaces: [{ port, transport: 'tcp' }, { port: silent.port, transport: 'udp', status: 'disabled' }] } }), { ioTimeoutMs: 300 }),
    );
    expect(out.verdict, out.reason).toBe('inconclusive');
  });

  it('an interface port missing from declaration.interfaces is a low mismatch', async () => {
    const { iface } = await httpIface();
    const out = await exposedSurfaceWith(NO_USUAL).run(contextFor(targetOf({ interfaces: [iface], declaration: { interfaces: [] } })));
    expect(out.verdict).toBe('fail');
    expect(out.findings.map((f) => [f.summary, f.severity])).toEqual([[expect.stringMatching(/^declaration mismatch: TCP \d+ serves interface http but is not in declaration\.interfaces/), 'low']]);
  });

  it('asks the scope guard before every probe, for the target hosts only', async () => {
    const { iface, port } = await httpIface();
    const target = targetOf({ interfaces: [iface] });
    const scope = recordingScope(target);
    const [tcp, udp] = [await closedPort('tcp'), await closedPort('udp')];
    await exposedSurfaceWith({ usual: { tcp: [tcp], udp: [udp] } }).run(contextFor(target, { scope }));
    expect(scope.calls.map((c) => c.what).sort()).toEqual([`tcp probe ${HOST}:${port}`, `tcp probe ${HOST}:${tcp}`, `udp probe ${HOST}:${udp}`].sort());
    expect(new Set(scope.calls.map((c) => c.host))).toEqual(new Set([HOST]));
  });

  it('a host outside the scope: the guard refuses and the check errors instead of probing', async () => {
    const { iface } = await httpIface();
    const target = targetOf({ interfaces: [iface] });
    const deny = { assert: (host: string, what: string) => { throw Object.assign(new Error(`${what}: ${host}`), { code: 'SCOPE_VIOLATION' }); } };
    await expect(exposedSurfaceWith(NO_USUAL).run(contextFor(target, { scope: deny }))).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
  });
});

describe('access.exposed-surface end to end (runner, real port list)', () => {
  it('a port declared disabled that is open fails; declared enabled, everything passes', async () => {
    const { iface, port } = await httpIface();
    const debug = await tcpServer('RD-1 debug shell\r\n# ');
    const already = await openUsualPorts();
    const input = (status: 'enabled' | 'disabled'): TargetFileInput => ({
      format: 'gauntlet-target/1',
      name: 'fake',
      scope: { hosts: [HOST] },
      interfaces: [iface],
      declaration: { interfaces: [{ port, transport: 'tcp', service: 'http' }, { port: debug.port, transport: 'tcp', status, service: 'debug' }, ...already] },
    });

    const bad = await runAgainst(input('disabled'), { only: ONLY });
    const r = bad.byId.get(ONLY[0]!)!;
    expect(r.verdict, verdictTable(bad.results)).toBe('fail');
    expect(r.findings.map((f) => f.summary)).toEqual([`TCP ${debug.port} is declared disabled (debug) but is open and answers "RD-1 debug shell"`]);
    expect(r.findings[0]!.severity).toBe('high');
    expect(r.findings[0]!.requirements).toEqual(exposedSurface.requirements);

    const good = await runAgainst(input('enabled'), { only: ONLY });
    expect(good.byId.get(ONLY[0]!)!.verdict, verdictTable(good.results)).toBe('pass');
  });
});
