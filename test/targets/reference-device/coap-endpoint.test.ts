// The transport-agnostic CoAP server core: RFC 7252 messaging (piggybacked and
// NON responses, duplicate detection, RST for pings and malformed CONs, 4.02
// for unknown critical options) and RFC 7959 Block1 uploads (2.31 sequence,
// 4.08 out of order, 4.13 by Size1 or accumulation, authorisation before
// storing, abandonment). Driven datagram by datagram, plus one upload over a
// real UDP socket from the `coap` package's client.

import { createSocket, type Socket } from 'node:dgram';
import coap from 'coap';
import { generate, parse, type NamedOption, type ParsedPacket } from 'coap-packet';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createCoapEndpoint,
  type AbandonReason,
  type CoapEndpoint,
  type CoapEndpointOptions,
  type CoapRequest,
  type CoapResponse,
} from '../../../targets/reference-device/coap-endpoint.js';

interface Req {
  readonly mid: number;
  readonly non?: boolean;
  readonly method?: string;
  readonly path?: string;
  readonly token?: Buffer;
  readonly options?: NamedOption[];
  readonly extra?: { name: string; value: Buffer }[];
  readonly payload?: Buffer | string;
}

function datagram(r: Req): Buffer {
  const segments = (r.path ?? '/').split('/').filter((s) => s !== '');
  return generate({
    code: r.method ?? 'GET',
    messageId: r.mid,
    token: r.token ?? Buffer.from([0xa0, r.mid & 0xff]),
    confirmable: r.non !== true,
    options: [...segments.map((s) => ({ name: 'Uri-Path' as const, value: Buffer.from(s) })), ...(r.options ?? []), ...(r.extra ?? [])],
    payload: typeof r.payload === 'string' ? Buffer.from(r.payload) : (r.payload ?? Buffer.alloc(0)),
  });
}

function uint(n: number): Buffer {
  if (n === 0) return Buffer.alloc(0);
  const bytes = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
  const b = Buffer.alloc(bytes);
  b.writeUIntBE(n, 0, bytes);
  return b;
}

const block1 = (num: number, more: boolean, szx: number): NamedOption => ({ name: 'Block1', value: uint(num * 16 + (more ? 8 : 0) + szx) });
const size1 = (n: number): NamedOption => ({ name: 'Size1', value: uint(n) });

function option(p: ParsedPacket, name: string): Buffer | undefined {
  return p.options.find((o) => o.name === name)?.value;
}

function readBlock1(p: ParsedPacket): { num: number; more: boolean; szx: number } | undefined {
  const v = option(p, 'Block1');
  if (v === undefined) return undefined;
  const n = v.length === 0 ? 0 : v.readUIntBE(0, v.length);
  return { num: n >>> 4, more: (n & 8) !== 0, szx: n & 7 };
}

function readSize1(p: ParsedPacket): number | undefined {
  const v = option(p, 'Size1');
  return v === undefined ? undefined : v.length === 0 ? 0 : v.readUIntBE(0, v.length);
}

interface Abandoned {
  readonly peer: string;
  readonly path: string;
  readonly bytes: number;
  readonly why: AbandonReason;
}

interface Rig {
  readonly ep: CoapEndpoint;
  readonly handled: CoapRequest[];
  readonly begun: { peer: string; path: string; identity: string | undefined }[];
  readonly abandoned: Abandoned[];
  readonly logs: string[];
  /** Feeds one datagram and returns the replies it caused synchronously. */
  send(d: Buffer, peer?: string, identity?: string): ParsedPacket[];
  /** Every reply so far, raw. */
  readonly raw: Buffer[];
}

const UPLOAD = { path: '/fw', maxBytes: 4096, abandonAfterMs: 1000 } as const;

const endpoints: CoapEndpoint[] = [];

