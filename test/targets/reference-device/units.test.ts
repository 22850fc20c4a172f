// Unit tests of the reference device's building blocks that the socket suites
// cannot pin down precisely: MQTT topic matching and filter coverage, the
// broker's ACL decisions (with and without the ACL flaws), HTTP path
// normalisation and route matching, the lockout bookkeeping and session expiry
// on a driven clock, config validation.

import { describe, expect, it } from 'vitest';
import { applyConfigUpdate, DEFAULT_CONFIG } from '../../../targets/reference-device/device-state.js';
import { Lockout } from '../../../targets/reference-device/lockout.js';
import { SESSION_TTL_MS, Sessions } from '../../../targets/reference-device/sessions.js';
import { filterCovers, isValidFilter, topicMatches } from '../../../targets/reference-device/topic-match.js';
import type { Flaw } from '../../../targets/reference-device/flaws.js';
import { isWildcardOnly, mayPublish, mayRead, maySubscribe, prefixAllows, type MqttPrincipal } from '../../../targets/reference-device/mqtt-broker.js';
import { matchRoute, normalisePath, rawPathIsProtected, type RouteEntry } from '../../../targets/reference-device/http-api.js';

describe('topic matching', () => {
  it.each([
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/+', 'a', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', 'a/b', true],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['a/+/c', 'a//c', true],
    ['devices/sensor-1/#', 'devices/sensor-10/x', false],
    ['a/#/b', 'a/x/b', false],
    ['a/b', 'a/+', false],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });

  it.each([
    ['devices/sensor-1/#', 'devices/sensor-1/#', true],
    ['devices/sensor-1/#', 'devices/sensor-1', true],
    ['devices/sensor-1/#', 'devices/sensor-1/+/x', true],
    ['devices/sensor-1/#', 'devices/+/x', false],
    ['devices/sensor-1/#', 'devices/#', false],
    ['devices/sensor-1/#', '#', false],
    ['config/sensor-1', 'config/sensor-1', true],
    ['config/sensor-1', 'config/+', false],
    ['config/sensor-1', 'config/#', false],
    ['config/sensor-1', 'config/sensor-1/x', false],
    ['a/+', 'a/+', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/#', false],
    ['#', '$SYS/#', false],
    ['#', 'a/#', true],
  ])('%s covers %s: %s', (allowed, requested, expected) => {
    expect(filterCovers(allowed, requested)).toBe(expected);
  });

  it('rejects malformed filters', () => {
    for (const f of ['', 'a/#/b', 'a#', 'a/b+', '+a', 'x\u0000']) expect(isValidFilter(f), f).toBe(false);
    for (const f of ['#', '+', 'a/+/b', 'a/#', '/', '$SYS/#']) expect(isValidFilter(f), f).toBe(true);
  });
});

describe('broker ACL decisions', () => {
  const sensor: MqttPrincipal = { user: 'sensor-1', role: 'device' };
  const admin: MqttPrincipal = { user: 'admin', role: 'admin' };
  const none = new Set<Flaw>();
  const prefix = new Set<Flaw>(['acl-prefix-match']);
  const leak = new Set<Flaw>(['acl-wildcard-leak']);

  it('hardened: publish by match, subscribe by cover, delivery by read rights', () => {
    expect(mayPublish(sensor, 'devices/sensor-1/t', none)).toBe(true);
    expect(mayPublish(sensor, 'devices/sensor-10/t', none)).toBe(false);
    expect(mayPublish(admin, 'anything/at/all', none)).toBe(true);
    expect(mayPublish(admin, '$SYS/x', none)).toBe(false);
    expect(mayPublish(undefined, 'a', none)).toBe(false);
    expect(maySubscribe(sensor, 'devices/sensor-1/+/x', none)).toBe(true);
    expect(maySubscribe(sensor, 'devices/+/temp', none)).toBe(false);
    expect(maySubscribe(admin, '$SYS/#', none)).toBe(true);
    expect(maySubscribe(admin, '$other/#', none)).toBe(false);
    // Defence in depth: delivery is decided per topic, whatever was subscribed.
    expect(mayRead(sensor, 'devices/sensor-1/temp', none)).toBe(true);
    expect(mayRead(sensor, 'config/sensor-1', none)).toBe(true);
    expect(mayRead(sensor, 'devices/sensor-2/temp', none)).toBe(false);
    expect(mayRead(sensor, 'config/sensor-1/x', none)).toBe(false);
    expect(mayRead(admin, '$SYS/broker/heartbeat', none)).toBe(true);
    expect(mayRead(admin, '$gauntlet/dropped', none)).toBe(false);
    expect(mayRead(undefined, 'a', none)).toBe(false);
  });

  it('acl-prefix-match: string prefixes of the rules, nothing more', () => {
    expect(prefixAllows('devices/sensor-1/#', 'devices/sensor-10/x')).toBe(true);
    expect(prefixAllows('config/sensor-1', 'config/sensor-1x')).toBe(true);
    expect(prefixAllows('#', 'anything')).toBe(false);
    expect(mayPublish(sensor, 'devices/sensor-10/x', prefix)).toBe(true);
    expect(maySubscribe(sensor, 'devices/sensor-10/#', prefix)).toBe(true);
    expect(mayRead(sensor, 'devices/sensor-10/x', prefix)).toBe(true);
    expect(maySubscribe(sensor, '#', prefix)).toBe(false);
    expect(maySubscribe(sensor, 'devices/+/temp', prefix)).toBe(false);
    expect(mayPublish(sensor, 'devices/sensor-2/x', prefix)).toBe(false);
  });

  it('acl-wildcard-leak: filters made only of wildcards are granted to anyone', () => {
    for (const f of ['#', '+', '+/#', '+/+/#', '+/+']) expect(isWildcardOnly(f), f).toBe(true);
    for (const f of ['a/#', '#/+', '$SYS/#', '+/a']) expect(isWildcardOnly(f), f).toBe(false);
    expect(maySubscribe(sensor, '+/+/#', leak)).toBe(true);
    expect(maySubscribe(sensor, 'devices/#', leak)).toBe(false);
    expect(maySubscribe(sensor, '$SYS/#', leak)).toBe(false);
    expect(mayPublish(sensor, 'devices/sensor-2/x', leak)).toBe(false);
  });
});

