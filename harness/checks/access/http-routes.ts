// access.http-routes (C04): the declared HTTP authorization matrix, tried.
// Every principal logs in once; then, with its session:
//   1. every declared route x method (owner routes once per principal's
//      object): allowed -> 2xx, else 401/403/404/405. A forbidden 2xx is a
//      privilege escalation, or an IDOR on another principal's object; a
//      declared-allowed refusal is a declaration mismatch;
//   2. method tampering on what it may not do: HEAD for a forbidden GET, POST
//      with X-HTTP-Method-Override / X-Method-Override for a forbidden
//      GET/PUT/PATCH/DELETE;
//   3. path spellings (`//a/b`, `/a/./b`, `/a/x/../b`, `/a/%62`, `/a/b/`,
//      `/a/B`) of what it may not do, with the session and without one.
// Tampering and spellings count only when the canonical request was refused
// to the same subject: a canonical request that already succeeds is the
// matrix's finding (or, without a session, auth.anonymous-access's, whose
// canonical row this check sends as a baseline but never reports).
// A 2xx on a forbidden request is checked against a made-up sibling path
// sent the same way (soft-404 control): a device that answers every path
// with the same 2xx page has shown nothing.
// Requests that end a session (logout) or delete something go last.

import type {
  Check,
  CheckContext,
  CheckOutcome,
  FindingDraft,
  HttpInterface,
  Principal,
  Severity,
  Target,
  TranscriptEntry,
} from '../../model/index.js';
import { TranscriptRecorder } from '../../core/transcript.js';
import { probe } from '../../monitor/liveness.js';
import { httpExchange, type HttpOutcome } from '../../protocols/http/exchange.js';
import { httpLogin } from '../../protocols/http/login.js';
import { ioOf } from '../io.js';
import {
  describeRoute,
  endsSession,
  expandRoutes,
  mayUse,
  pathVariants,
  permits,
  siblingPath,
  type ConcreteRoute,
  type PathVariant,
} from '../policy/http-routes.js';
import { requirementsOf } from '../requirements.js';

const SOURCE = 'target:declaration.access.http.routes';
/** Answers that refuse a request (authorization, or no such route/method). */
const REFUSALS: ReadonlySet<number> = new Set([401, 403, 404, 405]);
const OVERRIDE_HEADERS = ['X-HTTP-Method-Override', 'X-Method-Override'] as const;
/** Methods a POST with an override header may smuggle. */
const OVERRIDABLE: ReadonlySet<string> = new Set(['GET', 'PUT', 'PATCH', 'DELETE']);
/** Unanswered requests in a row after which the device's liveness is probed. */
const SILENCE_PROBE_AFTER = 3;

const is2xx = (o: HttpOutcome) => o.kind === 'response' && o.status >= 200 && o.status <= 299;
const refused = (o: HttpOutcome | undefined) => o?.kind === 'response' && !is2xx(o);
const statusOf = (o: HttpOutcome) => (o.kind === 'response' ? String(o.status) : o.kind === 'timeout' ? 'no reply' : `unreachable (${o.error})`);
const hasBody = (method: string) => method === 'PUT' || method === 'POST' || method === 'PATCH';
const verbOf = (method: string) => (method === 'GET' || method === 'HEAD' ? 'reads' : method === 'DELETE' ? 'deletes' : 'modifies');

/** Who sends a request: a logged-in principal, or nobody (no session). */
interface Subject {
  readonly principal?: Principal;
  readonly headers: Readonly<Record<string, string>>;
}

const ANONYMOUS: Subject = { headers: {} };
const keyOf = (s: Subject, method: string, path: string) => `${s.principal?.name ?? ''}\u0000${method} ${path}`;
const toWhom = (s: Subject) => (s.principal ? `to ${s.principal.name} (role ${s.principal.role})` : 'without a session');
const subjectLabel = (s: Subject) => s.principal?.name ?? 'no session';

interface Req {
  readonly method: string;
  readonly path: string;
  readonly extra?: Readonly<Record<string, string>>;
  readonly kind: 'baseline' | 'matrix' | 'tamper' | 'variant' | 'control';
}

interface Sent {
  readonly o: HttpOutcome;
  readonly transcript: TranscriptEntry[];
}