function rig(o: Partial<CoapEndpointOptions> & { abandonAfterMs?: number; maxBytes?: number } = {}): Rig {
  const handled: CoapRequest[] = [];
  const begun: Rig['begun'] = [];
  const abandoned: Abandoned[] = [];
  const logs: string[] = [];
  const raw: Buffer[] = [];
  const ep = createCoapEndpoint({
    handle:
      o.handle ??
      ((req) => {
        handled.push(req);
        return { code: req.method === 'GET' ? '2.05' : '2.04', payload: `got ${req.payload.length}`, contentFormat: 0 };
      }),
    uploads: o.uploads ?? {
      accepts: (method, path) => method === 'PUT' && path === UPLOAD.path,
      maxBytes: o.maxBytes ?? UPLOAD.maxBytes,
      abandonAfterMs: o.abandonAfterMs ?? UPLOAD.abandonAfterMs,
      onBegin: (peer, path, identity) => begun.push({ peer, path, identity }),
      onAbandon: (peer, path, bytes, why) => abandoned.push({ peer, path, bytes, why }),
    },
    ...(o.authorizeUpload !== undefined ? { authorizeUpload: o.authorizeUpload } : {}),
    ...(o.maxPeers !== undefined ? { maxPeers: o.maxPeers } : {}),
    log: (line) => logs.push(line),
  });
  endpoints.push(ep);
  return {
    ep,
    handled,
    begun,
    abandoned,
    logs,
    raw,
    send(d, peer = 'udp:127.0.0.1:5683', identity) {
      const out: ParsedPacket[] = [];
      ep.receive(d, peer, identity, (reply) => {
        raw.push(reply);
        out.push(parse(reply));
      });
      return out;
    },
  };
}

function only(replies: ParsedPacket[]): ParsedPacket {
  expect(replies).toHaveLength(1);
  return replies[0]!;
}

/** Sends `image` as Block1 blocks of 2^(szx+4) bytes, each with a fresh message id and token; returns the replies. */
function upload(r: Rig, image: Buffer, opts: { szx?: number; firstMid?: number; peer?: string; identity?: string; size1?: boolean } = {}): ParsedPacket[] {
  const szx = opts.szx ?? 4;
  const size = 16 << szx;
  const count = Math.max(1, Math.ceil(image.length / size));
  const replies: ParsedPacket[] = [];
  for (let num = 0; num < count; num++) {
    const more = num < count - 1;
    const options = [block1(num, more, szx), ...(num === 0 && opts.size1 === true ? [size1(image.length)] : [])];
    const mid = (opts.firstMid ?? 100) + num;
    const d = datagram({ mid, method: 'PUT', path: UPLOAD.path, token: Buffer.from([num, 7]), options, payload: image.subarray(num * size, (num + 1) * size) });
    replies.push(only(r.send(d, opts.peer, opts.identity)));
  }
  return replies;
}

const image = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff));

afterEach(() => {
  for (const ep of endpoints.splice(0)) ep.close();
  vi.useRealTimers();
});

