// The unit's connection budget, as a constrained device has one (file
// descriptors, RAM for socket buffers): CONNECTION_SLOTS TCP connections at
// once across its TCP services (MQTT, MQTT over TLS, HTTP, HTTPS), and an
// HTTP API that reads at most HTTP_READERS request heads at once. Every
// server of those services hands its accepted sockets to the gate (guard),
// which admits each to its service now, later, or never. A connection that
// waits here is one in the listen backlog: its client sees the TCP handshake
// done, and then nothing (no TLS handshake, no CONNACK, no HTTP reply).
//
// Hardened (the defaults):
//   - a connection that has sent nothing at all is closed IDLE_TIMEOUT_MS
//     after it was accepted;
//   - each service keeps at most PREAUTH_CAP connections that have not yet
//     authenticated (MQTT: a CONNECT accepted) or sent a whole request head
//     (HTTP): a new one evicts the service's oldest idle connection (sent
//     nothing), else its oldest unauthenticated one;
//   - when every slot is taken, a new connection evicts the unit's oldest
//     idle unauthenticated connection, else its oldest unauthenticated one;
//     it waits only while every slot holds an authenticated session;
//   - HTTP: a request head must be whole within HEADER_DEADLINE_MS of its
//     first byte, and while HTTP_READERS heads are being read a new
//     connection evicts the one read the longest (the slowest).
// Flaws:
//   no-connection-limit      none of the first three: connections are admitted
//                            until the slots run out, idle ones are kept for
//                            ever, and every later connection waits in the
//                            backlog until one of them closes;
//   slow-request-starvation  none of the last: a request head holds its reader
//                            until it is whole or its client goes, and new
//                            connections wait in the backlog while every
//                            reader is held (slowloris).
// Only the first request head of a connection is modelled (a keep-alive
// connection that has sent one counts as authenticated). Hand-written: it
// models a small device's limits, which no package does on purpose.

