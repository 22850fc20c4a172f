// transport.dtls-handshake (C06, C16): the DTLS 1.2 handshake of a coaps
// interface, probed with raw ClientHellos that are never completed
// (protocols/dtls/hello-probe.ts), against the declaration
// (declaration.dtls.<iface>: versions, suites, cookie) and the policy: no
// DTLS 1.0; no NULL, export, anon, RC4, 3DES, MD5 or CBC-SHA1 suite; a
// ClientHello without a cookie answered by a HelloVerifyRequest before any
// state is kept [RFC6347 4.2.1].
//   1. Cookie: the declared suites, no cookie, the HelloVerifyRequest not
//      followed. A ServerHello means the server keeps handshake state for an
//      address it never verified (amplification, state exhaustion: C16). The
//      later probes follow the cookie and tell again whether one was
//      demanded: a ServerHello with no HelloVerifyRequest before it is the
//      same finding, and decides the case when the first answer was an alert.
//   2. Version: client_version DTLS 1.0 with the declared suites. An alert or
//      silence passes; a ServerHello v1.0 (here or in any other case) is a
//      finding.
//   3. Each declared suite alone must be selected; a refusal is a low finding
//      (the declaration is wrong); silence is asked again once before it
//      counts. A weak declared suite that is selected is still a policy
//      finding.
//   4. Each undeclared PSK or anon suite alone, weak first, at most
//      MAX_UNDECLARED: a ServerHello selecting it is a finding, high for a weak
//      suite, medium for one merely undeclared.
// Without a declaration for the interface the policy alone applies: case 3 is
// skipped, cases 1-2 offer TLS_PSK_WITH_AES_128_CCM_8 (CoAP's mandatory PSK
// suite [RFC7252 9.1.3.1]), and only a weak suite accepted in case 4 counts.
// A device declared `cookie: false` that answers without a cookie is noted,
// not failed: the declaration is the oracle the lab agreed to, and the flood
// checks (C16) judge what statefulness costs. Declared `cookie: true`, or not
// declared at all, it is failed. Declared false while a cookie is demanded is
// a low declaration mismatch.
// A device that answers none of cases 1-3 is inconclusive, never a pass.

import type { Check, CheckContext, CheckOutcome, CoapInterface, DtlsDeclaration, Evidence, FindingDraft, Severity, TranscriptEntry, TranscriptSink } from '../../model/index.js';
import { TranscriptRecorder } from '../../core/transcript.js';
import { probe } from '../../monitor/liveness.js';
import { CIPHER_SUITES, DTLS1_0, DTLS1_2, SUITE_IDS_BY_NAME, SUITES_BY_ID, suiteName, versionLabel, type CipherSuite, type SuiteWeakness } from '../../protocols/dtls/codec.js';
import { describeOutcome, helloProbe, type HelloOffer, type HelloOutcome } from '../../protocols/dtls/hello-probe.js';
import { ioOf } from '../io.js';
import { requirementsOf } from '../requirements.js';

/** Bound on the undeclared-suite probes (case 4). */
export const MAX_UNDECLARED = 40;
/** Undeclared-suite probes in flight at once (independent handshakes; a silent device costs one wait per round). */
const UNDECLARED_WIDTH = 4;
/** CoAP's mandatory-to-implement PSK suite [RFC7252 9.1.3.1], offered when nothing is declared. */
export const FALLBACK_SUITE = 'TLS_PSK_WITH_AES_128_CCM_8';

/** The weakness classes, worst first: the order of the undeclared probes. */
const WEAKNESS_RANK: readonly SuiteWeakness[] = ['null', 'anon', 'export', 'rc4', '3des', 'md5', 'cbc-sha1'];
export const WEAKNESS_TEXT: Readonly<Record<SuiteWeakness, string>> = {
  null: 'no encryption',
  anon: 'no authentication',
  export: 'export-grade keys',
  rc4: 'RC4, forbidden in DTLS',
  '3des': '3DES, 64-bit blocks',
  md5: 'an MD5 MAC',
  'cbc-sha1': 'CBC with a SHA-1 MAC',
};
const POLICY_SUITES = 'policy: no NULL, export, anon, RC4, 3DES, MD5 or CBC-SHA1 suite accepted';

const PLAIN_PSK = /^TLS_PSK_/;
const OTHER_PSK = /^TLS_(?:DHE|ECDHE|RSA)_PSK_/;
const ANON = /_anon_/;

