// transport.dtls-handshake through the real planner and runner, against the
// reference device (hardened, and with its dtls-no-cookie and dtls-weak-suite
// flaws), against targets whose declaration lies or is missing, against no
// DTLS server at all, and against libcoap 4.3.1's coap-server-openssl.

import { afterEach, describe, expect, inject, it } from 'vitest';
import { dtlsHandshake, MAX_UNDECLARED, undeclaredCandidates } from '../../../harness/checks/transport/dtls-handshake.js';
import type { TargetFileInput } from '../../../harness/core/target-file.js';
import type { CheckResult } from '../../../harness/model/index.js';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import {
  CIPHER_SUITES,
  ContentType,
  DTLS1_0,
  DTLS1_2,
  HandshakeType,
  SUITE_IDS_BY_NAME,
  encodeHandshake,
  encodeRecord,
  encodeServerHello,
  parseClientHello,
  parseHandshake,
  parseRecords,
} from '../../../harness/protocols/dtls/codec.js';
import { describeOutcome, helloProbe } from '../../../harness/protocols/dtls/hello-probe.js';
import { startLibcoap, type LibcoapHandle } from '../../../targets/interop/libcoap.js';
import { startReferenceDevice, type Flaw, type RunningDevice } from '../../../targets/reference-device/index.js';
import { closeFakes, closedPort, contextFor, targetOf, udpServer, type UdpHandler } from '../access/fakes.js';
import { runAgainst } from '../../support/run-target.js';
import { LIBCOAP_SUITES } from '../../support/libcoap.js';

const ID = 'transport.dtls-handshake@coaps';
const DECLARED = ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_GCM_SHA256'];
const interop = inject('interop');

const devices: RunningDevice[] = [];
const servers: LibcoapHandle[] = [];
afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await closeFakes();
});

async function device(flaws: Flaw[] = []): Promise<RunningDevice> {
  const d = await startReferenceDevice({ flaws, factoryFresh: false });
  devices.push(d);
  return d;
}

/** The device's target file with its coaps declaration replaced (undefined: removed). */
function withDtls(d: RunningDevice, dtls: { suites: string[]; cookie: boolean } | undefined): TargetFileInput {
  const t = d.targetFile();
  const declaration = { ...t.declaration, dtls: dtls ? { coaps: { versions: ['1.2' as const], ...dtls } } : {} };
  return { ...t, declaration } as TargetFileInput;
}

async function runCheck(target: TargetFileInput): Promise<CheckResult> {
  const run = await runAgainst(target, { checks: [dtlsHandshake], ioTimeoutMs: 500 });
  const r = run.byId.get(ID);
  expect(r, `no ${ID} in ${[...run.byId.keys()].join(', ')}`).toBeDefined();
  return r!;
}

const findings = (r: CheckResult) => r.findings.map((f) => [f.summary, f.severity]);

describe('undeclaredCandidates', () => {
  it('weak first, worst class first, bounded, without the declared suites', () => {
    const declared = new Set(DECLARED.map((n) => SUITE_IDS_BY_NAME.get(n)!));
    const { probe, total } = undeclaredCandidates(declared);
    expect(total).toBe(53);
    expect(probe).toHaveLength(MAX_UNDECLARED);
    const names = probe.map((s) => s.name);
    expect(names.some((n) => DECLARED.includes(n))).toBe(false);
    expect(names.slice(0, 2)).toEqual(['TLS_ECDH_anon_WITH_NULL_SHA', 'TLS_PSK_WITH_NULL_SHA']); // null first, then table order
    expect(names).toContain('TLS_PSK_WITH_NULL_SHA256');
    expect(names).toContain('TLS_PSK_WITH_AES_128_CBC_SHA');
    expect(names).toContain('TLS_DH_anon_WITH_AES_128_GCM_SHA256');
    // every weak candidate is in, before every strong one
    const firstStrong = probe.findIndex((s) => s.weakness === undefined);
    expect(probe.slice(firstStrong).every((s) => s.weakness === undefined)).toBe(true);
    expect(firstStrong).toBe(36);
    // strong DHE/ECDHE/RSA_PSK suites are not candidates; plain PSK ones are
    expect(names).not.toContain('TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256');
    expect(names).toContain('TLS_PSK_WITH_AES_256_GCM_SHA384');
  });
});

