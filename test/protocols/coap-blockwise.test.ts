// Block-wise uploads [RFC7959] against two servers: the `coap` npm package's
// (a third-party Block1 reassembler) and a scripted coap-packet server that
// answers the ways a device may (smaller blocks, an early error, silence).

import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'coap';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { TranscriptRecorder } from '../../harness/core/transcript.js';
import { openUdpChannel, type DatagramChannel } from '../../harness/protocols/common/channel.js';
import type { Io } from '../../harness/protocols/common/io.js';
import { blockUpload, blockUploadText, szxOf } from '../../harness/protocols/coap/blockwise.js';
import { decodeBlockOption, encodeBlockOption, optionOf } from '../../harness/protocols/coap/exchange.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const io = (timeoutMs = 400): Io & { transcript: TranscriptRecorder } =>
  ({ scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs, peer: 'coap' }) as Io & { transcript: TranscriptRecorder };

async function channelTo(port: number, t: Io): Promise<DatagramChannel> {
  const o = await openUdpChannel({ host: '127.0.0.1', port }, t);
  if (o.kind !== 'open') throw new Error(o.detail);
  cleanups.push(() => o.channel.close());
  return o.channel;
}

function payloadOf(n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) & 0xff));
}

/** A scripted server: `answer` decides the reply to each request (undefined = silence). */
async function scripted(answer: (p: ParsedPacket, n: number) => Parameters<typeof generate>[0] | undefined): Promise<{ port: number; seen: ParsedPacket[] }> {
  const sock: Socket = createSocket('udp4');
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  const seen: ParsedPacket[] = [];
  sock.on('message', (msg, from) => {
    const p = parse(msg);
    seen.push(p);
    const a = answer(p, seen.length);
    if (a) sock.send(generate({ messageId: p.messageId, token: p.token, ack: true, ...a }), from.port, from.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, seen };
}

describe('Block option codec', () => {
  it('encodes NUM, M and SZX as RFC 7959 2.2 lays them out, and back', () => {
    expect(encodeBlockOption({ num: 0, more: true, szx: 6 })).toEqual(Buffer.from([0x0e]));
    expect(encodeBlockOption({ num: 0, more: false, szx: 0 })).toEqual(Buffer.alloc(0));
    expect(encodeBlockOption({ num: 20, more: true, szx: 2 })).toEqual(Buffer.from([0x01, 0x4a]));
    expect(decodeBlockOption(Buffer.from([0x01, 0x4a]))).toEqual({ num: 20, more: true, szx: 2 });
    expect(decodeBlockOption(Buffer.from([0x07]))).toBeUndefined(); // SZX 7 is reserved
    expect(decodeBlockOption(Buffer.alloc(4))).toBeUndefined();
  });

  it('maps block sizes to SZX and refuses others', () => {
    expect(szxOf(16)).toBe(0);
    expect(szxOf(1024)).toBe(6);
    expect(() => szxOf(2048)).toThrow(RangeError);
    expect(() => szxOf(100)).toThrow(RangeError);
  });
});

describe('blockUpload against the coap package server', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.close();
    server = undefined;
  });

  it('delivers a 5000-byte body that the server reassembles whole', async () => {
    const got: Buffer[] = [];
    server = createServer((req, res) => {
      got.push(req.payload);
      res.code = '2.04';
      res.end();
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server as unknown as { _sock: Socket })._sock.address().port;
    const t = io();
    const body = payloadOf(5000);
    const o = await blockUpload(await channelTo(port, t), { method: 'PUT', path: '/fw', payload: body, blockSize: 1024 }, t);
    expect(o).toMatchObject({ kind: 'response', code: '2.04', blocks: 5, sent: 5000, of: 5000 });
    expect(got).toHaveLength(1);
    expect(got[0]!.equals(body)).toBe(true);
    const sent = t.transcript.entries().filter((e) => e.dir === 'sent').map((e) => e.decoded);
    expect(sent[0]).toMatch(/Block1=0\/1\/1024 Size1=5000/);
    expect(sent[4]).toMatch(/Block1=4\/0\/1024/);
  });
});

