// The update mechanism as a lab drives it: read the running version, push an
// image through a declared path (with the declared principal's session, none,
// or another's), and the run-level positive control that follows the update
// checks: the valid newer image installs and the version shows it. Used by the
// runner and by harness/checks/update.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CoapBlockPath, CoapInterface, HttpInterface, MqttInterface, PullPath, Target, UpdatePath } from '../model/index.js';
import { openUdpChannel, type ChannelOpen } from '../protocols/common/channel.js';
import type { Io } from '../protocols/common/io.js';
import { blockUpload, blockUploadText } from '../protocols/coap/blockwise.js';
import { isSuccess } from '../protocols/coap/exchange.js';
import { openDtlsChannel, pskCredential } from '../protocols/dtls/client.js';
import type { CutUploadOutcome } from '../protocols/http/cut-upload.js';
import { httpExchange, type HttpOutcome } from '../protocols/http/exchange.js';
import { startImageServer, type ImageServer, type TlsOutcome } from '../protocols/http/image-server.js';
import { httpLogin, jsonPath } from '../protocols/http/login.js';
import { MqttSession } from '../protocols/mqtt/session.js';
import { expired, issueLeaf, loadCa, selfSigned, wrongHost, type Issued } from './certs.js';

export type VersionRead = { readonly kind: 'version'; readonly version: string } | { readonly kind: 'unreadable'; readonly detail: string };

function httpIface(target: Target, id: string): HttpInterface {
  return target.interfaces.find((i) => i.id === id) as HttpInterface;
}

/** Session headers for a principal on an interface; `null` = no session; undefined principal name = none declared. */
export async function sessionFor(target: Target, via: string, principal: string | null | undefined, io: Io): Promise<{ headers: Record<string, string> } | { error: string }> {
  if (principal === null || principal === undefined) return { headers: {} };
  const p = target.principals.find((x) => x.name === principal);
  if (!p) return { error: `no principal named "${principal}"` };
  const iface = httpIface(target, via);
  if (!iface.auth) return { error: `interface ${via} declares no auth` };
  const r = await httpLogin(iface, { user: p.user, pass: p.pass }, io);
  if (r.kind !== 'granted') return { error: `${principal} could not log in (${'detail' in r ? r.detail : r.kind})` };
  return { headers: { ...r.headers } };
}

/** The version reader's session per target: settling one install polls many times, and each poll need not log in. */
const versionSessions = new WeakMap<Target, Record<string, string>>();

export async function readVersion(target: Target, io: Io): Promise<VersionRead> {
  const v = target.declaration.update!.version;
  const get = (headers: Record<string, string>) => httpExchange(httpIface(target, v.via), { method: 'GET', path: v.path, headers }, io);
  const login = async () => {
    const s = await sessionFor(target, v.via, v.as, io);
    if ('error' in s) return s;
    versionSessions.set(target, s.headers);
    return s;
  };
  const cached = versionSessions.get(target);
  let r;
  if (cached) {
    r = await get(cached);
    // A session the device ended (a reset, a password change): log in once more.
    if (r.kind === 'response' && r.status === 401 && v.as !== undefined) {
      versionSessions.delete(target);
      const s = await login();
      if ('error' in s) return { kind: 'unreadable', detail: s.error };
      r = await get(s.headers);
    }
  } else {
    const s = await login();
    if ('error' in s) return { kind: 'unreadable', detail: s.error };
    r = await get(s.headers);
  }
  if (r.kind !== 'response') return { kind: 'unreadable', detail: `GET ${v.path}: ${r.kind}` };
  if (r.status < 200 || r.status > 299) return { kind: 'unreadable', detail: `GET ${v.path} answered ${r.status}` };
  let value: unknown;
  try {
    value = jsonPath(JSON.parse(r.body), v.json);
  } catch {
    return { kind: 'unreadable', detail: `GET ${v.path}: not JSON` };
  }
  if (typeof value !== 'string' && typeof value !== 'number') return { kind: 'unreadable', detail: `GET ${v.path}: nothing at ${v.json}` };
  return { kind: 'version', version: String(value) };
}