export const httpRoutes: Check = {
  id: 'access.http-routes',
  title: 'Each principal gets exactly the HTTP routes its role is declared to have',
  catalog: ['C04'],
  requirements: requirementsOf('C04'),
  protocols: ['http', 'https'],
  phase: 'main',
  severity: 'high',
  remedy:
    'Authorize every request on the server, per route and method, after the path is normalised and with the same routing the handler uses; check object ownership on per-user routes; ignore method-override headers, or authorize the overridden method.',
  timeoutMs: 180_000,
  applies: (target, iface) => appliesTo(target, iface),
  run: (ctx) => new RouteMatrix(ctx, ctx.iface as HttpInterface).run(),
};

function appliesTo(target: Target, iface: CheckContext['iface']): string | undefined {
  if (iface.protocol !== 'http' && iface.protocol !== 'https') return 'not an HTTP interface';
  if (!iface.auth) return 'the target file declares no auth for this HTTP interface (interfaces[].auth)';
  if (target.declaration.access.http.routes.length === 0) return 'no HTTP routes declared (declaration.access.http.routes)';
  if (target.principals.length === 0) return 'no principals in the target file: no session to try the routes with';
  return undefined;
}

class RouteMatrix {
  private readonly concrete: ConcreteRoute[];
  private readonly publicRoutes: readonly string[];
  private readonly findings: FindingDraft[] = [];
  /** One line per request, for the evidence of a verdict without findings. */
  private readonly trail = new TranscriptRecorder();
  /** Canonical answers by subject, method and path. */
  private readonly canonical = new Map<string, HttpOutcome>();
  private readonly controls = new Map<string, Sent>();
  /** Path-variant findings by subject and spelling: one finding each, later hits listed in it. */
  private readonly variantGroups = new Map<string, { readonly index: number; readonly also: string[] }>();
  private readonly counts = { baseline: 0, matrix: 0, tamper: 0, variant: 0, control: 0 };
  private answered = 0;
  private silentRun = 0;
  private stopped: string | undefined;
  private allowedOk = 0;
  private readonly undecided: string[] = [];
  private attributed = 0;
  private suppressed = 0;

  constructor(
    private readonly ctx: CheckContext,
    private readonly iface: HttpInterface,
  ) {
    const http = ctx.target.declaration.access.http;
    this.concrete = expandRoutes(http.routes, ctx.target.principals);
    this.publicRoutes = http.public;
  }

  private get tried(): number {
    const c = this.counts;
    return c.baseline + c.matrix + c.tamper + c.variant + c.control;
  }

  async run(): Promise<CheckOutcome> {
    const { ctx } = this;
    ctx.transcript.take();
    const sessions: Subject[] = [];
    const unable: { principal: Principal; detail: string; transcript: TranscriptEntry[] }[] = [];
    for (const p of ctx.target.principals) {
      const s = await this.login(p);
      if (s.ok) sessions.push({ principal: p, headers: s.headers });
      else unable.push({ principal: p, detail: s.detail, transcript: s.transcript });
    }
    const unableNote = unable.map((u) => `${u.principal.name} (${u.detail})`).join(', ');
    if (sessions.length === 0) {
      return {
        verdict: 'inconclusive',
        reason: `no principal could log in: ${unableNote}`,
        findings: [],
        evidence: { observed: unableNote, source: 'target:principals', transcript: unable.flatMap((u) => u.transcript) },
      };
    }

    for (const step of this.plan(sessions)) {
      if (this.stopped || ctx.signal.aborted) break;
      await step();
    }
    this.foldVariantGroups();

    const tried = this.tried;
    const c = this.counts;
    const breakdown = `${tried} requests (${c.matrix} matrix, ${c.tamper} method tampering, ${c.variant} path variants, ${c.baseline + c.control} baselines and controls) as ${sessions.map((s) => s.principal!.name).join(', ')} and without a session`;
    const notes = [
      unable.length ? `could not log in, rows untested: ${unableNote}` : '',
      this.attributed ? `${this.attributed} forbidden requests also succeed without a session (auth.anonymous-access reports those)` : '',
      this.suppressed ? `${this.suppressed} forbidden 2xx answers match a made-up sibling path's (catch-all page), not counted` : '',
      this.undecided.length ? `answered neither 2xx nor a refusal: ${this.undecided.slice(0, 5).join(', ')}${this.undecided.length > 5 ? ', ...' : ''}` : '',
      this.stopped ?? '',
    ].filter(Boolean);
    const tail = notes.length ? `; ${notes.join('; ')}` : '';
    const evidence = {
      observed: `${breakdown}; ${this.allowedOk} allowed requests answered 2xx${tail}`,
      declared: this.concrete.map((r) => `${r.method} ${r.path}`).join(', '),
      source: SOURCE,
      transcript: [...unable.flatMap((u) => u.transcript), ...this.trail.entries()],
    };
    if (this.findings.length > 0) {
      return { verdict: 'fail', reason: `${this.findings.length} findings in ${breakdown}${tail}`, findings: this.findings, cases: tried, evidence };
    }
    if (this.stopped || this.answered === 0) {
      return { verdict: 'inconclusive', reason: `${this.stopped ?? 'no request was answered'}; ${breakdown}`, findings: [], cases: tried, evidence };
    }
    return {
      verdict: 'pass',
      reason: `${breakdown}: every forbidden request refused, ${this.allowedOk} allowed requests answered 2xx${tail}`,
      findings: [],
      cases: tried,
      evidence,
    };
  }

