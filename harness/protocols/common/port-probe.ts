// Port probes, the way a scanner does them and no further. TCP: a plain
// connect (handshake completes = open, RST = closed, silence = filtered) and
// a short wait for a banner; nothing is ever written. UDP: one protocol-fitting
// datagram on a connected socket, so the kernel reports ICMP port-unreachable
// as ECONNREFUSED (= closed); any reply = open; silence = open|filtered, since
// a UDP service may simply ignore a probe it does not understand.
// Outcomes are data, never exceptions; only the scope guard throws.

import { createSocket } from 'node:dgram';
import { randomBytes, randomInt } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import type { Endpoint } from '../../model/index.js';
import { ContentType, DTLS1_2, ecPointFormats, encodeClientHello, encodeHandshake, encodeRecord, HandshakeType, NamedGroup, SignatureScheme, signatureAlgorithms, supportedGroups } from '../dtls/codec.js';
import { hexOf, printable, type Io } from './io.js';

export type Transport = 'tcp' | 'udp';
export type PortState = 'open' | 'closed' | 'filtered' | 'open|filtered';
/** Which datagram a UDP probe sends. */
export type UdpProbeKind = 'coap-ping' | 'dtls-client-hello' | 'ssdp-m-search' | 'mdns-query';

export interface PortSpec {
  readonly transport: Transport;
  readonly port: number;
  /** UDP only: overrides the choice by port number (e.g. a declared coaps port on 15684). */
  readonly udpProbe?: UdpProbeKind;
}

export interface ProbeResult {
  readonly transport: Transport;
  readonly host: string;
  readonly port: number;
  readonly state: PortState;
  /** TCP: the banner read after connect (may be empty); UDP: the first reply datagram. */
  readonly reply?: Buffer;
  /** UDP: the probe that was sent. */
  readonly probe?: UdpProbeKind;
  /** The socket error behind `closed` or `filtered`, e.g. ECONNREFUSED. */
  readonly error?: string;
  /** The run was interrupted before the probe could tell. */
  readonly aborted?: boolean;
}

export interface TcpProbeOptions {
  /** How long to wait for a banner after the handshake, ms. */
  readonly bannerMs?: number;
  /** At most this many banner bytes are kept. */
  readonly bannerCap?: number;
}

export const DEFAULT_BANNER_MS = 300;
const BANNER_CAP = 1024;

export const peerOf = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;
/** The transport a protocol runs over (CoAP and CoAP over DTLS: UDP). */
export const transportOf = (p: string): Transport => (p === 'coap' || p === 'coaps' ? 'udp' : 'tcp');
/** A host as a key: IPv6 brackets dropped, lower case. */
export const normHost = (h: string) => h.replace(/^\[|\]$/g, '').toLowerCase();

/** TCP connect probe. Sends nothing; reads a banner for up to `bannerMs`. */
export async function probeTcp(ep: Endpoint, io: Io, opts: TcpProbeOptions = {}): Promise<ProbeResult> {
  const peer = peerOf(ep.host, ep.port);
  io.scope.assert(ep.host, `tcp probe ${peer}`);
  const base = { transport: 'tcp' as const, host: ep.host, port: ep.port };
  if (io.signal?.aborted) return { ...base, state: 'filtered', aborted: true };
  const bannerMs = opts.bannerMs ?? DEFAULT_BANNER_MS;
  const cap = opts.bannerCap ?? BANNER_CAP;
  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    let connected = false;
    const chunks: Buffer[] = [];
    let size = 0;
    const socket = tcpConnect({ host: ep.host, port: ep.port });
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(bannerTimer);
      io.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(r);
    };
    const openResult = (): ProbeResult => {
      const reply = Buffer.concat(chunks).subarray(0, cap);
      if (reply.length) io.transcript.record({ dir: 'received', peer, decoded: `TCP banner "${printable(reply, 80)}"`, ...hexOf(reply) });
      else io.transcript.record({ dir: 'note', peer, decoded: `TCP open, no banner within ${bannerMs}ms` });
      return { ...base, state: 'open', reply };
    };
    const onAbort = () => finish(connected ? openResult() : { ...base, state: 'filtered', aborted: true });
    io.signal?.addEventListener('abort', onAbort, { once: true });
    let bannerTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      io.transcript.record({ dir: 'note', peer, decoded: `TCP connect: no answer within ${io.timeoutMs}ms (filtered)` });
      finish({ ...base, state: 'filtered', error: 'timeout' });
    }, io.timeoutMs);
    io.transcript.record({ dir: 'sent', peer, decoded: 'TCP connect (SYN)' });
    socket.on('connect', () => {
      connected = true;
      clearTimeout(timer);
      io.transcript.record({ dir: 'note', peer, decoded: 'TCP handshake completed (open)' });
      bannerTimer = setTimeout(() => finish(openResult()), bannerMs);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= cap) finish(openResult());
    });
    socket.on('end', () => finish(openResult()));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message;
      if (connected) return finish(openResult()); // reset after the handshake: still open
      const closed = code === 'ECONNREFUSED';
      io.transcript.record({ dir: 'note', peer, decoded: `TCP connect: ${code} (${closed ? 'closed' : 'filtered'})` });
      finish({ ...base, state: closed ? 'closed' : 'filtered', error: code });
    });
    socket.on('close', () => {
      if (connected) finish(openResult());
    });
  });
}

