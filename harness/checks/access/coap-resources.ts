// access.coap-resources (C04, C12): what a CoAP client may do, against what
// the declaration says.
//   1. Discovery: GET /.well-known/core [RFC6690 4]; every listed resource
//      that is not declared is a finding.
//   2. Method matrix: GET, POST, PUT, DELETE on every declared or discovered
//      resource; a 2.xx the declaration does not allow is a finding, a
//      refusal of a declared-allowed method a declaration mismatch.
//   3. Hidden resources: GET each path of a wordlist not already known; one
//      that exists (an answer other than 4.04 Not Found and other than what a
//      made-up path gets) and is undeclared is a finding.
// Plain CoAP has one subject, the anonymous client; a DTLS identity is
// another subject with its own declared methods, sent over its own channel
// (coaps, later): the sweep takes subjects, not "anonymous", for that.
// Every finding is one request, with its transcript.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CoapMethod } from 'coap-packet';
import type { AccessDeclaration, Check, CheckContext, CheckOutcome, CoapInterface, FindingDraft, Severity, TranscriptEntry, TranscriptSink } from '../../model/index.js';
import { packageRoot } from '../../core/paths.js';
import { TranscriptRecorder } from '../../core/transcript.js';
import { probe } from '../../monitor/liveness.js';
import { codeName, coapExchange, isSuccess, parseLinkFormat, type CoapOutcome, type CoapRequest } from '../../protocols/coap/exchange.js';
import { ioOf } from '../io.js';
import { requirementsOf } from '../requirements.js';

export const HIDDEN_RESOURCES = 'corpora/coap/hidden-resources.txt';
const WELL_KNOWN = '/.well-known/core';
const METHODS: readonly CoapMethod[] = ['GET', 'POST', 'PUT', 'DELETE'];
const PROBE_PAYLOAD = Buffer.from('{"gauntlet":"probe"}');
/** application/json [RFC7252 12.3]. */
const JSON_FORMAT = 50;
/** Refusals of a request: Unauthorized, Forbidden, Not Found, Method Not Allowed. */
const REFUSALS: ReadonlySet<string> = new Set(['4.01', '4.03', '4.04', '4.05']);
/** Bound on discovered resources put through the method matrix. */
const MAX_DISCOVERED = 64;
/** Hidden-resource probes in flight at once (independent GETs; a silent device costs one timeout per round). */
const HIDDEN_WIDTH = 8;
const SILENCE_PROBE_AFTER = 3;

/** Wordlist lines: absolute paths; blanks and `#` comments skipped; duplicates once. */
export function parseWordlist(text: string): string[] {
  const out = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('/')) out.add(line);
  }
  return [...out];
}

export function loadHiddenResources(file = HIDDEN_RESOURCES): string[] {
  return parseWordlist(readFileSync(join(packageRoot(), file), 'utf8'));
}

/** Who sends the requests, and what it is declared to be allowed. */
export interface CoapSubject {
  readonly name: string;
  /** Methods this subject is declared to use on `path`. */
  methods(path: string): readonly string[];
  /** Allowed without being declared: not a finding when it succeeds, not a mismatch when refused. */
  implicit(path: string, method: string): boolean;
}

/** The anonymous client: declaration.access.coap.anonymous. GET of the discovery resource is implicit unless the declaration lists that resource. */
export function anonymousSubject(coap: AccessDeclaration['coap']): CoapSubject {
  return {
    name: 'anonymous',
    methods: (path) => coap.anonymous[path] ?? [],
    implicit: (path, method) => path === WELL_KNOWN && method === 'GET' && !Object.hasOwn(coap.anonymous, path),
  };
}

export const coapResources: Check = {
  id: 'access.coap-resources',
  title: 'CoAP resources and methods are exactly the declared ones',
  catalog: ['C04', 'C12'],
  requirements: requirementsOf('C04', 'C12'),
  protocols: ['coap'],
  phase: 'main',
  severity: 'high',
  remedy:
    'Serve only the declared CoAP resources, each with only its declared methods (4.05 or 4.01 for the rest); remove debug and example resources from production builds; list what is served in /.well-known/core and in the declaration.',
  timeoutMs: 120_000,
  applies(target) {
    const coap = target.declaration.access.coap;
    if (coap.resources.length === 0 && Object.keys(coap.anonymous).length === 0) {
      return 'no CoAP resources declared (declaration.access.coap.resources / anonymous)';
    }
    return undefined;
  },
  run: (ctx) => new ResourceSweep(ctx, ctx.iface as CoapInterface, anonymousSubject(ctx.target.declaration.access.coap)).run(),
};

interface Sent {
  readonly o: CoapOutcome;
  readonly transcript: TranscriptEntry[];
}

