// transport.tls (C06): the TLS of an mqtts or https interface, probed with
// complete handshakes (protocols/common/stream.ts tlsHandshake), each one
// offering one thing alone, against the policy: TLS 1.2 or 1.3 only; no
// NULL, anon, export, RC4, 3DES, MD5 or CBC-SHA1 suite; a certificate that is
// valid now, names the host, has a key of at least 112-bit strength, is not
// signed with SHA-1 or MD5, and chains to the declared CA.
//   1. Positive control: Node's defaults (TLS 1.2 to 1.3, its default suites).
//      Its certificate is the one judged in case 4.
//   2. Versions alone: TLS 1.0 and TLS 1.1 (at OpenSSL security level 0, or
//      OpenSSL 3 cannot offer them) completing is a finding each [RFC8996 2];
//      TLS 1.2 alone and TLS 1.3 alone are recorded, and a device that
//      completes neither (nor the control) is a finding.
//   3. Each weak suite class alone under TLS 1.2 (TLS 1.3 has no such
//      suites): a completed handshake is a finding naming the suite.
//   4. The certificate of case 1 (else of the first handshake that completed).
// What this Node/OpenSSL cannot offer (OpenSSL 3 builds no export, RC4 or
// 3DES suite) is `unsupported`: named in the reason as "not offered: this
// client cannot", never counted as refused. Silence to a ClientHello counts
// as a refusal (a server that does not speak a version may just hang up or
// wait); a probe that cannot even connect once the control did is not judged,
// and leaves a passing scan inconclusive. No handshake completing at all is
// inconclusive: there is no TLS to judge.
// Without a declared CA (tls.ca on the interface) the chain is only noted:
// a lab that was given no CA cannot tell a device CA from an attacker's.

import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate, type SecureVersion } from 'node:tls';
import type { Check, CheckContext, CheckOutcome, Evidence, FindingDraft, HttpInterface, MqttInterface, TranscriptEntry } from '../../model/index.js';
import { tlsHandshake, versionLabel, type HandshakeOptions, type HandshakeResult, type TlsFacts, type TlsPeer } from '../../protocols/common/stream.js';
import { ioOf } from '../io.js';
import { requirementsOf } from '../requirements.js';

/** What a client needs to offer TLS 1.0/1.1 from OpenSSL 3 (and any suite below its security level 1). */
const SECLEVEL0 = '@SECLEVEL=0';

interface VersionProbe {
  readonly version: SecureVersion;
  readonly legacy: boolean;
}

/** Case 2, in order. */
export const VERSION_PROBES: readonly VersionProbe[] = [
  { version: 'TLSv1', legacy: true },
  { version: 'TLSv1.1', legacy: true },
  { version: 'TLSv1.2', legacy: false },
  { version: 'TLSv1.3', legacy: false },
];

export interface WeakSuiteClass {
  /** How the reason and findings name the class. */
  readonly name: string;
  /** OpenSSL cipher string offering the class alone. */
  readonly ciphers: string;
  readonly text: string;
}

/** Case 3, worst first (the order of dtls-handshake's weakness classes). */
export const WEAK_SUITE_CLASSES: readonly WeakSuiteClass[] = [
  { name: 'eNULL', ciphers: 'eNULL', text: 'no encryption' },
  { name: 'aNULL', ciphers: 'aNULL', text: 'no authentication' },
  { name: 'EXPORT', ciphers: 'EXPORT', text: 'export-grade keys' },
  // [RFC7465 2]: RC4 must not be negotiated.
  { name: 'RC4', ciphers: 'RC4', text: 'RC4, prohibited by RFC 7465' },
  { name: '3DES', ciphers: '3DES', text: '3DES, 64-bit blocks (Sweet32)' },
  { name: 'MD5', ciphers: 'MD5', text: 'an MD5 MAC' },
  {
    name: 'CBC-SHA1',
    ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA:DHE-RSA-AES256-SHA:AES128-SHA:AES256-SHA',
    text: 'CBC with a SHA-1 MAC',
  },
];

