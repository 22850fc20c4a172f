// The reference device's DTLS 1.2 server with pre-shared keys (RFC 6347 over
// RFC 5246, PSK key exchange per RFC 4279; AES-CCM_8 per RFC 6655, AES-GCM
// and NULL per RFC 5487, AES-CBC-SHA per RFC 4279). It is written by hand
// because no npm package provides a PSK DTLS *server* (node-dtls-client is a
// client only; the others are bindings or unmaintained), and because the
// device needs switchable flaws in its record and handshake layers:
//   dtls-no-cookie        cookies: false    (no HelloVerifyRequest round)
//   dtls-no-replay-window replayWindow: false (RFC 6347 4.1.2.6 window off)
//   dtls-crash-fragment   crashOnBadFragment (an inconsistent handshake
//                         fragment kills the service)
// It plays firmware, so it imports nothing from the harness.
//
// This file owns the socket, the session table and everything that happens
// before a session exists (the stateless cookie exchange and the choice of
// version and suite); session.ts owns the rest of each handshake.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { createCookieJar, type CookieJar } from './cookie.js';
import {
  EXTENSION,
  HANDSHAKE_TYPE,
  RENEGOTIATION_SCSV,
  encodeHelloVerifyRequest,
  encodeMessage,
  isWhole,
  parseClientHello,
  parseFragments,
  type ClientHello,
  type HandshakeFragment,
} from './handshake.js';
import { CONTENT_TYPE, DTLS_1_0, DTLS_1_2, encodeRecord, parseRecords, type DtlsRecord } from './records.js';
import { ALERT, Session, type SessionHost } from './session.js';
import { SUITE_PARAMS, suiteName, type SuiteParams } from './suites.js';

export { SUITES, type SuiteName } from './suites.js';

export interface DtlsPeer {
  readonly address: string;
  readonly port: number;
  /** PSK identity as text (RFC 4279 5.1: UTF-8). */
  readonly identity: string;
  /** Encrypts one application_data record (more if `data` exceeds 2^14 bytes) and sends it. */
  send(data: Buffer): void;
}

export interface DtlsServerOptions {
  host: string;
  /** 0 = pick a free one. The socket is bound without SO_REUSEADDR. */
  port: number;
  /** undefined = unknown identity: the handshake fails with unknown_psk_identity. */
  pskFor(identity: string): Buffer | undefined;
  /** PSK identity hint: when set, a ServerKeyExchange carries it. */
  hint?: string;
  /** Enabled suites in server preference order: the first of these the client offers wins. */
  suites: readonly number[];
  /** true: HelloVerifyRequest with a stateless cookie before any per-client state; false = the dtls-no-cookie flaw. */
  cookies: boolean;
  /** true: 64-record sliding replay window per epoch; false = the dtls-no-replay-window flaw. */
  replayWindow: boolean;
  /** The dtls-crash-fragment flaw: an inconsistent handshake fragment kills the service (socket closed). */
  crashOnBadFragment: boolean;
  /**
   * Called once when the service dies on the crash path, after its socket is
   * closed (so the port is free again): the device's watchdog restarts it.
   * Not called by close().
   */
  onCrash?(error: Error): void;
  /** A session ended (close_notify, a fatal alert, idle, evicted, replaced by a new handshake, or a failed handshake). */
  onSessionEnd?(peer: { readonly address: string; readonly port: number }): void;
  log(line: string): void;
  /** Decrypted application data. */
  onData(peer: DtlsPeer, data: Buffer): void;
  /** Half-open handshakes are dropped after this long (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Established sessions without a valid record for this long are dropped (default 5 min). */
  idleTimeoutMs?: number;
  /** Most sessions (half-open or established) kept at once (default 64). */
  maxSessions?: number;
}

export interface RunningDtls {
  readonly port: number;
  /** Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
const DEFAULT_IDLE_TIMEOUT_MS = 300_000;
const DEFAULT_MAX_SESSIONS = 64;

/** Thrown only by the dtls-crash-fragment flaw, caught at the socket: the firmware's fault handler. */
class FragmentCrash extends Error {}

/** Number of sessions (half-open or established) a running server holds: for tests. */
const sessionCounts = new WeakMap<RunningDtls, () => number>();
export function dtlsSessionCount(server: RunningDtls): number {
  return sessionCounts.get(server)?.() ?? 0;
}

export async function startDtlsServer(o: DtlsServerOptions): Promise<RunningDtls> {
  const socket = createSocket({ type: isIPv6(o.host) ? 'udp6' : 'udp4', reuseAddr: false });
  const port = await bind(socket, o.host, o.port);
  const service = new DtlsService(socket, o);
  const running: RunningDtls = { port, close: () => service.close() };
  sessionCounts.set(running, () => service.sessionCount);
  return running;
}

function bind(socket: Socket, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ port, address: host, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket.address().port);
    });
  });
}

