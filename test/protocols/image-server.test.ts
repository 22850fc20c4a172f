// The pull update server: serves one image at a random path with the given
// certificate, records what the device did (fetched, refused the certificate,
// cut), and closes.

import { request } from 'node:https';
import { describe, expect, it } from 'vitest';
import { issueLeaf, newCa, selfSigned } from '../../harness/core/certs.js';
import { startImageServer } from '../../harness/protocols/http/image-server.js';
import { TranscriptRecorder } from '../../harness/core/transcript.js';

const ca = newCa();
const image = Buffer.alloc(10_000, 7);

type Got = { kind: 'body'; status: number; bytes: number; length?: string } | { kind: 'error'; code: string };

/** A device that fetches `url` trusting only the CA (or anything, with `insecure`). */
function fetch(url: string, insecure = false): Promise<Got> {
  return new Promise((resolve) => {
    const req = request(url, { ca: ca.certPem, rejectUnauthorized: !insecure }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ kind: 'body', status: res.statusCode ?? 0, bytes, length: res.headers['content-length'] }));
      res.on('error', () => resolve({ kind: 'body', status: res.statusCode ?? 0, bytes, length: res.headers['content-length'] }));
      res.on('aborted', () => undefined);
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ kind: 'error', code: String(e.code ?? e.message) }));
    req.end();
  });
}

const ioFor = () => {
  const transcript = new TranscriptRecorder();
  return { io: { transcript, peer: 'dev', timeoutMs: 2000 }, transcript };
};

describe('image server', () => {
  it('serves the image to a device trusting the CA, records the fetch, and closes', async () => {
    const { io, transcript } = ioFor();
    const s = await startImageServer({ host: '127.0.0.1', ...pem(issueLeaf(ca, { host: '127.0.0.1' })), image, io });
    expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/gauntlet\/[0-9a-f]{24}\.bin$/);
    const got = await fetch(s.url);
    expect(got).toEqual({ kind: 'body', status: 200, bytes: image.length, length: String(image.length) });
    const r = await s.settled(1000);
    expect(r).toMatchObject({ fetched: true, tls: 'ok', sent: image.length, of: image.length, connections: 1 });
    expect(r.requests).toEqual([{ method: 'GET', path: new URL(s.url).pathname, status: 200, sent: image.length }]);
    await s.close();
    expect((await fetch(s.url)).kind).toBe('error');
    expect(transcript.entries().map((e) => e.decoded).join('\n')).toMatch(/GET \/gauntlet\/.*\n.*200, the image: 10000 bytes[\s\S]*update server closed/);
  });

  it('a device that refuses the certificate: tls refused, nothing fetched, settled without waiting the full time', async () => {
    const { io, transcript } = ioFor();
    const s = await startImageServer({ host: '127.0.0.1', ...pem(selfSigned({ host: '127.0.0.1' })), image, io, certLabel: 'self-signed' });
    const got = await fetch(s.url);
    expect(got).toEqual({ kind: 'error', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    const t0 = Date.now();
    const r = await s.settled(3000);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(r).toMatchObject({ fetched: false, tls: 'refused', sent: 0, requests: [] });
    await s.close();
    expect(transcript.entries().some((e) => /TLS handshake aborted by the device/.test(e.decoded ?? ''))).toBe(true);
  });

  it('a device that accepts any certificate fetches over the self-signed one', async () => {
    const { io } = ioFor();
    const s = await startImageServer({ host: '127.0.0.1', ...pem(selfSigned({ host: '127.0.0.1' })), image, io });
    expect(await fetch(s.url, true)).toMatchObject({ kind: 'body', bytes: image.length });
    expect(await s.settled(1000)).toMatchObject({ fetched: true, tls: 'ok' });
    await s.close();
  });

  it('cuts the body after N bytes while announcing the full length', async () => {
    const { io } = ioFor();
    const s = await startImageServer({ host: '127.0.0.1', ...pem(issueLeaf(ca, { host: '127.0.0.1' })), image, io, cutAfter: 5000 });
    const got = await fetch(s.url);
    expect(got).toMatchObject({ kind: 'body', status: 200, length: '10000' });
    expect(got.kind === 'body' && got.bytes).toBe(5000);
    expect(await s.settled(1000)).toMatchObject({ fetched: true, sent: 5000, of: 10000 });
    await s.close();
  });

  it('answers 404 on other paths and times out when nobody comes', async () => {
    const { io } = ioFor();
    const s = await startImageServer({ host: '127.0.0.1', ...pem(issueLeaf(ca, { host: '127.0.0.1' })), image, io });
    const other = new URL(s.url);
    other.pathname = '/other';
    expect(await fetch(other.href)).toMatchObject({ kind: 'body', status: 404 });
    const r = await s.settled(100);
    expect(r.fetched).toBe(false);
    expect(r.requests).toEqual([{ method: 'GET', path: '/other', status: 404, sent: 0 }]);
    await s.close();
  });
});

function pem(i: { certPem: string; keyPem: string }) {
  return { certPem: i.certPem, keyPem: i.keyPem };
}

describe('image server, host-name refusal after the handshake', () => {
  it('a device checking the name after the handshake (Node) is seen as refused', async () => {
    const { io } = ioFor();
    const s = await startImageServer({ host: '127.0.0.1', ...pem(issueLeaf(ca, { host: '127.0.0.2' })), image, io });
    expect(await fetch(s.url)).toEqual({ kind: 'error', code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    const r = await s.settled(2000);
    expect(r).toMatchObject({ fetched: false, tls: 'refused', requests: [] });
    await s.close();
  });
});
