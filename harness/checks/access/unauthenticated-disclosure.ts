// access.unauthenticated-disclosure (C13): without credentials the device
// discloses only what it declares (IXIT 15-Intf "Disclosed Information":
// declaration.disclosure). What an anonymous client can collect:
//   MQTT: if an anonymous CONNECT is accepted, `$SYS/#` for a short window;
//         any $SYS message while disclosure.mqttSys is false is a finding.
//   HTTP: replies to requests that provoke errors (the probe path, an unknown
//         path, malformed JSON to the login route, a 4 KiB path): product and
//         version strings in headers and bodies not covered by
//         disclosure.banners; stack traces and absolute file paths, always.
//   CoAP: an unknown resource and /.well-known/core: versions or stack
//         traces in error payloads; versions in link-format attributes.
// One finding per distinct disclosure per interface, with the reply excerpt.

import mqttPacket from 'mqtt-packet';
import type {
  Check,
  CheckContext,
  CoapInterface,
  FindingDraft,
  HttpInterface,
  Interface,
  MqttInterface,
  TranscriptEntry,
} from '../../model/index.js';
import { TranscriptRecorder } from '../../core/transcript.js';
import { hexOf, printable, type Io } from '../../protocols/common/io.js';
import { codeName, coapExchange, type CoapOutcome } from '../../protocols/coap/exchange.js';
import { connectStream } from '../../protocols/common/stream.js';
import { httpExchange, type HttpOutcome } from '../../protocols/http/exchange.js';
import { connectFor } from '../../protocols/mqtt/connect-attempt.js';
import { DISCONNECT } from '../../protocols/mqtt/connect-bytes.js';
import { connackMeaning } from '../../protocols/mqtt/reason-codes.js';
import { ioOf } from '../io.js';
import { requirementsOf } from '../requirements.js';

/** How long `$SYS/#` is listened to after the SUBACK. */
export const SYS_WINDOW_MS = 500;
const SYS_MESSAGE_CAP = 200;

// ---------------------------------------------------------------------------
// What counts as a disclosure in a piece of text.

export type DisclosureKind = 'version' | 'product' | 'stack-trace' | 'file-path';

export interface Disclosure {
  readonly kind: DisclosureKind;
  /** The disclosed string itself, e.g. `nginx/1.18.0`, `1.0.0`, `at handle (/app/x.js:1:2)`. */
  readonly token: string;
  /** The text around it, printable. */
  readonly excerpt: string;
}

/** Server and framework names that identify a software stack even without a version. */
export const STACK_NAMES: readonly string[] = [
  'node', 'node.js', 'nodejs', 'express', 'koa', 'fastify', 'nginx', 'openresty', 'lighttpd', 'boa', 'goahead', 'mini_httpd', 'micro_httpd',
  'thttpd', 'uhttpd', 'civetweb', 'mongoose', 'cherokee', 'apache', 'tomcat', 'jetty', 'microsoft-iis', 'iis', 'asp.net', 'kestrel', 'php',
  'python', 'werkzeug', 'flask', 'django', 'gunicorn', 'uvicorn', 'tornado', 'busybox', 'mosquitto', 'aedes', 'hivemq', 'emqx', 'vernemq',
  'rabbitmq', 'libcoap', 'californium', 'aiocoap', 'node-coap', 'openssl', 'mbedtls', 'wolfssl', 'tinydtls', 'lwip', 'zephyr', 'contiki',
  'freertos', 'esp-idf', 'openwrt', 'rd1', 'rd-1',
];

/** Protocol names that look like `name/1.1` but disclose nothing about the product. */
const PROTOCOL_NAMES = new Set(['http', 'https', 'coap', 'coaps', 'mqtt', 'mqtts', 'tls', 'dtls', 'ssl', 'rtsp', 'sip']);

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const STACK_NAME_RE = new RegExp(`(?<![\\w.-])(${STACK_NAMES.map(escapeRe).join('|')})(?![\\w])`, 'gi');
/** `nginx/1.18.0`, `mosquitto version 2.0.11`, `RD-1 v1.2`. */
const NAME_VERSION_RE = /(?<![\w.-])([A-Za-z][\w.+-]*?)(?:\/|\s+version\s+|\s+v|\s+(?=\d+\.\d+\.\d))(v?\d+(?:\.\d+)+(?:[-+~][0-9A-Za-z][0-9A-Za-z.-]*)?)/gi;
/** A three-part version not part of an IPv4 address. */
const VERSION_RE = /(?<![\w.])v?\d{1,4}\.\d{1,4}\.\d{1,6}(?!\.?\d)(?:[-+~][0-9A-Za-z][0-9A-Za-z.-]*)?/g;