/**
 * Case 4's suites: every TLS_PSK_* suite of the table, the weak
 * DHE/ECDHE/RSA_PSK ones and every anon one, minus the declared; weak first
 * (worst class first), then table order; the first MAX_UNDECLARED of them.
 */
export function undeclaredCandidates(declared: ReadonlySet<number>): { readonly probe: readonly CipherSuite[]; readonly total: number } {
  const all = CIPHER_SUITES.filter((s) => !declared.has(s.id) && (PLAIN_PSK.test(s.name) || (OTHER_PSK.test(s.name) && s.weakness !== undefined) || ANON.test(s.name)));
  const rank = (s: CipherSuite) => (s.weakness === undefined ? WEAKNESS_RANK.length : WEAKNESS_RANK.indexOf(s.weakness));
  const ordered = all.map((s, i) => ({ s, i })).sort((a, b) => rank(a.s) - rank(b.s) || a.i - b.i).map((x) => x.s);
  return { probe: ordered.slice(0, MAX_UNDECLARED), total: ordered.length };
}

const weakText = (s: CipherSuite) => (s.weakness ? `${s.weakness}: ${WEAKNESS_TEXT[s.weakness]}` : '');

/** Fresh probes that must also skip the HelloVerifyRequest before "no HelloVerifyRequest" is a finding. */
export const COOKIE_CONFIRMATIONS = 2;

export const dtlsHandshake: Check = {
  id: 'transport.dtls-handshake',
  title: 'DTLS handshake: DTLS 1.2 only, a cookie first, exactly the declared cipher suites',
  catalog: ['C06', 'C16'],
  requirements: requirementsOf('C06', 'C16'),
  protocols: ['coaps'],
  per: 'interface',
  phase: 'main',
  severity: 'high',
  remedy:
    'Configure the DTLS stack for DTLS 1.2 only; enable only the declared AEAD PSK suites (e.g. TLS_PSK_WITH_AES_128_CCM_8) and no NULL, export, anon, RC4, 3DES, MD5 or CBC-SHA1 suite; answer every ClientHello without a valid cookie with a HelloVerifyRequest before keeping any state (RFC 6347 4.2.1); declare exactly what the device accepts.',
  // 2 + declared + 40 probes, each at most two I/O waits, 4 at a time in case 4.
  timeoutMs: 180_000,
  applies: () => undefined,
  run: (ctx) => new HandshakeProbe(ctx, ctx.iface as CoapInterface).run(),
};

interface Sent {
  readonly o: HelloOutcome;
  readonly transcript: TranscriptEntry[];
}

const answered = (o: HelloOutcome) => o.kind === 'server-hello' || o.kind === 'alert' || o.kind === 'hello-verify' || o.kind === 'malformed';
const cookieLabel = (c: 'ignore' | 'follow') => (c === 'ignore' ? 'no cookie, HelloVerifyRequest not followed' : 'cookie followed');

class HandshakeProbe {
  private readonly decl: DtlsDeclaration | undefined;
  private readonly declSource: string;
  private readonly findings: FindingDraft[] = [];
  private readonly trail = new TranscriptRecorder();
  private cases = 0;
  private answers = 0;
  /** A cookie demanded (a HelloVerifyRequest seen), and the first ServerHello that came without one. */
  private cookieSeen: { readonly text: string; readonly sent: Sent } | undefined;
  private cookieSkipped: { readonly hello: string; readonly sent: Sent; readonly offer: HelloOffer } | undefined;
  private v10Found = false;

  constructor(
    private readonly ctx: CheckContext,
    private readonly iface: CoapInterface,
  ) {
    this.decl = ctx.target.declaration.dtls[iface.id];
    this.declSource = `target:declaration.dtls.${iface.id}`;
  }

