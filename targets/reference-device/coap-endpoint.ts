// A small CoAP server core (RFC 7252 messaging, RFC 7959 Block1 uploads) on
// coap-packet, fed one datagram at a time by whatever transport carries it.
// Hand-written rather than the `coap` package for two reasons: that server
// insists on owning a dgram.Socket, so it cannot answer inside a DTLS session
// (coaps); and it reassembles Block1 itself before the handler runs, so the
// device could not act per block, never learns of an abandoned transfer, and a
// gap in the blocks comes back as 5.00 instead of 4.08.
//
// Choices worth knowing:
// - Responses are always piggybacked in the ACK, even when `handle` is slow
//   (> ACK_TIMEOUT): the client retransmits, the duplicate is absorbed, and the
//   ACK carries the response once it is ready. No separate responses.
// - Block2 (large responses) is not implemented: responses stay small. A Block2
//   option in a request is therefore an unrecognised critical option (4.02).
// - Block1 on a resource `uploads` does not accept is answered 4.02: the Block
//   options are critical, so a resource that does not do block-wise transfers
//   must reject them [RFC7959 2.1] [RFC7252 5.4.1]; passing the block to
//   `handle` as if it were the whole payload would be wrong.
// - Accept, If-Match, If-None-Match, OSCORE and the like are not implemented,
//   and so are answered 4.02 like any unrecognised critical option.

import { generate, parse, type NamedOption, type OptionName, type ParsedPacket } from 'coap-packet';

export type CoapMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH' | 'PATCH' | 'iPATCH';

export interface CoapRequest {
  readonly method: CoapMethod;
  /** '/a/b' from the Uri-Path options, not percent-encoded ('/' when there are none). */
  readonly path: string;
  readonly query: readonly string[];
  readonly payload: Buffer;
  readonly contentFormat?: number;
  /** Opaque peer key, e.g. 'dtls:127.0.0.1:5000'. */
  readonly peer: string;
  /** DTLS PSK identity, when the transport has one. */
  readonly identity?: string;
}

export interface CoapResponse {
  /** A response code, '2.05'. */
  readonly code: string;
  readonly payload?: Buffer | string;
  readonly contentFormat?: number;
}

/** Why a begun block-wise upload ended without reaching `handle`. */
export type AbandonReason =
  | 'timeout' // no next block within abandonAfterMs
  | 'replaced' // a new block 0 from the same peer for the same method and path
  | 'closed' // the endpoint closed
  | 'ended' // the peer's transport session ended (endPeer): a DTLS close_notify, alert or timeout
  | 'too-large' // Size1 or the blocks so far went past maxBytes (answered 4.13)
  | 'evicted'; // its peer's state was dropped to stay within maxPeers

export interface BlockUploads {
  /** Which requests are block-wise uploads to assemble, e.g. (m, p) => m === 'PUT' && p === '/fw'. */
  accepts(method: string, path: string): boolean;
  /** 4.13 with Size1 = maxBytes when Size1 (if sent) or the assembled size would exceed it. */
  readonly maxBytes: number;
  /** A transfer with no next block within this is abandoned. */
  readonly abandonAfterMs: number;
  /** Called once when block 0 of a new transfer arrives, after authorizeUpload let it through. */
  onBegin?(peer: string, path: string, identity: string | undefined): void;
  /** A begun transfer that never completed. */
  onAbandon?(peer: string, path: string, receivedBytes: number, why: AbandonReason): void;
}

export interface CoapEndpointOptions {
  /** Gets whole requests: a completed block-wise upload arrives as one request with the assembled payload. */
  handle(req: CoapRequest): CoapResponse | Promise<CoapResponse>;
  /**
   * Consulted on block 0 of an upload (and on a one-shot upload), before
   * anything is stored: a refusal answers that response and stores nothing, so
   * an unauthorised client cannot make the device buffer an image.
   */
  authorizeUpload?(req: Omit<CoapRequest, 'payload'>): CoapResponse | undefined;
  uploads?: BlockUploads;
  /** Lines carry no prefix: the caller adds its own. */
  log(line: string): void;
  /**
   * Bound on per-peer state (dedup caches, transfers), default 256; the least
   * recently heard peer is dropped first. Memory for uploads is at most
   * maxPeers x (accepted method/path pairs) x maxBytes.
   */
  maxPeers?: number;
}

