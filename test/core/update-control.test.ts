// readVersion keeps one session per target across polls, and logs in again
// when the device has ended it.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { targetFromObject } from '../../harness/core/target-file.js';
import { readVersion } from '../../harness/core/update-control.js';
import { TranscriptRecorder } from '../../harness/core/transcript.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

it('one login serves many version reads; a 401 on an ended session logs in once more', async () => {
  let logins = 0;
  let valid = new Set<string>();
  server = createServer((req, res) => {
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    req.resume();
    req.on('end', () => {
      if (req.url === '/login') {
        const t = `t${++logins}`;
        valid.add(t);
        return send(200, { token: t });
      }
      if (req.url === '/status') return valid.has((req.headers.authorization ?? '').slice(7)) ? send(200, { fw: '1.0.0' }) : send(401, {});
      send(404, {});
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const target = targetFromObject(
    {
      format: 'gauntlet-target/1',
      name: 'v',
      scope: { hosts: ['127.0.0.1'] },
      interfaces: [{ id: 'web', protocol: 'http', url: `http://127.0.0.1:${port}`, auth: { kind: 'json', path: '/login', body: { u: '{user}', p: '{pass}' }, token: '$.token' } }],
      principals: { admin: { user: 'a', pass: 'b', role: 'admin' } },
      declaration: {
        update: {
          version: { via: 'web', path: '/status', json: '$.fw', as: 'admin' },
          images: { newer: { file: 'package.json', version: '2' } },
          paths: [{ id: 'up', kind: 'http-upload', via: 'web', path: '/fw', as: 'admin' }],
        },
      },
    },
    'test-target',
  );
  const io = { scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs: 1000, peer: 'web' };
  for (let i = 0; i < 3; i++) expect(await readVersion(target, io)).toEqual({ kind: 'version', version: '1.0.0' });
  expect(logins).toBe(1);
  valid = new Set(); // the device ended every session
  expect(await readVersion(target, io)).toEqual({ kind: 'version', version: '1.0.0' });
  expect(logins).toBe(2);
});
