// auth.anonymous-access (C04, unauthenticated row): without credentials a
// client gets only what the declaration says it may.
//   MQTT: an anonymous CONNECT is refused unless declared allowed.
//   HTTP: every declared protected route answers 401/403 without a session;
//         the declared public routes answer (positive control).
// (Plain CoAP has only the anonymous principal: its method x resource matrix
// is access.coap-resources, one check per concern.)
// Behaviour that contradicts the declaration is a finding even where it
// looks safe ("declaration mismatch", as TS 103 701 scores).

import type { Check, CheckContext, CheckOutcome, FindingDraft, HttpInterface, MqttInterface } from '../../model/index.js';
import { connectFor, mqttConnectAttempt } from '../../protocols/mqtt/connect-attempt.js';
import { httpExchange, splitRoute } from '../../protocols/http/exchange.js';
import { requirementsOf } from '../requirements.js';
import { ioOf } from '../io.js';
import { expandRoutes } from '../policy/http-routes.js';

export const anonymousAccess: Check = {
  id: 'auth.anonymous-access',
  title: 'Unauthenticated clients get only what is declared public',
  catalog: ['C04'],
  requirements: requirementsOf('C04'),
  protocols: ['mqtt', 'mqtts', 'http', 'https'],
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
      default:
        return httpAnonymous(ctx, ctx.iface as HttpInterface);
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
  const { public: open, routes } = ctx.target.declaration.access.http;
  const closed = expandRoutes(routes, ctx.target.principals);
  if (closed.length === 0) {
    return { verdict: 'skipped', reason: 'no HTTP routes declared (declaration.access.http.routes)', findings: [] };
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
  for (const { method, path, route } of closed) {
    const label = `${method} ${path}`;
    const body = method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : '{}';
    const r = await httpExchange(iface, { method, path, body, headers: body ? { 'content-type': 'application/json' } : {} }, io);
    ctx.caseDone(`${label} without a session`);
    if (r.kind !== 'response') {
      silent++;
      continue;
    }
    if (r.status >= 200 && r.status <= 299) {
      findings.push({
        summary: `${label} answers ${r.status} without a session`,
        evidence: {
          observed: `${label} -> ${r.status}`,
          declared: `${route.route} needs a session (roles: ${route.roles.join(', ') || 'owner only'})`,
          source: 'target:declaration.access.http.routes',
          transcript: ctx.transcript.take(),
        },
      });
    } else ctx.transcript.take();
  }
  if (findings.length) return { verdict: 'fail', reason: `${findings.length} of ${closed.length} protected requests succeed without a session`, findings, cases: closed.length };
  if (silent === closed.length) return { verdict: 'inconclusive', reason: 'no protected route answered', findings: [], cases: closed.length };
  return {
    verdict: 'pass',
    reason: `all ${closed.length - silent} protected requests refused without a session; ${publicOk} public routes answer`,
    findings: [],
    cases: closed.length,
  };
}
