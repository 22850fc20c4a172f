// transport.tls through the real planner and runner: against the reference
// device's mqtts and https (hardened, and accepting TLS 1.0/1.1), against
// HTTPS servers on 127.0.0.1 port 0 serving certificates made here (expired,
// wrong host, another CA, self-signed, RSA-1024, SHA-1-signed), and against
// no TLS at all (a closed port, a plain TCP server).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { transportTls, WEAK_SUITE_CLASSES } from '../../../harness/checks/transport/tls.js';
import { expired, issueLeaf, newCa, selfSigned, wrongHost, type Ca, type Issued } from '../../../harness/core/certs.js';
import { targetFromObject, type TargetFileInput } from '../../../harness/core/target-file.js';
import type { CheckResult } from '../../../harness/model/index.js';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';
import { closeFakes, closedPort, contextFor, HOST, tcpServer } from '../access/fakes.js';
import { runAgainst } from '../../support/run-target.js';

/** Hardened servers here: TLS 1.2+, Node's default suites without the SHA-1 MAC ones. */
const HARDENED_CIPHERS = 'DEFAULT:!SHA1';

const dir = mkdtempSync(join(tmpdir(), 'gauntlet-tls-check-'));
const ca = newCa('TLS check test CA', 'tls-check-ca');
const otherCa = newCa('Some other CA', 'tls-check-other-ca');
const caFile = pemFile('ca.pem', ca.certPem);

const devices: RunningDevice[] = [];
const servers: { server: HttpsServer; sockets: Set<Socket> }[] = [];
afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.close()));
  await Promise.all(
    servers.splice(0).map(({ server, sockets }) => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    }),
  );
  await closeFakes();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pemFile(name: string, pem: string): string {
  const file = join(dir, name);
  writeFileSync(file, pem);
  return file;
}

async function device(legacy: boolean): Promise<RunningDevice> {
  const d = await startReferenceDevice({ factoryFresh: false, flaws: legacy ? ['tls-legacy-version'] : [] });
  devices.push(d);
  return d;
}

/** An HTTPS server answering 200 to everything (so the runner's liveness probe passes). */
async function httpsServer(cert: Issued, opts: { ciphers?: string; minVersion?: 'TLSv1'; maxVersion?: 'TLSv1.1' } = {}): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem, ...opts, ciphers: opts.ciphers ?? HARDENED_CIPHERS }, (_req, res) => res.end('ok'));
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  servers.push({ server, sockets });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  return (server.address() as AddressInfo).port;
}

/** A target with one https interface at `port`. */
function httpsTarget(port: number, tls?: { ca?: string; serverName?: string }): TargetFileInput {
  return {
    format: 'gauntlet-target/1',
    name: 'tls-fake',
    scope: { hosts: [HOST] },
    interfaces: [{ id: 'web', protocol: 'https', url: `https://${HOST}:${port}`, ...(tls ? { tls } : {}) }],
  } as TargetFileInput;
}

async function runCheck(target: TargetFileInput, id: string): Promise<CheckResult> {
  const run = await runAgainst(target, { checks: [transportTls], ioTimeoutMs: 1000 });
  const r = run.byId.get(id);
  expect(r, `no ${id} in ${[...run.byId.keys()].join(', ')}`).toBeDefined();
  return r!;
}

const DAY = 24 * 3600 * 1000;