const POLICY_VERSIONS = 'policy: TLS 1.2 or TLS 1.3 offered; no SSL 3.0, TLS 1.0 or TLS 1.1 (RFC 8996, SP 800-52r2 3.1)';
const POLICY_SUITES = 'policy: no NULL, anon, export, RC4, 3DES, MD5 or CBC-SHA1 suite accepted';
const POLICY_CERT =
  'policy: certificate valid now, naming the host in its subjectAltName, a key of at least 112-bit strength (RSA/DSA >= 2048, EC >= 256 bits), not signed with SHA-1 or MD5 (SP 800-131A), chaining to the declared CA';

/** Key types judged by modulus size, and by curve size; others (Ed25519, Ed448) are strong by construction. */
const MODULUS_KEYS = new Set(['rsa', 'rsa-pss', 'dsa', 'dh']);
const WEAK_SIG = /sha1|md5|md2/i;
/** Verification errors that say the chain itself verified (Node checks the name only after OpenSSL's verification passed). */
const NAME_ONLY = new Set(['ERR_TLS_CERT_ALTNAME_INVALID']);

type TlsInterface = MqttInterface | HttpInterface;

export const transportTls: Check = {
  id: 'transport.tls',
  title: 'TLS: versions 1.2/1.3 only, no weak suite, a sound certificate',
  catalog: ['C06'],
  requirements: requirementsOf('C06'),
  protocols: ['mqtts', 'https'],
  per: 'interface',
  phase: 'main',
  severity: 'high',
  remedy:
    'Configure the TLS stack for TLS 1.2 and 1.3 only (no SSL 3.0, TLS 1.0 or 1.1); enable only AEAD suites with forward secrecy (ECDHE with AES-GCM or ChaCha20-Poly1305) and no NULL, anon, export, RC4, 3DES, MD5 or CBC-SHA1 suite; serve a certificate issued by the declared device CA, currently valid, with the device host in its subjectAltName, an RSA key of at least 2048 bits or an EC key of at least 256 bits, signed with SHA-256 or better.',
  // 12 handshakes, each bounded by the I/O timeout.
  timeoutMs: 120_000,
  applies: () => undefined,
  run: (ctx) => new TlsScan(ctx, ctx.iface as TlsInterface).run(),
};

interface Probe {
  readonly label: string;
  readonly r: HandshakeResult;
  readonly transcript: readonly TranscriptEntry[];
}

const CONTROL = 'Node defaults (TLS 1.2 to 1.3)';

/** The device answered it (a refusal or silence counts): not a local failure, not a lost connection. */
const judged = (p: Probe | undefined) => p !== undefined && p.r.kind !== 'unsupported' && p.r.kind !== 'unreachable';

const completed = (p: Probe | undefined): p is Probe & { r: { kind: 'ok'; facts: TlsFacts } } => p?.r.kind === 'ok';

class TlsScan {
  private readonly findings: FindingDraft[] = [];
  private readonly all: TranscriptEntry[] = [];
  /** Probes that could not connect after the control did: not judged. */
  private readonly unjudged: string[] = [];
  private cases = 0;

  constructor(
    private readonly ctx: CheckContext,
    private readonly iface: TlsInterface,
  ) {}

