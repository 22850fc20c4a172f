// CoAP fuzz arbitraries [RFC7252, RFC7959, RFC7641]: the hand-written encoder
// against coap-packet (a third-party codec), valid cases that it parses and
// re-generates byte for byte, hostile cases that each break the rule their
// label names, bounded sizes and step counts, and replay from seed and path.

import { generate, parse, type ParsedPacket } from 'coap-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FuzzCase } from '../../harness/model/index.js';
import { COAP_HOSTILE_RULES, coapCaseArb, coapMessageArb, encodeCoap, type RawCoapMessage } from '../../harness/protocols/coap/arbitraries.js';

const RUN = { seed: 42, numRuns: 200 } as const;
const PATHS = ['/sensors/temperature', '/fw/image', '/a/b?x=1', '/.well-known/core'];

/** coap-packet names the options it knows; everything else comes back as the number in a string. */
const NUMBER_OF_NAME: Readonly<Record<string, number>> = {
  'If-Match': 1, 'Uri-Host': 3, ETag: 4, 'If-None-Match': 5, Observe: 6, 'Uri-Port': 7, 'Location-Path': 8, OSCORE: 9,
  'Uri-Path': 11, 'Content-Format': 12, 'Max-Age': 14, 'Uri-Query': 15, 'Hop-Limit': 16, Accept: 17, 'Q-Block1': 19,
  'Location-Query': 20, Block2: 23, Block1: 27, Size2: 28, 'Q-Block2': 31, 'Proxy-Uri': 35, 'Proxy-Scheme': 39, Size1: 60,
  'No-Response': 258, 'OCF-Accept-Content-Format-Version': 2049, 'OCF-Content-Format-Version': 2053,
};
const numberOf = (name: string | number) => (typeof name === 'number' ? name : (NUMBER_OF_NAME[name] ?? Number(name)));

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const codeString = (c: number) => `${c >> 5}.${String(c & 31).padStart(2, '0')}`;
const uint = (b: Buffer) => [...b].reduce((n, x) => n * 256 + x, 0);
const block = (b: Buffer) => ({ num: Math.floor(uint(b) / 16), more: (uint(b) & 8) !== 0, szx: uint(b) & 7 });
const options = (p: ParsedPacket, name: string) => p.options.filter((o) => o.name === name).map((o) => o.value);
const parses = (b: Uint8Array): ParsedPacket | Error => {
  try {
    return parse(Buffer.from(b));
  } catch (e) {
    return e as Error;
  }
};

/** What coap-packet would write for the same message (it sorts options itself). */
function viaCoapPacket(m: RawCoapMessage): Buffer {
  return generate(
    {
      code: codeString(m.code),
      messageId: m.messageId,
      token: Buffer.from(m.token),
      confirmable: m.type === 0,
      ack: m.type === 2,
      reset: m.type === 3,
      options: m.options.map((o) => ({ name: String(o.number), value: Buffer.from(o.value) })),
      payload: Buffer.from(m.payload ?? new Uint8Array(0)),
    },
    65535,
  );
}

const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength });

/** Well-formed messages, options in any order, values long enough to need extended lengths. */
const rawMessageArb: fc.Arbitrary<RawCoapMessage> = fc.record({
  type: fc.constantFrom<0 | 1 | 2 | 3>(0, 1, 2, 3),
  code: fc.oneof(fc.integer({ min: 1, max: 31 }), fc.integer({ min: 2 << 5, max: (5 << 5) | 31 })),
  messageId: fc.integer({ min: 0, max: 0xffff }),
  token: bytes(0, 8),
  options: fc.array(
    fc.record({
      number: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 0xffff })),
      value: fc.oneof(bytes(0, 16), bytes(0, 300)),
    }),
    { maxLength: 6 },
  ),
  payload: bytes(0, 64),
});