/** A leaf for 127.0.0.1 issued by `issuer` with a fresh RSA key of `bits` bits, signed with `md` (certs.ts fixes 2048 and SHA-256). */
function forgeLeaf(issuer: Ca, opts: { bits: number; md: 'sha1' | 'sha256' }): Issued {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: opts.bits });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const priv = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(priv.n, priv.e);
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - DAY);
  cert.validity.notAfter = new Date(Date.now() + 30 * DAY);
  cert.setSubject([{ name: 'commonName', value: HOST }]);
  cert.setIssuer(issuer.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 7, ip: HOST }] },
  ]);
  cert.sign(issuer.key, forge.md[opts.md].create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

const summaries = (r: { findings: readonly { summary: string }[] }) => r.findings.map((f) => f.summary);
const day = (d: Date) => d.toISOString().slice(0, 10);
const in30Days = () => day(new Date(Date.now() + 30 * DAY));

/**
 * The weak-suite part of a reason as this Node should produce it, the
 * "offerable" split decided here, independently of the check: a class whose
 * cipher string this OpenSSL cannot build is "not offered: this client cannot".
 */
function suitePart(accepted: readonly string[] = []): string {
  const offerable = (c: string) => {
    try {
      createSecureContext({ maxVersion: 'TLSv1.2', ciphers: `${c}:@SECLEVEL=0` });
      return true;
    } catch {
      return false;
    }
  };
  const cannot = WEAK_SUITE_CLASSES.filter((c) => !offerable(c.ciphers)).map((c) => c.name);
  const refused = WEAK_SUITE_CLASSES.map((c) => c.name).filter((n) => !cannot.includes(n) && !accepted.some((a) => a.startsWith(`${n}:`)));
  return [
    `${refused.length} of ${WEAK_SUITE_CLASSES.length} refused (${refused.join(', ')})`,
    ...(accepted.length ? [`${accepted.length} accepted (${accepted.join(', ')})`] : []),
    ...(cannot.length ? [`${cannot.length} not offered: this client cannot (${cannot.join(', ')})`] : []),
  ].join(', ');
}

/** The check run directly (no liveness probes around it), for targets the runner's probe would call dead. */
async function runDirect(target: TargetFileInput, ioTimeoutMs = 400) {
  return transportTls.run(contextFor(targetFromObject(target, 'test-target'), { ioTimeoutMs }));
}

describe('the probe tables', () => {
  it('7 weak suite classes; this Node (OpenSSL 3) cannot build EXPORT, RC4 or 3DES suites', () => {
    expect(WEAK_SUITE_CLASSES.map((c) => c.name)).toEqual(['eNULL', 'aNULL', 'EXPORT', 'RC4', '3DES', 'MD5', 'CBC-SHA1']);
    if (process.versions.openssl.startsWith('3.')) expect(suitePart()).toBe('4 of 7 refused (eNULL, aNULL, MD5, CBC-SHA1), 3 not offered: this client cannot (EXPORT, RC4, 3DES)');
  });
});

describe('transport.tls on the reference device (mqtts and https, device CA declared)', () => {
  it('hardened: TLS 1.2 and 1.3, TLS 1.0/1.1 and every weak suite class refused, a sound EC certificate: pass', async () => {
    // The listeners drop the SHA-1 MAC suites from Node's defaults: with them
    // (HIGH keeps ECDHE-ECDSA-AES*-SHA) this check failed the device, rightly.
    const d = await device(false);
    const t0 = Date.now();
    const run = await runAgainst(d.targetFile(), { checks: [transportTls], ioTimeoutMs: 1000 });
    const wall = Date.now() - t0;
    for (const id of ['mqtts', 'https']) {
      const r = run.byId.get(`transport.tls@${id}`)!;
      expect(r, id).toBeDefined();
      expect(r.verdict, r.reason).toBe('pass');
      expect(r.reason).toMatch(
        new RegExp(
          `^TLS 1\\.2 and 1\\.3; TLS 1\\.0/1\\.1 refused; weak suite classes: ${esc(suitePart())}; certificate EC 256-bit, ecdsa-with-SHA256, valid to \\d{4}-\\d\\d-\\d\\d, names 127\\.0\\.0\\.1, chains to the declared CA$`,
        ),
      );
      expect(r.cases).toBe(1 + 4 + 7);
      console.log(`transport.tls@${id} on the hardened reference device: check ${r.durationMs} ms`);
    }
    console.log(`transport.tls on the hardened reference device (2 instances, with liveness probes): ${wall} ms wall`);
  });

  it('legacy (TLS 1.0/1.1 accepted): both fail with a TLS 1.0 and a TLS 1.1 finding', async () => {
    const d = await device(true);
    const run = await runAgainst(d.targetFile(), { checks: [transportTls], ioTimeoutMs: 1000 });
    expect(run.failing).toEqual(['transport.tls@https', 'transport.tls@mqtts']);
    for (const id of ['mqtts', 'https']) {
      const r = run.byId.get(`transport.tls@${id}`)!;
      expect(summaries(r)).toEqual([
        'accepts TLS 1.0: a ClientHello offering only TLS 1.0 completed with TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA',
        'accepts TLS 1.1: a ClientHello offering only TLS 1.1 completed with TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA',
        // The legacy listeners run OpenSSL's DEFAULT list at security level 0: SHA-1 MAC suites too.
        'accepts TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA (CBC-SHA1: CBC with a SHA-1 MAC)',
      ]);
      expect(r.reason).toMatch(/^3 findings: TLS 1\.2 and 1\.3; TLS 1\.0\/1\.1 accepted; /);
      const v10 = r.findings[0]!.evidence;
      expect(v10.observed).toBe('TLS 1.0 alone -> handshake completed, TLS 1.0 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA');
      expect(v10.transcript.map((e) => e.decoded)).toEqual([
        'TLS ClientHello offering TLS 1.0 to TLS 1.0, ciphers DEFAULT:@SECLEVEL=0',
        expect.stringMatching(/^handshake completed: TLS 1\.0 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA; /),
      ]);
    }
  });
});

describe('transport.tls: certificates (an HTTPS server on port 0, TLS 1.2+, no SHA-1 suites)', () => {
  const PASS_PREFIX = () => `TLS 1.2 and 1.3; TLS 1.0/1.1 refused; weak suite classes: ${suitePart()}; certificate RSA 2048-bit, sha256WithRSAEncryption`;

  it('a leaf from the declared CA: pass, with the whole reason and the trail of 12 handshakes', async () => {
    const port = await httpsServer(issueLeaf(ca, { host: HOST }));
    const r = await runCheck(httpsTarget(port, { ca: caFile }), 'transport.tls@web');
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.reason).toBe(`${PASS_PREFIX()}, valid to ${in30Days()}, names 127.0.0.1, chains to the declared CA`);
    expect(r.cases).toBe(12);
    const notes = r.evidence!.transcript.filter((e) => e.dir === 'note' && e.peer === '-').map((e) => e.decoded);
    expect(notes[0]).toMatch(/^Node defaults \(TLS 1\.2 to 1\.3\) -> completed, TLS 1\.3 TLS_/);
    expect(notes.slice(1, 5)).toEqual([
      expect.stringMatching(/^TLS 1\.0 alone -> refused: /),
      expect.stringMatching(/^TLS 1\.1 alone -> refused: /),
      expect.stringMatching(/^TLS 1\.2 alone -> completed, TLS 1\.2 TLS_ECDHE_RSA_WITH_AES_\d+_GCM_SHA\d+$/),
      expect.stringMatching(/^TLS 1\.3 alone -> completed, TLS 1\.3 TLS_/),
    ]);
    expect(notes).toContain('CBC-SHA1 suites alone (TLS 1.2) -> refused: ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE (sslv3 alert handshake failure)');
    expect(r.evidence!.declared).toContain('tls.ca of interface web');
  });

  it('expired: a finding; the chain not judged apart (OpenSSL reports the expiry alone)', async () => {
    const port = await httpsServer(expired(ca, { host: HOST }));
    const r = await runCheck(httpsTarget(port, { ca: caFile }), 'transport.tls@web');
    expect(r.verdict, r.reason).toBe('fail');
    const yesterday = day(new Date(Date.now() - DAY));
    expect(summaries(r)).toEqual([`certificate expired on ${yesterday}`]);
    expect(r.reason).toMatch(new RegExp(`, expired ${yesterday}, names 127\\.0\\.0\\.1, chain not judged apart \\(verification: CERT_HAS_EXPIRED\\)$`));
    expect(r.findings[0]!.evidence.observed).toMatch(/^certificate CN=127\.0\.0\.1, O=Gauntlet test issued by CN=TLS check test CA, O=Gauntlet test: valid .* to .*; now /);
  });

  it('wrong host: a finding naming the SANs; the chain is still judged (it verifies)', async () => {
    const port = await httpsServer(wrongHost(ca, { host: HOST }));
    const r = await runCheck(httpsTarget(port, { ca: caFile }), 'transport.tls@web');
    expect(r.verdict, r.reason).toBe('fail');
    expect(summaries(r)).toEqual(['certificate does not name 127.0.0.1 (the interface host): subjectAltName IP Address:127.0.0.2']);
    expect(r.reason).toMatch(/, does not name 127\.0\.0\.1, chains to the declared CA$/);
  });

  it('tls.serverName: the name judged is the declared one', async () => {
    const port = await httpsServer(issueLeaf(ca, { host: 'thermo.local' }));
    const named = await runCheck(httpsTarget(port, { ca: caFile, serverName: 'thermo.local' }), 'transport.tls@web');
    expect(named.verdict, named.reason).toBe('pass');
    expect(named.reason).toMatch(/, names thermo\.local, chains to the declared CA$/);
    const r = await runCheck(httpsTarget(port, { ca: caFile }), 'transport.tls@web');
    expect(summaries(r)).toEqual(['certificate does not name 127.0.0.1 (the interface host): subjectAltName DNS:thermo.local']);
  });

  it('a leaf from another CA than the declared one: a finding with the verification error', async () => {
    const port = await httpsServer(issueLeaf(otherCa, { host: HOST }));
    const r = await runCheck(httpsTarget(port, { ca: caFile }), 'transport.tls@web');
    expect(r.verdict, r.reason).toBe('fail');
    expect(summaries(r)).toEqual(['certificate does not chain to the declared CA: UNABLE_TO_VERIFY_LEAF_SIGNATURE']);
    expect(r.findings[0]!.evidence.observed).toMatch(/: verification against interfaces\.web\.tls\.ca failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE$/);
  });

  it('self-signed: pass without a declared CA (the chain only noted); with one, a finding', async () => {
    const port = await httpsServer(selfSigned({ host: HOST }));
    const r = await runCheck(httpsTarget(port), 'transport.tls@web');
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.reason).toBe(`${PASS_PREFIX()}, valid to ${in30Days()}, names 127.0.0.1, no CA declared: chain not judged (DEPTH_ZERO_SELF_SIGNED_CERT)`);
    expect(r.evidence!.transcript.map((e) => e.decoded)).toContain('no tls.ca on interface web: chain not judged (DEPTH_ZERO_SELF_SIGNED_CERT)');
    const declared = await runCheck(httpsTarget(port, { ca: caFile }), 'transport.tls@web');
    expect(summaries(declared)).toEqual(['certificate does not chain to the declared CA: DEPTH_ZERO_SELF_SIGNED_CERT']);
  });

  it('an RSA-1024 key: a finding (under 112-bit strength)', async () => {
    const port = await httpsServer(forgeLeaf(ca, { bits: 1024, md: 'sha256' }));
    const r = await runCheck(httpsTarget(port, { ca: caFile }), 'transport.tls@web');
    expect(r.verdict, r.reason).toBe('fail');
    expect(summaries(r)).toEqual(['weak certificate key: RSA 1024 bits (under 112-bit strength; at least 2048 bits)']);
    expect(r.reason).toMatch(/; certificate RSA 1024-bit, sha256WithRSAEncryption, valid to .*, chains to the declared CA$/);
  });

  it('a SHA-1 signature: one finding (the verification failure it causes is not a second one)', async () => {
    // OpenSSL 3 will not even load a SHA-1-signed certificate at its default security level.
    const port = await httpsServer(forgeLeaf(ca, { bits: 2048, md: 'sha1' }), { ciphers: `${HARDENED_CIPHERS}:@SECLEVEL=0` });
    const r = await runCheck(httpsTarget(port, { ca: caFile }), 'transport.tls@web');
    expect(r.verdict, r.reason).toBe('fail');
    expect(summaries(r)).toEqual(['certificate signed with sha1WithRSAEncryption (SHA-1/MD5 signatures are forgeable)']);
    expect(r.reason).toMatch(/, sha1WithRSAEncryption, valid to .*, names 127\.0\.0\.1, chain not judged apart \(verification: \w+\)$/);
  });
});

