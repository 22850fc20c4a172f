// auth.brute-force against a small fake HTTP device, both ways, and on a
// device (or a machine) too slow for the declared window: a refusal after a
// slow round still proves a lockout, a grant after one is tried again, and a
// device that never sees the failures within its window is inconclusive,
// never a finding.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { TargetFileInput } from '../../../harness/core/target-file.js';
import { MAX_ROUNDS } from '../../../harness/checks/authentication/brute-force.js';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { httpTarget } from '../../support/http-target.js';

const ADMIN = { user: 'admin', pass: 'Adm1n-Secret-42' };
/** What the target file declares: 3 failures within 300 ms lock for 200 ms. */
const DECLARED = { attempts: 3, window: '300ms', duration: '200ms' };

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

interface FakeLockout {
  /** false: no lockout at all. */
  readonly enabled: boolean;
  /** The device's own window (it may differ from the declared one). */
  readonly windowMs: number;
  readonly durationMs: number;
  /** Delay before a failed login is judged and counted, by its 1-based number. */
  readonly failureDelayMs: (n: number) => number;
}

/** A device with one account, a login route and a lockout counted when each failure is judged. */
async function fakeDevice(l: FakeLockout): Promise<number> {
  let failures: number[] = [];
  let lockedUntil = 0;
  let failedLogins = 0;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const send = (status: number) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status === 200 && req.url === '/api/login' ? JSON.stringify({ token: 'tok' }) : '{}');
      };
      if (req.url === '/api/health') return send(200);
      if (req.url === '/api/config') return send(req.headers.authorization === 'Bearer tok' ? 200 : 401);
      if (req.method !== 'POST' || req.url !== '/api/login') return send(404);
      const c = JSON.parse(body) as { username?: string; password?: string };
      const judge = () => {
        const t = Date.now();
        if (l.enabled && lockedUntil > t) return send(401);
        if (c.username === ADMIN.user && c.password === ADMIN.pass) {
          failures = [];
          return send(200);
        }
        failures = failures.filter((at) => t - at < l.windowMs).concat(t);
        if (failures.length >= DECLARED.attempts) {
          failures = [];
          lockedUntil = t + l.durationMs;
        }
        send(401);
      };
      const ok = c.username === ADMIN.user && c.password === ADMIN.pass;
      const delay = ok ? 0 : l.failureDelayMs(++failedLogins);
      if (delay > 0) setTimeout(judge, delay);
      else judge();
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return (server!.address() as AddressInfo).port;
}

const target = (port: number, lockout: typeof DECLARED | null = DECLARED): TargetFileInput =>
  httpTarget(port, { probe: '/api/health', protectedPath: '/api/config', principals: { admin: { ...ADMIN, role: 'admin' } }, declaration: lockout ? { lockout } : undefined });

const ID = 'auth.brute-force@web';
const fast = () => 0;

async function verdictOn(l: FakeLockout, lockout: typeof DECLARED | null = DECLARED) {
  const run = await runAgainst(target(await fakeDevice(l), lockout), { only: [ID] });
  return { r: run.byId.get(ID)!, table: verdictTable(run.results) };
}

describe('auth.brute-force', () => {
  it('fails on a device without a lockout, and names the unthrottled login', async () => {
    const { r, table } = await verdictOn({ enabled: false, windowMs: 300, durationMs: 200, failureDelayMs: fast });
    expect(r.verdict, table).toBe('fail');
    expect(r.reason).toMatch(/^no lockout after 3 failures \(declared: 3 failures within 300ms lock the user for 200ms\)/);
    expect(r.findings.map((f) => f.summary)).toEqual([expect.stringMatching(/^HTTP login for admin is not throttled: after 3 failed logins in /)]);
  });

  it('passes on a device that locks and unlocks as declared', async () => {
    const { r, table } = await verdictOn({ enabled: true, windowMs: 300, durationMs: 200, failureDelayMs: fast });
    expect(r.verdict, table).toBe('pass');
    expect(r.reason).toBe('locked after 3 failures and unlocked after 200ms, as declared');
  });

  it('fails when the lockout outlasts the declared duration', async () => {
    const { r, table } = await verdictOn({ enabled: true, windowMs: 300, durationMs: 5000, failureDelayMs: fast });
    expect(r.verdict, table).toBe('fail');
    expect(r.reason).toBe('declaration mismatch: the lockout outlasts the declared 200ms');
  });

  it('without a declared lockout, fails on no protection and passes on one', async () => {
    const none = await verdictOn({ enabled: false, windowMs: 300, durationMs: 200, failureDelayMs: fast }, null);
    expect(none.r.verdict, none.table).toBe('fail');
    expect(none.r.reason).toBe('no brute-force protection after 10 failures, and none declared');
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const some = await verdictOn({ enabled: true, windowMs: 300, durationMs: 200, failureDelayMs: fast }, null);
    expect(some.r.verdict, some.table).toBe('pass');
    expect(some.r.reason).toBe('the right password was refused after 10 failures (protection present, but none declared)');
  });

  it('tries a round again when it was slower than the window and the device let the right password in', async () => {
    // The first round's failures are judged 200 ms apart, wider than the window: the device does not lock.
    const { r, table } = await verdictOn({ enabled: true, windowMs: 300, durationMs: 200, failureDelayMs: (n) => (n <= 3 ? 200 : 0) });
    expect(r.verdict, table).toBe('pass');
    expect(r.reason).toMatch(/^locked after 3 failures and unlocked after 200ms, as declared \(1 earlier round\(s\) slower than the window, \d+ms, tried again\)$/);
  });

  it('is inconclusive, not a finding, when no round fits the window', async () => {
    const { r, table } = await verdictOn({ enabled: true, windowMs: 300, durationMs: 200, failureDelayMs: () => 200 });
    expect(r.verdict, table).toBe('inconclusive');
    expect(r.findings).toEqual([]);
    expect(r.reason).toMatch(new RegExp(`^3 failures never fitted the declared window 300ms \\(${MAX_ROUNDS} rounds took \\d+ms, \\d+ms, \\d+ms\\)`));
  });

  it('passes when the device locks although the round was slower than the declared window', async () => {
    // The device's own window is longer than declared, so slow failures still lock it.
    const { r, table } = await verdictOn({ enabled: true, windowMs: 10_000, durationMs: 200, failureDelayMs: () => 200 });
    expect(r.verdict, table).toBe('pass');
    expect(r.reason).toBe('locked after 3 failures and unlocked after 200ms, as declared');
  });
});
