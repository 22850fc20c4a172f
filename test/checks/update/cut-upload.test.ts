// cutUpload against a raw TCP server: the request announces the whole body,
// the device gets exactly the first cutAt bytes, then the connection ends.

import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GauntletError } from '../../../harness/core/errors.js';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import type { HttpInterface } from '../../../harness/model/index.js';
import type { Io } from '../../../harness/protocols/common/io.js';
import { cutUpload } from '../../../harness/protocols/http/cut-upload.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** Collects what each connection sent until it closed; `answer` replies as soon as the head arrived. */
async function rawServer(answer?: string): Promise<{ port: number; closed: Promise<Buffer> }> {
  let done!: (b: Buffer) => void;
  const closed = new Promise<Buffer>((r) => (done = r));
  server = createServer((s: Socket) => {
    let got = Buffer.alloc(0);
    s.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (answer && got.includes('\r\n\r\n')) s.write(answer);
    });
    s.on('error', () => undefined);
    s.on('close', () => done(got));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { port: (server!.address() as AddressInfo).port, closed };
}

const iface = (port: number): HttpInterface => ({ id: 'web', role: 'server', protocol: 'http', host: '127.0.0.1', port, probePath: '/' });
const io = (transcript = new TranscriptRecorder()): Io => ({ scope: { assert: () => undefined }, transcript, timeoutMs: 1000, peer: 'web' });

describe('cutUpload', () => {
  it('announces the full length, sends cutAt body bytes, then closes', async () => {
    const { port, closed } = await rawServer();
    const body = Buffer.alloc(1000, 0x5a);
    const transcript = new TranscriptRecorder();
    const o = await cutUpload(iface(port), { method: 'POST', path: '/fw', headers: { authorization: 'Bearer x', 'content-type': 'application/octet-stream' }, body }, 300, io(transcript));
    expect(o).toEqual({ kind: 'cut', sent: 300, of: 1000 });
    const got = await closed;
    const split = got.indexOf('\r\n\r\n');
    const head = got.subarray(0, split).toString('latin1');
    expect(head).toMatch(/^POST \/fw HTTP\/1\.1\r\n/);
    expect(head).toMatch(/content-length: 1000/i);
    expect(got.length - split - 4).toBe(300);
    const decoded = transcript.entries().map((e) => e.decoded);
    expect(decoded[0]).toMatch(/Content-Length: 1000, body cut after 300 bytes/);
    expect(decoded[0]).toMatch(/authorization: <redacted>/);
    expect(decoded.at(-1)).toMatch(/destroyed by the harness after 300 of 1000/);
  });

  it('records an answer the device gave before the cut', async () => {
    const { port } = await rawServer('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n');
    const o = await cutUpload(iface(port), { method: 'PUT', path: '/fw', body: Buffer.alloc(100) }, 50, io());
    expect(o.kind).toBe('cut');
    expect(o.kind === 'cut' && o.reply).toBe('HTTP/1.1 401 Unauthorized');
  });

  it('asks the scope guard first', async () => {
    const guard = { assert: () => { throw new GauntletError('SCOPE_VIOLATION', 'no'); } };
    await expect(cutUpload(iface(1), { method: 'POST', path: '/', body: Buffer.alloc(4) }, 2, { ...io(), scope: guard })).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
  });

  it('says unreachable when nothing listens', async () => {
    const { port } = await rawServer();
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const o = await cutUpload(iface(port), { method: 'POST', path: '/', body: Buffer.alloc(4) }, 2, io());
    expect(o.kind).toBe('unreachable');
  });
});
