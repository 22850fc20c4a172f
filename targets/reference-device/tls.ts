// The unit's TLS identity for mqtts and https, and the options of those
// listeners.
//
// Each unit makes its own device CA (an EC P-256 key pair, distinct from the
// update CA's) and a server certificate that CA issues for the unit's host
// (EC P-256, ECDSA with SHA-256, serverAuth; subjectAltName: the host as an IP
// address or as a DNS name, plus the DNS name `localhost` for a loopback
// address), both valid from yesterday for a year. Only the CA certificate is
// written to disk (device-ca.pem in the unit's temp dir, for clients to
// trust): the CA key signs once and is dropped, the server key stays in memory.
// A unit with a material dir (options.materialDir: its flash, kept across
// restarts of its process) also keeps the server certificate and key there,
// so a restarted unit presents the same certificate under the same CA
// (loadOrWriteDeviceTls); the CA key is dropped all the same.
//
// Why EC, and why the certificates are assembled here: node-forge signs RSA
// certificates only, and an RSA-2048 key costs 150-450 ms per unit start on a
// small machine (P-256: well under 1 ms). forge still fills in the names and
// extensions and does the DER encoding; node:crypto signs.
//
// Listener options: hardened (minimum TLS 1.2, Node's default cipher list
// without the SHA-1 MAC suites: its HIGH still holds ECDHE-ECDSA-AES*-SHA,
// CBC with HMAC-SHA1, which transport.tls rightly reports), or legacy, which also accepts TLS 1.0 and 1.1: minVersion TLSv1 and OpenSSL
// security level 0, without which OpenSSL 3 has no signature algorithm for
// those versions' handshakes (SHA-1, MD5+SHA-1) and fails them.

import { X509Certificate, createHash, createPrivateKey, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_CIPHERS, type TlsOptions } from 'node:tls';
import { promisify } from 'node:util';
import forge from 'node-forge';

export const DEVICE_CA_FILE = 'device-ca.pem';
/** In a material dir only: the server certificate and its key (PKCS#8 PEM, mode 0600). */
export const SERVER_CERT_FILE = 'device-server.pem';
export const SERVER_KEY_FILE = 'device-server-key.pem';
/** The cipher string of the legacy listeners (and of a client that wants TLS 1.0 or 1.1 from them). */
export const LEGACY_CIPHERS = 'DEFAULT:@SECLEVEL=0';
/** The hardened listeners' cipher list: Node's defaults less the CBC suites with a SHA-1 MAC (TLS 1.3 suites are configured apart). */
export const HARDENED_CIPHERS = `${DEFAULT_CIPHERS}:!SHA1`;
/** A connection that has not finished its handshake by then is dropped. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Both certificates: valid from one day before the unit starts, for this long. */
export const VALIDITY_DAYS = 365;

const DAY_MS = 24 * 60 * 60 * 1000;
const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
} as const;

export interface DeviceTls {
  /** Absolute path of the device CA certificate (PEM). */
  readonly caCert: string;
  readonly caPem: string;
  /** The server certificate (PEM) and its private key (PKCS#8 PEM, never written to disk). */
  readonly certPem: string;
  readonly keyPem: string;
}

export interface DeviceTlsSubject {
  /** The address the unit listens on: the server certificate's name. */
  readonly host: string;
  readonly vendor: string;
  readonly model: string;
  readonly serial: string;
}

type AltName = { readonly type: 7; readonly ip: string } | { readonly type: 2; readonly value: string };

/** The server certificate's subjectAltName entries for a host. */
export function subjectAltNames(host: string): AltName[] {
  if (isIP(host) === 0) return [{ type: 2, value: host }];
  const loopback = host === '127.0.0.1' || host === '::1';
  return [{ type: 7, ip: host }, ...(loopback ? [{ type: 2 as const, value: 'localhost' }] : [])];
}