const STACK_TRACE_RES: readonly RegExp[] = [
  // V8: `at fn (/path/file.js:10:5)`, `at /path/file.js:10:5`, `at node:internal/x:1:2`
  /\bat\s+(?:[^\s()]+(?:\s\[as [^\]]+\])?\s+)?\(?(?:file:\/\/|node:|[A-Za-z]:[\\/]|\/)[^\s()'"]*:\d+(?::\d+)?\)?/g,
  // Java: `at com.acme.Foo.bar(Foo.java:42)`
  /\bat\s+[\w$]+(?:\.[\w$<>]+)+\([\w$]+\.(?:java|kt|scala):\d+\)/g,
  /Traceback \(most recent call last\)/g,
  /File "[^"]+", line \d+/g,
  /\bStack trace:/g,
  /[\w-]+\.(?:m?js|cjs|ts):\d+(?::\d+)?/g,
  /[\w-]+\.py"/g,
  /\b[\w.$]*Exception\b/g,
];

const FILE_PATH_RES: readonly RegExp[] = [
  /(?<![\w.~:/-])\/(?:home|usr|opt|var|srv|etc|root|tmp|app|apps|src|lib|www|mnt|data|work|workspace|build|proc|sys|bin|sbin|firmware|flash|mtd|rom)(?:\/[\w.@+-]+)+/g,
  /(?<![\w.~:/-])(?:\/[\w.@+-]+){2,}\.(?:m?js|cjs|ts|py|php|rb|go|java|c|h|cc|cpp|lua|sh|conf|cfg|ini|db|so)\b/g,
  /(?<![\w])[A-Za-z]:\\(?:[\w .@+-]+\\)+[\w .@+-]*/g,
];

function excerptAt(text: string, index: number, length: number, span = 40): string {
  const from = Math.max(0, index - span);
  const to = Math.min(text.length, index + length + span);
  return `${from > 0 ? '…' : ''}${printable(text.slice(from, to), 2 * span + length)}${to < text.length ? '…' : ''}`;
}

/** Blanks every occurrence of a declared banner, so only undeclared text is judged. */
export function withoutBanners(text: string, banners: readonly string[]): string {
  let out = text;
  for (const b of banners) {
    if (b.trim() === '') continue;
    out = out.replace(new RegExp(escapeRe(b), 'gi'), (m) => ' '.repeat(m.length));
  }
  return out;
}

function matchesOf(re: RegExp, text: string): RegExpMatchArray[] {
  return [...text.matchAll(new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`))];
}

/**
 * The disclosures in one reply text. Stack traces and absolute file paths
 * count whatever the banners say; product and version strings count unless
 * a declared banner covers them.
 */
export function findDisclosures(text: string, banners: readonly string[]): Disclosure[] {
  const out: Disclosure[] = [];
  const seen = new Set<string>();
  const add = (kind: DisclosureKind, token: string, index: number) => {
    const key = `${kind}:${token.toLowerCase()}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ kind, token, excerpt: excerptAt(text, index, token.length) });
  };
  // Traces first; what they cover is not judged again as paths or versions.
  let rest = text;
  const blank = (m: RegExpMatchArray) => {
    rest = rest.slice(0, m.index!) + ' '.repeat(m[0].length) + rest.slice(m.index! + m[0].length);
  };
  let traced = false;
  for (const re of STACK_TRACE_RES) {
    for (const m of matchesOf(re, rest)) {
      if (!traced) add('stack-trace', m[0], m.index!);
      traced = true;
      blank(m);
    }
  }
  for (const re of FILE_PATH_RES) {
    for (const m of matchesOf(re, rest)) {
      if (!traced) add('file-path', m[0], m.index!);
      blank(m);
    }
  }
  rest = withoutBanners(rest, banners);
  for (const m of matchesOf(NAME_VERSION_RE, rest)) {
    if (PROTOCOL_NAMES.has(m[1]!.toLowerCase())) continue;
    // "peer 127.0.0.1": a bare space before a dotted quad names an address, not a version.
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(m[2]!) && !/[/v]/i.test(m[0].slice(m[1]!.length, m[0].length - m[2]!.length))) continue;
    if (!coveredByBanner(m[0], banners)) add('version', m[0], m.index!);
    blank(m);
  }
  for (const m of matchesOf(VERSION_RE, rest)) {
    if (!coveredByBanner(m[0], banners)) add('version', m[0], m.index!);
    blank(m);
  }
  for (const m of matchesOf(STACK_NAME_RE, rest)) if (!coveredByBanner(m[1]!, banners)) add('product', m[1]!, m.index!);
  return out;
}

