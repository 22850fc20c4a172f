// auth.anonymous-access (C04, unauthenticated row): without credentials a
// client gets only what the declaration says it may.
//   MQTT: an anonymous CONNECT is refused unless declared allowed.
//   HTTP: every declared protected route answers 401/403 without a session;
//         the declared public routes answer (positive control).
//   CoAP: every resource (declared and discovered via /.well-known/core)
//         refuses every method not declared anonymous.
// Behaviour that contradicts the declaration is a finding even where it
// looks safe ("declaration mismatch", as TS 103 701 scores).

import type { Check, CheckContext, CheckOutcome, CoapInterface, FindingDraft, HttpInterface, MqttInterface } from '../../model/index.js';
import { connectFor, mqttConnectAttempt } from '../../protocols/mqtt/connect-attempt.js';
import { coapExchange, codeName, isSuccess, parseLinkFormat } from '../../protocols/coap/exchange.js';
import { httpExchange, splitRoute } from '../../protocols/http/exchange.js';
import type { CoapMethod } from 'coap-packet';
import { requirementsOf } from '../requirements.js';
import { ioOf } from '../io.js';

const COAP_METHODS: readonly CoapMethod[] = ['GET', 'POST', 'PUT', 'DELETE'];

export const anonymousAccess: Check = {
  id: 'auth.anonymous-access',
  title: 'Unauthenticated clients get only what is declared public',
  catalog: ['C04'],
  requirements: requirementsOf('C04'),
  protocols: ['mqtt', 'mqtts', 'http', 'https', 'coap'],
  phase: 'main',
  severity: 'high',
  remedy: 'Require authentication on every network function that is not declared public; refuse anonymous MQTT sessions; protect configuration resources.',
  timeoutMs: 120_000,
  applies: () => undefined,
  async run(ctx) {
    switch (ctx.iface.protocol) {
      case 'mqtt':
      case 'mqtts':
        return mqttAnonymous(ctx, ctx.iface);
      case 'http':
      case 'https':
        return httpAnonymous(ctx, ctx.iface);
      default:
        return coapAnonymous(ctx, ctx.iface as CoapInterface);
    }
  },
};

async function mqttAnonymous(ctx: CheckContext, iface: MqttInterface): Promise<CheckOutcome> {
  const declared = ctx.target.declaration.access.mqtt.anonymous;
  const o = await mqttConnectAttempt(iface, iface.version, connectFor(iface.version, {}), ioOf(ctx), 'CONNECT without user name or password');
  ctx.caseDone('anonymous CONNECT');
  const evidence = (observed: string) => ({
    observed,
    declared: `declaration.access.mqtt.anonymous: ${declared}`,
    source: 'target:declaration.access.mqtt.anonymous',
    transcript: ctx.transcript.take(),
  });
  if (o.kind === 'timeout' || o.kind === 'unreachable') {
    return { verdict: 'inconclusive', reason: `no answer to an anonymous CONNECT (${o.kind})`, findings: [], evidence: evidence(o.kind) };
  }
  const accepted = o.kind === 'accepted';
  const observed = o.kind === 'accepted' || o.kind === 'refused' ? `CONNACK ${o.code} (${o.meaning})` : o.kind === 'closed' ? 'closed without CONNACK' : `malformed reply: ${o.detail}`;
  if (accepted && !declared) {
    return {
      verdict: 'fail',
      reason: 'anonymous MQTT session accepted; the declaration says anonymous access is refused',
      findings: [{ summary: `the broker accepts an MQTT session without credentials (${observed})`, evidence: evidence(observed) }],
    };
  }
  if (!accepted && declared) {
    return {
      verdict: 'fail',
      reason: 'declaration mismatch: anonymous access is declared allowed but was refused',
      findings: [{ summary: `declaration mismatch: anonymous MQTT declared allowed, broker refused (${observed})`, evidence: evidence(observed), severity: 'low' }],
    };
  }
  return { verdict: 'pass', reason: accepted ? `anonymous session accepted, as declared (${observed})` : `anonymous session refused (${observed})`, findings: [], evidence: evidence(observed) };
}

