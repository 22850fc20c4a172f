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

/** A route rule as a lab reads it, for evidence: `/api/users/{user} GET: roles admin; owner {user}`. */
export function describeRoute(route: HttpRoute): string {
  const owner = route.owner ? `; owner {${route.owner}}` : '';
  return `${route.route} ${route.methods.join(', ')}: roles ${route.roles.join(', ') || '(none)'}${owner}`;
}

/**
 * Whether `principal` (undefined: no session) may send `method` to `path`:
 * a declared public route, or a concrete route whose rule grants it. Several
 * rules may name the same path; any one granting is enough.
 */
export function permits(concrete: readonly ConcreteRoute[], publicRoutes: readonly string[], principal: Principal | undefined, method: string, path: string): boolean {
  if (publicRoutes.includes(`${method} ${path}`)) return true;
  if (!principal) return false;
  return concrete.some((c) => c.method === method && c.path === path && mayUse(principal, c));
}

/** Routes that end the session they are sent with: a check sends them last. */
export function endsSession(route: HttpRoute): boolean {
  return /log-?out|log-?off|sign-?out/i.test(route.route);
}

export type PathVariantKind = 'double-slash' | 'dot-segment' | 'dot-dot-segment' | 'percent-encoded' | 'trailing-slash' | 'upper-case';

export interface PathVariant {
  readonly kind: PathVariantKind;
  readonly path: string;
}

/** Percent-encodes every UTF-8 byte of `ch`, upper-case hex (RFC 3986 2.1). */
const pctEncode = (ch: string) => [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/**
 * Spellings of `path` that a server which routes after normalising, but
 * authorizes before (or the other way round), maps to the same handler:
 * `//api/config`, `/api/./config`, `/api/x/../config`, `/api/%63onfig`,
 * `/api/config/`, `/api/CONFIG`. Variants equal to the path are left out.
 */
export function pathVariants(path: string): PathVariant[] {
  const trimmed = path.replace(/\/+$/, '');
  const cut = trimmed.lastIndexOf('/');
  const last = cut < 0 ? '' : trimmed.slice(cut + 1);
  const out: PathVariant[] = [{ kind: 'double-slash', path: `/${path}` }];
  if (last !== '') {
    const parent = trimmed.slice(0, cut + 1);
    const rest = path.slice(trimmed.length); // trailing slashes, if any
    const first = String.fromCodePoint(last.codePointAt(0)!);
    out.push(
      { kind: 'dot-segment', path: `${parent}./${last}${rest}` },
      { kind: 'dot-dot-segment', path: `${parent}x/../${last}${rest}` },
      // An existing escape (%xx from fillRoute) is left alone: encoding its % would change the name.
      ...(first === '%' ? [] : [{ kind: 'percent-encoded' as const, path: `${parent}${pctEncode(first)}${last.slice(first.length)}${rest}` }]),
      ...(rest === '' ? [{ kind: 'trailing-slash' as const, path: `${path}/` }] : []),
      { kind: 'upper-case', path: `${parent}${last.toUpperCase()}${rest}` },
    );
  }
  const seen = new Set([path]);
  return out.filter((v) => !seen.has(v.path) && seen.add(v.path));
}

/** `path` with its last segment replaced by `name`: a sibling that cannot exist, for a soft-404 control. */
export function siblingPath(path: string, name: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const cut = trimmed.lastIndexOf('/');
  return cut < 0 ? `/${name}` : `${trimmed.slice(0, cut + 1)}${name}${path.slice(trimmed.length)}`;
}
