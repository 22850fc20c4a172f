// The scope guard: the harness connects only to hosts named in the target
// file. Every protocol client calls assert() before it opens a socket.

import type { Scope, ScopeGuard, Target } from '../model/index.js';
import { GauntletError } from './errors.js';
import { isLoopback } from './target-file.js';

export function createScopeGuard(target: Pick<Target, 'source'> & { readonly scope: Pick<Scope, 'hosts' | 'allowNonLoopback'> }): ScopeGuard {
  const norm = (h: string) => h.replace(/^\[|\]$/g, '').toLowerCase();
  const hosts = new Set(target.scope.hosts.map(norm));
  return {
    assert(host: string, what: string): void {
      const h = norm(host);
      if (!hosts.has(h)) {
        throw new GauntletError('SCOPE_VIOLATION', `${what}: refusing to contact ${h}: not in scope.hosts of ${target.source}`);
      }
      if (!target.scope.allowNonLoopback && !isLoopback(h)) {
        throw new GauntletError('SCOPE_VIOLATION', `${what}: refusing to contact ${h}: not loopback and ${target.source} does not set scope.allowNonLoopback`);
      }
    },
  };
}
