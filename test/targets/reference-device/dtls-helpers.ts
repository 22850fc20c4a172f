// DTLS probes for the reference-device suites: a raw ClientHello (cookie
// round or not, chosen suites), a PSK handshake, a replayed application
// record through the harness's relay, and the crafted fragment of the
// dtls-crash-fragment flaw. Built on the harness's codec and client.

import { createSocket } from 'node:dgram';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import { coapExchangeOn } from '../../../harness/protocols/coap/exchange.js';
import type { Io } from '../../../harness/protocols/common/io.js';
import { ContentType, DTLS1_2, encodeHandshake, encodeRecord, HandshakeType, parseRecords } from '../../../harness/protocols/dtls/codec.js';
import { openDtlsChannel } from '../../../harness/protocols/dtls/client.js';
import { startDtlsRelay } from '../../../harness/protocols/dtls/relay.js';
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
 * sensor identity) through the harness's relay sends GET /.well-known/core;
 * the relay then sends the request's datagram once more, with the session
 * still open, and listens for application data in answer.
 */
export async function answersReplay(d: RunningDevice): Promise<boolean> {
  const io = dtlsIo(1500);
  const relay = await startDtlsRelay(d.endpoints.coaps, io);
  try {
    const psk = d.credentials.psk.sensor;
    const o = await openDtlsChannel(relay.endpoint, { identity: psk.identity, key: Buffer.from(psk.keyHex, 'hex') }, relay.clientIo(io));
    if (o.kind !== 'open') throw new Error(`no session through the relay: ${o.detail}`);
    try {
      const r = await coapExchangeOn(o.channel, { method: 'GET', path: '/.well-known/core' }, io);
      if (r.kind !== 'response') throw new Error(`no answer through the relay: ${r.kind}`);
      const isData = (b: Uint8Array) => parseRecords(b).records.some((rec) => rec.type === ContentType.application_data);
      const request = relay
        .datagrams()
        .reverse()
        .find((x) => x.dir === 'to-device' && isData(x.bytes));
      if (!request) throw new Error('no application record captured');
      let answers = 0;
      const off = relay.onDeviceDatagram((x) => {
        if (isData(x.bytes)) answers++;
      });
      await relay.resend(request.bytes);
      await new Promise((res) => setTimeout(res, 300));
      off();
      return answers > 0;
    } finally {
      await o.channel.close();
    }
  } finally {
    await relay.close();
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
