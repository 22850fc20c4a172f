// The DTLS checks against libcoap's coap-server-openssl (Debian libcoap3-bin
// 4.3.1 on OpenSSL 3), started on 127.0.0.1 with a PSK: (a) the example key
// `secretPSK` with identity hint `CoAP`, which libcoap accepts from any
// identity: a default credential; (b) a random per-unit key: no false
// findings. The declared suites are the ten AEAD PSK suites libcoap 4.3.1
// really accepts (transport.dtls-handshake's own test establishes that list).

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { TargetFileInput } from '../../harness/core/target-file.js';
import { startLibcoap, type LibcoapHandle } from '../../targets/interop/libcoap.js';
import { runAgainst, verdictTable } from '../support/run-target.js';
import { LIBCOAP_SUITES } from '../support/libcoap.js';

const interop = inject('interop');

const ONLY = ['transport.dtls-handshake@coaps', 'auth.default-credentials@coaps', 'transport.dtls-replay@coaps', 'transport.dtls-robustness@coaps'];

function libcoapTarget(h: LibcoapHandle, key: string): TargetFileInput {
  return {
    format: 'gauntlet-target/1',
    name: 'libcoap',
    scope: { hosts: ['127.0.0.1'] },
    interfaces: [
      { id: 'coap', protocol: 'coap', url: `coap://127.0.0.1:${h.port}` },
      { id: 'coaps', protocol: 'coaps', url: `coaps://127.0.0.1:${h.dtlsPort!}` },
    ],
    principals: { lab: { user: 'lab', pass: 'unused', role: 'admin', psk: { identity: 'lab-client', key } } },
    declaration: { dtls: { coaps: { versions: ['1.2'], suites: LIBCOAP_SUITES, cookie: true } } },
  };
}

const ROBUSTNESS = 'transport.dtls-robustness@coaps';
const OPTS = { numRuns: 20, timeMs: 30_000, ioTimeoutMs: 1000 };

/**
 * transport.dtls-robustness on a fresh server. libcoap keeps at most 100
 * sessions in handshake (COAP_DEFAULT_MAX_HANDSHAKE_SESSIONS) for up to 30 s
 * (COAP_PARTIAL_SESSION_TIMEOUT_TICKS) and drops new ClientHellos past that;
 * the dictionary's identities fill that table (silently dropped wrong keys
 * leave their sessions half-open), so after auth.default-credentials the
 * hostile cases would be judged on libcoap's leftovers, not on what they did.
 */
async function robustnessOnFresh(start: () => Promise<LibcoapHandle>, key: string): Promise<void> {
  await server?.close();
  server = await start();
  const run = await runAgainst(libcoapTarget(server, key), { only: [ROBUSTNESS], ...OPTS });
  expect(run.byId.get(ROBUSTNESS)?.verdict, verdictTable(run.results)).toBe('pass');
}

/** Every DTLS check passes (no false findings); the robustness cases on a fresh server (above). */
async function everyCheckPasses(start: () => Promise<LibcoapHandle>, key: string): Promise<void> {
  server = await start();
  const others = ONLY.filter((id) => id !== ROBUSTNESS);
  const run = await runAgainst(libcoapTarget(server, key), { only: others, ...OPTS });
  const table = verdictTable(run.results);
  for (const id of others) expect(run.byId.get(id)?.verdict, `${id}\n${table}`).toBe('pass');
  await robustnessOnFresh(start, key);
}

let server: LibcoapHandle | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe.skipIf(!interop.coapServerOpenssl)('libcoap coap-server-openssl interop: DTLS checks', () => {
  it('(a) the example key secretPSK (hint CoAP) is reported as a default credential; the rest of its DTLS is sound', async () => {
    const start = () => startLibcoap({ binary: interop.coapServerOpenssl!, psk: { key: 'secretPSK', hint: 'CoAP' } });
    server = await start();
    const run = await runAgainst(libcoapTarget(server, 'secretPSK'), { only: ONLY.filter((id) => id !== ROBUSTNESS), ...OPTS });
    const table = verdictTable(run.results);
    const dc = run.byId.get('auth.default-credentials@coaps')!;
    expect(dc.verdict, table).toBe('fail');
    expect(dc.findings.map((f) => f.summary).join('\n')).toMatch(/key "secretPSK"/);
    expect(run.byId.get('transport.dtls-handshake@coaps')?.verdict, table).toBe('pass');
    expect(run.byId.get('transport.dtls-replay@coaps')?.verdict, table).toBe('pass');
    await robustnessOnFresh(start, 'secretPSK');
  }, 120_000);

  it('(b) a random per-unit key: every DTLS check passes (no false findings)', async () => {
    const key = randomBytes(12).toString('base64url');
    await everyCheckPasses(() => startLibcoap({ binary: interop.coapServerOpenssl!, psk: { key, hint: '' } }), key);
  }, 120_000);

  it('(c) per-identity keys from an identity file (-i): the lab identity works with its own key, no false findings', async () => {
    const own = randomBytes(12).toString('base64url');
    dir = mkdtempSync(join(tmpdir(), 'gauntlet-libcoap-'));
    const idFile = join(dir, 'identities');
    // hint_to_match,identity_to_match,use_key (empty hint: any)
    writeFileSync(idFile, `,lab-client,${own}\n`);
    await everyCheckPasses(() => startLibcoap({ binary: interop.coapServerOpenssl!, psk: { key: randomBytes(12).toString('base64url'), hint: '', idFile } }), own);
  }, 120_000);
});
