// access.coap-resources against a small CoAP device (node:dgram + coap-packet)
// started here on 127.0.0.1 port 0: a resource table answered piggybacked,
// pings answered with RST, and one switch per flaw. The check runs through
// the real planner and runner.

import { createSocket, type Socket } from 'node:dgram';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { anonymousSubject, coapResources, loadHiddenResources, parseWordlist } from '../../../harness/checks/access/coap-resources.js';
import { targetFromObject, type TargetFileInput } from '../../../harness/core/target-file.js';
import type { Check, CheckResult } from '../../../harness/model/index.js';
import { runAgainst } from '../../support/run-target.js';

/** The real planner and runner with one check (runAgainst plans only registered checks of the default profile). */
/** One check through the real planner and runner, short I/O bounds for the silent-device cases. */
async function runCheck(input: TargetFileInput, check: Check): Promise<CheckResult> {
  const run = await runAgainst(input, { checks: [check], ioTimeoutMs: 300, numRuns: 10, timeMs: 5000 });
  expect(run.results).toHaveLength(1);
  return run.results[0]!;
}

type Flaw = 'undeclared' | 'hidden' | 'method-confusion' | 'mismatch' | 'unknown-is-400';

interface Device {
  readonly port: number;
  /** Requests seen, as `METHOD /path`. */
  readonly seen: string[];
}

const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

const METHOD_NAMES: Readonly<Record<string, string>> = { '0.01': 'GET', '0.02': 'POST', '0.03': 'PUT', '0.04': 'DELETE' };

/**
 * `answerFirst`: answer only this many datagrams, then nothing (a device
 * that dies right after the runner's liveness ping).
 */