const { asn1 } = forge;
const der = (node: forge.asn1.Asn1): forge.Bytes => asn1.toDer(node).getBytes();
const seq = (items: forge.asn1.Asn1[]): forge.asn1.Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
const oid = (id: string): forge.asn1.Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(id).getBytes());
const bitString = (bytes: Buffer): forge.asn1.Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\0${bytes.toString('binary')}`);
const utcTime = (d: Date): forge.asn1.Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(d));

/** The uncompressed EC point of a P-256 public key (what SubjectPublicKeyInfo carries and the key identifier hashes). */
function ecPoint(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
const keyIdentifier = (point: Buffer): forge.Bytes => createHash('sha1').update(point).digest().toString('binary');

interface CertSpec {
  readonly subject: forge.pki.CertificateField[];
  readonly issuer: forge.pki.CertificateField[];
  readonly publicKey: KeyObject;
  /** forge extension descriptions (setExtensions fills in their values). */
  readonly extensions: object[];
  readonly signer: KeyObject;
  readonly notBefore: Date;
}

/** An X.509 v3 certificate for an EC P-256 key, signed ECDSA with SHA-256 by `signer` (PEM). */
function issue(spec: CertSpec): string {
  // forge's certificate object only as the builder of names and extensions (it encodes RSA keys alone).
  const fields = forge.pki.createCertificate();
  fields.setSubject(spec.subject);
  fields.setIssuer(spec.issuer);
  fields.setExtensions(spec.extensions);
  const extensions = fields.extensions.map((e: { id: string; critical?: boolean; value: forge.asn1.Asn1 | forge.Bytes }) =>
    seq([
      oid(e.id),
      ...(e.critical ? [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BOOLEAN, false, '\xff')] : []),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, typeof e.value === 'string' ? e.value : der(e.value)),
    ]),
  );
  const signatureAlgorithm = seq([oid(OID.ecdsaWithSHA256)]); // no parameters [RFC 5758 3.2]
  const tbs = seq([
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, '\x02')]), // v3
    // A positive serial (leading byte 0x01), random per certificate.
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, `\x01${forge.random.getBytesSync(15)}`),
    signatureAlgorithm,
    forge.pki.distinguishedNameToAsn1(fields.issuer),
    seq([utcTime(spec.notBefore), utcTime(new Date(spec.notBefore.getTime() + VALIDITY_DAYS * DAY_MS))]),
    forge.pki.distinguishedNameToAsn1(fields.subject),
    seq([seq([oid(OID.ecPublicKey), oid(OID.prime256v1)]), bitString(ecPoint(spec.publicKey))]),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [seq(extensions)]),
  ]);
  const signature = sign('sha256', Buffer.from(der(tbs), 'binary'), spec.signer); // DER ECDSA-Sig-Value
  const cert = seq([tbs, signatureAlgorithm, bitString(signature)]);
  const body = Buffer.from(der(cert), 'binary').toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${body}${body.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

/** Makes the unit's device CA and server certificate, and writes device-ca.pem into `dir`. */
export async function writeDeviceTls(dir: string, subject: DeviceTlsSubject): Promise<DeviceTls> {
  const generate = promisify(generateKeyPair);
  const [ca, server] = await Promise.all([generate('ec', { namedCurve: 'P-256' }), generate('ec', { namedCurve: 'P-256' })]);
  const notBefore = new Date(Date.now() - DAY_MS);
  const caName = [
    { name: 'commonName', value: `${subject.model} device CA ${subject.serial}` },
    { name: 'organizationName', value: subject.vendor },
  ];
  const caId = keyIdentifier(ecPoint(ca.publicKey));
  const caPem = issue({
    subject: caName,
    issuer: caName,
    publicKey: ca.publicKey,
    signer: ca.privateKey,
    notBefore,
    extensions: [
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier', value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, caId) },
    ],
  });
  const certPem = issue({
    subject: [
      { name: 'commonName', value: subject.host },
      { name: 'organizationName', value: subject.vendor },
    ],
    issuer: caName,
    publicKey: server.publicKey,
    signer: ca.privateKey,
    notBefore,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: subjectAltNames(subject.host) },
      { name: 'subjectKeyIdentifier', value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, keyIdentifier(ecPoint(server.publicKey))) },
      { name: 'authorityKeyIdentifier', keyIdentifier: caId },
    ],
  });
  const caCert = join(dir, DEVICE_CA_FILE);
  writeFileSync(caCert, caPem);
  return { caCert, caPem, certPem, keyPem: server.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** The device TLS material in `dir` if it is whole and still fits the unit (CA, certificate, key, names, validity). */
function loadDeviceTls(dir: string, subject: DeviceTlsSubject): DeviceTls | undefined {
  const caCert = join(dir, DEVICE_CA_FILE);
  const files = [caCert, join(dir, SERVER_CERT_FILE), join(dir, SERVER_KEY_FILE)] as const;
  if (!files.every((f) => existsSync(f))) return undefined;
  try {
    const [caPem, certPem, keyPem] = files.map((f) => readFileSync(f, 'utf8')) as [string, string, string];
    const ca = new X509Certificate(caPem);
    const cert = new X509Certificate(certPem);
    const names = ca.subject.split('\n');
    const fits =
      names.includes(`CN=${subject.model} device CA ${subject.serial}`) &&
      names.includes(`O=${subject.vendor}`) &&
      cert.checkIssued(ca) &&
      cert.verify(ca.publicKey) &&
      cert.checkPrivateKey(createPrivateKey(keyPem)) &&
      (isIP(subject.host) === 0 ? cert.checkHost(subject.host) !== undefined : cert.checkIP(subject.host) !== undefined) &&
      Date.parse(cert.validTo) > Date.now() + DAY_MS;
    return fits ? { caCert, caPem, certPem, keyPem } : undefined;
  } catch {
    return undefined; // unreadable or cut short (a start killed while writing): made anew
  }
}

/**
 * The device CA, server certificate and key an earlier start wrote into `dir`
 * (a material dir), or new ones written there (all three files).
 */
export async function loadOrWriteDeviceTls(dir: string, subject: DeviceTlsSubject): Promise<DeviceTls> {
  const kept = loadDeviceTls(dir, subject);
  if (kept) return kept;
  const made = await writeDeviceTls(dir, subject);
  writeFileSync(join(dir, SERVER_KEY_FILE), made.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, SERVER_CERT_FILE), made.certPem);
  return made;
}

/** The options of the unit's TLS listeners (mqtts, https). */
export function serverTlsOptions(material: DeviceTls, legacy: boolean): TlsOptions {
  return {
    key: material.keyPem,
    cert: material.certPem,
    minVersion: legacy ? 'TLSv1' : 'TLSv1.2',
    ciphers: legacy ? LEGACY_CIPHERS : HARDENED_CIPHERS,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  };
}

/** A short reason for a refused handshake, for the device log. */
export function handshakeFailure(err: Error & { code?: string }): string {
  return err.code ?? err.message.split('\n', 1)[0]!.slice(0, 120);
}