describe('CoAP endpoint: messaging (RFC 7252)', () => {
  it('piggybacks the response of a CON request in the ACK: same message id, token echoed', () => {
    const r = rig();
    const token = Buffer.from([1, 2, 3, 4, 5]);
    const reply = only(r.send(datagram({ mid: 0x1234, path: '/sensors/temperature', token, extra: [{ name: 'Uri-Query', value: Buffer.from('unit=c') }] })));
    expect(reply).toMatchObject({ ack: true, confirmable: false, reset: false, messageId: 0x1234, code: '2.05' });
    expect(reply.token).toEqual(token);
    expect(reply.payload.toString()).toBe('got 0');
    expect(option(reply, 'Content-Format')).toEqual(Buffer.alloc(0));
    expect(r.handled).toEqual([{ method: 'GET', path: '/sensors/temperature', query: ['unit=c'], payload: Buffer.alloc(0), peer: 'udp:127.0.0.1:5683' }]);
  });

  it('answers a NON request with a NON response under a fresh message id', () => {
    const r = rig();
    const reply = only(r.send(datagram({ mid: 77, non: true, method: 'POST', path: '/a/b', payload: 'xyz', token: Buffer.from([9]) })));
    expect(reply).toMatchObject({ ack: false, confirmable: false, reset: false, code: '2.04' });
    expect(reply.messageId).not.toBe(77);
    expect(reply.token).toEqual(Buffer.from([9]));
    expect(r.handled[0]).toMatchObject({ method: 'POST', path: '/a/b', payload: Buffer.from('xyz') });
  });

  it('answers a repeated CON message id with the cached reply without calling handle again; ignores a repeated NON', () => {
    const r = rig();
    const d = datagram({ mid: 500, method: 'POST', path: '/x', payload: '1' });
    r.send(d);
    r.send(d);
    expect(r.handled).toHaveLength(1);
    expect(r.raw).toHaveLength(2);
    expect(r.raw[1]).toEqual(r.raw[0]);
    // Another peer's message 500 is a different exchange.
    r.send(d, 'udp:10.0.0.2:5683');
    expect(r.handled).toHaveLength(2);
    const n = datagram({ mid: 501, non: true, method: 'POST', path: '/x' });
    expect(r.send(n)).toHaveLength(1);
    expect(r.send(n)).toHaveLength(0);
    expect(r.handled).toHaveLength(3);
  });

  it('bounds the duplicate cache: an old message id is processed again once it has been pushed out', () => {
    const r = rig();
    for (let mid = 0; mid < 40; mid++) r.send(datagram({ mid, method: 'POST', path: '/x' }));
    r.send(datagram({ mid: 39, method: 'POST', path: '/x' }));
    expect(r.handled).toHaveLength(40);
    r.send(datagram({ mid: 0, method: 'POST', path: '/x' }));
    expect(r.handled).toHaveLength(41);
  });

  it('piggybacks the answer of a slow async handler and absorbs retransmissions meanwhile', async () => {
    let release!: (res: CoapResponse) => void;
    let calls = 0;
    const r = rig({
      handle: () => {
        calls++;
        return new Promise<CoapResponse>((resolve) => (release = resolve));
      },
    });
    const d = datagram({ mid: 9, path: '/slow' });
    expect(r.send(d)).toHaveLength(0);
    expect(r.send(d)).toHaveLength(0); // the retransmission while handle runs
    release({ code: '2.05', payload: 'late' });
    await vi.waitFor(() => expect(r.raw).toHaveLength(1));
    expect(parse(r.raw[0]!)).toMatchObject({ ack: true, messageId: 9, code: '2.05' });
    expect(only(r.send(d)).payload.toString()).toBe('late');
    expect(calls).toBe(1);
  });

  it('answers a ping (empty CON) with RST and ignores empty NON, ACK and RST', () => {
    const r = rig();
    const rst = only(r.send(generate({ code: '0.00', messageId: 4242, confirmable: true })));
    expect(rst).toMatchObject({ reset: true, code: '0.00', messageId: 4242 });
    expect(r.send(generate({ code: '0.00', messageId: 1 }))).toHaveLength(0);
    expect(r.send(generate({ code: '0.00', messageId: 2, ack: true }))).toHaveLength(0);
    expect(r.send(generate({ code: '0.00', messageId: 3, reset: true }))).toHaveLength(0);
    expect(r.send(generate({ code: '2.05', messageId: 4, ack: true, token: Buffer.from([1]) }))).toHaveLength(0);
    expect(r.handled).toHaveLength(0);
  });

  it('rejects a malformed CON with RST when its message id is readable, and drops what it cannot read', () => {
    const r = rig();
    const good = datagram({ mid: 0x0102, path: '/x' });
    const cases: Buffer[] = [
      Buffer.concat([good.subarray(0, 4 + 2), Buffer.from([0xf1, 0x00])]), // option delta nibble 15 without being a payload marker
      Buffer.concat([good, Buffer.from([0xff])]), // payload marker with no payload
      Buffer.from([...good.subarray(0, 4 + 2), 0xb5, 0x61]), // Uri-Path says 5 bytes, 1 follows
      Buffer.from([0x49, 0x01, 0x01, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9]), // token length 9
    ];
    for (const bad of cases) expect(only(r.send(bad))).toMatchObject({ reset: true, messageId: 0x0102 });
    expect(r.send(Buffer.from([0x40, 0x01, 0x01]))).toHaveLength(0); // no room for a message id
    expect(r.send(Buffer.from([0x80, 0x01, 0x01, 0x02]))).toHaveLength(0); // version 2
    const nonBad = Buffer.concat([good, Buffer.from([0xff])]);
    nonBad[0] = (nonBad[0]! & 0xcf) | 0x10;
    expect(r.send(nonBad)).toHaveLength(0);
    expect(r.handled).toHaveLength(0);
  });

  it('answers 4.02 to an unrecognised critical option (RST for a NON) and ignores an unrecognised elective one', () => {
    const r = rig();
    const crit = { name: '2051', value: Buffer.from([1]) };
    expect(only(r.send(datagram({ mid: 1, path: '/x', extra: [crit] })))).toMatchObject({ ack: true, code: '4.02', messageId: 1 });
    expect(only(r.send(datagram({ mid: 2, non: true, path: '/x', extra: [crit] })))).toMatchObject({ reset: true, messageId: 2 });
    expect(only(r.send(datagram({ mid: 3, path: '/x', options: [{ name: 'Accept', value: Buffer.from([50]) }] }))).code).toBe('4.02');
    expect(only(r.send(datagram({ mid: 4, path: '/x', options: [{ name: 'Block2', value: Buffer.from([0x06]) }] }))).code).toBe('4.02');
    // Two Content-Format options: the second is unrecognised, but elective.
    const twice = [{ name: 'Content-Format' as const, value: Buffer.from([50]) }, { name: 'Content-Format' as const, value: Buffer.from([0]) }];
    expect(only(r.send(datagram({ mid: 5, method: 'POST', path: '/x', options: twice, extra: [{ name: '2048', value: Buffer.from([1]) }] }))).code).toBe('2.04');
    expect(r.handled).toHaveLength(1);
    expect(r.handled[0]?.contentFormat).toBe(50);
  });

  it('answers 4.05 to an unknown method code, 5.05 to Proxy-Uri, 4.04 to a Uri-Path segment that would alias another path', () => {
    const r = rig();
    expect(only(r.send(datagram({ mid: 1, method: '0.09', path: '/x' }))).code).toBe('4.05');
    expect(only(r.send(datagram({ mid: 2, path: '/x', options: [{ name: 'Proxy-Uri', value: Buffer.from('coap://h/x') }] }))).code).toBe('5.05');
    expect(only(r.send(generate({ code: 'GET', messageId: 3, confirmable: true, options: [{ name: 'Uri-Path', value: Buffer.from('a/b') }] }))).code).toBe('4.04');
    expect(r.handled).toHaveLength(0);
  });

  it('answers 5.00 when handle throws or returns something that cannot be sent', async () => {
    let mode = 0;
    const r = rig({
      handle: () => {
        mode++;
        if (mode === 1) throw new Error('boom');
        if (mode === 2) return Promise.reject(new Error('async boom'));
        if (mode === 3) return { code: '9.99' };
        return { code: '2.05', payload: Buffer.alloc(4000) };
      },
    });
    expect(only(r.send(datagram({ mid: 1 }))).code).toBe('5.00');
    r.send(datagram({ mid: 2 }));
    await vi.waitFor(() => expect(r.raw).toHaveLength(2));
    expect(parse(r.raw[1]!).code).toBe('5.00');
    expect(only(r.send(datagram({ mid: 3 }))).code).toBe('5.00');
    expect(only(r.send(datagram({ mid: 4 }))).code).toBe('5.00');
    expect(r.logs.some((l) => l.includes('boom'))).toBe(true);
  });

  it('never throws on arbitrary bytes, and whatever it sends back parses', () => {
    const r = rig();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, asCoap) => {
        const d = Buffer.from(bytes);
        // Half the runs get a valid-looking header so that option parsing is reached.
        if (asCoap && d.length >= 2) d[0] = 0x40 | (d[0]! & 0x3f);
        let replies: ParsedPacket[] = [];
        expect(() => (replies = r.send(d, 'fuzz'))).not.toThrow();
        for (const reply of replies) expect(reply.ack || reply.reset || !reply.confirmable).toBe(true);
      }),
      { seed: 20261121, numRuns: 300 },
    );
  });
});