describe('encodeCoap', () => {
  it('writes the header, nibbles and extended bytes as RFC 7252 3 and 3.1 lay them out', () => {
    expect(hex(encodeCoap({ type: 0, code: 0, messageId: 0x1234, token: new Uint8Array(0), options: [] }))).toBe('40001234');
    // Uri-Path "a" (delta 11), Size1 (delta 49 = 13 + 36), option 400 (delta 340 = 269 + 71), a 13-byte value
    const m: RawCoapMessage = {
      type: 1,
      code: 2,
      messageId: 1,
      token: Uint8Array.of(0xaa),
      options: [
        { number: 400, value: new Uint8Array(13) },
        { number: 60, value: Uint8Array.of(5) },
        { number: 11, value: Buffer.from('a') },
      ],
      payload: Uint8Array.of(1, 2),
    };
    expect(hex(encodeCoap(m))).toBe(`51020001aa` + `b161` + `d12405` + `ed00470${'0'.repeat(27)}` + `ff0102`);
  });

  it('writes the hostile knobs as asked', () => {
    const base: RawCoapMessage = { type: 0, code: 1, messageId: 0, token: Uint8Array.of(1, 2), options: [] };
    expect(hex(encodeCoap({ ...base, version: 2, tokenLengthNibble: 15 }))).toBe('8f0100000102');
    expect(hex(encodeCoap({ ...base, payloadMarkerWithoutPayload: true }))).toBe('420100000102ff');
    expect(hex(encodeCoap({ ...base, options: [{ number: 11, value: Uint8Array.of(0x61) }], rawOptions: Uint8Array.of(0xf0) }))).toBe('420100000102f0');
  });

  it('refuses values no field can hold, with a RangeError', () => {
    const base: RawCoapMessage = { type: 0, code: 1, messageId: 0, token: new Uint8Array(0), options: [] };
    expect(() => encodeCoap({ ...base, token: new Uint8Array(16) })).toThrow(RangeError);
    expect(() => encodeCoap({ ...base, messageId: 0x10000 })).toThrow(RangeError);
    expect(() => encodeCoap({ ...base, options: [{ number: 0x10000, value: new Uint8Array(0) }] })).toThrow(RangeError);
  });

  it('round-trips through coap-packet parse, and matches its generate byte for byte', () => {
    fc.assert(
      fc.property(rawMessageArb, (m) => {
        const wire = encodeCoap(m);
        const p = parse(wire);
        expect(p.code).toBe(codeString(m.code));
        expect(p.messageId).toBe(m.messageId);
        expect([p.confirmable, p.ack, p.reset]).toEqual([m.type === 0, m.type === 2, m.type === 3]);
        expect(hex(p.token)).toBe(hex(m.token));
        const sorted = [...m.options].sort((a, b) => a.number - b.number); // stable: repeated options keep their order
        expect(p.options.map((o) => [numberOf(o.name), hex(o.value)])).toEqual(sorted.map((o) => [o.number, hex(o.value)]));
        expect(hex(p.payload)).toBe(hex(m.payload ?? new Uint8Array(0)));
        expect(hex(wire)).toBe(hex(viaCoapPacket(m)));
      }),
      RUN,
    );
  });
});

/** The Block1 or Block2 options of a case, in send order. */
function blocks(c: FuzzCase, name: 'Block1' | 'Block2') {
  return c.steps.flatMap((s) => {
    const p = parse(Buffer.from(s.bytes));
    const v = options(p, name);
    return v.length ? [{ ...block(v[0]!), size1: options(p, 'Size1')[0], payload: p.payload.length, token: hex(p.token) }] : [];
  });
}

function checkBlockwise(c: FuzzCase): void {
  const b1 = blocks(c, 'Block1');
  const b2 = blocks(c, 'Block2');
  if (c.label.startsWith('block1 ')) {
    expect(b1).toHaveLength(c.steps.length);
    const n = Number(/ (\d+) x /.exec(c.label)?.[1]);
    const gap = /block (\d+) skipped/.exec(c.label);
    const interrupted = c.label.endsWith('interrupted');
    const expected = Array.from({ length: gap || interrupted ? n : c.steps.length }, (_, i) => i).filter((i) => !gap || i !== Number(gap[1]));
    expect(b1.map((b) => b.num)).toEqual(expected.slice(0, c.steps.length)); // num increments (one gap when skipped)
    b1.forEach((b, i) => {
      const last = b.num === n - 1 || (!gap && !interrupted && i === b1.length - 1);
      expect(b.more).toBe(!last); // M on all but the last block
      expect(b.szx).toBe(b1[0]!.szx);
      expect(b.token).toBe(b1[0]!.token);
      expect(b.size1 !== undefined).toBe(b.num === 0); // Size1 with the first block [RFC7959 4]
      if (b.more) expect(b.payload).toBe(2 ** (b.szx + 4));
    });
    if (!gap && !interrupted) expect(b1.reduce((s, b) => s + b.payload, 0)).toBe(uint(b1[0]!.size1!));
  } else if (c.label.startsWith('block2 ')) {
    expect(b2).toHaveLength(c.steps.length);
    b2.forEach((b, i) => {
      expect(b.num).toBe(b2[0]!.num + i);
      expect(b.more).toBe(false);
      expect(b.szx).toBe(b2[0]!.szx);
    });
  } else {
    expect(b1.length + b2.length).toBe(0);
  }
  if (c.label.startsWith('observe ')) {
    const obs = c.steps.map((s) => parse(Buffer.from(s.bytes))).filter((p) => options(p, 'Observe').length);
    expect(hex(options(obs[0]!, 'Observe')[0]!)).toBe(''); // register: Observe=0 [RFC7641 3.1]
    if (c.steps.length > 1) {
      expect(hex(options(obs.at(-1)!, 'Observe')[0]!)).toBe('01'); // cancel: Observe=1 [RFC7641 3.6]
      expect(hex(obs.at(-1)!.token)).toBe(hex(obs[0]!.token));
    }
  }
}

