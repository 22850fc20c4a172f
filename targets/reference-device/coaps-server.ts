// The device's CoAP-over-DTLS server (coaps): the unit's DTLS 1.2 PSK server
// (dtls/server.ts) carrying the transport-agnostic CoAP endpoint
// (coap-endpoint.ts). Who may do what is decided by the DTLS identity, which
// the handshake proved: the admin identity reads and changes /config and
// installs firmware by block-wise PUT /fw [RFC7959]; the sensor identity reads
// the sensors and /config. An upload's first block is authorised before
// anything is stored. The update-no-auth flaw lets any identity install; the
// brick-on-interrupt flaw erases the running image when a begun transfer is
// abandoned; the dtls-* flaws weaken the DTLS server (no cookie, weak suites,
// a shared example PSK, no replay window, a crash on a crafted fragment).
// A crashed DTLS service is restarted on its port by a watchdog.

import type { DeviceState } from './device-state.js';
import type { Firmware } from './firmware.js';
import { MAX_IMAGE_BYTES } from './firmware.js';
import type { Flaw } from './flaws.js';
import { linkFormat } from './coap-server.js';
import { createCoapEndpoint, type CoapRequest, type CoapResponse } from './coap-endpoint.js';
import { startDtlsServer, SUITES, type RunningDtls } from './dtls/server.js';

/** The unit's DTLS PSK identities (the keys are per unit). */
export const ADMIN_PSK_IDENTITY = 'rd1-admin';
export const SENSOR_PSK_IDENTITY = 'sensor-1';

/** The suites the unit declares (and its DTLS server prefers). */
export const DECLARED_SUITES = ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_GCM_SHA256'] as const;

/** The dtls-default-psk flaw's credential: OpenSSL's default client identity with libcoap's example key. */
export const DEFAULT_PSK = { identity: 'Client_identity', key: 'secretPSK' } as const;

/** The watchdog restarts a crashed DTLS service after this long. */
export const RESTART_DELAY_MS = 1500;

/** The firmware resource: block-wise PUT of a signed image. */
export const FIRMWARE_RESOURCE = '/fw';
/**
 * A begun upload with no next block for this long is abandoned (a client that
 * vanished without ending its DTLS session); one whose session ends is
 * abandoned at once.
 */
export const UPLOAD_ABANDON_MS = 2000;

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
  /** When set, a crash of the DTLS service calls this instead of the in-process watchdog (the unit runs as a process and really dies). */
  readonly onCrash?: (reason: string) => void;
}

export interface RunningCoaps {
  readonly port: number;
  close(): Promise<void>;
}

const text = (code: string, payload?: string): CoapResponse => ({ code, ...(payload !== undefined ? { payload, contentFormat: 0 } : {}) });

export async function startCoapsServer(o: CoapsServerOptions): Promise<RunningCoaps> {
  // The dtls-default-psk flaw: the example credential every unit shares.
  const identityOf = (identity: string): PskAccount | undefined =>
    o.identities.get(identity) ?? (o.flaws.has('dtls-default-psk') && identity === DEFAULT_PSK.identity ? { key: Buffer.from(DEFAULT_PSK.key), role: 'device' } : undefined);
  const roleOf = (identity: string | undefined): PskRole | undefined => (identity === undefined ? undefined : identityOf(identity)?.role);
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
        if (why === 'timeout' || why === 'replaced' || why === 'evicted' || why === 'ended') o.firmware.uploadCut(`coaps ${peer} (${received} bytes, ${why})`);
      },
    },
    log: (line) => o.log(`coaps: ${line}`),
  });

  // The watchdog (like systemd's Restart=on-failure with RestartSec): when the
  // DTLS service dies on its crash path, it comes back on the same port after
  // RESTART_DELAY_MS. A fuzzer sees the outage right after the case that
  // caused it; later checks see coaps again.
  let dtls: RunningDtls;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarting: Promise<void> | undefined;
  let stopped = false;
  const onCrash = (error: Error): void => {
    if (stopped) return;
    if (o.onCrash) return o.onCrash(error.message);
    o.log(`coaps: DTLS service crashed (${error.message}); watchdog restarts it on port ${dtls.port} in ${RESTART_DELAY_MS} ms`);
    restartTimer = setTimeout(restart, RESTART_DELAY_MS);
  };
  const restart = (): void => {
    restartTimer = undefined;
    if (stopped) return;
    const port = dtls.port;
    restarting = startDtls(port).then(
      async (next) => {
        if (stopped) return next.close();
        dtls = next;
        o.log(`coaps: watchdog restarted the DTLS service on port ${port}`);
      },
      (e: unknown) => {
        if (stopped) return;
        // The port may still be held a moment: try again, as systemd would.
        o.log(`coaps: watchdog could not restart the DTLS service on port ${port}: ${e instanceof Error ? e.message : String(e)}; retrying in ${RESTART_DELAY_MS} ms`);
        restartTimer = setTimeout(restart, RESTART_DELAY_MS);
      },
    );
  };

  function startDtls(port: number): Promise<RunningDtls> {
    return startDtlsServer({
      host: o.host,
      port,
      pskFor: (identity) => identityOf(identity)?.key,
      // Preferred first: a client that offers the declared suites gets them, flawed or not.
      suites: [...DECLARED_SUITES.map((n) => SUITES[n]), ...(o.flaws.has('dtls-weak-suite') ? [SUITES.TLS_PSK_WITH_AES_128_CBC_SHA, SUITES.TLS_PSK_WITH_NULL_SHA256] : [])],
      cookies: !o.flaws.has('dtls-no-cookie'),
      replayWindow: !o.flaws.has('dtls-no-replay-window'),
      crashOnBadFragment: o.flaws.has('dtls-crash-fragment'),
      log: (line) => o.log(`coaps: ${line}`),
      onData: (peer, data) => endpoint.receive(data, `dtls:${peer.address}:${peer.port}`, peer.identity, (reply) => peer.send(reply)),
      onSessionEnd: (peer) => endpoint.endPeer(`dtls:${peer.address}:${peer.port}`),
      onCrash,
    });
  }
  dtls = await startDtls(o.port);

  let closing: Promise<void> | undefined;
  return {
    port: dtls.port,
    close() {
      closing ??= (async () => {
        stopped = true;
        clearTimeout(restartTimer);
        endpoint.close();
        await restarting; // a restart in flight closes what it started
        await dtls.close();
      })();
      return closing;
    },
  };
}