describe('CoAP endpoint: Block1 uploads (RFC 7959)', () => {
  it('answers 2.31 with Block1 echoed for each non-last block and hands the assembled image to handle once', () => {
    const r = rig();
    const img = image(256 * 3 + 100);
    const replies = upload(r, img, { szx: 4 });
    expect(replies.map((p) => p.code)).toEqual(['2.31', '2.31', '2.31', '2.04']);
    expect(replies.map(readBlock1)).toEqual([
      { num: 0, more: true, szx: 4 },
      { num: 1, more: true, szx: 4 },
      { num: 2, more: true, szx: 4 },
      { num: 3, more: false, szx: 4 },
    ]);
    expect(replies.map((p) => p.token[0])).toEqual([0, 1, 2, 3]); // tokens differ per block; the transfer is keyed by peer, method, path
    expect(r.handled).toHaveLength(1);
    expect(r.handled[0]?.payload.equals(img)).toBe(true);
    expect(r.begun).toEqual([{ peer: 'udp:127.0.0.1:5683', path: '/fw', identity: undefined }]);
    expect(r.abandoned).toEqual([]);
  });

  it('keeps the client block size up to 1024 bytes', () => {
    const r = rig();
    const replies = upload(r, image(2500), { szx: 6 });
    expect(replies.map((p) => readBlock1(p)?.szx)).toEqual([6, 6, 6]);
    expect(r.handled[0]?.payload.length).toBe(2500);
  });

  it('answers 4.08 to a gap and to a block after block 0 with no transfer, and keeps the transfer for the right block', () => {
    const r = rig();
    const img = image(64 * 3);
    const put = (mid: number, num: number, more: boolean) =>
      only(r.send(datagram({ mid, method: 'PUT', path: '/fw', options: [block1(num, more, 2)], payload: img.subarray(num * 64, (num + 1) * 64) })));
    expect(put(1, 1, true).code).toBe('4.08');
    expect(put(2, 0, true).code).toBe('2.31');
    expect(put(3, 2, false).code).toBe('4.08');
    expect(r.handled).toHaveLength(0);
    expect(put(4, 1, true).code).toBe('2.31');
    expect(put(5, 2, false).code).toBe('2.04');
    expect(r.handled[0]?.payload.equals(img)).toBe(true);
    expect(put(6, 2, false).code).toBe('4.08'); // the transfer is over
  });

  it('accepts a repeated block under a new message id idempotently', () => {
    const r = rig();
    const img = image(64 * 2 + 10);
    const put = (mid: number, num: number, more: boolean) =>
      only(r.send(datagram({ mid, method: 'PUT', path: '/fw', options: [block1(num, more, 2)], payload: img.subarray(num * 64, (num + 1) * 64) })));
    expect(put(1, 0, true).code).toBe('2.31');
    expect(put(2, 1, true).code).toBe('2.31');
    const again = put(3, 1, true);
    expect(again.code).toBe('2.31');
    expect(readBlock1(again)).toEqual({ num: 1, more: true, szx: 2 });
    expect(put(4, 0, true).code).toBe('2.31'); // block 0 again: a new transfer
    expect(put(5, 1, true).code).toBe('2.31');
    expect(put(6, 2, false).code).toBe('2.04');
    expect(r.handled[0]?.payload.equals(img)).toBe(true);
    expect(r.abandoned.map((a) => a.why)).toEqual(['replaced']);
  });

  it('answers 4.13 with Size1 = maxBytes when Size1 announces too much, storing nothing', () => {
    const r = rig({ maxBytes: 1000 });
    const first = only(r.send(datagram({ mid: 1, method: 'PUT', path: '/fw', options: [block1(0, true, 4), size1(5000)], payload: image(256) })));
    expect(first.code).toBe('4.13');
    expect(readSize1(first)).toBe(1000);
    expect(r.begun).toEqual([]);
    expect(only(r.send(datagram({ mid: 2, method: 'PUT', path: '/fw', options: [block1(1, true, 4)], payload: image(256) }))).code).toBe('4.08');
  });

  it('answers 4.13 and drops the transfer when the blocks add up past maxBytes', () => {
    const r = rig({ maxBytes: 600 });
    const replies = upload(r, image(256 * 3 + 1), { szx: 4 });
    expect(replies.map((p) => p.code)).toEqual(['2.31', '2.31', '4.13', '4.08']);
    expect(readSize1(replies[2]!)).toBe(600);
    expect(r.abandoned).toEqual([{ peer: 'udp:127.0.0.1:5683', path: '/fw', bytes: 512, why: 'too-large' }]);
    expect(r.handled).toHaveLength(0);
  });

  it('treats a request to the upload resource without Block1 as a one-shot upload, within maxBytes', () => {
    const r = rig({ maxBytes: 100 });
    expect(only(r.send(datagram({ mid: 1, method: 'PUT', path: '/fw', payload: image(100) }))).code).toBe('2.04');
    const big = only(r.send(datagram({ mid: 2, method: 'PUT', path: '/fw', payload: image(101) })));
    expect(big.code).toBe('4.13');
    expect(readSize1(big)).toBe(100);
    expect(r.handled.map((q) => q.payload.length)).toEqual([100]);
    expect(r.begun).toEqual([]);
  });

  it('lets authorizeUpload refuse block 0 before anything is stored', () => {
    const seen: Omit<CoapRequest, 'payload'>[] = [];
    const r = rig({
      authorizeUpload: (req) => {
        seen.push(req);
        return req.identity === 'admin' ? undefined : { code: '4.01', payload: 'authentication required' };
      },
    });
    const refused = upload(r, image(64 * 3), { szx: 2, peer: 'dtls:127.0.0.1:5000', identity: 'guest' });
    expect(refused.map((p) => p.code)).toEqual(['4.01', '4.08', '4.08']);
    expect(r.begun).toEqual([]);
    expect(r.handled).toHaveLength(0);
    expect(only(r.send(datagram({ mid: 50, method: 'PUT', path: '/fw', payload: 'one shot' }), 'dtls:127.0.0.1:5000', 'guest')).code).toBe('4.01');
    expect(seen.every((q) => !('payload' in q))).toBe(true);
    expect(seen[0]).toMatchObject({ method: 'PUT', path: '/fw', peer: 'dtls:127.0.0.1:5000', identity: 'guest' });
  });

  it('passes the DTLS identity through to onBegin and handle, and refuses a block from another identity behind the same peer', () => {
    const r = rig();
    const peer = 'dtls:127.0.0.1:5000';
    const img = image(64 * 2);
    const put = (mid: number, num: number, more: boolean, identity: string) =>
      only(r.send(datagram({ mid, method: 'PUT', path: '/fw', options: [block1(num, more, 2)], payload: img.subarray(num * 64, (num + 1) * 64) }), peer, identity));
    expect(put(1, 0, true, 'device-admin').code).toBe('2.31');
    expect(put(2, 1, false, 'someone-else').code).toBe('4.08');
    expect(put(3, 1, false, 'device-admin').code).toBe('2.04');
    expect(r.begun).toEqual([{ peer, path: '/fw', identity: 'device-admin' }]);
    expect(r.handled[0]).toMatchObject({ peer, identity: 'device-admin', path: '/fw', method: 'PUT' });
    r.send(datagram({ mid: 4, path: '/x' }), peer, 'reader');
    expect(r.handled[1]).toMatchObject({ identity: 'reader' });
  });

  it('abandons a transfer with no next block within abandonAfterMs (timeout)', () => {
    vi.useFakeTimers();
    const r = rig({ abandonAfterMs: 5000 });
    const put = (mid: number, num: number) => only(r.send(datagram({ mid, method: 'PUT', path: '/fw', options: [block1(num, true, 0)], payload: image(16) })));
    expect(put(1, 0).code).toBe('2.31');
    vi.advanceTimersByTime(4000);
    expect(put(2, 1).code).toBe('2.31'); // each block restarts the clock
    vi.advanceTimersByTime(4000);
    expect(r.abandoned).toEqual([]);
    vi.advanceTimersByTime(1001);
    expect(r.abandoned).toEqual([{ peer: 'udp:127.0.0.1:5683', path: '/fw', bytes: 32, why: 'timeout' }]);
    expect(put(3, 2).code).toBe('4.08');
  });

  it('abandons a transfer replaced by a new block 0 from the same peer, and not one from another peer', () => {
    const r = rig();
    const first = (mid: number, peer: string) => only(r.send(datagram({ mid, method: 'PUT', path: '/fw', options: [block1(0, true, 2)], payload: image(64) }), peer));
    first(1, 'udp:a');
    first(2, 'udp:b');
    expect(r.abandoned).toEqual([]);
    first(3, 'udp:a');
    expect(r.abandoned).toEqual([{ peer: 'udp:a', path: '/fw', bytes: 64, why: 'replaced' }]);
    expect(r.begun.map((b) => b.peer)).toEqual(['udp:a', 'udp:b', 'udp:a']);
  });

  it('abandons open transfers on close() and ignores datagrams afterwards', () => {
    const r = rig();
    only(r.send(datagram({ mid: 1, method: 'PUT', path: '/fw', options: [block1(0, true, 2)], payload: image(64) }), 'udp:a'));
    only(r.send(datagram({ mid: 1, method: 'PUT', path: '/fw', options: [block1(0, true, 2)], payload: image(64) }), 'udp:b'));
    r.ep.close();
    expect(r.abandoned.map((a) => [a.peer, a.why])).toEqual([
      ['udp:a', 'closed'],
      ['udp:b', 'closed'],
    ]);
    expect(r.send(datagram({ mid: 2, path: '/x' }))).toHaveLength(0);
    r.ep.close();
    expect(r.abandoned).toHaveLength(2);
  });

  it('abandons the transfers of the least recently heard peer when maxPeers is reached (evicted)', () => {
    const r = rig({ maxPeers: 2 });
    only(r.send(datagram({ mid: 1, method: 'PUT', path: '/fw', options: [block1(0, true, 2)], payload: image(64) }), 'udp:a'));
    only(r.send(datagram({ mid: 1, path: '/x' }), 'udp:b'));
    only(r.send(datagram({ mid: 1, path: '/x' }), 'udp:c'));
    expect(r.abandoned).toEqual([{ peer: 'udp:a', path: '/fw', bytes: 64, why: 'evicted' }]);
  });

  it('answers 4.02 to Block1 on a resource that does not take uploads, 4.00 to SZX 7 and to a short non-last block', () => {
    const r = rig();
    expect(only(r.send(datagram({ mid: 1, method: 'POST', path: '/config', options: [block1(0, true, 2)], payload: image(64) }))).code).toBe('4.02');
    expect(only(r.send(datagram({ mid: 2, method: 'PUT', path: '/fw', options: [block1(0, true, 7)], payload: image(64) }))).code).toBe('4.00');
    expect(only(r.send(datagram({ mid: 3, method: 'PUT', path: '/fw', options: [block1(0, true, 2)], payload: image(63) }))).code).toBe('4.00');
    expect(r.handled).toHaveLength(0);
    expect(r.begun).toEqual([]);
  });
});