async function httpAnonymous(ctx: CheckContext, iface: HttpInterface): Promise<CheckOutcome> {
  const { public: open, protected: closed } = ctx.target.declaration.access.http;
  if (closed.length === 0) {
    return { verdict: 'skipped', reason: 'no protected HTTP routes declared (declaration.access.http.protected)', findings: [] };
  }
  const io = ioOf(ctx);
  const findings: FindingDraft[] = [];
  let silent = 0;
  let publicOk = 0;
  // Positive control: the declared public routes answer.
  for (const route of open) {
    const { method, path } = splitRoute(route);
    if (method !== 'GET') continue;
    const r = await httpExchange(iface, { method, path }, io);
    if (r.kind === 'response' && r.status < 500) publicOk++;
  }
  ctx.transcript.take();
  for (const route of closed) {
    const { method, path } = splitRoute(route);
    const body = method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : '{}';
    const r = await httpExchange(iface, { method, path, body, headers: body ? { 'content-type': 'application/json' } : {} }, io);
    ctx.caseDone(`${route} without a session`);
    if (r.kind !== 'response') {
      silent++;
      continue;
    }
    if (r.status >= 200 && r.status <= 299) {
      findings.push({
        summary: `${route} answers ${r.status} without a session`,
        evidence: {
          observed: `${route} -> ${r.status}`,
          declared: `"${route}" is in declaration.access.http.protected`,
          source: 'target:declaration.access.http.protected',
          transcript: ctx.transcript.take(),
        },
      });
    } else ctx.transcript.take();
  }
  if (findings.length) return { verdict: 'fail', reason: `${findings.length} of ${closed.length} protected routes open without a session`, findings, cases: closed.length };
  if (silent === closed.length) return { verdict: 'inconclusive', reason: 'no protected route answered', findings: [], cases: closed.length };
  return {
    verdict: 'pass',
    reason: `all ${closed.length - silent} protected routes refused without a session; ${publicOk} public routes answer`,
    findings: [],
    cases: closed.length,
  };
}

async function coapAnonymous(ctx: CheckContext, iface: CoapInterface): Promise<CheckOutcome> {
  const decl = ctx.target.declaration.access.coap;
  const io = ioOf(ctx);
  const allowed = new Map(Object.entries(decl.anonymous).map(([p, m]) => [p, new Set(m)]));
  const resources = new Set<string>([...decl.resources, ...allowed.keys()]);
  const disc = await coapExchange(iface, { method: 'GET', path: '/.well-known/core' }, io);
  let discovered: string[] = [];
  if (disc.kind === 'response' && isSuccess(disc.code)) {
    discovered = parseLinkFormat(disc.payload.toString('utf8'));
    for (const r of discovered) resources.add(r);
  }
  ctx.transcript.take();
  if (resources.size === 0) {
    return { verdict: 'inconclusive', reason: 'no CoAP resources declared and none discovered', findings: [] };
  }
  const findings: FindingDraft[] = [];
  let refused = 0;
  let silent = 0;
  for (const path of [...resources].sort()) {
    for (const method of COAP_METHODS) {
      if (allowed.get(path)?.has(method)) continue;
      const payload = method === 'PUT' || method === 'POST' ? Buffer.from('{"gauntlet":"probe"}') : undefined;
      const r = await coapExchange(iface, { method, path, payload, contentFormat: payload ? 50 : undefined }, io);
      ctx.caseDone(`${method} ${path}`);
      if (r.kind === 'response' && isSuccess(r.code)) {
        findings.push({
          summary: `${method} ${path} answers ${codeName(r.code)} without authentication over plain CoAP`,
          evidence: {
            observed: `${method} ${path} -> ${codeName(r.code)}`,
            declared: `anonymous methods on ${path}: ${[...(allowed.get(path) ?? [])].join(', ') || 'none'}`,
            source: 'target:declaration.access.coap.anonymous',
            transcript: ctx.transcript.take(),
          },
        });
      } else {
        if (r.kind === 'timeout' || r.kind === 'unreachable') silent++;
        else refused++;
        ctx.transcript.take();
      }
    }
  }
  const cases = refused + silent + findings.length;
  if (findings.length) return { verdict: 'fail', reason: `${findings.length} undeclared anonymous CoAP operations succeed`, findings, cases };
  if (refused === 0) return { verdict: 'inconclusive', reason: `no CoAP answer to ${silent} requests`, findings: [], cases };
  return {
    verdict: 'pass',
    reason: `${refused} undeclared anonymous operations on ${resources.size} resources refused${discovered.length ? ` (${discovered.length} discovered)` : ''}`,
    findings: [],
    cases,
  };
}