const outcomeText = (o: CoapOutcome) => (o.kind === 'response' ? codeName(o.code) : o.kind === 'reset' ? 'RST' : o.kind === 'unreachable' ? `unreachable (${o.error})` : o.kind === 'malformed' ? `malformed reply (${o.detail})` : 'no answer');
type Kind = 'discovery' | 'matrix' | 'control' | 'hidden';
const answered = (o: CoapOutcome) => o.kind === 'response' || o.kind === 'reset' || o.kind === 'malformed';

class ResourceSweep {
  private readonly coap: AccessDeclaration['coap'];
  private readonly findings: FindingDraft[] = [];
  private readonly trail = new TranscriptRecorder();
  private readonly counts: Record<Kind, number> = { discovery: 0, matrix: 0, control: 0, hidden: 0 };
  private answers = 0;
  private silentRun = 0;
  private stopped: string | undefined;
  private allowedOk = 0;

  constructor(
    private readonly ctx: CheckContext,
    private readonly iface: CoapInterface,
    private readonly subject: CoapSubject,
  ) {
    this.coap = ctx.target.declaration.access.coap;
  }

  private get tried(): number {
    const c = this.counts;
    return c.discovery + c.matrix + c.control + c.hidden;
  }

  async run(): Promise<CheckOutcome> {
    const { ctx, subject } = this;
    ctx.transcript.take();
    const declared = new Set([WELL_KNOWN, ...this.coap.resources, ...Object.keys(this.coap.anonymous)]);
    const declaredText = [...this.coap.resources].join(', ') || '(none)';

    // 1. Discovery.
    const d = await this.send({ method: 'GET', path: WELL_KNOWN }, 'discovery');
    let discovered: string[] = [];
    let discoveryNote: string;
    if (d.o.kind === 'response' && isSuccess(d.o.code)) {
      discovered = parseLinkFormat(d.o.payload.toString('utf8'));
      discoveryNote = `${WELL_KNOWN} lists ${discovered.length} resources`;
    } else discoveryNote = `${WELL_KNOWN} answered ${outcomeText(d.o)}`;
    const undeclared = discovered.filter((p) => !declared.has(p));
    // The decoded reply line is cut short: the evidence says what the listing held.
    const listing: Sent = { o: d.o, transcript: [...d.transcript, { t: d.transcript.at(-1)?.t ?? 0, dir: 'note', peer: this.iface.id, decoded: `link-format lists: ${discovered.join(' ')}` }] };
    for (const path of undeclared) {
      this.add(listing, `undeclared resource ${path} is listed in ${WELL_KNOWN}`, `${WELL_KNOWN} lists ${path}; declared resources: ${declaredText}`, 'target:declaration.access.coap.resources', `declaration.access.coap.resources: ${declaredText}`, 'medium');
    }

    // 2. Method matrix over declared and discovered resources.
    const kept = undeclared.slice(0, MAX_DISCOVERED);
    const resources = [...new Set([...declared, ...kept])].sort();
    for (const path of resources) {
      for (const method of METHODS) {
        if (this.stopped || ctx.signal.aborted) break;
        await this.matrixRow(path, method);
      }
    }
    if (this.answers === 0) {
      return { verdict: 'inconclusive', reason: `nothing answered: ${this.tried} requests (discovery and ${this.counts.matrix} method requests) got no reply`, findings: [], cases: this.tried, evidence: this.evidence('no answers', declaredText) };
    }

    // 3. Hidden resources.
    const known = new Set([...declared, ...discovered]);
    const words = loadHiddenResources().filter((p) => !known.has(p));
    if (!this.stopped && !ctx.signal.aborted) await this.hidden(words, declaredText);

    const c = this.counts;
    const truncated = undeclared.length > kept.length ? `; method matrix on the first ${MAX_DISCOVERED} of ${undeclared.length} undeclared resources` : '';
    const breakdown = `${this.tried} requests as ${subject.name}: ${discoveryNote}; ${c.matrix} method requests on ${resources.length} resources; ${c.hidden} hidden-resource probes from ${HIDDEN_RESOURCES}${truncated}`;
    const evidence = this.evidence(`${breakdown}; ${this.allowedOk} declared-allowed requests answered 2.xx`, declaredText);
    if (this.findings.length > 0) {
      return { verdict: 'fail', reason: `${this.findings.length} findings in ${breakdown}${this.stopped ? `; ${this.stopped}` : ''}`, findings: this.findings, cases: this.tried, evidence };
    }
    if (this.stopped) return { verdict: 'inconclusive', reason: `${this.stopped}; ${breakdown}`, findings: [], cases: this.tried, evidence };
    return {
      verdict: 'pass',
      reason: `${breakdown}: nothing undeclared, every method outside the declaration refused, ${this.allowedOk} declared-allowed requests answered`,
      findings: [],
      cases: this.tried,
      evidence,
    };
  }

  private evidence(observed: string, declaredText: string) {
    const anon = Object.entries(this.coap.anonymous).map(([p, m]) => `${p}: ${m.join(', ')}`).join('; ') || '(none)';
    return {
      observed,
      declared: `resources: ${declaredText}; ${this.subject.name} methods: ${anon}`,
      source: 'target:declaration.access.coap',
      transcript: this.trail.entries(),
    };
  }