async function startDevice(flaws: readonly Flaw[] = [], opts: { answerFirst?: number } = {}): Promise<Device> {
  const on = new Set(flaws);
  const links = ['</sensors/temperature>;rt="temperature"', '</config>;ct=50', ...(on.has('undeclared') ? ['</debug/status>'] : [])];
  /** path -> method -> [code, payload] */
  const table: Record<string, Record<string, [string, string?]>> = {
    '/.well-known/core': { GET: ['2.05', links.join(',')] },
    '/sensors/temperature': {
      GET: on.has('mismatch') ? ['4.01'] : ['2.05', '21.5'],
      ...(on.has('method-confusion') ? { DELETE: ['2.02'] as [string] } : {}),
    },
    '/config': { GET: ['4.01'], PUT: ['4.01'] },
    ...(on.has('undeclared') ? { '/debug/status': { GET: ['2.05', 'uptime 42'] } } : {}),
    ...(on.has('hidden') ? { '/debug': { GET: ['2.05', 'debug console'] }, '/fw': { GET: ['4.01'] } } : {}),
  };
  const seen: string[] = [];
  let datagrams = 0;
  const sock = createSocket('udp4');
  sockets.push(sock);
  sock.on('message', (msg, from) => {
    const p: ParsedPacket = parse(msg);
    if (opts.answerFirst !== undefined && ++datagrams > opts.answerFirst) return;
    const reply = (packet: Parameters<typeof generate>[0]) => sock.send(generate(packet), from.port, from.address);
    if (p.code === '0.00') return reply({ messageId: p.messageId, reset: true, code: '0.00' }); // ping [RFC7252 4.3]
    if (p.ack || p.reset) return;
    const path = `/${p.options.filter((o) => o.name === 'Uri-Path').map((o) => o.value.toString()).join('/')}`;
    const method = METHOD_NAMES[p.code] ?? p.code;
    seen.push(`${method} ${path}`);
    const resource = table[path];
    const [code, payload] = resource ? (resource[method] ?? ['4.05']) : on.has('unknown-is-400') ? ['4.00', 'bad request'] : ['4.04'];
    reply({ messageId: p.messageId, token: p.token, ack: true, code, payload: Buffer.from(payload ?? '') });
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, seen };
}

function target(port: number): TargetFileInput {
  return {
    format: 'gauntlet-target/1',
    name: 'fake-coap',
    scope: { hosts: ['127.0.0.1'] },
    interfaces: [{ id: 'coap', protocol: 'coap', url: `coap://127.0.0.1:${port}` }],
    declaration: {
      access: {
        coap: {
          anonymous: { '/.well-known/core': ['GET'], '/sensors/temperature': ['GET'] },
          resources: ['/sensors/temperature', '/config'],
        },
      },
    },
  };
}

const summaries = (r: CheckResult) => r.findings.map((f) => f.summary);

describe('access.coap-resources on a fake device', () => {
  it('correct device: pass, every method tried on every resource, every wordlist path probed', async () => {
    const d = await startDevice();
    const r = await runCheck(target(d.port), coapResources);
    expect(r.verdict, r.reason).toBe('pass');
    const words = loadHiddenResources().filter((p) => !['/config', '/sensors/temperature', '/.well-known/core'].includes(p));
    expect(r.reason).toBe(
      `${1 + 12 + 1 + words.length} requests as anonymous: /.well-known/core lists 2 resources; 12 method requests on 3 resources; ${words.length} hidden-resource probes from corpora/coap/hidden-resources.txt: nothing undeclared, every method outside the declaration refused, 2 declared-allowed requests answered`,
    );
    for (const m of ['GET', 'POST', 'PUT', 'DELETE']) expect(d.seen).toContain(`${m} /config`);
    expect(d.seen).toContain('GET /debug');
    expect(d.seen.filter((s) => s === 'GET /config')).toHaveLength(1); // a known path is not probed again as hidden
  });

  it('undeclared resource listed in discovery: a medium finding, and its methods are tried', async () => {
    const d = await startDevice(['undeclared']);
    const r = await runCheck(target(d.port), coapResources);
    expect(r.verdict).toBe('fail');
    expect(r.findings.map((f) => [f.summary, f.severity])).toEqual([
      ['undeclared resource /debug/status is listed in /.well-known/core', 'medium'],
      ['GET /debug/status answers 2.05 Content; declared anonymous methods: none', 'high'],
    ]);
    const f = r.findings[0]!;
    expect(f.evidence.source).toBe('target:declaration.access.coap.resources');
    expect(f.evidence.transcript.map((e) => e.decoded)).toEqual([expect.stringMatching(/^CON GET \/\.well-known\/core /), expect.stringMatching(/^ACK 2\.05 Content /), 'link-format lists: /sensors/temperature /config /debug/status']);
  });

  it('hidden resources: answered but neither declared nor listed', async () => {
    const d = await startDevice(['hidden']);
    const r = await runCheck(target(d.port), coapResources);
    expect(r.verdict).toBe('fail');
    expect(r.findings.map((f) => [f.summary, f.severity]).sort()).toEqual([
      ['hidden resource /debug answers 2.05 Content and is neither declared nor listed in /.well-known/core', 'high'],
      ['hidden resource /fw answers 4.01 Unauthorized and is neither declared nor listed in /.well-known/core', 'medium'],
    ]);
    const f = r.findings.find((x) => x.summary.includes('/debug'))!;
    expect(f.evidence.transcript.map((e) => e.dir)).toEqual(['sent', 'received']);
    expect(f.evidence.observed).toMatch(/^GET \/debug \(wordlist corpora\/coap\/hidden-resources\.txt\) -> 2\.05 Content; a made-up path \/gauntlet-nx-[0-9a-f]+ -> 4\.04 Not Found$/);
  });

  it('method confusion: DELETE on a read-only sensor succeeds', async () => {
    const d = await startDevice(['method-confusion']);
    const r = await runCheck(target(d.port), coapResources);
    expect(r.verdict).toBe('fail');
    expect(summaries(r)).toEqual(['DELETE /sensors/temperature answers 2.02 Deleted; declared anonymous methods: GET']);
    expect(r.findings[0]!.evidence.declared).toBe('declaration.access.coap.anonymous["/sensors/temperature"]: GET');
  });

  it('declaration mismatch: a declared-open GET refused is a low finding', async () => {
    const d = await startDevice(['mismatch']);
    const r = await runCheck(target(d.port), coapResources);
    expect(r.verdict).toBe('fail');
    expect(r.findings.map((f) => [f.summary, f.severity])).toEqual([
      ['declaration mismatch: GET /sensors/temperature is declared open to anonymous clients but answers 4.01 Unauthorized', 'low'],
    ]);
  });

  it('discovery not declared: its GET is implicit, neither a finding nor a mismatch', async () => {
    const d = await startDevice();
    const t = target(d.port);
    const r = await runCheck({ ...t, declaration: { access: { coap: { anonymous: { '/sensors/temperature': ['GET'] }, resources: ['/sensors/temperature', '/config'] } } } }, coapResources);
    expect(r.verdict, r.reason).toBe('pass');
    expect(d.seen.filter((x) => x.endsWith(' /.well-known/core'))).toEqual(['GET /.well-known/core', 'GET /.well-known/core', 'POST /.well-known/core', 'PUT /.well-known/core', 'DELETE /.well-known/core']);
  });

  it('a device that answers every unknown path with 4.00 does not make the wordlist "exist"', async () => {
    const d = await startDevice(['unknown-is-400']);
    const r = await runCheck(target(d.port), coapResources);
    expect(r.verdict, r.reason).toBe('pass');
  });

  it('a device that goes silent after the liveness ping: inconclusive, and the sweep stops', async () => {
    const d = await startDevice([], { answerFirst: 1 });
    const started = Date.now();
    const r = await runCheck(target(d.port), coapResources);
    expect(r.verdict, r.reason).toBe('inconclusive');
    expect(r.reason).toMatch(/nothing answered|stopped answering/);
    expect(r.cases).toBeLessThanOrEqual(4);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('nothing listening: inconclusive (the runner finds it dead before the check)', async () => {
    const d = await startDevice();
    await new Promise<void>((r) => sockets.pop()!.close(() => r()));
    const r = await runCheck(target(d.port), coapResources);
    expect(r.verdict).toBe('inconclusive');
  });

  it('does not apply when nothing is declared for CoAP', () => {
    const t = targetFromObject({ ...target(5683), declaration: {} }, 't');
    expect(coapResources.applies(t, t.interfaces[0]!)).toMatch(/no CoAP resources declared/);
  });
});

describe('CoAP resource helpers', () => {
  it('the wordlist: absolute paths, comments and blanks skipped, no duplicates, ~40+', () => {
    expect(parseWordlist('# c\n\n/a\n /b \n/a\nnot-a-path\n')).toEqual(['/a', '/b']);
    const words = loadHiddenResources();
    expect(words.length).toBeGreaterThanOrEqual(40);
    expect(new Set(words).size).toBe(words.length);
    expect(words).toContain('/debug');
  });

  it('anonymous subject: declared methods; discovery implicit unless the declaration lists it', () => {
    const s = anonymousSubject({ anonymous: { '/a': ['GET', 'PUT'] }, resources: ['/a', '/b'] });
    expect(s.methods('/a')).toEqual(['GET', 'PUT']);
    expect(s.methods('/b')).toEqual([]);
    expect(s.methods('/.well-known/core')).toEqual([]);
    expect(s.implicit('/.well-known/core', 'GET')).toBe(true);
    expect(s.implicit('/.well-known/core', 'PUT')).toBe(false);
    expect(anonymousSubject({ anonymous: { '/.well-known/core': [] }, resources: [] }).implicit('/.well-known/core', 'GET')).toBe(false);
  });
});