/** The usual probe for a UDP port: what a service there would answer. */
export function udpProbeForPort(port: number): UdpProbeKind {
  switch (port) {
    case 1900:
      return 'ssdp-m-search';
    case 5353:
      return 'mdns-query';
    case 5684:
      return 'dtls-client-hello';
    default:
      return 'coap-ping'; // harmless to anything else, and answered by every CoAP stack
  }
}

/** An empty confirmable message: a CoAP ping, answered by RST [RFC7252 4.3]. */
export function coapPing(messageId = randomInt(0, 0x10000)): Buffer {
  return Buffer.from([0x40, 0x00, messageId >> 8, messageId & 0xff]);
}

/** SSDP discovery request (UPnP Device Architecture 1.1, 1.3.2), sent unicast to the host. */
export function ssdpMSearch(host: string, port = 1900): Buffer {
  const h = host.includes(':') ? `[${host}]` : host;
  return Buffer.from(`M-SEARCH * HTTP/1.1\r\nHOST: ${h}:${port}\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n`, 'latin1');
}

/**
 * A DNS-SD service enumeration query for `_services._dns-sd._udp.local` PTR
 * [RFC6763 9], sent from an ephemeral port: a "legacy unicast" query that a
 * responder answers directly to the sender [RFC6762 6.7].
 */
export function mdnsServicesQuery(id = randomInt(0, 0x10000)): Buffer {
  const labels = ['_services', '_dns-sd', '_udp', 'local'];
  const name = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
  const header = Buffer.from([id >> 8, id & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, name, Buffer.from([0x00, 0x0c, 0x00, 0x01])]); // QTYPE PTR, QCLASS IN
}

/**
 * A minimal DTLS 1.2 ClientHello without a cookie [RFC6347 4.2.1]: a DTLS
 * server answers it with a HelloVerifyRequest (or an alert), either of which
 * shows the port is open. Suites: the CoAP-mandated PSK/ECDHE CCM_8 ones
 * [RFC7252 9.1.3] and two common GCM/CBC ones.
 */
export function dtlsClientHello(random: Buffer = randomBytes(32)): Buffer {
  const body = encodeClientHello({
    version: DTLS1_2,
    random,
    sessionId: new Uint8Array(0),
    cookie: new Uint8Array(0),
    suites: [0xc0a8, 0xc0ae, 0xc02b, 0x00ae],
    compression: [0],
    extensions: [supportedGroups([NamedGroup.secp256r1]), ecPointFormats(), signatureAlgorithms([SignatureScheme.ecdsa_secp256r1_sha256])],
  });
  const fragment = encodeHandshake({ msgType: HandshakeType.client_hello, messageSeq: 0, body });
  return Buffer.from(encodeRecord({ type: ContentType.handshake, version: DTLS1_2, epoch: 0, sequence: 0, fragment }));
}

export function udpProbePayload(kind: UdpProbeKind, host: string, port: number): Buffer {
  switch (kind) {
    case 'coap-ping':
      return coapPing();
    case 'dtls-client-hello':
      return dtlsClientHello();
    case 'ssdp-m-search':
      return ssdpMSearch(host, port);
    case 'mdns-query':
      return mdnsServicesQuery();
  }
}

