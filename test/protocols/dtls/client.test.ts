// The harness's DTLS session (node-dtls-client, with its cookieless-hello
// hashing fixed) against the reference device's DTLS server: with and without
// a cookie exchange, each declared suite, a wrong key, and the scope guard.

import { afterEach, describe, expect, it } from 'vitest';
import { GauntletError } from '../../../harness/core/errors.js';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import type { Io } from '../../../harness/protocols/common/io.js';
import { openDtlsChannel } from '../../../harness/protocols/dtls/client.js';
import { startDtlsServer, SUITES, type RunningDtls } from '../../../targets/reference-device/dtls/server.js';

let server: RunningDtls | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const KEY = Buffer.from('0123456789abcdef');
const io = (over: Partial<Io> = {}): Io & { transcript: TranscriptRecorder } =>
  ({ scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs: 1500, peer: 'coaps', ...over }) as Io & { transcript: TranscriptRecorder };

async function echo(cookies: boolean, suites: number[] = [SUITES.TLS_PSK_WITH_AES_128_CCM_8]): Promise<RunningDtls> {
  server = await startDtlsServer({
    host: '127.0.0.1',
    port: 0,
    pskFor: (id) => (id === 'dev' ? KEY : undefined),
    suites,
    cookies,
    replayWindow: true,
    crashOnBadFragment: false,
    log: () => {},
    onData: (peer, data) => peer.send(Buffer.concat([Buffer.from('echo:'), data])),
  });
  return server;
}

async function roundTrip(s: RunningDtls, suites?: string[]): Promise<string> {
  const o = await openDtlsChannel({ host: '127.0.0.1', port: s.port }, { identity: 'dev', key: KEY }, io(), suites ? { suites } : {});
  if (o.kind !== 'open') throw new Error(o.detail);
  try {
    const got = new Promise<string>((resolve) => o.channel.onMessage((m) => resolve(m.toString())));
    o.channel.send(Buffer.from('ping'));
    return await got;
  } finally {
    await o.channel.close();
  }
}

describe('openDtlsChannel', () => {
  it('completes a handshake after a HelloVerifyRequest and carries data', async () => {
    expect(await roundTrip(await echo(true))).toBe('echo:ping');
  });

  it('completes a handshake with a server that sends no HelloVerifyRequest (node-dtls-client fixed)', async () => {
    expect(await roundTrip(await echo(false))).toBe('echo:ping');
  });

  it('negotiates GCM when only GCM is offered, and says which suite in its label', async () => {
    const s = await echo(true, [SUITES.TLS_PSK_WITH_AES_128_CCM_8, SUITES.TLS_PSK_WITH_AES_128_GCM_SHA256]);
    const o = await openDtlsChannel({ host: '127.0.0.1', port: s.port }, { identity: 'dev', key: KEY }, io(), { suites: ['TLS_PSK_WITH_AES_128_GCM_SHA256'] });
    expect(o.kind).toBe('open');
    if (o.kind === 'open') {
      expect(o.channel.label).toBe('dtls as dev (suite 0x00a8)');
      await o.channel.close();
    }
  });

  it('does not open with a wrong key or an unknown identity, within the bound', async () => {
    const s = await echo(true);
    const started = Date.now();
    const wrong = await openDtlsChannel({ host: '127.0.0.1', port: s.port }, { identity: 'dev', key: Buffer.from('nope') }, io());
    const unknown = await openDtlsChannel({ host: '127.0.0.1', port: s.port }, { identity: 'who', key: KEY }, io());
    expect(wrong.kind).not.toBe('open');
    expect(unknown.kind).not.toBe('open');
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('is refused by the scope guard before any datagram', async () => {
    const t = io({
      scope: {
        assert(host: string, what: string) {
          throw new GauntletError('SCOPE_VIOLATION', `${what}: ${host} is not in scope`);
        },
      },
    });
    await expect(openDtlsChannel({ host: '127.0.0.2', port: 5684 }, { identity: 'dev', key: KEY }, t)).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
  });
});