describe('transport.dtls-handshake on the reference device', () => {
  it('hardened: pass, DTLS 1.0 refused, cookie first, declared accepted, 40 undeclared refused', async () => {
    const d = await device();
    const t0 = Date.now();
    const r = await runCheck(d.targetFile());
    const wall = Date.now() - t0;
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.reason).toBe(
      'DTLS 1.2 only (a DTLS 1.0 ClientHello got alert fatal protocol_version(70) after a 32B cookie); HelloVerifyRequest first (a 32B cookie); 2 of 2 declared suites accepted; 40 undeclared refused (the first 40 of 53 PSK/anon candidates, weak first)',
    );
    expect(r.cases).toBe(2 + 2 + 40);
    expect(r.evidence?.source).toBe('target:declaration.dtls.coaps');
    expect(r.evidence?.declared).toBe(`versions: 1.2; suites: ${DECLARED.join(', ')}; cookie: true`);
    const trail = r.evidence!.transcript.map((e) => e.decoded);
    expect(trail).toHaveLength(44);
    expect(trail[0]).toMatch(/^cookie: .* -> HelloVerifyRequest with a \d+B cookie$/);
    expect(trail).toContain('undeclared TLS_PSK_WITH_NULL_SHA256 (cookie followed) -> alert fatal handshake_failure(40) after a 32B cookie');
    console.log(`transport.dtls-handshake on the hardened reference device: ${wall} ms wall (check ${r.durationMs} ms)`);
  });

  it('dtls-no-cookie: one high finding, the ServerHello to a cookieless ClientHello', async () => {
    const d = await device(['dtls-no-cookie']);
    const r = await runCheck(d.targetFile());
    expect(r.verdict, r.reason).toBe('fail');
    expect(findings(r)).toEqual([
      [
        'no HelloVerifyRequest: a ClientHello v1.2 [TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_GCM_SHA256] without a cookie got ServerHello TLS_PSK_WITH_AES_128_CCM_8, no HelloVerifyRequest first; the server keeps handshake state for an address it never verified (amplification, state exhaustion)',
        'high',
      ],
    ]);
    const f = r.findings[0]!;
    expect(f.evidence.source).toBe('target:declaration.dtls.coaps');
    expect(f.evidence.declared).toBe('declaration.dtls.coaps.cookie: true');
    expect(f.evidence.transcript.map((e) => `${e.dir} ${e.decoded}`)).toEqual([
      expect.stringMatching(/^sent ClientHello v1\.2 suites=\[TLS_PSK_WITH_AES_128_CCM_8,TLS_PSK_WITH_AES_128_GCM_SHA256\] cookie=0B/),
      expect.stringMatching(/^received ServerHello v1\.2 suite=TLS_PSK_WITH_AES_128_CCM_8/),
      'sent Alert fatal user_canceled(90) (probe done)',
    ]);
    expect(f.requirements).toEqual(expect.arrayContaining(['EN-18031-1:RLM-1', 'ETSI-EN-303-645:5.1-3']));
  });

  it('dtls-weak-suite: high findings naming TLS_PSK_WITH_NULL_SHA256 and TLS_PSK_WITH_AES_128_CBC_SHA', async () => {
    const d = await device(['dtls-weak-suite']);
    const r = await runCheck(d.targetFile());
    expect(r.verdict, r.reason).toBe('fail');
    expect(findings(r)).toEqual([
      ['accepted TLS_PSK_WITH_NULL_SHA256 (null: no encryption)', 'high'],
      ['accepted TLS_PSK_WITH_AES_128_CBC_SHA (cbc-sha1: CBC with a SHA-1 MAC)', 'high'],
    ]);
    const f = r.findings[0]!;
    expect(f.evidence.source).toBe('policy:C06');
    expect(f.evidence.transcript.map((e) => e.decoded)).toContainEqual(expect.stringMatching(/^ServerHello v1\.2 suite=TLS_PSK_WITH_NULL_SHA256/));
    expect(r.reason).toMatch(/38 undeclared refused, 2 accepted/);
  });

  it('a declared suite the device refuses: a low finding (the declaration is wrong)', async () => {
    const d = await device();
    const r = await runCheck(withDtls(d, { suites: [...DECLARED, 'TLS_PSK_WITH_AES_256_CCM_8'], cookie: true }));
    expect(r.verdict, r.reason).toBe('fail');
    expect(findings(r)).toEqual([['declared suite TLS_PSK_WITH_AES_256_CCM_8 refused (alert fatal handshake_failure(40) after a 32B cookie)', 'low']]);
    expect(r.findings[0]!.evidence.declared).toBe(`versions: 1.2; suites: ${DECLARED.join(', ')}, TLS_PSK_WITH_AES_256_CCM_8; cookie: true`);
    expect(r.reason).toMatch(/2 of 3 declared suites accepted/);
  });

  it('no declaration for the interface: the policy alone, declared-suite cases skipped, strong suites accepted without a finding', async () => {
    const d = await device();
    const r = await runCheck(withDtls(d, undefined));
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.reason).toBe(
      'DTLS 1.2 only (a DTLS 1.0 ClientHello got alert fatal protocol_version(70) after a 32B cookie); HelloVerifyRequest first (a 32B cookie); no declaration.dtls.coaps: declared-suite cases skipped, the policy alone applies; 39 undeclared refused, 1 accepted (the first 40 of 55 PSK/anon candidates, weak first)',
    );
    expect(r.evidence!.transcript.map((e) => e.decoded)).toContain('TLS_PSK_WITH_AES_128_GCM_SHA256 accepted: no declaration to hold it against, and no weakness');
    expect(r.evidence!.transcript[0]!.decoded).toMatch(/^cookie: ClientHello \[TLS_PSK_WITH_AES_128_CCM_8\] without a cookie/);
    expect(r.evidence?.source).toBe('policy:C06,C16');
    expect(r.cases).toBe(2 + 40);
  });

  it('no declaration and no cookie: the policy makes it a finding', async () => {
    const d = await device(['dtls-no-cookie']);
    const r = await runCheck(withDtls(d, undefined));
    expect(r.verdict, r.reason).toBe('fail');
    expect(findings(r)).toEqual([[expect.stringMatching(/^no HelloVerifyRequest: .*TLS_PSK_WITH_AES_128_CCM_8/), 'high']]);
    expect(r.findings[0]!.evidence.source).toBe('policy:C16');
  });

  it('declared cookie: false and no cookie: noted, not failed', async () => {
    const d = await device(['dtls-no-cookie']);
    const r = await runCheck(withDtls(d, { suites: DECLARED, cookie: false }));
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.reason).toBe(
      'DTLS 1.2 only (a DTLS 1.0 ClientHello got alert fatal protocol_version(70)); no HelloVerifyRequest, as declared (cookie: false); 2 of 2 declared suites accepted; 40 undeclared refused (the first 40 of 53 PSK/anon candidates, weak first)',
    );
    expect(r.evidence!.transcript.at(-1)!.decoded).toBe(
      'a ClientHello v1.2 [TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_GCM_SHA256] without a cookie got ServerHello TLS_PSK_WITH_AES_128_CCM_8, no HelloVerifyRequest first: allowed by declaration.dtls.coaps.cookie: false',
    );
  });

  it('declared cookie: false but a cookie demanded: a low declaration mismatch', async () => {
    const d = await device();
    const r = await runCheck(withDtls(d, { suites: DECLARED, cookie: false }));
    expect(r.verdict, r.reason).toBe('fail');
    expect(findings(r)).toEqual([['declaration mismatch: cookie: false is declared but a ClientHello without a cookie gets a HelloVerifyRequest (a 32B cookie)', 'low']]);
  });
});