  async run(): Promise<CheckOutcome> {
    const { ctx, decl } = this;
    ctx.transcript.take();
    const declaredIds: number[] = [];
    for (const name of decl?.suites ?? []) {
      const id = SUITE_IDS_BY_NAME.get(name);
      if (id === undefined) this.trail.note(`declared suite ${name} is not in the suite table: not probed`);
      else declaredIds.push(id);
    }
    const offer = declaredIds.length > 0 ? declaredIds : [SUITE_IDS_BY_NAME.get(FALLBACK_SUITE)!];
    const offerText = offer.map(suiteName).join(', ');

    // 1. Cookie.
    const c = await this.send(`cookie: ClientHello [${offerText}] without a cookie`, { suites: offer, cookie: 'ignore' });
    const cookieFirst = describeOutcome(c.o);

    // 2. Version.
    const v = await this.send(`version: ClientHello v1.0 [${offerText}]`, { version: DTLS1_0, suites: offer });
    let versionNote: string;
    if (v.o.kind === 'server-hello' && v.o.version !== DTLS1_0) {
      versionNote = `a DTLS 1.0 ClientHello got ServerHello ${versionLabel(v.o.version)} (a version the client did not offer [RFC5246 E.1]; not DTLS 1.0)`;
    } else if (v.o.kind === 'server-hello') versionNote = 'DTLS 1.0 accepted';
    else versionNote = `a DTLS 1.0 ClientHello got ${v.o.kind === 'timeout' || v.o.kind === 'unreachable' ? 'no answer' : describeOutcome(v.o)}`;

    // 3. Each declared suite alone.
    let declaredAccepted = 0;
    for (const id of declaredIds) {
      if (ctx.signal.aborted) break;
      const name = suiteName(id);
      let s = await this.send(`declared ${name}`, { suites: [id] });
      // Silence (the ClientHello and its retransmissions unanswered) is asked again once before it counts
      // as a refusal: a busy peer or lost datagrams are not a wrong declaration.
      if (s.o.kind === 'timeout') s = await this.send(`declared ${name} (again, after no answer)`, { suites: [id] });
      if (s.o.kind === 'server-hello' && s.o.suite === id) {
        declaredAccepted++;
        const suite = SUITES_BY_ID.get(id)!;
        if (suite.weakness) this.weakAccepted(suite, s, 'declared');
        continue;
      }
      const why = s.o.kind === 'server-hello' ? `ServerHello selected ${s.o.suiteName}, which was not offered` : describeOutcome(s.o);
      this.add(s, `declared suite ${name} refused (${why})`, `ClientHello offering only ${name} -> ${describeOutcome(s.o)}`, this.declSource, this.declaredText(), 'low');
    }

    if (this.answers === 0) {
      return {
        verdict: 'inconclusive',
        reason: `nothing answered: ${this.cases} ClientHellos (cookie, version${declaredIds.length ? `, ${declaredIds.length} declared suites` : ''}) got no reply`,
        findings: [],
        cases: this.cases,
        evidence: this.evidence('no answers'),
      };
    }

    // 4. Undeclared suites, weak first.
    const { probe: candidates, total } = undeclaredCandidates(new Set(declaredIds));
    const sweep = await this.undeclared(candidates);

    // A ServerHello without a HelloVerifyRequest is confirmed from fresh sockets
    // (fresh source ports) before it counts: a stack that keys sessions by peer
    // address answers a reused port from its cache, and a lost HelloVerifyRequest
    // is not a missing one.
    if (this.cookieSkipped && !(decl && !decl.cookie)) {
      const { offer } = this.cookieSkipped;
      let again = 0;
      for (let i = 0; i < COOKIE_CONFIRMATIONS && !ctx.signal.aborted; i++) {
        const r = await helloProbe(this.iface, { ...offer, cookie: 'ignore' }, ioOf(ctx));
        this.cases++;
        if (r.kind === 'server-hello' && !r.hvr) again++;
        this.trail.note(`cookie confirmation ${i + 1}: a fresh ClientHello without a cookie -> ${describeOutcome(r)}`);
      }
      if (again === 0 && !ctx.signal.aborted) {
        this.trail.note(`${this.cookieSkipped.hello} once got a ServerHello without a HelloVerifyRequest, but ${COOKIE_CONFIRMATIONS} fresh probes got a HelloVerifyRequest: not a finding`);
        this.cookieSkipped = undefined;
      }
    }

    // The cookie verdict, from every probe: case 1, then any ServerHello that came without a HelloVerifyRequest.
    let cookieNote: string;
    if (this.cookieSkipped) {
      const { hello, sent } = this.cookieSkipped;
      const what = `a ${hello} without a cookie got ${describeOutcome(sent.o)}, no HelloVerifyRequest first`;
      if (decl && !decl.cookie) {
        cookieNote = 'no HelloVerifyRequest, as declared (cookie: false)';
        this.trail.note(`${what}: allowed by declaration.dtls.${this.iface.id}.cookie: false`);
      } else {
        cookieNote = 'no HelloVerifyRequest';
        const summary = `no HelloVerifyRequest: ${what}; the server keeps handshake state for an address it never verified (amplification, state exhaustion)`;
        this.findings.unshift(this.draft(sent, summary, what, decl ? this.declSource : 'policy:C16', decl ? `declaration.dtls.${this.iface.id}.cookie: true` : 'policy: a ClientHello without a cookie is answered by a HelloVerifyRequest before any state [RFC6347 4.2.1]', 'high'));
      }
    } else if (this.cookieSeen) {
      const { text, sent } = this.cookieSeen;
      cookieNote = `HelloVerifyRequest first (${text})`;
      if (decl && !decl.cookie) {
        const summary = `declaration mismatch: cookie: false is declared but a ClientHello without a cookie gets a HelloVerifyRequest (${text})`;
        this.findings.unshift(this.draft(sent, summary, `a ClientHello without a cookie -> ${describeOutcome(sent.o)}`, this.declSource, `declaration.dtls.${this.iface.id}.cookie: false`, 'low'));
      }
    } else cookieNote = `cookie undecided (no HelloVerifyRequest and no ServerHello in any case; the cookieless ClientHello got ${cookieFirst})`;

    const refused = sweep.alerts + sweep.silent;
    const truncated = total > candidates.length ? ` (the first ${candidates.length} of ${total} PSK/anon candidates, weak first)` : '';
    const undeclaredText = `${refused} undeclared refused${sweep.silent ? ` (${sweep.silent} by silence)` : ''}${sweep.acceptedText.length ? `, ${sweep.acceptedText.length} accepted` : ''}${truncated}`;
    const declaredPart = decl ? `${declaredAccepted} of ${declaredIds.length} declared suites accepted` : `no declaration.dtls.${this.iface.id}: declared-suite cases skipped, the policy alone applies`;
    const versionPart = this.v10Found ? 'DTLS 1.0 accepted' : `DTLS 1.2 only (${versionNote})`;
    const breakdown = `${versionPart}; ${cookieNote}; ${declaredPart}; ${undeclaredText}`;
    const evidence = this.evidence(`${this.cases} ClientHellos: ${breakdown}${sweep.acceptedText.length ? `; accepted: ${sweep.acceptedText.join(', ')}` : ''}`);

    if (this.findings.length > 0) {
      return { verdict: 'fail', reason: `${this.findings.length} findings: ${breakdown}${sweep.stopped ? `; ${sweep.stopped}` : ''}`, findings: this.findings, cases: this.cases, evidence };
    }
    if (sweep.stopped) return { verdict: 'inconclusive', reason: `${sweep.stopped}; ${breakdown}`, findings: [], cases: this.cases, evidence };
    if (!this.cookieSeen && !this.cookieSkipped) {
      return { verdict: 'inconclusive', reason: `no offered suite was accepted and no HelloVerifyRequest came, so whether state is kept before a cookie cannot be told; ${breakdown}`, findings: [], cases: this.cases, evidence };
    }
    return { verdict: 'pass', reason: breakdown, findings: [], cases: this.cases, evidence };
  }