describe('valid mode', () => {
  it('sends datagrams coap-packet parses and re-generates byte for byte, with the label path as Uri-Path', () => {
    fc.assert(
      fc.property(coapCaseArb({ mode: 'valid', paths: PATHS }), (c) => {
        expect(c.steps.length).toBeGreaterThanOrEqual(1);
        expect(c.steps.length).toBeLessThanOrEqual(8);
        const mids = c.steps.map((s) => parse(Buffer.from(s.bytes)).messageId);
        expect(new Set(mids).size).toBe(mids.length); // each datagram a new message, not a duplicate
        for (const s of c.steps) {
          const p = parse(Buffer.from(s.bytes));
          expect(s.bytes.length).toBeLessThan(1500);
          expect(p.token.length).toBeLessThanOrEqual(8);
          // canonical: options sorted, shortest nibbles, so coap-packet writes the same bytes
          const again = generate({ ...p, options: p.options.map((o) => ({ name: String(numberOf(o.name)), value: o.value })) }, 65535);
          expect(hex(again)).toBe(hex(s.bytes));
          if (p.code === '0.00') {
            expect(s.bytes.length).toBe(4);
            continue;
          }
          expect(['0.01', '0.02', '0.03', '0.04', '0.05']).toContain(p.code);
          const path = `/${options(p, 'Uri-Path').map(String).join('/')}`;
          const query = options(p, 'Uri-Query').map(String);
          expect(s.label.split(' ')[2]).toBe(query.length ? `${path}?${query.join('&')}` : path);
        }
        checkBlockwise(c);
      }),
      RUN,
    );
  });

  it('covers requests, ping, observe and each block-wise shape', () => {
    const labels = fc.sample(coapCaseArb({ mode: 'valid' }), { seed: 42, numRuns: 300 }).map((c) => c.label);
    for (const re of [/^\d+ requests?: /, /^CON ping$/, /^observe register\+cancel /, /^block1 .* blocks$/, /interrupted$/, /skipped$/, /^block2 /]) {
      expect(labels.some((l) => re.test(l)), String(re)).toBe(true);
    }
  });

  it('gives single datagrams that parse', () => {
    fc.assert(
      fc.property(coapMessageArb('valid', PATHS), (s) => {
        expect(parses(s.bytes)).not.toBeInstanceOf(Error);
        expect(s.label).toMatch(/^(CON|NON) /);
      }),
      RUN,
    );
  });
});

type Spot = (c: FuzzCase, first: Uint8Array, p: ParsedPacket | Error) => void;
const throws: Spot = (_c, _b, p) => expect(p).toBeInstanceOf(Error);

/** Header and option-structure breakage that coap-packet rejects or decodes differently. */
const SPOT_CHECKS: Readonly<Record<string, Spot>> = {
  'hostile: version != 1 [RFC7252 3]': throws,
  'hostile: datagram shorter than the 4-byte header [RFC7252 3]': throws,
  'hostile: zero-length datagram [RFC7252 3]': throws,
  'hostile: option delta nibble 15 outside the payload marker (reserved) [RFC7252 3.1]': throws,
  'hostile: option length nibble 15 (reserved) [RFC7252 3.1]': throws,
  'hostile: extended option delta/length cut off at the datagram end [RFC7252 3.1]': throws,
  'hostile: empty message (0.00) with a token [RFC7252 4.1]': throws,
  'hostile: empty message (0.00) with a payload [RFC7252 4.1]': throws,
  'hostile: token length nibble 9-15 (reserved) [RFC7252 3]': (_c, _b, p) => {
    if (!(p instanceof Error)) expect(p.token.length).toBeGreaterThan(8);
  },
  'hostile: token length beyond the datagram end [RFC7252 3]': (_c, b, p) => {
    expect(p).not.toBeInstanceOf(Error);
    expect((p as ParsedPacket).token.length).toBeLessThan(b[0]! & 15);
  },
  'hostile: option number past 65535 [RFC7252 3.1]': (_c, _b, p) => {
    expect(p).not.toBeInstanceOf(Error);
    expect(Math.max(...(p as ParsedPacket).options.map((o) => numberOf(o.name)))).toBeGreaterThan(0xffff);
  },
  'hostile: payload marker followed by an empty payload [RFC7252 3]': (_c, b, p) => {
    expect(b.at(-1)).toBe(0xff);
    expect((p as ParsedPacket).payload.length).toBe(0);
  },
  'hostile: reserved code class 1, 6 or 7 [RFC7252 3]': (_c, _b, p) => {
    expect(['1', '6', '7']).toContain((p as ParsedPacket).code[0]);
  },
  'hostile: same CON repeated at a message id edge (deduplication) [RFC7252 4.5]': (c, b, p) => {
    expect(c.steps.length).toBeGreaterThanOrEqual(2);
    for (const s of c.steps) expect(hex(s.bytes)).toBe(hex(b));
    expect((p as ParsedPacket).confirmable).toBe(true);
    expect([0, 0xffff]).toContain((p as ParsedPacket).messageId);
  },
  'hostile: Block1 SZX 7 (reserved) [RFC7959 2.2]': (_c, _b, p) => {
    expect(block(options(p as ParsedPacket, 'Block1')[0]!).szx).toBe(7);
  },
  'hostile: Block1 blocks out of order [RFC7959 2.5]': (c) => {
    const nums = blocks(c, 'Block1').map((b) => b.num);
    expect(nums).not.toEqual([...nums].sort((x, y) => x - y));
  },
  'hostile: observe registration flood with distinct tokens [RFC7641 4.1]': (c) => {
    const tokens = c.steps.map((s) => hex(parse(Buffer.from(s.bytes)).token));
    expect(new Set(tokens).size).toBe(c.steps.length);
  },
};