export interface CoapEndpoint {
  /** One datagram from a peer; replies go out through `send`. Never throws, whatever the bytes. */
  receive(datagram: Buffer, peer: string, identity: string | undefined, send: (reply: Buffer) => void): void;
  /** The peer's session is gone (DTLS close_notify, alert, expiry): its open transfers are abandoned ('ended') and its state dropped. */
  endPeer(peer: string): void;
  /** Abandons open transfers ('closed'), clears timers; later datagrams and late replies are dropped. */
  close(): void;
}

// RFC 7252 4.8.2, with the default transmission parameters.
const EXCHANGE_LIFETIME_MS = 247_000;
const NON_LIFETIME_MS = 145_000;
/** Remembered message ids per peer: retransmissions come within MAX_TRANSMIT_SPAN, so the recent ones are what matter. */
const DEDUP_PER_PEER = 32;
const DEFAULT_MAX_PEERS = 256;
/** SZX 6 = 1024 bytes, the largest block; 7 is reserved [RFC7959 2.2]. */
const MAX_SZX = 6;

const CON = 0;
const NON = 1;
const ACK = 2;
const RST = 3;

const METHODS: readonly (CoapMethod | undefined)[] = [undefined, 'GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'iPATCH'];

/** coap-packet names the options it knows; this gives their numbers back (RFC 7252 12.2 and later registrations). */
const OPTION_NUMBERS: Readonly<Record<OptionName, number>> = {
  'If-Match': 1,
  'Uri-Host': 3,
  ETag: 4,
  'If-None-Match': 5,
  Observe: 6,
  'Uri-Port': 7,
  'Location-Path': 8,
  OSCORE: 9,
  'Uri-Path': 11,
  'Content-Format': 12,
  'Max-Age': 14,
  'Uri-Query': 15,
  'Hop-Limit': 16,
  Accept: 17,
  'Q-Block1': 19,
  'Location-Query': 20,
  Block2: 23,
  Block1: 27,
  Size2: 28,
  'Q-Block2': 31,
  'Proxy-Uri': 35,
  'Proxy-Scheme': 39,
  Size1: 60,
  'No-Response': 258,
  'OCF-Accept-Content-Format-Version': 2049,
  'OCF-Content-Format-Version': 2053,
};

const URI_HOST = 3;
const URI_PORT = 7;
const URI_PATH = 11;
const CONTENT_FORMAT = 12;
const URI_QUERY = 15;
const BLOCK1 = 27;
const PROXY_URI = 35;
const PROXY_SCHEME = 39;
const SIZE1 = 60;

interface OptionRule {
  readonly min: number;
  readonly max: number;
  readonly repeatable: boolean;
}

/**
 * The options this endpoint processes, with their length bounds and whether
 * they repeat. A value outside the bounds, or an occurrence past the first of
 * a non-repeatable option, is treated as an unrecognised option [RFC7252
 * 5.4.3] [RFC7252 5.4.5]. Uri-Host and Uri-Port are accepted and ignored.
 */
const RECOGNISED: ReadonlyMap<number, OptionRule> = new Map([
  [URI_HOST, { min: 1, max: 255, repeatable: false }],
  [URI_PORT, { min: 0, max: 2, repeatable: false }],
  [URI_PATH, { min: 0, max: 255, repeatable: true }],
  [CONTENT_FORMAT, { min: 0, max: 2, repeatable: false }],
  [URI_QUERY, { min: 0, max: 255, repeatable: true }],
  [BLOCK1, { min: 0, max: 3, repeatable: false }],
  [PROXY_URI, { min: 1, max: 1034, repeatable: false }],
  [PROXY_SCHEME, { min: 1, max: 255, repeatable: false }],
  [SIZE1, { min: 0, max: 4, repeatable: false }],
]);

interface Block {
  readonly num: number;
  readonly more: boolean;
  readonly szx: number;
}

type RequestHead = Omit<CoapRequest, 'payload'>;

/** What the endpoint answers, before encoding. */
interface Outcome {
  readonly code: string;
  readonly payload?: Buffer | string;
  readonly contentFormat?: number;
  readonly block1?: Block;
  readonly size1?: number;
  /** An unrecognised critical option: a NON request is rejected (RST) rather than answered [RFC7252 5.4.1]. */
  readonly badOption?: true;
}

type Decoded =
  | { readonly ok: true; readonly head: RequestHead; readonly payload: Buffer; readonly block1?: Block; readonly size1?: number }
  | { readonly ok: false; readonly outcome: Outcome };

interface Exchange {
  readonly at: number;
  readonly confirmable: boolean;
  /** The reply to resend on a duplicate CON; undefined while `handle` runs. */
  reply?: Buffer;
}

interface Transfer {
  readonly method: CoapMethod;
  readonly path: string;
  readonly identity: string | undefined;
  readonly chunks: Buffer[];
  received: number;
  timer?: NodeJS.Timeout;
}

interface PeerState {
  readonly exchanges: Map<number, Exchange>;
  /** Keyed by method and path: tokens may differ per block [RFC7959 2.4]. */
  readonly transfers: Map<string, Transfer>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readUint(value: Buffer): number {
  return value.length === 0 ? 0 : value.readUIntBE(0, value.length);
}

function uint(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`not a CoAP uint: ${n}`);
  if (n === 0) return Buffer.alloc(0);
  const bytes = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
  const b = Buffer.alloc(bytes);
  b.writeUIntBE(n, 0, bytes);
  return b;
}

function blockValue(b: Block): Buffer {
  return uint(b.num * 16 + (b.more ? 8 : 0) + b.szx);
}

const RESPONSE_CODE = /^[2-5]\.(0\d|[12]\d|3[01])$/;

/**
 * coap-packet's parser lets some malformed messages through (an option value
 * running past the end, a payload marker with no payload after it). Option and
 * token encodings are canonical, so a message is well formed exactly when
 * coap-packet generates the same bytes back from what it parsed.
 */
function wellFormed(p: ParsedPacket, datagram: Buffer): boolean {
  const again = generate(
    { code: p.code, messageId: p.messageId, token: p.token, options: p.options.map((o) => ({ name: String(o.name), value: o.value })), payload: p.payload, confirmable: p.confirmable, ack: p.ack, reset: p.reset },
    datagram.length + 16,
  );
  return again.equals(datagram);
}

function decodeString(value: Buffer): string | undefined {
  try {
    return utf8.decode(value);
  } catch {
    return undefined;
  }
}

function decodeRequest(p: ParsedPacket, method: CoapMethod | undefined, peer: string, identity: string | undefined): Decoded {
  const seen = new Map<number, number>();
  const segments: string[] = [];
  const query: string[] = [];
  let contentFormat: number | undefined;
  let block1: Block | undefined;
  let size1: number | undefined;
  let proxy = false;
  for (const o of p.options) {
    const n = typeof o.name === 'number' ? o.name : Object.hasOwn(OPTION_NUMBERS, o.name) ? OPTION_NUMBERS[o.name as OptionName] : Number(o.name);
    const count = (seen.get(n) ?? 0) + 1;
    seen.set(n, count);
    const rule = RECOGNISED.get(n);
    const recognised = rule !== undefined && o.value.length >= rule.min && o.value.length <= rule.max && (rule.repeatable || count === 1);
    if (!recognised) {
      // Odd numbers are critical [RFC7252 5.4.6]; unrecognised elective options are silently ignored [RFC7252 5.4.1].
      if (n % 2 === 1) return { ok: false, outcome: { code: '4.02', payload: `unrecognised critical option ${n}`, badOption: true } };
      continue;
    }
    switch (n) {
      case URI_PATH:
      case URI_QUERY: {
        const s = decodeString(o.value);
        if (s === undefined) return { ok: false, outcome: { code: '4.00', payload: 'Uri-Path and Uri-Query must be UTF-8' } };
        (n === URI_PATH ? segments : query).push(s);
        break;
      }
      case CONTENT_FORMAT:
        contentFormat = readUint(o.value);
        break;
      case BLOCK1: {
        const v = readUint(o.value);
        block1 = { num: v >>> 4, more: (v & 8) !== 0, szx: v & 7 };
        break;
      }
      case SIZE1:
        size1 = readUint(o.value);
        break;
      case PROXY_URI:
      case PROXY_SCHEME:
        proxy = true;
        break;
      default:
        break; // Uri-Host, Uri-Port: this endpoint is the only origin server here
    }
  }
  if (proxy) return { ok: false, outcome: { code: '5.05' } }; // [RFC7252 5.10.2]
  if (method === undefined) return { ok: false, outcome: { code: '4.05' } }; // [RFC7252 5.8]
  // One resource, one spelling: a segment holding '/' (or '.', '..') would let
  // a request reach '/a/b' without being '/a/b', and none of our resources has one.
  if (segments.some((s) => s.includes('/') || s === '.' || s === '..')) return { ok: false, outcome: { code: '4.04' } };
  const head: RequestHead = {
    method,
    path: `/${segments.join('/')}`,
    query,
    peer,
    ...(contentFormat !== undefined ? { contentFormat } : {}),
    ...(identity !== undefined ? { identity } : {}),
  };
  return { ok: true, head, payload: Buffer.from(p.payload), ...(block1 !== undefined ? { block1 } : {}), ...(size1 !== undefined ? { size1 } : {}) };
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

export function createCoapEndpoint(o: CoapEndpointOptions): CoapEndpoint {
  const maxPeers = Math.max(1, o.maxPeers ?? DEFAULT_MAX_PEERS);
  const peers = new Map<string, PeerState>();
  let closed = false;
  let nextMessageId = Math.floor(Math.random() * 0x10000);

  const log = (line: string): void => {
    try {
      o.log(line);
    } catch {
      // a broken logger must not take the endpoint down
    }
  };

  /** Calls a device hook; a hook that throws is logged, never propagated. */
  const hook = (name: string, f: () => void): void => {
    try {
      f();
    } catch (err) {
      log(`${name} threw: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  const abandon = (peer: string, st: PeerState, key: string, t: Transfer, why: AbandonReason): void => {
    clearTimeout(t.timer);
    if (st.transfers.get(key) === t) st.transfers.delete(key);
    log(`upload ${t.method} ${t.path} from ${peer} abandoned (${why}) after ${t.received} bytes`);
    hook('onAbandon', () => o.uploads?.onAbandon?.(peer, t.path, t.received, why));
  };

  const armTimer = (peer: string, st: PeerState, key: string, t: Transfer): void => {
    clearTimeout(t.timer);
    t.timer = setTimeout(() => {
      if (st.transfers.get(key) === t) abandon(peer, st, key, t, 'timeout');
    }, o.uploads?.abandonAfterMs ?? 0);
    t.timer.unref();
  };

  const peerState = (peer: string): PeerState => {
    let st = peers.get(peer);
    if (st !== undefined) {
      peers.delete(peer); // re-inserted below: the map's order is least recently heard first
    } else {
      while (peers.size >= maxPeers) {
        const [oldest, old] = peers.entries().next().value as [string, PeerState];
        peers.delete(oldest);
        for (const [key, t] of old.transfers) abandon(oldest, old, key, t, 'evicted');
      }
      st = { exchanges: new Map(), transfers: new Map() };
    }
    peers.set(peer, st);
    return st;
  };

  const prune = (st: PeerState, now: number): void => {
    for (const [mid, e] of st.exchanges) {
      if (st.exchanges.size >= DEDUP_PER_PEER || now - e.at >= EXCHANGE_LIFETIME_MS) st.exchanges.delete(mid);
      else break;
    }
  };

  const encode = (p: ParsedPacket, out: Outcome): Buffer => {
    const ack = p.confirmable;
    const messageId = ack ? p.messageId : (nextMessageId = (nextMessageId + 1) & 0xffff);
    try {
      if (!RESPONSE_CODE.test(out.code)) throw new RangeError(`not a response code: ${JSON.stringify(out.code)}`);
      const options: NamedOption[] = [];
      if (out.contentFormat !== undefined) {
        if (out.contentFormat > 0xffff) throw new RangeError(`not a Content-Format: ${out.contentFormat}`);
        options.push({ name: 'Content-Format', value: uint(out.contentFormat) });
      }
      if (out.block1 !== undefined) options.push({ name: 'Block1', value: blockValue(out.block1) });
      if (out.size1 !== undefined) options.push({ name: 'Size1', value: uint(out.size1) });
      const payload = typeof out.payload === 'string' ? Buffer.from(out.payload, 'utf8') : (out.payload ?? Buffer.alloc(0));
      return generate({ code: out.code, messageId, token: p.token, options, payload, ack, confirmable: false });
    } catch (err) {
      // A response the handler built that cannot go out (bad code, too big for one datagram: no Block2 here).
      log(`cannot send ${out.code} to message ${p.messageId}: ${err instanceof Error ? err.message : String(err)}; answering 5.00`);
      return generate({ code: '5.00', messageId, token: p.token, ack, confirmable: false });
    }
  };

  const callHandle = (req: CoapRequest): Outcome | Promise<Outcome> => {
    const failed = (err: unknown): Outcome => {
      log(`handler failed on ${req.method} ${req.path} from ${req.peer}: ${err instanceof Error ? err.message : String(err)}`);
      return { code: '5.00' };
    };
    try {
      const r = o.handle(req);
      return isPromise(r) ? r.then((v) => v, failed) : r;
    } catch (err) {
      return failed(err);
    }
  };

  const authorize = (head: RequestHead): Outcome | undefined => {
    try {
      return o.authorizeUpload?.(head);
    } catch (err) {
      log(`authorizeUpload threw: ${err instanceof Error ? err.message : String(err)}; refusing with 5.00`);
      return { code: '5.00' };
    }
  };

  const tooLarge = (u: BlockUploads): Outcome => ({ code: '4.13', size1: u.maxBytes }); // [RFC7252 5.10.9] [RFC7959 2.9.3]

  /** A request to an upload resource without Block1: the whole image in one datagram. */
  const oneShot = (u: BlockUploads, head: RequestHead, payload: Buffer): Outcome | Promise<Outcome> => {
    const refusal = authorize(head);
    if (refusal !== undefined) return refusal;
    if (payload.length > u.maxBytes) return tooLarge(u);
    return callHandle({ ...head, payload });
  };

  const blockwise = (u: BlockUploads, st: PeerState, head: RequestHead, payload: Buffer, block: Block, size1: number | undefined): Outcome | Promise<Outcome> => {
    const { peer } = head;
    // SZX 7 is reserved: 4.00 on receipt [RFC7959 2.2]. So the client's size is at most 1024 and the server keeps it.
    if (block.szx > MAX_SZX) return { code: '4.00', payload: 'reserved block size' };
    const size = 16 << block.szx;
    // Every block but the last is exactly the block size [RFC7959 2.2].
    if (payload.length > size || (block.more && payload.length !== size)) return { code: '4.00', payload: 'block payload does not match its size' };
    const key = `${head.method} ${head.path}`;
    const echo = (more: boolean): Block => ({ num: block.num, more, szx: block.szx });
    let t = st.transfers.get(key);

    if (block.num === 0) {
      // Authorised before anything is stored; a refusal leaves any earlier transfer alone.
      const refusal = authorize(head);
      if (refusal !== undefined) return refusal;
      if ((size1 !== undefined && size1 > u.maxBytes) || payload.length > u.maxBytes) return tooLarge(u);
      // A new block 0 overwrites the context of an older sequence [RFC7959 2.5].
      if (t !== undefined) abandon(peer, st, key, t, 'replaced');
      t = { method: head.method, path: head.path, identity: head.identity, chunks: [], received: 0 };
      st.transfers.set(key, t);
      log(`upload ${head.method} ${head.path} from ${peer} begun${size1 !== undefined ? ` (Size1 ${size1})` : ''}`);
      hook('onBegin', () => u.onBegin?.(peer, head.path, head.identity));
      if (st.transfers.get(key) !== t) return { code: '5.00' }; // onBegin closed the endpoint meanwhile
    } else {
      // No transfer (never begun, timed out, finished) or one that belongs to
      // another DTLS identity behind the same peer key: not in sequence.
      if (t === undefined || t.identity !== head.identity) return { code: '4.08' }; // [RFC7959 2.9.2]
      if (size1 !== undefined && size1 > u.maxBytes) {
        abandon(peer, st, key, t, 'too-large');
        return tooLarge(u);
      }
    }

    const offset = block.num * size;
    if (offset < t.received && offset + payload.length <= t.received && block.more) {
      armTimer(peer, st, key, t); // a block already stored, sent again: acknowledged again, stored once
      return { code: '2.31', block1: echo(true) };
    }
    // A server MAY answer 4.08 to any Block1 not in sequence [RFC7959 2.5]; the transfer stays for the right block.
    if (offset !== t.received) return { code: '4.08' };
    if (t.received + payload.length > u.maxBytes) {
      abandon(peer, st, key, t, 'too-large');
      return tooLarge(u);
    }
    t.chunks.push(payload);
    t.received += payload.length;
    if (block.more) {
      armTimer(peer, st, key, t);
      return { code: '2.31', block1: echo(true) }; // [RFC7959 2.9.1]
    }

    clearTimeout(t.timer);
    st.transfers.delete(key);
    const assembled = Buffer.concat(t.chunks, t.received);
    log(`upload ${head.method} ${head.path} from ${peer} complete: ${assembled.length} bytes`);
    const withBlock = (r: Outcome): Outcome => ({ ...r, block1: echo(false) });
    const r = callHandle({ ...head, payload: assembled });
    return isPromise(r) ? r.then(withBlock) : withBlock(r);
  };

  const respond = (d: Decoded, st: PeerState): Outcome | Promise<Outcome> => {
    if (!d.ok) return d.outcome;
    const u = o.uploads;
    let accepted = false;
    if (u !== undefined) {
      try {
        accepted = u.accepts(d.head.method, d.head.path);
      } catch (err) {
        log(`uploads.accepts threw: ${err instanceof Error ? err.message : String(err)}`);
        return { code: '5.00' };
      }
    }
    if (u === undefined || !accepted) {
      // The Block options are critical: a resource without block-wise transfers rejects them [RFC7959 2.1].
      if (d.block1 !== undefined) return { code: '4.02', payload: 'Block1 not supported on this resource', badOption: true };
      return callHandle({ ...d.head, payload: d.payload });
    }
    if (d.block1 === undefined) return oneShot(u, d.head, d.payload);
    return blockwise(u, st, d.head, d.payload, d.block1, d.size1);
  };

  const receive = (datagram: Buffer, peer: string, identity: string | undefined, send: (reply: Buffer) => void): void => {
    const emit = (reply: Buffer): void => {
      if (closed) return;
      try {
        send(reply);
      } catch (err) {
        log(`send to ${peer} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    const reset = (messageId: number): void => emit(generate({ code: '0.00', messageId, reset: true }));

    // Too short for a message id, or an unknown version: silently ignored [RFC7252 3].
    if (datagram.length < 4 || datagram[0]! >> 6 !== 1) return;
    const type = (datagram[0]! >> 4) & 3;
    const messageId = datagram.readUInt16BE(2);
    if (type === ACK || type === RST) return; // this endpoint sends no CON and expects no answers

    let p: ParsedPacket | undefined;
    // Token lengths 9-15 are a message format error [RFC7252 3].
    if ((datagram[0]! & 0x0f) <= 8) {
      try {
        p = parse(datagram);
        if (!wellFormed(p, datagram)) p = undefined;
      } catch {
        p = undefined;
      }
    }
    // A CON with a format error is rejected with RST [RFC7252 4.2]; a NON is ignored [RFC7252 4.3].
    if (p === undefined) {
      if (type === CON) reset(messageId);
      return;
    }
    const codeClass = datagram[1]! >> 5;
    if (p.code === '0.00' || codeClass !== 0) {
      // Empty CON = ping, answered RST [RFC7252 4.3]; a response or reserved
      // class sent to a server lacks context: a CON is rejected, a NON ignored.
      if (type === CON) reset(messageId);
      return;
    }

    const st = peerState(peer);
    const now = Date.now();
    prune(st, now);
    const seen = st.exchanges.get(messageId);
    if (seen !== undefined && now - seen.at < (seen.confirmable ? EXCHANGE_LIFETIME_MS : NON_LIFETIME_MS)) {
      // A duplicate: the same reply again for a CON, nothing for a NON or while
      // handle still runs (its ACK follows) [RFC7252 4.5].
      if (seen.confirmable && seen.reply !== undefined) emit(seen.reply);
      return;
    }
    st.exchanges.delete(messageId);
    const exchange: Exchange = { at: now, confirmable: type === CON };
    st.exchanges.set(messageId, exchange);

    const decoded = decodeRequest(p, METHODS[datagram[1]! & 0x1f], peer, identity);
    const parsed = p;
    const finish = (out: Outcome): void => {
      // Rejecting a NON is a RST (or silence) [RFC7252 4.3].
      if (out.badOption === true && type === NON) return reset(messageId);
      const reply = encode(parsed, out);
      if (exchange.confirmable) exchange.reply = reply;
      emit(reply);
    };
    const out = respond(decoded, st);
    if (isPromise(out)) {
      out.then(finish).catch((err: unknown) => log(`reply to ${peer} failed: ${err instanceof Error ? err.message : String(err)}`));
    } else {
      finish(out);
    }
  };

  return {
    receive(datagram, peer, identity, send) {
      if (closed) return;
      try {
        receive(datagram, peer, identity, send);
      } catch (err) {
        log(`datagram from ${peer} dropped: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
    endPeer(peer) {
      const st = peers.get(peer);
      if (!st) return;
      for (const [key, t] of [...st.transfers]) abandon(peer, st, key, t, 'ended');
      peers.delete(peer);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const [peer, st] of peers) for (const [key, t] of st.transfers) abandon(peer, st, key, t, 'closed');
      peers.clear();
    },
  };
}