  async run(): Promise<CheckOutcome> {
    const { ctx } = this;
    ctx.transcript.take();

    // 1. Positive control.
    const control = await this.send(CONTROL, {});

    // 2. Versions alone.
    const versions = new Map<SecureVersion, Probe>();
    for (const v of VERSION_PROBES) {
      if (ctx.signal.aborted) break;
      const label = `${versionLabel(v.version)} alone`;
      versions.set(v.version, await this.send(label, { minVersion: v.version, maxVersion: v.version, ...(v.legacy ? { ciphers: `DEFAULT:${SECLEVEL0}` } : {}) }));
    }
    const versionProbes = [...versions.values()];
    const basis = [control, versions.get('TLSv1.3'), versions.get('TLSv1.2'), versions.get('TLSv1.1'), versions.get('TLSv1')].find(completed);
    if (!basis) {
      const tried = [control, ...versionProbes];
      const texts = tried.map((p) => describeResult(p.r, ctx.ioTimeoutMs));
      const detail = texts.every((t) => t === texts[0]) ? `every ClientHello (${tried.map((p) => p.label).join(', ')}) -> ${texts[0]}` : tried.map((p, i) => `${p.label} -> ${texts[i]}`).join('; ');
      return { verdict: 'inconclusive', reason: `no TLS handshake completed: ${detail}`, findings: [], cases: this.cases, evidence: this.evidence(`no TLS handshake completed in ${this.cases} attempts`, POLICY_VERSIONS) };
    }

    if (control.r.kind === 'unreachable') this.unjudged.push(`${control.label}: ${control.r.error}`);
    const versionPart = this.judgeVersions(control, versions);

    // 3. Weak suite classes alone, under TLS 1.2.
    const suitePart = await this.judgeSuites();

    // 4. The certificate.
    const certPart = this.judgeCertificate(basis);

    const breakdown = `${versionPart}; ${suitePart}; ${certPart}`;
    const evidence = this.evidence(`${this.cases} TLS handshakes: ${breakdown}`, `${POLICY_VERSIONS}; ${POLICY_SUITES}; ${POLICY_CERT}`);
    if (this.findings.length > 0) return { verdict: 'fail', reason: `${this.findings.length} finding${this.findings.length === 1 ? '' : 's'}: ${breakdown}`, findings: this.findings, cases: this.cases, evidence };
    if (ctx.signal.aborted) return { verdict: 'inconclusive', reason: `interrupted; ${breakdown}`, findings: [], cases: this.cases, evidence };
    if (this.unjudged.length > 0) {
      return { verdict: 'inconclusive', reason: `${this.unjudged.length} probe${this.unjudged.length === 1 ? '' : 's'} could not connect (${this.unjudged.join('; ')}); ${breakdown}`, findings: [], cases: this.cases, evidence };
    }
    return { verdict: 'pass', reason: breakdown, findings: [], cases: this.cases, evidence };
  }

  /** Case 2's verdicts; returns `TLS 1.2 and 1.3; TLS 1.0/1.1 refused`. */
  private judgeVersions(control: Probe, versions: ReadonlyMap<SecureVersion, Probe>): string {
    const modern: string[] = [];
    const modernNot: string[] = [];
    for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
      const p = versions.get(v);
      const label = versionLabel(v);
      if (completed(p) || (completed(control) && control.r.facts.protocol === v)) modern.push(label);
      else if (p) modernNot.push(`${label} ${this.notCompleted(p)}`);
    }
    let modernText: string;
    if (modern.length > 0) modernText = `${joinVersions(modern, ' and ')}${modernNot.length ? ` (${modernNot.join(', ')})` : ''}`;
    else if ((['TLSv1.2', 'TLSv1.3'] as const).some((v) => !judged(versions.get(v)))) modernText = `TLS 1.2 and 1.3 not judged (${modernNot.join(', ')})`;
    else {
      const legacyDone = [...versions.values()].filter(completed).map((p) => versionLabel(p.r.facts.protocol));
      modernText = `neither TLS 1.2 nor 1.3 (${modernNot.join(', ')})`;
      const worst = versions.get('TLSv1.2') ?? control;
      this.add(worst, `offers neither TLS 1.2 nor TLS 1.3${legacyDone.length ? `: only ${joinVersions(legacyDone, ' and ')}` : ''}`, `${modernNot.join('; ')}; control (Node defaults) ${describeResult(control.r, this.ctx.ioTimeoutMs)}`, POLICY_VERSIONS);
    }

