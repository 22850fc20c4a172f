// `gauntlet init`: probe one host's ports, recognise what answers on each
// (MQTT, MQTT over TLS, CoAP, CoAP over DTLS, HTTP, HTTPS, or an unknown
// service) with the harness's own protocol clients, and write a commented
// target-file skeleton whose declaration blocks name their IXIT table.
//
// Discovery goes through the scope guard like every check: the host given is
// the whole scope. Every probe is bounded by one timeout; nothing is sent
// beyond what a scanner and a first client would send (a connect, a
// ClientHello, an anonymous CONNECT, a GET /, a CoAP ping and a GET of
// /.well-known/core). The skeleton is strict where the manufacturer has not
// answered yet: an empty access policy (every grant the checks see is a
// finding until declared), blocks without a safe default commented out with
// a TODO, so the file loads as written once its ${VARIABLES} are set.

import { createScopeGuard } from './scope.js';
import { isLoopback } from './target-file.js';
import { DISCARD_TRANSCRIPT } from './transcript.js';
import { ixitLabel } from '../model/index.js';
import type { HttpInterface } from '../model/index.js';
import type { Io } from '../protocols/common/io.js';
import { printable } from '../protocols/common/io.js';
import { describeUdpReply, mapLimit, probeTcp, probeUdp, type PortState, type ProbeResult, type Transport } from '../protocols/common/port-probe.js';
import { describeTls, tlsHandshake, type TlsFacts } from '../protocols/common/stream.js';
import { coapExchange, codeName, parseLinkFormat } from '../protocols/coap/exchange.js';
import { describeOutcome, helloProbe } from '../protocols/dtls/hello-probe.js';
import { SUITE_IDS_BY_NAME } from '../protocols/dtls/codec.js';
import { httpExchange } from '../protocols/http/exchange.js';
import { connectFor, mqttConnectAttempt, type ConnectOutcome } from '../protocols/mqtt/connect-attempt.js';

export interface PortSpec {
  readonly transport: Transport;
  readonly port: number;
}

/** The usual IoT ports: brokers, CoAP, web UIs, remote shells. */
export const DEFAULT_INIT_PORTS: readonly PortSpec[] = [
  { transport: 'tcp', port: 1883 },
  { transport: 'tcp', port: 8883 },
  { transport: 'udp', port: 5683 },
  { transport: 'udp', port: 5684 },
  { transport: 'tcp', port: 80 },
  { transport: 'tcp', port: 443 },
  { transport: 'tcp', port: 8080 },
  { transport: 'tcp', port: 8443 },
  { transport: 'tcp', port: 23 },
  { transport: 'tcp', port: 22 },
];

/** CoAP's ports run over UDP [RFC7252 12.6]: a bare 5683 or 5684 means UDP. */
const UDP_BY_DEFAULT = new Set([5683, 5684]);
export const MAX_INIT_PORTS = 1024;

export const PORTS_USAGE = 'ports like 1883,8883,5683/udp,8000-8010 (1 to 65535; a bare number is TCP, except 5683 and 5684: UDP; add /tcp or /udp to choose)';

/** `1883,5683/udp,8000-8010/tcp` -> port specs, in order, without duplicates. */
export function parsePortList(text: string): { readonly ok: true; readonly ports: readonly PortSpec[] } | { readonly ok: false; readonly error: string } {
  const out: PortSpec[] = [];
  const seen = new Set<string>();
  const tokens = text.split(',').map((t) => t.trim());
  if (tokens.every((t) => t === '')) return { ok: false, error: `expected ${PORTS_USAGE}; got nothing` };
  for (const token of tokens) {
    if (token === '') continue;
    const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp))?$/i.exec(token);
    const bad = { ok: false as const, error: `expected ${PORTS_USAGE}; got "${printable(token, 40)}"` };
    if (!m) return bad;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1 || to > 65535 || to < from) return bad;
    if (out.length + (to - from + 1) > MAX_INIT_PORTS) return { ok: false, error: `at most ${MAX_INIT_PORTS} ports per run; "${token}" goes past it` };
    for (let port = from; port <= to; port++) {
      const transport = (m[3]?.toLowerCase() as Transport | undefined) ?? (UDP_BY_DEFAULT.has(port) ? 'udp' : 'tcp');
      const key = `${transport}/${port}`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push({ transport, port });
      }
    }
  }
  return { ok: true, ports: out };
}

