// A strict reading of CoAP datagrams [RFC7252 3, 3.1], for judging what a
// server sends. Hand-written rather than coap-packet's parse: that parser lets
// some malformed messages through (a payload marker with nothing after it, an
// option value running past the end) and a conformance oracle must see
// exactly what was wrong, byte for byte. Sending goes through the fuzz
// generators' encoder (protocols/coap/arbitraries.ts: encodeCoap), which can
// also write the malformed messages the rejection statements need.

import type { RawCoapMessage } from '../../../protocols/coap/arbitraries.js';

export const CON = 0;
export const NON = 1;
export const ACK = 2;
export const RST = 3;
export const TYPE_NAMES = ['CON', 'NON', 'ACK', 'RST'] as const;

export const OPT = {
  IfMatch: 1,
  UriHost: 3,
  ETag: 4,
  IfNoneMatch: 5,
  Observe: 6,
  UriPort: 7,
  LocationPath: 8,
  UriPath: 11,
  ContentFormat: 12,
  MaxAge: 14,
  UriQuery: 15,
  Accept: 17,
  LocationQuery: 20,
  Block2: 23,
  Block1: 27,
  Size2: 28,
  ProxyUri: 35,
  ProxyScheme: 39,
  Size1: 60,
} as const;

interface OptionRule {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Repeatable in a response (ETag repeats in requests only [RFC7252 5.10.6]). */
  readonly repeatable: boolean;
}

/** Options with their value lengths and repeatability as registered [RFC7252 5.10, 12.2; RFC7641 2; RFC7959 2.1, 4; RFC8613; RFC8768; RFC9175]. */
const RULES: ReadonlyMap<number, OptionRule> = new Map<number, OptionRule>([
  [1, { name: 'If-Match', min: 0, max: 8, repeatable: true }],
  [3, { name: 'Uri-Host', min: 1, max: 255, repeatable: false }],
  [4, { name: 'ETag', min: 1, max: 8, repeatable: false }],
  [5, { name: 'If-None-Match', min: 0, max: 0, repeatable: false }],
  [6, { name: 'Observe', min: 0, max: 3, repeatable: false }],
  [7, { name: 'Uri-Port', min: 0, max: 2, repeatable: false }],
  [8, { name: 'Location-Path', min: 0, max: 255, repeatable: true }],
  [9, { name: 'OSCORE', min: 0, max: 255, repeatable: false }],
  [11, { name: 'Uri-Path', min: 0, max: 255, repeatable: true }],
  [12, { name: 'Content-Format', min: 0, max: 2, repeatable: false }],
  [14, { name: 'Max-Age', min: 0, max: 4, repeatable: false }],
  [15, { name: 'Uri-Query', min: 0, max: 255, repeatable: true }],
  [16, { name: 'Hop-Limit', min: 1, max: 1, repeatable: false }],
  [17, { name: 'Accept', min: 0, max: 2, repeatable: false }],
  [19, { name: 'Q-Block1', min: 0, max: 3, repeatable: false }],
  [20, { name: 'Location-Query', min: 0, max: 255, repeatable: true }],
  [23, { name: 'Block2', min: 0, max: 3, repeatable: false }],
  [27, { name: 'Block1', min: 0, max: 3, repeatable: false }],
  [28, { name: 'Size2', min: 0, max: 4, repeatable: false }],
  [31, { name: 'Q-Block2', min: 0, max: 3, repeatable: false }],
  [35, { name: 'Proxy-Uri', min: 1, max: 1034, repeatable: false }],
  [39, { name: 'Proxy-Scheme', min: 1, max: 255, repeatable: false }],
  [60, { name: 'Size1', min: 0, max: 4, repeatable: false }],
  [252, { name: 'Echo', min: 1, max: 40, repeatable: false }],
  [258, { name: 'No-Response', min: 0, max: 1, repeatable: false }],
  [292, { name: 'Request-Tag', min: 0, max: 8, repeatable: true }],
]);

export const optionName = (n: number) => RULES.get(n)?.name ?? `opt${n}`;

export interface WireOption {
  readonly number: number;
  readonly value: Buffer;
}

/** One message as it was on the wire. */
export interface WireMessage {
  readonly version: number;
  readonly type: 0 | 1 | 2 | 3;
  readonly code: number;
  readonly messageId: number;
  readonly token: Buffer;
  readonly options: readonly WireOption[];
  readonly payload: Buffer;
}

