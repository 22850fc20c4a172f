// Test clients for the reference-device suites: raw MQTT CONNECT (mqtt-packet
// over net, to read CONNACK return codes exactly; with a will if asked), the
// mqtt client for ACL tests, CoAP over dgram with coap-packet, HTTP with undici
// and raw over net (for paths undici would normalise), a line-based TCP client,
// provisioning, and firmware uploads (whole, or cut half way over a raw socket).

import { createSocket } from 'node:dgram';
import { createServer, connect as tcpConnect, type Socket } from 'node:net';
import { generate as coapGenerate, parse as coapParse } from 'coap-packet';
import { connectAsync, type MqttClient } from 'mqtt';
import { generate as mqttGenerate, parser as mqttParser, type Packet } from 'mqtt-packet';
import { connect as tlsConnect } from 'node:tls';
import { Agent, request } from 'undici';
import type { RunningDevice } from '../../../targets/reference-device/index.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** TLS (the unit's mqtts and https): these device-logic tests do not verify the certificate (tls.test.ts does). */
  readonly tls?: boolean;
}

/** A TCP or TLS connection to `ep`; `ready` is the event after which bytes may be written. */
export function dial(ep: Endpoint): { socket: Socket; ready: 'connect' | 'secureConnect' } {
  if (ep.tls) return { socket: tlsConnect({ host: ep.host, port: ep.port, rejectUnauthorized: false, servername: 'localhost' }), ready: 'secureConnect' };
  return { socket: tcpConnect(ep.port, ep.host), ready: 'connect' };
}

/** undici dispatcher for the unit's https (certificate not verified, see Endpoint.tls). */
const insecure = new Agent({ connect: { rejectUnauthorized: false } });

let clientCounter = 0;
const nextClientId = (): string => `t${process.pid}-${++clientCounter}`;

/** Sends one CONNECT and resolves with the CONNACK return code (then closes the socket). */
export function mqttConnack(ep: Endpoint, auth: { username?: string; password?: string } = {}): Promise<number> {
  const { socket, ready } = dial(ep);
  return connackOn(socket, auth, ready);
}

/**
 * One MQTT 3.1.1 CONNECT on `socket` (written at once, or on `waitFor` when the
 * socket is still connecting): the CONNACK return code; the socket is destroyed after.
 */
export function connackOn(socket: Socket, auth: { username?: string; password?: string } = {}, waitFor?: 'connect' | 'secureConnect'): Promise<number> {
  return new Promise((resolve, reject) => {
    const parser = mqttParser({ protocolVersion: 4 });
    const timer = setTimeout(() => finish(new Error('no CONNACK within 3 s')), 3000);
    const finish = (result: number | Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connack') finish(p.returnCode ?? -1);
    });
    parser.on('error', (e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
    socket.on('data', (b) => parser.parse(b));
    socket.on('error', (e) => finish(e));
    socket.on('close', () => finish(new Error('connection closed before CONNACK')));
    const send = () =>
      socket.write(
        mqttGenerate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          keepalive: 30,
          clientId: nextClientId(),
          ...(auth.username !== undefined ? { username: auth.username } : {}),
          ...(auth.password !== undefined ? { password: Buffer.from(auth.password) } : {}),
        }),
      );
    if (waitFor) socket.on(waitFor, send);
    else send();
  });
}

/** A raw MQTT 3.1.1 session: packets in, packets out, for exact SUBACK codes and the like. */
export interface RawMqtt {
  readonly connack: number;
  send(packet: Packet): void;
  /** The next received packet of a kind (waits up to `timeoutMs`, default 3 s, then rejects). */
  next(cmd: Packet['cmd'], timeoutMs?: number): Promise<Packet>;
  close(): void;
}

export interface Will {
  readonly topic: string;
  readonly payload: string;
  readonly qos?: 0 | 1;
  readonly retain?: boolean;
}

