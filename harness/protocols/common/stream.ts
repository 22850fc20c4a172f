// A byte stream to one interface: plain TCP for mqtt/http, TLS for
// mqtts/https, so every stream client (MQTT session and CONNECT attempt, the
// cut upload, the raw $SYS reader) is written once for both. Opening checks the
// scope and is bounded by io.timeoutMs and io.signal; outcomes are data.
//
// The harness connects to the devices it judges, so it never refuses a
// certificate: it connects with rejectUnauthorized false and records whether
// the certificate verified (against the interface's tls.ca when there is one,
// else Node's default CAs, and for the name in tls.serverName or the host) as
// TlsFacts, for the transport checks and in a transcript note. Plain TCP
// records nothing here: its callers' transcripts stay what they were.
//
// tlsHandshake is the probe the transport checks use to offer one version or
// suite set alone. TLS 1.0 and 1.1 on Node 20 (OpenSSL 3.0): OpenSSL 3 puts
// them below its default security level 1 (their handshake signatures use
// SHA-1/MD5), so a ClientHello that offers them needs `@SECLEVEL=0` in the
// cipher string, and Node's default minVersion (TLSv1.2) must be lowered, or
// OpenSSL fails locally with "no protocols available" before judging anything.
// tlsHandshake does both when the range reaches below TLS 1.2. What it cannot
// do: SSL 3.0 and SSL 2 (OpenSSL 3 is built without them: Node throws
// ERR_TLS_INVALID_PROTOCOL_VERSION), and suites this OpenSSL does not have;
// such local failures are `unsupported`, never a device refusal.

import { connect as netConnect, isIP, type Socket } from 'node:net';
import {
  checkServerIdentity,
  connect as tlsConnect,
  createSecureContext,
  type ConnectionOptions,
  type PeerCertificate,
  type SecureVersion,
  type TLSSocket,
} from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import type { Endpoint, Protocol, TlsSettings } from '../../model/index.js';
import { printable, type Io } from './io.js';

/** An interface (or anything shaped like one) to open a stream to. */
export interface StreamEndpoint extends Endpoint {
  readonly protocol: Protocol;
  readonly tls?: TlsSettings;
}

/** The device's certificate, as presented (leaf only). */
export interface TlsPeer {
  /** `CN=thermo.local, O=Acme`. */
  readonly subject: string;
  readonly issuer: string;
  /** ISO 8601 (the certificate's own text when it does not parse). */
  readonly validFrom: string;
  readonly validTo: string;
  /** `DNS:thermo.local`, `IP Address:127.0.0.1`. */
  readonly altNames: readonly string[];
  readonly keyBits?: number;
  /** `rsa`, `ec`, `ed25519`, ... */
  readonly keyType?: string;
  /** `sha256WithRSAEncryption`, `ecdsa-with-SHA256`, ... (the dotted OID when unknown). */
  readonly sigAlg?: string;
  /** SHA-256 of the DER, `AB:CD:...`. */
  readonly fingerprint256: string;
}

/** What one completed TLS handshake showed. */
export interface TlsFacts {
  /** As Node names it: `TLSv1.3`, `TLSv1.2`, `TLSv1.1`, `TLSv1`. */
  readonly protocol: string;
  /** IANA name, e.g. `TLS_AES_128_GCM_SHA256`, `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`. */
  readonly cipher: string;
  /** The certificate chains to the CA (tls.ca, else Node's defaults) and names the host (tls.serverName, else the host). */
  readonly authorized: boolean;
  /** Why not: `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `CERT_HAS_EXPIRED`, `ERR_TLS_CERT_ALTNAME_INVALID`, ... */
  readonly authorizationError?: string;
  /** Absent when the server sent no certificate (anonymous or PSK suites). */
  readonly peer?: TlsPeer;
}