import type { Server, Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { Flaw } from './flaws.js';

/** TCP connections the unit holds at once, all TCP services together. */
export const CONNECTION_SLOTS = 64;
/** Hardened: unauthenticated connections per service. */
export const PREAUTH_CAP = 16;
/** Hardened: a connection that has sent nothing is closed after this long, ms. */
export const IDLE_TIMEOUT_MS = 1500;
/** Request heads the HTTP API reads at once (plain and TLS together). */
export const HTTP_READERS = 8;
/** Hardened: a request head must be whole within this long of its first byte, ms. */
export const HEADER_DEADLINE_MS = 1000;
/** Connections waiting for admission, all services together; past it a new one is reset. */
export const BACKLOG = 128;
/** How often idle connections and slow heads are looked for, ms. */
const SWEEP_MS = 100;
/** Evictions and waits are logged at most this often, ms. */
const LOG_EVERY_MS = 1000;

/** What a service speaks: `http` services share the request-head readers. */
export type ServiceKind = 'mqtt' | 'http';

interface Service {
  readonly name: string;
  readonly kind: ServiceKind;
  readonly tls: boolean;
  /** Admitted connections, oldest first. */
  readonly conns: Set<Conn>;
  /** The backlog, oldest first. */
  readonly waiting: Socket[];
  /** By `address|port` of the peer: how a TLS socket finds its raw connection. */
  readonly byPeer: Map<string, Conn>;
  /** Hands a socket to the service (the server's own connection listeners). */
  readonly admit: (socket: Socket) => void;
}

interface Conn {
  readonly raw: Socket;
  /** The TLS socket once its handshake is done; the raw socket otherwise. */
  app: Socket;
  readonly service: Service;
  readonly peer: string;
  readonly since: number;
  /** Authenticated (MQTT) or has sent a whole request head (HTTP). */
  active: boolean;
  /** When the sweep first saw a request head being read. */
  readingSince?: number;
}

const peerKey = (s: Socket): string => `${s.remoteAddress ?? '?'}|${s.remotePort ?? '?'}`;

export interface ConnectionGateOptions {
  readonly flaws: ReadonlySet<Flaw>;
  readonly log: (line: string) => void;
}

export class ConnectionGate {
  private readonly services = new Set<Service>();
  private readonly bySocket = new WeakMap<Socket, Conn>();
  private readonly waitingIn = new WeakMap<Socket, Service>();
  private readonly evicted = new WeakSet<Socket>();
  private readonly limitSlots: boolean;
  private readonly limitReaders: boolean;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  /** Reasons of evictions and waits since the last log line, with their counts. */
  private readonly pending = new Map<string, number>();
  private lastLog = 0;

  constructor(private readonly o: ConnectionGateOptions) {
    this.limitSlots = !o.flaws.has('no-connection-limit');
    this.limitReaders = !o.flaws.has('slow-request-starvation');
  }

  /**
   * Puts `server`'s accepted sockets under the gate: its own connection
   * listeners (aedes, the TLS handshake, the HTTP parser) run when the gate
   * admits a socket. Call before listening, and before listenTcp adds its
   * tracker (which must see waiting sockets too, to close them).
   */
  guard(server: Server, name: string, kind: ServiceKind): void {
    const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    const svc: Service = {
      name,
      kind,
      tls: server instanceof TlsServer,
      conns: new Set(),
      waiting: [],
      byPeer: new Map(),
      admit: (socket) => {
        for (const h of handlers) h.call(server, socket);
      },
    };
    this.services.add(svc);
    server.on('connection', (socket: Socket) => this.offer(svc, socket));
    if (svc.tls) {
      server.on('secureConnection', (tls: TLSSocket) => {
        const c = svc.byPeer.get(peerKey(tls));
        if (!c) return;
        c.app = tls;
        this.bySocket.set(tls, c);
      });
    }
    if (kind === 'http') server.on('request', (req: IncomingMessage) => this.activate(req.socket));
    server.once('close', () => {
      this.services.delete(svc);
      for (const s of svc.waiting.splice(0)) s.destroy();
    });
  }

  /** The connection on `socket` (raw or TLS) authenticated or sent a whole request head. */
  activate(socket: unknown): void {
    const c = this.bySocket.get(socket as Socket);
    if (!c || c.active) return;
    c.active = true;
    c.readingSince = undefined;
    this.pump();
  }

  /** Whether the gate closed this socket (raw or TLS): its handshake error is not worth a log line. */
  dropped(socket: Socket): boolean {
    return this.evicted.has(socket) || this.evicted.has((socket as { _parent?: Socket })._parent as Socket);
  }

  /** Connections admitted and waiting, for tests and logs. */
  counts(): { readonly admitted: number; readonly waiting: number } {
    let admitted = 0;
    let waiting = 0;
    for (const s of this.services) {
      admitted += s.conns.size;
      waiting += s.waiting.length;
    }
    return { admitted, waiting };
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const s of this.services) for (const w of s.waiting.splice(0)) w.destroy();
  }

  private offer(svc: Service, raw: Socket): void {
    // A waiting socket has no service listener yet: its errors must not go unhandled.
    raw.on('error', () => {});
    raw.once('close', () => this.release(raw));
    if (this.closed) {
      raw.destroy();
      return;
    }
    if (svc.waiting.length === 0 && this.admissible(svc)) this.enter(svc, raw);
    else if (this.counts().waiting >= BACKLOG) {
      this.note(`backlog full (${BACKLOG}): ${svc.name} connections reset`);
      raw.destroy();
    } else {
      svc.waiting.push(raw);
      this.waitingIn.set(raw, svc);
      const what = this.total() >= CONNECTION_SLOTS ? `all ${CONNECTION_SLOTS} connection slots taken` : `all ${HTTP_READERS} request readers busy`;
      this.note(`${svc.name}: ${what}; new connections wait in the backlog`);
    }
    this.arm();
  }

  private enter(svc: Service, raw: Socket): void {
    const c: Conn = { raw, app: raw, service: svc, peer: peerKey(raw), since: Date.now(), active: false };
    svc.conns.add(c);
    svc.byPeer.set(c.peer, c);
    this.bySocket.set(raw, c);
    svc.admit(raw);
  }

  private release(raw: Socket): void {
    const c = this.bySocket.get(raw);
    if (c) this.forget(c);
    const svc = this.waitingIn.get(raw);
    if (svc) {
      const i = svc.waiting.indexOf(raw);
      if (i >= 0) svc.waiting.splice(i, 1);
    }
    this.pump();
  }

  private forget(c: Conn): void {
    c.service.conns.delete(c);
    if (c.service.byPeer.get(c.peer) === c) c.service.byPeer.delete(c.peer);
  }

  private *all(): Generator<Conn> {
    for (const s of this.services) yield* s.conns;
  }

  private total(): number {
    let n = 0;
    for (const s of this.services) n += s.conns.size;
    return n;
  }

  /** Sent nothing at all (not even a TLS ClientHello). */
  private idle(c: Conn): boolean {
    return !c.active && c.raw.bytesRead === 0;
  }

  /** An HTTP connection with part of a request head in (TLS: after the handshake). */
  private reading(c: Conn): boolean {
    if (c.service.kind !== 'http' || c.active) return false;
    const app = c.service.tls ? (c.app === c.raw ? 0 : c.app.bytesRead) : c.raw.bytesRead;
    if (app === 0) return false;
    c.readingSince ??= Date.now();
    return true;
  }

  private readers(): Conn[] {
    const out: Conn[] = [];
    for (const s of this.services) if (s.kind === 'http') for (const c of s.conns) if (this.reading(c)) out.push(c);
    return out;
  }

  /**
   * Whether a new connection of `svc` may be admitted now; hardened, it makes
   * room by evicting (see the file comment). Flawed, it says no instead.
   */
  private admissible(svc: Service): boolean {
    if (!this.limitSlots && this.total() >= CONNECTION_SLOTS) return false;
    if (!this.limitReaders && svc.kind === 'http' && this.readers().length >= HTTP_READERS) return false;
    if (this.limitSlots) {
      const pre = [...svc.conns].filter((c) => !c.active);
      if (pre.length >= PREAUTH_CAP) {
        const victim = pre.find((c) => this.idle(c)) ?? pre[0]!;
        this.evict(victim, `${svc.name}: over ${PREAUTH_CAP} unauthenticated connections, the oldest ${this.idle(victim) ? 'idle ' : ''}one evicted`);
      }
      if (this.total() >= CONNECTION_SLOTS) {
        const unauthenticated = [...this.all()].filter((c) => !c.active).sort((a, b) => a.since - b.since);
        const victim = unauthenticated.find((c) => this.idle(c)) ?? unauthenticated[0];
        if (!victim) return false;
        this.evict(victim, `all ${CONNECTION_SLOTS} connection slots taken: the oldest ${this.idle(victim) ? 'idle' : 'unauthenticated'} connection (${victim.service.name}) evicted`);
      }
    }
    if (this.limitReaders && svc.kind === 'http') {
      const readers = this.readers();
      if (readers.length >= HTTP_READERS) {
        const slowest = readers.reduce((a, b) => ((a.readingSince ?? a.since) <= (b.readingSince ?? b.since) ? a : b));
        this.evict(slowest, `all ${HTTP_READERS} HTTP request readers busy: the slowest request head evicted`);
      }
    }
    return true;
  }

  private evict(c: Conn, why: string): void {
    this.forget(c);
    this.evicted.add(c.raw);
    this.evicted.add(c.app);
    c.app.destroy();
    c.raw.destroy();
    this.note(why);
  }

  /** Admits waiting connections, oldest first per service, while there is room. */
  private pump(): void {
    if (this.closed) return;
    for (const svc of this.services) {
      while (svc.waiting.length > 0 && this.admissible(svc)) {
        const raw = svc.waiting.shift()!;
        this.waitingIn.delete(raw);
        if (!raw.destroyed) this.enter(svc, raw);
      }
    }
  }

  private arm(): void {
    if (this.sweeper || this.closed) return;
    // The sweep runs after this loop turn's I/O (setImmediate): when the unit's
    // event loop was held up, the bytes that arrived meanwhile are read before
    // a deadline judges a connection idle or its request head late.
    this.sweeper = setInterval(() => setImmediate(() => this.sweep()), SWEEP_MS);
    this.sweeper.unref();
  }

  /** Hardened deadlines: idle connections and slow request heads; then the backlog, and the log. */
  private sweep(): void {
    const now = Date.now();
    for (const c of [...this.all()]) {
      if (this.limitSlots && this.idle(c) && now - c.since >= IDLE_TIMEOUT_MS) {
        this.evict(c, `${c.service.name}: connections that sent nothing for ${IDLE_TIMEOUT_MS} ms closed`);
      } else if (this.limitReaders && this.reading(c) && now - c.readingSince! >= HEADER_DEADLINE_MS) {
        this.evict(c, `${c.service.name}: request heads not whole within ${HEADER_DEADLINE_MS} ms closed`);
      }
    }
    this.pump();
    this.flushLog(now);
    const { admitted, waiting } = this.counts();
    if (admitted + waiting === 0 && this.pending.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private note(why: string): void {
    this.pending.set(why, (this.pending.get(why) ?? 0) + 1);
    this.arm();
  }

  private flushLog(now: number): void {
    if (this.pending.size === 0 || now - this.lastLog < LOG_EVERY_MS) return;
    this.lastLog = now;
    for (const [why, n] of this.pending) this.o.log(`connections: ${why}${n > 1 ? ` (${n} times)` : ''}`);
    this.pending.clear();
  }
}