export function rawMqtt(ep: Endpoint, auth: { username?: string; password?: string } = {}, extra: { will?: Will } = {}): Promise<RawMqtt> {
  return new Promise((resolve, reject) => {
    const { socket, ready } = dial(ep);
    const parser = mqttParser({ protocolVersion: 4 });
    const queue: Packet[] = [];
    const waiters: { cmd: Packet['cmd']; resolve: (p: Packet) => void }[] = [];
    const deliver = (): void => {
      for (let i = 0; i < waiters.length; i++) {
        const w = waiters[i]!;
        const at = queue.findIndex((p) => p.cmd === w.cmd);
        if (at >= 0) {
          waiters.splice(i--, 1);
          w.resolve(queue.splice(at, 1)[0]!);
        }
      }
    };
    const session: Omit<RawMqtt, 'connack'> = {
      send: (p) => socket.write(mqttGenerate(p)),
      next: (cmd, timeoutMs = 3000) =>
        new Promise((res, rej) => {
          const w = { cmd, resolve: (p: Packet) => (clearTimeout(timer), res(p)) };
          const timer = setTimeout(() => {
            waiters.splice(waiters.indexOf(w), 1);
            rej(new Error(`no ${cmd} within ${timeoutMs} ms`));
          }, timeoutMs);
          waiters.push(w);
          deliver();
        }),
      close: () => socket.destroy(),
    };
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connack') resolve({ ...session, connack: p.returnCode ?? -1 });
      else {
        queue.push(p);
        deliver();
      }
    });
    socket.on('data', (b) => parser.parse(b));
    socket.on('error', reject);
    socket.on(ready, () => {
      socket.write(
        mqttGenerate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          keepalive: 30,
          clientId: nextClientId(),
          ...(auth.username !== undefined ? { username: auth.username } : {}),
          ...(auth.password !== undefined ? { password: Buffer.from(auth.password) } : {}),
          ...(extra.will
            ? { will: { topic: extra.will.topic, payload: Buffer.from(extra.will.payload), qos: extra.will.qos ?? 0, retain: extra.will.retain ?? false } }
            : {}),
        }),
      );
    });
  });
}

/** A connected mqtt.js client (MQTT 3.1.1, no reconnect); the caller ends it. */
export function mqttClient(ep: Endpoint, username: string, password: string): Promise<MqttClient> {
  return connectAsync({
    host: ep.host,
    port: ep.port,
    ...(ep.tls ? { protocol: 'mqtts' as const, rejectUnauthorized: false } : {}),
    protocolVersion: 4,
    username,
    password,
    clientId: nextClientId(),
    reconnectPeriod: 0,
    connectTimeout: 3000,
  });
}

/** Collects every message a client receives, in order. */
export function collect(client: MqttClient): { topic: string; payload: string }[] {
  const got: { topic: string; payload: string }[] = [];
  client.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
  return got;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface CoapReply {
  readonly code: string;
  readonly payload: string;
  readonly contentFormat: number | undefined;
}

let messageId = 1;

/** One confirmable CoAP request over a fresh UDP socket; resolves with the piggybacked reply. */
export function coapRequest(ep: Endpoint, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, payload?: string): Promise<CoapReply> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const token = Buffer.from([1, 2, 3, 4]);
    const timer = setTimeout(() => done(new Error('no CoAP reply within 3 s')), 3000);
    const done = (r: CoapReply | Error): void => {
      clearTimeout(timer);
      socket.close();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    socket.on('error', (e) => done(e));
    socket.on('message', (msg) => {
      const p = coapParse(msg);
      if (!p.token.equals(token)) return;
      const cf = p.options.find((o) => o.name === 'Content-Format');
      done({ code: p.code, payload: p.payload.toString('utf8'), contentFormat: cf ? (cf.value.length ? cf.value.readUIntBE(0, cf.value.length) : 0) : undefined });
    });
    const options = path
      .split('/')
      .filter((s) => s.length > 0)
      .map((s) => ({ name: 'Uri-Path' as const, value: Buffer.from(s) }));
    messageId = (messageId % 65_000) + 1;
    socket.send(
      coapGenerate({ code: method, confirmable: true, messageId, token, options, ...(payload !== undefined ? { payload: Buffer.from(payload) } : {}) }),
      ep.port,
      ep.host,
    );
  });
}

export interface HttpReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: unknown;
}

/** One HTTP request; a JSON body is serialised unless `raw` is given. */
export async function http(
  ep: Endpoint,
  method: string,
  path: string,
  opts: { json?: unknown; raw?: string | Buffer; token?: string; headers?: Record<string, string> } = {},
): Promise<HttpReply> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | Buffer | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] = 'application/json';
  }
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  const res = await request(`${ep.tls ? 'https' : 'http'}://${ep.host}:${ep.port}${path}`, { method: method as 'GET', headers, body, ...(ep.tls ? { dispatcher: insecure } : {}) });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

export async function login(dev: RunningDevice, username: string, password: string): Promise<HttpReply> {
  return http(dev.endpoints.https, 'POST', '/api/login', { json: { username, password } });
}

/** A session token for a principal; fails the test if the login does not give one. */
export async function token(dev: RunningDevice, username: string, password: string): Promise<string> {
  const r = await login(dev, username, password);
  if (r.status !== 200) throw new Error(`login ${username} -> ${r.status} ${r.text}`);
  return (r.json as { token: string }).token;
}

