// fast-check arbitraries for CoAP over UDP [RFC7252], with block-wise
// transfers [RFC7959] and observe [RFC7641], and the one encoder they share.
// A case is the datagrams one UDP socket sends in a row.
// Valid mode: well-formed requests, pings, observe register/cancel and
// block-wise sequences (whole, interrupted, with a gap). Hostile mode: each
// case breaks one rule; the case label names it with its RFC section, each
// step label says what the datagram is. The encoder is written by hand, not
// coap-packet's generate, because hostile cases need fields no conforming
// encoder writes (reserved nibbles, lying lengths, raw option bytes).

import fc from 'fast-check';
import type { FuzzCase, FuzzMode, FuzzStep } from '../../model/index.js';
import { printable } from '../common/io.js';
import { encodeBlockOption, encodeUintOption } from './exchange.js';

export interface CoapCaseOptions {
  readonly mode: FuzzMode;
  /** Resource paths known on the target (from discovery or the declaration); default ['/.well-known/core']. */
  readonly paths?: readonly string[];
  /** Max datagrams per case, default 8. */
  readonly maxSteps?: number;
}

export interface CoapOption {
  readonly number: number;
  readonly value: Uint8Array;
}

/** A CoAP message field by field [RFC7252 3], plus knobs that break the format on purpose. */
export interface RawCoapMessage {
  /** 2 bits, default 1. */
  readonly version?: number;
  /** CON 0, NON 1, ACK 2, RST 3. */
  readonly type: 0 | 1 | 2 | 3;
  /** class << 5 | detail. */
  readonly code: number;
  readonly messageId: number;
  readonly token: Uint8Array;
  /** Encoded in number order (stable, so repeated options keep theirs), with delta/length nibbles. */
  readonly options: readonly CoapOption[];
  readonly payload?: Uint8Array;
  // hostile knobs
  /** Written instead of the token's length (0..15). */
  readonly tokenLengthNibble?: number;
  /** Writes the 0xFF marker even when the payload is empty. */
  readonly payloadMarkerWithoutPayload?: boolean;
  /** Replaces the encoded options. */
  readonly rawOptions?: Uint8Array;
}

// ------------------------------------------------------------------ tables

type OptionFormat = 'empty' | 'opaque' | 'uint' | 'string' | 'block';

interface OptionSpec {
  readonly number: number;
  readonly format: OptionFormat;
  /** Longest value allowed, bytes [RFC7252 5.10, RFC7959 2.1 and 4, RFC7641 2]. */
  readonly max: number;
  readonly repeatable: boolean;
}

const OPTIONS = {
  'If-Match': { number: 1, format: 'opaque', max: 8, repeatable: true },
  'Uri-Host': { number: 3, format: 'string', max: 255, repeatable: false },
  ETag: { number: 4, format: 'opaque', max: 8, repeatable: true },
  'If-None-Match': { number: 5, format: 'empty', max: 0, repeatable: false },
  Observe: { number: 6, format: 'uint', max: 3, repeatable: false },
  'Uri-Port': { number: 7, format: 'uint', max: 2, repeatable: false },
  'Location-Path': { number: 8, format: 'string', max: 255, repeatable: true },
  'Uri-Path': { number: 11, format: 'string', max: 255, repeatable: true },
  'Content-Format': { number: 12, format: 'uint', max: 2, repeatable: false },
  'Max-Age': { number: 14, format: 'uint', max: 4, repeatable: false },
  'Uri-Query': { number: 15, format: 'string', max: 255, repeatable: true },
  Accept: { number: 17, format: 'uint', max: 2, repeatable: false },
  'Location-Query': { number: 20, format: 'string', max: 255, repeatable: true },
  Block2: { number: 23, format: 'block', max: 3, repeatable: false },
  Block1: { number: 27, format: 'block', max: 3, repeatable: false },
  Size2: { number: 28, format: 'uint', max: 4, repeatable: false },
  'Proxy-Uri': { number: 35, format: 'string', max: 1034, repeatable: false },
  'Proxy-Scheme': { number: 39, format: 'string', max: 255, repeatable: false },
  Size1: { number: 60, format: 'uint', max: 4, repeatable: false },
} as const satisfies Record<string, OptionSpec>;

type OptionName = keyof typeof OPTIONS;

const OPTION_BY_NUMBER: ReadonlyMap<number, readonly [OptionName, OptionSpec]> = new Map(
  (Object.entries(OPTIONS) as [OptionName, OptionSpec][]).map(([name, spec]) => [spec.number, [name, spec] as const]),
);

const NON_REPEATABLE = (Object.keys(OPTIONS) as OptionName[]).filter((n) => !OPTIONS[n].repeatable && n !== 'Proxy-Uri');

const Type = { CON: 0, NON: 1, ACK: 2, RST: 3 } as const;
const TYPE_NAMES = ['CON', 'NON', 'ACK', 'RST'] as const;
const Method = { GET: 1, POST: 2, PUT: 3, DELETE: 4, FETCH: 5 } as const;
const METHOD_NAMES: Readonly<Record<number, string>> = { 1: 'GET', 2: 'POST', 3: 'PUT', 4: 'DELETE', 5: 'FETCH', 6: 'PATCH', 7: 'iPATCH' };

