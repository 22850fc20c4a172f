// One HTTP request with undici, recorded in the transcript, bounded in time
// and in how much of the body is kept. Outcomes are data, never exceptions.

import { Client } from 'undici';
import type { HttpInterface } from '../../model/index.js';
import { printable, type Io } from '../common/io.js';
import { tlsOptions } from '../common/stream.js';

export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

export type HttpOutcome =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly headers: Readonly<Record<string, string | string[] | undefined>>;
      /** At most 64 KiB of the body, as text. */
      readonly body: string;
    }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'unreachable'; readonly error: string };

const BODY_CAP = 64 * 1024;

export const originOf = (iface: Pick<HttpInterface, 'protocol' | 'host' | 'port'>) =>
  `${iface.protocol}://${iface.host.includes(':') ? `[${iface.host}]` : iface.host}:${iface.port}`;

export async function httpExchange(iface: HttpInterface, req: HttpRequest, io: Io): Promise<HttpOutcome> {
  io.scope.assert(iface.host, `http ${io.peer}`);
  // undici takes whole milliseconds only; a bound computed from a deadline may not be one.
  const bound = Math.max(1, Math.round(io.timeoutMs));
  const client = new Client(originOf(iface), {
    connectTimeout: bound,
    headersTimeout: bound,
    bodyTimeout: bound,
    pipelining: 0,
    // Over https the device's certificate is recorded, never refused (common/stream.ts).
    connect: iface.protocol === 'https' ? tlsOptions(iface) : {},
  });
  const bodyText = req.body === undefined ? '' : ` body "${printable(req.body.toString(), 80)}"`;
  io.transcript.record({ dir: 'sent', peer: io.peer, decoded: `${req.method} ${req.path}${headerText(req.headers)}${bodyText}` });
  try {
    // undici checks its own timeouts on a coarse (~0.5 s) timer; this bound is exact.
    const bound = AbortSignal.timeout(io.timeoutMs);
    const res = await client.request({
      method: req.method as 'GET',
      path: req.path,
      headers: req.headers ? { ...req.headers } : {},
      body: req.body,
      signal: io.signal ? AbortSignal.any([io.signal, bound]) : bound,
    });
    let body = '';
    for await (const chunk of res.body) {
      if (body.length < BODY_CAP) body += (chunk as Buffer).toString('utf8');
    }
    body = body.slice(0, BODY_CAP);
    io.transcript.record({ dir: 'received', peer: io.peer, decoded: `${res.statusCode} ${body ? `"${printable(body, 100)}"` : '(empty)'}` });
    return { kind: 'response', status: res.statusCode, headers: res.headers, body };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // undici's AbortError has the numeric DOMException code 20: use the name then.
    const code = typeof err.code === 'string' ? err.code : err.name;
    const timedOut = /TIMEOUT|Abort/i.test(String(code)) || err.name === 'TimeoutError';
    io.transcript.record({ dir: 'note', peer: io.peer, decoded: timedOut ? `no reply within ${io.timeoutMs}ms` : `request failed: ${code}` });
    return timedOut ? { kind: 'timeout' } : { kind: 'unreachable', error: String(code) };
  } finally {
    await client.destroy().catch(() => undefined);
  }
}

/** Credential-bearing headers are shown by name only: evidence must not leak the session. */
const SECRET_HEADERS = /^(authorization|cookie|proxy-authorization|x-auth-token|x-api-key|x-session)$/i;

/** ` [authorization: <redacted>, x-http-method-override: PUT]`, for the transcript. */
export function headerText(headers: Readonly<Record<string, string>> | undefined): string {
  const names = Object.keys(headers ?? {}).filter((h) => h.toLowerCase() !== 'content-type');
  if (names.length === 0) return '';
  return ` [${names.map((h) => `${h}: ${SECRET_HEADERS.test(h) ? '<redacted>' : printable(headers![h]!, 40)}`).join(', ')}]`;
}

/** "METHOD /path" -> parts. */
export function splitRoute(route: string): { method: string; path: string } {
  const i = route.indexOf(' ');
  return { method: route.slice(0, i), path: route.slice(i + 1) };
}