  /**
   * Logs a principal in. A json login is judged by the token alone: the
   * interface's protected route may be one this principal must not use.
   * Basic is judged on a GET the principal may use.
   */
  private async login(p: Principal): Promise<{ ok: true; headers: Record<string, string> } | { ok: false; detail: string; transcript: TranscriptEntry[] }> {
    const { ctx, iface } = this;
    let via: HttpInterface = { ...iface, protectedPath: undefined };
    if (iface.auth?.kind === 'basic') {
      const witness =
        iface.protectedPath && permits(this.concrete, this.publicRoutes, p, 'GET', iface.protectedPath)
          ? iface.protectedPath
          : this.concrete.find((c) => c.method === 'GET' && !endsSession(c.route) && mayUse(p, c))?.path;
      if (!witness) {
        // Nothing this principal may GET: the matrix itself shows whether the credential works.
        return { ok: true, headers: { authorization: `Basic ${Buffer.from(`${p.user}:${p.pass}`, 'utf8').toString('base64')}` } };
      }
      via = { ...iface, protectedPath: witness };
    }
    await ctx.pacer.beforeAttempt(p.user);
    const o = await httpLogin(via, { user: p.user, pass: p.pass }, ioOf(ctx));
    if (o.kind === 'granted' || o.kind === 'refused') ctx.pacer.afterAttempt(p.user, o.kind === 'granted');
    const transcript = ctx.transcript.take();
    ctx.caseDone(`login as ${p.name}`);
    if (o.kind === 'granted') {
      this.trail.note(`login as ${p.name}: ${o.detail}`);
      return { ok: true, headers: { ...o.headers } };
    }
    const detail = o.kind === 'refused' ? o.detail : o.kind === 'timeout' ? 'no reply to the login' : `login failed: ${o.error}`;
    return { ok: false, detail, transcript };
  }

  /**
   * Every request as a step, in phase order (baselines, matrix, tampering,
   * path variants); the steps of DELETEs, then of logout routes, run after
   * all others, so the objects and sessions the other steps rely on stay.
   */
  private plan(sessions: readonly Subject[]): (() => Promise<void>)[] {
    const early: (() => Promise<void>)[] = [];
    const deletes: (() => Promise<void>)[] = [];
    const logouts: (() => Promise<void>)[] = [];
    const bucket = (c: ConcreteRoute) => (endsSession(c.route) ? logouts : c.method === 'DELETE' ? deletes : early);
    const rank = (m: string) => (m === 'GET' || m === 'HEAD' || m === 'OPTIONS' ? 0 : 1);
    const ordered = [...this.concrete].sort((a, b) => rank(a.method) - rank(b.method));
    const may = (s: Subject, method: string, path: string) => permits(this.concrete, this.publicRoutes, s.principal, method, path);
    const phases: ((c: ConcreteRoute) => (() => Promise<void>)[])[] = [
      (c) => (may(ANONYMOUS, c.method, c.path) ? [] : [() => this.baseline(c)]),
      (c) => sessions.map((s) => () => this.matrixRow(s, c)),
      (c) => sessions.filter((s) => !may(s, c.method, c.path)).flatMap((s) => this.tamperSteps(s, c, may)),
      (c) =>
        [ANONYMOUS, ...sessions]
          .filter((s) => !may(s, c.method, c.path))
          .flatMap((s) => pathVariants(c.path).map((v) => () => this.variant(s, c, v))),
    ];
    for (const phase of phases) {
      for (const c of ordered) bucket(c).push(...phase(c));
    }
    return [...early, ...deletes, ...logouts];
  }