export type StreamOpen =
  /** A tls.TLSSocket for mqtts/https (with `tls`), a net.Socket otherwise; the caller owns it. */
  | { readonly kind: 'connected'; readonly socket: Socket; readonly tls?: TlsFacts }
  /** No TCP connection (the socket error code, e.g. ECONNREFUSED), or a TLS handshake that did not complete (`TLS handshake failed: ...`). */
  | { readonly kind: 'unreachable'; readonly error: string }
  /** Not connected within io.timeoutMs, or io.signal aborted. */
  | { readonly kind: 'timeout' };

export type HandshakeResult =
  | { readonly kind: 'ok'; readonly facts: TlsFacts }
  /** The server (or the client, on what the server chose) ended the handshake: an alert, a reset. */
  | { readonly kind: 'refused'; readonly error: string }
  | { readonly kind: 'unreachable'; readonly error: string }
  | { readonly kind: 'timeout' }
  /** This Node/OpenSSL cannot offer what was asked (SSL 3.0, an unknown suite): nothing was judged. */
  | { readonly kind: 'unsupported'; readonly error: string };

export interface HandshakeOptions {
  readonly minVersion?: SecureVersion;
  readonly maxVersion?: SecureVersion;
  /** OpenSSL cipher string (TLS 1.3 suite names are taken too); `:@SECLEVEL=0` is added for TLS 1.0/1.1. */
  readonly ciphers?: string;
  /** SNI and the name verified; default tls.serverName, else the host when it is not an IP. */
  readonly servername?: string;
}

export const isTlsProtocol = (p: Protocol): boolean => p === 'mqtts' || p === 'https';

/** `TLS 1.3`, `TLS 1.0`, for people. */
export function versionLabel(protocol: string): string {
  if (protocol === 'TLSv1') return 'TLS 1.0';
  const m = /^(TLS|SSL)v(\d(?:\.\d)?)$/.exec(protocol);
  return m ? `${m[1]} ${m[2]!.includes('.') ? m[2] : `${m[2]}.0`}` : protocol;
}

/** `TLS 1.3 TLS_AES_128_GCM_SHA256; certificate CN=… issued by CN=…; verified` (or `not verified: <reason>`). */
export function describeTls(f: TlsFacts): string {
  const cert = f.peer ? `certificate ${printable(commonName(f.peer.subject), 80)} issued by ${printable(commonName(f.peer.issuer), 80)}` : 'no certificate';
  return `${versionLabel(f.protocol)} ${f.cipher}; ${cert}; ${f.authorized ? 'verified' : `not verified: ${f.authorizationError ?? 'unknown reason'}`}`;
}

/**
 * Opens a stream to `ep`: TCP, plus a TLS handshake for mqtts/https. The scope
 * guard is asked first (`what` names the operation); one io.timeoutMs bounds
 * connect and handshake together.
 */
export async function connectStream(ep: StreamEndpoint, io: Io, what: string): Promise<StreamOpen> {
  io.scope.assert(ep.host, what);
  if (io.signal?.aborted) return { kind: 'timeout' };
  if (!isTlsProtocol(ep.protocol)) {
    const d = await dial(ep, io, undefined);
    if (d.kind === 'connected') return { kind: 'connected', socket: d.socket };
    return d.kind === 'failed' ? { kind: 'unreachable', error: d.code } : { kind: 'timeout' };
  }
  // A caPem OpenSSL cannot read throws here (the target file checked it already).
  const d = await dial(ep, io, tlsOptions(ep, undefined));
  switch (d.kind) {
    case 'connected':
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: describeTls(d.tls!) });
      return { kind: 'connected', socket: d.socket, tls: d.tls! };
    case 'failed':
      return { kind: 'unreachable', error: d.stage === 'tcp' ? d.code : `TLS handshake failed: ${failureText(d)}` };
    case 'timeout':
      if (d.stage === 'tls') io.transcript.record({ dir: 'note', peer: io.peer, decoded: `TCP connected, but no TLS handshake within ${io.timeoutMs}ms${NOT_TLS}` });
      return { kind: 'timeout' };
    case 'aborted':
      return { kind: 'timeout' };
  }
}