  /** Case 4, UNDECLARED_WIDTH probes at a time; findings in candidate order. */
  private async undeclared(candidates: readonly CipherSuite[]): Promise<{ alerts: number; silent: number; acceptedText: string[]; stopped: string | undefined }> {
    const results: (Sent | undefined)[] = new Array<Sent | undefined>(candidates.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < candidates.length; i = next++) {
        if (this.ctx.signal.aborted) return;
        const s = candidates[i]!;
        results[i] = await this.send(`undeclared ${s.name}`, { suites: [s.id] }, new TranscriptRecorder());
      }
    };
    await Promise.all(Array.from({ length: Math.min(UNDECLARED_WIDTH, Math.max(1, candidates.length)) }, worker));

    let alerts = 0;
    let silent = 0;
    let heard = false;
    const acceptedText: string[] = [];
    candidates.forEach((suite, i) => {
      const sent = results[i];
      if (!sent) return;
      if (answered(sent.o)) heard = true;
      if (sent.o.kind !== 'server-hello') {
        if (answered(sent.o)) alerts++;
        else silent++;
        return;
      }
      if (sent.o.suite !== suite.id) {
        // A ServerHello naming a suite the client never offered: any client aborts; not an acceptance of this one.
        this.trail.note(`undeclared ${suite.name}: ServerHello selected ${sent.o.suiteName}, which was not offered`);
        alerts++;
        return;
      }
      acceptedText.push(suite.name);
      if (suite.weakness) this.weakAccepted(suite, sent, 'undeclared');
      else if (this.decl) {
        this.add(sent, `accepted undeclared suite ${suite.name}`, `ClientHello offering only ${suite.name} -> ${describeOutcome(sent.o)}`, this.declSource, this.declaredText(), 'medium');
      } else this.trail.note(`${suite.name} accepted: no declaration to hold it against, and no weakness`);
    });
    let stopped: string | undefined;
    if (!heard && candidates.length > 0 && !this.ctx.signal.aborted) {
      // Silence to every probe: a device that drops unknown suites, or one that died.
      const alive = await probe(this.iface, ioOf(this.ctx));
      this.ctx.transcript.take();
      if (!alive.alive) stopped = `the device stopped answering during the undeclared-suite probes (${alive.detail})`;
    }
    return { alerts, silent, acceptedText, stopped };
  }

  private weakAccepted(suite: CipherSuite, sent: Sent, kind: 'declared' | 'undeclared'): void {
    const declared = this.decl ? `${POLICY_SUITES}; declaration.dtls.${this.iface.id}.suites: ${this.decl.suites.join(', ')}` : POLICY_SUITES;
    this.add(sent, `accepted ${suite.name} (${weakText(suite)})${kind === 'declared' ? ', a declared suite' : ''}`, `ClientHello offering only ${suite.name} -> ${describeOutcome(sent.o)}`, 'policy:C06', declared, 'high');
  }

  private declaredText(): string {
    const d = this.decl;
    if (!d) return `no declaration.dtls.${this.iface.id}; ${POLICY_SUITES}; DTLS 1.2 only; HelloVerifyRequest first`;
    return `versions: ${d.versions.join(', ')}; suites: ${d.suites.join(', ')}; cookie: ${d.cookie}`;
  }

  private evidence(observed: string): Evidence {
    return { observed, declared: this.declaredText(), source: this.decl ? this.declSource : 'policy:C06,C16', transcript: this.trail.entries() };
  }

  private draft(sent: Sent, summary: string, observed: string, source: string, declared: string, severity: Severity): FindingDraft {
    return { summary, severity, evidence: { observed, declared, source, transcript: sent.transcript } };
  }

  private add(sent: Sent, summary: string, observed: string, source: string, declared: string, severity: Severity): void {
    this.findings.push(this.draft(sent, summary, observed, source, declared, severity));
  }

  /**
   * One ClientHello, with its own transcript segment and a line in the trail.
   * Sequential probes use the check's transcript; concurrent ones pass their
   * own. Notes what every answer says about the cookie and the version.
   */
  private async send(label: string, offer: HelloOffer, own?: TranscriptSink): Promise<Sent> {
    const { ctx } = this;
    const io = own ? { ...ioOf(ctx), transcript: own } : ioOf(ctx);
    const o = await helloProbe(this.iface, offer, io);
    const transcript = own ? own.take() : ctx.transcript.take();
    this.cases++;
    ctx.caseDone(label);
    const result = describeOutcome(o);
    this.trail.note(`${label} (${cookieLabel(offer.cookie ?? 'follow')}) -> ${result}`);
    if (answered(o)) this.answers++;
    const sent: Sent = { o, transcript };
    if (o.kind === 'hello-verify') this.cookieSeen ??= { text: `a ${o.cookieLength}B cookie`, sent };
    else if ('hvr' in o && o.hvr) this.cookieSeen ??= { text: `a ${o.hvr.cookieLength}B cookie`, sent };
    if (o.kind === 'server-hello') {
      if (!o.hvr) this.cookieSkipped ??= { hello: `ClientHello ${versionLabel(offer.version ?? DTLS1_2)} [${offer.suites.map(suiteName).join(', ')}]`, sent, offer };
      if (o.version === DTLS1_0 && !this.v10Found) {
        this.v10Found = true;
        this.add(sent, `DTLS 1.0 accepted: ${label} got ServerHello v1.0 (${o.suiteName})`, `${label} -> ServerHello ${versionLabel(o.version)} ${o.suiteName}`, 'policy:C06', 'policy: DTLS 1.2 only, no DTLS 1.0', 'high');
      } else if (o.version !== DTLS1_2 && o.version !== DTLS1_0) this.trail.note(`${label}: ServerHello version ${versionLabel(o.version)}`);
    }
    return sent;
  }
}
