// transport.plaintext (C06 plaintext listeners, C08 credentials in clear): one
// instance for the whole device.
//   1. The plaintext listeners to judge: the target file's mqtt, http and coap
//      interfaces; the declared ports (declaration.interfaces) whose service
//      is mqtt, http or coap; and, unless the scope leaves them out, the usual
//      ports 1883/tcp (MQTT), 80/tcp (HTTP) and 5683/udp (CoAP) on each host.
//   2. Each is probed in its protocol, without credentials: an anonymous
//      CONNECT (any CONNACK), GET of a public path (any HTTP reply), CoAP GET
//      /.well-known/core (any CoAP reply). Only a listener that answers in
//      its protocol counts; a closed or silent port is not a listener.
//   3. declaration.secureOnly: any plaintext listener answering is a finding.
//   4. Credentials in clear: on each MQTT and HTTP listener that answers,
//      each principal's own credential is presented (the HTTP login of the
//      listener's interface, or of the device's https interface when the port
//      is only declared: the same API in clear). Granted is a finding: the
//      credential crossed the network in clear and the device took it, so its
//      clients send it that way [EN 303 645 5.5-6]. Refused counts only with a
//      positive control: the same credential granted over the TLS counterpart
//      (an mqtts interface, an https interface with auth); without one the
//      refusal cannot be told from a wrong credential, and the listener is
//      inconclusive. CoAP has no credentials of its own (identities are DTLS
//      PSKs, judged on coaps), so plain CoAP is judged by step 3 only.
// Every attempt goes through the lockout pacer; the listeners and the
// principals tried are bounded.

import type {
  Check,
  CheckContext,
  CheckOutcome,
  Endpoint,
  FindingDraft,
  HttpInterface,
  Interface,
  MqttInterface,
  Principal,
  Target,
  TranscriptEntry,
} from '../../model/index.js';
import { TranscriptRecorder } from '../../core/transcript.js';
import { type Io } from '../../protocols/common/io.js';
import { normHost, peerOf, transportOf } from '../../protocols/common/port-probe.js';
import { codeName, coapExchange } from '../../protocols/coap/exchange.js';
import { httpExchange } from '../../protocols/http/exchange.js';
import { connectFor, mqttConnectAttempt } from '../../protocols/mqtt/connect-attempt.js';
import { tryCredential, type Attempt } from '../authentication/credential-attempt.js';
import { requirementsOf } from '../requirements.js';

export type PlainProtocol = 'mqtt' | 'http' | 'coap';

/** The usual plaintext ports of each protocol [STANDARDS.md C06]. */
export const USUAL_PLAINTEXT: Readonly<Record<PlainProtocol, number>> = { mqtt: 1883, http: 80, coap: 5683 };
/** Bound on the listeners judged, and on the principals whose credentials are tried on each. */
export const MAX_LISTENERS = 24;
export const MAX_PRINCIPALS = 4;

export interface PlainListener extends Endpoint {
  readonly protocol: PlainProtocol;
  /** Where it came from: `interface <id>`, `declared <transport>/<port>`, `usual port`. */
  readonly origin: string;
  /** The target file's interface at this endpoint, when it is one. */
  readonly iface?: Interface;
}

const SECURE_OF: Readonly<Record<PlainProtocol, string>> = { mqtt: 'mqtts', http: 'https', coap: 'coaps' };
const isPlain = (p: string): p is PlainProtocol => p === 'mqtt' || p === 'http' || p === 'coap';
const where = (l: PlainListener) => `${l.protocol.toUpperCase()} ${peerOf(l.host, l.port)}`;