describe('transport.tls: versions and suites', () => {
  it('a NULL suite accepted: a finding naming the suite', async () => {
    // Named alone: DEFAULT's `!eNULL` would delete NULL-SHA256 for good, wherever it stood.
    const port = await httpsServer(issueLeaf(ca, { host: HOST }), { ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:NULL-SHA256:@SECLEVEL=0' });
    const r = await runCheck(httpsTarget(port, { ca: caFile }), 'transport.tls@web');
    expect(r.verdict, r.reason).toBe('fail');
    expect(summaries(r)).toEqual(['accepts TLS_RSA_WITH_NULL_SHA256 (eNULL: no encryption)']);
    expect(r.reason).toContain(`weak suite classes: ${suitePart(['eNULL: TLS_RSA_WITH_NULL_SHA256'])};`);
  });

  it('TLS 1.0/1.1 only: three findings, the certificate judged from the TLS 1.1 handshake', async () => {
    // Run directly: the runner's liveness probe speaks TLS 1.2+ and would call this server dead.
    const port = await httpsServer(issueLeaf(ca, { host: HOST }), { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' });
    const o = await runDirect(httpsTarget(port, { ca: caFile }));
    expect(o.verdict, o.reason).toBe('fail');
    expect(summaries(o)).toEqual([
      'offers neither TLS 1.2 nor TLS 1.3: only TLS 1.0 and 1.1',
      expect.stringMatching(/^accepts TLS 1\.0: a ClientHello offering only TLS 1\.0 completed with TLS_/),
      expect.stringMatching(/^accepts TLS 1\.1: a ClientHello offering only TLS 1\.1 completed with TLS_/),
    ]);
    expect(o.reason).toMatch(/^3 findings: neither TLS 1\.2 nor 1\.3 \(TLS 1\.2 refused, TLS 1\.3 refused\); TLS 1\.0\/1\.1 accepted; weak suite classes: /);
    expect(o.reason).toMatch(/, chains to the declared CA \(from TLS 1\.1 alone\)$/);
  });
});

describe('transport.tls: no TLS to judge', () => {
  const EVERY = 'every ClientHello (Node defaults (TLS 1.2 to 1.3), TLS 1.0 alone, TLS 1.1 alone, TLS 1.2 alone, TLS 1.3 alone)';

  it('a closed port: inconclusive (through the runner: its liveness probe; alone: no handshake completed)', async () => {
    const port = await closedPort('tcp');
    const r = await runCheck(httpsTarget(port), 'transport.tls@web');
    expect(r.verdict).toBe('inconclusive');
    const o = await runDirect(httpsTarget(port));
    expect(o.verdict).toBe('inconclusive');
    expect(o.reason).toBe(`no TLS handshake completed: ${EVERY} -> cannot connect: ECONNREFUSED`);
    expect(o.cases).toBe(5);
  });

  it('a plain TCP server on an https interface: inconclusive, silent or answering plain text', async () => {
    const silent = await tcpServer();
    const r = await runCheck(httpsTarget(silent.port), 'transport.tls@web');
    expect(r.verdict).toBe('inconclusive');
    const o = await runDirect(httpsTarget(silent.port), 200);
    expect(o.verdict).toBe('inconclusive');
    expect(o.reason).toBe(`no TLS handshake completed: ${EVERY} -> no handshake within 200ms`);
    expect(o.findings).toEqual([]);

    const talker = await tcpServer('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
    const t = await runDirect(httpsTarget(talker.port));
    expect(t.verdict).toBe('inconclusive');
    expect(t.reason).toMatch(/^no TLS handshake completed: every ClientHello .* -> refused: .*\(is the port speaking TLS\?\)$/);
  });
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
