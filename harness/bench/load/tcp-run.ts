// What the stream load generators (mqtt.ts, http.ts) share: the measured
// phase (warm-up, then a time and op bound, abort, progress every 250 ms),
// error accounting (a count and the first few distinct kinds, the peer
// named), opening a socket through the scope guard, and closing every socket
// within a bound whatever the peer does. Hand-written because the generators
// drive raw sockets (see mqtt.ts and http.ts for why).

import { setMaxListeners } from 'node:events';
import type { Socket } from 'node:net';
import type { LatencySummary, PathResult, PathSettings } from '../../model/index.js';
import { connectStream, type StreamEndpoint } from '../../protocols/common/stream.js';
import { printable, type Io } from '../../protocols/common/io.js';
import { LatencyRecorder, nowMs } from './latency.js';
import type { LoadOptions } from './types.js';

/** Distinct error kinds kept for errorDetail. */
const DETAIL_KINDS = 5;
/** The warm-up: not counted, at most this long (or a tenth of the measured phase). */
export const WARMUP_MS = 300;
/** After the measured phase: how long in-flight ops may still complete (not counted) before everything closes. */
export const SETTLE_MS = 500;
/** How long a closing socket may take (DISCONNECT, FIN) before it is destroyed. */
const CLOSE_GRACE_MS = 250;

export type Phase = 'setup' | 'warmup' | 'measure' | 'settle';

/**
 * The phase clock and the counters of one run. `op()` counts only in the
 * measured phase; the phase ends at durationMs, at maxOps, on abort, or when
 * the generator calls stop() (nothing left to drive).
 */
export class LoadRun {
  phase: Phase = 'setup';
  ops = 0;
  errors = 0;
  readonly latency = new LatencyRecorder();
  /** nowMs() at the start and end of the measured phase (end 0 while it runs). */
  measureStart = 0;
  measureEnd = 0;
  private readonly details: string[] = [];
  private readonly kinds = new Set<string>();
  private readonly maxOps: number;
  private ended!: () => void;
  /** Resolves when the measured phase is over (or was never reached). */
  readonly done: Promise<void>;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly onAbort = () => this.stop();
  private progress?: NodeJS.Timeout;

