// From a PSK to record keys: the TLS 1.2 PRF (RFC 5246 5), the PSK premaster
// secret (RFC 4279 2), the master secret (RFC 5246 8.1, or RFC 7627 4 when the
// client asked for the extended master secret), the key block (RFC 5246 6.3)
// and Finished verify_data (RFC 5246 7.4.9).

import { createHash, createHmac } from 'node:crypto';
import type { SuiteParams } from './suites.js';

/** P_SHA256(secret, label + seed) cut to `length` bytes: the only PRF of TLS 1.2 for these suites. */
export function prf(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const labelSeed = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  const out: Buffer[] = [];
  let total = 0;
  let a = labelSeed; // A(0)
  while (total < length) {
    a = createHmac('sha256', secret).update(a).digest();
    const block = createHmac('sha256', secret).update(a).update(labelSeed).digest();
    out.push(block);
    total += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** RFC 4279 2: uint16 N, N zero bytes, uint16 N, the PSK. */
export function pskPremaster(psk: Buffer): Buffer {
  const n = psk.length;
  const out = Buffer.alloc(4 + 2 * n);
  out.writeUInt16BE(n, 0);
  out.writeUInt16BE(n, 2 + n);
  psk.copy(out, 4 + n);
  return out;
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

export interface MasterSecretInput {
  readonly premaster: Buffer;
  readonly clientRandom: Buffer;
  readonly serverRandom: Buffer;
  /** SHA-256 of the transcript through ClientKeyExchange when the extended master secret is in use. */
  readonly sessionHash: Buffer | undefined;
}

export function masterSecret(i: MasterSecretInput): Buffer {
  if (i.sessionHash !== undefined) return prf(i.premaster, 'extended master secret', i.sessionHash, 48);
  return prf(i.premaster, 'master secret', Buffer.concat([i.clientRandom, i.serverRandom]), 48);
}

/** The keys of one direction of the connection. */
export interface DirectionKeys {
  readonly macKey: Buffer;
  readonly encKey: Buffer;
  readonly fixedIv: Buffer;
}

export interface KeyBlock {
  readonly client: DirectionKeys;
  readonly server: DirectionKeys;
}

/** RFC 5246 6.3: client MAC, server MAC, client key, server key, client IV, server IV. */
export function keyBlock(suite: SuiteParams, master: Buffer, clientRandom: Buffer, serverRandom: Buffer): KeyBlock {
  const m = suite.macKeyLength;
  const k = suite.encKeyLength;
  const v = suite.fixedIvLength;
  const block = prf(master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 2 * (m + k + v));
  let at = 0;
  const take = (n: number): Buffer => {
    const part = Buffer.from(block.subarray(at, at + n));
    at += n;
    return part;
  };
  const clientMac = take(m);
  const serverMac = take(m);
  const clientKey = take(k);
  const serverKey = take(k);
  const clientIv = take(v);
  const serverIv = take(v);
  return {
    client: { macKey: clientMac, encKey: clientKey, fixedIv: clientIv },
    server: { macKey: serverMac, encKey: serverKey, fixedIv: serverIv },
  };
}

/** verify_data of a Finished message: 12 bytes of PRF(master, "<side> finished", Hash(handshake_messages)). */
export function finishedVerifyData(master: Buffer, side: 'client' | 'server', transcriptHash: Buffer): Buffer {
  return prf(master, `${side} finished`, transcriptHash, 12);
}
