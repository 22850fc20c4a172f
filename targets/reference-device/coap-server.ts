// The device's plain CoAP server (UDP, the coap package): anonymous sensor
// readings and discovery; /config only over an authenticated channel, which
// plain CoAP is not, so it answers 4.01 unless the anonymous-coap-config flaw
// is on. Error replies carry no diagnostic payload with version information
// (the verbose-errors flaw adds one). The UDP socket is created and bound here
// (not by the coap package, which would set SO_REUSEADDR and let two units
// share a port silently).

import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { createServer, type IncomingMessage, type OutgoingMessage } from 'coap';
import type { DeviceState } from './device-state.js';
import type { Firmware } from './firmware.js';
import type { Flaw } from './flaws.js';
import { FIRMWARE_VERSION } from './http-api.js';
import type { Sessions } from './sessions.js';
import { coapFault, type Fault } from './robustness-flaws.js';

/** Every resource the unit serves (/fw answers 4.01 over plain CoAP: firmware comes over coaps). */
export const COAP_RESOURCES = ['/sensors/temperature', '/sensors/humidity', '/config', '/fw'] as const;

export interface CoapServerOptions {
  readonly host: string;
  readonly port: number;
  readonly flaws: ReadonlySet<Flaw>;
  readonly state: DeviceState;
  readonly log: (line: string) => void;
  /** The unit's HTTP sessions: the coap-hidden-resource flaw's /debug tells whether an admin is logged in. */
  readonly sessions?: Sessions;
  /** The firmware version the verbose-errors diagnostic names (default the baseline FIRMWARE_VERSION). */
  readonly firmwareVersion?: () => string;
  /** The firmware slot: plain CoAP PUT /fw installs only with the update-no-auth flaw (coaps is the way in). */
  readonly firmware?: Pick<Firmware, 'install'>;
  /** A robustness flaw fired on a datagram: the device's watchdog crashes the service. */
  readonly onFault?: (fault: Fault) => void;
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
    '</fw>;rt="firmware";ct=42',
  ].join(',');
}

function reply(res: OutgoingMessage, code: string, payload?: string, contentFormat?: string): void {
  res.code = code;
  if (contentFormat !== undefined) res.setOption('Content-Format', contentFormat);
  res.end(payload ?? '');
}

const ERROR_NAMES: Readonly<Record<string, string>> = {
  '4.00': 'Bad Request',
  '4.01': 'Unauthorized',
  '4.04': 'Not Found',
  '4.05': 'Method Not Allowed',
  '5.00': 'Internal Server Error',
};

/**
 * An error reply: hardened, the short text/plain message (if any) and nothing
 * about the firmware; with verbose-errors, a diagnostic payload (RFC 7252
 * 5.5.2, no Content-Format) naming the firmware, its version and the runtime.
 */
function fail(res: OutgoingMessage, o: Pick<CoapServerOptions, 'flaws' | 'firmwareVersion'>, code: string, path: string, message?: string): void {
  if (o.flaws.has('verbose-errors')) {
    const why = message ?? ERROR_NAMES[code] ?? 'error';
    return reply(res, code, `rd1-firmware/${o.firmwareVersion?.() ?? FIRMWARE_VERSION} (node ${process.versions.node}; coap-server.js): ${why} [${path}]`);
  }
  reply(res, code, message, message !== undefined ? 'text/plain' : undefined);
}

type HandleOptions = Pick<CoapServerOptions, 'flaws' | 'state' | 'log' | 'sessions' | 'firmwareVersion' | 'firmware'>;