const PROBE_LABEL: Readonly<Record<UdpProbeKind, string>> = {
  'coap-ping': 'CoAP ping (empty CON)',
  'dtls-client-hello': 'DTLS 1.2 ClientHello',
  'ssdp-m-search': 'SSDP M-SEARCH ssdp:all',
  'mdns-query': 'mDNS query _services._dns-sd._udp.local PTR',
};

/** One line about a UDP reply, for transcripts and finding summaries. */
export function describeUdpReply(reply: Buffer, probe?: UdpProbeKind): string {
  const b0 = reply[0] ?? 0;
  if (reply.length >= 13 && (b0 === 21 || b0 === 22) && reply[1] === 0xfe) {
    const what = b0 === 21 ? 'alert' : reply[13] === 3 ? 'HelloVerifyRequest' : reply[13] === 2 ? 'ServerHello' : `handshake type ${reply[13]}`;
    return `DTLS ${what}`;
  }
  const text = reply.toString('latin1');
  if (/^(HTTP\/1\.[01] \d{3}|NOTIFY )/.test(text)) return `SSDP "${printable(text.split('\r\n')[0] ?? '', 60)}"`;
  if (probe === 'mdns-query' && reply.length >= 12 && reply[2]! & 0x80) {
    return `DNS response, ${reply.readUInt16BE(6)} answer(s)`;
  }
  if (reply.length >= 4 && b0 >> 6 === 1) {
    const type = ['CON', 'NON', 'ACK', 'RST'][(b0 >> 4) & 3];
    const code = `${reply[1]! >> 5}.${String(reply[1]! & 0x1f).padStart(2, '0')}`;
    return `CoAP ${type} ${code === '0.00' ? 'empty' : code}`;
  }
  return `"${printable(reply, 60)}"`;
}

/** UDP probe on a connected socket: reply = open, ECONNREFUSED = closed, silence = open|filtered. */
export async function probeUdp(ep: Endpoint, io: Io, kind: UdpProbeKind = udpProbeForPort(ep.port)): Promise<ProbeResult> {
  const peer = peerOf(ep.host, ep.port);
  io.scope.assert(ep.host, `udp probe ${peer}`);
  const base = { transport: 'udp' as const, host: ep.host, port: ep.port, probe: kind };
  if (io.signal?.aborted) return { ...base, state: 'open|filtered', aborted: true };
  const datagram = udpProbePayload(kind, ep.host, ep.port);
  const socket = createSocket(ep.host.includes(':') ? 'udp6' : 'udp4');
  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      io.signal?.removeEventListener('abort', onAbort);
      socket.close();
      resolve(r);
    };
    const onAbort = () => finish({ ...base, state: 'open|filtered', aborted: true });
    io.signal?.addEventListener('abort', onAbort, { once: true });
    const send = (n: number) => {
      if (settled) return;
      io.transcript.record({ dir: 'sent', peer, decoded: `UDP ${PROBE_LABEL[kind]}${n ? ` (retry ${n})` : ''}`, ...hexOf(datagram) });
      socket.send(datagram);
    };
    socket.on('message', (msg: Buffer) => {
      io.transcript.record({ dir: 'received', peer, decoded: `UDP reply: ${describeUdpReply(msg, kind)}`, ...hexOf(msg) });
      finish({ ...base, state: 'open', reply: msg });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message;
      const closed = code === 'ECONNREFUSED';
      io.transcript.record({ dir: 'note', peer, decoded: closed ? 'ICMP port unreachable (ECONNREFUSED): closed' : `UDP socket error ${code}` });
      finish({ ...base, state: closed ? 'closed' : 'open|filtered', error: code });
    });
    socket.connect(ep.port, ep.host, () => {
      send(0);
      // One retry, as scanners do: a single lost datagram must not read as silence.
      timers.push(setTimeout(() => send(1), Math.max(50, Math.floor(io.timeoutMs / 2))));
      timers.push(
        setTimeout(() => {
          io.transcript.record({ dir: 'note', peer, decoded: `no UDP reply within ${io.timeoutMs}ms (open|filtered)` });
          finish({ ...base, state: 'open|filtered' });
        }, io.timeoutMs),
      );
    });
  });
}

export async function probePort(host: string, spec: PortSpec, io: Io, tcp: TcpProbeOptions = {}): Promise<ProbeResult> {
  return spec.transport === 'tcp' ? probeTcp({ host, port: spec.port }, io, tcp) : probeUdp({ host, port: spec.port }, io, spec.udpProbe);
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
