// The deadlines of one CoAP exchange, run from one timer at a time: the CON's
// retransmissions after a quarter of the bound and three quarters, the bound
// itself, a retransmission that falls on the bound, none past it, none after
// an empty ACK, none for a NON. And the fast paths of a ping: its bytes are
// what coap-packet writes, and an RST answering it reads as parse() reads it.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TranscriptRecorder } from '../../harness/core/transcript.js';
import { coapExchange, pingDatagram } from '../../harness/protocols/coap/exchange.js';
import type { Io } from '../../harness/protocols/common/io.js';

let server: Socket | undefined;

afterEach(async () => {
  vi.restoreAllMocks();
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = undefined;
});

interface Seen {
  readonly packet: ParsedPacket;
  readonly bytes: Buffer;
  readonly at: number;
}

async function coapServer(handler: (p: ParsedPacket, from: RemoteInfo, sock: Socket) => void): Promise<{ port: number; seen: Seen[] }> {
  const sock = createSocket('udp4');
  server = sock;
  const seen: Seen[] = [];
  sock.on('message', (msg, from) => {
    const packet = parse(msg);
    seen.push({ packet, bytes: msg, at: Date.now() });
    handler(packet, from, sock);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, seen };
}

const io = (timeoutMs: number): Io & { transcript: TranscriptRecorder } => ({ scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs, peer: 'sensors' });
const ep = (port: number) => ({ host: '127.0.0.1', port });
const silent = () => undefined;

describe('coapExchange deadlines', () => {
  it('a retransmission due at the bound is sent, then the exchange ends', async () => {
    // timeoutMs 150: retransmissions at 50 and 150 ms, the bound at 150 ms.
    const s = await coapServer(silent);
    const t = io(150);
    const started = Date.now();
    expect(await coapExchange(ep(s.port), { method: 'GET', path: '/x' }, t)).toEqual({ kind: 'timeout' });
    const took = Date.now() - started;
    await new Promise((r) => setTimeout(r, 20));
    expect(s.seen).toHaveLength(3);
    expect(took).toBeGreaterThanOrEqual(145);
    expect(took).toBeLessThan(400);
    expect(t.transcript.entries().map((e) => e.decoded.replace(/mid=\d+ token=[0-9a-f]+/, 'mid token'))).toEqual([
      'CON GET /x mid token',
      'CON GET /x mid token (retransmission 1)',
      'CON GET /x mid token (retransmission 2)',
      'no answer within 150ms',
    ]);
  });

  it('no retransmission past the bound: with a 40 ms bound the first would come at 50 ms', async () => {
    const s = await coapServer(silent);
    const started = Date.now();
    expect(await coapExchange(ep(s.port), undefined, io(40))).toEqual({ kind: 'timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    await new Promise((r) => setTimeout(r, 60));
    expect(s.seen).toHaveLength(1);
  });

  it('a NON is not retransmitted; the bound still ends it', async () => {
    const s = await coapServer(silent);
    const started = Date.now();
    expect(await coapExchange(ep(s.port), { method: 'GET', path: '/x', confirmable: false }, io(200))).toEqual({ kind: 'timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(s.seen).toHaveLength(1);
  });

  it('after an empty ACK nothing is retransmitted, and the bound holds from the start', async () => {
    const s = await coapServer((p, from, sock) => {
      if (p.code !== '0.00') sock.send(generate({ messageId: p.messageId, ack: true, code: '0.00' }), from.port, from.address);
    });
    const started = Date.now();
    expect(await coapExchange(ep(s.port), { method: 'GET', path: '/slow' }, io(300))).toEqual({ kind: 'timeout' });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(600);
    expect(s.seen).toHaveLength(1);
  });

  it('an exchange answered at once sets one timer (the first retransmission), not one per deadline', async () => {
    const s = await coapServer((p, from, sock) => sock.send(Buffer.from([0x70, 0x00, p.messageId >> 8, p.messageId & 0xff]), from.port, from.address));
    const spy = vi.spyOn(globalThis, 'setTimeout');
    expect(await coapExchange(ep(s.port), undefined, io(1000))).toEqual({ kind: 'reset' });
    expect(spy.mock.calls.map((c) => c[1])).toEqual([250]);
  });
});

describe('coapExchange ping', () => {
  it('the ping is the datagram coap-packet generates for an empty CON', () => {
    for (const messageId of [0, 1, 0xff, 0x100, 0x1234, 0xfffe, 0xffff]) {
      expect(pingDatagram(messageId)).toEqual(generate({ messageId, token: Buffer.alloc(0), confirmable: true, code: '0.00', options: [], payload: Buffer.alloc(0) }));
    }
  });

  it('an RST to the ping ends it, with the datagram and its reading in the transcript', async () => {
    const s = await coapServer((p, from, sock) => sock.send(Buffer.from([0x70, 0x00, p.messageId >> 8, p.messageId & 0xff]), from.port, from.address));
    const t = io(400);
    expect(await coapExchange(ep(s.port), undefined, t)).toEqual({ kind: 'reset' });
    const mid = s.seen[0]!.packet.messageId;
    const hex = s.seen[0]!.bytes.toString('hex');
    expect(t.transcript.entries().map(({ t: _, ...e }) => e)).toEqual([
      { dir: 'sent', peer: 'sensors', decoded: `CON empty (ping) mid=${mid}`, hex },
      { dir: 'received', peer: 'sensors', decoded: `RST empty mid=${mid} token=-`, hex: `70${hex.slice(2)}` },
    ]);
  });

  it('an RST with another message id is not the answer; an ACK with the ping\'s id is', async () => {
    const s = await coapServer((p, from, sock) => {
      sock.send(Buffer.from([0x70, 0x00, (p.messageId + 1) >> 8 & 0xff, (p.messageId + 1) & 0xff]), from.port, from.address);
      setTimeout(() => sock.send(generate({ messageId: p.messageId, ack: true, code: '4.00' }), from.port, from.address), 10);
    });
    const o = await coapExchange(ep(s.port), undefined, io(400));
    expect(o).toMatchObject({ kind: 'response', code: '4.00' });
  });
});
