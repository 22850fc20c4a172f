// CoAP device load generator for `gauntlet bench` (coap.get, coap.non, coap.block), hand-written on node:dgram with pre-encoded datagrams: the stock `coap` client (a request object, an option parse and a retransmission timer per message) cannot saturate a device.
//
// Each connection is one connected UDP socket with `inFlight` slots. A slot
// owns its request datagram, encoded once with coap-packet; a new request
// patches the message id (bytes 2-3) and the 4-byte token (bytes 4-7: slot,
// generation) in place, and coap.block rewrites the Block2 option at the end.
// A slot's buffer is only touched again after its previous request was
// answered or given up, so a send that the kernel queued is never altered.
// Replies are parsed by hand from the 4-byte header and the token; options
// are walked only for Block2 in coap.block. Nothing is retransmitted: a
// load generator counts loss, it does not hide it. A hostile peer (garbage,
// foreign tokens, RST, ICMP unreachable) is counted and the run goes on,
// bounded by time.

import type { Socket } from 'node:dgram';
import { generate } from 'coap-packet';
import type { BenchPath, CoapInterface, PathResult, PathSettings } from '../../model/index.js';
import { codeName } from '../../protocols/coap/exchange.js';
import { LatencyRecorder, nowMs } from './latency.js';
import type { LoadGenerator, LoadOptions } from './types.js';
import { closeQuietly, openConnectedSockets, uriOptions } from './udp-sockets.js';

type Mode = 'get' | 'non' | 'block';
const MODES: Partial<Record<BenchPath, Mode>> = { 'coap.get': 'get', 'coap.non': 'non', 'coap.block': 'block' };

/** Token bytes: slot (2) and generation (2). */
const TOKEN_LEN = 4;
/** Slots per socket at most (the slot is 16 bits of the token). */
const MAX_SLOTS = 0x10000;
const WARMUP_MS = 300;
const DRAIN_MS = 500;
const PROGRESS_MS = 250;
const DEFAULT_BLOCK = 64;
const BLOCK2 = 23;
/** Block NUM is 20 bits [RFC7959 2.2]. */
const MAX_BLOCK_NUM = 0xfffff;
/** Distinct error kinds kept for errorDetail. */
const MAX_KINDS = 6;

const TYPE_CON = 0;
const TYPE_NON = 1;
const TYPE_ACK = 2;
const TYPE_RST = 3;

const WARMUP = 0;
const MEASURE = 1;
const DRAIN = 2;
const DONE = 3;

interface Conn {
  readonly socket: Socket;
  readonly bufs: Buffer[];
  /** views[slot][length - template length]: the slot's datagram (longer by the Block2 option in coap.block), made once: a send with offset and length would slice a view per datagram. */
  readonly views: Buffer[][];
  readonly len: Uint16Array;
  readonly gen: Uint16Array;
  readonly mid: Uint16Array;
  readonly busy: Uint8Array;
  readonly sentAt: Float64Array;
  readonly startAt: Float64Array;
  /** coap.block: the block number asked for, its SZX, the body bytes so far. */
  readonly num: Uint32Array;
  readonly szx: Uint8Array;
  readonly body: Float64Array;
  nextMid: number;
  issued: number;
  /**
   * A request of this socket went unanswered: sends take a callback until a
   * reply comes. On a connected socket an ICMP port unreachable is reported
   * to the next send, which drops it unless a callback listens; a callback
   * costs a tick per send, so only a socket that hears nothing pays it.
   */
  suspect: boolean;
  readonly onSent: (err: Error | null) => void;
}

const peerOf = (o: LoadOptions) => `${o.iface.id} (${o.iface.host}:${o.iface.port})`;

function settingsOf(o: LoadOptions, extra: Partial<PathSettings> = {}): PathSettings {
  return { connections: o.connections, inFlight: o.inFlight, resource: o.resource, durationMs: o.durationMs, maxOps: o.maxOps, ...extra };
}

function skippedResult(o: LoadOptions, why: string, extra: Partial<PathSettings> = {}): PathResult {
  return { path: o.path, interface: o.iface.id, ops: 0, elapsedMs: 0, rate: 0, errors: 0, skipped: why, settings: settingsOf(o, extra), notes: [] };
}