/**
 * A product or version token discloses nothing new when one declared banner
 * already holds all of its words: with "rd1-firmware 1.0.0" declared,
 * "rd1-firmware/1.0.0" and a bare "1.0.0" are covered; "node v20.1.0" is not.
 */
export function coveredByBanner(token: string, banners: readonly string[]): boolean {
  const words = token.toLowerCase().split(/[\s/]+|\bversion\b/).map((w) => w.replace(/^v(?=\d)/, '')).filter((w) => w.length > 0);
  return banners.some((b) => {
    const banner = b.toLowerCase();
    return banner.trim() !== '' && words.every((w) => banner.includes(w));
  });
}

/** JSON bodies are judged on their decoded keys and strings (`"a\/b\n"` becomes real text). */
function readable(body: string): string {
  try {
    const lines: string[] = [];
    const walk = (v: unknown, key?: string) => {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') lines.push(key === undefined ? String(v) : `${key}: ${String(v)}`);
      else if (Array.isArray(v)) v.forEach((x) => walk(x, key));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
    };
    walk(JSON.parse(body));
    return lines.join('\n');
  } catch {
    return body;
  }
}

// ---------------------------------------------------------------------------
// The check.

interface Collected {
  /** Dedup key -> finding being built. */
  readonly findings: Map<string, { draft: Omit<FindingDraft, 'evidence'>; observed: string[]; transcript: readonly TranscriptEntry[] }>;
  readonly tried: string[];
}

const SERVED = (i: Interface) => i.role === 'server';

export const unauthenticatedDisclosure: Check = {
  id: 'access.unauthenticated-disclosure',
  title: 'Without authentication the device discloses only what is declared',
  catalog: ['C13'],
  requirements: requirementsOf('C13'),
  protocols: ['mqtt', 'mqtts', 'coap', 'coaps', 'http', 'https'],
  per: 'target',
  phase: 'main',
  severity: 'medium',
  remedy: 'Remove product and version strings from headers, banners, error replies and discovery records (or declare them), never send stack traces or file paths to clients, and deny $SYS to unauthenticated MQTT clients.',
  timeoutMs: 120_000,
  applies: (target) =>
    target.interfaces.some((i) => SERVED(i) && i.protocol !== 'coaps') ? undefined : 'no server interface over MQTT, HTTP or plain CoAP to collect unauthenticated replies from',
  async run(ctx) {
    const disclosure = ctx.target.declaration.disclosure;
    const declared = `mqttSys: ${disclosure.mqttSys}; banners: ${disclosure.banners.length ? disclosure.banners.map((b) => `"${b}"`).join(', ') : '(none)'}`;
    const c: Collected = { findings: new Map(), tried: [] };
    let answered = 0;
    for (const iface of ctx.target.interfaces) {
      if (ctx.signal.aborted) break;
      if (!SERVED(iface)) {
        c.tried.push(`${iface.id}: not probed (the device is a client there)`);
        continue;
      }
      switch (iface.protocol) {
        case 'mqtt':
        case 'mqtts':
          if (await mqttDisclosure(ctx, iface, c)) answered++;
          break;
        case 'http':
        case 'https':
          if (await httpDisclosure(ctx, iface, c)) answered++;
          break;
        case 'coap':
          if (await coapDisclosure(ctx, iface, c)) answered++;
          break;
        case 'coaps':
          c.tried.push(`${iface.id}: not probed (CoAP over DTLS needs a handshake first)`);
          break;
      }
    }
    for (const t of c.tried) ctx.transcript.note(t);
    const findings: FindingDraft[] = [...c.findings.values()].map(({ draft, observed, transcript }) => ({
      ...draft,
      evidence: { observed: observed.join('; '), declared, source: 'target:declaration.disclosure', transcript },
    }));
    const evidence = { observed: c.tried.join('; '), declared, source: 'target:declaration.disclosure', transcript: ctx.transcript.take() };
    if (ctx.signal.aborted) return { verdict: 'inconclusive', reason: 'interrupted before every interface was asked', findings: [], evidence };
    if (findings.length) {
      return { verdict: 'fail', reason: `${findings.length} undeclared disclosure(s) without authentication: ${c.tried.join('; ')}`, findings };
    }
    if (answered === 0) return { verdict: 'inconclusive', reason: `no interface answered: ${c.tried.join('; ')}`, findings: [], evidence };
    return { verdict: 'pass', reason: `nothing beyond the declaration disclosed: ${c.tried.join('; ')}`, findings: [], evidence };
  },
};

