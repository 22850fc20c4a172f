// A pull update triggered over mqtts: the fake pulling device's broker behind
// a TLS front (as stunnel would put it) on 127.0.0.1 port 0, declared as an
// mqtts interface with the front's CA. The positive control installs as it
// does over plain MQTT.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { issueLeaf, newCa } from '../../../harness/core/certs.js';
import { targetFromObject, type TargetFileInput } from '../../../harness/core/target-file.js';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import { updatePositiveControl } from '../../../harness/core/update-control.js';
import { withPuller } from './fake-puller.js';

/** A TLS listener in front of the plain TCP port `target`: its port and a closer. */
async function tlsFront(target: number, cert: { certPem: string; keyPem: string }): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTlsServer({ cert: cert.certPem, key: cert.keyPem }, (outer) => {
    const inner = netConnect({ host: '127.0.0.1', port: target });
    for (const s of [outer, inner]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => (outer.destroy(), inner.destroy()));
    }
    outer.pipe(inner).pipe(outer);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('pull delivery over mqtts', () => {
  it('positive control: the trigger goes over TLS and the newer image installs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gauntlet-pull-mqtts-'));
    const ca = newCa('Broker CA', 'broker-ca');
    writeFileSync(join(dir, 'broker-ca.pem'), ca.certPem);
    try {
      await withPuller({}, async (f) => {
        const plain = f.target();
        const broker = plain.interfaces.find((i) => i.id === 'broker')!;
        const front = await tlsFront(Number(new URL(broker.url).port), issueLeaf(ca, { host: '127.0.0.1' }));
        try {
          const input: TargetFileInput = {
            ...plain,
            interfaces: plain.interfaces.map((i) => (i.id === 'broker' ? { id: 'broker', protocol: 'mqtts', url: `mqtts://127.0.0.1:${front.port}`, version: 4, tls: { ca: join(dir, 'broker-ca.pem') } } : i)),
          };
          const target = targetFromObject(input, 'test-target');
          const transcript = new TranscriptRecorder();
          const io = { scope: { assert() {} }, transcript, timeoutMs: 1500, peer: 'broker' };
          const r = await updatePositiveControl(target, io, (ms) => new Promise((res) => setTimeout(res, ms)));
          expect(r.kind, r.detail).toBe('done');
          expect(f.installs).toEqual([200]);
          const log = transcript.entries().map((e) => e.decoded);
          expect(log).toContainEqual(expect.stringMatching(/^TLS 1\.3 .*certificate CN=127\.0\.0\.1 issued by CN=Broker CA; verified$/));
          expect(log).toContainEqual('admin: CONNECT user admin');
        } finally {
          await front.close();
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
