// access.http-routes against a small node:http device started here on
// 127.0.0.1 port 0. The device authorizes on the raw request (method, path)
// and routes on what its router makes of it; each flaw makes the router
// see something the authorizer did not (the way real bypasses happen), or
// loosens one rule. The check runs through the real planner and runner.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpRoutes } from '../../../harness/checks/access/http-routes.js';
import { describeRoute, pathVariants, permits, siblingPath, expandRoutes, type PathVariantKind } from '../../../harness/checks/policy/http-routes.js';
import { targetFromObject, type TargetFileInput } from '../../../harness/core/target-file.js';
import type { Check, CheckResult, Principal } from '../../../harness/model/index.js';
import { runAgainst } from '../../support/run-target.js';
import { httpTarget } from '../../support/http-target.js';

/** The real planner and runner with one check (runAgainst plans only registered checks of the default profile). */
/** One check through the real planner and runner, short I/O bounds for the silent-device cases. */
async function runCheck(input: TargetFileInput, check: Check): Promise<CheckResult> {
  const run = await runAgainst(input, { checks: [check], ioTimeoutMs: 2000, numRuns: 10, timeMs: 5000 });
  expect(run.results).toHaveLength(1);
  return run.results[0]!;
}

type Flaw =
  | 'escalation'
  | 'idor'
  | 'head'
  | 'override'
  | 'mismatch'
  | 'catch-all'
  | PathVariantKind;

interface Device {
  readonly port: number;
  /** Requests seen, as `METHOD raw-path`. */
  readonly seen: string[];
}

const ACCOUNTS: Readonly<Record<string, { pass: string; role: string }>> = {
  admin: { pass: 'admin-pw', role: 'admin' },
  alice: { pass: 'alice-pw', role: 'user' },
};

type Rule = readonly string[] | 'owner-or-admin';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/** What the router makes of a raw path, under the path flaws. */
function routed(raw: string, flaws: ReadonlySet<Flaw>): string {
  let p = raw;
  if (flaws.has('double-slash')) p = p.replace(/\/{2,}/g, '/');
  if (flaws.has('percent-encoded')) p = decodeURIComponent(p);
  if (flaws.has('dot-segment')) p = p.replace(/\/\.(?=\/)/g, '');
  if (flaws.has('dot-dot-segment')) p = p.replace(/\/[^/]+\/\.\.(?=\/)/g, '');
  if (flaws.has('trailing-slash') && p.length > 1) p = p.replace(/\/+$/, '');
  if (flaws.has('upper-case')) p = p.toLowerCase();
  return p;
}

async function startDevice(flaws: readonly Flaw[] = [], opts: { silentExcept?: string; dieAfterLogins?: number } = {}): Promise<Device> {
  const on = new Set(flaws);
  const sessions = new Map<string, string>();
  const seen: string[] = [];
  let dead = false;
  const config = { interval: 60 };
  const rules: Readonly<Record<string, Readonly<Record<string, Rule>>>> = {
    '/api/status': { GET: on.has('mismatch') ? ['admin'] : ['admin', 'user'] },
    '/api/config': { GET: on.has('escalation') ? ['admin', 'user'] : ['admin'], PUT: ['admin'] },
    '/api/users/{user}': { GET: on.has('idor') ? ['admin', 'user'] : 'owner-or-admin' },
    '/api/logout': { POST: ['admin', 'user'] },
  };
  const template = (p: string) => (/^\/api\/users\/[^/]+$/.test(p) ? '/api/users/{user}' : p);
  const handlers: Readonly<Record<string, Readonly<Record<string, (user: string | undefined, p: string) => [number, unknown?]>>>> = {
    '/health': { GET: () => [200, { ok: true }] },
    '/api/status': { GET: () => [200, { firmware: '1.2.3' }] },
    '/api/config': { GET: () => [200, config], PUT: () => [204] },
    '/api/users/{user}': { GET: (_u, p) => [200, { user: p.split('/').pop() }] },
    '/api/logout': { POST: () => [204] },
  };
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    if (body === undefined) res.writeHead(status).end();
    else res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const rawPath = req.url ?? '/';
    const rawMethod = req.method ?? 'GET';
    seen.push(`${rawMethod} ${rawPath}`);
    if (dead || (opts.silentExcept !== undefined && rawPath !== opts.silentExcept)) return; // never answers
    if (rawMethod === 'POST' && rawPath === '/api/login') {
      let cred: { username?: string; password?: string } = {};
      try {
        cred = JSON.parse(body) as typeof cred;
      } catch {
        return send(res, 400);
      }
      const acct = ACCOUNTS[cred.username ?? ''];
      if (!acct || acct.pass !== cred.password) return send(res, 401, { error: 'invalid credentials' });
      const token = `tok-${cred.username}-${sessions.size}`;
      sessions.set(token, cred.username!);
      send(res, 200, { token });
      if (sessions.size === opts.dieAfterLogins) dead = true;
      return;
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [bu, bp] = Buffer.from(basic ?? '', 'base64').toString().split(':');
    const user = token !== undefined ? sessions.get(token) : basic !== undefined && ACCOUNTS[bu ?? '']?.pass === bp ? bu : undefined;
    const role = user === undefined ? undefined : ACCOUNTS[user]!.role;

    // The authorizer sees the raw request.
    const rule = rules[template(rawPath)]?.[rawMethod];
    if (rule !== undefined) {
      if (user === undefined) return send(res, 401, { error: 'authentication required' });
      const ok = rule === 'owner-or-admin' ? role === 'admin' || rawPath.endsWith(`/${user}`) : rule.includes(role!);
      if (!ok) return send(res, 403, { error: 'forbidden' });
    }
    // The router sees what it makes of it.
    const path = routed(rawPath, on);
    let method = rawMethod;
    if (on.has('head') && method === 'HEAD') method = 'GET';
    const override = req.headers['x-http-method-override'];
    if (on.has('override') && method === 'POST' && typeof override === 'string') method = override;
    const route = handlers[template(path)];
    if (!route) return on.has('catch-all') ? res.writeHead(200, { 'content-type': 'text/html' }).end('<html>app</html>') : send(res, 404, { error: 'not found' });
    const h = route[method];
    if (!h) return send(res, 405, { error: 'method not allowed' });
    const [status, out] = h(user, path);
    send(res, status, rawMethod === 'HEAD' ? undefined : out);
  };

  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (dead) return req.socket.destroy();
      handle(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
  };
}

