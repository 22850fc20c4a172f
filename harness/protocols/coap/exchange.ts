// One CoAP request/response exchange over UDP, with coap-packet as the codec.
// Not the `coap` package's agent: a check needs every datagram in its
// transcript, its own bounds, and the raw reply even when it is odd.
// RFC 7252: CON is retransmitted with exponential back-off [RFC7252 4.2];
// a piggybacked response comes in the ACK, a separate one as a new CON that
// we acknowledge [RFC7252 5.2.2]; an empty CON is a "CoAP ping" answered by RST [RFC7252 4.3].

import { randomBytes, randomInt } from 'node:crypto';
import { generate, parse, type ParsedPacket, type CoapMethod } from 'coap-packet';
import type { Endpoint } from '../../model/index.js';
import { openUdpChannel, recordLater, type DatagramChannel } from '../common/channel.js';
import { hexOf, printable, type Io } from '../common/io.js';

export interface CoapRequest {
  readonly method: CoapMethod;
  readonly path: string;
  readonly payload?: Buffer;
  readonly confirmable?: boolean;
  /** Content-Format option value (e.g. 50 = application/json). */
  readonly contentFormat?: number;
  /** Uri-Query options, each `name=value` as sent. */
  readonly query?: readonly string[];
  /** Block1 option [RFC7959 2.2]: this request carries block `num` of size 2^(szx+4). */
  readonly block1?: BlockOption;
  /** Size1 option [RFC7959 4]: the whole body's size, sent with block 0. */
  readonly size1?: number;
  /** The token to use (a block-wise transfer keeps one); default 4 random bytes. */
  readonly token?: Buffer;
}