/** What answered on an open port. */
export type Service =
  | { readonly protocol: 'mqtt' | 'mqtts'; readonly detail: string; readonly connack: string; readonly tls?: TlsFacts }
  | { readonly protocol: 'http' | 'https'; readonly detail: string; readonly server?: string; readonly tls?: TlsFacts }
  | { readonly protocol: 'coap'; readonly detail: string; readonly resources: readonly string[] }
  | { readonly protocol: 'coaps'; readonly detail: string; readonly suite?: string; readonly cookie: boolean }
  /** Open, but none of the protocols above: a finding candidate for declaration.interfaces. */
  | { readonly protocol: 'unknown'; readonly detail: string; readonly guess?: string };

export interface PortFinding extends PortSpec {
  readonly state: PortState;
  /** Open ports: what answered. */
  readonly service?: Service;
  /** One line, for the console and the skeleton's comments. */
  readonly detail: string;
}

export interface Discovery {
  readonly host: string;
  readonly allowNonLoopback: boolean;
  readonly timeoutMs: number;
  readonly ports: readonly PortFinding[];
}

export interface DiscoverOptions {
  readonly host: string;
  readonly ports: readonly PortSpec[];
  /** Bound on each step of a probe (connect, handshake, reply), ms. */
  readonly timeoutMs: number;
  readonly allowNonLoopback?: boolean;
  readonly signal?: AbortSignal;
  /** Ports probed at once. */
  readonly concurrency?: number;
  /** Called as each port is decided (progress). */
  readonly onPort?: (f: PortFinding) => void;
}

/** Probes every port of `opts.ports` on `opts.host`; only that host is ever contacted (the scope guard says so). */
export async function discover(opts: DiscoverOptions): Promise<Discovery> {
  const allowNonLoopback = opts.allowNonLoopback ?? false;
  const scope = createScopeGuard({ source: 'gauntlet init --host', scope: { hosts: [opts.host], allowNonLoopback } });
  const ports = await mapLimit(opts.ports, opts.concurrency ?? 4, async (spec) => {
    const io: Io = { scope, transcript: DISCARD_TRANSCRIPT, timeoutMs: opts.timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}), peer: `${opts.host}:${spec.port}` };
    const f = spec.transport === 'tcp' ? await probeTcpPort(opts.host, spec.port, io) : await probeUdpPort(opts.host, spec.port, io);
    opts.onPort?.(f);
    return f;
  });
  return { host: opts.host, allowNonLoopback, timeoutMs: opts.timeoutMs, ports };
}

const notOpen = (r: ProbeResult): string => `${r.state}${r.error && r.error !== 'timeout' ? ` (${r.error})` : ''}`;

function firstLine(b: Buffer): string {
  return printable(b.toString('latin1').split(/\r?\n/).find((l) => l.trim()) ?? '', 60);
}

/** A service that speaks first: what its banner suggests. */
function bannerGuess(b: Buffer): string | undefined {
  const text = b.toString('latin1');
  if (text.startsWith('SSH-')) return 'ssh';
  if (b[0] === 0xff) return 'telnet'; // IAC option negotiation
  if (/^220[ -]/.test(text)) return 'ftp or smtp';
  return undefined;
}

const HTTP_FIRST = new Set([80, 81, 8000, 8008, 8080, 8081, 8888]);

const connackText = (o: ConnectOutcome): string | undefined =>
  o.kind === 'accepted' || o.kind === 'refused' ? `CONNACK ${o.code} (${o.meaning}) to an anonymous CONNECT` : undefined;

