// Test update servers for the reference device's pull path: certificates made
// with node-forge (a leaf issued by the unit's test update CA, a self-signed
// one, expired ones, wrong-host ones), a real HTTPS server on 127.0.0.1:0 that
// serves a body (or announces it whole and closes half way), and the admin's
// MQTT trigger over a raw session.

import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import type { RunningDevice } from '../../../targets/reference-device/index.js';
import { nativeRsaSigner } from '../../../targets/reference-device/update-pull.js';
import { rawMqtt } from './helpers.js';

export const UPDATE_TOPIC = 'devices/rd1/cmd/update';
const DAY_MS = 24 * 60 * 60 * 1000;

export interface Leaf {
  readonly cert: string;
  readonly key: string;
}

export interface LeafOptions {
  /** The issuer (cert and key PEM); self-signed when absent. */
  readonly issuer?: Leaf;
  /** The IP in the subjectAltName (and CN); default 127.0.0.1. */
  readonly ip?: string;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

/** One RSA-2048 key for every test leaf (generating one takes ~200 ms). */
let leafKey: { readonly keyPem: string; readonly publicPem: string } | undefined;

/** A TLS server certificate for an IP (RSA-2048, serverAuth), issued by `issuer` or self-signed. */
export function makeLeaf(opts: LeafOptions = {}): Leaf {
  if (!leafKey) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    leafKey = { keyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  }
  const { keyPem, publicPem } = leafKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  const now = Date.now();
  cert.validity.notBefore = opts.notBefore ?? new Date(now - DAY_MS);
  cert.validity.notAfter = opts.notAfter ?? new Date(now + 7 * DAY_MS);
  const ip = opts.ip ?? '127.0.0.1';
  cert.setSubject([{ name: 'commonName', value: ip }]);
  let signer = nativeRsaSigner(createPrivateKey(keyPem));
  if (opts.issuer) {
    const ca = forge.pki.certificateFromPem(opts.issuer.cert);
    cert.setIssuer(ca.subject.attributes);
    signer = nativeRsaSigner(createPrivateKey(opts.issuer.key));
  } else {
    cert.setIssuer([{ name: 'commonName', value: ip }]);
  }
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 7, ip }] },
  ]);
  cert.sign(signer, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}

/** The unit's own CA (read from the files it wrote). */
export function unitCa(dev: RunningDevice): Leaf {
  return { cert: readFileSync(dev.updateCa.cert, 'utf8'), key: readFileSync(dev.updateCa.key, 'utf8') };
}

export interface UpdateServer {
  readonly url: string;
  /** How many requests reached the handler (a TLS handshake the client refused never does). */
  requests(): number;
  close(): Promise<void>;
}

/**
 * An HTTPS server on 127.0.0.1:0 answering every GET with `body`; `cutAt`
 * announces the whole body (Content-Length) but sends only that many bytes,
 * then destroys the connection.
 */
export async function updateServer(leaf: Leaf, body: Buffer, opts: { cutAt?: number } = {}): Promise<UpdateServer> {
  let count = 0;
  const server: Server = createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    count++;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    if (opts.cutAt === undefined) {
      res.end(body);
      return;
    }
    res.write(body.subarray(0, opts.cutAt), () => setTimeout(() => res.socket?.destroy(), 20));
  });
  // Refused handshakes are expected here.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/fw/rd1.bin`,
    requests: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Publishes the update trigger as a principal (QoS 1, waits for the PUBACK), then disconnects. */
export async function triggerPull(dev: RunningDevice, who: 'admin' | 'sensor', url: string, payload?: string): Promise<void> {
  const c = who === 'admin' ? dev.credentials.admin : dev.credentials.sensor;
  const raw = await rawMqtt(dev.endpoints.mqtts, { username: c.user, password: c.pass });
  try {
    if (raw.connack !== 0) throw new Error(`CONNECT ${c.user} -> ${raw.connack}`);
    raw.send({ cmd: 'publish', topic: UPDATE_TOPIC, payload: Buffer.from(payload ?? JSON.stringify({ url })), qos: 1, messageId: 1, retain: false, dup: false });
    await raw.next('puback');
  } finally {
    raw.close();
  }
}

/** The one line that ends a pull (`update: pull of ... by ...: outcome` or `update: pull refused ...`), counting from `from`. */
export function pullOutcome(log: readonly string[], from = 0): string | undefined {
  return log.slice(from).find((l) => /^update: pull (of .* by \S+: |refused )/.test(l));
}
