// The declared HTTP policy as data a check can walk: route templates
// expanded to concrete requests, and the oracle "may this principal use
// this method on this path?". Pure: no I/O.

import type { HttpRoute, Principal } from '../../model/index.js';

export interface ConcreteRoute {
  readonly method: string;
  readonly path: string;
  readonly route: HttpRoute;
  /** The principal whose object the path names (owner routes), if any. */
  readonly ownerUser?: string;
}

const PARAM = /\{([A-Za-z][A-Za-z0-9_]*)\}/g;

/** Fills every `{param}` of a template; the owner parameter gets `ownerUser`, the others `fallback`. */
export function fillRoute(route: HttpRoute, ownerUser: string | undefined, fallback = '1'): string {
  return route.route.replace(PARAM, (_, name: string) => encodeURIComponent(name === route.owner && ownerUser !== undefined ? ownerUser : fallback));
}

/**
 * Every declared route and method as concrete requests. An owner route is
 * expanded once per principal, so each principal's object is named.
 */
export function expandRoutes(routes: readonly HttpRoute[], principals: readonly Principal[]): ConcreteRoute[] {
  const out: ConcreteRoute[] = [];
  for (const route of routes) {
    const owners = route.owner ? (principals.length ? principals.map((p) => p.user) : ['nobody']) : [undefined];
    for (const ownerUser of owners) {
      const path = fillRoute(route, ownerUser);
      for (const method of route.methods) out.push({ method, path, route, ownerUser });
    }
  }
  return out;
}

/** The oracle: whether `principal` may use `c` under the declaration. */
export function mayUse(principal: Principal, c: ConcreteRoute): boolean {
  if (c.route.roles.includes(principal.role)) return true;
  return c.route.owner !== undefined && c.ownerUser === principal.user;
}