describe('transport.dtls-handshake with nothing answering', () => {
  const target = (port: number) =>
    ({
      format: 'gauntlet-target/1',
      name: 'no-dtls',
      scope: { hosts: ['127.0.0.1'] },
      interfaces: [{ id: 'coaps', protocol: 'coaps', url: `coaps://127.0.0.1:${port}` }],
      declaration: { dtls: { coaps: { versions: ['1.2'], suites: DECLARED, cookie: true } } },
    }) satisfies TargetFileInput;

  it('a closed port through the runner: inconclusive, not pass', async () => {
    const r = await runCheck(target(await closedPort('udp')));
    expect(r.verdict, r.reason).toBe('inconclusive');
    expect(r.reason).toBe('target not answering before the check: unreachable: ECONNREFUSED');
    expect(r.findings).toEqual([]);
  });

  it('a closed port, the check alone (no liveness probe around it): inconclusive, no finding for the declared suites', async () => {
    const t = targetOf({ interfaces: target(await closedPort('udp')).interfaces, declaration: target(0).declaration });
    const r = await dtlsHandshake.run(contextFor(t, { ioTimeoutMs: 200 }));
    expect(r.verdict, r.reason).toBe('inconclusive');
    expect(r.reason).toBe('nothing answered: 4 ClientHellos (cookie, version, 2 declared suites) got no reply');
    expect(r.findings).toEqual([]);
  });

  it('a silent UDP port, the check alone: inconclusive', async () => {
    const silent = await udpServer();
    const t = targetOf({ interfaces: target(silent.port).interfaces, declaration: target(0).declaration });
    const r = await dtlsHandshake.run(contextFor(t, { ioTimeoutMs: 200 }));
    expect(r.verdict, r.reason).toBe('inconclusive');
    expect(silent.seen.length).toBeGreaterThanOrEqual(4);
  });
});