    const accepted: string[] = [];
    const refused: string[] = [];
    const silent: string[] = [];
    const other: string[] = [];
    for (const v of ['TLSv1', 'TLSv1.1'] as const) {
      const p = versions.get(v);
      if (!p) continue;
      const label = versionLabel(v);
      if (completed(p)) {
        accepted.push(label);
        // [RFC8996 5]: TLS 1.0 and 1.1 MUST NOT be negotiated.
        this.add(p, `accepts ${label}: a ClientHello offering only ${label} completed with ${p.r.facts.cipher}`, `${p.label} -> handshake completed, ${versionLabel(p.r.facts.protocol)} ${p.r.facts.cipher}`, POLICY_VERSIONS);
      } else if (p.r.kind === 'refused') refused.push(label);
      else if (p.r.kind === 'timeout') silent.push(label);
      else other.push(`${label} ${this.notCompleted(p)}`);
    }
    const legacyText = [
      accepted.length ? `${joinVersions(accepted, '/')} accepted` : '',
      refused.length ? `${joinVersions(refused, '/')} refused` : '',
      silent.length ? `${joinVersions(silent, '/')} refused by silence` : '',
      ...other,
    ].filter(Boolean);
    return [modernText, ...legacyText].join('; ');
  }

  /** Case 3; returns `weak suite classes: 4 of 7 refused (eNULL, ...), 3 not offered: this client cannot (EXPORT, ...)`. */
  private async judgeSuites(): Promise<string> {
    const refused: string[] = [];
    const silent: string[] = [];
    const accepted: string[] = [];
    const cannot: string[] = [];
    const other: string[] = [];
    for (const c of WEAK_SUITE_CLASSES) {
      if (this.ctx.signal.aborted) break;
      // maxVersion alone: Node's minimum is TLS 1.2, so exactly TLS 1.2 is offered.
      const p = await this.send(`${c.name} suites alone (TLS 1.2)`, { maxVersion: 'TLSv1.2', ciphers: `${c.ciphers}:${SECLEVEL0}` });
      switch (p.r.kind) {
        case 'ok':
          accepted.push(`${c.name}: ${p.r.facts.cipher}`);
          this.add(p, `accepts ${p.r.facts.cipher} (${c.name}: ${c.text})`, `ClientHello offering only ${c.name} suites (${c.ciphers}) -> handshake completed, ${versionLabel(p.r.facts.protocol)} ${p.r.facts.cipher}`, POLICY_SUITES);
          break;
        case 'refused':
          refused.push(c.name);
          break;
        case 'timeout':
          silent.push(c.name);
          refused.push(c.name);
          break;
        case 'unsupported':
          cannot.push(c.name);
          break;
        case 'unreachable':
          other.push(`${c.name} ${this.notCompleted(p)}`);
          break;
      }
    }
    const total = WEAK_SUITE_CLASSES.length;
    const parts = [
      refused.length ? `${refused.length} of ${total} refused (${refused.join(', ')}${silent.length ? `; by silence: ${silent.join(', ')}` : ''})` : '',
      accepted.length ? `${accepted.length} accepted (${accepted.join(', ')})` : '',
      cannot.length ? `${cannot.length} not offered: this client cannot (${cannot.join(', ')})` : '',
      ...other,
    ].filter(Boolean);
    return `weak suite classes: ${parts.join(', ') || 'none probed'}`;
  }

  /** Case 4, on the certificate `basis` showed; returns `certificate EC 256-bit, ecdsa-with-SHA256, valid to ..., names ..., chains to the declared CA`. */
  private judgeCertificate(basis: Probe & { r: { kind: 'ok'; facts: TlsFacts } }): string {
    const { facts } = basis.r;
    const peer = facts.peer;
    if (!peer) {
      this.note(`${basis.label}: the server sent no certificate (${facts.cipher}): certificate not judged`);
      return `no certificate presented (${facts.cipher}): not judged`;
    }
    const from = basis.label === CONTROL ? '' : ` (from ${basis.label})`;
    const parts: string[] = [];
    const findingsBefore = this.findings.length;
    const observed = (what: string) => `certificate ${peer.subject} issued by ${peer.issuer}${from}: ${what}`;

    // Key strength: 112 bits = RSA/DSA 2048, EC 224; the policy asks EC 256 (SP 800-57 Part 1 table 2).
    const keyType = peer.keyType ?? 'unknown';
    const keyLabel = KEY_LABELS[keyType] ?? keyType;
    if (peer.keyBits === undefined) parts.push(`${keyLabel} key of unknown size`);
    else {
      parts.push(`${keyLabel} ${peer.keyBits}-bit`);
      const min = MODULUS_KEYS.has(keyType) ? 2048 : keyType === 'ec' ? 256 : 0;
      if (peer.keyBits < min) this.add(basis, `weak certificate key: ${keyLabel} ${peer.keyBits} bits (under 112-bit strength; at least ${min} bits)`, observed(`${keyLabel} key of ${peer.keyBits} bits`), POLICY_CERT);
    }

    // Signature algorithm.
    if (peer.sigAlg === undefined) parts.push('signature algorithm unknown');
    else {
      parts.push(peer.sigAlg);
      if (WEAK_SIG.test(peer.sigAlg)) this.add(basis, `certificate signed with ${peer.sigAlg} (SHA-1/MD5 signatures are forgeable)`, observed(`signature ${peer.sigAlg}`), POLICY_CERT);
    }

    // Validity period.
    const now = Date.now();
    const notBefore = Date.parse(peer.validFrom);
    const notAfter = Date.parse(peer.validTo);
    if (Number.isNaN(notBefore) || Number.isNaN(notAfter)) parts.push(`validity unreadable (${peer.validFrom} to ${peer.validTo})`);
    else if (notAfter < now) {
      parts.push(`expired ${day(peer.validTo)}`);
      this.add(basis, `certificate expired on ${day(peer.validTo)}`, observed(`valid ${peer.validFrom} to ${peer.validTo}; now ${new Date(now).toISOString()}`), POLICY_CERT);
    } else if (notBefore > now) {
      parts.push(`not valid before ${day(peer.validFrom)}`);
      this.add(basis, `certificate not yet valid: valid from ${day(peer.validFrom)}`, observed(`valid ${peer.validFrom} to ${peer.validTo}; now ${new Date(now).toISOString()}`), POLICY_CERT);
    } else parts.push(`valid to ${day(peer.validTo)}`);

    // OpenSSL reports one verification error, and an expired leaf, a weak key or
    // a SHA-1 signature can stand in for a chain error (`CERT_HAS_EXPIRED` for a
    // leaf of another CA): with one of those found, a failed verification is not
    // a second finding, and the chain is not judged apart.
    const confounded = this.findings.length > findingsBefore;

    // The name: the subjectAltName only (no fallback to the subject's CN [RFC6125 6.4.4; CA/B BR 7.1.4.2]).
    const name = this.iface.tls?.serverName ?? this.iface.host;
    const nameSource = this.iface.tls?.serverName ? 'tls.serverName' : 'the interface host';
    const mismatch = namesHost(peer, name);
    if (mismatch === undefined) parts.push(`names ${name}`);
    else {
      parts.push(`does not name ${name}`);
      this.add(basis, `certificate does not name ${name} (${nameSource}): subjectAltName ${peer.altNames.length ? peer.altNames.join(', ') : 'absent'}`, observed(`subjectAltName ${peer.altNames.join(', ') || '(none)'}; ${mismatch}`), POLICY_CERT);
    }

    // The chain.
    const why = facts.authorizationError ?? 'unknown reason';
    if (this.iface.tls?.caPem) {
      if (facts.authorized || NAME_ONLY.has(why)) parts.push('chains to the declared CA');
      else if (confounded) {
        parts.push(`chain not judged apart (verification: ${why})`);
        this.note(`chain to the declared CA not judged apart from the certificate's other findings: OpenSSL reported ${why}`);
      } else {
        parts.push(`does not chain to the declared CA (${why})`);
        this.add(basis, `certificate does not chain to the declared CA: ${why}`, observed(`verification against interfaces.${this.iface.id}.tls.ca failed: ${why}`), `${POLICY_CERT}; tls.ca of interface ${this.iface.id}`);
      }
    } else if (facts.authorized) parts.push('chains to a CA Node trusts by default (no CA declared)');
    else {
      parts.push(`no CA declared: chain not judged (${why})`);
      this.note(`no tls.ca on interface ${this.iface.id}: chain not judged (${why})`);
    }
    return `certificate ${parts.join(', ')}${from}`;
  }

  /** `refused (…)`, `no answer`, `not offered: this client cannot`; a probe that could not connect is also remembered as not judged. */
  private notCompleted(p: Probe): string {
    switch (p.r.kind) {
      case 'refused':
        return 'refused';
      case 'timeout':
        return 'no answer';
      case 'unsupported':
        return 'not offered: this client cannot';
      case 'unreachable':
        this.unjudged.push(`${p.label}: ${p.r.error}`);
        return `not judged (cannot connect: ${p.r.error})`;
      case 'ok':
        return 'completed';
    }
  }

  /** One handshake, with its own transcript segment and a line for the evidence. */
  private async send(label: string, opts: HandshakeOptions): Promise<Probe> {
    const { ctx } = this;
    const r = await tlsHandshake(this.iface, ioOf(ctx), opts);
    const transcript = ctx.transcript.take();
    this.all.push(...transcript);
    this.cases++;
    ctx.caseDone(label);
    this.note(`${label} -> ${describeResult(r, ctx.ioTimeoutMs)}`);
    return { label, r, transcript };
  }

  private note(text: string): void {
    this.ctx.transcript.note(text);
    this.all.push(...this.ctx.transcript.take());
  }

  private add(p: Probe, summary: string, observed: string, declared: string): void {
    this.findings.push({ summary, severity: 'high', evidence: { observed, declared, source: 'policy:C06', transcript: p.transcript } });
  }

  private evidence(observed: string, declared: string): Evidence {
    const ca = this.iface.tls?.caPem ? `; tls.ca of interface ${this.iface.id}` : '';
    return { observed, declared: `${declared}${ca}`, source: 'policy:C06', transcript: this.all };
  }
}