  constructor(private readonly o: LoadOptions) {
    this.maxOps = Number.isFinite(o.maxOps) && o.maxOps > 0 ? o.maxOps : Number.POSITIVE_INFINITY;
    this.done = new Promise<void>((resolve) => (this.ended = resolve));
    o.io.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get aborted(): boolean {
    return this.o.io.signal?.aborted === true;
  }

  /** Sending may go on (warm-up or measured phase). */
  get running(): boolean {
    return this.phase === 'warmup' || this.phase === 'measure';
  }

  /** Starts the warm-up; the measured phase follows on its own. */
  begin(): void {
    if (this.phase !== 'setup') return;
    if (this.aborted) return this.stop();
    this.phase = 'warmup';
    const warm = Math.min(WARMUP_MS, Math.floor(this.o.durationMs / 10));
    this.timers.push(setTimeout(() => this.measure(), warm));
  }

  private measure(): void {
    if (this.phase !== 'warmup') return;
    this.phase = 'measure';
    this.ops = 0;
    this.measureStart = nowMs();
    this.timers.push(setTimeout(() => this.stop(), Math.max(0, this.o.durationMs)));
    if (this.o.onProgress) {
      const report = this.o.onProgress;
      this.progress = setInterval(() => {
        try {
          report(this.ops);
        } catch {
          // a broken progress sink must not end the run
        }
      }, 250);
    }
  }

  /** One completed op (counted in the measured phase only), with its latency. */
  op(latencyMs?: number): void {
    if (this.phase !== 'measure') return;
    this.ops++;
    if (latencyMs !== undefined) this.latency.add(latencyMs);
    if (this.ops >= this.maxOps) this.stop();
  }

  /** `n` failed ops of one kind (the kind, with the peer, goes to errorDetail the first time). */
  error(kind: string, n = 1): void {
    if (n <= 0) return;
    this.errors += n;
    const text = `${this.o.io.peer}: ${kind}`;
    if (this.details.length < DETAIL_KINDS && !this.kinds.has(text)) {
      this.kinds.add(text);
      this.details.push(text);
    }
  }

  /** Ends the warm-up or measured phase (idempotent). */
  stop(): void {
    if (this.phase === 'settle') return;
    if (this.phase === 'measure') this.measureEnd = nowMs();
    this.phase = 'settle';
    for (const t of this.timers) clearTimeout(t);
    if (this.progress) clearInterval(this.progress);
    this.o.io.signal?.removeEventListener('abort', this.onAbort);
    this.ended();
  }

  get elapsedMs(): number {
    if (this.measureStart === 0) return 0;
    return (this.measureEnd || nowMs()) - this.measureStart;
  }

  /** The PathResult of this run. */
  result(extra: { skipped?: string; bytesPerSec?: number; notes?: readonly string[]; payloadBytes?: number; latency?: LatencySummary; inFlight?: number }): PathResult {
    const elapsedMs = this.elapsedMs;
    const settings: PathSettings = {
      connections: this.o.connections,
      inFlight: extra.inFlight ?? this.o.inFlight,
      ...(extra.payloadBytes !== undefined ? { payloadBytes: extra.payloadBytes } : {}),
      resource: this.o.resource,
      durationMs: this.o.durationMs,
      maxOps: this.o.maxOps,
    };
    const latency = extra.latency ?? this.latency.summary();
    return {
      path: this.o.path,
      interface: this.o.iface.id,
      ops: this.ops,
      elapsedMs: round(elapsedMs),
      rate: elapsedMs > 0 ? round(this.ops / (elapsedMs / 1000)) : 0,
      ...(extra.bytesPerSec !== undefined ? { bytesPerSec: round(extra.bytesPerSec) } : {}),
      ...(latency ? { latency } : {}),
      errors: this.errors,
      ...(this.details.length > 0 ? { errorDetail: [...this.details] } : {}),
      ...(extra.skipped !== undefined ? { skipped: extra.skipped } : {}),
      settings,
      notes: [...(extra.notes ?? [])],
    };
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

export type Opened = { readonly kind: 'connected'; readonly socket: Socket } | { readonly kind: 'failed'; readonly error: string };

/**
 * A TCP (or TLS, for mqtts/https) stream to the interface: the scope guard is
 * asked first (it throws SCOPE_VIOLATION), one io.timeoutMs bounds connect and
 * handshake; the device's certificate is recorded, never refused (connectStream).
 */
export async function openStream(ep: StreamEndpoint, o: LoadOptions, what: string): Promise<Opened> {
  o.io.scope.assert(ep.host, what);
  const r = await connectStream(ep, o.io, what);
  if (r.kind === 'connected') {
    r.socket.setNoDelay(true);
    return { kind: 'connected', socket: r.socket };
  }
  if (r.kind === 'timeout') return { kind: 'failed', error: o.io.signal?.aborted ? 'aborted' : `no connection within ${o.io.timeoutMs} ms` };
  return { kind: 'failed', error: `cannot connect: ${r.error}` };
}

/**
 * Closes a socket politely (optional last bytes, then FIN) and destroys it if
 * the peer has not closed within a short grace. Resolves once it is gone.
 */
export function closeSocket(socket: Socket, last?: Buffer): Promise<void> {
  return new Promise<void>((resolve) => {
    if (socket.destroyed) return resolve();
    socket.on('error', () => undefined);
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      if (last && socket.writable) socket.end(last);
      else socket.end();
    } catch {
      socket.destroy();
    }
  });
}

/** How a socket ended, for errorDetail: `connection reset by peer (ECONNRESET)`, `connection closed by peer`. */
export function closeReason(err: (Error & { code?: string }) | undefined): string {
  if (!err) return 'connection closed by peer';
  if (err.code === 'ECONNRESET') return 'connection reset by peer (ECONNRESET)';
  if (err.code === 'EPIPE') return 'connection closed by peer while writing (EPIPE)';
  return `connection error: ${err.code ?? printable(err.message, 80)}`;
}

/** Waits `ms` or until `until()` holds (checked every 20 ms), whichever is first. */
export function settle(ms: number, until: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (until()) return resolve();
    const start = Date.now();
    const t = setInterval(() => {
      if (until() || Date.now() - start >= ms) {
        clearInterval(t);
        resolve();
      }
    }, 20);
  });
}

/**
 * The caller's Io with a signal of the run's own as well: end() cuts short
 * the connects still in progress when the measured phase is over. Every
 * parallel connect listens on it, so the listener cap is lifted.
 */
export function endableIo(io: Io): { readonly io: Io; end(): void } {
  const ending = new AbortController();
  const signal = io.signal ? AbortSignal.any([io.signal, ending.signal]) : ending.signal;
  setMaxListeners(0, signal);
  return { io: { ...io, signal }, end: () => ending.abort() };
}