export interface BlockOption {
  readonly num: number;
  readonly more: boolean;
  /** Size exponent: block size = 2^(szx+4), 0..6. */
  readonly szx: number;
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
  '2.01': 'Created', '2.02': 'Deleted', '2.03': 'Valid', '2.04': 'Changed', '2.05': 'Content', '2.31': 'Continue',
  '4.00': 'Bad Request', '4.01': 'Unauthorized', '4.02': 'Bad Option', '4.03': 'Forbidden', '4.04': 'Not Found',
  '4.05': 'Method Not Allowed', '4.06': 'Not Acceptable', '4.08': 'Request Entity Incomplete', '4.13': 'Request Entity Too Large', '4.15': 'Unsupported Content-Format',
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

type OutOption = { name: 'Uri-Path' | 'Uri-Query' | 'Content-Format' | 'Block1' | 'Size1'; value: Buffer };

function uriPathOptions(path: string): OutOption[] {
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

/** A uint option's value. */
export function decodeUintOption(b: Buffer): number {
  let n = 0;
  for (const byte of b) n = n * 256 + byte;
  return n;
}

/** Block1/Block2 value: NUM << 4 | M << 3 | SZX [RFC7959 2.2]. */
export function encodeBlockOption(b: BlockOption): Buffer {
  return encodeUintOption(b.num * 16 + (b.more ? 8 : 0) + b.szx);
}

export function decodeBlockOption(v: Buffer): BlockOption | undefined {
  if (v.length > 3) return undefined;
  const n = decodeUintOption(v);
  const szx = n & 7;
  if (szx === 7) return undefined;
  return { num: Math.floor(n / 16), more: (n & 8) !== 0, szx };
}

/** The first option of `name` in a parsed packet. */
export function optionOf(p: ParsedPacket, name: string): Buffer | undefined {
  return p.options.find((o) => o.name === name)?.value;
}

const EMPTY = Buffer.alloc(0);

/**
 * A CoAP ping: an empty CON, no token [RFC7252 4.3], as coap-packet's generate() writes it (version 1,
 * type CON, token length 0; code 0.00; the message id), without building it through generate().
 */
export function pingDatagram(messageId: number): Buffer {
  return Buffer.from([0x40, 0x00, messageId >> 8, messageId & 0xff]);
}

/** An empty RST (version 1, no token, code 0.00) with `messageId`: what parse() reads as { reset: true, messageId }. */
function isResetOf(msg: Buffer, messageId: number): boolean {
  return msg.length === 4 && msg[0] === 0x70 && msg[1] === 0x00 && msg.readUInt16BE(2) === messageId;
}

function describe(p: ParsedPacket): string {
  const type = p.reset ? 'RST' : p.ack ? 'ACK' : p.confirmable ? 'CON' : 'NON';
  const code = p.code === '0.00' ? 'empty' : codeName(p.code);
  const b1 = optionOf(p, 'Block1');
  const block = b1 ? describeBlock(decodeBlockOption(b1)) : '';
  const size1 = optionOf(p, 'Size1');
  const body = p.payload.length ? ` payload "${printable(p.payload, 40)}"` : '';
  return `${type} ${code} mid=${p.messageId} token=${p.token.toString('hex') || '-'}${block}${size1 ? ` Size1=${decodeUintOption(size1)}` : ''}${body}`;
}

function describeBlock(b: BlockOption | undefined): string {
  return b ? ` Block1=${b.num}/${b.more ? 1 : 0}/${2 ** (b.szx + 4)}` : ' Block1=invalid';
}

/**
 * Sends one request (or, with `request` undefined, a CoAP ping) and waits for
 * the answer, retransmitting a CON up to 2 times within io.timeoutMs.
 * Opens a UDP socket for the one exchange.
 */
export async function coapExchange(ep: Endpoint, request: CoapRequest | undefined, io: Io): Promise<CoapOutcome> {
  if (io.signal?.aborted) {
    io.scope.assert(ep.host, `coap ${io.peer}`);
    return { kind: 'timeout' };
  }
  const opened = await openUdpChannel(ep, io, `coap ${io.peer}`);
  if (opened.kind !== 'open') return { kind: 'unreachable', error: opened.detail };
  try {
    return await coapExchangeOn(opened.channel, request, io);
  } finally {
    await opened.channel.close();
  }
}

/** One exchange over an open channel (UDP or a DTLS session), as coapExchange. */
export async function coapExchangeOn(channel: DatagramChannel, request: CoapRequest | undefined, io: Io): Promise<CoapOutcome> {
  if (io.signal?.aborted) return { kind: 'timeout' };
  const options: OutOption[] = request ? uriPathOptions(request.path) : [];
  if (request?.contentFormat !== undefined) options.push({ name: 'Content-Format', value: encodeUintOption(request.contentFormat) });
  for (const q of request?.query ?? []) options.push({ name: 'Uri-Query', value: Buffer.from(q) });
  if (request?.block1) options.push({ name: 'Block1', value: encodeBlockOption(request.block1) });
  if (request?.size1 !== undefined) options.push({ name: 'Size1', value: encodeUintOption(request.size1) });
  const messageId = randomInt(0, 0x10000);
  const token = request ? (request.token ?? randomBytes(4)) : EMPTY;
  const confirmable = request ? (request.confirmable ?? true) : true;
  const datagram = request
    ? generate({ messageId, token, confirmable, code: request.method, options, payload: request.payload ?? EMPTY })
    : pingDatagram(messageId);
  const over = channel.kind === 'dtls' ? ` over ${channel.label}` : '';
  const block = request?.block1 ? describeBlock(request.block1) : '';
  const line = request
    ? `${confirmable ? 'CON' : 'NON'} ${request.method} ${request.path} mid=${messageId} token=${token.toString('hex')}${block}${request.size1 !== undefined ? ` Size1=${request.size1}` : ''}${over}`
    : undefined;
  // A ping's line is built when the transcript is read (see recordLater): a fuzz campaign pings after every case.
  const what = () => line ?? `CON empty (ping) mid=${messageId}${over}`;
  const peer = io.peer;

  return new Promise<CoapOutcome>((resolve) => {
    let settled = false;
    const unsubscribe: (() => void)[] = [];
    // The exchange's deadlines, as offsets from its start: a CON's retransmissions after a quarter of
    // the bound (at least 50 ms) and after three times that, and the bound. One timer at a time, for
    // the next deadline: an exchange answered at once sets and clears one timer, not three.
    const step = Math.max(50, Math.floor(io.timeoutMs / 4));
    const retransmitAt: readonly number[] = confirmable ? [step, step * 3] : [];
    /** Index in retransmitAt of the next retransmission (its length: none left). */
    let nextRetransmission = 0;
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    /** The next retransmission's offset when it is due no later than the bound, else the bound's. */
    const nextAt = () => {
      const r = retransmitAt[nextRetransmission];
      return r !== undefined && !(r > io.timeoutMs) ? r : io.timeoutMs;
    };
    const arm = () => {
      const at = nextAt();
      timer = setTimeout(onTimer, Math.max(0, Math.ceil(at - (performance.now() - t0))), at);
    };
    /** What is due at nextAt(): a retransmission, or the end. */
    const fire = () => {
      const r = retransmitAt[nextRetransmission];
      if (r !== undefined && !(r > io.timeoutMs)) {
        send(++nextRetransmission);
        return;
      }
      io.transcript.record({ dir: 'note', peer, decoded: `no answer within ${io.timeoutMs}ms` });
      finish({ kind: 'timeout' });
    };
    const onTimer = (at: number) => {
      timer = undefined;
      fire();
      // Deadlines at the same offset (a retransmission at the bound) are due together, the retransmission first.
      while (!settled && nextAt() === at) fire();
      if (!settled) arm();
    };
    const finish = (o: CoapOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe.forEach((u) => u());
      io.signal?.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const onAbort = () => finish({ kind: 'timeout' });
    io.signal?.addEventListener('abort', onAbort, { once: true });

    const send = (n: number) => {
      recordLater(io.transcript, () => ({ dir: 'sent', peer, decoded: n === 0 ? what() : `${what()} (retransmission ${n})`, ...hexOf(datagram) }));
      channel.send(datagram);
    };
    unsubscribe.push(
      channel.onFailure((why) => {
        io.transcript.record({ dir: 'note', peer, decoded: `${channel.kind === 'dtls' ? 'DTLS session' : 'socket'} error ${why}` });
        finish({ kind: 'unreachable', error: why });
      }),
    );
    unsubscribe.push(
      channel.onMessage((msg: Buffer) => {
        if (isResetOf(msg, messageId)) {
          // The first rule below (p.reset, our message id) for the answer to every ping of a fuzz campaign,
          // decided without parsing it: its transcript line parses it when the transcript is read.
          recordLater(io.transcript, () => ({ dir: 'received', peer, decoded: describe(parse(msg)), ...hexOf(msg) }));
          return finish({ kind: 'reset' });
        }
        let p: ParsedPacket;
        try {
          p = parse(msg);
        } catch (e) {
          io.transcript.record({ dir: 'received', peer, decoded: `unparseable datagram: ${(e as Error).message}`, ...hexOf(msg) });
          finish({ kind: 'malformed', detail: (e as Error).message });
          return;
        }
        io.transcript.record({ dir: 'received', peer, decoded: describe(p), ...hexOf(msg) });
        if (p.reset && p.messageId === messageId) return finish({ kind: 'reset' });
        if (!request) {
          // A ping should be answered by RST [RFC7252 4.3]; some stacks send an ACK
          // with an error code instead. Either proves the peer is alive.
          if (p.messageId === messageId) finish({ kind: 'response', code: p.code, payload: p.payload, packet: p });
          return;
        }
        if (p.ack && p.messageId === messageId && p.code === '0.00') {
          // Empty ACK: the request arrived, a separate response follows; stop retransmitting (the bound stays).
          if (nextRetransmission < retransmitAt.length) {
            nextRetransmission = retransmitAt.length;
            clearTimeout(timer);
            arm();
          }
          return;
        }
        if (!p.token.equals(token)) return; // not ours
        if (p.confirmable) {
          // Acknowledge a separate response [RFC7252 5.2.2].
          channel.send(generate({ messageId: p.messageId, ack: true, code: '0.00', token: Buffer.alloc(0) }));
        }
        finish({ kind: 'response', code: p.code, payload: p.payload, packet: p });
      }),
    );
    send(0);
    arm();
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
