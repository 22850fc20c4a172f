// The PULL firmware update path: each unit makes its own test update CA at
// start (RSA-2048, self-signed, written as ca.pem / ca-key.pem into the unit's
// temp images dir, gone with close(); or kept in its material dir and loaded
// again by a restarted unit, loadOrWriteUpdateCa), and trusts ONLY that CA
// for updates.
//
// An MQTT publish of {"url": "https://HOST:PORT/path"} to UPDATE_TOPIC that
// got through the broker's ACL (only admin may publish there) makes the unit
// fetch the URL with node:https (ca: the unit's CA only, default hostname
// verification, rejectUnauthorized true, a 10 s timeout, at most 1 MiB) and
// install the body through Firmware.install, exactly as POST /api/firmware
// does. Only https URLs on the unit's own host are fetched; anything else is
// refused. A body cut before its end (the server closes early, fewer bytes than
// its Content-Length) is discarded via Firmware.uploadCut (which bricks the
// unit with brick-on-interrupt).
//
// Every trigger ends in exactly one log line starting `update: pull ` and
// naming the outcome: installed, image refused, refused (bad request), fetch
// failed, cut, too large.
//
// The pull-any-certificate flaw: the fetch does not verify the server
// certificate (rejectUnauthorized false).

import { X509Certificate, constants, createPrivateKey, generateKeyPair, privateEncrypt, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request, type Agent } from 'node:https';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { MAX_IMAGE_BYTES, type Firmware } from './firmware.js';
import type { Flaw } from './flaws.js';

/** Where the unit listens for update commands (admin only, by the MQTT ACL). */
export const UPDATE_TOPIC = 'devices/rd1/cmd/update';
export const UPDATE_CA_CN = 'RD-1 test update CA';
/** How long a fetch may take before it is abandoned. */
export const PULL_TIMEOUT_MS = 10_000;

export interface UpdateCa {
  /** Absolute path of the CA certificate (PEM). */
  readonly cert: string;
  /** Absolute path of the CA's private key (PEM, PKCS#1). */
  readonly key: string;
  /** The certificate itself: the unit's only trust anchor for updates. */
  readonly certPem: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** DER prefix of a PKCS#1 v1.5 DigestInfo for SHA-256. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * A forge signer backed by node:crypto (forge's pure-JS RSA takes ~100 ms per
 * signature): cert.sign(key, md) calls key.sign(md) with the TBS digested, and
 * RSASSA-PKCS1-v1_5 is the private-key operation on the DigestInfo.
 */
export function nativeRsaSigner(key: KeyObject): forge.pki.rsa.PrivateKey {
  return {
    sign(md: forge.md.MessageDigest): forge.Bytes {
      if (md.algorithm !== 'sha256') throw new Error(`nativeRsaSigner: sha256 only (got ${md.algorithm})`);
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA256_DIGEST_INFO, digest])).toString('binary');
    },
  } as unknown as forge.pki.rsa.PrivateKey;
}

/** Generates the unit's test update CA and writes ca.pem and ca-key.pem into `dir`. */
export async function writeUpdateCa(dir: string): Promise<UpdateCa> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const fPub = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const cert = forge.pki.createCertificate();
  cert.publicKey = fPub;
  // A positive serial (leading byte < 0x80), random per unit.
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  const now = Date.now();
  cert.validity.notBefore = new Date(now - DAY_MS);
  cert.validity.notAfter = new Date(now - DAY_MS + 30 * DAY_MS);
  const name = [{ name: 'commonName', value: UPDATE_CA_CN }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(nativeRsaSigner(privateKey), forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  const certFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca-key.pem');
  writeFileSync(certFile, certPem);
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  return { cert: certFile, key: keyFile, certPem };
}

/**
 * The update CA an earlier start wrote into `dir` (ca.pem and ca-key.pem, a
 * matching pair, still valid), or a new one written there.
 */
export async function loadOrWriteUpdateCa(dir: string): Promise<UpdateCa> {
  const certFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) {
    try {
      const certPem = readFileSync(certFile, 'utf8');
      const cert = new X509Certificate(certPem);
      if (cert.checkPrivateKey(createPrivateKey(readFileSync(keyFile))) && Date.parse(cert.validTo) > Date.now()) {
        return { cert: certFile, key: keyFile, certPem };
      }
    } catch {
      // unreadable or cut short (a start killed while writing it): make a new one
    }
  }
  return writeUpdateCa(dir);
}

