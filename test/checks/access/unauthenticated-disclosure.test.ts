// access.unauthenticated-disclosure both ways against fakes on 127.0.0.1: a
// raw MQTT broker that lets anonymous clients read $SYS (or refuses them), an
// HTTP server with and without banners and stack traces, a CoAP server with
// and without version diagnostics; plus the text judge on its own.

import { generate, parse } from 'coap-packet';
import { afterEach, describe, expect, it } from 'vitest';
import {
  coveredByBanner,
  findDisclosures,
  linkAttributes,
  unauthenticatedDisclosure,
} from '../../../harness/checks/access/unauthenticated-disclosure.js';
import type { TargetFileInput } from '../../../harness/core/target-file.js';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { closedPort, closeFakes, contextFor, HOST, httpServer, mqttServer, recordingScope, targetOf, udpServer, type UdpHandler } from './fakes.js';

afterEach(closeFakes);

const ONLY = ['access.unauthenticated-disclosure@target'];
const FW = '1.0.0';

function target(interfaces: TargetFileInput['interfaces'], disclosure: { mqttSys?: boolean; banners?: string[] } = {}): TargetFileInput {
  return { format: 'gauntlet-target/1', name: 'fake', scope: { hosts: [HOST] }, interfaces, declaration: { disclosure } };
}

// --- fakes -------------------------------------------------------------------

/** Like the reference device's API: JSON errors; `verbose` adds banners, a firmware version and a stack trace. */
async function httpApi(verbose: boolean) {
  return httpServer((req, res) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
    if (verbose) Object.assign(headers, { server: `RD-1/${FW} (node v20.20.2)`, 'x-powered-by': `rd1-firmware ${FW}` });
    const path = req.url ?? '/';
    const [status, body]: [number, Record<string, unknown>] =
      path === '/api/health'
        ? [200, { status: 'ok' }]
        : path === '/api/login'
          ? [400, { error: 'malformed JSON' }]
          : path === '/api/config'
            ? [401, { error: 'authentication required' }]
            : [404, { error: 'not found' }];
    const out =
      verbose && status >= 400
        ? { ...body, firmware: FW, stack: ['Error: ' + String(body.error), '    at route (/opt/rd1/http-api.js:211:11)', '    at Server.emit (node:events:519:28)'].join('\n') }
        : body;
    res.writeHead(status, headers).end(JSON.stringify(out));
  });
}

const httpIface = (port: number): TargetFileInput['interfaces'][number] => ({
  id: 'http',
  protocol: 'http',
  url: `http://${HOST}:${port}`,
  probe: '/api/health',
  protected: '/api/config',
  auth: { kind: 'json', path: '/api/login', body: { username: '{user}', password: '{pass}' }, token: '$.token' },
});

/** A CoAP server: RST to pings, link format on discovery, 4.04 elsewhere (with a diagnostic when verbose). */
function coapHandler(opts: { diagnostic?: string; links?: string }): UdpHandler {
  return (msg, from, sock) => {
    const p = parse(msg);
    const answer = (code: string, payload = '') =>
      sock.send(generate({ messageId: p.messageId, token: p.token, ack: true, code, payload: Buffer.from(payload) }), from.port, from.address);
    if (p.code === '0.00') return void sock.send(generate({ messageId: p.messageId, reset: true, code: '0.00' }), from.port, from.address);
    const path = '/' + p.options.filter((o) => o.name === 'Uri-Path').map((o) => o.value.toString()).join('/');
    if (path === '/.well-known/core') return answer('2.05', opts.links ?? '</sensors/temperature>;rt="temperature";if="sensor";ct=0,</config>;rt="config";ct=50');
    answer('4.04', opts.diagnostic);
  };
}

// --- the text judge ------------------------------------------------------------