describe('hostile mode', () => {
  it('names one rule per case, with its RFC section, and reaches every rule', () => {
    const labels = new Set(fc.sample(coapCaseArb({ mode: 'hostile', paths: PATHS }), { seed: 42, numRuns: 600 }).map((c) => c.label));
    expect(labels.size).toBeGreaterThanOrEqual(15);
    expect([...labels].sort()).toEqual([...COAP_HOSTILE_RULES].sort());
    for (const l of labels) expect(l).toMatch(/^hostile: [^\n]+ \[RFC(7252|7959|7641) \d+(\.\d+)*\]$/);
  });

  it('breaks what the label says (spot checks against coap-packet)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(coapCaseArb({ mode: 'hostile', paths: PATHS }), (c) => {
        const spot = SPOT_CHECKS[c.label];
        if (!spot) return;
        seen.add(c.label);
        const first = c.steps[0]!.bytes;
        spot(c, first, parses(first));
      }),
      RUN,
    );
    expect(seen.size).toBeGreaterThanOrEqual(12);
  });

  it('gives single datagrams labelled with the rule they break', () => {
    fc.assert(
      fc.property(coapMessageArb('hostile'), (s) => {
        expect(s.label).toMatch(/^hostile: .+ \[RFC\d+ [\d.]+\] — /);
        expect(s.bytes.length).toBeLessThanOrEqual(65000);
      }),
      RUN,
    );
  });
});

describe('bounds and determinism', () => {
  it('keeps every case within maxSteps and every datagram within 65000 bytes', () => {
    for (const mode of ['valid', 'hostile'] as const) {
      for (const maxSteps of [1, 2, 3, 8]) {
        for (const c of fc.sample(coapCaseArb({ mode, maxSteps }), { seed: 42, numRuns: 100 })) {
          expect(c.steps.length).toBeGreaterThanOrEqual(1);
          expect(c.steps.length).toBeLessThanOrEqual(maxSteps);
          for (const s of c.steps) {
            expect(s.bytes.length).toBeLessThanOrEqual(65000);
            expect(s.label).not.toMatch(/\n/);
          }
        }
      }
    }
  });

  it('keeps most datagrams under 1.5 KiB', () => {
    const sizes = fc.sample(coapCaseArb({ mode: 'hostile' }), { seed: 42, numRuns: 300 }).flatMap((c) => c.steps.map((s) => s.bytes.length));
    expect(sizes.filter((n) => n < 1536).length / sizes.length).toBeGreaterThan(0.9);
  });

  it('gives the same cases for the same seed', () => {
    const run = (mode: 'valid' | 'hostile', seed: number) =>
      fc.sample(coapCaseArb({ mode, paths: PATHS }), { seed, numRuns: 40 }).map((c) => [c.label, ...c.steps.map((s) => `${s.label} ${hex(s.bytes)}`)]);
    for (const mode of ['valid', 'hostile'] as const) {
      expect(run(mode, 42)).toEqual(run(mode, 42));
      expect(run(mode, 42)).not.toEqual(run(mode, 43));
    }
  });

  it('replays a shrunk counterexample from its seed and path', () => {
    const property = fc.property(coapCaseArb({ mode: 'hostile' }), (c) => c.steps.every((s) => s.bytes.length < 1000));
    const found = fc.check(property, RUN);
    expect(found.failed).toBe(true);
    const replayed = fc.check(property, { seed: found.seed, path: found.counterexamplePath!, endOnFailure: true });
    expect(replayed.failed).toBe(true);
    const show = (r: typeof found) => r.counterexample!.map((c) => c.steps.map((s) => `${s.label} ${hex(s.bytes)}`));
    expect(show(replayed)).toEqual(show(found));
  });
});