async function probeTcpPort(host: string, port: number, io: Io): Promise<PortFinding> {
  const base = { transport: 'tcp' as const, port };
  const r = await probeTcp({ host, port }, io);
  if (r.state !== 'open') return { ...base, state: r.state, detail: notOpen(r) };
  if (r.reply?.length) {
    // Speaks first: not MQTT, HTTP or TLS, which wait for the client.
    const guess = bannerGuess(r.reply);
    const detail = `unknown tcp service${guess ? ` (${guess}?)` : ''}, banner "${firstLine(r.reply)}"`;
    return { ...base, state: 'open', detail, service: { protocol: 'unknown', detail, ...(guess ? { guess } : {}) } };
  }
  const tls = await tlsHandshake({ host, port }, io);
  if (tls.kind === 'ok') {
    const facts = tls.facts;
    const over = describeTls(facts);
    const mqtt = connackText(await mqttConnectAttempt({ host, port, protocol: 'mqtts' }, 4, connectFor(4, {}), io));
    if (mqtt) return found(base, { protocol: 'mqtts', detail: `${over}; ${mqtt}`, connack: mqtt, tls: facts });
    const http = await httpGet(host, port, 'https', io);
    if (http) return found(base, { protocol: 'https', detail: `${over}; ${http.detail}`, tls: facts, ...(http.server ? { server: http.server } : {}) });
    return found(base, { protocol: 'unknown', detail: `unknown tls service: ${over}; neither a CONNACK nor an HTTP reply`, guess: 'tls' });
  }
  const tryMqtt = async () => {
    const t = connackText(await mqttConnectAttempt({ host, port }, 4, connectFor(4, {}), io));
    return t ? found(base, { protocol: 'mqtt', detail: t, connack: t }) : undefined;
  };
  const tryHttp = async () => {
    const h = await httpGet(host, port, 'http', io);
    return h ? found(base, { protocol: 'http', detail: h.detail, ...(h.server ? { server: h.server } : {}) }) : undefined;
  };
  const order = HTTP_FIRST.has(port) ? [tryHttp, tryMqtt] : [tryMqtt, tryHttp];
  for (const attempt of order) {
    const f = await attempt();
    if (f) return f;
  }
  return found(base, { protocol: 'unknown', detail: 'unknown tcp service: no banner, and neither a TLS handshake, a CONNACK nor an HTTP reply' });
}

function found(base: PortSpec, service: Service): PortFinding {
  return { ...base, state: 'open', service, detail: service.protocol === 'unknown' ? service.detail : `${service.protocol}: ${service.detail}` };
}

async function httpGet(host: string, port: number, protocol: 'http' | 'https', io: Io): Promise<{ detail: string; server?: string } | undefined> {
  const iface: HttpInterface = { id: 'init', role: 'server', host, port, protocol, probePath: '/' };
  const o = await httpExchange(iface, { method: 'GET', path: '/' }, io);
  if (o.kind !== 'response') return undefined;
  const server = o.headers['server'];
  const serverText = typeof server === 'string' ? printable(server, 60) : undefined;
  return { detail: `GET / -> ${o.status}${serverText ? ` (Server: ${serverText})` : ''}`, ...(serverText ? { server: serverText } : {}) };
}

/** Suites offered to learn one a coaps port accepts: the CoAP-mandated ones [RFC7252 9.1.3] and common AEAD ones. */
const DTLS_OFFER = [
  'TLS_PSK_WITH_AES_128_CCM_8',
  'TLS_PSK_WITH_AES_128_GCM_SHA256',
  'TLS_PSK_WITH_AES_128_CCM',
  'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8',
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
]
  .map((n) => SUITE_IDS_BY_NAME.get(n))
  .filter((id): id is number => id !== undefined);

