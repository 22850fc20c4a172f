// One CoAP request/response exchange over UDP, with coap-packet as the codec.
// Not the `coap` package's agent: a check needs every datagram in its
// transcript, its own bounds, and the raw reply even when it is odd.
// RFC 7252: CON is retransmitted with exponential back-off [RFC7252 4.2];
// a piggybacked response comes in the ACK, a separate one as a new CON that
// we acknowledge [RFC7252 5.2.2]; an empty CON is a "CoAP ping" answered by RST [RFC7252 4.3].

import { createSocket } from 'node:dgram';
import { randomBytes, randomInt } from 'node:crypto';
import { generate, parse, type ParsedPacket, type CoapMethod } from 'coap-packet';
import type { Endpoint } from '../../model/index.js';
import { hexOf, printable, type Io } from '../common/io.js';

export interface CoapRequest {
  readonly method: CoapMethod;
  readonly path: string;
  readonly payload?: Buffer;
  readonly confirmable?: boolean;
  /** Content-Format option value (e.g. 50 = application/json). */
  readonly contentFormat?: number;
}

export type CoapOutcome =
  | { readonly kind: 'response'; readonly code: string; readonly payload: Buffer; readonly packet: ParsedPacket }
  | { readonly kind: 'reset' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'unreachable'; readonly error: string }
  | { readonly kind: 'malformed'; readonly detail: string };

/** Success codes are 2.xx [RFC7252 5.9.1]. */
export const isSuccess = (code: string) => code.startsWith('2.');

const CODE_NAMES: Readonly<Record<string, string>> = {
  '2.01': 'Created', '2.02': 'Deleted', '2.03': 'Valid', '2.04': 'Changed', '2.05': 'Content',
  '4.00': 'Bad Request', '4.01': 'Unauthorized', '4.02': 'Bad Option', '4.03': 'Forbidden', '4.04': 'Not Found',
  '4.05': 'Method Not Allowed', '4.06': 'Not Acceptable', '4.13': 'Request Entity Too Large', '4.15': 'Unsupported Content-Format',
  '5.00': 'Internal Server Error', '5.01': 'Not Implemented', '5.03': 'Service Unavailable',
};
export const codeName = (code: string) => `${code} ${CODE_NAMES[code] ?? ''}`.trim();

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // a device-advertised path with a bad % escape is sent as written
  }
}

function uriPathOptions(path: string) {
  return path
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => ({ name: 'Uri-Path' as const, value: Buffer.from(decodeSegment(s)) }));
}

/** uint option value in the fewest bytes, big-endian [RFC7252 3.2]. */
export function encodeUintOption(n: number): Buffer {
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return Buffer.from(out);
}

function describe(p: ParsedPacket): string {
  const type = p.reset ? 'RST' : p.ack ? 'ACK' : p.confirmable ? 'CON' : 'NON';
  const code = p.code === '0.00' ? 'empty' : codeName(p.code);
  const body = p.payload.length ? ` payload "${printable(p.payload, 40)}"` : '';
  return `${type} ${code} mid=${p.messageId} token=${p.token.toString('hex') || '-'}${body}`;
}

/**
 * Sends one request (or, with `request` undefined, a CoAP ping) and waits for
 * the answer, retransmitting a CON up to 2 times within io.timeoutMs.
 */
