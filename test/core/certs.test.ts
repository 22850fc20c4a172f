// The certificates harness/core/certs.ts issues, judged by node:tls itself:
// a leaf from the CA verifies against that CA for its host; the self-signed,
// wrong-host and expired ones fail with the error a verifying client reports.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { checkServerIdentity, connect, createServer, type PeerCertificate, type Server } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { expired, issueLeaf, newCa, selfSigned, wrongHost, otherHost, type Issued } from '../../harness/core/certs.js';

const ca = newCa();

/** Connects to a TLS server using `issued`, trusting only the CA; resolves with the verification error code (or 'ok'). */
async function verdict(issued: Issued, host: string, servername?: string): Promise<string> {
  const server: Server = createServer({ cert: issued.certPem, key: issued.keyPem }, (s) => s.end());
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  try {
    return await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port, ca: ca.certPem, ...(servername ? { servername } : {}), checkServerIdentity: (_h, cert) => tlsCheck(host, cert) });
      s.on('secureConnect', () => {
        resolve('ok');
        s.destroy();
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(String(e.code ?? e.message)));
    });
  } finally {
    server.close();
  }
}

const tlsCheck = (host: string, cert: PeerCertificate) => checkServerIdentity(host, cert);

describe('certs', () => {
  it('a leaf from the CA for 127.0.0.1 verifies (SAN iPAddress) and carries the host', async () => {
    const leaf = issueLeaf(ca, { host: '127.0.0.1' });
    const x = new X509Certificate(leaf.certPem);
    expect(x.subjectAltName).toBe('IP Address:127.0.0.1');
    expect(x.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(await verdict(leaf, '127.0.0.1')).toBe('ok');
  });

  it('a leaf for a DNS name carries a dNSName SAN and verifies under that name', async () => {
    const leaf = issueLeaf(ca, { host: 'update.example.test' });
    expect(new X509Certificate(leaf.certPem).subjectAltName).toBe('DNS:update.example.test');
    expect(await verdict(leaf, 'update.example.test', 'update.example.test')).toBe('ok');
  });

  it('self-signed fails: DEPTH_ZERO_SELF_SIGNED_CERT', async () => {
    expect(await verdict(selfSigned({ host: '127.0.0.1' }), '127.0.0.1')).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('wrong host fails the identity check; the chain itself is fine', async () => {
    const w = wrongHost(ca, { host: '127.0.0.1' });
    expect(w.issuedFor).toBe('127.0.0.2');
    expect(await verdict(w, '127.0.0.1')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(await verdict(w, '127.0.0.2')).toBe('ok');
    expect(otherHost('device.local')).toBe('wrong.invalid');
  });

  it('expired fails: CERT_HAS_EXPIRED, and expired yesterday', async () => {
    const e = expired(ca, { host: '127.0.0.1' });
    const x = new X509Certificate(e.certPem);
    expect(Date.parse(x.validTo)).toBeLessThan(Date.now());
    expect(Date.parse(x.validTo)).toBeGreaterThan(Date.now() - 2 * 24 * 3600 * 1000);
    expect(await verdict(e, '127.0.0.1')).toBe('CERT_HAS_EXPIRED');
  });
});
