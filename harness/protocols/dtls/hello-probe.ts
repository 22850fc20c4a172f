// Probes a DTLS server's first flight without finishing the handshake: one
// raw ClientHello over UDP (any version, any suites, any extensions), one
// HelloVerifyRequest followed with the cookie [RFC6347 4.2.1], and the
// server's answer read with the hand-written codec. It answers "which
// version and suite does the device pick", "does it demand a cookie", "which
// alert does it send" — what a conforming client (node-dtls-client) hides.
// Nothing is encrypted: once the ServerHello is in, the probe sends a fatal
// alert and goes; the server may keep half a session, which is fine.

import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import type { Endpoint } from '../../model/index.js';
import { hexOf, printable, type Io } from '../common/io.js';
import {
  AlertDescription,
  AlertLevel,
  ContentType,
  DTLS1_0,
  DTLS1_2,
  HandshakeType,
  NamedGroup,
  SignatureScheme,
  SUITES_BY_ID,
  describeClientHello,
  describeDatagram,
  ecPointFormats,
  encodeAlert,
  encodeClientHello,
  encodeHandshake,
  encodeRecord,
  extendedMasterSecret,
  handshakeLabel,
  isComplete,
  isPskSuite,
  parseAlert,
  parseHandshake,
  parseHelloVerifyRequest,
  parsePskIdentityHint,
  parseRecords,
  parseServerHello,
  reassemble,
  signatureAlgorithms,
  suiteName,
  supportedGroups,
  type ClientHello,
  type ExtensionInput,
  type HandshakeFragment,
  type ServerHello,
} from './codec.js';

export interface HelloOffer {
  /** client_version; DTLS 1.2 when absent. */
  readonly version?: number;
  readonly suites: readonly number[];
  /**
   * Wait for the whole first flight (to ServerHelloDone, within io.timeoutMs)
   * and report the PSK identity hint of the ServerKeyExchange; otherwise the
   * probe settles as soon as the ServerHello is in.
   */
  readonly identityHintExpected?: boolean;
  /** Sent as given, instead of defaultExtensions(suites). */
  readonly extensions?: readonly ExtensionInput[];
  /** 'follow' (default): answer one HelloVerifyRequest; 'ignore': report it and stop. */
  readonly cookie?: 'follow' | 'ignore';
}

export interface HvrSeen {
  readonly cookieLength: number;
  /** server_version of the HelloVerifyRequest (RFC 6347 4.2.1: SHOULD be 0xfeff). */
  readonly version: number;
}

export interface FlightMessage {
  readonly msgType: number;
  readonly name: string;
  readonly messageSeq: number;
  readonly body: Uint8Array;
}

export type HelloOutcome =
  | {
      readonly kind: 'server-hello';
      readonly version: number;
      readonly suite: number;
      readonly suiteName: string;
      readonly hello: ServerHello;
      readonly hvr: HvrSeen | undefined;
      /** The PSK identity hint, when the flight had a ServerKeyExchange for a PSK suite. */
      readonly identityHint: string | undefined;
      /** A ServerHelloDone was seen. */
      readonly flightComplete: boolean;
      /** The server's messages after any HelloVerifyRequest, reassembled, in arrival order. */
      readonly flight: readonly FlightMessage[];
    }
  | { readonly kind: 'alert'; readonly level: number; readonly description: number; readonly name: string; readonly hvr: HvrSeen | undefined }
  | { readonly kind: 'hello-verify'; readonly cookieLength: number; readonly version: number }
  | { readonly kind: 'timeout'; readonly hvr: HvrSeen | undefined }
  | { readonly kind: 'malformed'; readonly detail: string }
  | { readonly kind: 'unreachable'; readonly error: string };

const ECDHE = /_ECDHE?_/;
const CERTIFICATE_AUTH = /_(?:RSA|ECDSA|DSS)_WITH_/;

/**
 * What a plain client sends with these suites: extended_master_secret always
 * [RFC7627]; supported_groups and ec_point_formats when an ECDHE suite is
 * offered (a server cannot pick one without them [RFC8422 4]);
 * signature_algorithms when a certificate suite is.
 */
export function defaultExtensions(suites: readonly number[]): ExtensionInput[] {
  const names = suites.map((s) => SUITES_BY_ID.get(s)?.name ?? '');
  const out: ExtensionInput[] = [];
  if (names.some((n) => ECDHE.test(n))) out.push(supportedGroups([NamedGroup.secp256r1, NamedGroup.x25519]), ecPointFormats());
  if (names.some((n) => CERTIFICATE_AUTH.test(n) && !n.includes('_PSK_')))
    out.push(signatureAlgorithms([SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pkcs1_sha256]));
  out.push(extendedMasterSecret());
  return out;
}

/** Bytes of fragments kept while waiting for the rest of a message: a flight of a DTLS 1.2 PSK server is well below. */
const MAX_PENDING_BYTES = 64 * 1024;