describe('findDisclosures', () => {
  const kinds = (text: string, banners: string[] = []) => findDisclosures(text, banners).map((d) => `${d.kind}:${d.token}`);

  it('versions, product/version tokens and stack names', () => {
    expect(kinds('Apache/2.4.41 (Ubuntu)')).toEqual(['version:Apache/2.4.41']);
    expect(kinds('mosquitto version 2.0.11')).toEqual(['version:mosquitto version 2.0.11']);
    expect(kinds('firmware: 1.0.0')).toEqual(['version:1.0.0']);
    expect(kinds('powered by lighttpd')).toEqual(['product:lighttpd']);
    expect(kinds('rd1-firmware/1.0.0 (node 20.20.2; coap-server.js): Not Found [/x]')).toEqual(['version:rd1-firmware/1.0.0', 'version:node 20.20.2']);
  });

  it('nothing in plain errors, IPv4 addresses, protocol versions or API paths', () => {
    for (const text of ['{"error":"not found"}', 'malformed JSON', 'request body larger than 8192 bytes', 'peer 127.0.0.1 refused', 'HTTP/1.1 404', 'change: /api/password', '21.5']) {
      expect(kinds(text), text).toEqual([]);
    }
  });

  it('stack traces and absolute paths, whatever the banners', () => {
    expect(kinds('Error: x\n    at route (/opt/rd1/http-api.js:211:11)', ['/opt/rd1/http-api.js'])[0]).toMatch(/^stack-trace:at route/);
    expect(kinds('Traceback (most recent call last):\n  File "/srv/app.py", line 3')[0]).toBe('stack-trace:Traceback (most recent call last)');
    expect(kinds('java.lang.NullPointerException')[0]).toBe('stack-trace:java.lang.NullPointerException');
    expect(kinds('cannot open /etc/rd1/keys.pem')).toEqual(['file-path:/etc/rd1/keys.pem']);
    expect(kinds('C:\\Program Files\\RD1\\fw.dll')[0]).toMatch(/^file-path:C:\\Program Files\\RD1\\/);
  });

  it('a declared banner covers its own words, nothing more', () => {
    expect(kinds('RD-1/1.0.0 (node v20.20.2)', ['RD-1/1.0.0'])).toEqual(['version:node v20.20.2']);
    expect(kinds('firmware: 1.0.0', ['rd1-firmware 1.0.0'])).toEqual([]);
    expect(coveredByBanner('rd1-firmware/1.0.0', ['rd1-firmware 1.0.0'])).toBe(true);
    expect(coveredByBanner('rd1-firmware/1.0.1', ['rd1-firmware 1.0.0'])).toBe(false);
    expect(coveredByBanner('nginx', [''])).toBe(false);
  });

  it('link-format attributes', () => {
    expect(linkAttributes('</a>;rt="x,y";title="fw 1.2.3",</b>;sz=12;obs')).toEqual([
      { path: '/a', attrs: [{ name: 'rt', value: 'x,y' }, { name: 'title', value: 'fw 1.2.3' }] },
      { path: '/b', attrs: [{ name: 'sz', value: '12' }, { name: 'obs', value: '' }] },
    ]);
  });
});

// --- MQTT ----------------------------------------------------------------------

