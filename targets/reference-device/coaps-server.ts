// The device's CoAP-over-DTLS server (coaps): the unit's DTLS 1.2 PSK server
// (dtls/server.ts) carrying the transport-agnostic CoAP endpoint
// (coap-endpoint.ts). Who may do what is decided by the DTLS identity, which
// the handshake proved: the admin identity reads and changes /config and
// installs firmware by block-wise PUT /fw [RFC7959]; the sensor identity reads
// the sensors and /config. An upload's first block is authorised before
// anything is stored. The update-no-auth flaw lets any identity install; the
// brick-on-interrupt flaw erases the running image when a begun transfer is
// abandoned.

import type { DeviceState } from './device-state.js';
import type { Firmware } from './firmware.js';
import { MAX_IMAGE_BYTES } from './firmware.js';
import type { Flaw } from './flaws.js';
import { linkFormat } from './coap-server.js';
import { createCoapEndpoint, type CoapRequest, type CoapResponse } from './coap-endpoint.js';
import { startDtlsServer, SUITES } from './dtls/server.js';

/** The unit's DTLS PSK identities (the keys are per unit). */
export const ADMIN_PSK_IDENTITY = 'rd1-admin';
export const SENSOR_PSK_IDENTITY = 'sensor-1';

/** The firmware resource: block-wise PUT of a signed image. */
export const FIRMWARE_RESOURCE = '/fw';
/** A begun upload with no next block for this long is abandoned. */
export const UPLOAD_ABANDON_MS = 200;

export type PskRole = 'admin' | 'device';

export interface PskAccount {
  readonly key: Buffer;
  readonly role: PskRole;
}

export interface CoapsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly flaws: ReadonlySet<Flaw>;
  readonly state: DeviceState;
  readonly firmware: Firmware;
  /** The unit's PSK identities. */
  readonly identities: ReadonlyMap<string, PskAccount>;
  readonly log: (line: string) => void;
}

export interface RunningCoaps {
  readonly port: number;
  close(): Promise<void>;
}

const text = (code: string, payload?: string): CoapResponse => ({ code, ...(payload !== undefined ? { payload, contentFormat: 0 } : {}) });

export async function startCoapsServer(o: CoapsServerOptions): Promise<RunningCoaps> {
  const roleOf = (identity: string | undefined): PskRole | undefined => (identity === undefined ? undefined : o.identities.get(identity)?.role);
  const who = (req: Pick<CoapRequest, 'identity' | 'peer'>) => `coaps ${req.identity ?? '?'} (${req.peer})`;

  const handle = (req: CoapRequest): CoapResponse => {
    const role = roleOf(req.identity);
    switch (req.path) {
      case '/.well-known/core':
        return req.method === 'GET' ? { code: '2.05', payload: linkFormat(), contentFormat: 40 } : text('4.05');
      case '/sensors/temperature':
      case '/sensors/humidity':
        if (req.method !== 'GET') return text('4.05');
        return { code: '2.05', payload: req.path === '/sensors/temperature' ? o.state.temperature() : o.state.humidity(), contentFormat: 0 };
      case '/config': {
        if (req.method === 'GET') return { code: '2.05', payload: JSON.stringify(o.state.config()), contentFormat: 50 };
        if (req.method !== 'PUT') return text('4.05');
        if (role !== 'admin') return text('4.03', 'admin only');
        let update: unknown;
        try {
          update = JSON.parse(req.payload.toString('utf8'));
        } catch {
          return text('4.00', 'malformed JSON');
        }
        const result = o.state.updateConfig(update);
        if (!result.ok) return text('4.00', result.error);
        o.log(`coaps: config changed by ${who(req)}`);
        return { code: '2.04' };
      }
      case FIRMWARE_RESOURCE: {
        if (req.method !== 'PUT') return text('4.05');
        // A one-shot (non-block-wise) upload is authorised here; block-wise ones by authorizeUpload.
        const refused = authorize(req);
        if (refused) return refused;
        const r = o.firmware.install(req.payload, who(req));
        return r.ok ? { code: '2.04' } : text('4.00', `image refused: ${r.reason}`);
      }
      default:
        return text('4.04');
    }
  };

  const authorize = (req: Pick<CoapRequest, 'identity' | 'peer' | 'path'>): CoapResponse | undefined => {
    if (roleOf(req.identity) === 'admin' || o.flaws.has('update-no-auth')) return undefined;
    o.log(`coaps: firmware upload refused for ${who(req)} (not the admin identity)`);
    return text('4.03', 'admin only');
  };

  const endpoint = createCoapEndpoint({
    handle,
    authorizeUpload: (req) => authorize(req),
    uploads: {
      accepts: (method, path) => method === 'PUT' && path === FIRMWARE_RESOURCE,
      maxBytes: MAX_IMAGE_BYTES,
      abandonAfterMs: UPLOAD_ABANDON_MS,
      onAbandon: (peer, _path, received, why) => {
        // Refused (too-large) and shut-down (closed) transfers are not cuts.
        if (why === 'timeout' || why === 'replaced' || why === 'evicted') o.firmware.uploadCut(`coaps ${peer} (${received} bytes, ${why})`);
      },
    },
    log: (line) => o.log(`coaps: ${line}`),
  });

  const dtls = await startDtlsServer({
    host: o.host,
    port: o.port,
    pskFor: (identity) => o.identities.get(identity)?.key,
    suites: [SUITES.TLS_PSK_WITH_AES_128_CCM_8, SUITES.TLS_PSK_WITH_AES_128_GCM_SHA256],
    cookies: true,
    replayWindow: true,
    crashOnBadFragment: false,
    log: (line) => o.log(`coaps: ${line}`),
    onData: (peer, data) => endpoint.receive(data, `dtls:${peer.address}:${peer.port}`, peer.identity, (reply) => peer.send(reply)),
  });

  let closing: Promise<void> | undefined;
  return {
    port: dtls.port,
    close() {
      closing ??= (async () => {
        endpoint.close();
        await dtls.close();
      })();
      return closing;
    },
  };
}