/** Step 1: the listeners to judge, in a stable order, at most MAX_LISTENERS (and how many were left out). */
export function plaintextListeners(target: Target): { readonly listeners: PlainListener[]; readonly dropped: number } {
  const out: PlainListener[] = [];
  const taken = new Set<string>();
  const add = (l: PlainListener): void => {
    const key = `${normHost(l.host)}|${transportOf(l.protocol)}/${l.port}`;
    if (taken.has(key)) return;
    taken.add(key);
    out.push(l);
  };
  const served = target.interfaces.filter((i) => i.role === 'server');
  // A declared or usual port that is an mqtts/https/coaps interface is not plaintext.
  for (const i of served) if (!isPlain(i.protocol)) taken.add(`${normHost(i.host)}|${transportOf(i.protocol)}/${i.port}`);
  for (const i of served) {
    if (isPlain(i.protocol)) add({ host: i.host, port: i.port, protocol: i.protocol, origin: `interface ${i.id}`, iface: i });
  }
  const hosts = [...new Set(served.map((i) => i.host))];
  for (const d of target.declaration.interfaces ?? []) {
    const service = d.service?.toLowerCase() ?? '';
    if (d.status !== 'enabled' || !isPlain(service) || transportOf(service) !== d.transport) continue;
    // A declared TLS service on a port counts as what it says; only plain services are probed.
    for (const host of hosts) add({ host, port: d.port, protocol: service, origin: `declared ${d.transport}/${d.port} (${service})` });
  }
  // A declared TLS service on a usual port (mqtts on 1883) keeps that port out of the usual probes.
  for (const d of target.declaration.interfaces ?? []) {
    if (d.service && !isPlain(d.service.toLowerCase())) for (const host of hosts) taken.add(`${normHost(host)}|${d.transport}/${d.port}`);
  }
  if (target.scope.probe.usual) {
    for (const host of hosts) {
      for (const protocol of ['mqtt', 'http', 'coap'] as const) add({ host, port: USUAL_PLAINTEXT[protocol], protocol, origin: 'usual port' });
    }
  }
  return { listeners: out.slice(0, MAX_LISTENERS), dropped: Math.max(0, out.length - MAX_LISTENERS) };
}

/** A plain MQTT interface at a listener (its own, or one made for the probe). */
function mqttAt(l: PlainListener): MqttInterface {
  if (l.iface?.protocol === 'mqtt') return l.iface;
  const version = 4;
  return { id: `plain-mqtt:${l.port}`, role: 'server', protocol: 'mqtt', host: l.host, port: l.port, version };
}

/** The HTTP API a plain HTTP listener is judged with: its own interface, else the https interface's auth and paths. */
function httpAt(l: PlainListener, target: Target): { readonly iface: HttpInterface; readonly borrowed?: string } {
  if (l.iface?.protocol === 'http') return { iface: l.iface };
  const api = target.interfaces.find((i): i is HttpInterface => i.protocol === 'https' && i.auth !== undefined) ?? target.interfaces.find((i): i is HttpInterface => i.protocol === 'https');
  const base = { id: `plain-http:${l.port}`, role: 'server' as const, protocol: 'http' as const, host: l.host, port: l.port };
  if (!api) return { iface: { ...base, probePath: '/' } };
  return {
    iface: { ...base, probePath: api.probePath, ...(api.auth ? { auth: api.auth } : {}), ...(api.protectedPath ? { protectedPath: api.protectedPath } : {}) },
    borrowed: api.id,
  };
}

/** The interface a credential refused in clear is proven valid on. */
function secureCounterpart(target: Target, protocol: PlainProtocol): Interface | undefined {
  if (protocol === 'mqtt') return target.interfaces.find((i) => i.protocol === 'mqtts' && i.role === 'server');
  if (protocol === 'http') return target.interfaces.find((i) => i.protocol === 'https' && i.role === 'server' && (i as HttpInterface).auth !== undefined);
  return undefined;
}

type Probe = { readonly answers: true; readonly detail: string } | { readonly answers: false; readonly detail: string; readonly aborted?: boolean };

/** Step 2: whether the listener speaks its protocol in clear. */
async function probe(l: PlainListener, target: Target, io: Io): Promise<Probe> {
  if (l.protocol === 'mqtt') {
    const m = mqttAt(l);
    const o = await mqttConnectAttempt(m, m.version, connectFor(m.version, {}), io, 'CONNECT without credentials');
    if (o.kind === 'accepted' || o.kind === 'refused') return { answers: true, detail: `anonymous CONNECT answered CONNACK ${o.code} (${o.meaning})` };
    return { answers: false, detail: o.kind === 'unreachable' ? `closed (${o.error})` : o.kind === 'malformed' ? `not MQTT (${o.detail})` : o.kind === 'closed' ? 'closed the connection without a CONNACK' : 'no CONNACK in time' };
  }
  if (l.protocol === 'http') {
    const { iface } = httpAt(l, target);
    const o = await httpExchange(iface, { method: 'GET', path: iface.probePath }, io);
    if (o.kind !== 'response') return { answers: false, detail: o.kind === 'unreachable' ? `closed (${o.error})` : 'no HTTP reply in time' };
    const location = o.headers.location;
    return { answers: true, detail: `GET ${iface.probePath} answered ${o.status}${typeof location === 'string' ? ` (Location: ${location.slice(0, 120)})` : ''}` };
  }
  const o = await coapExchange(l, { method: 'GET', path: '/.well-known/core', confirmable: true }, io);
  if (o.kind === 'response') return { answers: true, detail: `GET /.well-known/core answered ${codeName(o.code)}` };
  if (o.kind === 'reset') return { answers: true, detail: 'GET /.well-known/core answered with a CoAP Reset' };
  return { answers: false, detail: o.kind === 'unreachable' ? `unreachable (${o.error})` : o.kind === 'malformed' ? `not CoAP (${o.detail})` : 'no CoAP reply in time' };
}

