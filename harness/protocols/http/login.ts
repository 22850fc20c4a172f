// Presents a credential to an HTTP interface the way its target file says
// (json token login or Basic) and decides whether the device accepted it:
// json: the login issued a token the device does not itself reject (401) on
// the declared protected route; Basic: the protected route answers 2xx, or
// 403 (authenticated, not authorised). A low-privilege account counts.

import type { HttpInterface } from '../../model/index.js';
import type { Io } from '../common/io.js';
import { httpExchange, type HttpOutcome } from './exchange.js';

export interface HttpCredential {
  readonly user: string;
  readonly pass: string;
}

export type LoginOutcome =
  | { readonly kind: 'granted'; readonly headers: Readonly<Record<string, string>>; readonly detail: string }
  | { readonly kind: 'refused'; readonly status: number; readonly detail: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'unreachable'; readonly error: string };

/** Replaces `{name}` in every string of a JSON template. */
export function fillTemplate(value: unknown, vars: Readonly<Record<string, string>>): unknown {
  if (typeof value === 'string') return value.replace(/\{([a-z]+)\}/g, (m, k: string) => (Object.hasOwn(vars, k) ? vars[k]! : m));
  if (Array.isArray(value)) return value.map((v) => fillTemplate(v, vars));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillTemplate(v, vars)]));
  return value;
}

/** Reads `$.a.b` from parsed JSON. */
export function jsonPath(data: unknown, path: string): unknown {
  let cur = data;
  for (const key of path.replace(/^\$\.?/, '').split('.').filter(Boolean)) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

const notResponse = (o: Exclude<HttpOutcome, { kind: 'response' }>): LoginOutcome => o;

export async function httpLogin(iface: HttpInterface, cred: HttpCredential, io: Io): Promise<LoginOutcome> {
  const auth = iface.auth;
  if (!auth) throw new Error(`interface ${iface.id} declares no auth`);
  let headers: Record<string, string>;
  if (auth.kind === 'basic') {
    headers = { authorization: `Basic ${Buffer.from(`${cred.user}:${cred.pass}`, 'utf8').toString('base64')}` };
  } else {
    const body = JSON.stringify(fillTemplate(auth.body, { user: cred.user, pass: cred.pass }));
    const r = await httpExchange(iface, { method: auth.method, path: auth.path, headers: { 'content-type': 'application/json' }, body }, io);
    if (r.kind !== 'response') return notResponse(r);
    if (r.status < 200 || r.status > 299) return { kind: 'refused', status: r.status, detail: `login answered ${r.status}` };
    let token: unknown;
    try {
      token = jsonPath(JSON.parse(r.body), auth.token);
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || token === '') {
      return { kind: 'refused', status: r.status, detail: `login answered ${r.status} but no token at ${auth.token}` };
    }
    headers = { [auth.header.name.toLowerCase()]: auth.header.value.replace('{token}', () => token as string) };
    if (!iface.protectedPath) return { kind: 'granted', headers, detail: `login answered ${r.status} with a token` };
    // The token is the grant. The protected route only tells a real session
    // (2xx, or 403 for a role without access to it) from a token the device
    // itself rejects (401): a low-privilege account is still an account.
    const path = iface.protectedPath;
    const v = await httpExchange(iface, { method: 'GET', path, headers }, io);
    if (v.kind !== 'response') return notResponse(v);
    if (v.status === 401) return { kind: 'refused', status: v.status, detail: `login answered ${r.status} with a token, but GET ${path} rejects it (401)` };
    return { kind: 'granted', headers, detail: `login answered ${r.status} with a token; GET ${path} answered ${v.status} with it` };
  }
  // Basic: a valid credential gets the route (2xx) or is authenticated but not
  // authorised for it (403); 401 means the credential itself was refused.
  const path = iface.protectedPath ?? '/';
  const r = await httpExchange(iface, { method: 'GET', path, headers }, io);
  if (r.kind !== 'response') return notResponse(r);
  if ((r.status >= 200 && r.status <= 299) || r.status === 403) return { kind: 'granted', headers, detail: `GET ${path} answered ${r.status} with the credential` };
  return { kind: 'refused', status: r.status, detail: `GET ${path} answered ${r.status}` };
}
