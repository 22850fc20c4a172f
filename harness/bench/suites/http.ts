// HTTP/1.1 request parsing: the fuzzer's strict, byte-exact parser
// (fuzz/mutate.ts) on the corpus seeds' requests, beside llhttp, the parser
// Node's own HTTP server runs (reached through node:_http_common, which Node
// exports but does not document; without it the suite has no baseline row).

import { createRequire } from 'node:module';
import { loadSeeds } from '../../fuzz/corpus.js';
import { encodeHttpRequest, instantiateSeed, parseHttpRequest, type HttpRequest } from '../../fuzz/mutate.js';
import type { BenchTask, Suite } from '../hot-paths.js';
import { cycler } from './util.js';

interface LlhttpParser {
  initialize(type: number, resource: object): void;
  execute(data: Buffer): number | Error;
  [callback: number]: unknown;
}

interface LlhttpModule {
  readonly HTTPParser: {
    new (): LlhttpParser;
    readonly REQUEST: number;
    readonly kOnHeaders: number;
    readonly kOnHeadersComplete: number;
    readonly kOnBody: number;
    readonly kOnMessageComplete: number;
    readonly kOnExecute: number;
    readonly kOnTimeout: number;
  };
  readonly methods: readonly string[];
}

/** What both parsers must agree on for a request. */
interface Shape {
  method: string;
  target: string;
  headers: number;
  body: number;
}

/** One reusable llhttp request parser: parse(b) = the request's shape, or undefined when llhttp refuses it or it is not whole. */
function llhttp(): ((b: Buffer) => Shape | undefined) | undefined {
  let mod: LlhttpModule;
  try {
    mod = createRequire(import.meta.url)('_http_common') as LlhttpModule;
    if (typeof mod.HTTPParser !== 'function') return undefined;
  } catch {
    return undefined;
  }
  const { HTTPParser, methods } = mod;
  const parser = new HTTPParser();
  let shape: Shape | undefined;
  let complete = false;
  parser[HTTPParser.kOnHeaders] = () => {};
  parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, headers: readonly string[], method: number, url: string) => {
    shape = { method: methods[method] ?? '?', target: url, headers: headers.length / 2, body: 0 };
    return 0;
  };
  parser[HTTPParser.kOnBody] = (b: Buffer) => {
    if (shape) shape.body += b.length;
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    complete = true;
  };
  parser[HTTPParser.kOnExecute] = () => {};
  parser[HTTPParser.kOnTimeout] = () => {};
  const resource = {};
  return (b) => {
    shape = undefined;
    complete = false;
    parser.initialize(HTTPParser.REQUEST, resource);
    const n = parser.execute(b);
    return typeof n === 'number' && n === b.length && complete ? shape : undefined;
  };
}

const bodyLength = (r: HttpRequest) => (r.body.kind === 'length' ? r.body.data.length : r.body.kind === 'chunked' ? r.body.chunks.reduce((n, c) => n + c.data.length, 0) : 0);

export function httpRequestParse(): Suite {
  const seeds = loadSeeds('http').map((s) => instantiateSeed('http', s, { host: '127.0.0.1:8080', sessionHeader: 'Authorization: Bearer 5c1e4f0a9b7d2e3c8a6f1b0d4e7c9a2b' }));
  // One whole request per step (the fuzzer's parser reads the first request of a step; llhttp would read them all).
  const requests = seeds.flatMap((s) => s.steps.map((st) => Buffer.from(st.bytes))).filter((b) => parseHttpRequest(b)?.rest.length === 0);
  if (requests.length === 0) throw new Error('bench http-request-parse: no corpus seed step is one well-formed request');
  for (const b of requests) {
    if (!encodeHttpRequest(parseHttpRequest(b)!).equals(b)) throw new Error(`bench http-request-parse: parseHttpRequest does not write back ${JSON.stringify(b.toString('latin1').slice(0, 40))}`);
  }
  const ll = llhttp();
  if (ll) {
    for (const b of requests) {
      const r = parseHttpRequest(b)!;
      const s = ll(b);
      if (!s || s.method !== r.method || s.target !== r.target || s.headers !== r.headers.length || s.body !== bodyLength(r)) {
        throw new Error(`bench http-request-parse: llhttp and parseHttpRequest disagree on ${JSON.stringify(b.toString('latin1').slice(0, 40))}`);
      }
    }
  }
  const ours = cycler(requests, (b) => parseHttpRequest(b)!.headers.length);
  const roundTrip = cycler(requests, (b) => encodeHttpRequest(parseHttpRequest(b)!).length);
  const batch = requests.length * 4;
  const tasks: BenchTask[] = [
    { name: 'parseHttpRequest() (fuzz/mutate.ts)', batch, fn: () => ours(batch) },
    { name: 'parseHttpRequest() + encodeHttpRequest() (mutate.ts: a step is edited only if it writes back)', batch, fn: () => roundTrip(batch) },
  ];
  if (ll) {
    const theirs = cycler(requests, (b) => ll(b)!.headers);
    tasks.unshift({ name: 'llhttp, reused parser (node:_http_common, what node:http servers run)', baseline: true, batch, fn: () => theirs(batch) });
  }
  const bytes = requests.reduce((n, b) => n + b.length, 0);
  return {
    id: 'http-request-parse',
    title: `HTTP/1.1 request parse, the ${requests.length} single-request steps of ${seeds.length} corpus seeds (${Math.round(bytes / requests.length)} bytes on average)`,
    unit: 'request',
    tasks,
  };
}
