// The device's plain CoAP server (UDP, the coap package): anonymous sensor
// readings and discovery; /config only over an authenticated channel, which
// plain CoAP is not, so it answers 4.01 unless the anonymous-coap-config flaw
// is on. The UDP socket is created and bound here (not by the coap package,
// which would set SO_REUSEADDR and let two units share a port silently).

import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { createServer, type IncomingMessage, type OutgoingMessage } from 'coap';
import type { DeviceState } from './device-state.js';
import type { Flaw } from './flaws.js';

export const COAP_RESOURCES = ['/sensors/temperature', '/sensors/humidity', '/config'] as const;

export interface CoapServerOptions {
  readonly host: string;
  readonly port: number;
  readonly flaws: ReadonlySet<Flaw>;
  readonly state: DeviceState;
  readonly log: (line: string) => void;
}

export interface RunningCoap {
  readonly port: number;
  close(): Promise<void>;
}

/** RFC 6690 link format of the resources, as /.well-known/core serves it. */
export function linkFormat(): string {
  return [
    '</sensors/temperature>;rt="temperature";if="sensor";ct=0',
    '</sensors/humidity>;rt="humidity";if="sensor";ct=0',
    '</config>;rt="config";ct=50',
  ].join(',');
}

function reply(res: OutgoingMessage, code: string, payload?: string, contentFormat?: string): void {
  res.code = code;
  if (contentFormat !== undefined) res.setOption('Content-Format', contentFormat);
  res.end(payload ?? '');
}

export function handleCoap(req: IncomingMessage, res: OutgoingMessage, opts: Pick<CoapServerOptions, 'flaws' | 'state' | 'log'>): void {
  const path = req.url.split('?')[0] ?? '';
  const method = req.method;
  switch (path) {
    case '/.well-known/core':
      if (method !== 'GET') return reply(res, '4.05');
      return reply(res, '2.05', linkFormat(), 'application/link-format');
    case '/sensors/temperature':
    case '/sensors/humidity':
      if (method !== 'GET') return reply(res, '4.05');
      return reply(res, '2.05', path === '/sensors/temperature' ? opts.state.temperature() : opts.state.humidity(), 'text/plain');
    case '/config': {
      if (method !== 'GET' && method !== 'PUT') return reply(res, '4.05');
      if (!opts.flaws.has('anonymous-coap-config')) {
        opts.log(`coap: ${method} /config refused from ${req.rsinfo.address} (needs an authenticated channel)`);
        return reply(res, '4.01', 'authentication required', 'text/plain');
      }
      if (method === 'GET') return reply(res, '2.05', JSON.stringify(opts.state.config()), 'application/json');
      let update: unknown;
      try {
        update = JSON.parse(req.payload.toString('utf8'));
      } catch {
        return reply(res, '4.00', 'malformed JSON', 'text/plain');
      }
      const result = opts.state.updateConfig(update);
      if (!result.ok) return reply(res, '4.00', result.error, 'text/plain');
      opts.log(`coap: config changed anonymously from ${req.rsinfo.address}`);
      return reply(res, '2.04');
    }
    default:
      return reply(res, '4.04');
  }
}

export async function startCoapServer(opts: CoapServerOptions): Promise<RunningCoap> {
  const socket: Socket = createSocket({ type: isIP(opts.host) === 6 ? 'udp6' : 'udp4', reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port, opts.host, () => {
      socket.off('error', reject);
      resolve();
    });
  }).catch((e: unknown) => {
    socket.close();
    throw e;
  });
  socket.on('error', (err) => opts.log(`coap: socket error: ${err.message}`));

  const server = createServer((req, res) => {
    try {
      handleCoap(req, res, opts);
    } catch (err) {
      opts.log(`coap: internal error: ${err instanceof Error ? err.message : String(err)}`);
      try {
        reply(res, '5.00');
      } catch {
        // the response was already sent
      }
    }
  });
  server.on('error', (err: Error) => opts.log(`coap: server error: ${err.message}`));
  server.listen(socket);

  let closing: Promise<void> | undefined;
  return {
    port: socket.address().port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close();
        socket.close(() => resolve());
      });
      return closing;
    },
  };
}