export function handleCoap(req: IncomingMessage, res: OutgoingMessage, opts: HandleOptions): void {
  const path = req.url.split('?')[0] ?? '';
  const method = req.method;
  const { flaws } = opts;
  switch (path) {
    case '/.well-known/core':
      if (method !== 'GET') return fail(res, opts, '4.05', path);
      return reply(res, '2.05', linkFormat(), 'application/link-format');
    case '/sensors/temperature':
    case '/sensors/humidity':
      if (method === 'DELETE' && path === '/sensors/temperature' && flaws.has('coap-method-confusion')) {
        // The flaw: a method the resource does not declare, served anyway.
        opts.state.resetTemperature();
        opts.log(`coap: temperature reading reset by DELETE from ${req.rsinfo.address}`);
        return reply(res, '2.02');
      }
      if (method !== 'GET') return fail(res, opts, '4.05', path);
      return reply(res, '2.05', path === '/sensors/temperature' ? opts.state.temperature() : opts.state.humidity(), 'text/plain');
    case '/config': {
      if (method !== 'GET' && method !== 'PUT') return fail(res, opts, '4.05', path);
      if (!flaws.has('anonymous-coap-config')) {
        opts.log(`coap: ${method} /config refused from ${req.rsinfo.address} (needs an authenticated channel)`);
        return fail(res, opts, '4.01', path, 'authentication required');
      }
      if (method === 'GET') return reply(res, '2.05', JSON.stringify(opts.state.config()), 'application/json');
      let update: unknown;
      try {
        update = JSON.parse(req.payload.toString('utf8'));
      } catch {
        return fail(res, opts, '4.00', path, 'malformed JSON');
      }
      const result = opts.state.updateConfig(update);
      if (!result.ok) return fail(res, opts, '4.00', path, result.error);
      opts.log(`coap: config changed anonymously from ${req.rsinfo.address}`);
      return reply(res, '2.04');
    }
    case '/fw': {
      // Firmware goes over coaps, from the admin identity; plain CoAP proves nobody.
      // (The coap package has already reassembled a block-wise PUT at this point.)
      if (method !== 'PUT') return fail(res, opts, '4.05', path);
      if (!flaws.has('update-no-auth') || !opts.firmware) {
        opts.log(`coap: PUT /fw refused from ${req.rsinfo.address} (needs the admin DTLS identity)`);
        return fail(res, opts, '4.01', path, 'authentication required');
      }
      const r = opts.firmware.install(req.payload, `plain coap ${req.rsinfo.address}:${req.rsinfo.port}`);
      return r.ok ? reply(res, '2.04') : fail(res, opts, '4.00', path, `image refused: ${r.reason}`);
    }
    case '/debug':
      // The coap-hidden-resource flaw: served, but neither listed nor declared.
      if (!flaws.has('coap-hidden-resource')) return fail(res, opts, '4.04', path);
      if (method !== 'GET') return fail(res, opts, '4.05', path);
      return reply(res, '2.05', debugState(opts), 'text/plain');
    default:
      return fail(res, opts, '4.04', path);
  }
}

/** The internal state /debug leaks (coap-hidden-resource). */
function debugState(opts: HandleOptions): string {
  const admins = opts.sessions?.countLive('admin') ?? 0;
  return `uptime=${opts.state.uptimeSeconds()};heap=${process.memoryUsage().heapUsed};admin-session=${admins > 0 ? 'active' : 'none'}`;
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
  // The coap package sends delayed empty ACKs and retransmissions from its own
  // timers, which it does not cancel on close: after a crash (the socket closed
  // under it) such a send would throw out of a timer. Sends on a closed socket
  // are dropped instead, as a dead process's would be.
  let socketClosed = false;
  const send = socket.send.bind(socket) as (...args: unknown[]) => void;
  (socket as unknown as { send: (...args: unknown[]) => void }).send = (...args: unknown[]) => {
    if (socketClosed) return;
    try {
      send(...args);
    } catch (err) {
      opts.log(`coap: send failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  // The robustness flaws read each datagram before the coap package does; block buffers leak across the service's life.
  const leak = { bytes: 0 };
  socket.on('message', (msg: Buffer) => {
    const fault = coapFault(msg, opts.flaws, leak);
    // After the coap package has handled this datagram: a reply written to a closed socket would throw.
    if (fault) setImmediate(() => opts.onFault?.(fault));
  });

  const server = createServer((req, res) => {
    // A reply cut short by a crash (the socket closed under it) must not take the process down.
    res.on('error', (err: Error) => opts.log(`coap: reply failed: ${err.message}`));
    try {
      handleCoap(req, res, opts);
    } catch (err) {
      opts.log(`coap: internal error: ${err instanceof Error ? err.message : String(err)}`);
      try {
        fail(res, opts, '5.00', req.url);
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
        socketClosed = true;
        server.close();
        socket.close(() => resolve());
      });
      return closing;
    },
  };
}