/** Polls the version until `done` holds or the declared install time has passed; returns the last read. */
export async function settleVersion(target: Target, io: Io, sleep: (ms: number) => Promise<void>, done: (v: VersionRead) => boolean): Promise<VersionRead> {
  const deadline = Date.now() + target.declaration.update!.installTimeoutMs;
  for (;;) {
    const v = await readVersion(target, io);
    if (done(v) || Date.now() >= deadline) return v;
    await sleep(Math.min(200, Math.max(20, deadline - Date.now())));
  }
}

/** How a pull delivery went: the trigger, then what the device fetched from the update server. */
export interface PullOutcome {
  readonly kind: 'pulled';
  /** 'published': the trigger went out; 'refused': the broker refused the CONNECT of the principal used. */
  readonly trigger: 'published' | 'refused';
  /** The device fetched the image (to its end, or to the cut). */
  readonly fetched: boolean;
  /** The TLS outcome on the update server ('refused' = the device aborted the handshake: it refused the certificate). */
  readonly tls: TlsOutcome;
  readonly sent: number;
  readonly of: number;
  /** One line for the report: what happened. */
  readonly detail: string;
}

/** How a CoAP block-wise push went. */
export interface CoapBlockOutcome {
  readonly kind: 'coap-block';
  /** The device said no: an error code to a block, or it refused the DTLS session of an outsider. */
  readonly refused: boolean;
  /**
   * The image never arrived whole: the transfer broke off (no answer, a
   * reset, a failed channel) or the device answered 4.08 Request Entity
   * Incomplete (it lost the transfer, e.g. to its own between-blocks timeout).
   * Neither a refusal nor an install.
   */
  readonly incomplete?: boolean;
  /** The code of the last response, when there was one. */
  readonly code?: string;
  readonly sent: number;
  readonly of: number;
  /** One line for the report. */
  readonly detail: string;
}

export type DeliverOutcome = HttpOutcome | PullOutcome | CoapBlockOutcome | { readonly kind: 'no-session'; readonly detail: string };

/** The certificate the update server of a pull path presents. */
export type ServeCert = 'trusted' | 'self-signed' | 'wrong-host' | 'expired';

export interface DeliverOptions {
  /** Pull: the certificate (default 'trusted' = a leaf from serve.ca for serve.host). */
  readonly cert?: ServeCert;
  /** Pull: the update server sends only this many body bytes, then cuts the connection; CoAP block-wise: the client stops after the block that reaches this many bytes. */
  readonly cutAfter?: number;
}

/**
 * Pushes `image` through `path`: with the path's principal (default), another
 * principal, or no session (`null`). Over a pull path, the trigger is
 * published with that principal's MQTT credentials (none = anonymous CONNECT)
 * and the image is served once from serve.host.
 */
export async function deliver(target: Target, path: UpdatePath, image: Buffer, io: Io, principal: string | null | undefined = path.as, opts: DeliverOptions = {}): Promise<DeliverOutcome> {
  if (path.kind === 'pull') return pull(target, path, image, io, principal, opts);
  if (path.kind === 'coap-block') return coapBlock(target, path, image, io, principal, opts);
  const s = await sessionFor(target, path.via, principal, io);
  if ('error' in s) return { kind: 'no-session', detail: s.error };
  return httpExchange(httpIface(target, path.via), { method: path.method, path: path.path, headers: { ...s.headers, 'content-type': path.contentType }, body: image }, io);
}

/** The certificate for `cert`, or why it cannot be made (no CA declared, unreadable CA files). */
/** Issued certificates per (CA files, host, kind): signing one costs ~0.1 s in pure JS, and they need not differ per delivery. */
const issuedCertificates = new Map<string, { issued: Issued; label: string }>();