/** SZX for a block size in 16..1024 (a power of two), or undefined. */
function szxFor(blockSize: number): number | undefined {
  const szx = Math.log2(blockSize) - 4;
  return Number.isInteger(szx) && szx >= 0 && szx <= 6 ? szx : undefined;
}

export const coapLoad: LoadGenerator = async (o) => {
  const mode = MODES[o.path];
  if (mode === undefined) return skippedResult(o, `${o.path} is not a CoAP path (coap.get, coap.non, coap.block)`);
  if (o.iface.protocol !== 'coap' && o.iface.protocol !== 'coaps') return skippedResult(o, `${o.path} needs a coap interface; ${o.iface.id} is ${o.iface.protocol}`);
  const iface = o.iface as CoapInterface;
  const blockSize = mode === 'block' ? (o.payloadBytes ?? DEFAULT_BLOCK) : undefined;
  const extra: Partial<PathSettings> = blockSize !== undefined ? { payloadBytes: blockSize } : {};
  if (iface.protocol === 'coaps') {
    return skippedResult(
      o,
      `CoAP-over-DTLS load is not measured on ${iface.id}: only its handshake cost is (dtls.handshake); run ${o.path} on a plain coap interface`,
      extra,
    );
  }
  const askedSzx = blockSize !== undefined ? szxFor(blockSize) : 0;
  if (askedSzx === undefined) return skippedResult(o, `block size ${blockSize} is not a power of two from 16 to 1024 [RFC7959 2.2]`, extra);

  o.io.scope.assert(iface.host, `bench ${o.path} ${iface.id}`);
  if (o.io.signal?.aborted) return skippedResult(o, 'aborted before the run started', extra);

  const connections = Math.max(1, Math.floor(o.connections));
  const slots = Math.min(MAX_SLOTS, Math.max(1, Math.floor(o.inFlight)));
  const timeoutMs = Math.max(1, o.io.timeoutMs);
  const durationMs = Math.max(1, o.durationMs);
  const maxOps = Math.max(0, o.maxOps);
  const peer = peerOf(o);

  // ---- the request template ----------------------------------------------------
  const options = uriOptions(o.resource);
  const template = generate({ code: 'GET', confirmable: mode !== 'non', messageId: 0, token: Buffer.alloc(TOKEN_LEN), options });
  const prefixLen = template.length;
  const lastOption = options.some((x) => x.name === 'Uri-Query') ? 15 : options.length > 0 ? 11 : 0;
  const blockDelta = BLOCK2 - lastOption;

  const opened = await openConnectedSockets(iface.host, iface.port, connections, timeoutMs);
  if (opened.sockets.length === 0) {
    return skippedResult(o, `no UDP socket to ${iface.host}:${iface.port} could be opened: ${[...new Set(opened.failures)].join('; ')}`, extra);
  }

  const conns: Conn[] = opened.sockets.map((socket) => {
    const bufs = Array.from({ length: slots }, () => {
      const b = Buffer.alloc(prefixLen + 5);
      template.copy(b);
      return b;
    });
    return {
      socket,
      bufs,
      views: bufs.map((b) => Array.from({ length: b.length - prefixLen + 1 }, (_, k) => b.subarray(0, prefixLen + k))),
      len: new Uint16Array(slots).fill(prefixLen),
      gen: new Uint16Array(slots),
      mid: new Uint16Array(slots),
      busy: new Uint8Array(slots),
      sentAt: new Float64Array(slots),
      startAt: new Float64Array(slots),
      num: new Uint32Array(mode === 'block' ? slots : 0),
      szx: new Uint8Array(mode === 'block' ? slots : 0),
      body: new Float64Array(mode === 'block' ? slots : 0),
      nextMid: Math.floor(Math.random() * 0x10000),
      issued: 0,
      suspect: false,
      onSent: (err: Error | null) => {
        if (err) onSocketError(err as NodeJS.ErrnoException);
      },
    };
  });

  // ---- counters -----------------------------------------------------------------
  let phase = WARMUP;
  let ops = 0;
  let errors = 0;
  let bytes = 0;
  let lost = 0;
  let outstanding = 0;
  let rec = new LatencyRecorder();
  let kinds = new Map<string, number>();
  let measureStart = 0;
  let elapsedMs = 0;
  // Whole-run observations of the peer.
  let malformed = 0;
  let foreign = 0;
  let emptyAcks = 0;
  let separate = 0;
  let socketErrors = 0;
  const socketKinds = new Map<string, number>();
  // coap.block observations.
  let oneBlockTransfers = 0;
  let oneBlockBytes = 0;
  let withoutBlock2 = false;
  let smallestSzx = askedSzx;
  let lastTransfer: { blocks: number; bytes: number } | undefined;

  const blockBytes = (szx: number) => 1 << (szx + 4);

  function onSocketError(e: NodeJS.ErrnoException): void {
    socketErrors++;
    const k = e.code === 'ECONNREFUSED' ? 'ECONNREFUSED (ICMP port unreachable)' : (e.code ?? e.message);
    const n = socketKinds.get(k);
    if (n !== undefined) socketKinds.set(k, n + 1);
    else if (socketKinds.size < MAX_KINDS) socketKinds.set(k, 1);
  }

  const kind = (k: string) => {
    const n = kinds.get(k);
    if (n !== undefined) kinds.set(k, n + 1);
    else if (kinds.size < MAX_KINDS) kinds.set(k, 1);
  };

  // ---- sending --------------------------------------------------------------------
  const writeBlock = (c: Conn, slot: number): void => {
    const b = c.bufs[slot]!;
    let i = prefixLen;
    const v = c.num[slot]! * 16 + c.szx[slot]!;
    // Block 0 of 16-byte blocks is the value 0, which RFC 7252 3.2 encodes in
    // zero bytes; the `coap` package's server reads an empty Block2 as block
    // size 0 and answers empty blocks for ever. One zero byte is a leading
    // zero every recipient must accept, and both read it right.
    const l = v < 0x100 ? 1 : v < 0x10000 ? 2 : 3;
    if (blockDelta < 13) b[i++] = (blockDelta << 4) | l;
    else {
      b[i++] = (13 << 4) | l;
      b[i++] = blockDelta - 13;
    }
    for (let k = l - 1; k >= 0; k--) b[i++] = (v >>> (8 * k)) & 0xff;
    c.len[slot] = i;
  };

  const send = (c: Conn, slot: number, now: number): void => {
    const b = c.bufs[slot]!;
    const mid = c.nextMid;
    c.nextMid = (mid + 1) & 0xffff;
    b[2] = mid >>> 8;
    b[3] = mid & 0xff;
    c.mid[slot] = mid;
    c.sentAt[slot] = now;
    c.issued++;
    const datagram = c.views[slot]![c.len[slot]! - prefixLen]!;
    try {
      if (c.suspect) c.socket.send(datagram, c.onSent);
      else c.socket.send(datagram);
    } catch {
      // The socket is closing: the slot times out like a lost request.
    }
  };

  /** A new request (coap.get, coap.non) or a new transfer (coap.block) on an idle slot. */
  const begin = (c: Conn, slot: number, now: number): void => {
    const g = (c.gen[slot]! + 1) & 0xffff;
    c.gen[slot] = g;
    const b = c.bufs[slot]!;
    b[4] = slot >>> 8;
    b[5] = slot & 0xff;
    b[6] = g >>> 8;
    b[7] = g & 0xff;
    c.startAt[slot] = now;
    if (mode === 'block') {
      c.num[slot] = 0;
      c.szx[slot] = askedSzx;
      c.body[slot] = 0;
      writeBlock(c, slot);
    }
    c.busy[slot] = 1;
    outstanding++;
    send(c, slot, now);
  };

  const next = (c: Conn, slot: number, now: number): void => {
    if (phase === MEASURE) {
      if (ops >= maxOps) return endMeasure(now);
      if (ops + outstanding >= maxOps) return;
    } else if (phase !== WARMUP) {
      if (phase === DRAIN && outstanding === 0) finishRun();
      return;
    }
    begin(c, slot, now);
  };

  const succeed = (c: Conn, slot: number, now: number): void => {
    c.busy[slot] = 0;
    outstanding--;
    if (phase === MEASURE) {
      ops++;
      rec.add(now - c.startAt[slot]!);
      if (mode === 'block') bytes += c.body[slot]!;
    }
    next(c, slot, now);
  };

  const fail = (c: Conn, slot: number, now: number, why: string): void => {
    c.busy[slot] = 0;
    outstanding--;
    if (phase === MEASURE) {
      errors++;
      kind(why);
    }
    next(c, slot, now);
  };

  const sendEmpty = (c: Conn, type: number, mid: number): void => {
    try {
      c.socket.send(Buffer.from([0x40 | (type << 4), 0, mid >>> 8, mid & 0xff]));
    } catch {
      // closing
    }
  };

  // ---- receiving ------------------------------------------------------------------
  /** The slot whose outstanding request has this message id (empty ACK / RST), or -1. */
  const slotByMid = (c: Conn, mid: number): number => {
    for (let s = 0; s < slots; s++) if (c.busy[s] === 1 && c.mid[s] === mid) return s;
    return -1;
  };

  /** coap.block: a 2.xx reply to the block asked for on `slot`. */
  const onBlock = (c: Conn, slot: number, msg: Buffer, tkl: number, now: number): void => {
    const n = msg.length;
    let i = 4 + tkl;
    let opt = 0;
    let block = -1;
    let payloadAt = n;
    while (i < n) {
      const byte = msg[i++]!;
      if (byte === 0xff) {
        payloadAt = i;
        break;
      }
      let d = byte >>> 4;
      let l = byte & 15;
      if (d === 13) d = 13 + (msg[i++] ?? 0);
      else if (d === 14) {
        d = 269 + ((msg[i] ?? 0) << 8) + (msg[i + 1] ?? 0);
        i += 2;
      } else if (d === 15) return fail(c, slot, now, 'answered a malformed option (delta 15)');
      if (l === 13) l = 13 + (msg[i++] ?? 0);
      else if (l === 14) {
        l = 269 + ((msg[i] ?? 0) << 8) + (msg[i + 1] ?? 0);
        i += 2;
      } else if (l === 15) return fail(c, slot, now, 'answered a malformed option (length 15)');
      if (i + l > n) return fail(c, slot, now, 'answered an option past the end of the datagram');
      opt += d;
      if (opt === BLOCK2) {
        if (l > 3) return fail(c, slot, now, `answered a Block2 option of ${l} bytes`);
        block = 0;
        for (let k = 0; k < l; k++) block = block * 256 + msg[i + k]!;
      }
      i += l;
    }
    const payload = n - payloadAt;
    if (block < 0) {
      if (c.num[slot] !== 0) return fail(c, slot, now, `answered block ${c.num[slot]} without a Block2 option`);
      oneBlockTransfers++;
      oneBlockBytes = payload;
      withoutBlock2 = true;
      c.body[slot] = payload;
      lastTransfer = { blocks: 1, bytes: payload };
      return succeed(c, slot, now);
    }
    const num = Math.floor(block / 16);
    const more = (block & 8) !== 0;
    const szx = block & 7;
    if (szx === 7) return fail(c, slot, now, 'answered Block2 with the reserved SZX 7');
    if (num * blockBytes(szx) !== c.body[slot]) return fail(c, slot, now, `answered block ${num} (${blockBytes(szx)} bytes) where block ${c.num[slot]} was asked for`);
    if (szx > c.szx[slot]!) return fail(c, slot, now, `answered ${blockBytes(szx)}-byte blocks where ${blockBytes(c.szx[slot]!)} were asked for`);
    if (more && payload !== blockBytes(szx)) return fail(c, slot, now, `answered a non-final block of ${payload} bytes in ${blockBytes(szx)}-byte blocks`);
    if (szx < smallestSzx) smallestSzx = szx;
    const body = c.body[slot]! + payload;
    c.body[slot] = body;
    if (!more) {
      if (num === 0) {
        oneBlockTransfers++;
        oneBlockBytes = body;
      }
      lastTransfer = { blocks: num + 1, bytes: body };
      return succeed(c, slot, now);
    }
    const nextNum = body / blockBytes(szx);
    if (nextNum > MAX_BLOCK_NUM) return fail(c, slot, now, `transfer longer than ${MAX_BLOCK_NUM + 1} blocks`);
    if (phase === DRAIN || phase === DONE) {
      // The measured phase is over: the transfer is abandoned, not counted.
      c.busy[slot] = 0;
      outstanding--;
      return next(c, slot, now);
    }
    c.num[slot] = nextNum;
    c.szx[slot] = szx;
    writeBlock(c, slot);
    send(c, slot, now);
  };

  const onMessage = (c: Conn, msg: Buffer): void => {
    const n = msg.length;
    if (n < 4) {
      malformed++;
      return;
    }
    const b0 = msg[0]!;
    const tkl = b0 & 15;
    if (b0 >>> 6 !== 1 || tkl > 8 || n < 4 + tkl) {
      malformed++;
      return;
    }
    const type = (b0 >>> 4) & 3;
    const code = msg[1]!;
    const mid = (msg[2]! << 8) | msg[3]!;
    const now = nowMs();
    if (code === 0) {
      // Empty message: ACK of a request answered later, RST of a request, or a ping.
      if (type === TYPE_CON) return sendEmpty(c, TYPE_RST, mid);
      const slot = type === TYPE_NON ? -1 : slotByMid(c, mid);
      if (slot < 0) {
        foreign++;
        return;
      }
      if (type === TYPE_ACK) {
        emptyAcks++;
        return;
      }
      return fail(c, slot, now, 'reset (RST) the request');
    }
    if (code < 32 || tkl !== TOKEN_LEN) {
      // A request sent to us, or a token that is not one of ours.
      foreign++;
      if (type === TYPE_CON) sendEmpty(c, TYPE_RST, mid);
      return;
    }
    const slot = (msg[4]! << 8) | msg[5]!;
    const gen = (msg[6]! << 8) | msg[7]!;
    if (slot >= slots || c.busy[slot] !== 1 || c.gen[slot] !== gen || (type === TYPE_ACK && c.mid[slot] !== mid) || type === TYPE_RST) {
      // Late (after a timeout), duplicated, or not ours.
      foreign++;
      if (type === TYPE_CON) sendEmpty(c, TYPE_ACK, mid);
      return;
    }
    c.suspect = false;
    if (type === TYPE_CON) {
      separate++;
      sendEmpty(c, TYPE_ACK, mid);
    }
    const cls = code >>> 5;
    if (cls === 2) {
      if (mode === 'block') return onBlock(c, slot, msg, tkl, now);
      return succeed(c, slot, now);
    }
    const name = `${cls}.${String(code & 31).padStart(2, '0')}`;
    return fail(c, slot, now, cls === 4 || cls === 5 ? `answered ${codeName(name)}` : `answered the unexpected code ${name}`);
  };

  // ---- phases -------------------------------------------------------------------------
  let resolveRun!: () => void;
  const finished = new Promise<void>((r) => (resolveRun = r));
  let durationTimer: NodeJS.Timeout | undefined;
  let drainTimer: NodeJS.Timeout | undefined;
  let warmupTimer: NodeJS.Timeout | undefined;
  let tick: NodeJS.Timeout | undefined;
  let progress: NodeJS.Timeout | undefined;
  let aborted = false;

  const startMeasure = (): void => {
    if (phase !== WARMUP) return;
    phase = MEASURE;
    ops = 0;
    errors = 0;
    bytes = 0;
    lost = 0;
    rec = new LatencyRecorder();
    kinds = new Map();
    measureStart = nowMs();
    durationTimer = setTimeout(() => endMeasure(nowMs()), durationMs);
    if (maxOps === 0) endMeasure(measureStart);
  };

  function endMeasure(now: number): void {
    if (phase !== MEASURE) return;
    phase = DRAIN;
    elapsedMs = now - measureStart;
    clearTimeout(durationTimer);
    if (outstanding === 0) return finishRun();
    drainTimer = setTimeout(finishRun, DRAIN_MS);
  }

  function finishRun(): void {
    if (phase === DONE) return;
    if (phase === MEASURE || phase === WARMUP) elapsedMs = phase === MEASURE ? nowMs() - measureStart : 0;
    phase = DONE;
    clearTimeout(durationTimer);
    clearTimeout(drainTimer);
    clearTimeout(warmupTimer);
    clearInterval(tick);
    clearInterval(progress);
    o.io.signal?.removeEventListener('abort', onAbort);
    for (const c of conns) closeQuietly(c.socket);
    resolveRun();
  }

  const onAbort = (): void => {
    aborted = phase === WARMUP || phase === MEASURE;
    finishRun();
  };

  const sweep = (): void => {
    const now = nowMs();
    for (const c of conns) {
      for (let s = 0; s < slots; s++) {
        if (c.busy[s] === 1 && now - c.sentAt[s]! > timeoutMs) {
          c.suspect = true;
          if (phase === MEASURE) lost++;
          fail(c, s, now, `no reply within ${timeoutMs} ms (lost; not retransmitted)`);
        }
      }
    }
  };

  for (const c of conns) {
    c.socket.on('message', (msg: Buffer) => onMessage(c, msg));
    c.socket.on('error', onSocketError);
  }

  const warmupMs = Math.min(WARMUP_MS, durationMs / 10);
  tick = setInterval(sweep, Math.max(5, Math.min(50, timeoutMs / 4)));
  progress = setInterval(() => {
    if (phase !== MEASURE || !o.onProgress) return;
    try {
      o.onProgress(ops);
    } catch {
      // a progress callback never breaks the run
    }
  }, PROGRESS_MS);
  o.io.signal?.addEventListener('abort', onAbort, { once: true });
  warmupTimer = setTimeout(startMeasure, warmupMs);
  const t0 = nowMs();
  for (const c of conns) for (let s = 0; s < slots; s++) begin(c, s, t0);

  await finished;

  // ---- the result -------------------------------------------------------------------
  const notes: string[] = [];
  notes.push(`${conns.length} UDP socket(s) x ${slots} in flight; warm-up ${Math.round(warmupMs)} ms not counted`);
  if (mode !== 'non') notes.push(`no retransmission: ${lost} request(s) without a reply within ${timeoutMs} ms counted as lost (errors)`);
  else notes.push(`NON requests: ${lost} without a response within ${timeoutMs} ms counted as lost (errors)`);
  if (opened.failures.length > 0) notes.push(`${opened.failures.length} of ${connections} socket(s) could not be opened: ${[...new Set(opened.failures)].join('; ')}`);
  if (emptyAcks > 0) notes.push(`${emptyAcks} empty ACK(s): ${separate} separate response(s) acknowledged`);
  if (malformed > 0) notes.push(`${malformed} datagram(s) that are not CoAP ignored`);
  if (foreign > 0) notes.push(`${foreign} message(s) with no request in flight (late, duplicated or foreign) ignored`);
  if (socketErrors > 0) notes.push(`${socketErrors} socket error(s): ${[...socketKinds].map(([k, v]) => `${k} x${v}`).join(', ')}`);
  if (conns.some((c) => c.issued > 0x10000)) {
    notes.push('message ids wrapped on a socket (over 65536 requests): a device that deduplicates by message id for EXCHANGE_LIFETIME sees them again, with new tokens');
  }
  if (mode === 'block') {
    if (oneBlockTransfers > 0) notes.push(`resource fits one block of ${oneBlockBytes} bytes${withoutBlock2 ? ' (answered without Block2)' : ''}`);
    if (smallestSzx < askedSzx) notes.push(`the server chose ${blockBytes(smallestSzx)}-byte blocks (${blockSize} asked)`);
    if (lastTransfer) notes.push(`one transfer: ${lastTransfer.blocks} block(s), ${lastTransfer.bytes} body bytes`);
  }
  if (aborted) notes.push(`aborted ${elapsedMs > 0 ? `after ${Math.round(elapsedMs)} ms of the measured phase` : 'during the warm-up'}: the result so far`);
  else if (outstanding > 0) notes.push(`${outstanding} request(s) still unanswered ${DRAIN_MS} ms after the measured phase (not counted)`);

  const detail = [...kinds].map(([k, v]) => `${peer} ${k} (x${v})`);
  for (const [k, v] of socketKinds) if (detail.length < MAX_KINDS) detail.push(`${peer} socket error ${k} (x${v})`);
  const latency = rec.summary();
  const secs = elapsedMs / 1000;
  return {
    path: o.path,
    interface: iface.id,
    ops,
    elapsedMs,
    rate: secs > 0 ? ops / secs : 0,
    ...(mode === 'block' ? { bytesPerSec: secs > 0 ? bytes / secs : 0 } : {}),
    ...(latency ? { latency } : {}),
    errors,
    ...(detail.length > 0 ? { errorDetail: detail } : {}),
    settings: settingsOf(o, { ...extra, connections: conns.length, inFlight: slots }),
    notes,
  };
};