/**
 * Sends a ClientHello, follows one HelloVerifyRequest unless told to ignore
 * it, and reports the server's answer. Each wait (for the first answer, and
 * again after the cookie) is bounded by io.timeoutMs, with the ClientHello
 * retransmitted twice within it [RFC6347 4.2.4].
 */
export async function helloProbe(ep: Endpoint, offer: HelloOffer, io: Io): Promise<HelloOutcome> {
  io.scope.assert(ep.host, `dtls ${io.peer}`);
  if (io.signal?.aborted) return { kind: 'timeout', hvr: undefined };
  const socket = createSocket(ep.host.includes(':') ? 'udp6' : 'udp4');
  const hello: ClientHello = {
    version: offer.version ?? DTLS1_2,
    random: new Uint8Array(randomBytes(32)),
    sessionId: new Uint8Array(0),
    cookie: new Uint8Array(0),
    suites: offer.suites,
    compression: [0],
    extensions: offer.extensions ?? defaultExtensions(offer.suites),
  };
  let nextSequence = 0; // record sequence numbers of epoch 0, one per record sent [RFC6347 4.1]
  const record = (type: number, version: number, fragment: Uint8Array) => encodeRecord({ type, version, epoch: 0, sequence: nextSequence++, fragment });
  // The first flight's record layer says DTLS 1.0, as OpenSSL and mbed TLS
  // clients do: a server that only knows 1.0 still reads the record, and the
  // ClientHello's client_version carries the offer.
  const clientHello = (h: ClientHello, messageSeq: number) =>
    record(ContentType.handshake, DTLS1_0, encodeHandshake({ msgType: HandshakeType.client_hello, messageSeq, body: encodeClientHello(h) }));

  return new Promise<HelloOutcome>((resolve) => {
    let settled = false;
    let timers: NodeJS.Timeout[] = [];
    let hvr: HvrSeen | undefined;
    let serverHello: ServerHello | undefined;
    let identityHint: string | undefined;
    let flightComplete = false;
    const flight: FlightMessage[] = [];
    const pending = new Map<string, HandshakeFragment[]>();
    let pendingBytes = 0;
    const delivered = new Set<string>();

    const close = () => {
      try {
        socket.close();
      } catch {
        // already closed by an error
      }
    };
    const finish = (o: HelloOutcome) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      io.signal?.removeEventListener('abort', onAbort);
      if (o.kind !== 'server-hello') {
        close();
        resolve(o);
        return;
      }
      // The server holds handshake state now: tell it we are gone [RFC5246 7.2.2].
      const bye = record(ContentType.alert, o.version, encodeAlert({ level: AlertLevel.fatal, description: AlertDescription.user_canceled }));
      io.transcript.record({ dir: 'sent', peer: io.peer, decoded: 'Alert fatal user_canceled(90) (probe done)', ...hexOf(bye) });
      const fallback = setTimeout(() => done(), 100);
      const done = () => {
        clearTimeout(fallback);
        close();
        resolve(o);
      };
      try {
        socket.send(bye, () => done());
      } catch {
        done();
      }
    };
    const onAbort = () => {
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: 'aborted' });
      finish({ kind: 'timeout', hvr });
    };
    io.signal?.addEventListener('abort', onAbort, { once: true });
    const malformed = (detail: string) => {
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: `malformed: ${detail}` });
      finish({ kind: 'malformed', detail });
    };

    /** Sends a ClientHello and arms its retransmissions and the bound on the wait for an answer. */
    const sendHello = (h: ClientHello, messageSeq: number) => {
      timers.forEach(clearTimeout);
      timers = [];
      const what = describeClientHello(h) + (messageSeq ? ` seq=${messageSeq}` : '');
      const send = (n: number) => {
        if (settled) return;
        const datagram = clientHello(h, messageSeq); // a fresh record sequence number for each copy
        io.transcript.record({ dir: 'sent', peer: io.peer, decoded: n === 0 ? what : `${what} (retransmission ${n})`, ...hexOf(datagram) });
        socket.send(datagram);
      };
      send(0);
      const step = Math.max(50, Math.floor(io.timeoutMs / 4));
      timers.push(
        setTimeout(() => send(1), step),
        setTimeout(() => send(2), step * 3),
        setTimeout(() => {
          if (serverHello) {
            io.transcript.record({ dir: 'note', peer: io.peer, decoded: `no ServerHelloDone within ${io.timeoutMs}ms` });
            return settleServerHello();
          }
          io.transcript.record({ dir: 'note', peer: io.peer, decoded: `no answer within ${io.timeoutMs}ms` });
          finish({ kind: 'timeout', hvr });
        }, io.timeoutMs),
      );
    };

    const settleServerHello = () => {
      const sh = serverHello!;
      finish({ kind: 'server-hello', version: sh.version, suite: sh.suite, suiteName: suiteName(sh.suite), hello: sh, hvr, identityHint, flightComplete, flight: [...flight] });
    };

    const onMessage = (m: HandshakeFragment) => {
      const key = `${m.msgType}/${m.messageSeq}`;
      if (delivered.has(key)) return; // a retransmitted flight
      delivered.add(key);
      if (m.msgType === HandshakeType.hello_verify_request) {
        const p = parseHelloVerifyRequest(m.body);
        if (!p.ok) return malformed(p.error);
        if (offer.cookie === 'ignore') return finish({ kind: 'hello-verify', cookieLength: p.value.cookie.length, version: p.value.version });
        if (hvr !== undefined || serverHello !== undefined) {
          io.transcript.record({ dir: 'note', peer: io.peer, decoded: 'another HelloVerifyRequest: not followed (one is)' });
          return;
        }
        hvr = { cookieLength: p.value.cookie.length, version: p.value.version };
        // Same ClientHello with the cookie, message_seq 1 [RFC6347 4.2.1, 4.2.2].
        return sendHello({ ...hello, cookie: p.value.cookie }, 1);
      }
      flight.push({ msgType: m.msgType, name: handshakeLabel(m.msgType), messageSeq: m.messageSeq, body: m.body });
      if (m.msgType === HandshakeType.server_hello) {
        if (serverHello) return;
        const p = parseServerHello(m.body);
        if (!p.ok) return malformed(p.error);
        serverHello = p.value;
      } else if (m.msgType === HandshakeType.server_key_exchange && serverHello && isPskSuite(serverHello.suite)) {
        const p = parsePskIdentityHint(m.body);
        if (p.ok) identityHint = Buffer.from(p.value).toString('utf8');
        else io.transcript.record({ dir: 'note', peer: io.peer, decoded: p.error });
      } else if (m.msgType === HandshakeType.server_hello_done) {
        flightComplete = true;
      }
    };

    const onFragment = (f: HandshakeFragment) => {
      if (isComplete(f)) return onMessage(f);
      const key = `${f.msgType}/${f.messageSeq}`;
      if (delivered.has(key)) return;
      const list = pending.get(key) ?? [];
      list.push(f);
      pending.set(key, list);
      pendingBytes += f.body.length;
      if (pendingBytes > MAX_PENDING_BYTES) return malformed(`more than ${MAX_PENDING_BYTES} bytes of handshake fragments that never complete`);
      const whole = reassemble(list);
      if (whole.ok) {
        pending.delete(key);
        return onMessage(whole.value);
      }
      if (!whole.error.startsWith('fragments: gap')) return malformed(whole.error);
    };

    socket.on('error', (err: NodeJS.ErrnoException) => {
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: `socket error ${err.code ?? err.message}` });
      finish({ kind: 'unreachable', error: err.code ?? err.message });
    });
    socket.on('message', (msg: Buffer) => {
      if (settled) return;
      io.transcript.record({ dir: 'received', peer: io.peer, decoded: describeDatagram(msg), ...hexOf(msg) });
      const { records, trailing } = parseRecords(msg);
      if (trailing) return malformed(trailing.error);
      for (const rec of records) {
        if (settled) return;
        if (rec.epoch !== 0) continue; // encrypted: not ours to read, and the probe never gets that far
        if (rec.type === ContentType.alert) {
          const a = parseAlert(rec.fragment);
          if (!a.ok) return malformed(a.error);
          return finish({ kind: 'alert', level: a.value.level, description: a.value.description, name: a.value.name, hvr });
        }
        if (rec.type !== ContentType.handshake) {
          io.transcript.record({ dir: 'note', peer: io.peer, decoded: `ignored a plaintext record of content type ${rec.type}` });
          continue;
        }
        const h = parseHandshake(rec.fragment);
        if (!h.ok) return malformed(h.error);
        for (const f of h.value) {
          if (settled) return;
          onFragment(f);
        }
      }
      if (!settled && serverHello && (flightComplete || !offer.identityHintExpected)) settleServerHello();
    });
    socket.connect(ep.port, ep.host, () => {
      if (!settled) sendHello(hello, 0);
    });
  });
}

/** One line for a report: what the probe saw. */
export function describeOutcome(o: HelloOutcome): string {
  const cookie = (h: HvrSeen | undefined) => (h ? ` after a ${h.cookieLength}B cookie` : '');
  switch (o.kind) {
    case 'server-hello': {
      const hint = o.identityHint === undefined ? '' : ` hint "${printable(o.identityHint)}"`;
      return `ServerHello ${o.suiteName}${cookie(o.hvr)}${hint}`;
    }
    case 'alert':
      return `alert ${o.level === AlertLevel.fatal ? 'fatal' : 'warning'} ${o.name}(${o.description})${cookie(o.hvr)}`;
    case 'hello-verify':
      return `HelloVerifyRequest with a ${o.cookieLength}B cookie`;
    case 'timeout':
      return `no answer${cookie(o.hvr)}`;
    case 'malformed':
      return `malformed answer: ${o.detail}`;
    case 'unreachable':
      return `unreachable: ${o.error}`;
  }
}