async function probeUdpPort(host: string, port: number, io: Io): Promise<PortFinding> {
  const base = { transport: 'udp' as const, port };
  // Both datagrams at once, on sockets of their own: each service ignores the other's [RFC7252 3: version 1
  // only]. The first reply (or ICMP unreachable) ends the other probe's wait.
  const settled = new AbortController();
  const sub: Io = { ...io, signal: io.signal ? AbortSignal.any([io.signal, settled.signal]) : settled.signal };
  const decided = (r: ProbeResult) => {
    if (r.state === 'open' || r.state === 'closed') settled.abort();
    return r;
  };
  const [coap, dtls] = await Promise.all([probeUdp({ host, port }, sub, 'coap-ping').then(decided), probeUdp({ host, port }, sub, 'dtls-client-hello').then(decided)]);
  if (io.signal?.aborted) return { ...base, state: 'open|filtered', detail: 'interrupted' };
  if (coap.state === 'closed' || dtls.state === 'closed') return { ...base, state: 'closed', detail: notOpen(coap.state === 'closed' ? coap : dtls) };
  const coapReply = coap.reply ? describeUdpReply(coap.reply, 'coap-ping') : undefined;
  const dtlsReply = dtls.reply ? describeUdpReply(dtls.reply, 'dtls-client-hello') : undefined;
  if (coapReply?.startsWith('CoAP ')) {
    const wk = await coapExchange({ host, port }, { method: 'GET', path: '/.well-known/core' }, io);
    let resources: string[] = [];
    let listing: string;
    if (wk.kind === 'response') {
      resources = wk.code.startsWith('2.') ? parseLinkFormat(wk.payload.toString('utf8')) : [];
      listing = wk.code.startsWith('2.') ? `/.well-known/core lists ${resources.length} resource(s)` : `GET /.well-known/core -> ${codeName(wk.code)}`;
    } else listing = `GET /.well-known/core: ${wk.kind}`;
    return found(base, { protocol: 'coap', detail: `${coapReply} to a CoAP ping; ${listing}`, resources });
  }
  if (dtlsReply?.startsWith('DTLS ')) {
    const hello = await helloProbe({ host, port }, { suites: DTLS_OFFER }, io);
    const suite = hello.kind === 'server-hello' ? hello.suiteName : undefined;
    const cookie = dtlsReply === 'DTLS HelloVerifyRequest' || (hello.kind === 'server-hello' && hello.hvr !== undefined);
    return found(base, { protocol: 'coaps', detail: `${dtlsReply} to a ClientHello; offered CoAP's suites: ${describeOutcome(hello)}`, cookie, ...(suite ? { suite } : {}) });
  }
  const reply = coap.reply ?? dtls.reply;
  if (reply) {
    const detail = `unknown udp service: answers ${coapReply ?? dtlsReply}`;
    return found(base, { protocol: 'unknown', detail });
  }
  return { ...base, state: 'open|filtered', detail: `open|filtered (no reply to a CoAP ping or a DTLS ClientHello within ${io.timeoutMs} ms)` };
}

// ---------------------------------------------------------------------------
// The skeleton.

export interface SkeletonOptions {
  readonly name: string;
  /** Requirements a profile answers from the declaration: written as ICS entries to fill. */
  readonly ics?: readonly { readonly id: string; readonly title: string }[];
  /** The command that wrote it, for the header. */
  readonly command?: string;
}

export interface Skeleton {
  readonly text: string;
  readonly interfaces: number;
  readonly unknown: number;
  readonly todos: number;
  /** The ${VARIABLES} the file reads: set them before it is loaded. */
  readonly envVars: readonly string[];
}

/** `thermo-x200` -> `THERMO_X200`: the prefix of the skeleton's secret variables. */
export function envPrefixOf(name: string): string {
  const p = name.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^[_0-9]+|_+$/g, '');
  return p || 'DUT';
}

/** A host as it appears in a URL: IPv6 literals in brackets. */
const urlHost = (h: string) => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h);
const q = (s: string) => JSON.stringify(s);
/** A plain YAML scalar where that is safe, else quoted. */
const scalar = (s: string) => (/^[A-Za-z_/][A-Za-z0-9_./-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|y|n)$/i.test(s) ? s : q(s));
const ix = (key: string) => ixitLabel(key);