describe('CoAP endpoint over UDP', () => {
  let socket: Socket | undefined;
  let agent: coap.Agent | undefined;

  afterEach(async () => {
    // Not awaited: the agent closes its own socket once its request is done,
    // and close(callback) never calls back when the socket is already gone.
    agent?.close();
    await new Promise<void>((resolve) => (socket ? socket.close(() => resolve()) : resolve()));
    socket = undefined;
    agent = undefined;
  });

  it("assembles the coap package client's block-wise PUT", async () => {
    const r = rig();
    const s = createSocket('udp4');
    socket = s;
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    s.on('message', (msg, rinfo) => r.ep.receive(msg, `udp:${rinfo.address}:${rinfo.port}`, undefined, (reply) => s.send(reply, rinfo.port, rinfo.address)));
    const port = s.address().port;

    // The coap client only goes block-wise when the request carries a Block1
    // option (its value's first byte is the SZX); a bare 3000-byte payload is
    // refused by coap-packet as too big for one datagram.
    agent = new coap.Agent({ type: 'udp4' });
    const img = image(3000);
    const req = coap.request({ hostname: '127.0.0.1', port, method: 'PUT', pathname: '/fw', agent });
    req.setOption('Block1', Buffer.of(6));
    const res = await new Promise<coap.IncomingMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no response within 5 s')), 5000);
      req.on('response', (m: coap.IncomingMessage) => {
        clearTimeout(timer);
        resolve(m);
      });
      req.on('error', (e: Error) => {
        clearTimeout(timer);
        reject(e);
      });
      req.end(img);
    });
    expect(res.code).toBe('2.04');
    expect(r.handled).toHaveLength(1);
    expect(r.handled[0]?.payload.equals(img)).toBe(true);
    expect(r.begun).toHaveLength(1);
    expect(r.logs.filter((l) => l.includes('complete'))).toHaveLength(1);
  });
});
