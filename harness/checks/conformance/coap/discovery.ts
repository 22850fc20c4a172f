// Discovery [RFC6690]: GET /.well-known/core judged for its format, the
// listing parsed strictly, a filtered query; and from the listing and the
// declaration, the resources the other statements need (a readable control
// resource, observable ones, a block-wise upload target, separate-response
// candidates). A statement a target cannot serve is skipped with the reason.

import type { Target } from '../../../model/index.js';
import { linkMatches, parseLinks, type Link } from './links.js';
import { fail, open, pass, skip, type Probe, type Resources, type Verdict } from './probe.js';
import { TranscriptRecorder } from '../../../core/transcript.js';
import { openSession, type CoapSession, type Exchange } from './session.js';
import { answerText } from './probe.js';
import { blockOf, blockValue, CON, codeText, OPT, opt, pathOptions, raw, uintOption, type WireMessage } from './wire.js';

export const WELL_KNOWN = '/.well-known/core';
const LINK_FORMAT = 40;
/** Bound on the blocks fetched to assemble one representation. */
const MAX_BLOCKS = 256;
/** Listed resources probed with GET to find readable ones. */
const MAX_PROBED = 8;

/** A GET of `path` (with query parts), CON unless said otherwise. */
export function getRequest(s: CoapSession, path: string, extra: { number: number; value: Buffer }[] = [], o: { type?: 0 | 1; token?: Buffer; code?: number; query?: readonly string[] } = {}) {
  const query = (o.query ?? []).map((q) => opt(OPT.UriQuery, q));
  return raw(o.type ?? CON, o.code ?? 1, s.mid(), o.token ?? s.token(), [...pathOptions(path), ...query, ...extra]);
}

export type Whole =
  | { readonly ok: true; readonly first: WireMessage; readonly body: Buffer; readonly blocks: number; readonly szx?: number }
  | { readonly ok: false; readonly ex: Exchange; readonly why: string };

/**
 * A representation, whole: a plain GET, and when the server answers it
 * block-wise (Block2 with M set), the following blocks at the server's size.
 */
export async function fetchWhole(s: CoapSession, path: string, query: readonly string[] = [], extra: { number: number; value: Buffer }[] = []): Promise<Whole> {
  const ex = await s.exchange(getRequest(s, path, extra, { query }));
  const first = ex.response;
  if (!first) return { ok: false, ex, why: answerText(ex) };
  let b = blockOf(first, OPT.Block2);
  if (!b || !b.more || codeText(first.code) !== '2.05') return { ok: true, first, body: first.payload, blocks: 1 };
  const parts = [first.payload];
  const szx = b.szx;
  for (let n = 1; b?.more && n < MAX_BLOCKS; n++) {
    const next = await s.exchange(getRequest(s, path, [...extra, opt(OPT.Block2, blockValue({ num: n, more: false, szx }))], { query }));
    if (!next.response || codeText(next.response.code) !== '2.05') return { ok: false, ex: next, why: `block ${n} of ${path}: ${answerText(next)}` };
    parts.push(next.response.payload);
    b = blockOf(next.response, OPT.Block2);
  }
  return { ok: true, first, body: Buffer.concat(parts), blocks: parts.length, szx };
}

/** A link target as a path on this server (relative targets resolve against /); undefined for another origin. */
export function pathOfTarget(target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined;
  return target.startsWith('/') ? target : `/${target}`;
}

const DISCOVERY = ['RFC6690:4-well-known-core', 'RFC6690:2-link-format', 'RFC6690:4.1-query-filter'];
const lastSegment = (p: string) => p.split('?')[0]!.split('/').filter(Boolean).at(-1) ?? '';