/** Which statement a format error of a received datagram speaks to. */
export type FormatFault = 'token-length' | 'payload-marker' | 'option' | 'short';

export type Decoded =
  | { readonly ok: true; readonly msg: WireMessage }
  | { readonly ok: false; readonly fault: FormatFault; readonly error: string; readonly version?: number; readonly type?: number; readonly messageId?: number };

/** `2.05`, `0.01`: class.detail. */
export const codeText = (code: number) => `${code >> 5}.${String(code & 31).padStart(2, '0')}`;
export const codeClass = (code: number) => code >> 5;
const METHOD_NAMES: Readonly<Record<number, string>> = { 1: 'GET', 2: 'POST', 3: 'PUT', 4: 'DELETE', 5: 'FETCH', 6: 'PATCH', 7: 'iPATCH' };

/** Parses a datagram exactly [RFC7252 3, 3.1]; every deviation is an error naming what was wrong. */
export function decodeStrict(b: Buffer): Decoded {
  if (b.length < 4) return { ok: false, fault: 'short', error: `datagram of ${b.length} bytes, shorter than the 4-byte header` };
  const version = b[0]! >> 6;
  const type = ((b[0]! >> 4) & 3) as 0 | 1 | 2 | 3;
  const tkl = b[0]! & 0x0f;
  const code = b[1]!;
  const messageId = b.readUInt16BE(2);
  const head = { version, type, messageId };
  if (tkl > 8) return { ok: false, fault: 'token-length', error: `token length ${tkl} (9-15 are reserved)`, ...head };
  if (4 + tkl > b.length) return { ok: false, fault: 'token-length', error: `token length ${tkl} runs past the datagram end`, ...head };
  const token = Buffer.from(b.subarray(4, 4 + tkl));
  const options: WireOption[] = [];
  let i = 4 + tkl;
  let number = 0;
  while (i < b.length) {
    const byte = b[i]!;
    if (byte === 0xff) {
      const payload = Buffer.from(b.subarray(i + 1));
      if (payload.length === 0) return { ok: false, fault: 'payload-marker', error: 'payload marker with an empty payload', ...head };
      return { ok: true, msg: { version, type, code, messageId, token, options, payload } };
    }
    i++;
    const ext = (nibble: number, what: string): number | string => {
      if (nibble < 13) return nibble;
      if (nibble === 15) return `option ${what} nibble 15 (reserved)`;
      const n = nibble === 13 ? 1 : 2;
      if (i + n > b.length) return `extended option ${what} cut off at the datagram end`;
      const v = nibble === 13 ? b[i]! + 13 : b.readUInt16BE(i) + 269;
      i += n;
      return v;
    };
    const delta = ext(byte >> 4, 'delta');
    if (typeof delta === 'string') return { ok: false, fault: 'option', error: delta, ...head };
    const length = ext(byte & 0x0f, 'length');
    if (typeof length === 'string') return { ok: false, fault: 'option', error: length, ...head };
    number += delta;
    if (number > 0xffff) return { ok: false, fault: 'option', error: `option number ${number} past 65535`, ...head };
    if (i + length > b.length) return { ok: false, fault: 'option', error: `option ${optionName(number)} value of ${length} bytes runs past the datagram end`, ...head };
    options.push({ number, value: Buffer.from(b.subarray(i, i + length)) });
    i += length;
  }
  return { ok: true, msg: { version, type, code, messageId, token, options, payload: Buffer.alloc(0) } };
}

export function uintOf(v: Buffer): number {
  let n = 0;
  for (const byte of v) n = n * 256 + byte;
  return n;
}

export const optionsOf = (m: WireMessage, n: number) => m.options.filter((o) => o.number === n);
export const optionOf = (m: WireMessage, n: number) => m.options.find((o) => o.number === n);
export const uintOption = (m: WireMessage, n: number) => {
  const o = optionOf(m, n);
  return o ? uintOf(o.value) : undefined;
};

export interface Block {
  readonly num: number;
  readonly more: boolean;
  readonly szx: number;
}

export function blockOf(m: WireMessage, n: typeof OPT.Block1 | typeof OPT.Block2): Block | undefined {
  const o = optionOf(m, n);
  if (!o || o.value.length > 3) return undefined;
  const v = uintOf(o.value);
  return { num: Math.floor(v / 16), more: (v & 8) !== 0, szx: v & 7 };
}