export function renderSkeleton(d: Discovery, opts: SkeletonOptions): Skeleton {
  const env = envPrefixOf(opts.name);
  const envVars: string[] = [];
  const envVar = (suffix: string) => {
    const v = `${env}_${suffix}`;
    if (!envVars.includes(v)) envVars.push(v);
    return `\${${v}}`;
  };
  const open = d.ports.filter((p) => p.service);
  const known = open.filter((p) => p.service!.protocol !== 'unknown');
  const unknown = open.filter((p) => p.service!.protocol === 'unknown');
  const ids = new Map<PortFinding, string>();
  for (const p of known) {
    const proto = p.service!.protocol;
    const taken = known.filter((o) => o.service!.protocol === proto).length > 1;
    ids.set(p, taken ? `${proto}-${p.port}` : proto);
  }
  const L: string[] = [];
  const add = (...lines: string[]) => L.push(...lines);

  add(
    `# Target file skeleton written by ${opts.command ?? '`gauntlet init`'}:`,
    `# what answered on ${d.host}. Answer every TODO with the manufacturer (the declaration is`,
    '# their statement, TS 103 701 ICS/IXIT: each block names its IXIT table), set the',
    `# \${VARIABLES} below, then: gauntlet run --target THIS-FILE`,
    '# Editors: reports/schema/gauntlet-target-1.schema.json',
    'format: gauntlet-target/1',
    `name: ${scalar(opts.name)}`,
    '',
    '# Nothing outside these hosts is ever contacted.',
    'scope:',
    `  hosts: [${q(d.host)}]`,
  );
  if (d.allowNonLoopback || !isLoopback(d.host)) add('  allowNonLoopback: true   # the device is on the network, not loopback');
  const odd = (t: Transport) => unknown.filter((p) => p.transport === t).map((p) => p.port);
  if (unknown.length) {
    add(
      '  # Ports that answered with an unknown service: access.exposed-surface scans them too (with the',
      '  # declared ports and the usual IoT ones) and reports them until they are declared or closed.',
      `  probe: { tcp: [${odd('tcp').join(', ')}], udp: [${odd('udp').join(', ')}] }`,
    );
  }
  if (isLoopback(d.host)) add(`  # probe: { ${unknown.length ? '..., ' : ''}usual: false }   # if the device shares its host (an emulator on loopback): scan only its own ports`);
  add(
    '',
    '# TODO: from the label; auth.default-credentials tries passwords derived from the serial and MAC.',
    '# identity: { vendor: TODO, model: TODO, serial: TODO, mac: "02:00:00:00:00:00" }',
    '',
    `# What answered (each probe bounded by ${d.timeoutMs} ms):`,
  );
  for (const p of d.ports) add(`#   ${p.transport} ${p.port}: ${p.detail}`);
  add('interfaces:');
  const hasCoaps = known.some((p) => p.service!.protocol === 'coaps');
  for (const p of known) {
    const s = p.service!;
    const id = ids.get(p)!;
    add(`  - id: ${id}`, `    protocol: ${s.protocol}`, `    url: ${q(`${s.protocol}://${urlHost(d.host)}:${p.port}`)}`);
    if (s.protocol === 'mqtt' || s.protocol === 'mqtts') add('    version: 4                # 4 = MQTT 3.1.1; 5 if the broker speaks MQTT 5.0');
    if (s.protocol === 'http' || s.protocol === 'https') {
      add(
        '    probe: /                  # any reply = alive (the liveness monitor); GET / answered',
        `    # TODO (${ix('principals')}): how a principal logs in, and a route only a logged-in principal may GET:`,
        '    # protected: /api/config',
        '    # auth: { kind: json, method: POST, path: /api/login, body: { username: "{user}", password: "{pass}" }, token: $.token }',
      );
    }
    if ((s.protocol === 'mqtts' || s.protocol === 'https') && s.tls && !s.tls.authorized) {
      add(
        `    # TODO (${ix('interfaces.tls')}): the CA that issued the device's certificate, a PEM file beside this one;`,
        `    # seen: ${printable(describeTls(s.tls), 160)}`,
        '    # tls: { ca: device-ca.pem }',
      );
    }
  }

  add(
    '',
    `# Credentials the lab was given (${ix('principals')}). Secrets come from the environment.`,
    '# TODO: the user names and roles; the checks need a valid credential to tell a refusal from a broken setup.',
    'principals:',
  );
  const adminPass = envVar('ADMIN_PASS');
  const psk = hasCoaps ? `, psk: { identity: ${q(envVar('ADMIN_PSK_IDENTITY'))}, keyHex: ${q(envVar('ADMIN_PSK_KEY_HEX'))} }` : '';
  add(
    `  admin: { user: admin, pass: ${q(adminPass)}, role: admin${psk} }`,
    `  # TODO: a low-privilege principal, for the access checks: device: { user: TODO, pass: "\${${env}_DEVICE_PASS}", role: device }`,
  );

  const webId = ids.get(known.find((p) => p.service!.protocol === 'https') ?? known.find((p) => p.service!.protocol === 'http')!) ?? 'web';
  add('', '# What the manufacturer declares: the oracles the checks compare the device with.', 'declaration:');

  add(`  # ${ix('declaration.interfaces')}: every port the device opens, and those that must stay shut.`, '  # Pre-filled with what answered. TODO: confirm; remove what the device is not meant to serve.', '  interfaces:');
  for (const p of known) add(`    - { port: ${p.port}, transport: ${p.transport}, service: ${p.service!.protocol} }`);
  for (const p of unknown) {
    add(
      `    # TODO: ${p.transport} ${p.port} is open, ${p.detail}: declare it (what it is) if the device is meant to serve it;`,
      '    # left out, access.exposed-surface reports it as an undeclared open port.',
      `    # - { port: ${p.port}, transport: ${p.transport}, service: TODO }`,
    );
  }
  add('    # TODO: ports that must stay shut, e.g. - { port: 23, transport: tcp, status: disabled, service: telnet }');

  const servers = known.map((p) => p.service!).filter((s): s is Extract<Service, { server?: string }> => 'server' in s && s.server !== undefined);
  add('', `  # ${ix('declaration.disclosure')}: what a client may read without logging in.`);
  if (servers.length) add(`  # Seen without a login: ${[...new Set(servers.map((s) => `Server: ${s.server}`))].join('; ')}`);
  add(
    '  disclosure:',
    '    mqttSys: false            # TODO: true if $SYS/# may be read without a login',
    '    banners: []               # TODO: product or version strings the device may show without a login',
  );

  const plain = known.filter((p) => ['mqtt', 'coap', 'http'].includes(p.service!.protocol));
  add(
    '',
    `  # ${ix('declaration.secureOnly')}: true = nothing is served in clear.`,
    plain.length
      ? `  secureOnly: false          # plaintext listeners answered: ${plain.map((p) => `${p.service!.protocol} ${p.port}`).join(', ')}`
      : '  secureOnly: true           # no plaintext MQTT, CoAP or HTTP listener answered; TODO: confirm',
  );

  const mqtt = known.filter((p) => p.service!.protocol === 'mqtt' || p.service!.protocol === 'mqtts');
  const coap = known.filter((p) => p.service!.protocol === 'coap');
  const resources = [...new Set(coap.flatMap((p) => (p.service as Extract<Service, { protocol: 'coap' }>).resources))];
  add(
    '',
    `  # ${ix('declaration.access')} (with ${ix('declaration.access.mqtt.anonymous')}): who may do what on each service.`,
    '  # Empty = nobody: every grant the checks see is a finding until it is declared here. TODO',
    '  access:',
    '    mqtt:',
    `      anonymous: false        # whether a CONNECT without credentials may be accepted${mqtt.length ? `; seen: ${mqtt.map((p) => `${ids.get(p)}: ${(p.service as Extract<Service, { connack: string }>).connack}`).join('; ')}` : ''}`,
    '      rules: {}               # TODO: per principal, e.g. admin: { publish: ["#"], subscribe: ["#"] }',
    '    coap:',
    '      anonymous: {}           # TODO: resource -> methods an unauthenticated client may use, e.g. /.well-known/core: [GET]',
  );
  if (resources.length) {
    add(`      # ${ix('declaration.access.coap.resources')}: the resources the device serves; pre-filled with what /.well-known/core listed. TODO: confirm.`, '      resources:');
    for (const r of resources) add(`        - ${q(r)}`);
  } else add(`      resources: []           # ${ix('declaration.access.coap.resources')}: TODO: the resources the device serves`);
  add(
    '    http:',
    '      public: []              # TODO: "METHOD /path" routes reachable without a session, e.g. "GET /api/health"',
    '      routes: []              # TODO: - { route: /api/config, methods: [GET, PUT], roles: [admin] }',
  );

  const coaps = known.filter((p) => p.service!.protocol === 'coaps');
  add('', `  # ${ix('declaration.dtls')}: the DTLS versions and suites each coaps interface accepts.`);
  const withSuite = coaps.filter((p) => (p.service as Extract<Service, { protocol: 'coaps' }>).suite);
  if (withSuite.length) {
    add('  # TODO: the full list; pre-filled with the suite the device chose from CoAP\'s, and whether it demanded a cookie.', '  dtls:');
    for (const p of withSuite) {
      const s = p.service as Extract<Service, { protocol: 'coaps' }>;
      add(`    ${ids.get(p)}: { versions: ["1.2"], suites: [${s.suite}], cookie: ${s.cookie} }`);
    }
  } else {
    add('  # TODO: per coaps interface id, e.g.', '  # dtls:', `  #   ${coaps[0] ? ids.get(coaps[0]) : 'coaps'}: { versions: ["1.2"], suites: [TLS_PSK_WITH_AES_128_CCM_8], cookie: true }`);
  }

  add(
    '',
    `  # ${ix('declaration.lockout')}: failed logins allowed within the window, then refused for the duration.`,
    '  # TODO (without it, auth.brute-force reports what it sees against no declared limit):',
    '  # lockout: { attempts: 5, window: 30s, duration: 30s }',
    '',
    `  # ${ix('declaration.firstUse')}: the credential a unit ships with, and how it is replaced at first use.`,
    '  # TODO:',
    '  # firstUse:',
    '  #   state: provisioned        # factory-fresh: the run checks the shipped credential, then provisions',
    `  #   shipped: { user: admin, pass: "\${${env}_LABEL_PASS}" }`,
    `  #   change: { via: ${webId}, method: POST, path: /api/password, body: { username: "{user}", password: "{pass}", newPassword: "{new}" }, provisionAs: admin }`,
    '',
    `  # ${ix('declaration.update')}: the device installs only authentic, intact, newer images.`,
    '  # TODO: how an image reaches the device, the vendor images to try, where the version is read:',
    '  # update:',
    `  #   version: { via: ${webId}, path: /api/status, json: $.firmware, as: admin }`,
    '  #   images: { newer: { file: images/fw-2.0.0.bin, version: 2.0.0 }, older: { file: images/fw-0.9.0.bin, version: 0.9.0 } }',
    '  #   paths:',
    `  #     - { id: upload, kind: http-upload, via: ${webId}, path: /api/firmware, as: admin }`,
    '',
    `  # performance (${ix('declaration.performance')}): hot-path floors gauntlet bench and run gate on.`,
    '  # performance: { floors: [ { interface: ID, path: mqtt.publish.qos1, min: 500 } ] }',
    '',
    '  # ICS (EN 303 645 Annex B): the manufacturer\'s answers for provisions no network test evidences,',
    '  # keyed by requirement id as profiles write them. support: Y, N or "N/A"; N and N/A need a detail',
    '  # (the justification TS 103 701 test case 4-1-1 asks for); evidence: where the proof is.',
    '  ics: {}                      # TODO: replace {} with the answers, one per line:',
  );
  const icsRows = opts.ics?.length ? opts.ics : [{ id: 'ETSI-EN-303-645:5.2-1', title: 'A vulnerability disclosure policy is published (an example)' }];
  for (const r of icsRows) add(`  #   ${q(r.id)}: { support: TODO, detail: "", evidence: "" }   # ${printable(r.title, 100)}`);

  const text = `${L.join('\n')}\n`;
  return { text, interfaces: known.length, unknown: unknown.length, todos: (text.match(/TODO/g) ?? []).length, envVars };
}