  private async matrixRow(path: string, method: CoapMethod): Promise<void> {
    const withBody = method === 'PUT' || method === 'POST';
    const sent = await this.send({ method, path, ...(withBody ? { payload: PROBE_PAYLOAD, contentFormat: JSON_FORMAT } : {}) }, 'matrix');
    const { o } = sent;
    const allowedList = this.subject.methods(path);
    const allowed = allowedList.includes(method);
    const declared = `declaration.access.coap.${this.subject.name}["${path}"]: ${allowedList.join(', ') || '(none)'}`;
    const source = `target:declaration.access.coap.${this.subject.name}`;
    if (o.kind === 'response' && isSuccess(o.code)) {
      if (allowed || this.subject.implicit(path, method)) this.allowedOk++;
      else {
        this.add(sent, `${method} ${path} answers ${codeName(o.code)}; declared ${this.subject.name} methods: ${allowedList.join(', ') || 'none'}`, `${this.subject.name} ${method} ${path} -> ${codeName(o.code)}`, source, declared);
      }
      return;
    }
    if (allowed && ((o.kind === 'response' && REFUSALS.has(o.code)) || o.kind === 'reset')) {
      this.add(sent, `declaration mismatch: ${method} ${path} is declared open to ${this.subject.name} clients but answers ${outcomeText(o)}`, `${this.subject.name} ${method} ${path} -> ${outcomeText(o)}; declared allowed`, source, declared, 'low');
    }
  }

  private async hidden(words: readonly string[], declaredText: string): Promise<void> {
    // Control: what a path that cannot exist gets. A device that answers every
    // unknown path with, say, 4.00 would otherwise make every word "exist".
    const nx = `/gauntlet-nx-${(this.ctx.instance.seed >>> 0).toString(16)}`;
    const control = await this.send({ method: 'GET', path: nx }, 'control');
    const controlCode = control.o.kind === 'response' ? control.o.code : undefined;
    const exists = (o: CoapOutcome) => o.kind === 'response' && o.code !== '4.04' && o.code !== controlCode;
    const queue = [...words];
    let heard = answered(control.o);
    const worker = async () => {
      for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
        if (this.ctx.signal.aborted) return;
        const sent = await this.send({ method: 'GET', path }, 'hidden', new TranscriptRecorder());
        if (answered(sent.o)) heard = true;
        if (!exists(sent.o) || sent.o.kind !== 'response') continue;
        const code = codeName(sent.o.code);
        this.add(
          sent,
          `hidden resource ${path} answers ${code} and is neither declared nor listed in ${WELL_KNOWN}`,
          `GET ${path} (wordlist ${HIDDEN_RESOURCES}) -> ${code}; a made-up path ${nx} -> ${outcomeText(control.o)}`,
          'target:declaration.access.coap.resources',
          `declaration.access.coap.resources: ${declaredText}`,
          isSuccess(sent.o.code) ? undefined : 'medium',
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(HIDDEN_WIDTH, Math.max(1, queue.length)) }, worker));
    if (!heard && words.length > 0) {
      // Silence to every probe: a device that ignores unknown paths, or one that died.
      const alive = await probe(this.iface, ioOf(this.ctx));
      this.ctx.transcript.take();
      if (!alive.alive) this.stopped = `the device stopped answering during the hidden-resource probes (${alive.detail})`;
    }
  }

  private add(sent: Sent, summary: string, observed: string, source: string, declared: string, severity?: Severity): void {
    this.findings.push({ summary, ...(severity ? { severity } : {}), evidence: { observed, declared, source, transcript: sent.transcript } });
  }

  /**
   * One request as the subject, with its own transcript segment and a line
   * in the trail. Sequential requests use the check's transcript; concurrent
   * ones pass their own. A run of silence in the sequential phases probes
   * liveness and stops the sweep if the device is gone.
   */
  private async send(req: CoapRequest, kind: Kind, own?: TranscriptSink): Promise<Sent> {
    const { ctx } = this;
    const io = own ? { ...ioOf(ctx), transcript: own } : ioOf(ctx);
    const o = await coapExchange(this.iface, req, io);
    const transcript = own ? own.take() : ctx.transcript.take();
    this.counts[kind]++;
    const label = `${this.subject.name} ${req.method} ${req.path}`;
    ctx.caseDone(label);
    this.trail.note(`${label} -> ${outcomeText(o)}`);
    if (answered(o)) {
      this.answers++;
      this.silentRun = 0;
    } else if (!own && ++this.silentRun >= SILENCE_PROBE_AFTER) {
      const alive = await probe(this.iface, ioOf(ctx));
      ctx.transcript.take();
      if (alive.alive) this.silentRun = 0;
      else this.stopped = `the device stopped answering after ${this.tried} requests (${alive.detail})`;
    }
    return { o, transcript };
  }
}