  /** The canonical request without a session: auth.anonymous-access's row, sent here only as the baseline for attribution and variants. */
  private async baseline(c: ConcreteRoute): Promise<void> {
    const { o } = await this.send(ANONYMOUS, { method: c.method, path: c.path, kind: 'baseline' });
    this.canonical.set(keyOf(ANONYMOUS, c.method, c.path), o);
  }

  private async matrixRow(s: Subject, c: ConcreteRoute): Promise<void> {
    const p = s.principal!;
    const req: Req = { method: c.method, path: c.path, kind: 'matrix' };
    const sent = await this.send(s, req);
    const { o } = sent;
    this.canonical.set(keyOf(s, c.method, c.path), o);
    if (o.kind !== 'response') return;
    const label = `${c.method} ${c.path}`;
    if (permits(this.concrete, this.publicRoutes, p, c.method, c.path)) {
      if (is2xx(o)) this.allowedOk++;
      else if (REFUSALS.has(o.status)) {
        this.add(c, sent, `declaration mismatch: ${p.name} (role ${p.role}) is declared to use ${label} but it answers ${o.status}`, `${p.name} ${label} -> ${o.status}; declared allowed`, 'low');
      } else this.undecided.push(`${p.name} ${label} -> ${o.status}`);
      return;
    }
    if (!is2xx(o)) {
      if (!REFUSALS.has(o.status)) this.undecided.push(`${p.name} ${label} -> ${o.status}`);
      return;
    }
    if (is2xx(this.canonical.get(keyOf(ANONYMOUS, c.method, c.path)) ?? { kind: 'timeout' })) {
      this.attributed++;
      return;
    }
    const control = await this.soft404(s, req, o);
    if (control.catchAll) return;
    const foreign = c.route.owner !== undefined && c.ownerUser !== undefined && c.ownerUser !== p.user;
    const owner = this.ctx.target.principals.find((x) => x.user === c.ownerUser)?.name ?? c.ownerUser;
    const summary = foreign
      ? `IDOR: ${p.name} ${verbOf(c.method)} ${owner}'s object at ${label} (${o.status})`
      : `privilege escalation: ${p.name} (role ${p.role}) gets ${o.status} on ${label}; declared roles: ${c.route.roles.join(', ') || '(none)'}`;
    this.add(c, sent, summary, `${p.name} ${label} -> ${o.status}; declared forbidden to role ${p.role}${control.note}`);
  }

  private tamperSteps(s: Subject, c: ConcreteRoute, may: (s: Subject, m: string, p: string) => boolean): (() => Promise<void>)[] {
    const steps: (() => Promise<void>)[] = [];
    if (c.method === 'GET' && !may(s, 'HEAD', c.path)) {
      steps.push(() => this.tamper(s, c, { method: 'HEAD', path: c.path, kind: 'tamper' }, `HEAD ${c.path}`));
    }
    if (OVERRIDABLE.has(c.method) && !may(s, 'POST', c.path)) {
      for (const h of OVERRIDE_HEADERS) {
        steps.push(() => this.tamper(s, c, { method: 'POST', path: c.path, extra: { [h]: c.method }, kind: 'tamper' }, `POST ${c.path} with ${h}: ${c.method}`));
      }
    }
    return steps;
  }

  private async tamper(s: Subject, c: ConcreteRoute, req: Req, label: string): Promise<void> {
    const canon = this.canonical.get(keyOf(s, c.method, c.path));
    if (!refused(canon)) return; // already the matrix's finding, or no answer to compare with
    const sent = await this.send(s, req);
    if (!is2xx(sent.o)) return;
    const control = await this.soft404(s, req, sent.o);
    if (control.catchAll) return;
    const status = statusOf(sent.o);
    this.add(
      c,
      sent,
      `method tampering: ${label} answers ${status} ${toWhom(s)}; ${c.method} ${c.path} is refused to it (${statusOf(canon!)})`,
      `${subjectLabel(s)} ${label} -> ${status}; canonical ${c.method} ${c.path} -> ${statusOf(canon!)}${control.note}`,
    );
  }

