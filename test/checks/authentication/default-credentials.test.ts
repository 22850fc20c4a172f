// auth.default-credentials over HTTP against a small fake device, both ways:
// a dictionary account that only gets a low-privilege session is still a
// default credential (a token is a grant, 403 on an admin route included).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { TargetFileInput } from '../../../harness/core/target-file.js';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { httpTarget } from '../../support/http-target.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** Admin `admin`/`Adm1n-Secret-42`; with `lowPrivDefault`, also `user`/`user` with a viewer role. */
async function fakeDevice(lowPrivDefault: boolean): Promise<number> {
  const accounts: Record<string, { pass: string; role: string }> = { admin: { pass: 'Adm1n-Secret-42', role: 'admin' } };
  if (lowPrivDefault) accounts['user'] = { pass: 'user', role: 'viewer' };
  const tokens = new Map<string, string>();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const send = (status: number, data: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(data));
      };
      if (req.url === '/api/health') return send(200, { ok: true });
      if (req.method === 'POST' && req.url === '/api/login') {
        let c: { username?: string; password?: string } = {};
        try {
          c = JSON.parse(body);
        } catch {
          return send(400, {});
        }
        const a = c.username ? accounts[c.username] : undefined;
        if (!a || a.pass !== c.password) return send(401, { error: 'invalid credentials' });
        const t = `t-${tokens.size + 1}`;
        tokens.set(t, a.role);
        return send(200, { token: t });
      }
      const role = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (!role) return send(401, {});
      if (req.url === '/api/config') return role === 'admin' ? send(200, {}) : send(403, {});
      return send(404, {});
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return (server!.address() as AddressInfo).port;
}

const target = (port: number): TargetFileInput =>
  httpTarget(port, { probe: '/api/health', protectedPath: '/api/config', principals: { admin: { user: 'admin', pass: 'Adm1n-Secret-42', role: 'admin' } } });

describe('auth.default-credentials over HTTP', () => {
  it('fails on a dictionary account that only gets a low-privilege session', async () => {
    const run = await runAgainst(target(await fakeDevice(true)), { only: ['auth.default-credentials@web'] });
    const r = run.byId.get('auth.default-credentials@web')!;
    expect(r.verdict, verdictTable(run.results)).toBe('fail');
    expect(r.findings.map((f) => f.summary)).toEqual(['the dictionary credential user:user is accepted over HTTP']);
    expect(r.findings[0]!.evidence.observed).toMatch(/answered 403 with it/);
  });

  it('passes on the same device without that account', async () => {
    const run = await runAgainst(target(await fakeDevice(false)), { only: ['auth.default-credentials@web'] });
    expect(run.byId.get('auth.default-credentials@web')!.verdict, verdictTable(run.results)).toBe('pass');
  });
});