describe('HTTP path normalisation', () => {
  it.each([
    ['/api/config', ['api', 'config']],
    ['//api/config', ['api', 'config']],
    ['/api/./config', ['api', 'config']],
    ['/api/x/../config', ['api', 'config']],
    ['/api/%63onfig', ['api', 'config']],
    ['/api/config/', ['api', 'config']],
    ['/../../api/config', ['api', 'config']],
    ['/api/%2e%2e/x', ['x']],
    ['/api/a%2Fb', ['api', 'a/b']],
    ['/', []],
    ['/api/%zz', undefined],
  ])('%s -> %j', (raw, segments) => {
    expect(normalisePath(raw)).toEqual(segments);
  });

  it('matches templates case-sensitively and tells raw protected paths', () => {
    const run = () => ({ status: 200 });
    const routes: RouteEntry[] = [
      { template: '/api/health', methods: { GET: { access: 'public', run } } },
      { template: '/api/config', methods: { GET: { access: 'admin', run } } },
      { template: '/api/users/{user}', methods: { GET: { access: 'session', run } } },
    ];
    expect(matchRoute(routes, ['api', 'users', 'sensor-1'])?.params).toEqual({ user: 'sensor-1' });
    expect(matchRoute(routes, ['API', 'config'])).toBeUndefined();
    expect(rawPathIsProtected(routes, '/api/config')).toBe(true);
    expect(rawPathIsProtected(routes, '/api/users/admin')).toBe(true);
    for (const p of ['/api/health', '//api/config', '/api/config/', '/api/%63onfig', '/api/users/admin/']) expect(rawPathIsProtected(routes, p), p).toBe(false);
  });
});

describe('lockout bookkeeping', () => {
  function clocked(attempts: number, windowMs: number, durationMs: number, enabled = true) {
    let t = 1_000;
    const lock = new Lockout({ attempts, windowMs, durationMs }, enabled, () => t);
    return { lock, advance: (ms: number) => (t += ms) };
  }

  it('locks at the limit, for the duration, per name', () => {
    const { lock, advance } = clocked(3, 1000, 500);
    expect(lock.recordFailure('a')).toBe(false);
    expect(lock.recordFailure('a')).toBe(false);
    expect(lock.isLocked('a')).toBe(false);
    expect(lock.recordFailure('a')).toBe(true);
    expect(lock.isLocked('a')).toBe(true);
    expect(lock.isLocked('b')).toBe(false);
    advance(499);
    expect(lock.isLocked('a')).toBe(true);
    advance(1);
    expect(lock.isLocked('a')).toBe(false);
    // After a lock the count starts afresh.
    expect(lock.recordFailure('a')).toBe(false);
  });

  it('slides the window and does not extend a lock', () => {
    const { lock, advance } = clocked(3, 1000, 500);
    lock.recordFailure('a');
    advance(600);
    lock.recordFailure('a');
    advance(500); // the first failure left the window
    expect(lock.recordFailure('a')).toBe(false);
    expect(lock.recordFailure('a')).toBe(true);
    advance(400);
    expect(lock.recordFailure('a')).toBe(false); // during the lock: not counted, not extended
    advance(100);
    expect(lock.isLocked('a')).toBe(false);
  });

  it('resets on success and does nothing when disabled', () => {
    const { lock } = clocked(2, 1000, 500);
    lock.recordFailure('a');
    lock.recordSuccess('a');
    expect(lock.recordFailure('a')).toBe(false);
    const off = clocked(1, 1000, 500, false).lock;
    expect(off.recordFailure('a')).toBe(false);
    expect(off.isLocked('a')).toBe(false);
  });
});

describe('config validation', () => {
  it('applies known keys and refuses the rest', () => {
    expect(applyConfigUpdate(DEFAULT_CONFIG, { telemetry: false })).toEqual({ ok: true, config: { ...DEFAULT_CONFIG, telemetry: false } });
    for (const bad of [null, [], 'x', { ntpServer: 'a b' }, { reportIntervalSeconds: 0 }, JSON.parse('{"__proto__":{"polluted":1}}')]) {
      expect(applyConfigUpdate(DEFAULT_CONFIG, bad).ok).toBe(false);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('sessions', () => {
  it('expire after 10 minutes and die on revoke', () => {
    expect(SESSION_TTL_MS).toBe(600_000);
    let t = 0;
    const sessions = new Sessions(SESSION_TTL_MS, () => t);
    const a = sessions.create('admin', 'admin');
    const b = sessions.create('admin', 'admin');
    const c = sessions.create('sensor-1', 'device');
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
    t = 599_999;
    expect(sessions.get(a)).toMatchObject({ user: 'admin', role: 'admin' });
    t = 600_000;
    expect(sessions.get(a)).toBeUndefined();
    t = 0;
    expect(sessions.get(a)).toBeUndefined(); // an expired token stays dead
    sessions.revokeUser('admin');
    expect(sessions.get(b)).toBeUndefined();
    expect(sessions.get(c)).toBeDefined();
    sessions.revoke(c);
    expect(sessions.get(c)).toBeUndefined();
  });
});