export const blockSize = (szx: number) => 2 ** (szx + 4);
export const blockText = (b: Block) => `${b.num}/${b.more ? 1 : 0}/${b.szx === 7 ? 'szx7' : blockSize(b.szx)}`;

/** Option problems of a message the server sent: lengths out of range, supernumerary non-repeatable options. */
export function optionFaults(m: WireMessage): { lengths: string[]; repeats: string[] } {
  const lengths: string[] = [];
  const repeats: string[] = [];
  const seen = new Map<number, number>();
  for (const o of m.options) {
    const rule = RULES.get(o.number);
    const count = (seen.get(o.number) ?? 0) + 1;
    seen.set(o.number, count);
    if (!rule) continue;
    if (o.value.length < rule.min || o.value.length > rule.max) lengths.push(`${rule.name} of ${o.value.length} bytes (range ${rule.min}-${rule.max})`);
    if (!rule.repeatable && count === 2) repeats.push(`${rule.name} repeated`);
  }
  return { lengths, repeats };
}

const printableText = (b: Buffer, cap: number) => {
  const s = b.subarray(0, cap).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return b.length > cap ? `${s}…(+${b.length - cap})` : s;
};

/** One transcript line: `ACK 2.05 mid=17 token=ab01 Content-Format=40 Block2=0/1/16 payload 16B "</a>..."`. */
export function describeWire(m: WireMessage): string {
  const out: string[] = [TYPE_NAMES[m.type]];
  if (m.version !== 1) out.unshift(`ver=${m.version}`);
  out.push(m.code === 0 ? 'empty' : codeClass(m.code) === 0 ? (METHOD_NAMES[m.code] ?? codeText(m.code)) : codeText(m.code));
  out.push(`mid=${m.messageId}`, `token=${m.token.toString('hex') || '-'}`);
  for (const o of m.options) {
    const name = optionName(o.number);
    if (o.number === OPT.Block1 || o.number === OPT.Block2) {
      const b = blockOf(m, o.number);
      out.push(`${name}=${b ? blockText(b) : `<${o.value.length}B>`}`);
    } else if ([OPT.Observe, OPT.ContentFormat, OPT.MaxAge, OPT.Accept, OPT.Size1, OPT.Size2, OPT.UriPort].includes(o.number as never)) {
      out.push(`${name}=${uintOf(o.value)}`);
    } else if (o.number === OPT.ETag || o.number === OPT.IfMatch) {
      out.push(`${name}=${o.value.toString('hex')}`);
    } else if (RULES.has(o.number) && o.value.length <= 40) {
      out.push(`${name}="${printableText(o.value, 40)}"`);
    } else out.push(`${name}=<${o.value.length}B>`);
  }
  if (m.payload.length) out.push(`payload ${m.payload.length}B "${printableText(m.payload, 32)}"`);
  return out.join(' ');
}

/** A raw message to send: type, code, message id, token and options; payload optional. */
export function raw(type: RawCoapMessage['type'], code: number, messageId: number, token: Uint8Array, options: RawCoapMessage['options'], payload?: Uint8Array): RawCoapMessage {
  return { type, code, messageId, token, options, ...(payload && payload.length ? { payload } : {}) };
}

/** Uri-Path options of a path (`/a/b` -> two options), percent-decoded. */
export function pathOptions(path: string): { number: number; value: Buffer }[] {
  const [p = ''] = path.split('?', 1);
  return p
    .split('/')
    .filter((x) => x.length > 0)
    .map((x) => {
      let v = x;
      try {
        v = decodeURIComponent(x);
      } catch {
        // as written
      }
      return { number: OPT.UriPath, value: Buffer.from(v) };
    });
}

/** uint option value in the fewest bytes [RFC7252 3.2]. */
export function uintBytes(n: number): Buffer {
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return Buffer.from(out);
}

export const opt = (number: number, value: Buffer | number | string) => ({
  number,
  value: typeof value === 'number' ? uintBytes(value) : typeof value === 'string' ? Buffer.from(value) : value,
});

export const blockValue = (b: Block) => uintBytes(b.num * 16 + (b.more ? 8 : 0) + b.szx);