function target(port: number, principals: TargetFileInput['principals'] = { admin: { user: 'admin', pass: 'admin-pw', role: 'admin' }, alice: { user: 'alice', pass: 'alice-pw', role: 'user' } }): TargetFileInput {
  return httpTarget(port, {
    probe: '/health',
    protectedPath: '/api/config',
    principals,
    declaration: {
      access: {
        http: {
          public: ['GET /health', 'POST /api/login'],
          routes: [
            { route: '/api/status', methods: ['GET'], roles: ['admin', 'user'] },
            { route: '/api/config', methods: ['GET', 'PUT'], roles: ['admin'] },
            { route: '/api/users/{user}', methods: ['GET'], roles: ['admin'], owner: 'user' },
            { route: '/api/logout', methods: ['POST'], roles: ['admin', 'user'] },
          ],
        },
      },
    },
  });
}

const summaries = (r: CheckResult) => r.findings.map((f) => f.summary);

describe('access.http-routes on a fake device', () => {
  it('correct device: pass, with the request count in the reason', async () => {
    const d = await startDevice();
    const r = await runCheck(target(d.port), httpRoutes);
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.reason).toMatch(/^\d+ requests \(\d+ matrix, \d+ method tampering, \d+ path variants, \d+ baselines and controls\) as admin, alice and without a session: every forbidden request refused, 9 allowed requests answered 2xx$/);
    expect(r.cases).toBeGreaterThan(40);
    // Logout requests go last, so every other request had a live session.
    const checkRequests = d.seen.slice(0, -1); // the last is the runner's liveness probe after the check
    const first = checkRequests.findIndex((s) => s.startsWith('POST /api/logout'));
    expect(checkRequests.slice(first).every((s) => /logout|%6Cogout/i.test(s)), checkRequests.slice(first).join('\n')).toBe(true);
    // Path variants and tampering were really sent.
    expect(d.seen).toContain('GET //api/config');
    expect(d.seen).toContain('GET /api/%63onfig');
    expect(d.seen).toContain('HEAD /api/config');
  });

  it('matrix escalation: a user-role session reads the admin-only config', async () => {
    const d = await startDevice(['escalation']);
    const r = await runCheck(target(d.port), httpRoutes);
    expect(r.verdict).toBe('fail');
    expect(summaries(r)).toEqual(['privilege escalation: alice (role user) gets 200 on GET /api/config; declared roles: admin']);
    const f = r.findings[0]!;
    expect(f.severity).toBe('high');
    expect(f.evidence.declared).toBe('/api/config GET, PUT: roles admin');
    expect(f.evidence.source).toBe('target:declaration.access.http.routes');
    expect(f.evidence.transcript.map((e) => e.decoded)).toEqual([expect.stringMatching(/with alice's session/), 'GET /api/config [authorization: <redacted>]', expect.stringMatching(/^200 /)]);
    expect(f.replay).toMatch(/^gauntlet replay /);
  });

  it('IDOR: alice reads the admin object on an owner route', async () => {
    const d = await startDevice(['idor']);
    const r = await runCheck(target(d.port), httpRoutes);
    expect(r.verdict).toBe('fail');
    expect(summaries(r)).toEqual(["IDOR: alice reads admin's object at GET /api/users/admin (200)"]);
  });

  it('HEAD tampering: HEAD passes where GET is refused', async () => {
    const d = await startDevice(['head']);
    const r = await runCheck(target(d.port), httpRoutes);
    expect(r.verdict).toBe('fail');
    expect(summaries(r)).toContain('method tampering: HEAD /api/config answers 200 to alice (role user); GET /api/config is refused to it (403)');
    expect(summaries(r).every((s) => s.startsWith('method tampering: HEAD '))).toBe(true);
  });

  it('override header: POST with X-HTTP-Method-Override runs the forbidden method', async () => {
    const d = await startDevice(['override']);
    const r = await runCheck(target(d.port), httpRoutes);
    expect(r.verdict).toBe('fail');
    expect(summaries(r)).toContain('method tampering: POST /api/config with X-HTTP-Method-Override: PUT answers 204 to alice (role user); PUT /api/config is refused to it (403)');
    // The device honours only this header; the other spelling was tried and refused.
    expect(summaries(r).every((s) => s.includes('X-HTTP-Method-Override'))).toBe(true);
    expect(d.seen.filter((s) => s === 'POST /api/config').length).toBeGreaterThanOrEqual(4);
    const f = r.findings.find((x) => x.summary.includes(': PUT'))!;
    expect(f.evidence.transcript[0]!.decoded).toMatch(/X-HTTP-Method-Override: PUT/);
  });

  // The first spelled request without a session; five more open the same way, except where the
  // fake's authorizer still matches /api/users/{user} (any last segment): there three.
  const variantExample: Record<PathVariantKind, string> = {
    'double-slash': '//api/status',
    'dot-segment': '/api/./status',
    'dot-dot-segment': '/api/x/../status',
    'percent-encoded': '/api/%73tatus',
    'trailing-slash': '/api/status/',
    'upper-case': '/api/STATUS',
  };
  for (const kind of Object.keys(variantExample) as PathVariantKind[]) {
    it(`path variant ${kind}: one finding without a session and one with a session, naming the other routes`, async () => {
      const d = await startDevice([kind]);
      const r = await runCheck(target(d.port), httpRoutes);
      expect(r.verdict).toBe('fail');
      const [anon, alice, ...rest] = r.findings;
      expect(rest).toEqual([]);
      expect(anon!.summary).toBe(`GET ${variantExample[kind]} answers 200 without a session; the canonical /api/status needs one (401) (and ${kind === 'upper-case' || kind === 'percent-encoded' ? 3 : 5} more requests spelled the same way)`);
      expect(alice!.summary).toMatch(/^GET \S+ answers 200 to alice \(role user\); the canonical \/api\/config is refused to it \(403\)/);
      for (const f of r.findings) {
        expect(f.evidence.observed).toMatch(new RegExp(`^path variant ${kind}: .*; the same spelling also opens: `));
        expect(f.evidence.transcript.filter((e) => e.dir === 'sent')).toHaveLength(1);
      }
    });
  }

  it('declaration mismatch: a declared-allowed route refused is a low finding', async () => {
    const d = await startDevice(['mismatch']);
    const r = await runCheck(target(d.port), httpRoutes);
    expect(r.verdict).toBe('fail');
    expect(r.findings.map((f) => [f.summary, f.severity])).toEqual([['declaration mismatch: alice (role user) is declared to use GET /api/status but it answers 403', 'low']]);
  });

  it('a catch-all page (200 for any path) is not taken for a bypass: the made-up sibling gets the same page', async () => {
    const d = await startDevice(['catch-all']);
    const r = await runCheck(target(d.port), httpRoutes);
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.reason).toMatch(/forbidden 2xx answers match a made-up sibling path's \(catch-all page\), not counted/);
    expect(d.seen.some((s) => /gauntlet-nx-/.test(s))).toBe(true);
  });

  it('a principal that cannot log in: its rows are untested and said so; the others decide', async () => {
    const d = await startDevice();
    const r = await runCheck(target(d.port, { admin: { user: 'admin', pass: 'admin-pw', role: 'admin' }, bob: { user: 'bob', pass: 'nope', role: 'user' } }), httpRoutes);
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.reason).toMatch(/could not log in, rows untested: bob \(login answered 401\)/);
    expect(d.seen.filter((s) => s === 'POST /api/login')).toHaveLength(2);
  });

  it('Basic auth: each principal is verified on a GET it may use, not on the admin-only protected route', async () => {
    const d = await startDevice();
    const t = target(d.port, { admin: { user: 'admin', pass: 'admin-pw', role: 'admin' }, alice: { user: 'alice', pass: 'alice-pw', role: 'user' }, bob: { user: 'alice', pass: 'wrong', role: 'user' } });
    const basic = { ...t, interfaces: [{ ...t.interfaces[0]!, auth: { kind: 'basic' as const } }] };
    const r = await runCheck(basic, httpRoutes);
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.reason).toMatch(/as admin, alice and without a session/);
    expect(r.reason).toMatch(/could not log in, rows untested: bob \(GET \/api\/status answered 401\)/);
  });

  it('no principal can log in: inconclusive', async () => {
    const d = await startDevice();
    const r = await runCheck(target(d.port, { bob: { user: 'bob', pass: 'nope', role: 'user' } }), httpRoutes);
    expect(r.verdict).toBe('inconclusive');
    expect(r.reason).toBe('no principal could log in: bob (login answered 401)');
    expect(r.evidence?.transcript.length).toBeGreaterThan(0);
  });

  it('a device that answers only its health route: inconclusive, never pass', async () => {
    const d = await startDevice([], { silentExcept: '/health' });
    const r = await runCheck(target(d.port), httpRoutes);
    expect(r.verdict).toBe('inconclusive');
    expect(r.reason).toMatch(/no principal could log in: admin \(no reply to the login\), alice \(no reply to the login\)/);
  });

  it('a device that stops answering after the logins: inconclusive, and the sweep stops', async () => {
    const d = await startDevice([], { dieAfterLogins: 2 });
    const r = await runCheck(target(d.port), httpRoutes);
    expect(r.verdict, r.reason).toBe('inconclusive');
    expect(r.reason).toMatch(/the device stopped answering after 3 requests \(unreachable/);
    expect(r.cases).toBe(3);
  });

  it('does not apply without auth, routes or principals', () => {
    const t = targetFromObject(target(1), 't');
    expect(httpRoutes.applies(t, t.interfaces[0]!)).toBeUndefined();
    expect(httpRoutes.applies({ ...t, principals: [] }, t.interfaces[0]!)).toMatch(/no principals/);
    expect(httpRoutes.applies(t, { ...t.interfaces[0]!, auth: undefined } as never)).toMatch(/declares no auth/);
  });
});

describe('HTTP policy helpers', () => {
  it('pathVariants: the six spellings of a path, none equal to it', () => {
    expect(pathVariants('/api/config')).toEqual([
      { kind: 'double-slash', path: '//api/config' },
      { kind: 'dot-segment', path: '/api/./config' },
      { kind: 'dot-dot-segment', path: '/api/x/../config' },
      { kind: 'percent-encoded', path: '/api/%63onfig' },
      { kind: 'trailing-slash', path: '/api/config/' },
      { kind: 'upper-case', path: '/api/CONFIG' },
    ]);
    // No letters to upper-case; an existing escape is not double-encoded; UTF-8 is encoded byte by byte.
    expect(pathVariants('/v1/42').map((v) => v.kind)).not.toContain('upper-case');
    expect(pathVariants('/users/%40me').map((v) => v.kind)).not.toContain('percent-encoded');
    expect(pathVariants('/é').find((v) => v.kind === 'percent-encoded')?.path).toBe('/%C3%A9');
    expect(pathVariants('/')).toEqual([{ kind: 'double-slash', path: '//' }]);
  });

  it('siblingPath keeps the directory and a trailing slash', () => {
    expect(siblingPath('/api/config', 'nx')).toBe('/api/nx');
    expect(siblingPath('/api/config/', 'nx')).toBe('/api/nx/');
    expect(siblingPath('//api/config', 'nx')).toBe('//api/nx');
    expect(siblingPath('/', 'nx')).toBe('/nx');
  });

  it('permits: public routes for anyone, declared roles and owners for principals', () => {
    const routes = [{ route: '/u/{id}', methods: ['GET'], roles: ['admin'], owner: 'id' }];
    const alice: Principal = { name: 'alice', user: 'alice', pass: '', role: 'user' };
    const admin: Principal = { name: 'admin', user: 'admin', pass: '', role: 'admin' };
    const c = expandRoutes(routes, [alice, admin]);
    expect(permits(c, ['GET /h'], undefined, 'GET', '/h')).toBe(true);
    expect(permits(c, [], undefined, 'GET', '/u/alice')).toBe(false);
    expect(permits(c, [], alice, 'GET', '/u/alice')).toBe(true);
    expect(permits(c, [], alice, 'GET', '/u/admin')).toBe(false);
    expect(permits(c, [], admin, 'GET', '/u/alice')).toBe(true);
    expect(permits(c, [], alice, 'HEAD', '/u/alice')).toBe(false);
    expect(describeRoute(routes[0]!)).toBe('/u/{id} GET: roles admin; owner {id}');
  });
});
