// CoAP codec hot paths: coap-packet (what exchanges and the invalid-response
// oracle use) and the fuzzer's own strict decoder (fuzz/mutate.ts) and
// encoder (protocols/coap/arbitraries.ts), on the corpus seeds' datagrams.

import { generate as coapGenerate, parse as coapParse, type Packet as CoapPacket } from 'coap-packet';
import { encodeCoap } from '../../protocols/coap/arbitraries.js';
import { loadSeeds } from '../../fuzz/corpus.js';
import { decodeCoap } from '../../fuzz/mutate.js';
import type { Suite } from '../hot-paths.js';
import { cycler, repeat } from './util.js';

// ---------------------------------------------------------------- coap-packet encode + parse

export function coapCodec(): Suite {
  // What coapExchange sends: CON GET with a 4-byte token and Uri-Path options.
  const request: CoapPacket = {
    messageId: 0x1234,
    token: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
    confirmable: true,
    code: 'GET',
    options: [
      { name: 'Uri-Path', value: Buffer.from('sensors') },
      { name: 'Uri-Path', value: Buffer.from('temperature') },
    ],
    payload: Buffer.alloc(0),
  };
  // What it gets back: a piggybacked ACK 2.05 with a JSON body.
  const reply = coapGenerate({
    messageId: 0x1234,
    token: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
    ack: true,
    code: '2.05',
    options: [{ name: 'Content-Format', value: Buffer.from([50]) }],
    payload: Buffer.from('{"temperature":21.5,"unit":"C","ts":1732200000}'),
  });
  const datagram = coapGenerate(request);
  const back = coapParse(datagram);
  if (back.code !== '0.01' || back.messageId !== 0x1234 || back.options.length !== 2) throw new Error('bench coap-codec: request does not round-trip');
  const batch = 32;
  return {
    id: 'coap-codec',
    title: `CoAP codec, coap-packet (request ${datagram.length} bytes, reply ${reply.length} bytes)`,
    unit: 'datagram',
    tasks: [
      { name: 'generate() request', batch, fn: () => repeat(batch, () => coapGenerate(request).length) },
      { name: 'parse() request', batch, fn: () => repeat(batch, () => coapParse(datagram).messageId) },
      { name: 'parse() reply', batch, fn: () => repeat(batch, () => coapParse(reply).payload.length) },
      { name: 'generate() + parse() request', batch, fn: () => repeat(batch, () => coapParse(coapGenerate(request)).messageId) },
    ],
  };
}

// ---------------------------------------------------------------- the fuzzer's codec on the corpus

/** Every datagram of corpora/coap/seeds that both decoders read alike (the ones the mutators edit field by field). */
function seedDatagrams(): { datagrams: Buffer[]; seeds: number } {
  const seeds = loadSeeds('coap');
  const datagrams = seeds
    .flatMap((s) => s.steps.map((st) => Buffer.from(st.bytes)))
    .filter((b) => {
      const m = decodeCoap(b);
      let p;
      try {
        p = coapParse(b);
      } catch {
        return false;
      }
      return m !== undefined && m.messageId === p.messageId && m.options.length === p.options.length && (m.payload?.length ?? 0) === p.payload.length;
    });
  if (datagrams.length === 0) throw new Error('bench coap: no datagram of corpora/coap/seeds decodes under both decoders');
  return { datagrams, seeds: seeds.length };
}

const totalBytes = (bs: readonly Buffer[]) => bs.reduce((n, b) => n + b.length, 0);

export function coapDecode(): Suite {
  const { datagrams, seeds } = seedDatagrams();
  const ours = cycler(datagrams, (b) => decodeCoap(b)!.options.length);
  const theirs = cycler(datagrams, (b) => coapParse(b).options.length);
  const batch = datagrams.length * 4;
  return {
    id: 'coap-decode',
    title: `CoAP decode, the ${datagrams.length} datagrams of ${seeds} corpus seeds (${Math.round(totalBytes(datagrams) / datagrams.length)} bytes on average)`,
    unit: 'datagram',
    tasks: [
      { name: 'coap-packet parse()', baseline: true, batch, fn: () => theirs(batch) },
      { name: 'decodeCoap() (fuzz/mutate.ts, strict)', batch, fn: () => ours(batch) },
    ],
  };
}

export function coapEncode(): Suite {
  const { datagrams } = seedDatagrams();
  // Each message in both encoders' input shapes, kept when both write its bytes back exactly.
  const messages = datagrams.flatMap((b) => {
    const { optionBytes: _, ...raw } = decodeCoap(b)!;
    const parsed = coapParse(b);
    return encodeCoap(raw).equals(b) && coapGenerate(parsed).equals(b) ? [{ raw, parsed }] : [];
  });
  if (messages.length === 0) throw new Error('bench coap-encode: no seed datagram re-encodes to its bytes under both encoders');
  const ours = cycler(messages, (m) => encodeCoap(m.raw).length);
  const theirs = cycler(messages, (m) => coapGenerate(m.parsed).length);
  const batch = messages.length * 4;
  return {
    id: 'coap-encode',
    title: `CoAP encode, ${messages.length} corpus seed datagrams (each written back byte for byte)`,
    unit: 'datagram',
    tasks: [
      { name: 'coap-packet generate()', baseline: true, batch, fn: () => theirs(batch) },
      { name: 'encodeCoap() (protocols/coap/arbitraries.ts, fuzz cases)', batch, fn: () => ours(batch) },
    ],
  };
}