function ioFor(ctx: CheckContext, iface: Interface, transcript: TranscriptRecorder): Io {
  return { ...ioOf(ctx), peer: iface.id, transcript };
}

function addFinding(c: Collected, key: string, summary: string, observed: string, transcript: readonly TranscriptEntry[]): void {
  const prev = c.findings.get(key);
  if (prev) {
    if (!prev.observed.includes(observed) && prev.observed.length < 8) prev.observed.push(observed);
    return;
  }
  c.findings.set(key, { draft: { summary }, observed: [observed], transcript });
}

/** Files each disclosure found in `text` (a reply to `what` on `iface`) under its dedup key. */
function judgeText(c: Collected, iface: Interface, where: string, what: string, text: string, raw: string, banners: readonly string[], transcript: readonly TranscriptEntry[]): number {
  const found = findDisclosures(text, banners);
  for (const d of found) {
    // Show the excerpt from the reply as sent when the token is there verbatim.
    const at = raw.indexOf(d.token);
    const excerpt = at >= 0 ? excerptAt(raw, at, d.token.length) : d.excerpt;
    const observed = `${what} -> ${where}: "${excerpt}"`;
    switch (d.kind) {
      case 'stack-trace':
        addFinding(c, `${iface.id}|stack-trace|${where}`, `${iface.id}: a stack trace in the ${where} of an unauthenticated reply (${printable(d.token, 60)})`, observed, transcript);
        break;
      case 'file-path':
        addFinding(c, `${iface.id}|file-path|${where}`, `${iface.id}: an absolute file path in the ${where} of an unauthenticated reply (${printable(d.token, 60)})`, observed, transcript);
        break;
      default:
        addFinding(
          c,
          `${iface.id}|${d.kind}|${where}|${d.token.toLowerCase()}`,
          `${iface.id}: the ${where} of an unauthenticated reply reveals "${printable(d.token, 60)}" (not a declared banner)`,
          observed,
          transcript,
        );
    }
  }
  return found.length;
}

// --- HTTP ------------------------------------------------------------------

/** Headers that exist to name the product: any value not covered by a banner is a disclosure. */
const PRODUCT_HEADERS = ['server', 'x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version', 'x-generator', 'x-server', 'x-firmware', 'x-firmware-version', 'x-version', 'x-runtime', 'x-software'];
/** Headers judged by content (a version string or a stack name inside). */
const TEXT_HEADERS = ['via', 'www-authenticate', 'x-backend', 'x-served-by'];