export function serveCertificate(path: PullPath, cert: ServeCert): { issued: Issued; label: string } | { error: string } {
  const key = `${path.serve.ca?.cert ?? '-'}|${path.serve.ca?.key ?? '-'}|${path.serve.host}|${cert}`;
  const hit = issuedCertificates.get(key);
  if (hit) return hit;
  const made = issueServeCertificate(path, cert);
  if (!('error' in made)) issuedCertificates.set(key, made);
  return made;
}

function issueServeCertificate(path: PullPath, cert: ServeCert): { issued: Issued; label: string } | { error: string } {
  const host = path.serve.host;
  if (cert === 'self-signed') return { issued: selfSigned({ host }), label: `self-signed for ${host}` };
  if (!path.serve.ca) return { error: `pull path ${path.id} declares no serve.ca: Gauntlet cannot serve a certificate the device trusts` };
  let ca;
  try {
    ca = loadCa(readFileSync(path.serve.ca.cert, 'utf8'), readFileSync(path.serve.ca.key, 'utf8'));
  } catch (e) {
    return { error: `pull path ${path.id}: the declared CA cannot be loaded: ${(e as Error).message}` };
  }
  switch (cert) {
    case 'trusted':
      return { issued: issueLeaf(ca, { host }), label: `from the declared CA for ${host}` };
    case 'wrong-host': {
      const w = wrongHost(ca, { host });
      return { issued: w, label: `from the declared CA for ${w.issuedFor}, not ${host}` };
    }
    case 'expired':
      return { issued: expired(ca, { host }), label: `from the declared CA for ${host}, expired yesterday` };
  }
}

