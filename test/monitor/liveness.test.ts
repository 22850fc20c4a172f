// Liveness probes per protocol, against real sockets on 127.0.0.1 port 0.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { TranscriptRecorder } from '../../harness/core/transcript.js';
import type { CoapInterface, HttpInterface, MqttInterface } from '../../harness/model/index.js';
import { probe } from '../../harness/monitor/liveness.js';
import type { Io } from '../../harness/protocols/common/io.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

const io = (timeoutMs = 200): Io => ({ scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs, peer: 'dev' });

async function tcp(onData: (s: Socket, chunk: Buffer) => void): Promise<{ port: number; chunks: Buffer[]; stop(): Promise<void> }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('data', (c) => {
      chunks.push(c);
      onData(s, c);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const stop = async () => {
    for (const s of sockets) s.destroy();
    if (server.listening) await new Promise<void>((r) => server.close(() => r()));
  };
  closers.push(stop);
  return { port: (server.address() as AddressInfo).port, chunks, stop };
}

async function udp(onMessage: (p: ParsedPacket, reply: (b: Buffer) => void) => void): Promise<{ port: number; seen: ParsedPacket[]; stop(): Promise<void> }> {
  const seen: ParsedPacket[] = [];
  const sock: UdpSocket = createSocket('udp4');
  sock.on('message', (msg, from) => {
    const p = parse(msg);
    seen.push(p);
    onMessage(p, (b) => sock.send(b, from.port, from.address));
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  let open = true;
  const stop = async () => {
    if (open) await new Promise<void>((r) => sock.close(() => r()));
    open = false;
  };
  closers.push(stop);
  return { port: sock.address().port, seen, stop };
}

const mqtt = (port: number, version: 4 | 5 = 4): MqttInterface => ({ id: 'broker', role: 'server', protocol: 'mqtt', host: '127.0.0.1', port, version });
const coap = (port: number): CoapInterface => ({ id: 'sensors', role: 'server', protocol: 'coap', host: '127.0.0.1', port });
const http = (port: number, probePath = '/health'): HttpInterface => ({ id: 'web', role: 'server', protocol: 'http', host: '127.0.0.1', port, probePath });

describe('probe: mqtt', () => {
  it('a refusing broker is alive; the probe is an anonymous CONNECT', async () => {
    const b = await tcp((s) => s.write(mqttPacket.generate({ cmd: 'connack', returnCode: 5, sessionPresent: false })));
    expect(await probe(mqtt(b.port), io())).toEqual({ alive: true, detail: 'CONNACK 5' });
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const got: mqttPacket.IConnectPacket[] = [];
    parser.on('packet', (p) => got.push(p as mqttPacket.IConnectPacket));
    parser.parse(Buffer.concat(b.chunks));
    expect(got[0]).toMatchObject({ cmd: 'connect', protocolVersion: 4 });
    expect(got[0]!.username).toBeUndefined();
    expect(got[0]!.password).toBeUndefined();
  });

  it('an accepting MQTT 5 broker is alive', async () => {
    const b = await tcp((s) => s.write(mqttPacket.generate({ cmd: 'connack', reasonCode: 0, sessionPresent: false }, { protocolVersion: 5 })));
    expect(await probe(mqtt(b.port, 5), io())).toEqual({ alive: true, detail: 'CONNACK 0' });
  });

  it('a broker that accepts TCP and hangs up is alive', async () => {
    const b = await tcp((s) => s.end());
    expect(await probe(mqtt(b.port), io())).toEqual({ alive: true, detail: 'TCP accepted, closed without CONNACK' });
  });

  it('silence is dead', async () => {
    const b = await tcp(() => undefined);
    expect(await probe(mqtt(b.port), io())).toEqual({ alive: false, detail: 'no CONNACK (timeout)', cause: 'silent' });
  });

  it('garbage is dead (malformed)', async () => {
    const b = await tcp((s) => s.write(Buffer.from([0, 0])));
    expect(await probe(mqtt(b.port), io())).toEqual({ alive: false, detail: 'no CONNACK (malformed)', cause: 'silent' });
  });

  it('a stopped port is dead', async () => {
    const b = await tcp(() => undefined);
    await b.stop();
    expect(await probe(mqtt(b.port), io())).toEqual({ alive: false, detail: 'connect failed: ECONNREFUSED', cause: 'refused' });
  });
});

describe('probe: coap', () => {
  const rst = (p: ParsedPacket) => generate({ messageId: p.messageId, reset: true, code: '0.00' });

  it('RST to the ping is alive', async () => {
    const d = await udp((p, reply) => reply(rst(p)));
    expect(await probe(coap(d.port), io())).toEqual({ alive: true, detail: 'RST to CoAP ping' });
    expect(d.seen).toHaveLength(1);
    expect(d.seen[0]!.code).toBe('0.00');
  });

  it('an ACK to the ping is alive, and the detail notes RFC 7252 expects RST', async () => {
    const d = await udp((p, reply) => reply(generate({ messageId: p.messageId, ack: true, code: '4.05' })));
    const l = await probe(coap(d.port), io());
    expect(l.alive).toBe(true);
    expect(l.detail).toBe('answered the CoAP ping with 4.05 (RFC 7252 4.3 expects RST)');
  });

  it('a server that ignores pings but answers GET /.well-known/core is alive', async () => {
    const d = await udp((p, reply) => {
      if (p.code === '0.00') return;
      const path = p.options.filter((o) => o.name === 'Uri-Path').map((o) => o.value.toString());
      if (p.code === '0.01' && path.join('/') === '.well-known/core') {
        reply(generate({ messageId: p.messageId, token: p.token, ack: true, code: '2.05', payload: Buffer.from('</x>') }));
      }
    });
    const l = await probe(coap(d.port), io(150));
    expect(l).toEqual({ alive: true, detail: 'ignored the CoAP ping but answered GET /.well-known/core (2.05)' });
    expect(d.seen.some((p) => p.code === '0.01')).toBe(true);
  });

  it('silence to both the ping and the GET is dead', async () => {
    const d = await udp(() => undefined);
    const started = Date.now();
    expect(await probe(coap(d.port), io(150))).toEqual({ alive: false, detail: 'no answer to CoAP ping (timeout)', cause: 'silent' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(d.seen.some((p) => p.code === '0.00')).toBe(true);
    expect(d.seen.some((p) => p.code === '0.01')).toBe(true);
  });

  it('a stopped port is dead (unreachable)', async () => {
    const d = await udp(() => undefined);
    await d.stop();
    expect(await probe(coap(d.port), io())).toEqual({ alive: false, detail: 'unreachable: ECONNREFUSED', cause: 'refused' });
  });
});

describe('probe: http', () => {
  async function web(handler: Parameters<typeof createHttpServer>[1]): Promise<{ port: number; urls: string[]; stop(): Promise<void> }> {
    const urls: string[] = [];
    const server: HttpServer = createHttpServer((req, res) => {
      urls.push(req.url!);
      handler!(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const stop = async () => {
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    };
    closers.push(stop);
    return { port: (server.address() as AddressInfo).port, urls, stop };
  }

  it('any reply on the probe path is alive, an error status included', async () => {
    const w = await web((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    expect(await probe(http(w.port, '/api/health'), io())).toEqual({ alive: true, detail: 'GET /api/health answered 503' });
    expect(w.urls).toEqual(['/api/health']);
  });

  it('a stopped port is dead', async () => {
    const w = await web((_req, res) => res.end());
    await w.stop();
    expect(await probe(http(w.port), io())).toEqual({ alive: false, detail: 'unreachable: ECONNREFUSED', cause: 'refused' });
  });

  it('a server that never answers is dead', async () => {
    const w = await web(() => undefined);
    expect(await probe(http(w.port), io())).toEqual({ alive: false, detail: 'no HTTP reply', cause: 'silent' });
  });
});