export interface PullUpdaterOptions {
  /** The unit's own host: the only host it fetches updates from. */
  readonly host: string;
  readonly flaws: ReadonlySet<Flaw>;
  readonly firmware: Firmware;
  /** The unit's CA certificate (PEM). */
  readonly caPem: string;
  readonly log: (line: string) => void;
}

/** The host as new URL(...).hostname spells it (IPv6 literals in brackets). */
function urlHostname(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export class PullUpdater {
  private readonly inFlight = new Set<ClientRequest>();
  private closed = false;

  constructor(private readonly opts: PullUpdaterOptions) {}

  /** A command on UPDATE_TOPIC that the broker let through, from `who` (a log name). */
  command(payload: Buffer, who: string): void {
    const { log } = this.opts;
    if (this.closed) return;
    let url: URL;
    try {
      const body: unknown = JSON.parse(payload.toString('utf8'));
      const raw = body !== null && typeof body === 'object' ? (body as { url?: unknown }).url : undefined;
      if (typeof raw !== 'string') throw new Error('no "url" string');
      url = new URL(raw);
    } catch (e) {
      log(`update: pull refused from ${who}: payload is not {"url": "https://..."} (${e instanceof Error ? e.message : String(e)})`);
      return;
    }
    const shown = JSON.stringify(url.href.slice(0, 200));
    if (url.protocol !== 'https:' || url.hostname !== urlHostname(this.opts.host) || url.username !== '' || url.password !== '') {
      log(`update: pull refused from ${who}: ${shown} is not an https URL on ${this.opts.host}`);
      return;
    }
    log(`update: pull of ${shown} requested by ${who}`);
    this.fetch(url, shown, who);
  }

  private fetch(url: URL, shown: string, who: string): void {
    const { log, firmware, flaws, caPem } = this.opts;
    const source = `${who} (pull ${shown})`;
    let settled = false;
    let response: IncomingMessage | undefined;
    let received = 0;
    const finish = (line: string): void => {
      if (settled) return;
      settled = true;
      this.inFlight.delete(req);
      if (this.closed) return; // abandoned by close(): the unit is gone
      log(`update: pull of ${shown} by ${who}: ${line}`);
    };
    const req = request(url, {
      method: 'GET',
      ca: [caPem],
      rejectUnauthorized: !flaws.has('pull-any-certificate'),
      timeout: PULL_TIMEOUT_MS,
      // A fresh connection per fetch: no pooled socket outlives the install or the unit.
      agent: false as unknown as Agent,
      headers: { accept: 'application/octet-stream', 'user-agent': 'RD-1 updater' },
    });
    this.inFlight.add(req);
    req.on('timeout', () => req.destroy(new Error(`no complete answer within ${PULL_TIMEOUT_MS} ms`)));
    req.on('error', (err: Error & { code?: string }) => {
      if (settled) return;
      if (response) return cut(err.message);
      finish(`fetch failed (${err.code ? `${err.code}: ` : ''}${err.message}); nothing installed`);
    });
    const cut = (why: string): void => {
      if (settled || this.closed) return;
      const expected = response?.headers['content-length'];
      finish(`cut after ${received}${expected !== undefined ? ` of ${expected}` : ''} bytes (${why})`);
      firmware.uploadCut(source, 'download');
    };
    req.on('response', (res) => {
      response = res;
      const declared = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
      if (res.statusCode !== 200) {
        finish(`fetch failed (HTTP ${res.statusCode}); nothing installed`);
        req.destroy();
        return;
      }
      if (declared !== undefined && declared > MAX_IMAGE_BYTES) {
        finish(`too large (Content-Length ${declared} > ${MAX_IMAGE_BYTES}); nothing installed`);
        req.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        received += chunk.length;
        if (received > MAX_IMAGE_BYTES) {
          finish(`too large (more than ${MAX_IMAGE_BYTES} bytes); nothing installed`);
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err) => cut(err.message));
      res.on('aborted', () => cut('connection closed early'));
      res.on('close', () => {
        if (settled) return;
        if (!res.complete) return cut('connection closed early');
        // 'end' came first for a complete body; nothing left to do here.
      });
      res.on('end', () => {
        if (settled) return;
        if (!res.complete || (declared !== undefined && received !== declared)) return cut('body shorter than Content-Length');
        const result = firmware.install(Buffer.concat(chunks), source);
        finish(result.ok ? `installed ${result.version}` : `image refused (${result.reason})`);
      });
    });
    req.end();
  }

  /** Abandons every fetch in flight (the unit is stopping). */
  close(): void {
    this.closed = true;
    for (const req of this.inFlight) req.destroy();
    this.inFlight.clear();
  }
}