/** Answers every ClientHello at once (no cookie) with a ServerHello echoing its version and picking its first suite. */
const yesServer: UdpHandler = (msg, from, sock) => {
  const rec = parseRecords(msg).records[0];
  if (rec?.type !== ContentType.handshake) return;
  const h = parseHandshake(rec.fragment);
  const m = h.ok ? h.value[0] : undefined;
  if (m?.msgType !== HandshakeType.client_hello) return;
  const hello = parseClientHello(m.body);
  if (!hello.ok || hello.value.suites[0] === undefined) return;
  const body = encodeServerHello({ version: hello.value.version, random: new Uint8Array(32).fill(7), sessionId: new Uint8Array(0), suite: hello.value.suites[0], compression: 0 });
  const fragment = encodeHandshake({ msgType: HandshakeType.server_hello, messageSeq: m.messageSeq, body });
  sock.send(encodeRecord({ type: ContentType.handshake, version: hello.value.version, epoch: 0, sequence: rec.sequence, fragment }), from.port, from.address);
};

describe('transport.dtls-handshake on a server that says yes to everything', () => {
  it('no cookie, DTLS 1.0 accepted, every weak suite accepted: high findings; strong undeclared ones medium', async () => {
    const yes = await udpServer(yesServer);
    const r = await runCheck({
      format: 'gauntlet-target/1',
      name: 'yes',
      scope: { hosts: ['127.0.0.1'] },
      interfaces: [{ id: 'coaps', protocol: 'coaps', url: `coaps://127.0.0.1:${yes.port}` }],
      declaration: { dtls: { coaps: { versions: ['1.2'], suites: DECLARED, cookie: true } } },
    });
    expect(r.verdict, r.reason).toBe('fail');
    expect(findings(r).slice(0, 2)).toEqual([
      [expect.stringMatching(/^no HelloVerifyRequest: /), 'high'],
      [expect.stringMatching(/^DTLS 1\.0 accepted: version: ClientHello v1\.0 .* got ServerHello v1\.0 \(TLS_PSK_WITH_AES_128_CCM_8\)$/), 'high'],
    ]);
    const rest = r.findings.slice(2);
    expect(rest.filter((f) => f.severity === 'high')).toHaveLength(36);
    expect(rest.filter((f) => f.severity === 'medium').map((f) => f.summary)).toEqual([
      'accepted undeclared suite TLS_PSK_WITH_AES_256_GCM_SHA384',
      'accepted undeclared suite TLS_PSK_WITH_AES_128_CBC_SHA256',
      'accepted undeclared suite TLS_PSK_WITH_AES_256_CBC_SHA384',
      'accepted undeclared suite TLS_PSK_WITH_ARIA_128_CBC_SHA256',
    ]);
    expect(rest[0]!.summary).toBe('accepted TLS_ECDH_anon_WITH_NULL_SHA (null: no encryption)');
    expect(r.reason).toMatch(/^42 findings: DTLS 1\.0 accepted; no HelloVerifyRequest; 2 of 2 declared suites accepted; 0 undeclared refused, 40 accepted/);
  });
});

