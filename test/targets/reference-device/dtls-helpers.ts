// DTLS probes for the reference-device suites: a raw ClientHello (cookie
// round or not, chosen suites), a PSK handshake, a replayed application
// record through a small relay, and the crafted fragment of the
// dtls-crash-fragment flaw. Built on the harness's codec and client.

import { createSocket, type Socket } from 'node:dgram';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import { coapExchangeOn } from '../../../harness/protocols/coap/exchange.js';
import type { Io } from '../../../harness/protocols/common/io.js';
import { ContentType, DTLS1_2, encodeHandshake, encodeRecord, HandshakeType, parseRecords } from '../../../harness/protocols/dtls/codec.js';
import { openDtlsChannel } from '../../../harness/protocols/dtls/client.js';
import { helloProbe, type HelloOutcome } from '../../../harness/protocols/dtls/hello-probe.js';
import type { RunningDevice } from '../../../targets/reference-device/index.js';

export const dtlsIo = (timeoutMs = 800): Io => ({ scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs, peer: 'coaps' });

/** A raw ClientHello offering `suites` (ids); `cookie: 'ignore'` stops at the first answer. */
export function hello(d: RunningDevice, suites: number[], cookie: 'follow' | 'ignore' = 'follow'): Promise<HelloOutcome> {
  return helloProbe(d.endpoints.coaps, { suites, cookie }, dtlsIo());
}

/** Whether a DTLS PSK handshake as identity/key completes. */
export async function pskHandshake(d: RunningDevice, identity: string, key: Buffer): Promise<boolean> {
  const o = await openDtlsChannel(d.endpoints.coaps, { identity, key }, dtlsIo());
  if (o.kind === 'open') await o.channel.close();
  return o.kind === 'open';
}

/**
 * Whether the device answers a replayed application record: a session (as the
 * sensor identity) through a relay sends GET /.well-known/core; the relay then
 * sends the request's datagram once more and listens for any answer.
 */
export async function answersReplay(d: RunningDevice): Promise<boolean> {
  const relay: Socket = createSocket('udp4');
  await new Promise<void>((r) => relay.bind(0, '127.0.0.1', r));
  let client: { port: number; address: string } | undefined;
  const fromClient: Buffer[] = [];
  let fromDevice = 0;
  relay.on('message', (m, from) => {
    if (from.port === d.endpoints.coaps.port) {
      fromDevice++;
      if (client) relay.send(m, client.port, client.address);
    } else {
      client = { port: from.port, address: from.address };
      fromClient.push(m);
      relay.send(m, d.endpoints.coaps.port, d.endpoints.coaps.host);
    }
  });
  try {
    const o = await openDtlsChannel({ host: '127.0.0.1', port: (relay.address() as { port: number }).port }, { identity: d.credentials.psk.sensor.identity, key: Buffer.from(d.credentials.psk.sensor.keyHex, 'hex') }, dtlsIo(1500));
    if (o.kind !== 'open') throw new Error(`no session through the relay: ${o.detail}`);
    try {
      const r = await coapExchangeOn(o.channel, { method: 'GET', path: '/.well-known/core' }, dtlsIo(1500));
      if (r.kind !== 'response') throw new Error(`no answer through the relay: ${r.kind}`);
    } finally {
      // Leave the session open on the device: close the client side without close_notify reaching it.
      relay.removeAllListeners('message');
      relay.on('message', (_m, from) => {
        if (from.port === d.endpoints.coaps.port) fromDevice++;
      });
      await o.channel.close();
    }
    const request = [...fromClient].reverse().find((m) => {
      const p = parseRecords(m);
      return p.records.some((rec) => rec.type === ContentType.application_data);
    });
    if (!request) throw new Error('no application record captured');
    const before = fromDevice;
    relay.send(request, d.endpoints.coaps.port, d.endpoints.coaps.host);
    await new Promise((r) => setTimeout(r, 300));
    return fromDevice > before;
  } finally {
    relay.close();
  }
}

/** A ClientHello fragment whose fragment_offset + fragment_length exceeds its message length. */
export function overrunFragment(): Buffer {
  const hs = encodeHandshake({ msgType: HandshakeType.client_hello, messageSeq: 0, body: Buffer.alloc(20, 1), length: 10, fragmentOffset: 5 });
  return Buffer.from(encodeRecord({ type: ContentType.handshake, version: DTLS1_2, epoch: 0, sequence: 0, fragment: hs }));
}

/** Sends the crafted fragment, then whether coaps still answers a ClientHello. */
export async function survivesOverrunFragment(d: RunningDevice): Promise<boolean> {
  const s = createSocket('udp4');
  try {
    await new Promise<void>((r) => s.connect(d.endpoints.coaps.port, d.endpoints.coaps.host, r));
    s.send(overrunFragment());
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    s.close();
  }
  const o = await hello(d, [0xc0a8], 'ignore');
  return o.kind === 'hello-verify' || o.kind === 'server-hello';
}