interface Judged {
  readonly listener: PlainListener;
  readonly probe: Probe;
  readonly granted: { readonly principal: string; readonly detail: string }[];
  /** Refusals a positive control proved (the credential works over TLS). */
  readonly refused: string[];
  /** Why a refusal could not be judged. */
  readonly unproven: string[];
  readonly notes: string[];
  readonly transcript: TranscriptEntry[];
}

/** Principals with a user name and password, bounded. */
const credentialed = (principals: readonly Principal[]) => principals.filter((p) => p.user !== '').slice(0, MAX_PRINCIPALS);

export const transportPlaintext: Check = {
  id: 'transport.plaintext',
  title: 'No plaintext listener where secure-only is declared; no credentials accepted in clear',
  catalog: ['C06', 'C08'],
  requirements: requirementsOf('C08', 'C06'),
  protocols: ['mqtt', 'mqtts', 'coap', 'coaps', 'http', 'https'],
  per: 'target',
  phase: 'main',
  severity: 'high',
  remedy:
    'Accept credentials, tokens and keys only over TLS or DTLS (mqtts, https, coaps): close the plaintext MQTT and HTTP ports or have them refuse every login (an HTTP port may only redirect to https), and keep the declaration (secureOnly, the declared ports) true to the firmware.',
  timeoutMs: 180_000,
  applies: (target) => (plaintextListeners(target).listeners.length === 0 ? 'no plaintext listener to probe: no mqtt/http/coap interface or declared port, and the scope leaves out the usual ports' : undefined),
  run,
};