/** The discovery case and the resource roles. Returns what it found for the other cases. */
export async function discover(p: Probe): Promise<Resources> {
  const target = p.ctx.target;
  let listing: { links: readonly Link[]; ok: boolean } = { links: [], ok: false };
  let wkcFormat: number | undefined;
  let wkcOk = false;
  if (!p.book.wantsAny(DISCOVERY)) {
    // Discovery is declared not implemented: its statements are skipped, but the listing (if any) still names resources.
    const s = await openSession(p.iface, p.io(new TranscriptRecorder(100)), p.log).catch(() => undefined);
    if (s) {
      try {
        const w = await fetchWhole(s, WELL_KNOWN);
        if (w.ok && codeText(w.first.code) === '2.05') {
          wkcOk = true;
          wkcFormat = uintOption(w.first, OPT.ContentFormat);
          const parsed = parseLinks(w.body.toString('utf8'));
          if (parsed.ok) listing = { links: parsed.links, ok: true };
        }
      } finally {
        await s.close();
      }
    }
  }
  await p.run('discovery: GET /.well-known/core', ['RFC6690:4-well-known-core', 'RFC6690:2-link-format', 'RFC6690:4.1-query-filter'], async (s) => {
    const out: Verdict[] = [];
    const w = await fetchWhole(s, WELL_KNOWN);
    if (!w.ok) {
      const code = w.ex.response ? codeText(w.ex.response.code) : undefined;
      const why = `GET ${WELL_KNOWN} -> ${w.why}`;
      if (code && code.startsWith('4.')) {
        const r = `${why}: the server offers no discovery (RFC 7252 7.2 recommends it); declare coap:discovery not implemented if intended`;
        return ['RFC6690:4-well-known-core', 'RFC6690:2-link-format', 'RFC6690:4.1-query-filter'].map((id) => skip(id, r));
      }
      return ['RFC6690:4-well-known-core', 'RFC6690:2-link-format', 'RFC6690:4.1-query-filter'].map((id) => open(id, why));
    }
    const code = codeText(w.first.code);
    wkcFormat = uintOption(w.first, OPT.ContentFormat);
    const blocks = w.blocks > 1 ? ` (${w.body.length} bytes in ${w.blocks} blocks)` : '';
    if (code !== '2.05') {
      out.push(fail('RFC6690:4-well-known-core', `GET ${WELL_KNOWN} answered ${code}, not 2.05 Content`));
      return [...out, skip('RFC6690:2-link-format', `no 2.05 listing (answered ${code})`), skip('RFC6690:4.1-query-filter', `no 2.05 listing (answered ${code})`)];
    }
    wkcOk = true;
    if (wkcFormat === LINK_FORMAT) out.push(pass('RFC6690:4-well-known-core', `GET ${WELL_KNOWN} -> 2.05 Content-Format 40${blocks}`));
    else out.push(fail('RFC6690:4-well-known-core', `GET ${WELL_KNOWN} -> 2.05 with Content-Format ${wkcFormat ?? '(none)'}, not 40 (application/link-format)${blocks}`));
    const text = w.body.toString('utf8');
    const parsed = parseLinks(text);
    if (!parsed.ok) {
      out.push(fail('RFC6690:2-link-format', `the ${WELL_KNOWN} payload is not link-format: ${parsed.error} (near ${JSON.stringify(text.slice(Math.max(0, parsed.at - 20), parsed.at + 20))})`));
      out.push(skip('RFC6690:4.1-query-filter', 'the listing does not parse'));
      return out;
    }
    listing = { links: parsed.links, ok: true };
    out.push(pass('RFC6690:2-link-format', `${parsed.links.length} links parsed${parsed.whitespace ? ' (with whitespace between links, tolerated)' : ''}`));
    out.push(await filterCase(s, parsed.links));
    return out;
  });

  // Resource roles.
  const links = listing.links;
  const listed = links.map((l) => ({ l, path: pathOfTarget(l.target) })).filter((x): x is { l: Link; path: string } => x.path !== undefined);
  const declaredGet = Object.entries(target.declaration.access.coap.anonymous)
    .filter(([, m]) => m.includes('GET'))
    .map(([path]) => path);
  const readable: string[] = [];
  let controlFormat: number | undefined;
  if (wkcOk) {
    readable.push(WELL_KNOWN);
    controlFormat = wkcFormat;
  }
  const candidates = [...new Set([...declaredGet, ...listed.map((x) => x.path)])].filter((x) => x !== WELL_KNOWN && !x.includes('?')).slice(0, MAX_PROBED);
  if (candidates.length > 0 && !p.aborted) {
    const rec = await probeReadable(p, candidates);
    for (const r of rec) {
      readable.push(r.path);
      if (readable.length === 1) controlFormat = r.format;
    }
  }
  const observable = listed.filter((x) => x.l.attrs.has('obs')).map((x) => x.path);
  const separate = listed
    .filter((x) => ['separate', 'async'].includes(lastSegment(x.path)))
    // libcoap's example /async takes its delay in seconds as the query; plugtest's /separate takes none.
    .map((x) => ({ path: x.path, query: lastSegment(x.path) === 'async' ? ['1'] : [] }));
  return {
    links,
    ...(readable[0] ? { control: readable[0] } : {}),
    ...(controlFormat !== undefined ? { controlFormat } : {}),
    readable,
    observable,
    separate,
    ...uploadOf(target, listed.map((x) => x.path)),
  };
}

