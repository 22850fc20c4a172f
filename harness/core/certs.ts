// X.509 certificates for the pull update server, issued with node-forge: Node
// 20's crypto can make keys and verify certificates (X509Certificate) but has
// no API to create or sign one, and node-forge was chosen over @peculiar/x509
// because the latter needs a global reflect-metadata polyfill (tsyringe).
// Keys are RSA-2048 from node:crypto (native, ~300 ms each), converted via
// PEM and cached per process: certificates differ, keys need not.
//
// What is issued: a leaf from the declared CA for the serve host (the
// positive control), a self-signed leaf, a leaf from the CA for another host,
// and a leaf from the CA that expired yesterday (update.channel).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

const pki = forge.pki;

export interface Ca {
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
  readonly certPem: string;
}

/** A certificate and its key, PEM. */
export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
}

interface CachedKey {
  readonly privateKey: forge.pki.rsa.PrivateKey;
  readonly publicKey: forge.pki.rsa.PublicKey;
  readonly keyPem: string;
}

const keys = new Map<string, CachedKey>();

/** An RSA-2048 key pair per slot, made once per process. */
export function cachedKey(slot = 'leaf'): CachedKey {
  const hit = keys.get(slot);
  if (hit) return hit;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const priv = pki.privateKeyFromPem(keyPem);
  const k: CachedKey = { privateKey: priv, publicKey: pki.setRsaPublicKey(priv.n, priv.e), keyPem };
  keys.set(slot, k);
  return k;
}

export function loadCa(certPem: string, keyPem: string): Ca {
  const cert = pki.certificateFromPem(certPem);
  const key = pki.privateKeyFromPem(keyPem);
  return { cert, key, certPem };
}

const DAY = 24 * 3600 * 1000;
/** A positive serial (leading byte below 0x80), 16 bytes. */
const serial = () => `01${randomBytes(15).toString('hex')}`;

function altName(host: string): { type: number; ip?: string; value?: string } {
  return isIP(host) ? { type: 7, ip: host } : { type: 2, value: host };
}

function build(subjectHost: string, key: CachedKey, notBefore: Date, notAfter: Date, issuer: { cert?: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey }, isCa: boolean): forge.pki.Certificate {
  const cert = pki.createCertificate();
  cert.publicKey = key.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const subject = [{ name: 'commonName', value: subjectHost }, { name: 'organizationName', value: 'Gauntlet test' }];
  cert.setSubject(subject);
  cert.setIssuer(issuer.cert ? issuer.cert.subject.attributes : subject);
  const ext: object[] = isCa
    ? [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        { name: 'subjectKeyIdentifier' },
      ]
    : [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [altName(subjectHost)] },
        { name: 'subjectKeyIdentifier' },
      ];
  cert.setExtensions(ext);
  cert.sign(issuer.key, forge.md.sha256.create());
  return cert;
}

/** A leaf for `host` (IP -> SAN iPAddress, name -> SAN dNSName) signed by `ca`. Default validity: yesterday to +30 days. */
export function issueLeaf(ca: Ca, opts: { host: string; notBefore?: Date; notAfter?: Date }): Issued {
  const k = cachedKey('leaf');
  const now = Date.now();
  const cert = build(opts.host, k, opts.notBefore ?? new Date(now - DAY), opts.notAfter ?? new Date(now + 30 * DAY), { cert: ca.cert, key: ca.key }, false);
  return { certPem: pki.certificateToPem(cert), keyPem: k.keyPem };
}

/** A self-signed leaf for `host` (correct name, valid dates, trusted by nobody). */
export function selfSigned(opts: { host: string }): Issued {
  const k = cachedKey('self');
  const now = Date.now();
  const cert = build(opts.host, k, new Date(now - DAY), new Date(now + 30 * DAY), { key: k.privateKey }, false);
  return { certPem: pki.certificateToPem(cert), keyPem: k.keyPem };
}

/** Another host of the same kind: an IP -> 127.0.0.2 (or .3), a name -> wrong.invalid. */
export function otherHost(host: string): string {
  if (isIP(host) === 4) return host === '127.0.0.2' ? '127.0.0.3' : '127.0.0.2';
  if (isIP(host) === 6) return host === '::2' ? '::3' : '::2';
  return host === 'wrong.invalid' ? 'other.invalid' : 'wrong.invalid';
}

/** A leaf from the CA, valid in time, for a host other than `host`. */
export function wrongHost(ca: Ca, opts: { host: string }): Issued & { readonly issuedFor: string } {
  const issuedFor = otherHost(opts.host);
  return { ...issueLeaf(ca, { host: issuedFor }), issuedFor };
}

/** A leaf from the CA for `host` that expired yesterday (valid 30 days before that). */
export function expired(ca: Ca, opts: { host: string }): Issued {
  const now = Date.now();
  return issueLeaf(ca, { host: opts.host, notBefore: new Date(now - 31 * DAY), notAfter: new Date(now - DAY) });
}

/** A fresh CA (tests, fakes, labs without a manufacturer CA at hand). */
export function newCa(name = 'Gauntlet test CA', slot = 'ca'): Ca & { readonly keyPem: string } {
  const k = cachedKey(slot);
  const now = Date.now();
  const cert = build(name, k, new Date(now - DAY), new Date(now + 365 * DAY), { key: k.privateKey }, true);
  return { cert, key: k.privateKey, certPem: pki.certificateToPem(cert), keyPem: k.keyPem };
}