describe('transport.dtls-handshake on a server that drops a declared suite', () => {
  const GCM = SUITE_IDS_BY_NAME.get('TLS_PSK_WITH_AES_128_GCM_SHA256')!;
  /** Says yes to everything, but drops the first `drops` ClientHellos that offer only AES-128-GCM (Infinity: every one). One probe sends a ClientHello and two retransmissions. */
  function dropping(drops: number): UdpHandler {
    let dropped = 0;
    return (msg, from, sock) => {
      const rec = parseRecords(msg).records[0];
      const h = rec?.type === ContentType.handshake ? parseHandshake(rec.fragment) : undefined;
      const hello = h?.ok && h.value[0]?.msgType === HandshakeType.client_hello ? parseClientHello(h.value[0].body) : undefined;
      if (hello?.ok && hello.value.suites.length === 1 && hello.value.suites[0] === GCM && dropped < drops) {
        dropped++;
        return;
      }
      yesServer(msg, from, sock);
    };
  }
  const target = (port: number): TargetFileInput => ({
    format: 'gauntlet-target/1',
    name: 'drops',
    scope: { hosts: ['127.0.0.1'] },
    interfaces: [{ id: 'coaps', protocol: 'coaps', url: `coaps://127.0.0.1:${port}` }],
    declaration: { dtls: { coaps: { versions: ['1.2'], suites: DECLARED, cookie: true } } },
  });

  it('one probe unanswered (its ClientHello and both retransmissions dropped): asked again, the declared suite is accepted, no finding for it', async () => {
    const server = await udpServer(dropping(3));
    const r = await runCheck(target(server.port));
    expect(r.reason).toMatch(/; 2 of 2 declared suites accepted; /);
    expect(r.findings.map((f) => f.summary).filter((s) => s.startsWith('declared suite'))).toEqual([]);
  });

  it('silent every time: asked twice, then a low finding (the declaration is wrong)', async () => {
    const server = await udpServer(dropping(Infinity));
    const r = await runCheck(target(server.port));
    expect(r.reason).toMatch(/; 1 of 2 declared suites accepted; /);
    expect(findings(r).filter(([s]) => String(s).startsWith('declared suite'))).toEqual([[expect.stringMatching(/^declared suite TLS_PSK_WITH_AES_128_GCM_SHA256 refused \(/), 'low']]);
  });
});

describe('transport.dtls-handshake on a server that refuses everything at once', () => {
  /** A fatal handshake_failure to every datagram: no HelloVerifyRequest, no ServerHello. */
  const noServer: UdpHandler = (_msg, from, sock) => {
    sock.send(encodeRecord({ type: ContentType.alert, version: DTLS1_2, epoch: 0, sequence: 0, fragment: Uint8Array.from([2, 40]) }), from.port, from.address);
  };

  it('no declaration: inconclusive, the cookie question cannot be told', async () => {
    const no = await udpServer(noServer);
    const r = await runCheck({ format: 'gauntlet-target/1', name: 'no', scope: { hosts: ['127.0.0.1'] }, interfaces: [{ id: 'coaps', protocol: 'coaps', url: `coaps://127.0.0.1:${no.port}` }] });
    expect(r.verdict, r.reason).toBe('inconclusive');
    expect(r.reason).toMatch(/^no offered suite was accepted and no HelloVerifyRequest came, so whether state is kept before a cookie cannot be told; /);
  });

  it('with a declaration: each declared suite refused is a low finding', async () => {
    const no = await udpServer(noServer);
    const r = await runCheck({
      format: 'gauntlet-target/1',
      name: 'no',
      scope: { hosts: ['127.0.0.1'] },
      interfaces: [{ id: 'coaps', protocol: 'coaps', url: `coaps://127.0.0.1:${no.port}` }],
      declaration: { dtls: { coaps: { versions: ['1.2'], suites: DECLARED, cookie: true } } },
    });
    expect(r.verdict, r.reason).toBe('fail');
    expect(findings(r)).toEqual(DECLARED.map((n) => [`declared suite ${n} refused (alert fatal handshake_failure(40))`, 'low']));
  });
});

describe.skipIf(!interop.coapServerOpenssl)('transport.dtls-handshake on libcoap (coap-server-openssl)', () => {
  async function libcoap(): Promise<{ port: number; target: (suites: string[]) => TargetFileInput }> {
    const server = await startLibcoap({ binary: interop.coapServerOpenssl as string, psk: { key: 'secretPSK', hint: 'CoAP' } });
    servers.push(server);
    const port = server.dtlsPort!;
    return {
      port,
      target: (suites) => ({
        format: 'gauntlet-target/1',
        name: 'libcoap',
        scope: { hosts: ['127.0.0.1'] },
        interfaces: [{ id: 'coaps', protocol: 'coaps', url: `coaps://127.0.0.1:${port}` }],
        declaration: { dtls: { coaps: { versions: ['1.2'], suites, cookie: true } } },
      }),
    };
  }

  it('ground truth: it selects only AEAD PSK suites, none weak; DTLS 1.0 refused after the cookie', async () => {
    const { port } = await libcoap();
    const io = { scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs: 500, peer: 'coaps' };
    const accepted: string[] = [];
    for (const s of CIPHER_SUITES) {
      const o = await helloProbe({ host: '127.0.0.1', port }, { suites: [s.id] }, io);
      if (o.kind === 'server-hello' && o.suite === s.id) accepted.push(s.name);
      else expect(o.kind, `${s.name}: ${describeOutcome(o)}`).toBe('alert');
    }
    expect(accepted).toEqual(LIBCOAP_SUITES);
    const v = await helloProbe({ host: '127.0.0.1', port }, { version: DTLS1_0, suites: CIPHER_SUITES.map((s) => s.id) }, io);
    expect(describeOutcome(v)).toBe('alert fatal protocol_version(70) after a 32B cookie');
  });

  it('declared as it is (the ten suites above): pass', async () => {
    const { target } = await libcoap();
    const r = await runCheck(target(LIBCOAP_SUITES));
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.reason).toBe(
      'DTLS 1.2 only (a DTLS 1.0 ClientHello got alert fatal protocol_version(70) after a 32B cookie); HelloVerifyRequest first (a 32B cookie); 10 of 10 declared suites accepted; 40 undeclared refused (the first 40 of 46 PSK/anon candidates, weak first)',
    );
  });

  it("declared with the reference device's two suites: a medium finding, the undeclared AES-256-GCM it also accepts", async () => {
    const { target } = await libcoap();
    const r = await runCheck(target(DECLARED));
    expect(r.verdict, r.reason).toBe('fail');
    expect(findings(r)).toEqual([['accepted undeclared suite TLS_PSK_WITH_AES_256_GCM_SHA384', 'medium']]);
  });
});