describe('access.unauthenticated-disclosure: MQTT $SYS', () => {
  const sys = [
    { topic: '$SYS/broker/uptime', payload: '42 seconds' },
    { topic: '$SYS/broker/version', payload: 'mosquitto version 2.0.11' },
  ];
  const mqttIface = (port: number): TargetFileInput['interfaces'][number] => ({ id: 'mqtt', protocol: 'mqtt', url: `mqtt://${HOST}:${port}` });

  it('anonymous $SYS read while not declared: one finding naming the broker version', async () => {
    const broker = await mqttServer({ code: 0, sys });
    const run = await runAgainst(target([mqttIface(broker.port)]), { only: ONLY });
    const r = run.byId.get(ONLY[0]!)!;
    expect(r.verdict, verdictTable(run.results)).toBe('fail');
    expect(r.findings.map((f) => f.summary)).toEqual(['$SYS/broker/version = mosquitto version 2.0.11 readable without authentication (and 1 more $SYS message(s))']);
    expect(r.findings[0]!.severity).toBe('medium');
    expect(r.findings[0]!.evidence.observed).toContain('$SYS/broker/uptime = "42 seconds"');
    expect(r.findings[0]!.evidence.transcript.map((e) => e.decoded)).toContain('SUBSCRIBE $SYS/# qos 0');
    expect(broker.subscribed).toEqual(['$SYS/#']);
  });

  it('$SYS declared readable: pass', async () => {
    const broker = await mqttServer({ code: 0, sys });
    const run = await runAgainst(target([mqttIface(broker.port)], { mqttSys: true }), { only: ONLY });
    expect(run.byId.get(ONLY[0]!)!.verdict, verdictTable(run.results)).toBe('pass');
  });

  it('anonymous CONNECT refused: pass, and the reason says so', async () => {
    const broker = await mqttServer({ code: 5, sys });
    const run = await runAgainst(target([mqttIface(broker.port)]), { only: ONLY });
    const r = run.byId.get(ONLY[0]!)!;
    expect(r.verdict, verdictTable(run.results)).toBe('pass');
    expect(r.reason).toMatch(/anonymous CONNECT refused \(CONNACK 5/);
    expect(broker.subscribed).toEqual([]);
  });
});

// --- HTTP and CoAP -------------------------------------------------------------

describe('access.unauthenticated-disclosure: HTTP and CoAP', () => {
  it('hardened HTTP and CoAP: pass', async () => {
    const api = await httpApi(false);
    const coap = await udpServer(coapHandler({}));
    const run = await runAgainst(target([httpIface(api.port), { id: 'coap', protocol: 'coap', url: `coap://${HOST}:${coap.port}` }]), { only: ONLY });
    const r = run.byId.get(ONLY[0]!)!;
    expect(r.verdict, `${verdictTable(run.results)}`).toBe('pass');
    expect(r.reason).toMatch(/HTTP http: 5\/5 requests answered, no product/);
    expect(r.reason).toMatch(/CoAP coap: 2\/2 requests answered/);
  });

  it('verbose HTTP: Server, X-Powered-By, the body version and the stack trace, once each', async () => {
    const api = await httpApi(true);
    const run = await runAgainst(target([httpIface(api.port)]), { only: ONLY });
    const r = run.byId.get(ONLY[0]!)!;
    expect(r.verdict, verdictTable(run.results)).toBe('fail');
    expect(r.findings.map((f) => f.summary).sort()).toEqual(
      [
        `http: HTTP header "Server: RD-1/${FW} (node v20.20.2)" sent without authentication and not a declared banner`,
        `http: HTTP header "X-Powered-By: rd1-firmware ${FW}" sent without authentication and not a declared banner`,
        `http: the body of an unauthenticated reply reveals "${FW}" (not a declared banner)`,
        'http: a stack trace in the body of an unauthenticated reply (at route (/opt/rd1/http-api.js:211:11))',
      ].sort(),
    );
    const stack = r.findings.find((f) => f.summary.includes('stack trace'))!;
    // The exact reply excerpt, and every request that provoked it.
    expect(stack.evidence.observed).toContain('at route (/opt/rd1/http-api.js:211:11)');
    expect(stack.evidence.observed.split('; ').length).toBe(4); // unknown path, protected path, malformed JSON, long path
    expect(stack.evidence.transcript.length).toBeGreaterThan(0);
  });

  it('verbose HTTP with the banners declared: only the stack trace remains', async () => {
    const api = await httpApi(true);
    const run = await runAgainst(target([httpIface(api.port)], { banners: [`RD-1/${FW} (node v20.20.2)`, `rd1-firmware ${FW}`] }), { only: ONLY });
    const r = run.byId.get(ONLY[0]!)!;
    expect(r.findings.map((f) => f.summary), r.reason).toEqual(['http: a stack trace in the body of an unauthenticated reply (at route (/opt/rd1/http-api.js:211:11))']);
  });

  it('verbose CoAP: the error diagnostic and a versioned link attribute', async () => {
    const coap = await udpServer(
      coapHandler({ diagnostic: `rd1-firmware/${FW} (node 20.20.2): Not Found`, links: '</sensors/temperature>;rt="temperature";title="fw 1.2.3";ct=0' }),
    );
    const run = await runAgainst(target([{ id: 'coap', protocol: 'coap', url: `coap://${HOST}:${coap.port}` }]), { only: ONLY });
    const r = run.byId.get(ONLY[0]!)!;
    expect(r.verdict, verdictTable(run.results)).toBe('fail');
    expect(r.findings.map((f) => f.summary)).toEqual([
      `coap: the error payload of an unauthenticated reply reveals "rd1-firmware/${FW}" (not a declared banner)`,
      'coap: the error payload of an unauthenticated reply reveals "node 20.20.2" (not a declared banner)',
      'coap: /.well-known/core reveals "fw 1.2.3" in </sensors/temperature>;title="fw 1.2.3" without authentication',
    ]);
    expect(r.findings[0]!.evidence.observed).toMatch(/^GET \/gauntlet-[0-9a-f]+-no-such-resource -> 4\.04 Not Found -> error payload: "rd1-firmware\/1\.0\.0 \(node 20\.20\.2\): Not Found"$/);
  });

  it('nothing answers: inconclusive; the scope guard is asked for every exchange', async () => {
    const t = targetOf({
      interfaces: [
        { id: 'http', protocol: 'http', url: `http://${HOST}:${await closedPort('tcp')}` },
        { id: 'mqtt', protocol: 'mqtt', url: `mqtt://${HOST}:${await closedPort('tcp')}` },
        { id: 'coap', protocol: 'coap', url: `coap://${HOST}:${await closedPort('udp')}` },
      ],
    });
    const scope = recordingScope(t);
    const out = await unauthenticatedDisclosure.run(contextFor(t, { scope }));
    expect(out.verdict, out.reason).toBe('inconclusive');
    // probe path, unknown path, 4 KiB path; CONNECT; unknown resource, discovery
    expect(scope.calls.map((c) => c.what.split(' ')[0])).toEqual(['http', 'http', 'http', 'mqtt', 'coap', 'coap']);
    expect(new Set(scope.calls.map((c) => c.host))).toEqual(new Set([HOST]));
  });
});