export async function coapExchange(ep: Endpoint, request: CoapRequest | undefined, io: Io): Promise<CoapOutcome> {
  io.scope.assert(ep.host, `coap ${io.peer}`);
  if (io.signal?.aborted) return { kind: 'timeout' };
  const options: { name: 'Uri-Path' | 'Content-Format'; value: Buffer }[] = request ? uriPathOptions(request.path) : [];
  if (request?.contentFormat !== undefined) options.push({ name: 'Content-Format', value: encodeUintOption(request.contentFormat) });
  const socket = createSocket(ep.host.includes(':') ? 'udp6' : 'udp4');
  const messageId = randomInt(0, 0x10000);
  const token = request ? randomBytes(4) : Buffer.alloc(0);
  const confirmable = request ? (request.confirmable ?? true) : true;
  const datagram = generate({
    messageId,
    token,
    confirmable,
    code: request ? request.method : '0.00',
    options,
    payload: request?.payload ?? Buffer.alloc(0),
  });
  const what = request ? `${confirmable ? 'CON' : 'NON'} ${request.method} ${request.path} mid=${messageId} token=${token.toString('hex')}` : `CON empty (ping) mid=${messageId}`;

  return new Promise<CoapOutcome>((resolve) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const retransmits: NodeJS.Timeout[] = [];
    const finish = (o: CoapOutcome) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      retransmits.forEach(clearTimeout);
      io.signal?.removeEventListener('abort', onAbort);
      socket.close();
      resolve(o);
    };
    const onAbort = () => finish({ kind: 'timeout' });
    io.signal?.addEventListener('abort', onAbort, { once: true });

    const send = (n: number) => {
      io.transcript.record({ dir: 'sent', peer: io.peer, decoded: n === 0 ? what : `${what} (retransmission ${n})`, ...hexOf(datagram) });
      socket.send(datagram, ep.port, ep.host);
    };
    socket.on('error', (err: NodeJS.ErrnoException) => {
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: `socket error ${err.code ?? err.message}` });
      finish({ kind: 'unreachable', error: err.code ?? err.message });
    });
    socket.on('message', (msg: Buffer) => {
      let p: ParsedPacket;
      try {
        p = parse(msg);
      } catch (e) {
        io.transcript.record({ dir: 'received', peer: io.peer, decoded: `unparseable datagram: ${(e as Error).message}`, ...hexOf(msg) });
        finish({ kind: 'malformed', detail: (e as Error).message });
        return;
      }
      io.transcript.record({ dir: 'received', peer: io.peer, decoded: describe(p), ...hexOf(msg) });
      if (p.reset && p.messageId === messageId) return finish({ kind: 'reset' });
      if (!request) {
        // A ping should be answered by RST [RFC7252 4.3]; some stacks send an ACK
        // with an error code instead. Either proves the peer is alive.
        if (p.messageId === messageId) finish({ kind: 'response', code: p.code, payload: p.payload, packet: p });
        return;
      }
      if (p.ack && p.messageId === messageId && p.code === '0.00') {
        // Empty ACK: the request arrived, a separate response follows; stop retransmitting.
        retransmits.forEach(clearTimeout);
        return;
      }
      if (!p.token.equals(token)) return; // not ours
      if (p.confirmable) {
        // Acknowledge a separate response [RFC7252 5.2.2].
        const ack = generate({ messageId: p.messageId, ack: true, code: '0.00', token: Buffer.alloc(0) });
        socket.send(ack, ep.port, ep.host);
      }
      finish({ kind: 'response', code: p.code, payload: p.payload, packet: p });
    });
    socket.connect(ep.port, ep.host, () => {
      send(0);
      if (confirmable) {
        const step = Math.max(50, Math.floor(io.timeoutMs / 4));
        retransmits.push(setTimeout(() => send(1), step), setTimeout(() => send(2), step * 3));
      }
      timers.push(
        setTimeout(() => {
          io.transcript.record({ dir: 'note', peer: io.peer, decoded: `no answer within ${io.timeoutMs}ms` });
          finish({ kind: 'timeout' });
        }, io.timeoutMs),
      );
    });
  });
}

/** Parses RFC 6690 link-format into resource paths. */
export function parseLinkFormat(body: string): string[] {
  const out: string[] = [];
  // Quoted attribute values (title="</b>") are not links.
  for (const m of body.replace(/"[^"]*"/g, '""').matchAll(/<([^>]*)>/g)) {
    const path = m[1]!;
    if (path.startsWith('/')) out.push(path);
  }
  return [...new Set(out)];
}