describe('blockUpload against a scripted device', () => {
  it('follows a server that asks for smaller blocks, from the byte it reached [RFC7959 2.3]', async () => {
    const s = await scripted((p) => {
      const b = decodeBlockOption(optionOf(p, 'Block1')!)!;
      if (!b.more) return { code: '2.04' };
      // Always ask for 256-byte blocks.
      const size = 2 ** (b.szx + 4);
      const reached = b.num * size + size;
      return { code: '2.31', options: [{ name: 'Block1', value: encodeBlockOption({ num: reached / 256 - 1, more: true, szx: 4 }) }] };
    });
    const t = io();
    const o = await blockUpload(await channelTo(s.port, t), { method: 'PUT', path: '/fw', payload: payloadOf(2000), blockSize: 1024 }, t);
    expect(o).toMatchObject({ kind: 'response', code: '2.04', sent: 2000 });
    const blocks = s.seen.map((p) => decodeBlockOption(optionOf(p, 'Block1')!)!);
    // 1024 bytes, then 256-byte blocks from byte 1024 (num 4) to the end.
    expect(blocks.map((b) => [b.num, b.szx])).toEqual([[0, 6], [4, 4], [5, 4], [6, 4], [7, 4]]);
    const offsets = s.seen.map((p) => p.payload.length);
    expect(offsets.reduce((a, b) => a + b, 0)).toBe(2000);
  });

  it('stops at an error code and reports how far it got', async () => {
    const s = await scripted((_p, n) => (n === 2 ? { code: '4.13', options: [{ name: 'Size1', value: Buffer.from([0x04, 0x00]) }] } : { code: '2.31', options: [{ name: 'Block1', value: encodeBlockOption({ num: n - 1, more: true, szx: 6 }) }] }));
    const t = io();
    const o = await blockUpload(await channelTo(s.port, t), { method: 'PUT', path: '/fw', payload: payloadOf(4000), blockSize: 1024 }, t);
    expect(o).toMatchObject({ kind: 'response', code: '4.13', blocks: 2, sent: 2048, of: 4000 });
    expect(blockUploadText(o)).toBe('answered 4.13 Request Entity Too Large after 2048 of 4000 bytes (2 blocks)');
    expect(s.seen).toHaveLength(2);
  });

  it('cuts the transfer on a block boundary when told to stop', async () => {
    const s = await scripted((p) => ({ code: '2.31', options: [{ name: 'Block1', value: optionOf(p, 'Block1')! }] }));
    const t = io();
    const o = await blockUpload(await channelTo(s.port, t), { method: 'PUT', path: '/fw', payload: payloadOf(4000), blockSize: 1024, stopAfterBytes: 1500 }, t);
    expect(o).toEqual({ kind: 'cut', blocks: 2, sent: 2048, of: 4000 });
    expect(s.seen).toHaveLength(2);
  });

  it('reports a silent device as broken at the block it stopped answering, within the bound', async () => {
    const s = await scripted((p, n) => (n <= 1 ? { code: '2.31', options: [{ name: 'Block1', value: optionOf(p, 'Block1')! }] } : undefined));
    const t = io(200);
    const started = Date.now();
    const o = await blockUpload(await channelTo(s.port, t), { method: 'PUT', path: '/fw', payload: payloadOf(4000), blockSize: 1024 }, t);
    expect(o).toMatchObject({ kind: 'broken', outcome: { kind: 'timeout' }, blocks: 2, sent: 1024 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(blockUploadText(o)).toBe('no reply in time at block 1, after 1024 of 4000 bytes');
  });

  it('sends one block (M=0) for a body that fits', async () => {
    const s = await scripted(() => ({ code: '2.04' }));
    const t = io();
    const o = await blockUpload(await channelTo(s.port, t), { method: 'POST', path: '/fw', payload: payloadOf(10), blockSize: 16 }, t);
    expect(o).toMatchObject({ kind: 'response', code: '2.04', blocks: 1 });
    expect(decodeBlockOption(optionOf(s.seen[0]!, 'Block1')!)).toEqual({ num: 0, more: false, szx: 0 });
  });
});
