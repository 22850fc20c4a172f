// Test clients for the reference-device suites: raw MQTT CONNECT (mqtt-packet
// over net, to read CONNACK return codes exactly), the mqtt client for ACL
// tests, CoAP over dgram with coap-packet, HTTP with undici, and provisioning.

import { createSocket } from 'node:dgram';
import { connect as tcpConnect, type Socket } from 'node:net';
import { generate as coapGenerate, parse as coapParse } from 'coap-packet';
import { connectAsync, type MqttClient } from 'mqtt';
import { generate as mqttGenerate, parser as mqttParser, type Packet } from 'mqtt-packet';
import { request } from 'undici';
import type { RunningDevice } from '../../../targets/reference-device/index.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

let clientCounter = 0;
const nextClientId = (): string => `t${process.pid}-${++clientCounter}`;

/** Sends one CONNECT and resolves with the CONNACK return code (then closes the socket). */
export function mqttConnack(ep: Endpoint, auth: { username?: string; password?: string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket: Socket = tcpConnect(ep.port, ep.host);
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
    socket.on('connect', () => {
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
    });
  });
}

/** A raw MQTT 3.1.1 session: packets in, packets out, for exact SUBACK codes and the like. */
export interface RawMqtt {
  readonly connack: number;
  send(packet: Packet): void;
  /** The next received packet of a kind (waits up to 3 s). */
  next(cmd: Packet['cmd']): Promise<Packet>;
  close(): void;
}

export function rawMqtt(ep: Endpoint, auth: { username?: string; password?: string } = {}): Promise<RawMqtt> {
  return new Promise((resolve, reject) => {
    const socket: Socket = tcpConnect(ep.port, ep.host);
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
      next: (cmd) =>
        new Promise((res, rej) => {
          const timer = setTimeout(() => rej(new Error(`no ${cmd} within 3 s`)), 3000);
          waiters.push({ cmd, resolve: (p) => (clearTimeout(timer), res(p)) });
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
    socket.on('connect', () => {
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
    });
  });
}

/** A connected mqtt.js client (MQTT 3.1.1, no reconnect); the caller ends it. */
export function mqttClient(ep: Endpoint, username: string, password: string): Promise<MqttClient> {
  return connectAsync({
    host: ep.host,
    port: ep.port,
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
  const res = await request(`http://${ep.host}:${ep.port}${path}`, { method: method as 'GET', headers, body });
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
  return http(dev.endpoints.http, 'POST', '/api/login', { json: { username, password } });
}

/** A session token for a principal; fails the test if the login does not give one. */
export async function token(dev: RunningDevice, username: string, password: string): Promise<string> {
  const r = await login(dev, username, password);
  if (r.status !== 200) throw new Error(`login ${username} -> ${r.status} ${r.text}`);
  return (r.json as { token: string }).token;
}

/** Does what a lab does first with a factory-fresh unit: replace the shipped admin password by adminPass. */
export async function provision(dev: RunningDevice): Promise<void> {
  const r = await http(dev.endpoints.http, 'POST', '/api/password', {
    json: { username: 'admin', password: dev.credentials.shipped.pass, newPassword: dev.credentials.admin.pass },
  });
  if (r.status !== 204) throw new Error(`provisioning -> ${r.status} ${r.text}`);
}
