// Small fake devices on 127.0.0.1 port 0 for the access checks' tests: a TCP
// listener with a banner, UDP responders, an HTTP server, a raw MQTT broker
// (mqtt-packet), plus a hand-built check context for running a check without
// the runner (no liveness probe, a scope guard that records every call).
// Everything started here is closed by closeFakes() in afterEach.

import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { CheckContext, ScopeGuard, Target } from '../../../harness/model/index.js';
import { targetFromObject, type TargetFileInput } from '../../../harness/core/target-file.js';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import { createScopeGuard } from '../../../harness/core/scope.js';

const closers: (() => Promise<void>)[] = [];

export async function closeFakes(): Promise<void> {
  const all = closers.splice(0);
  await Promise.all(all.map((c) => c().catch(() => undefined)));
}

export const HOST = '127.0.0.1';

/** A TCP listener that greets with `banner` (or stays silent); counts connections. */
export async function tcpServer(banner?: string): Promise<{ port: number; connections: () => number }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server = createTcpServer((s) => {
    n++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    if (banner !== undefined) s.write(banner);
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => r());
      }),
  );
  return { port: (server.address() as { port: number }).port, connections: () => n };
}

/** A port that was free a moment ago (bound to 0, then released): closed for the probe. */
export async function closedPort(kind: 'tcp' | 'udp'): Promise<number> {
  if (kind === 'tcp') {
    const server = createTcpServer();
    await new Promise<void>((r) => server.listen(0, HOST, r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    return port;
  }
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, HOST, r));
  const port = sock.address().port;
  await new Promise<void>((r) => sock.close(() => r()));
  return port;
}

export type UdpHandler = (msg: Buffer, from: RemoteInfo, sock: UdpSocket) => void;

/** A UDP server; `handler` decides whether and what to answer. Keeps every datagram it got. */
export async function udpServer(handler: UdpHandler = () => {}): Promise<{ port: number; seen: Buffer[] }> {
  const sock = createSocket('udp4');
  const seen: Buffer[] = [];
  sock.on('message', (msg, from) => {
    seen.push(msg);
    handler(msg, from, sock);
  });
  await new Promise<void>((r) => sock.bind(0, HOST, r));
  closers.push(() => new Promise<void>((r) => sock.close(() => r())));
  return { port: sock.address().port, seen };
}

/** Answers a CoAP ping (empty CON) with RST [RFC7252 4.3]. */
export const coapPingResponder: UdpHandler = (msg, from, sock) => {
  if (msg.length === 4 && msg[0] === 0x40 && msg[1] === 0) sock.send(Buffer.from([0x70, 0x00, msg[2]!, msg[3]!]), from.port, from.address);
};

export async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ port: number }> {
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((r) => server.listen(0, HOST, r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as { port: number }).port };
}

/** A raw MQTT 3.1.1 broker: CONNACK `code` to every CONNECT; on SUBSCRIBE, a SUBACK and the `sys` messages. */
export async function mqttServer(opts: { code: number; sys?: readonly { topic: string; payload: string }[] }): Promise<{ port: number; subscribed: string[] }> {
  const subscribed: string[] = [];
  const gen = (p: Parameters<typeof mqttPacket.generate>[0]) => mqttPacket.generate(p, { protocolVersion: 4 });
  const sockets = new Set<Socket>();
  const server = createTcpServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p) => {
      if (p.cmd === 'connect') {
        s.write(gen({ cmd: 'connack', returnCode: opts.code, sessionPresent: false }));
        if (opts.code !== 0) s.end();
      } else if (p.cmd === 'subscribe') {
        subscribed.push(...p.subscriptions.map((x) => x.topic));
        s.write(gen({ cmd: 'suback', messageId: p.messageId!, granted: p.subscriptions.map(() => 0) }));
        for (const m of opts.sys ?? []) s.write(gen({ cmd: 'publish', topic: m.topic, payload: Buffer.from(m.payload), qos: 0, dup: false, retain: true }));
      } else if (p.cmd === 'disconnect') {
        s.end();
      }
    });
    parser.on('error', () => s.destroy());
    s.on('data', (d) => parser.parse(d));
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => r());
      }),
  );
  return { port: (server.address() as { port: number }).port, subscribed };
}

export type RecordingScope = ScopeGuard & { readonly calls: { host: string; what: string }[] };

/** The real scope guard, recording every call (allowed or not). */
export function recordingScope(target: Target): RecordingScope {
  const real = createScopeGuard(target);
  const calls: { host: string; what: string }[] = [];
  return {
    calls,
    assert(host, what) {
      calls.push({ host, what });
      real.assert(host, what);
    },
  };
}

export function targetOf(input: Omit<TargetFileInput, 'format' | 'name' | 'scope'> & Partial<Pick<TargetFileInput, 'scope'>>): Target {
  return targetFromObject({ format: 'gauntlet-target/1', name: 'fake', scope: { hosts: [HOST] }, ...input }, 'test-target');
}

/** A context as the runner builds it, minus the liveness probes around the check. */
export function contextFor(target: Target, over: { scope?: ScopeGuard; ioTimeoutMs?: number; signal?: AbortSignal; seed?: number } = {}): CheckContext & { transcript: TranscriptRecorder } {
  const transcript = new TranscriptRecorder();
  const signal = over.signal ?? new AbortController().signal;
  return {
    target,
    iface: target.interfaces[0]!,
    instance: { id: 'test@target', checkId: 'test', interfaceId: 'target', seed: over.seed ?? 1234 },
    scope: over.scope ?? createScopeGuard(target),
    transcript,
    signal,
    ioTimeoutMs: over.ioTimeoutMs ?? 400,
    budget: { numRuns: 10, timeMs: 5000 },
    replay: {},
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    caseDone() {},
    pacer: { async beforeAttempt() {}, afterAttempt() {}, async waitOut() {} },
    principal: () => undefined,
  };
}