const headerText = (v: string | string[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : v);

async function httpDisclosure(ctx: CheckContext, iface: HttpInterface, c: Collected): Promise<boolean> {
  const banners = ctx.target.declaration.disclosure.banners;
  const unknown = `/gauntlet-${ctx.instance.seed.toString(16)}-no-such-path`;
  const requests: { label: string; method: string; path: string; body?: string; headers?: Record<string, string> }[] = [
    { label: `GET ${iface.probePath}`, method: 'GET', path: iface.probePath },
    { label: `GET ${unknown}`, method: 'GET', path: unknown },
  ];
  if (iface.protectedPath) requests.push({ label: `GET ${iface.protectedPath} (no session)`, method: 'GET', path: iface.protectedPath });
  if (iface.auth?.kind === 'json') {
    requests.push({ label: `${iface.auth.method} ${iface.auth.path} malformed JSON`, method: iface.auth.method, path: iface.auth.path, body: '{"username": "gauntlet", "password": ', headers: { 'content-type': 'application/json' } });
  }
  requests.push({ label: 'GET 4 KiB path', method: 'GET', path: `/${'A'.repeat(4096)}` });

  let answers = 0;
  let hits = 0;
  for (const req of requests) {
    if (ctx.signal.aborted) break;
    const transcript = new TranscriptRecorder();
    const r: HttpOutcome = await httpExchange(iface, req, ioFor(ctx, iface, transcript));
    ctx.caseDone(`${iface.id}: ${req.label}`);
    if (r.kind !== 'response') {
      ctx.transcript.note(`${iface.id}: ${req.label} -> ${r.kind}`);
      continue;
    }
    answers++;
    const shown = [...PRODUCT_HEADERS, ...TEXT_HEADERS].flatMap((h) => {
      const v = headerText(r.headers[h]);
      return v === undefined ? [] : [`${h}: ${v}`];
    });
    if (shown.length) transcript.record({ dir: 'received', peer: iface.id, decoded: `headers ${printable(shown.join(' | '), 240)}` });
    const entries = transcript.take();
    ctx.transcript.record({ dir: 'note', peer: iface.id, decoded: `${req.label} -> ${r.status}${shown.length ? `; ${printable(shown.join(' | '), 160)}` : ''}` });

    for (const name of PRODUCT_HEADERS) {
      const v = headerText(r.headers[name]);
      if (v === undefined) continue;
      const rest = withoutBanners(v, banners).replace(/[\s()[\]/;,:_-]+/g, '');
      if (rest === '') continue;
      const canonical = name.replace(/(^|-)(\w)/g, (_m, d: string, ch: string) => d + ch.toUpperCase());
      hits++;
      addFinding(c, `${iface.id}|header|${name}|${v}`, `${iface.id}: HTTP header "${canonical}: ${printable(v, 80)}" sent without authentication and not a declared banner`, `${req.label} -> ${r.status}, ${canonical}: "${printable(v, 160)}"`, entries);
    }
    for (const name of TEXT_HEADERS) {
      const v = headerText(r.headers[name]);
      if (v !== undefined) hits += judgeText(c, iface, `${name} header`, req.label, v, v, banners, entries);
    }
    if (r.body) hits += judgeText(c, iface, 'body', `${req.label} -> ${r.status}`, readable(r.body), r.body, banners, entries);
  }
  c.tried.push(`HTTP ${iface.id}: ${answers}/${requests.length} requests answered, ${hits ? `${hits} disclosure(s)` : 'no product/version string or stack trace'}`);
  return answers > 0;
}

// --- CoAP ------------------------------------------------------------------

/** RFC 6690 links with their attributes: `</p>;title="x";sz=3` -> { path, attrs }. */
export function linkAttributes(body: string): { path: string; attrs: { name: string; value: string }[] }[] {
  const out: { path: string; attrs: { name: string; value: string }[] }[] = [];
  // Split on commas outside quotes.
  const links = body.match(/(?:[^,"]|"[^"]*")+/g) ?? [];
  for (const link of links) {
    const m = /^\s*<([^>]*)>(.*)$/s.exec(link);
    if (!m) continue;
    const attrs: { name: string; value: string }[] = [];
    for (const a of m[2]!.matchAll(/;\s*([^=;\s]+)(?:=("[^"]*"|[^;]*))?/g)) attrs.push({ name: a[1]!, value: (a[2] ?? '').replace(/^"|"$/g, '') });
    out.push({ path: m[1]!, attrs });
  }
  return out;
}

async function coapDisclosure(ctx: CheckContext, iface: CoapInterface, c: Collected): Promise<boolean> {
  const banners = ctx.target.declaration.disclosure.banners;
  const unknown = `/gauntlet-${ctx.instance.seed.toString(16)}-no-such-resource`;
  let answers = 0;
  let hits = 0;
  const ask = async (path: string): Promise<{ r: CoapOutcome; entries: readonly TranscriptEntry[] }> => {
    const transcript = new TranscriptRecorder();
    const r = await coapExchange(iface, { method: 'GET', path }, ioFor(ctx, iface, transcript));
    ctx.caseDone(`${iface.id}: GET ${path}`);
    const entries = transcript.take();
    ctx.transcript.record({ dir: 'note', peer: iface.id, decoded: `GET ${path} -> ${r.kind === 'response' ? codeName(r.code) : r.kind}` });
    if (r.kind === 'response' || r.kind === 'reset') answers++;
    return { r, entries };
  };

  for (const path of [unknown, '/.well-known/core']) {
    if (ctx.signal.aborted) break;
    const { r, entries } = await ask(path);
    if (r.kind !== 'response' || r.payload.length === 0) continue;
    const text = r.payload.toString('utf8');
    const label = `GET ${path} -> ${codeName(r.code)}`;
    if (!r.code.startsWith('2.')) {
      hits += judgeText(c, iface, 'error payload', label, text, text, banners, entries);
      continue;
    }
    if (path === unknown) {
      hits += judgeText(c, iface, 'payload', label, text, text, banners, entries);
      continue;
    }
    // Discovery: versions or product names hidden in link attributes (title, rt, if, ...).
    for (const link of linkAttributes(text)) {
      for (const a of link.attrs) {
        if (a.value === '') continue;
        const found = findDisclosures(a.value, banners);
        for (const d of found) {
          hits++;
          const shown = `<${printable(link.path, 60)}>;${printable(a.name, 20)}="${printable(a.value, 80)}"`;
          addFinding(
            c,
            `${iface.id}|link|${d.kind}|${d.token.toLowerCase()}`,
            `${iface.id}: /.well-known/core reveals "${printable(d.token, 60)}" in ${shown} without authentication`,
            `${label}: ${shown}`,
            entries,
          );
        }
      }
    }
  }
  c.tried.push(`CoAP ${iface.id}: ${answers}/2 requests answered, ${hits ? `${hits} disclosure(s)` : 'no version string or stack trace'}`);
  return answers > 0;
}

// --- MQTT ------------------------------------------------------------------

type SysOutcome =
  | { readonly kind: 'refused'; readonly detail: string }
  | { readonly kind: 'accepted'; readonly granted: readonly number[] | undefined; readonly messages: readonly { topic: string; payload: Buffer }[]; readonly connackText: string }
  | { readonly kind: 'silent'; readonly detail: string };

/** Anonymous CONNECT, then SUBSCRIBE `$SYS/#` and listen for `windowMs`. */
export async function anonymousSysRead(iface: MqttInterface, io: Io, windowMs = SYS_WINDOW_MS): Promise<SysOutcome> {
  // One bound for connect (and TLS handshake, over mqtts) and CONNACK together.
  const deadline = Date.now() + io.timeoutMs;
  const opened = await connectStream(iface, io, `mqtt ${io.peer}`);
  if (opened.kind === 'timeout') return { kind: 'silent', detail: io.signal?.aborted ? 'interrupted' : `no CONNACK within ${io.timeoutMs}ms` };
  if (opened.kind === 'unreachable') {
    io.transcript.record({ dir: 'note', peer: io.peer, decoded: `connection ${opened.error}` });
    return { kind: 'silent', detail: `connection ${opened.error}` };
  }
  const socket = opened.socket;
  const version = iface.version;
  const opts = { protocolVersion: version };
  return new Promise<SysOutcome>((resolve) => {
    let settled = false;
    let accepted = false;
    let connackText = '';
    let granted: number[] | undefined;
    const messages: { topic: string; payload: Buffer }[] = [];
    const parser = mqttPacket.parser(opts);
    let timer = setTimeout(() => finish(accepted ? done() : { kind: 'silent', detail: `no CONNACK within ${io.timeoutMs}ms` }), Math.max(0, deadline - Date.now()));
    const done = (): SysOutcome => ({ kind: 'accepted', granted, messages, connackText });
    const finish = (o: SysOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      io.signal?.removeEventListener('abort', onAbort);
      if (accepted && !socket.destroyed) socket.end(DISCONNECT);
      setTimeout(() => socket.destroy(), 50).unref();
      resolve(o);
    };
    const onAbort = () => finish(accepted ? done() : { kind: 'silent', detail: 'interrupted' });
    io.signal?.addEventListener('abort', onAbort, { once: true });
    const send = (buf: Buffer, decoded: string) => {
      io.transcript.record({ dir: 'sent', peer: io.peer, decoded, ...hexOf(buf) });
      socket.write(buf);
    };
    const listen = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(done()), windowMs);
    };
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') {
        const code = (version === 5 ? p.reasonCode : p.returnCode) ?? 0;
        const meaning = connackMeaning(version, code);
        const props = p.properties ? [p.properties.reasonString, ...Object.entries(p.properties.userProperties ?? {}).map(([k, v]) => `${k}=${String(v)}`)].filter(Boolean).join(' ') : '';
        connackText = props;
        io.transcript.record({ dir: 'received', peer: io.peer, decoded: `CONNACK code=${code} (${meaning})${props ? ` properties "${printable(props, 80)}"` : ''}` });
        if (code !== 0) return finish({ kind: 'refused', detail: `CONNACK ${code} (${meaning})` });
        accepted = true;
        const sub = mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$SYS/#', qos: 0 }] }, opts);
        send(sub, 'SUBSCRIBE $SYS/# qos 0');
        clearTimeout(timer);
        // No SUBACK in time: listen anyway, retained $SYS may still come.
        timer = setTimeout(listen, io.timeoutMs);
      } else if (p.cmd === 'suback') {
        granted = (p.granted as number[]).map(Number);
        io.transcript.record({ dir: 'received', peer: io.peer, decoded: `SUBACK granted=${granted.map((g) => `0x${g.toString(16)}`).join(',')}` });
        listen();
      } else if (p.cmd === 'publish') {
        const payload = Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload);
        io.transcript.record({ dir: 'received', peer: io.peer, decoded: `PUBLISH ${printable(p.topic, 80)} = "${printable(payload, 80)}"`, ...hexOf(payload, 128) });
        if (messages.length < SYS_MESSAGE_CAP) messages.push({ topic: p.topic, payload });
      } else {
        io.transcript.record({ dir: 'received', peer: io.peer, decoded: p.cmd.toUpperCase() });
      }
    });
    parser.on('error', (err: Error) => {
      io.transcript.record({ dir: 'received', peer: io.peer, decoded: `unparseable reply: ${err.message}` });
      finish(accepted ? done() : { kind: 'silent', detail: `unparseable reply: ${err.message}` });
    });
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: `connection ${err.code ?? err.message}` });
      finish(accepted ? done() : { kind: 'silent', detail: `connection ${err.code ?? err.message}` });
    });
    socket.on('close', () => finish(accepted ? done() : { kind: 'refused', detail: 'closed without CONNACK' }));
    send(connectFor(version, {}), 'CONNECT without user name or password');
  });
}