  private async variant(s: Subject, c: ConcreteRoute, v: PathVariant): Promise<void> {
    const canon = this.canonical.get(keyOf(s, c.method, c.path));
    if (!refused(canon)) return;
    const req: Req = { method: c.method, path: v.path, kind: 'variant' };
    const sent = await this.send(s, req);
    if (!is2xx(sent.o)) return;
    const control = await this.soft404(s, req, sent.o);
    if (control.catchAll) return;
    const status = statusOf(sent.o);
    const group = `${subjectLabel(s)}\u0000${v.kind}`;
    const prior = this.variantGroups.get(group);
    if (prior) {
      prior.also.push(`${c.method} ${v.path} -> ${status}`);
      return;
    }
    this.variantGroups.set(group, { index: this.findings.length, also: [] });
    const canonical = s.principal
      ? `the canonical ${c.path} is refused to it (${statusOf(canon!)})`
      : `the canonical ${c.path} needs one (${statusOf(canon!)})`;
    this.add(
      c,
      sent,
      `${c.method} ${v.path} answers ${status} ${toWhom(s)}; ${canonical}`,
      `path variant ${v.kind}: ${subjectLabel(s)} ${c.method} ${v.path} -> ${status}; canonical ${c.method} ${c.path} -> ${statusOf(canon!)}${control.note}`,
    );
  }

  /** One spelling that opens many routes is one flaw: its finding is the first request, and names the others. */
  private foldVariantGroups(): void {
    for (const { index, also } of this.variantGroups.values()) {
      if (also.length === 0) continue;
      const f = this.findings[index]!;
      const listed = `${also.slice(0, 10).join(', ')}${also.length > 10 ? `, and ${also.length - 10} more` : ''}`;
      this.findings[index] = {
        ...f,
        summary: `${f.summary} (and ${also.length} more requests spelled the same way)`,
        evidence: { ...f.evidence, observed: `${f.evidence.observed}; the same spelling also opens: ${listed}` },
      };
    }
  }

  /**
   * The same request to a sibling path that cannot exist. When it gets the
   * same 2xx body, the device answers any path that way and the 2xx shows nothing.
   */
  private async soft404(s: Subject, req: Req, o: HttpOutcome): Promise<{ catchAll: boolean; note: string }> {
    const path = siblingPath(req.path, `gauntlet-nx-${(this.ctx.instance.seed >>> 0).toString(16)}`);
    const key = `${keyOf(s, req.method, path)}\u0000${JSON.stringify(req.extra ?? {})}`;
    let control = this.controls.get(key);
    if (!control) {
      control = await this.send(s, { ...req, path, kind: 'control' });
      this.controls.set(key, control);
    }
    const c = control.o;
    const catchAll = is2xx(c) && c.kind === 'response' && o.kind === 'response' && c.body === o.body;
    if (catchAll) this.suppressed++;
    return { catchAll, note: `; control ${req.method} ${path} -> ${statusOf(c)}` };
  }

  private add(c: ConcreteRoute, sent: Sent, summary: string, observed: string, severity?: Severity): void {
    this.findings.push({
      summary,
      ...(severity ? { severity } : {}),
      evidence: { observed, declared: describeRoute(c.route), source: SOURCE, transcript: sent.transcript },
    });
  }

  /** One request, its own transcript segment, a line in the trail; probes liveness after a run of silence. */
  private async send(s: Subject, req: Req): Promise<Sent> {
    const { ctx, iface } = this;
    const body = hasBody(req.method) ? '{}' : undefined;
    const extra = Object.entries(req.extra ?? {}).map(([k, v]) => `${k}: ${v}`);
    const who = s.principal ? `with ${s.principal.name}'s session (${Object.keys(s.headers).join(', ')})` : 'without a session';
    ctx.transcript.note([who, ...extra].join('; '));
    const headers = { ...s.headers, ...(body ? { 'content-type': 'application/json' } : {}), ...req.extra };
    const o = await httpExchange(iface, { method: req.method, path: req.path, headers, body }, ioOf(ctx));
    const transcript = ctx.transcript.take();
    this.counts[req.kind]++;
    const label = `${subjectLabel(s)} ${req.method} ${req.path}${extra.length ? ` [${extra.join(', ')}]` : ''}`;
    ctx.caseDone(label);
    this.trail.note(`${label} -> ${statusOf(o)}`);
    if (o.kind === 'response') {
      this.answered++;
      this.silentRun = 0;
    } else if (++this.silentRun >= SILENCE_PROBE_AFTER) {
      const alive = await probe(iface, ioOf(ctx));
      ctx.transcript.take();
      if (alive.alive) this.silentRun = 0;
      else this.stopped = `the device stopped answering after ${this.tried} requests (${alive.detail})`;
    }
    return { o, transcript };
  }
}
