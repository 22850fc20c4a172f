// libcoap.ts — launch libcoap's example CoAP server (Debian package
// `libcoap3-bin`: coap-server-notls, coap-server-openssl, coap-server-gnutls)
// on a free 127.0.0.1 port, for interop runs of the CoAP/DTLS checks. Waits
// until it answers a CoAP ping (empty CON -> RST) and stops it on close().
//
// libcoap flags used (see `coap-server-notls` usage text; note -h is the PSK
// identity hint, NOT help): -A address, -p port (UDP *and* TCP; with (D)TLS
// also port+1 for DTLS and TLS), -v verbosity 0..9, -k PSK key, -h PSK hint,
// -i match_identity_file.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import path from 'node:path';

import { freePortBlock, isPortFree, LOOPBACK } from './free-port.js';
import { NotReadyError, spawnManaged, waitReady } from './process.js';

export interface LibcoapPsk {
  /** Pre-shared key (-k). Must not be empty. */
  key: string;
  /** Identity hint sent by the server (-h). libcoap's default is "CoAP"; "" sends none. */
  hint?: string;
  /** Path of a match_identity_file (-i): lines of "hint_to_match,identity_to_match,use_key". */
  idFile?: string;
}

export interface LibcoapOptions {
  /** Path to coap-server-notls / coap-server-openssl / coap-server-gnutls. */
  binary: string;
  /** Enables the DTLS (and TLS) endpoint on port+1. Needs a (D)TLS build, not -notls. */
  psk?: LibcoapPsk;
  /** -v level, default 6 (info). 7 logs every packet (useful, but chatty under fuzzing). */
  verbosity?: number;
  /** Extra coap-server arguments (e.g. ['-e'] to echo PUT payloads, ['-d', '10'] for dynamic resources). */
  extraArgs?: readonly string[];
  /** Port to listen on; default: a free one (UDP+TCP, and port+1 too with psk). */
  port?: number;
  /** Readiness deadline, default 5000 ms. */
  readyTimeoutMs?: number;
}

export interface LibcoapHandle {
  host: typeof LOOPBACK;
  /** CoAP over UDP (and CoAP over TCP) port. */
  port: number;
  /** CoAP over DTLS (and TLS) port, port+1; only when psk was given. */
  dtlsPort?: number;
  pid: number | undefined;
  logs(): string;
  /** SIGTERM, SIGKILL after 2 s, wait for exit. Idempotent. */
  close(): Promise<void>;
}

/** Send one CoAP ping (RFC 7252 §4.3: empty CON) and resolve true on a matching RST. */
export function coapPing(port: number, host: string = LOOPBACK, timeoutMs = 250): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const mid = randomInt(0, 0x10000);
    let finished = false;
    const done = (ok: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('error', () => done(false));
    socket.on('message', (msg) => {
      const b0 = msg[0] ?? 0;
      const isRst = msg.length >= 4 && b0 >> 6 === 1 && ((b0 >> 4) & 3) === 3 && msg[1] === 0;
      if (isRst && msg.readUInt16BE(2) === mid) done(true);
    });
    const ping = Buffer.from([0x40, 0x00, mid >> 8, mid & 0xff]);
    socket.send(ping, port, host, (err) => {
      if (err) done(false);
    });
  });
}

function serverArgs(port: number, opts: LibcoapOptions): string[] {
  const args = ['-A', LOOPBACK, '-p', String(port), '-v', String(opts.verbosity ?? 6)];
  if (opts.psk) {
    args.push('-k', opts.psk.key);
    if (opts.psk.hint !== undefined) args.push('-h', opts.psk.hint);
    if (opts.psk.idFile !== undefined) args.push('-i', opts.psk.idFile);
  }
  args.push(...(opts.extraArgs ?? []));
  return args;
}

export async function startLibcoap(opts: LibcoapOptions): Promise<LibcoapHandle> {
  if (opts.psk) {
    if (opts.psk.key === '') throw new Error('startLibcoap: psk.key must not be empty');
    // coap-server-notls accepts -k and silently ignores it: no DTLS endpoint.
    if (/notls/.test(path.basename(opts.binary))) {
      throw new Error(`startLibcoap: ${opts.binary} has no DTLS support; use coap-server-openssl (or -gnutls) for psk`);
    }
  }
  const span = opts.psk ? 2 : 1;
  if (opts.port !== undefined) {
    // libcoap binds UDP with SO_REUSEADDR and keeps running when a bind fails,
    // so a taken port would look "ready" (someone else answers the ping).
    for (let p = opts.port; p < opts.port + span; p++) {
      for (const kind of ['udp', 'tcp'] as const) {
        if (!(await isPortFree(kind, p))) throw new Error(`startLibcoap: ${LOOPBACK}:${p}/${kind} is already in use`);
      }
    }
  }
  const attempts = opts.port === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePortBlock(['udp', 'tcp'], span));
    const proc = spawnManaged(opts.binary, serverArgs(port, opts));
    try {
      await waitReady(proc, () => coapPing(port), {
        what: `libcoap server (${opts.binary}) on ${LOOPBACK}:${port}`,
        timeoutMs: opts.readyTimeoutMs ?? 5000,
        // It logs bind failures ("cannot create TCP endpoint") but does not exit.
        settleMs: 100,
      });
    } catch (e) {
      await proc.stop();
      if (e instanceof NotReadyError && e.portInUse && attempt < attempts) continue;
      throw e;
    }
    let closing: Promise<void> | null = null;
    const handle: LibcoapHandle = {
      host: LOOPBACK,
      port,
      pid: proc.pid,
      logs: proc.logs,
      close() {
        closing ??= proc.stop(2000).then(() => undefined);
        return closing;
      },
    };
    if (opts.psk) handle.dtlsPort = port + 1;
    return handle;
  }
}
