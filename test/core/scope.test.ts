// The scope guard: every protocol client asks it before opening a socket.

import { describe, expect, it } from 'vitest';
import { GauntletError } from '../../harness/core/errors.js';
import { createScopeGuard } from '../../harness/core/scope.js';

function violation(fn: () => void): GauntletError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GauntletError) return e;
    throw e;
  }
  throw new Error('expected SCOPE_VIOLATION');
}

describe('createScopeGuard', () => {
  const loopback = createScopeGuard({ source: 'lab.yaml', scope: { hosts: ['127.0.0.1', '[::1]', 'localhost'], allowNonLoopback: false } });

  it('lets through the hosts the target file names, brackets or not', () => {
    expect(() => loopback.assert('127.0.0.1', 'mqtt broker')).not.toThrow();
    expect(() => loopback.assert('::1', 'coap sensors')).not.toThrow();
    expect(() => loopback.assert('[::1]', 'coap sensors')).not.toThrow();
    expect(() => loopback.assert('localhost', 'http web')).not.toThrow();
    expect(() => loopback.assert('LOCALHOST', 'http web')).not.toThrow(); // DNS names are case-insensitive
  });

  it('refuses any other host with SCOPE_VIOLATION naming it, the caller and the file', () => {
    for (const host of ['127.0.0.2', '10.0.0.1', 'example.com', '', '127.0.0.1 ']) {
      const e = violation(() => loopback.assert(host, 'mqtt broker'));
      expect(e.code).toBe('SCOPE_VIOLATION');
      expect(e.message).toContain('mqtt broker: refusing to contact');
      expect(e.message).toContain('not in scope.hosts of lab.yaml');
      expect(e.exitCode).toBe(2);
    }
  });

  it('refuses a non-loopback host even when named, unless the file allows it', () => {
    const named = { source: 'lab.yaml', scope: { hosts: ['192.0.2.7'], allowNonLoopback: false } };
    const e = violation(() => createScopeGuard(named).assert('192.0.2.7', 'http web'));
    expect(e.code).toBe('SCOPE_VIOLATION');
    expect(e.message).toContain('not loopback');
    expect(() => createScopeGuard({ ...named, scope: { ...named.scope, allowNonLoopback: true } }).assert('192.0.2.7', 'http web')).not.toThrow();
    // allowNonLoopback widens nothing beyond the named hosts
    expect(violation(() => createScopeGuard({ ...named, scope: { ...named.scope, allowNonLoopback: true } }).assert('192.0.2.8', 'x')).code).toBe('SCOPE_VIOLATION');
  });
});