/** A filtered discovery on an attribute of one listed link [RFC6690 4.1]. */
async function filterCase(s: CoapSession, links: readonly Link[]): Promise<Verdict> {
  const id = 'RFC6690:4.1-query-filter';
  let pick: { name: string; value: string } | undefined;
  for (const name of ['rt', 'if', 'ct']) {
    const l = links.find((x) => typeof x.attrs.get(name) === 'string' && /^[\w.:/-]+$/.test((x.attrs.get(name) as string).split(/\s+/)[0] ?? ''));
    if (l) {
      pick = { name, value: (l.attrs.get(name) as string).split(/\s+/)[0]! };
      break;
    }
  }
  if (!pick) return skip(id, 'no listed link has an rt, if or ct attribute to filter on');
  const q = `${pick.name}=${pick.value}`;
  const w = await fetchWhole(s, WELL_KNOWN, [q]);
  if (!w.ok) return open(id, `GET ${WELL_KNOWN}?${q} -> ${w.why}`);
  const code = codeText(w.first.code);
  if (code !== '2.05') return code === '4.04' ? fail(id, `GET ${WELL_KNOWN}?${q} -> 4.04, although a listed link has ${q}`) : open(id, `GET ${WELL_KNOWN}?${q} -> ${code}`);
  const parsed = parseLinks(w.body.toString('utf8'));
  if (!parsed.ok) return fail(id, `GET ${WELL_KNOWN}?${q}: the filtered listing does not parse: ${parsed.error}`);
  const expected = links.filter((l) => linkMatches(l, pick!.name, pick!.value)).map((l) => l.target);
  const got = parsed.links.map((l) => l.target);
  const all = links.map((l) => l.target);
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
  if (same(got, expected)) return pass(id, `GET ${WELL_KNOWN}?${q} -> exactly the ${got.length} matching links`);
  if (same(got, all)) return pass(id, `GET ${WELL_KNOWN}?${q} -> the whole listing (${got.length} links): the server does not filter, which is allowed`);
  const extra = parsed.links.filter((l) => !linkMatches(l, pick!.name, pick!.value)).map((l) => l.target);
  const missing = expected.filter((t) => !got.includes(t));
  return fail(id, `GET ${WELL_KNOWN}?${q} -> ${got.length} links: ${extra.length ? `${extra.join(' ')} do not match` : ''}${extra.length && missing.length ? '; ' : ''}${missing.length ? `${missing.join(' ')} match but are missing` : ''}`);
}

/** GETs each candidate once; the ones answering 2.05, in order. */
async function probeReadable(p: Probe, paths: readonly string[]): Promise<{ path: string; format?: number }[]> {
  const found: { path: string; format?: number }[] = [];
  const s = await openSession(p.iface, p.io(new TranscriptRecorder(100)), p.log).catch(() => undefined);
  if (!s) return found;
  try {
    for (const path of paths) {
      if (p.aborted) break;
      const ex = await s.exchange(getRequest(s, path));
      const w = ex.response;
      if (w && codeText(w.code) === '2.05') {
        const f = uintOption(w, OPT.ContentFormat);
        found.push({ path, ...(f !== undefined ? { format: f } : {}) });
      }
    }
  } finally {
    await s.close();
  }
  return found;
}

/**
 * Where a block-wise upload may go: a declared anonymous PUT/POST, else a
 * plugtest-named resource. Never a declared update path: the finished
 * uploads would hand the device a junk image.
 */
function uploadOf(target: Target, listed: readonly string[]): { upload?: Resources['upload'] } {
  for (const method of ['PUT', 'POST'] as const) {
    const declared = Object.entries(target.declaration.access.coap.anonymous).find(([, m]) => m.includes(method));
    if (declared) return { upload: { path: declared[0], method, why: `declared anonymous ${method} (declaration.access.coap.anonymous)` } };
  }
  const named: Readonly<Record<string, 'PUT' | 'POST'>> = { 'large-update': 'PUT', 'large-create': 'POST', 'large-post': 'POST' };
  for (const path of listed) {
    const m = named[lastSegment(path)];
    if (m) return { upload: { path, method: m, why: `listed as ${path} (the ETSI plugtest name of a ${m} resource)` } };
  }
  return {};
}
