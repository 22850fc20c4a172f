// One MQTT CONNECT attempt over a fresh TCP (mqtt) or TLS (mqtts) connection,
// and what the broker said. The answer is data (accepted, refused with a code,
// closed, silent), never an exception: judging it is the check's job.

import mqttPacket from 'mqtt-packet';
import type { Endpoint, MqttInterface } from '../../model/index.js';
import { hexOf, printable, type Io } from '../common/io.js';
import { connectStream } from '../common/stream.js';
import { DISCONNECT, encodeConnect, type ConnectFields } from './connect-bytes.js';
import { connackMeaning } from './reason-codes.js';

export type ConnectOutcome =
  | { readonly kind: 'accepted'; readonly code: 0; readonly meaning: string }
  | { readonly kind: 'refused'; readonly code: number; readonly meaning: string }
  /** The broker closed the connection without a CONNACK (a valid way to refuse). */
  | { readonly kind: 'closed' }
  /** Nothing came back in time. */
  | { readonly kind: 'timeout' }
  /** No TCP connection (refused, reset before connect), or no TLS handshake over mqtts. */
  | { readonly kind: 'unreachable'; readonly error: string }
  /** Bytes came back that are not a CONNACK. */
  | { readonly kind: 'malformed'; readonly detail: string };

export interface Credential {
  readonly username?: string | Uint8Array;
  readonly password?: string | Uint8Array;
}

const enc = (v: string | Uint8Array | undefined) => (v === undefined ? undefined : typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

export function describeCredential(c: Credential): string {
  const u = c.username === undefined ? '(none)' : `"${printable(c.username)}"`;
  const p = c.password === undefined ? '(none)' : `"${printable(c.password, 24)}"`;
  return `user ${u} password ${p}`;
}

/** Builds the CONNECT for a credential; `fields` overrides for hostile cases. */
export function connectFor(version: 4 | 5, cred: Credential, fields: Partial<ConnectFields> = {}): Buffer {
  return encodeConnect({
    version,
    clientId: Buffer.from(`gauntlet-${Math.random().toString(36).slice(2, 10)}`),
    username: enc(cred.username),
    password: enc(cred.password),
    ...fields,
  });
}

/** An endpoint without a protocol is plain MQTT; an mqtts interface is reached over TLS. */
export type MqttEndpoint = Endpoint & Partial<Pick<MqttInterface, 'protocol' | 'tls'>>;

export async function mqttConnectAttempt(ep: MqttEndpoint, version: 4 | 5, packet: Buffer, io: Io, what = 'CONNECT'): Promise<ConnectOutcome> {
  // One bound for connect, handshake and CONNACK together.
  const deadline = Date.now() + io.timeoutMs;
  const opened = await connectStream({ ...ep, protocol: ep.protocol ?? 'mqtt' }, io, `mqtt ${io.peer}`);
  if (opened.kind === 'timeout') {
    if (!io.signal?.aborted) io.transcript.record({ dir: 'note', peer: io.peer, decoded: `no CONNACK within ${io.timeoutMs}ms` });
    return { kind: 'timeout' };
  }
  if (opened.kind === 'unreachable') {
    io.transcript.record({ dir: 'note', peer: io.peer, decoded: `cannot connect: ${opened.error}` });
    return { kind: 'unreachable', error: opened.error };
  }
  const socket = opened.socket;
  return new Promise<ConnectOutcome>((resolve) => {
    let settled = false;
    const parser = mqttPacket.parser({ protocolVersion: version });
    const finish = (o: ConnectOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      io.signal?.removeEventListener('abort', onAbort);
      if (!socket.destroyed) {
        if (o.kind === 'accepted') socket.end(DISCONNECT);
        socket.destroy();
      }
      resolve(o);
    };
    const onAbort = () => finish({ kind: 'timeout' });
    io.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: `no CONNACK within ${io.timeoutMs}ms` });
      finish({ kind: 'timeout' });
    }, Math.max(0, deadline - Date.now()));

    parser.on('packet', (p) => {
      if (p.cmd !== 'connack') {
        io.transcript.record({ dir: 'received', peer: io.peer, decoded: `${p.cmd.toUpperCase()} (expected CONNACK)` });
        finish({ kind: 'malformed', detail: `${p.cmd} instead of connack` });
        return;
      }
      const code = (version === 5 ? p.reasonCode : p.returnCode) ?? 0;
      const meaning = connackMeaning(version, code);
      io.transcript.record({ dir: 'received', peer: io.peer, decoded: `CONNACK code=${code} (${meaning})` });
      finish(code === 0 ? { kind: 'accepted', code: 0, meaning } : { kind: 'refused', code, meaning });
    });
    parser.on('error', (err: Error) => {
      io.transcript.record({ dir: 'received', peer: io.peer, decoded: `unparseable reply: ${err.message}` });
      finish({ kind: 'malformed', detail: err.message });
    });

    socket.on('data', (chunk: Buffer) => {
      io.transcript.record({ dir: 'received', peer: io.peer, decoded: `${chunk.length} bytes`, ...hexOf(chunk) });
      parser.parse(chunk);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // Connected and the CONNECT written: the broker ended the connection.
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: `connection ${err.code ?? err.message}` });
      finish({ kind: 'closed' });
    });
    socket.on('close', () => {
      if (!settled) io.transcript.record({ dir: 'note', peer: io.peer, decoded: 'closed by peer without CONNACK' });
      finish({ kind: 'closed' });
    });
    io.transcript.record({ dir: 'sent', peer: io.peer, decoded: what, ...hexOf(packet) });
    socket.write(packet);
  });
}