async function pull(target: Target, path: PullPath, image: Buffer, io: Io, principal: string | null | undefined, opts: DeliverOptions): Promise<DeliverOutcome> {
  const iface = target.interfaces.find((i) => i.id === path.via) as MqttInterface | undefined;
  if (!iface || (iface.protocol !== 'mqtt' && iface.protocol !== 'mqtts')) return { kind: 'no-session', detail: `pull path ${path.id}: ${path.via} is not an MQTT interface` };
  let creds: { username?: string; password?: string } = {};
  if (principal !== null && principal !== undefined) {
    const p = target.principals.find((x) => x.name === principal);
    if (!p) return { kind: 'no-session', detail: `no principal named "${principal}"` };
    creds = { username: p.user, password: p.pass };
  }
  const cert = serveCertificate(path, opts.cert ?? 'trusted');
  if ('error' in cert) return { kind: 'no-session', detail: cert.error };
  const installMs = target.declaration.update!.installTimeoutMs;
  const who = principal === null || principal === undefined ? 'anonymous' : principal;
  let server: ImageServer;
  try {
    server = await startImageServer({
      host: path.serve.host,
      certPem: cert.issued.certPem,
      keyPem: cert.issued.keyPem,
      image,
      io,
      certLabel: cert.label,
      ...(opts.cutAfter !== undefined ? { cutAfter: opts.cutAfter } : {}),
    });
  } catch (e) {
    return { kind: 'no-session', detail: `pull path ${path.id}: cannot serve on ${path.serve.host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  try {
    const opened = await MqttSession.open(iface, iface.version, { clientId: `gauntlet-upd-${randomBytes(3).toString('hex')}`, ...creds }, io, who);
    if (!opened.ok) {
      const refusedByBroker = /^CONNACK /.test(opened.detail);
      // The installer's own CONNECT failing leaves nothing to judge; anyone else's refused CONNECT is a refusal.
      if (!refusedByBroker || principal === path.as) return { kind: 'no-session', detail: `${who} could not connect to ${iface.id}: ${opened.detail}` };
      return { kind: 'pulled', trigger: 'refused', fetched: false, tls: 'none', sent: 0, of: image.length, detail: `trigger refused: ${who} CONNECT answered ${opened.detail.replace(/^CONNACK /, '')}` };
    }
    const session = opened.session;
    try {
      await session.publish(path.trigger.topic, Buffer.from(path.trigger.payload.split('{url}').join(server.url)));
    } finally {
      session.close();
    }
    const r = await server.settled(installMs, io.signal);
    const tlsText = r.tls === 'refused' ? `the device refused the certificate (${r.tlsError ?? 'handshake aborted'})` : r.tls === 'none' ? 'the device did not connect' : 'TLS accepted';
    const fetchText = r.fetched
      ? r.sent < r.of
        ? `fetched, body cut after ${r.sent} of ${r.of} bytes`
        : `fetched ${r.sent} bytes`
      : r.tls === 'refused'
        ? 'not fetched'
        : r.tls === 'ok'
          ? `not fetched (${r.requests.length} request(s))`
          : `not fetched within ${installMs}ms`;
    return {
      kind: 'pulled',
      trigger: 'published',
      fetched: r.fetched,
      tls: r.tls,
      sent: r.sent,
      of: r.of,
      detail: `triggered ${who === 'anonymous' ? 'anonymously' : `as ${who}`}; ${tlsText} (certificate ${cert.label}); ${fetchText}`,
    };
  } finally {
    await server.close();
  }
}

/**
 * A CoAP block-wise push. Over coaps the principal's PSK opens the DTLS
 * session; without a principal, the plain CoAP interface the path names
 * (`plain`) is used when there is one, else an identity the device cannot
 * know. A plain coap interface has no principals: everyone sends the same.
 */
async function coapBlock(target: Target, path: CoapBlockPath, image: Buffer, io: Io, principal: string | null | undefined, opts: DeliverOptions): Promise<DeliverOutcome> {
  const iface = target.interfaces.find((i) => i.id === path.via) as CoapInterface;
  const who = principal === null || principal === undefined ? 'anonymous' : principal;
  let opened: ChannelOpen;
  let over: string;
  if (iface.protocol === 'coap') {
    opened = await openUdpChannel(iface, io);
    over = `plain CoAP on ${iface.id}`;
  } else if (principal === null || principal === undefined) {
    const plain = path.plain === undefined ? undefined : (target.interfaces.find((i) => i.id === path.plain) as CoapInterface | undefined);
    if (plain) {
      opened = await openUdpChannel(plain, io);
      over = `plain CoAP on ${plain.id} (no DTLS)`;
    } else {
      const identity = `gauntlet-${randomBytes(4).toString('hex')}`;
      opened = await openDtlsChannel(iface, { identity, key: randomBytes(16) }, io);
      over = `DTLS on ${iface.id} as the unknown identity ${identity}`;
    }
  } else {
    const p = target.principals.find((x) => x.name === principal);
    if (!p) return { kind: 'no-session', detail: `no principal named "${principal}"` };
    if (!p.psk) return { kind: 'no-session', detail: `${principal} has no PSK for ${iface.id}` };
    opened = await openDtlsChannel(iface, pskCredential(p.psk), io);
    over = `DTLS on ${iface.id} as ${p.psk.identity}`;
  }
  if (opened.kind !== 'open') {
    // The installer's own session failing leaves nothing to judge; anyone else's is a refusal.
    if (principal === path.as) return { kind: 'no-session', detail: `${who}: ${opened.detail}` };
    return { kind: 'coap-block', refused: true, sent: 0, of: image.length, detail: `${over}: no session (${opened.detail})` };
  }
  try {
    const o = await blockUpload(
      opened.channel,
      {
        method: path.method,
        path: path.path,
        payload: image,
        blockSize: path.blockSize,
        ...(path.contentFormat !== undefined ? { contentFormat: path.contentFormat } : {}),
        ...(opts.cutAfter !== undefined ? { stopAfterBytes: opts.cutAfter } : {}),
      },
      io,
    );
    const text = `${path.method} ${path.path} over ${over}: ${blockUploadText(o)}`;
    // 4.08 says the device lost the transfer, not that it judged the image [RFC7959 2.9.2].
    if (o.kind === 'response' && o.code === '4.08') return { kind: 'coap-block', refused: false, incomplete: true, code: o.code, sent: o.sent, of: o.of, detail: text };
    if (o.kind === 'response') return { kind: 'coap-block', refused: !isSuccess(o.code), code: o.code, sent: o.sent, of: o.of, detail: text };
    return { kind: 'coap-block', refused: false, ...(o.kind === 'broken' ? { incomplete: true } : {}), sent: o.sent, of: o.of, detail: text };
  } finally {
    await opened.channel.close();
  }
}

/** Every way a delivery can end: deliver()'s outcomes, and a cut HTTP upload's. */
export type Delivery = DeliverOutcome | CutUploadOutcome;

/**
 * How the device took a delivery, as the positive control and the checks
 * print it; `status` the HTTP status when there was one; `refused` when the
 * device said no as finally as an error status does.
 */
export function describeDelivery(o: Delivery): { text: string; status?: number; refused?: boolean; incomplete?: boolean } {
  switch (o.kind) {
    case 'pulled':
      // Not fetched: the device holds no image to install (the server is closed), as final as an error status.
      return { text: o.detail, refused: !o.fetched };
    case 'coap-block':
      // An error code or a refused session is as final as an HTTP error status.
      return { text: o.detail, refused: o.refused, ...(o.incomplete ? { incomplete: true } : {}) };
    case 'response':
      return { text: `answered ${o.status}`, status: o.status };
    case 'timeout':
      return { text: 'no reply in time' };
    case 'unreachable':
      return { text: `no reply (${o.error})` };
    case 'no-session':
      return { text: `no session: ${o.detail}` };
    case 'cut': {
      const code = o.reply ? /^HTTP\/\S+\s+(\d{3})/.exec(o.reply)?.[1] : undefined;
      const status = code === undefined ? undefined : Number(code);
      return { text: `cut after ${o.sent} of ${o.of} bytes${o.reply ? ` (it had answered ${status ?? o.reply})` : ''}`, ...(status !== undefined ? { status } : {}) };
    }
  }
}

/** Puts the device back on its baseline image through the declared reset, if there is one. */
export async function resetFirmware(target: Target, io: Io): Promise<UpdateControl> {
  const reset = target.declaration.update?.reset;
  if (!reset) return { kind: 'not-needed', detail: 'no reset declared' };
  const s = await sessionFor(target, reset.via, reset.as, io);
  if ('error' in s) return { kind: 'failed', detail: `reset: ${s.error}` };
  const r = await httpExchange(httpIface(target, reset.via), { method: reset.method, path: reset.path, headers: s.headers }, io);
  if (r.kind !== 'response' || r.status < 200 || r.status > 299) return { kind: 'failed', detail: `reset ${reset.method} ${reset.path}: ${r.kind === 'response' ? r.status : r.kind}` };
  return { kind: 'done', detail: `reset to the baseline via ${reset.method} ${reset.path}` };
}

export type UpdateControl = { readonly kind: 'not-needed' | 'done' | 'failed'; readonly detail: string };

/** The run-level positive control: the valid newer image installs through the first path and the version shows it. */
export async function updatePositiveControl(target: Target, io: Io, sleep: (ms: number) => Promise<void>): Promise<UpdateControl> {
  const u = target.declaration.update;
  if (!u) return { kind: 'not-needed', detail: 'no update mechanism declared' };
  const path = u.paths[0]!;
  const image = readFileSync(u.images.newer.file);
  const r = await deliver(target, path, image, io);
  if (r.kind === 'no-session') return { kind: 'failed', detail: r.detail };
  const status = describeDelivery(r).text;
  const v = await settleVersion(target, io, sleep, (x) => x.kind === 'version' && x.version === u.images.newer.version);
  if (v.kind === 'version' && v.version === u.images.newer.version) {
    return { kind: 'done', detail: `the valid newer image ${u.images.newer.version} installed through ${path.id} (${status})` };
  }
  return { kind: 'failed', detail: `the valid newer image did not install through ${path.id} (${status}; version ${v.kind === 'version' ? v.version : v.detail})` };
}