/** Does what a lab does first with a factory-fresh unit: replace the shipped admin password by adminPass. */
export async function provision(dev: RunningDevice): Promise<void> {
  const r = await http(dev.endpoints.https, 'POST', '/api/password', {
    json: { username: 'admin', password: dev.credentials.shipped.pass, newPassword: dev.credentials.admin.pass },
  });
  if (r.status !== 204) throw new Error(`provisioning -> ${r.status} ${r.text}`);
}

/** One HTTP/1.1 request over a plain socket, the path sent exactly as given (undici would normalise dot segments). */
export function rawHttp(
  ep: Endpoint,
  method: string,
  path: string,
  opts: { token?: string; json?: unknown } = {},
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const body = opts.json === undefined ? '' : JSON.stringify(opts.json);
    const lines = [`${method} ${path} HTTP/1.1`, `Host: ${ep.host}:${ep.port}`, 'Connection: close'];
    if (opts.token !== undefined) lines.push(`Authorization: Bearer ${opts.token}`);
    if (opts.json !== undefined) lines.push('Content-Type: application/json');
    if (body || method === 'PUT' || method === 'POST') lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    const { socket } = dial(ep);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => (socket.destroy(), reject(new Error('no HTTP reply within 3 s'))), 3000);
    socket.on('data', (b) => chunks.push(b));
    socket.on('error', (e) => (clearTimeout(timer), reject(e)));
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks).toString('utf8');
      const at = all.indexOf('\r\n\r\n');
      const head = all.slice(0, at < 0 ? all.length : at).split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const h of head.slice(1)) {
        const i = h.indexOf(':');
        if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
      }
      const text = at < 0 ? '' : all.slice(at + 4);
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ status, headers, text, json });
    });
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  });
}

/** A line-based TCP session: what the server sent so far, and waiting for text to appear. */
export interface LineSession {
  received(): string;
  /** Resolves once the received text contains `text` (rejects after `timeoutMs`). */
  waitFor(text: string, timeoutMs?: number): Promise<string>;
  send(text: string): void;
  close(): void;
}

export function tcpSession(ep: Endpoint): Promise<LineSession> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(ep.port, ep.host);
    let got = '';
    const listeners: (() => void)[] = [];
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => {
      got += s;
      for (const l of [...listeners]) l();
    });
    socket.on('error', reject);
    socket.on('connect', () =>
      resolve({
        received: () => got,
        waitFor: (text, timeoutMs = 3000) =>
          new Promise((res, rej) => {
            const check = (): void => {
              if (!got.includes(text)) return;
              clearTimeout(timer);
              listeners.splice(listeners.indexOf(check), 1);
              res(got);
            };
            const timer = setTimeout(() => {
              listeners.splice(listeners.indexOf(check), 1);
              rej(new Error(`no ${JSON.stringify(text)} within ${timeoutMs} ms; got ${JSON.stringify(got)}`));
            }, timeoutMs);
            listeners.push(check);
            check();
          }),
        send: (text) => socket.write(text),
        close: () => socket.destroy(),
      }),
    );
  });
}

/** Whether a TCP port on 127.0.0.1 accepts connections. */
export function tcpOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, host);
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

/** A TCP port that was free a moment ago. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** POSTs a raw firmware image to /api/firmware (with a session when a token is given). */
export function uploadImage(dev: RunningDevice, image: Buffer, token?: string): Promise<HttpReply> {
  return http(dev.endpoints.https, 'POST', '/api/firmware', {
    raw: image,
    headers: { 'content-type': 'application/octet-stream' },
    ...(token !== undefined ? { token } : {}),
  });
}

/**
 * An upload to /api/firmware cut before its end: the request head announces
 * the whole image (Content-Length), only the first `sendBytes` (default half)
 * of it follow, then the socket is destroyed. Resolves once it is closed.
 */
export function cutUpload(ep: Endpoint, image: Buffer, opts: { token?: string; sendBytes?: number } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = [`POST /api/firmware HTTP/1.1`, `Host: ${ep.host}:${ep.port}`, 'Content-Type: application/octet-stream', `Content-Length: ${image.length}`];
    if (opts.token !== undefined) lines.push(`Authorization: Bearer ${opts.token}`);
    const part = image.subarray(0, opts.sendBytes ?? Math.floor(image.length / 2));
    const { socket, ready } = dial(ep);
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.on(ready, () => {
      // Give the bytes time to reach the device before the cut.
      socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), part]), () => setTimeout(() => socket.destroy(), 20));
    });
  });
}

/** Resolves once `cond` holds (polled every 5 ms); rejects after `timeoutMs`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(5);
  }
}