const KEY_LABELS: Readonly<Record<string, string>> = { rsa: 'RSA', 'rsa-pss': 'RSA-PSS', dsa: 'DSA', dh: 'DH', ec: 'EC', ed25519: 'Ed25519', ed448: 'Ed448' };

/** `TLS 1.2 and 1.3`, `TLS 1.0/1.1`: the protocol named once. */
function joinVersions(labels: readonly string[], sep: string): string {
  return labels.map((l, i) => (i === 0 ? l : l.replace(/^TLS /, ''))).join(sep);
}

/** `2027-11-21` out of an ISO time (the text itself when it is not one). */
const day = (iso: string) => (/^\d{4}-\d\d-\d\d/.test(iso) ? iso.slice(0, 10) : iso);

/** Undefined when the certificate's subjectAltName names `name`; else why not (Node's rules: wildcards, IP forms; no CN). */
export function namesHost(peer: TlsPeer, name: string): string | undefined {
  const cert = { subject: {}, subjectaltname: peer.altNames.join(', ') } as unknown as PeerCertificate;
  const err = checkServerIdentity(isIP(name) ? name : name.toLowerCase(), cert);
  return err ? err.message : undefined;
}

/** One handshake result, for the trail and the reasons. */
export function describeResult(r: HandshakeResult, timeoutMs: number): string {
  switch (r.kind) {
    case 'ok':
      return `completed, ${versionLabel(r.facts.protocol)} ${r.facts.cipher}`;
    case 'refused':
      return `refused: ${r.error}`;
    case 'unreachable':
      return `cannot connect: ${r.error}`;
    case 'timeout':
      return `no handshake within ${timeoutMs}ms`;
    case 'unsupported':
      return `not offered: this client cannot (${r.error})`;
  }
}