class DtlsService {
  private readonly sessions = new Map<string, Session>();
  private readonly cookies: CookieJar = createCookieJar();
  private readonly host: SessionHost;
  private readonly suites: readonly SuiteParams[];
  private readonly handshakeTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly maxSessions: number;
  private readonly sweeper: NodeJS.Timeout;
  private datagrams = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly o: DtlsServerOptions,
  ) {
    this.suites = o.suites.flatMap((id) => SUITE_PARAMS.get(id) ?? []);
    this.handshakeTimeoutMs = o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.idleTimeoutMs = o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.maxSessions = Math.max(1, o.maxSessions ?? DEFAULT_MAX_SESSIONS);
    this.host = {
      pskFor: (identity) => o.pskFor(identity),
      hint: o.hint === undefined ? undefined : Buffer.from(o.hint, 'utf8'),
      replayWindow: o.replayWindow,
      log: (line) => this.log(line),
      onData: (peer, data) => {
        try {
          o.onData(peer, data);
        } catch (e) {
          this.log(`dtls: the application data handler failed: ${describe(e)}`);
        }
      },
      send: (datagram, address, port) => this.send(datagram, address, port),
      fragments: (data) => this.fragments(data),
      inconsistent: (reason) => this.inconsistent(reason),
      ended: (session) => {
        const key = sessionKey(session.address, session.port);
        if (this.sessions.get(key) === session) this.sessions.delete(key);
        try {
          o.onSessionEnd?.({ address: session.address, port: session.port });
        } catch (e) {
          this.log(`dtls: the session-end handler failed: ${describe(e)}`);
        }
      },
    };
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    // After binding, a socket error (a send to an unreachable port and the like) must not end the process.
    socket.on('error', (err) => this.log(`dtls: socket error: ${err.message}`));
    const sweepEvery = Math.max(50, Math.min(1000, Math.floor(Math.min(this.handshakeTimeoutMs, this.idleTimeoutMs) / 4)));
    this.sweeper = setInterval(() => this.sweep(), sweepEvery);
    this.sweeper.unref();
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.stop();
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // already closed by the crash path
      }
    });
    return this.closing;
  }

  /** Stops serving: timers, sessions, no more datagrams. */
  private stop(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const s of [...this.sessions.values()]) s.destroy();
    this.sessions.clear();
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    try {
      this.handleDatagram(msg, rinfo);
    } catch (e) {
      if (e instanceof FragmentCrash) {
        // The dtls-crash-fragment flaw: the fault takes the whole service down.
        this.log(`dtls service crashed on a datagram from ${rinfo.address}:${rinfo.port}: ${e.message}; the DTLS socket is closed`);
        this.stop();
        const crashed = () => {
          try {
            this.o.onCrash?.(e);
          } catch (err) {
            this.log(`dtls: the crash handler failed: ${describe(err)}`);
          }
        };
        try {
          this.socket.close(crashed);
        } catch {
          crashed(); // already closed
        }
        return;
      }
      this.log(`dtls: internal error on a datagram from ${rinfo.address}:${rinfo.port}: ${describe(e)}`);
    }
  }

  private handleDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    const datagramId = ++this.datagrams;
    const key = sessionKey(rinfo.address, rinfo.port);
    const now = Date.now();
    for (const record of parseRecords(msg)) {
      if (this.closed) return;
      if (record.version >> 8 !== 0xfe) continue; // DTLS only: no SSL/TLS record versions
      const session = this.sessions.get(key);
      if (record.epoch === 0 && record.type === CONTENT_TYPE.handshake) {
        if (record.version !== DTLS_1_0 && record.version !== DTLS_1_2) continue;
        const fragments = this.fragments(record.fragment);
        if (fragments === undefined) continue;
        const hello = fragments.find((f) => f.type === HANDSHAKE_TYPE.clientHello);
        if (hello !== undefined) this.onClientHello(record, hello, rinfo, session, datagramId, now);
        else session?.handlePlainHandshake(record, fragments, datagramId, now);
        continue;
      }
      session?.handleRecord(record, datagramId, now);
    }
  }

  /** Flights 1-3 of RFC 6347 4.2.4, statelessly; a session starts only after the cookie checks out. */
  private onClientHello(record: DtlsRecord, fragment: HandshakeFragment, rinfo: RemoteInfo, session: Session | undefined, datagramId: number, now: number): void {
    // A ClientHello must come whole: reassembling one before the cookie is checked would mean per-client state.
    if (!isWhole(fragment)) return;
    const hello = parseClientHello(fragment.body);
    if (hello === undefined) return;
    if (session !== undefined && session.clientRandom.equals(hello.random)) {
      session.helloRetransmitted(datagramId);
      return;
    }
    if (this.o.cookies && !this.cookies.verify(rinfo.address, rinfo.port, hello.cookieInput, hello.cookie)) {
      // RFC 6347 4.2.1: HelloVerifyRequest takes the ClientHello's record sequence number and says DTLS 1.0.
      const cookie = this.cookies.mint(rinfo.address, rinfo.port, hello.cookieInput);
      const hvr = encodeMessage(HANDSHAKE_TYPE.helloVerifyRequest, fragment.seq, encodeHelloVerifyRequest(DTLS_1_0, cookie));
      this.send(encodeRecord({ type: CONTENT_TYPE.handshake, version: record.version, epoch: 0, seq: record.seq, fragment: hvr }), rinfo.address, rinfo.port);
      return;
    }
    const peer = `${rinfo.address}:${rinfo.port}`;
    const refuse = (alert: number, reason: string, suite?: number) => {
      this.send(encodeRecord({ type: CONTENT_TYPE.alert, version: record.version, epoch: 0, seq: record.seq, fragment: Buffer.from([2, alert]) }), rinfo.address, rinfo.port);
      this.log(`dtls handshake failed: peer ${peer} identity - suite ${suite === undefined ? '-' : suiteName(suite)}: ${reason}`);
    };
    // DTLS 1.2 only: a client whose highest version is older gets protocol_version (RFC 5246 E.1).
    if (hello.version >> 8 !== 0xfe || hello.version > DTLS_1_2) return refuse(ALERT.protocolVersion, `client offers version 0x${hello.version.toString(16)}, not DTLS 1.2`);
    if (!hello.compressions.includes(0)) return refuse(ALERT.handshakeFailure, 'client does not offer null compression');
    const suite = this.suites.find((s) => hello.suites.includes(s.id));
    if (suite === undefined) return refuse(ALERT.handshakeFailure, `no common cipher suite (client offers ${hello.suites.map(suiteName).join(', ')})`);
    const renegotiationInfo = hello.extensions.get(EXTENSION.renegotiationInfo);
    // RFC 5746 3.6: on an initial handshake the extension must carry an empty renegotiated_connection.
    if (renegotiationInfo !== undefined && !(renegotiationInfo.length === 1 && renegotiationInfo[0] === 0)) {
      return refuse(ALERT.handshakeFailure, 'renegotiation_info is not empty on an initial handshake', suite.id);
    }
    session?.superseded();
    this.makeRoom();
    const created = new Session(this.host, {
      address: rinfo.address,
      port: rinfo.port,
      hello,
      helloMessage: encodeMessage(HANDSHAKE_TYPE.clientHello, fragment.seq, fragment.body),
      helloSeq: fragment.seq,
      helloRecordSeq: record.seq,
      suite,
      secureRenegotiation: renegotiationInfo !== undefined || hello.suites.includes(RENEGOTIATION_SCSV),
      extendedMasterSecret: emsRequested(hello),
      now,
    });
    this.sessions.set(sessionKey(rinfo.address, rinfo.port), created);
    created.start();
  }

  /** At the session cap: the oldest half-open handshake goes first, else the longest-idle session. */
  private makeRoom(): void {
    while (this.sessions.size >= this.maxSessions) {
      let victim: Session | undefined;
      for (const s of this.sessions.values()) {
        if (s.established) continue;
        if (victim === undefined || s.createdAt < victim.createdAt) victim = s;
      }
      if (victim === undefined) {
        for (const s of this.sessions.values()) if (victim === undefined || s.lastActive < victim.lastActive) victim = s;
      }
      if (victim === undefined) return;
      victim.evict();
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) s.expire(now, this.handshakeTimeoutMs, this.idleTimeoutMs);
  }

  private fragments(data: Buffer): readonly HandshakeFragment[] | undefined {
    const parsed = parseFragments(data);
    if (parsed.ok) return parsed.fragments;
    this.inconsistent(parsed.inconsistent);
    return undefined;
  }

  /** An inconsistent handshake fragment: dropped silently, or the end of the service under the flaw. */
  private inconsistent(reason: string): void {
    if (this.o.crashOnBadFragment) throw new FragmentCrash(`inconsistent handshake fragment: ${reason}`);
  }

  private send(datagram: Buffer, address: string, port: number): void {
    if (this.closed) return;
    try {
      this.socket.send(datagram, port, address, () => {});
    } catch {
      // socket closing: nothing to do
    }
  }

  private log(line: string): void {
    try {
      this.o.log(line);
    } catch {
      // a failing logger must not take the service down
    }
  }
}

/** RFC 7627 5.1: the client asks with an empty extended_master_secret extension. */
function emsRequested(hello: ClientHello): boolean {
  const data = hello.extensions.get(EXTENSION.extendedMasterSecret);
  return data !== undefined && data.length === 0;
}

function sessionKey(address: string, port: number): string {
  return `${address}|${port}`;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