/** Completes one TLS handshake with exactly what `opts` offers, records it, and hangs up. */
export async function tlsHandshake(ep: Endpoint & { readonly tls?: TlsSettings }, io: Io, opts: HandshakeOptions = {}): Promise<HandshakeResult> {
  io.scope.assert(ep.host, `tls ${io.peer}`);
  if (io.signal?.aborted) return { kind: 'timeout' };
  const legacy = (v: SecureVersion | undefined) => v === 'TLSv1' || v === 'TLSv1.1';
  const wantsLegacy = legacy(opts.minVersion) || legacy(opts.maxVersion);
  // Node's default minimum is TLS 1.2: a lower maximum alone would leave no version to offer.
  const minVersion = opts.minVersion ?? (legacy(opts.maxVersion) ? 'TLSv1' : undefined);
  const ciphers = wantsLegacy ? withSecLevel0(opts.ciphers ?? 'DEFAULT') : opts.ciphers;
  const offer: ConnectionOptions = {
    ...(minVersion ? { minVersion } : {}),
    ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
    ...(ciphers ? { ciphers } : {}),
  };
  const range = `${minVersion ? versionLabel(minVersion) : 'default'} to ${opts.maxVersion ? versionLabel(opts.maxVersion) : 'TLS 1.3'}`;
  const shown = `TLS ClientHello offering ${range}${ciphers ? `, ciphers ${printable(ciphers, 80)}` : ''}`;
  let options: ConnectionOptions;
  try {
    options = { ...tlsOptions(ep, opts.servername), ...offer };
    // Throws here, before any socket, for what this OpenSSL cannot do (SSLv3, a cipher string that matches nothing).
    createSecureContext({ ...offer, ...(options.ca ? { ca: options.ca } : {}) });
  } catch (e) {
    const error = `${(e as NodeJS.ErrnoException).code ?? 'ERR'}: ${(e as Error).message}`;
    io.transcript.record({ dir: 'note', peer: io.peer, decoded: `${shown}: not sent, this Node/OpenSSL cannot offer it (${printable(error, 120)})` });
    return { kind: 'unsupported', error };
  }
  io.transcript.record({ dir: 'sent', peer: io.peer, decoded: shown });
  const d = await dial(ep, io, options);
  switch (d.kind) {
    case 'connected': {
      // A polite close (close_notify, FIN), then gone whatever the peer does.
      const socket = d.socket;
      socket.on('error', () => undefined);
      socket.end();
      setTimeout(() => socket.destroy(), 100).unref();
      io.transcript.record({ dir: 'received', peer: io.peer, decoded: `handshake completed: ${describeTls(d.tls!)}` });
      return { kind: 'ok', facts: d.tls! };
    }
    case 'failed': {
      if (d.stage === 'tcp') {
        io.transcript.record({ dir: 'note', peer: io.peer, decoded: `cannot connect: ${d.code}` });
        return { kind: 'unreachable', error: d.code };
      }
      const error = failureText(d);
      if (LOCAL_FAILURES.has(d.code)) {
        io.transcript.record({ dir: 'note', peer: io.peer, decoded: `this Node/OpenSSL could not offer it: ${error}` });
        return { kind: 'unsupported', error };
      }
      io.transcript.record({ dir: 'received', peer: io.peer, decoded: `handshake refused: ${error}` });
      return { kind: 'refused', error };
    }
    case 'timeout':
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: d.stage === 'tcp' ? `no TCP connect within ${io.timeoutMs}ms` : `no TLS handshake within ${io.timeoutMs}ms${NOT_TLS}` });
      return { kind: 'timeout' };
    case 'aborted':
      return { kind: 'timeout' };
  }
}

// ---------------------------------------------------------------------------

const NOT_TLS = ' (is the port speaking TLS?)';

