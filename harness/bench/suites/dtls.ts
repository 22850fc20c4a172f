// DTLS codec hot paths: the hand-written record/handshake codec on a probe's
// ClientHello and on the hostile datagrams transport.dtls-robustness sends.

import fc from 'fast-check';
import { ContentType, DTLS1_2, encodeClientHello, encodeHandshake, encodeRecord, HandshakeType, parseClientHello, parseHandshake, parseRecords } from '../../protocols/dtls/codec.js';
import { hostileDatagramArb } from '../../protocols/dtls/arbitraries.js';
import type { Suite } from '../hot-paths.js';
import { repeat } from './util.js';

export function dtlsCodec(): Suite {
  // What a handshake probe sends: a ClientHello with a cookie, the CoAP PSK suites, no extensions.
  const hello = { version: DTLS1_2, random: Buffer.alloc(32, 7), sessionId: Buffer.alloc(0), cookie: Buffer.alloc(32, 9), suites: [0xc0a8, 0x00a8, 0xc0a4], compression: [0] };
  const datagram = Buffer.from(
    encodeRecord({ type: ContentType.handshake, version: DTLS1_2, epoch: 0, sequence: 1, fragment: encodeHandshake({ msgType: HandshakeType.client_hello, messageSeq: 1, body: encodeClientHello(hello) }) }),
  );
  const full = (b: Uint8Array): number => {
    const r = parseRecords(b).records[0];
    const h = r ? parseHandshake(r.fragment) : undefined;
    const m = h?.ok ? h.value[0] : undefined;
    const c = m ? parseClientHello(m.body) : undefined;
    return c?.ok ? c.value.suites.length : -1;
  };
  if (full(datagram) !== 3) throw new Error('bench dtls-codec: the ClientHello does not round-trip');
  // Hostile datagrams as the robustness check draws them (fixed seed: the same ones every run).
  const hostile = fc.sample(hostileDatagramArb(), { seed: 20261121, numRuns: 64 }).map((c) => c.bytes);
  let i = 0;
  const batch = 32;
  return {
    id: 'dtls-codec',
    title: `DTLS codec, hand-written (ClientHello datagram ${datagram.length} bytes; 64 hostile datagrams)`,
    unit: 'datagram',
    tasks: [
      { name: 'parseRecords() ClientHello', baseline: true, batch, fn: () => repeat(batch, () => parseRecords(datagram).records.length) },
      { name: 'record + handshake + ClientHello', batch, fn: () => repeat(batch, () => full(datagram)) },
      { name: 'encode ClientHello datagram', batch, fn: () => repeat(batch, () => encodeClientHello(hello).length) },
      { name: 'parse a hostile datagram (all layers)', batch, fn: () => repeat(batch, () => full(hostile[i++ % hostile.length]!)) },
    ],
  };
}