async function mqttDisclosure(ctx: CheckContext, iface: MqttInterface, c: Collected): Promise<boolean> {
  const { mqttSys, banners } = ctx.target.declaration.disclosure;
  const transcript = new TranscriptRecorder();
  const o = await anonymousSysRead(iface, ioFor(ctx, iface, transcript));
  ctx.caseDone(`${iface.id}: anonymous CONNECT + SUBSCRIBE $SYS/#`);
  const entries = transcript.take();
  if (o.kind === 'silent') {
    c.tried.push(`MQTT ${iface.id}: no answer (${o.detail})`);
    return false;
  }
  if (o.kind === 'refused') {
    c.tried.push(`MQTT ${iface.id}: anonymous CONNECT refused (${o.detail}), $SYS not readable`);
    return true;
  }
  if (o.connackText) judgeText(c, iface, 'CONNACK properties', 'anonymous CONNECT', o.connackText, o.connackText, banners, entries);
  const sys = o.messages.filter((m) => m.topic.startsWith('$SYS/'));
  const grantedText = o.granted ? o.granted.map((g) => `0x${g.toString(16)}`).join(',') : 'no SUBACK';
  if (sys.length && !mqttSys) {
    // Name the most telling message: the broker version, any version topic, else the first.
    const lead = sys.find((m) => m.topic === '$SYS/broker/version') ?? sys.find((m) => /\/version$/i.test(m.topic)) ?? sys[0]!;
    const more = sys.length > 1 ? ` (and ${sys.length - 1} more $SYS message(s))` : '';
    const listing = sys.slice(0, 20).map((m) => `${m.topic} = "${printable(m.payload, 60)}"`);
    addFinding(
      c,
      `${iface.id}|$SYS`,
      `${lead.topic} = ${printable(lead.payload, 60)} readable without authentication${more}`,
      `anonymous CONNECT accepted; SUBSCRIBE $SYS/# ${grantedText}; ${listing.join('; ')}${sys.length > 20 ? `; …(+${sys.length - 20})` : ''}`,
      entries,
    );
  }
  c.tried.push(
    `MQTT ${iface.id}: anonymous CONNECT accepted, SUBSCRIBE $SYS/# ${grantedText}, ${sys.length} $SYS message(s) in ${SYS_WINDOW_MS}ms${sys.length && mqttSys ? ' (declared readable)' : ''}`,
  );
  return true;
}