/** Failures OpenSSL reports before or instead of judging the server: this client could offer nothing. */
const LOCAL_FAILURES = new Set(['ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'ERR_SSL_NO_CIPHERS_AVAILABLE', 'ERR_SSL_NO_CIPHER_MATCH']);
/** What a plain (non-TLS) service does to a ClientHello: hang up, or answer bytes that are no TLS record. */
const NOT_TLS_SIGNS = new Set(['ECONNRESET', 'EPIPE', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_RECORD_LENGTH_MISMATCH']);

function failureText(d: { code: string; reason?: string }): string {
  return `${d.code}${d.reason ? ` (${printable(d.reason, 120)})` : ''}${NOT_TLS_SIGNS.has(d.code) ? NOT_TLS : ''}`;
}

function withSecLevel0(ciphers: string): string {
  return /@SECLEVEL=\d/.test(ciphers) ? ciphers : `${ciphers}:@SECLEVEL=0`;
}

/** Never reject; verify against tls.ca; SNI and the verified name from tls.serverName, else the host. */
/** The harness's TLS client options: never refuse the device's certificate (record what verification says), the declared CA, SNI for names. */
export function tlsOptions(ep: Endpoint & { readonly tls?: TlsSettings }, servername?: string): ConnectionOptions {
  const name = servername ?? ep.tls?.serverName ?? ep.host;
  return {
    rejectUnauthorized: false,
    ...(ep.tls?.caPem ? { ca: ep.tls.caPem } : {}),
    // SNI carries host names only [RFC6066 3]; an IP is still verified (against the certificate's IP SANs).
    ...(isIP(name) ? {} : { servername: name }),
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
  };
}

type Dialed =
  | { readonly kind: 'connected'; readonly socket: Socket; readonly tls?: TlsFacts }
  /** `stage` tcp: no connection; tls: connected, handshake failed. `reason`: OpenSSL's, or Node's message. */
  | { readonly kind: 'failed'; readonly stage: 'tcp' | 'tls'; readonly code: string; readonly reason?: string }
  | { readonly kind: 'timeout'; readonly stage: 'tcp' | 'tls' }
  | { readonly kind: 'aborted' };

/** TCP connect (and the TLS handshake with `tls`), bounded by io.timeoutMs and io.signal. */
function dial(ep: Endpoint, io: Io, tls: ConnectionOptions | undefined): Promise<Dialed> {
  return new Promise<Dialed>((resolve) => {
    let settled = false;
    let tcpUp = false;
    const socket: Socket = tls ? tlsConnect({ host: ep.host, port: ep.port, ...tls }) : netConnect({ host: ep.host, port: ep.port, noDelay: true });
    if (tls) socket.setNoDelay(true);
    const finish = (d: Dialed) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      io.signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect).off('secureConnect', onSecure).off('error', onError).off('close', onClose);
      if (d.kind !== 'connected') socket.destroy();
      resolve(d);
    };
    const onAbort = () => finish({ kind: 'aborted' });
    const onConnect = () => {
      tcpUp = true;
      if (!tls) finish({ kind: 'connected', socket });
    };
    const onSecure = () => finish({ kind: 'connected', socket, tls: factsOf(socket as TLSSocket) });
    const onError = (e: NodeJS.ErrnoException & { reason?: string }) => {
      const code = e.code ?? e.message;
      const reason = e.reason ?? (tcpUp && e.message !== code ? e.message : undefined);
      finish({ kind: 'failed', stage: tcpUp ? 'tls' : 'tcp', code, ...(tls && reason ? { reason } : {}) });
    };
    const onClose = () => finish({ kind: 'failed', stage: tcpUp ? 'tls' : 'tcp', code: 'ECONNRESET', reason: 'closed before the connection was established' });
    const timer = setTimeout(() => finish({ kind: 'timeout', stage: tcpUp ? 'tls' : 'tcp' }), io.timeoutMs);
    io.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', onConnect).on('secureConnect', onSecure).on('error', onError).on('close', onClose);
  });
}

function factsOf(socket: TLSSocket): TlsFacts {
  const cipher = socket.getCipher();
  const ae = socket.authorizationError as unknown;
  const why = typeof ae === 'string' ? ae : ae instanceof Error ? ((ae as NodeJS.ErrnoException).code ?? ae.message) : 'unknown';
  // This order: on Node 20, getPeerCertificate() answers {} once getPeerX509Certificate() was called.
  const legacy = socket.getPeerCertificate();
  const x509 = socket.getPeerX509Certificate();
  return {
    protocol: socket.getProtocol() ?? 'unknown',
    cipher: cipher.standardName ?? cipher.name,
    authorized: socket.authorized,
    ...(socket.authorized ? {} : { authorizationError: why }),
    ...(x509 ? { peer: peerOf(x509, legacy) } : {}),
  };
}

function peerOf(x: X509Certificate, pc: PeerCertificate): TlsPeer {
  let keyType: string | undefined;
  try {
    keyType = x.publicKey.asymmetricKeyType;
  } catch {
    keyType = undefined; // a key type this OpenSSL cannot load
  }
  const sigAlg = signatureAlgorithm(x.raw);
  const bits = (pc as { bits?: number }).bits;
  return {
    subject: x.subject.split('\n').join(', '),
    issuer: x.issuer.split('\n').join(', '),
    validFrom: isoOf(x.validFrom),
    validTo: isoOf(x.validTo),
    altNames: x.subjectAltName ? x.subjectAltName.split(', ') : [],
    ...(typeof bits === 'number' ? { keyBits: bits } : {}),
    ...(keyType ? { keyType } : {}),
    ...(sigAlg ? { sigAlg } : {}),
    fingerprint256: x.fingerprint256,
  };
}

function isoOf(text: string): string {
  const t = Date.parse(text);
  return Number.isNaN(t) ? text : new Date(t).toISOString();
}

/** `CN=x` out of `CN=x, O=y`; the whole name when it has no CN. */
function commonName(dn: string): string {
  return dn.split(', ').find((p) => p.startsWith('CN=')) ?? dn;
}

const SIG_ALGS: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.10040.4.3': 'dsa-with-sha1',
  '2.16.840.1.101.3.4.3.2': 'dsa-with-sha256',
  '1.3.101.112': 'ed25519',
  '1.3.101.113': 'ed448',
};

/**
 * Certificate.signatureAlgorithm [RFC5280 4.1.1.2], read from the DER: Node
 * 20's X509Certificate does not expose it, and node-forge only parses RSA
 * certificates. Undefined when the DER is not the shape expected.
 */
export function signatureAlgorithm(der: Buffer): string | undefined {
  // One TLV at `at`: its tag, where its content starts and ends.
  const tlv = (at: number): { tag: number; start: number; end: number } | undefined => {
    if (at + 2 > der.length) return undefined;
    const tag = der[at]!;
    let len = der[at + 1]!;
    let start = at + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || start + n > der.length) return undefined;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
      start += n;
    }
    return start + len > der.length ? undefined : { tag, start, end: start + len };
  };
  const cert = tlv(0);
  if (cert?.tag !== 0x30) return undefined;
  const tbs = tlv(cert.start);
  if (tbs?.tag !== 0x30) return undefined;
  const algId = tlv(tbs.end);
  if (algId?.tag !== 0x30) return undefined;
  const oid = tlv(algId.start);
  if (oid?.tag !== 0x06 || oid.end === oid.start) return undefined;
  const bytes = der.subarray(oid.start, oid.end);
  const parts = [Math.floor(bytes[0]! / 40), bytes[0]! % 40];
  let v = 0;
  for (const b of bytes.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  const dotted = parts.join('.');
  return SIG_ALGS[dotted] ?? dotted;
}