async function run(ctx: CheckContext): Promise<CheckOutcome> {
  const { listeners, dropped } = plaintextListeners(ctx.target);
  if (dropped > 0) ctx.transcript.note(`bounded to ${MAX_LISTENERS} listeners: ${dropped} not probed`);
  const principals = credentialed(ctx.target.principals);
  const controls = new Map<string, Attempt>();
  const judged: Judged[] = [];
  for (const l of listeners) {
    if (ctx.signal.aborted) break;
    judged.push(await judge(ctx, l, principals, controls));
    const last = judged.at(-1)!;
    ctx.caseDone(`${where(l)}: ${last.probe.detail}${last.granted.length ? `; credentials accepted: ${last.granted.map((g) => g.principal).join(', ')}` : ''}`);
  }
  if (ctx.signal.aborted || judged.some((j) => !j.probe.answers && j.probe.aborted)) {
    return { verdict: 'inconclusive', reason: 'interrupted before every plaintext listener was judged', findings: [], evidence: { observed: 'interrupted', transcript: ctx.transcript.take() } };
  }

  const secureOnly = ctx.target.declaration.secureOnly;
  const findings: FindingDraft[] = [];
  const answering = judged.filter((j) => j.probe.answers);
  for (const j of answering) {
    const observed = `${where(j.listener)} (${j.listener.origin}): ${j.probe.detail}`;
    if (secureOnly) {
      findings.push({
        summary: `plaintext ${j.listener.protocol.toUpperCase()} listener on ${peerOf(j.listener.host, j.listener.port)} on a device declared secure-only`,
        evidence: { observed, declared: 'declaration.secureOnly: true', source: 'target:declaration.secureOnly', transcript: j.transcript },
      });
    }
    if (j.granted.length > 0) {
      findings.push({
        summary: `credentials accepted in clear on ${where(j.listener)}: ${j.granted.map((g) => g.principal).join(', ')}`,
        severity: 'critical',
        evidence: {
          observed: `${observed}; ${j.granted.map((g) => `${g.principal}: ${g.detail}`).join('; ')}`,
          declared: 'credentials, tokens and keys only over TLS/DTLS (EN 303 645 5.5-6, 5.5-7; STANDARDS.md C08)',
          source: 'target:principals',
          transcript: j.transcript,
        },
      });
    }
  }
  for (const j of judged) for (const n of j.notes) ctx.transcript.note(`${where(j.listener)}: ${n}`);
  const summary = judged.map((j) => `${where(j.listener)} ${j.probe.answers ? 'answers' : 'no listener'}`).join('; ');
  const transcript = [...judged.flatMap((j) => j.transcript), ...ctx.transcript.take()];
  const evidence = {
    observed: judged.map((j) => `${where(j.listener)} (${j.listener.origin}): ${j.probe.detail}${j.refused.length ? `; refused in clear: ${j.refused.join('; ')}` : ''}`).join('\n') || '(nothing probed)',
    declared: `secureOnly: ${secureOnly}; no credential accepted in clear`,
    source: 'target:declaration.secureOnly, target:principals',
    transcript,
  };
  if (findings.length > 0) return { verdict: 'fail', reason: findings.map((f) => f.summary).join('; '), findings, evidence, cases: judged.length };
  const unproven = judged.flatMap((j) => j.unproven.map((u) => `${where(j.listener)}: ${u}`));
  if (unproven.length > 0) return { verdict: 'inconclusive', reason: `a refusal in clear could not be proven: ${unproven.join('; ')}`, findings: [], evidence, cases: judged.length };
  if (answering.length === 0) return { verdict: 'pass', reason: `no plaintext listener answers (${summary})`, findings: [], evidence, cases: judged.length };
  const tried = answering.filter((j) => j.refused.length > 0).length;
  return {
    verdict: 'pass',
    reason:
      `${answering.length} plaintext listener(s) answer, none accepts a credential` +
      `${tried ? ` (each principal's credential refused in clear on ${tried} and granted over TLS)` : ''}; ${summary}`,
    findings: [],
    evidence,
    cases: judged.length,
  };
}

async function judge(ctx: CheckContext, l: PlainListener, principals: readonly Principal[], controls: Map<string, Attempt>): Promise<Judged> {
  const recorder = new TranscriptRecorder();
  const peer = peerOf(l.host, l.port);
  const io: Io = { scope: ctx.scope, transcript: recorder, timeoutMs: ctx.ioTimeoutMs, signal: ctx.signal, peer };
  const result: Judged = { listener: l, probe: { answers: false, detail: '' }, granted: [], refused: [], unproven: [], notes: [], transcript: [] };
  const p = await probe(l, ctx.target, io);
  const out = (probeResult: Probe): Judged => ({ ...result, probe: probeResult, transcript: recorder.take() });
  if (!p.answers) return out(ctx.signal.aborted ? { ...p, aborted: true } : p);
  if (l.protocol === 'coap') return out(p);
  if (principals.length === 0) {
    result.notes.push('no principal with a user name and password in the target file: no credential to present');
    return out(p);
  }
  let iface: Interface;
  if (l.protocol === 'mqtt') iface = mqttAt(l);
  else {
    const { iface: h, borrowed } = httpAt(l, ctx.target);
    if (!h.auth) {
      result.notes.push('the target file declares no HTTP login (interfaces[].auth): no credential to present');
      return out(p);
    }
    if (borrowed) result.notes.push(`presented with the login of interface ${borrowed} (the same API, in clear)`);
    iface = h;
  }
  const counterpart = secureCounterpart(ctx.target, l.protocol);
  for (const principal of principals) {
    if (ctx.signal.aborted) break;
    const a = await tryCredential({ ...ctx, iface }, { user: principal.user, pass: principal.pass }, { transcript: recorder });
    if (a.kind === 'granted') {
      result.granted.push({ principal: principal.name, detail: a.detail });
      continue;
    }
    if (a.kind === 'no-answer') {
      result.unproven.push(`${principal.name}: ${a.detail}`);
      continue;
    }
    // The refusal counts only if the same credential works over TLS.
    if (!counterpart) {
      result.unproven.push(`${principal.name} refused (${a.detail}) and the target file has no ${SECURE_OF[l.protocol]} interface to prove the credential valid`);
      continue;
    }
    const key = `${counterpart.id}|${principal.name}`;
    let control = controls.get(key);
    if (!control) {
      control = await tryCredential({ ...ctx, iface: counterpart }, { user: principal.user, pass: principal.pass }, { transcript: recorder });
      controls.set(key, control);
    }
    if (control.kind === 'granted') result.refused.push(`${principal.name} (${a.detail}; granted on ${counterpart.id})`);
    else result.unproven.push(`${principal.name} refused in clear, but also not granted on ${counterpart.id} (${control.detail})`);
  }
  return out(p);
}