const PAYLOAD_MARKER = 0xff;
const MAX_DATAGRAM = 65000;
const EMPTY = new Uint8Array(0);
const DEFAULT_PATHS = ['/.well-known/core'] as const;
const DEFAULT_MAX_STEPS = 8;

// ------------------------------------------------------------------ encoder

function field(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${name}: ${v} is not an integer in 0..${max}`);
}

/** A delta or length as its 4-bit nibble and extended bytes [RFC7252 3.1]. */
function nibble(v: number): [number, number[]] {
  if (v < 13) return [v, []];
  if (v < 269) return [13, [v - 13]];
  return [14, [(v - 269) >> 8, (v - 269) & 0xff]];
}

function optionHeader(delta: number, length: number): number[] {
  field('option delta', delta, 65804);
  field('option length', length, 65804);
  const [dn, dx] = nibble(delta);
  const [ln, lx] = nibble(length);
  return [(dn << 4) | ln, ...dx, ...lx];
}

/** One option after the previous one, as bytes; `delta` may be anything a header can say. */
function rawOption(delta: number, value: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(optionHeader(delta, value.length)), value]);
}

function encodeOptions(options: readonly CoapOption[]): Buffer {
  const sorted = [...options].sort((a, b) => a.number - b.number); // stable: Uri-Path segments keep their order
  const parts: Uint8Array[] = [];
  let previous = 0;
  for (const o of sorted) {
    field('option number', o.number, 0xffff);
    parts.push(rawOption(o.number - previous, o.value));
    previous = o.number;
  }
  return Buffer.concat(parts);
}

/** Encodes a CoAP message by hand (header, token, options with delta/length nibbles and extended bytes, payload marker). */
export function encodeCoap(m: RawCoapMessage): Buffer {
  const version = m.version ?? 1;
  const tkl = m.tokenLengthNibble ?? m.token.length;
  field('version', version, 3);
  field('type', m.type, 3);
  field('token length', tkl, 15);
  field('code', m.code, 0xff);
  field('message id', m.messageId, 0xffff);
  const header = Buffer.from([(version << 6) | (m.type << 4) | tkl, m.code, m.messageId >> 8, m.messageId & 0xff]);
  const options = m.rawOptions ?? encodeOptions(m.options);
  const payload = m.payload ?? EMPTY;
  const marker = payload.length > 0 || m.payloadMarkerWithoutPayload ? [PAYLOAD_MARKER] : [];
  return Buffer.concat([header, m.token, options, Buffer.from(marker), payload]);
}

// ------------------------------------------------------------------ labels

function codeText(code: number): string {
  if (code >> 5 === 0 && METHOD_NAMES[code]) return METHOD_NAMES[code];
  return `${code >> 5}.${String(code & 31).padStart(2, '0')}`;
}

function uintOf(v: Uint8Array): number {
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

function blockText(v: Uint8Array): string {
  const n = uintOf(v);
  const szx = n & 7;
  return `${Math.floor(n / 16)}/${(n & 8) >> 3}/${szx === 7 ? 'szx7' : 2 ** (szx + 4)}`;
}

function segmentText(v: Uint8Array): string {
  return v.length > 32 ? `<${v.length}B>` : printable(v, 32);
}

function optionText(o: CoapOption): string {
  const known = OPTION_BY_NUMBER.get(o.number);
  if (!known) return `opt${o.number}=<${o.value.length}B>`;
  const [name, spec] = known;
  if (o.value.length > spec.max) return `${name}=<${o.value.length}B>`;
  switch (spec.format) {
    case 'empty':
      return name;
    case 'uint':
      return `${name}=${uintOf(o.value)}`;
    case 'block':
      return `${name}=${blockText(o.value)}`;
    default:
      return `${name}=<${o.value.length}B>`;
  }
}

/** One line: `CON GET /sensors/temperature token=2B mid=17 Observe=0`. */
export function describeCoap(m: RawCoapMessage): string {
  const out: string[] = [];
  if (m.version !== undefined && m.version !== 1) out.push(`ver=${m.version}`);
  const payload = m.payload ?? EMPTY;
  const bare = m.token.length === 0 && m.options.length === 0 && !m.rawOptions && payload.length === 0 && m.tokenLengthNibble === undefined;
  if (m.code === 0 && m.type === Type.CON && bare && !m.payloadMarkerWithoutPayload) {
    out.push('CON ping');
  } else {
    out.push(TYPE_NAMES[m.type], m.code === 0 ? 'empty' : codeText(m.code));
    const path = m.options.filter((o) => o.number === OPTIONS['Uri-Path'].number).map((o) => segmentText(o.value));
    const query = m.options.filter((o) => o.number === OPTIONS['Uri-Query'].number).map((o) => segmentText(o.value));
    if (m.code !== 0 || path.length > 0) out.push(`/${path.join('/')}${query.length ? `?${query.join('&')}` : ''}`);
    out.push(`token=${m.token.length}B`);
    if (m.tokenLengthNibble !== undefined) out.push(`tkl=${m.tokenLengthNibble}`);
  }
  out.push(`mid=${m.messageId}`);
  for (const o of [...m.options].sort((a, b) => a.number - b.number)) {
    if (o.number !== OPTIONS['Uri-Path'].number && o.number !== OPTIONS['Uri-Query'].number) out.push(optionText(o));
  }
  if (m.rawOptions) {
    // hostile option bytes usually follow the encoded `options`: show only what was added
    const encoded = encodeOptions(m.options);
    const appended = Buffer.from(m.rawOptions.subarray(0, encoded.length)).equals(encoded);
    const tail = appended ? m.rawOptions.subarray(encoded.length) : m.rawOptions;
    const hex = Buffer.from(tail.subarray(0, 16)).toString('hex');
    out.push(`${appended ? 'then' : 'instead'} raw options ${hex}${tail.length > 16 ? `…(${tail.length}B)` : ''}`);
  }
  if (payload.length > 0) out.push(`payload=${payload.length}B`);
  else if (m.payloadMarkerWithoutPayload) out.push('marker+0B');
  return out.join(' ');
}

function stepOf(m: RawCoapMessage): FuzzStep {
  return { bytes: encodeCoap(m), label: describeCoap(m) };
}

// ------------------------------------------------------------------ building blocks

type Draft = Omit<RawCoapMessage, 'messageId'>;

const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength });
const midArb = fc.integer({ min: 0, max: 0xffff });
const typeArb = fc.constantFrom<0 | 1>(Type.CON, Type.NON);
const szxArb = fc.integer({ min: 0, max: 6 });
const contentFormatArb = fc.oneof(fc.constantFrom(0, 40, 41, 42, 47, 50, 60, 110, 112, 11050, 11060), fc.integer({ min: 0, max: 0xffff }));
const wordArb = fc
  .array(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.'), { minLength: 1, maxLength: 10 })
  .map((cs) => cs.join(''));
const queryArb = fc.tuple(wordArb, wordArb).map(([k, v]) => `${k}=${v}`);

const opt = (name: OptionName, value: Uint8Array | string | number): CoapOption => ({
  number: OPTIONS[name].number,
  value: typeof value === 'number' ? encodeUintOption(value) : typeof value === 'string' ? Buffer.from(value) : value,
});

const blockSize = (szx: number) => 2 ** (szx + 4);

/** `n` bytes of a pattern: cheap to build at 64 KiB and shrinks with one integer. */
function filler(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (seed + i * 7) & 0xff;
  return out;
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // a device-advertised path with a bad % escape is sent as written
  }
}

/** Uri-Path per segment and Uri-Query per `&` part [RFC7252 6.4], each cut to 255 bytes. */
function pathOptions(path: string): CoapOption[] {
  const cut = (s: string) => Buffer.from(decodeSegment(s)).subarray(0, 255);
  const [p = '', q] = path.split('?', 2);
  const segments = p.split('/').filter((s) => s.length > 0);
  const queries = q === undefined ? [] : q.split('&').filter((s) => s.length > 0);
  return [...segments.map((s) => opt('Uri-Path', cut(s))), ...queries.map((s) => opt('Uri-Query', cut(s)))];
}

const pathArb = (paths: readonly string[]) => fc.constantFrom(...paths);

interface Ctx {
  readonly paths: readonly string[];
  readonly maxSteps: number;
}

/** Well-formed GET/POST/PUT/DELETE/FETCH with the options each method uses. */
function requestArb(paths: readonly string[]): fc.Arbitrary<Draft> {
  return fc
    .record({
      type: typeArb,
      method: fc.constantFrom(Method.GET, Method.POST, Method.PUT, Method.DELETE, Method.FETCH),
      path: pathArb(paths),
      query: fc.array(queryArb, { maxLength: 2 }),
      accept: fc.option(contentFormatArb, { nil: undefined }),
      contentFormat: fc.option(contentFormatArb, { nil: undefined }),
      etags: fc.array(bytes(1, 8), { maxLength: 2 }),
      ifMatch: fc.option(bytes(0, 8), { nil: undefined }),
      ifNoneMatch: fc.boolean(),
      size: fc.boolean(),
      payload: bytes(0, 64),
      token: bytes(0, 8),
    })
    .map((r) => {
      const options = [...pathOptions(r.path), ...r.query.map((q) => opt('Uri-Query', q))];
      const withBody = r.method === Method.POST || r.method === Method.PUT || r.method === Method.FETCH;
      const payload = withBody ? r.payload : EMPTY;
      if (r.method === Method.GET || r.method === Method.FETCH) {
        if (r.accept !== undefined) options.push(opt('Accept', r.accept));
      }
      if (r.method === Method.GET) {
        for (const e of r.etags) options.push(opt('ETag', e));
        if (r.size) options.push(opt('Size2', 0)); // "tell me the size" [RFC7959 4]
      }
      if (withBody) {
        const cf = r.contentFormat ?? (r.method === Method.FETCH ? 50 : undefined);
        if (cf !== undefined && (payload.length > 0 || r.method === Method.FETCH)) options.push(opt('Content-Format', cf));
        if (r.size && payload.length > 0) options.push(opt('Size1', payload.length));
      }
      if (r.method === Method.PUT || r.method === Method.DELETE) {
        if (r.ifMatch) options.push(opt('If-Match', r.ifMatch));
        else if (r.ifNoneMatch && r.method === Method.PUT) options.push(opt('If-None-Match', EMPTY));
      }
      return { type: r.type, code: r.method, token: r.token, options, payload };
    });
}

const ping: Draft = { type: Type.CON, code: 0, token: EMPTY, options: [] };

/** A small plain request, so what a hostile case changes is what its label says. */
function plainArb(paths: readonly string[], methods: readonly number[] = [Method.GET, Method.POST, Method.PUT]) {
  return fc.record({ type: typeArb, code: fc.constantFrom(...methods), path: pathArb(paths), token: bytes(0, 8), messageId: midArb }).map(
    ({ path, ...m }): RawCoapMessage => ({ ...m, options: pathOptions(path) }),
  );
}

interface BlockPlan {
  readonly method: number;
  readonly path: string;
  readonly type: 0 | 1;
  readonly token: Uint8Array;
  readonly contentFormat: number | undefined;
}

const blockPlanArb = (paths: readonly string[]) =>
  fc.record({
    method: fc.constantFrom(Method.PUT, Method.POST),
    path: pathArb(paths),
    type: typeArb,
    token: bytes(1, 8),
    contentFormat: fc.option(contentFormatArb, { nil: undefined }),
  });

/** Block `num` of a Block1 upload [RFC7959 2.5]: Size1 goes with block 0 [RFC7959 4]. */
function block1Draft(p: BlockPlan, b: { num: number; more: boolean; szx: number; payload: Uint8Array; size1?: number }): Draft {
  const options = [...pathOptions(p.path), opt('Block1', encodeBlockOption(b))];
  if (p.contentFormat !== undefined) options.push(opt('Content-Format', p.contentFormat));
  if (b.size1 !== undefined) options.push(opt('Size1', b.size1));
  return { type: p.type, code: p.method, token: p.token, options, payload: b.payload };
}

/** A body of `n` blocks of 2^(szx+4) bytes, the last one `last` bytes; block i as a Draft. */
function uploadBlocks(p: BlockPlan, szx: number, n: number, last: number, seed: number): Draft[] {
  const size = blockSize(szx);
  const total = (n - 1) * size + last;
  const body = filler(total, seed);
  return Array.from({ length: n }, (_, i) =>
    block1Draft(p, { num: i, more: i < n - 1, szx, payload: body.subarray(i * size, Math.min(total, (i + 1) * size)), ...(i === 0 ? { size1: total } : {}) }),
  );
}

// ------------------------------------------------------------------ valid mode

interface Scenario {
  readonly label: string;
  readonly drafts: readonly Draft[];
}

const methodOf = (d: Draft) => (d.code === 0 ? 'ping' : codeText(d.code));

function validScenarios(ctx: Ctx): fc.WeightedArbitrary<Scenario>[] {
  const { paths, maxSteps } = ctx;
  const s: fc.WeightedArbitrary<Scenario>[] = [];
  const requests = fc.array(fc.oneof({ arbitrary: requestArb(paths), weight: 9 }, { arbitrary: fc.constant(ping), weight: 1 }), {
    minLength: 1,
    maxLength: maxSteps,
  });
  s.push({
    weight: 4,
    arbitrary: requests.map((drafts) => ({ label: `${drafts.length} request${drafts.length > 1 ? 's' : ''}: ${drafts.map(methodOf).join(', ')}`, drafts })),
  });
  s.push({ weight: 1, arbitrary: fc.constant({ label: 'CON ping', drafts: [ping] }) });

  // observe register (Observe=0), a few other requests, cancel (Observe=1) with the same token [RFC7641 3.1, 3.6]
  s.push({
    weight: 2,
    arbitrary: fc
      .record({
        type: typeArb,
        path: pathArb(paths),
        token: bytes(1, 8),
        accept: fc.option(contentFormatArb, { nil: undefined }),
        between: fc.array(requestArb(paths), { maxLength: Math.max(0, Math.min(2, maxSteps - 2)) }),
      })
      .map(({ type, path, token, accept, between }) => {
        const base = [...pathOptions(path), ...(accept === undefined ? [] : [opt('Accept', accept)])];
        const register: Draft = { type, code: Method.GET, token, options: [...base, opt('Observe', 0)] };
        const cancel: Draft = { type, code: Method.GET, token, options: [...base, opt('Observe', 1)] };
        const drafts = maxSteps === 1 ? [register] : [register, ...between, cancel];
        return { label: `observe ${maxSteps === 1 ? 'register' : 'register+cancel'} ${path} token=${token.length}B`, drafts };
      }),
  });

  // a whole Block1 upload: blocks 0..n-1, M on all but the last, Size1 on the first [RFC7959 2.5, 4]
  s.push({
    weight: 2,
    arbitrary: fc
      .record({ plan: blockPlanArb(paths), szx: szxArb, n: fc.integer({ min: 1, max: maxSteps }), last: fc.integer({ min: 1, max: 1024 }), seed: fc.nat(255) })
      .map(({ plan, szx, n, last, seed }) => {
        const lastLen = 1 + ((last - 1) % blockSize(szx));
        const drafts = uploadBlocks(plan, szx, n, lastLen, seed);
        const total = (n - 1) * blockSize(szx) + lastLen;
        return { label: `block1 ${codeText(plan.method)} ${plan.path} ${total}B in ${n} x ${blockSize(szx)}B blocks`, drafts };
      }),
  });

  // an upload that stops after k of n blocks (the client gave up)
  s.push({
    weight: 1,
    arbitrary: fc
      .record({ plan: blockPlanArb(paths), szx: szxArb, n: fc.integer({ min: 2, max: 64 }), k: fc.integer({ min: 1, max: maxSteps }), seed: fc.nat(255) })
      .map(({ plan, szx, n, k, seed }) => {
        const sent = Math.min(k, n - 1);
        const drafts = uploadBlocks(plan, szx, n, blockSize(szx), seed).slice(0, sent);
        return { label: `block1 ${codeText(plan.method)} ${plan.path} ${sent} of ${n} x ${blockSize(szx)}B blocks, interrupted`, drafts };
      }),
  });

  // an upload with one block in the middle skipped (lost, never retransmitted)
  if (maxSteps >= 2) {
    s.push({
      weight: 1,
      arbitrary: fc
        .record({ plan: blockPlanArb(paths), szx: szxArb, n: fc.integer({ min: 3, max: maxSteps + 1 }), skip: fc.nat(maxSteps), seed: fc.nat(255) })
        .map(({ plan, szx, n, skip, seed }) => {
          const gap = 1 + (skip % (n - 2));
          const drafts = uploadBlocks(plan, szx, n, blockSize(szx), seed).filter((_, i) => i !== gap);
          return { label: `block1 ${codeText(plan.method)} ${plan.path} ${n} x ${blockSize(szx)}B blocks, block ${gap} skipped`, drafts };
        }),
    });
  }

  // Block2 requests: GET block first..first+k-1 of a representation [RFC7959 2.4]
  s.push({
    weight: 2,
    arbitrary: fc
      .record({ type: typeArb, path: pathArb(paths), token: bytes(1, 8), szx: szxArb, first: fc.nat(15), k: fc.integer({ min: 1, max: maxSteps }), size2: fc.boolean() })
      .map(({ type, path, token, szx, first, k, size2 }) => {
        const drafts = Array.from({ length: k }, (_, i): Draft => {
          const options = [...pathOptions(path), opt('Block2', encodeBlockOption({ num: first + i, more: false, szx }))];
          if (size2 && i === 0) options.push(opt('Size2', 0));
          return { type, code: Method.GET, token, options };
        });
        return { label: `block2 GET ${path} blocks ${first}..${first + k - 1} of ${blockSize(szx)}B`, drafts };
      }),
  });
  return s;
}

// ------------------------------------------------------------------ hostile mode

interface HostileRule {
  /** The case label: the rule broken and where it is stated. */
  readonly rule: string;
  /** Fewest datagrams the rule needs. */
  readonly minSteps: number;
  readonly steps: (ctx: Ctx) => fc.Arbitrary<FuzzStep[]>;
}

const one = (a: fc.Arbitrary<RawCoapMessage>) => a.map((m) => [stepOf(m)]);
const rawStep = (b: Uint8Array, what: string): FuzzStep => ({ bytes: b, label: `${b.length}-byte datagram${b.length ? ` ${Buffer.from(b).toString('hex')}` : ''} (${what})` });

/** A request padded with payload to exactly `total` bytes on the wire. */
function sized(m: RawCoapMessage, total: number, seed: number): FuzzStep {
  const bare = encodeCoap({ ...m, payload: EMPTY }).length;
  const m2 = { ...m, payload: filler(Math.max(1, total - bare - 1), seed) };
  const s = stepOf(m2);
  return { bytes: s.bytes, label: `${s.label} (${s.bytes.length}B datagram)` };
}

const optionsEnd = (m: RawCoapMessage) => m.options.reduce((n, o) => Math.max(n, o.number), 0);

function blockRun(ctx: Ctx, minN: number) {
  return fc.record({
    plan: blockPlanArb(ctx.paths),
    szx: fc.integer({ min: 0, max: 3 }),
    n: fc.integer({ min: minN, max: Math.max(minN, ctx.maxSteps) }),
    seed: fc.nat(255),
    messageId: midArb,
  });
}

/** Block drafts with consecutive message ids. */
const numbered = (drafts: readonly Draft[], firstMid: number) => drafts.map((d, i) => stepOf({ ...d, messageId: (firstMid + i) & 0xffff }));

const HOSTILE_RULES: readonly HostileRule[] = [
  // ---- header [RFC7252 3]
  {
    rule: 'version != 1 [RFC7252 3]',
    minSteps: 1,
    steps: ({ paths }) => one(fc.tuple(plainArb(paths), fc.constantFrom(0, 2, 3)).map(([m, version]) => ({ ...m, version }))),
  },
  {
    rule: 'token length nibble 9-15 (reserved) [RFC7252 3]',
    minSteps: 1,
    steps: ({ paths }) =>
      one(fc.tuple(plainArb(paths), fc.integer({ min: 9, max: 15 }), bytes(15, 15)).map(([m, n, t]) => ({ ...m, token: t.subarray(0, n), tokenLengthNibble: n }))),
  },
  {
    rule: 'token length beyond the datagram end [RFC7252 3]',
    minSteps: 1,
    steps: () =>
      one(
        fc.record({ type: typeArb, messageId: midArb, claimed: fc.integer({ min: 1, max: 8 }), present: bytes(0, 7) }).map(({ type, messageId, claimed, present }) => ({
          type,
          code: Method.GET,
          messageId,
          token: present.subarray(0, claimed - 1),
          tokenLengthNibble: claimed,
          options: [],
        })),
      ),
  },
  {
    rule: 'datagram shorter than the 4-byte header [RFC7252 3]',
    minSteps: 1,
    steps: ({ paths }) => fc.tuple(plainArb(paths), fc.integer({ min: 1, max: 3 })).map(([m, k]) => [rawStep(encodeCoap(m).subarray(0, k), 'truncated header')]),
  },
  {
    rule: 'zero-length datagram [RFC7252 3]',
    minSteps: 1,
    steps: () => fc.constant([rawStep(new Uint8Array(0), 'no header')]),
  },
  {
    rule: 'reserved code class 1, 6 or 7 [RFC7252 3]',
    minSteps: 1,
    steps: ({ paths }) =>
      one(fc.tuple(plainArb(paths), fc.constantFrom(1, 6, 7), fc.integer({ min: 0, max: 31 })).map(([m, cls, detail]) => ({ ...m, code: (cls << 5) | detail }))),
  },
  {
    rule: 'payload marker followed by an empty payload [RFC7252 3]',
    minSteps: 1,
    steps: ({ paths }) => one(plainArb(paths).map((m) => ({ ...m, payloadMarkerWithoutPayload: true }))),
  },
  // ---- message types and the empty message [RFC7252 4]
  {
    rule: 'empty message (0.00) with a token [RFC7252 4.1]',
    minSteps: 1,
    steps: () => one(fc.record({ type: typeArb, messageId: midArb, token: bytes(1, 8) }).map((m) => ({ ...m, code: 0, options: [] }))),
  },
  {
    rule: 'empty message (0.00) with a payload [RFC7252 4.1]',
    minSteps: 1,
    steps: () => one(fc.record({ type: typeArb, messageId: midArb, payload: bytes(1, 32) }).map((m) => ({ ...m, code: 0, token: EMPTY, options: [] }))),
  },
  {
    rule: 'ACK carrying a request code [RFC7252 4.2]',
    minSteps: 1,
    steps: ({ paths }) => one(plainArb(paths).map((m) => ({ ...m, type: Type.ACK }))),
  },
  {
    rule: 'RST carrying a request code [RFC7252 4.2]',
    minSteps: 1,
    steps: ({ paths }) => one(plainArb(paths).map((m) => ({ ...m, type: Type.RST }))),
  },
  {
    // the same CON twice: the second is a duplicate to acknowledge, not a new request
    rule: 'same CON repeated at a message id edge (deduplication) [RFC7252 4.5]',
    minSteps: 2,
    steps: ({ paths, maxSteps }) =>
      fc
        .tuple(requestArb(paths), fc.constantFrom(0, 0xffff), fc.integer({ min: 2, max: Math.max(2, Math.min(4, maxSteps)) }))
        .map(([d, messageId, times]) => Array.from({ length: times }, () => stepOf({ ...d, type: Type.CON, messageId }))),
  },
  {
    rule: 'datagram at the 1152-byte message size bound [RFC7252 4.6]',
    minSteps: 1,
    steps: ({ paths }) =>
      fc.tuple(plainArb(paths, [Method.POST, Method.PUT]), fc.constantFrom(1152, 1153, 1280, 1281), fc.nat(255)).map(([m, total, seed]) => [sized(m, total, seed)]),
  },
  {
    rule: 'datagram far above the path MTU, up to 65000 bytes [RFC7252 4.6]',
    minSteps: 1,
    steps: ({ paths }) =>
      fc
        .tuple(
          plainArb(paths, [Method.POST, Method.PUT]),
          fc.oneof(fc.constantFrom(MAX_DATAGRAM, 0x8000, 0x2000), fc.integer({ min: 1501, max: MAX_DATAGRAM })),
          fc.nat(255),
        )
        .map(([m, total, seed]) => [sized(m, total, seed)]),
  },
  // ---- option structure [RFC7252 3.1]
  {
    rule: 'option delta nibble 15 outside the payload marker (reserved) [RFC7252 3.1]',
    minSteps: 1,
    steps: ({ paths }) =>
      one(
        fc.tuple(plainArb(paths), fc.integer({ min: 0, max: 14 }), bytes(0, 14)).map(([m, len, v]) => ({
          ...m,
          rawOptions: Buffer.concat([encodeOptions(m.options), Buffer.from([0xf0 | len]), v.subarray(0, len)]),
        })),
      ),
  },
  {
    rule: 'option length nibble 15 (reserved) [RFC7252 3.1]',
    minSteps: 1,
    steps: ({ paths }) =>
      one(
        fc.tuple(plainArb(paths), fc.integer({ min: 0, max: 12 }), bytes(0, 16)).map(([m, delta, v]) => ({
          ...m,
          rawOptions: Buffer.concat([encodeOptions(m.options), Buffer.from([(delta << 4) | 0x0f]), v]),
        })),
      ),
  },
  {
    rule: 'extended option delta/length cut off at the datagram end [RFC7252 3.1]',
    minSteps: 1,
    steps: ({ paths }) =>
      one(
        fc
          .tuple(plainArb(paths), fc.constantFrom([0xd0], [0xe0], [0xe0, 0x00], [0x0d], [0x0e], [0x0e, 0x01], [0xdd, 0x00], [0xee, 0x00, 0x01]))
          .map(([m, cut]) => ({ ...m, rawOptions: Buffer.concat([encodeOptions(m.options), Buffer.from(cut)]) })),
      ),
  },
  {
    rule: 'option value runs past the datagram end [RFC7252 3.1]',
    minSteps: 1,
    steps: ({ paths }) =>
      one(
        fc.tuple(plainArb(paths), fc.integer({ min: 1, max: 400 }), bytes(0, 12)).map(([m, claimed, v]) => {
          const uriQuery = OPTIONS['Uri-Query'].number;
          const header = optionHeader(uriQuery - optionsEnd(m), claimed);
          return { ...m, rawOptions: Buffer.concat([encodeOptions(m.options), Buffer.from(header), v.subarray(0, claimed - 1)]) };
        }),
      ),
  },
  {
    rule: 'option number past 65535 [RFC7252 3.1]',
    minSteps: 1,
    steps: ({ paths }) =>
      one(
        fc.tuple(plainArb(paths), fc.integer({ min: 1, max: 269 }), fc.boolean(), bytes(0, 4)).map(([m, over, split, v]) => {
          const start = optionsEnd(m);
          const target = 0xffff + over;
          // one huge delta, or a legal option at 65000 and then a delta that crosses 65535
          const tail = split
            ? Buffer.concat([rawOption(65000 - start, EMPTY), rawOption(target - 65000, v)])
            : rawOption(target - start, v);
          return { ...m, rawOptions: Buffer.concat([encodeOptions(m.options), tail]) };
        }),
      ),
  },
  // ---- option semantics [RFC7252 5.4]
  {
    rule: 'unrecognized critical option in a CON request [RFC7252 5.4.1]',
    minSteps: 1,
    steps: ({ paths }) =>
      one(
        fc
          .tuple(plainArb(paths), fc.oneof(fc.constantFrom(9, 13, 25, 29, 33, 37, 41), fc.integer({ min: 32500, max: 32767 }).map((n) => 2 * n + 1)), bytes(0, 8))
          .map(([m, number, value]) => ({ ...m, type: Type.CON, options: [...m.options, { number, value }] })),
      ),
  },
  {
    rule: 'non-repeatable option repeated [RFC7252 5.4.5]',
    minSteps: 1,
    steps: ({ paths }) =>
      one(
        fc.tuple(plainArb(paths), fc.constantFrom(...NON_REPEATABLE), fc.nat(0xffff), fc.nat(0xffff)).map(([m, name, a, b]) => {
          const value = (x: number): Uint8Array => {
            const spec: OptionSpec = OPTIONS[name];
            if (spec.format === 'empty') return EMPTY;
            if (spec.format === 'string') return Buffer.from(`h${x}.example`);
            if (spec.format === 'block') return encodeBlockOption({ num: x % 16, more: false, szx: x % 7 });
            return encodeUintOption(x); // every non-repeatable uint option holds 2 bytes
          };
          return { ...m, options: [...m.options, opt(name, value(a)), opt(name, value(b))] };
        }),
      ),
  },
  {
    rule: 'Content-Format value of 4 bytes, range 0-2 [RFC7252 5.4.3]',
    minSteps: 1,
    steps: ({ paths }) =>
      one(
        fc.tuple(plainArb(paths, [Method.POST, Method.PUT]), bytes(4, 4), bytes(1, 32)).map(([m, cf, payload]) => ({
          ...m,
          options: [...m.options, opt('Content-Format', cf)],
          payload,
        })),
      ),
  },
  {
    rule: 'Uri-Path segment over 255 bytes [RFC7252 5.4.3]',
    minSteps: 1,
    steps: ({ paths }) =>
      one(
        fc.tuple(plainArb(paths, [Method.GET]), fc.integer({ min: 256, max: 1024 }), fc.constantFrom(...'abcxyz')).map(([m, n, c]) => ({
          ...m,
          options: [...m.options, opt('Uri-Path', c.repeat(n))],
        })),
      ),
  },
  // ---- observe [RFC7641]
  {
    rule: 'Observe value of 4 bytes, range 0-3 [RFC7641 2]',
    minSteps: 1,
    steps: ({ paths }) =>
      one(fc.tuple(plainArb(paths, [Method.GET]), bytes(4, 4)).map(([m, v]) => ({ ...m, token: m.token.length ? m.token : Uint8Array.of(1), options: [...m.options, opt('Observe', v)] }))),
  },
  {
    rule: 'observe registration flood with distinct tokens [RFC7641 4.1]',
    minSteps: 2,
    steps: ({ paths, maxSteps }) =>
      fc
        .record({ type: typeArb, path: pathArb(paths), count: fc.integer({ min: 2, max: Math.max(2, maxSteps) }), tokenBase: fc.nat(0xffff_0000), messageId: midArb })
        .map(({ type, path, count, tokenBase, messageId }) =>
          Array.from({ length: count }, (_, i) => {
            const token = Buffer.alloc(4);
            token.writeUInt32BE((tokenBase + i) % 2 ** 32);
            return stepOf({ type, code: Method.GET, messageId: (messageId + i) & 0xffff, token, options: [...pathOptions(path), opt('Observe', 0)] });
          }),
        ),
  },
  // ---- block-wise [RFC7959]
  {
    rule: 'Block1 SZX 7 (reserved) [RFC7959 2.2]',
    minSteps: 1,
    steps: ({ paths }) =>
      fc
        .tuple(blockPlanArb(paths), fc.nat(3), fc.boolean(), bytes(16, 64), midArb)
        .map(([p, num, more, payload, messageId]) => [stepOf({ ...block1Draft(p, { num, more, szx: 7, payload }), messageId })]),
  },
  {
    rule: 'Block2 value longer than 3 bytes [RFC7959 2.1]',
    minSteps: 1,
    steps: ({ paths }) => one(fc.tuple(plainArb(paths, [Method.GET]), bytes(4, 8)).map(([m, v]) => ({ ...m, options: [...m.options, opt('Block2', v)] }))),
  },
  {
    rule: 'Block1 NUM huge, offset past any body [RFC7959 2.5]',
    minSteps: 1,
    steps: ({ paths }) =>
      fc
        .tuple(blockPlanArb(paths), fc.oneof(fc.constantFrom(0xfffff, 0xffffe, 0x80000), fc.integer({ min: 0x10000, max: 0xfffff })), fc.boolean(), szxArb, fc.nat(255), midArb)
        .map(([p, num, more, szx, seed, messageId]) => [stepOf({ ...block1Draft(p, { num, more, szx, payload: filler(more ? blockSize(szx) : 1 + (seed % blockSize(szx)), seed) }), messageId })]),
  },
  {
    rule: 'Block1 M=1 with no last block [RFC7959 2.5]',
    minSteps: 2,
    steps: (ctx) =>
      blockRun(ctx, 2).map(({ plan, szx, n, seed, messageId }) => {
        const drafts = uploadBlocks(plan, szx, n + 1, blockSize(szx), seed).slice(0, n); // a body that never ends
        return numbered(drafts, messageId);
      }),
  },
  {
    rule: 'Block1 SZX changes mid-transfer [RFC7959 2.5]',
    minSteps: 2,
    steps: (ctx) =>
      fc.tuple(blockRun(ctx, 2), fc.nat(ctx.maxSteps), fc.integer({ min: 1, max: 6 })).map(([{ plan, szx, n, seed, messageId }, at, shift]) => {
        const switchAt = 1 + (at % (n - 1));
        const other = (szx + shift) % 7;
        const drafts = Array.from({ length: n }, (_, i) => {
          const s = i < switchAt ? szx : other;
          return block1Draft(plan, { num: i, more: i < n - 1, szx: s, payload: filler(blockSize(s), seed + i) });
        });
        return numbered(drafts, messageId);
      }),
  },
  {
    rule: 'Block1 blocks out of order [RFC7959 2.5]',
    minSteps: 2,
    steps: (ctx) =>
      fc.tuple(blockRun(ctx, 2), fc.nat(ctx.maxSteps), fc.nat(ctx.maxSteps)).map(([{ plan, szx, n, seed, messageId }, a, b]) => {
        const i = a % n;
        const j = (i + 1 + (b % (n - 1))) % n; // never i
        const drafts = uploadBlocks(plan, szx, n, blockSize(szx), seed);
        const order = drafts.map((_, k) => (k === i ? j : k === j ? i : k));
        return numbered(
          order.map((k) => drafts[k]!),
          messageId,
        );
      }),
  },
  {
    rule: 'Size1 of 2^32-1 announced for an upload [RFC7959 4]',
    minSteps: 1,
    steps: (ctx) =>
      blockRun(ctx, 1).map(({ plan, szx, n, seed, messageId }) => {
        const drafts = Array.from({ length: n }, (_, i) =>
          block1Draft(plan, { num: i, more: true, szx, payload: filler(blockSize(szx), seed + i), ...(i === 0 ? { size1: 0xffff_ffff } : {}) }),
        );
        return numbered(drafts, messageId);
      }),
  },
];

/** The labels hostile cases carry, one per rule. */
export const COAP_HOSTILE_RULES: readonly string[] = HOSTILE_RULES.map((r) => `hostile: ${r.rule}`);

// ------------------------------------------------------------------ public arbitraries

function resolve(opts: CoapCaseOptions): Ctx {
  const maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
  field('maxSteps', maxSteps, Number.MAX_SAFE_INTEGER);
  if (maxSteps < 1) throw new RangeError('maxSteps: must be at least 1');
  const paths = opts.paths && opts.paths.length > 0 ? opts.paths : DEFAULT_PATHS;
  return { paths, maxSteps };
}

/** Fuzz cases for one UDP socket: valid ones, or ones that each break one rule (the label says which). */
export function coapCaseArb(opts: CoapCaseOptions): fc.Arbitrary<FuzzCase> {
  const ctx = resolve(opts);
  if (opts.mode === 'valid') {
    return fc
      .tuple(fc.oneof(...validScenarios(ctx)), midArb)
      .map(([s, firstMid]) => ({ label: s.label, steps: s.drafts.map((d, i) => stepOf({ ...d, messageId: (firstMid + i) & 0xffff })) }));
  }
  const rules = HOSTILE_RULES.filter((r) => r.minSteps <= ctx.maxSteps);
  return fc.oneof(...rules.map((r) => r.steps(ctx).map((steps): FuzzCase => ({ label: `hostile: ${r.rule}`, steps }))));
}

/** One datagram: a valid request, ping or single block, or one that breaks one rule (the rule leads the label). */
export function coapMessageArb(mode: FuzzMode, paths?: readonly string[]): fc.Arbitrary<FuzzStep> {
  return coapCaseArb({ mode, maxSteps: 1, ...(paths ? { paths } : {}) }).map((c) => {
    const step = c.steps[0]!;
    return mode === 'hostile' ? { bytes: step.bytes, label: `${c.label} — ${step.label}` } : step;
  });
}
