// auth.default-credentials over coaps: a credential is a DTLS PSK and
// "granted" means the handshake completed. Against the reference device both
// ways (its dtls-default-psk flaw accepts Client_identity / secretPSK), and
// against libcoap's coap-server-openssl, which with -k accepts any identity
// that presents the key.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { defaultCredentials } from '../../../harness/checks/authentication/default-credentials.js';
import { DTLS_PSK_DICTIONARY, loadPskDictionary, parsePskDictionary } from '../../../harness/checks/authentication/dictionary.js';
import type { TargetFileInput } from '../../../harness/core/target-file.js';
import { isGauntletError } from '../../../harness/core/errors.js';
import { startLibcoap, type LibcoapHandle } from '../../../targets/interop/libcoap.js';
import { startReferenceDevice, type Flaw, type RunningDevice } from '../../../targets/reference-device/index.js';
import { runAgainst, verdictTable, type RunResult } from '../../support/run-target.js';

const interop = inject('interop');
const ID = 'auth.default-credentials@coaps';
const FULL_IDENTITY = { serial: 'X200-004711', model: 'X200', mac: '02:00:5E:AB:cd:EF' };

let device: RunningDevice | undefined;
let libcoap: LibcoapHandle | undefined;
afterEach(async () => {
  await device?.close();
  await libcoap?.close();
  device = undefined;
  libcoap = undefined;
});

async function referenceTarget(flaws: Flaw[], edit: (t: TargetFileInput) => TargetFileInput = (t) => t): Promise<TargetFileInput> {
  device = await startReferenceDevice({ flaws, factoryFresh: false });
  return edit(device.targetFile());
}

type Principals = NonNullable<TargetFileInput['principals']>;
const withPrincipals = (t: TargetFileInput, f: (p: Principals) => Principals): TargetFileInput => ({ ...t, principals: f(t.principals ?? {}) });
const withoutPsks = (p: Principals): Principals => Object.fromEntries(Object.entries(p).map(([n, { psk: _psk, ...rest }]) => [n, rest]));

async function run(target: TargetFileInput, opts: { timeMs?: number; ioTimeoutMs?: number } = {}): Promise<{ r: NonNullable<ReturnType<RunResult['byId']['get']>>; table: string }> {
  const result = await runAgainst(target, { checks: [defaultCredentials], only: [ID], ...opts });
  const r = result.byId.get(ID);
  const table = verdictTable(result.results);
  if (!r) throw new Error(`no ${ID} in the run:\n${table}`);
  return { r, table };
}

describe('the DTLS PSK dictionary', () => {
  it('stays bounded and every line of it is used', () => {
    const all = loadPskDictionary(FULL_IDENTITY);
    expect(all.length).toBeLessThanOrEqual(60);
    expect(all.length).toBeGreaterThan(loadPskDictionary({}).length);
    expect(all).toContainEqual(expect.objectContaining({ identity: 'Client_identity', keyText: 'secretPSK', key: Buffer.from('secretPSK') }));
    expect(new Set(all.map((e) => `${e.identity}:${e.keyText}`)).size).toBe(all.length);
  });

  it('reads text keys as UTF-8 and hex: keys as bytes, templates included', () => {
    const text = 'a:secretPSK\nb:hex:0A1b\n{serial}:hex:{mac}\n# c:skipped\n';
    expect(parsePskDictionary(text, FULL_IDENTITY).map((e) => [e.identity, e.key.toString('hex'), e.keyText, e.source])).toEqual([
      ['a', Buffer.from('secretPSK').toString('hex'), 'secretPSK', 'a:secretPSK'],
      ['b', '0a1b', 'hex:0A1b', 'b:hex:0A1b'],
      ['X200-004711', '02005eabcdef', 'hex:02005eabcdef', '{serial}:hex:{mac}'],
    ]);
  });

  it.each(['a:hex:abc', 'a:hex:zz', 'a:hex:', 'a:'])('refuses the corpus line %j with CONFIG_INVALID', (line) => {
    let code: string | undefined;
    try {
      parsePskDictionary(line, {});
    } catch (e) {
      code = isGauntletError(e) ? e.code : 'not a GauntletError';
    }
    expect(code).toBe('CONFIG_INVALID');
  });
});

describe('auth.default-credentials over coaps on the reference device', () => {
  it('fails on dtls-default-psk, naming Client_identity / secretPSK with its transcript', async () => {
    const { r, table } = await run(await referenceTarget(['dtls-default-psk']));
    expect(r.verdict, table).toBe('fail');
    expect(r.findings.map((f) => f.summary)).toEqual(['the dictionary DTLS PSK (identity "Client_identity", key "secretPSK") is accepted over COAPS']);
    const f = r.findings[0]!;
    expect(f.evidence.source).toBe(`dictionary:${DTLS_PSK_DICTIONARY} line "Client_identity:secretPSK"`);
    expect(f.evidence.transcript.map((e) => e.decoded).join('\n')).toMatch(/DTLS 1\.2 handshake completed as Client_identity/);
  });

  it('passes on the hardened device, after a positive control with the admin PSK', async () => {
    const { r, table } = await run(await referenceTarget([]));
    expect(r.verdict, table).toBe('pass');
    expect(r.reason).toMatch(/refused with an alert, 0 unanswered/);
    expect(r.reason).toMatch(/positive control: principal admin's PSK \(identity rd1-admin\) opened a DTLS session/);
    expect(r.cases).toBe(loadPskDictionary(device!.targetFile().identity ?? {}).length);
  });

  it('still runs the dictionary without a principal PSK, and says there was no positive control', async () => {
    // Just the coaps interface: the full target's coaps update path needs the admin PSK.
    const coapsOnly = (t: TargetFileInput): TargetFileInput => ({
      format: t.format,
      name: t.name,
      scope: t.scope,
      ...(t.identity ? { identity: t.identity } : {}),
      interfaces: (t.interfaces ?? []).filter((i) => i.protocol === 'coaps'),
      principals: withoutPsks(t.principals ?? {}),
    });
    const flawed = await run(await referenceTarget(['dtls-default-psk'], coapsOnly));
    expect(flawed.r.verdict, flawed.table).toBe('fail');
    expect(flawed.r.findings.map((f) => f.summary)).toEqual(['the dictionary DTLS PSK (identity "Client_identity", key "secretPSK") is accepted over COAPS']);
    await device!.close();
    const hardened = await run(await referenceTarget([], coapsOnly));
    expect(hardened.r.verdict, hardened.table).toBe('pass');
    expect(hardened.r.reason).toMatch(/no principal with a DTLS PSK in the target file, so no positive control/);
  });

  it('is inconclusive when the declared PSK opens no session', async () => {
    const wrongKey = (p: Principals): Principals => ({ ...p, admin: { ...p['admin']!, psk: { identity: 'rd1-admin', keyHex: '00112233445566778899aabbccddeeff' } } });
    const { r, table } = await run(await referenceTarget(['dtls-default-psk'], (t) => withPrincipals(t, wrongKey)));
    expect(r.verdict, table).toBe('inconclusive');
    expect(r.reason).toMatch(/^positive control failed: principal admin \(PSK identity rd1-admin\)/);
  });

  it("does not report a declared principal's own PSK, even when the dictionary holds it", async () => {
    const lab = (p: Principals): Principals => ({ ...p, lab: { user: 'lab', pass: 'unused', role: 'device', psk: { identity: 'Client_identity', key: 'secretPSK' } } });
    const { r, table } = await run(await referenceTarget(['dtls-default-psk'], (t) => withPrincipals(t, lab)));
    expect(r.verdict, table).toBe('pass');
    expect(r.reason).toMatch(/1 dictionary pair is a declared principal's own PSK, not tried/);
  });

  it('is inconclusive when the time budget ends before the dictionary does', async () => {
    const { r, table } = await run(await referenceTarget([]), { timeMs: 1 });
    expect(r.verdict, table).toBe('inconclusive');
    expect(r.reason).toMatch(/dictionary PSKs not tried within the 1ms time budget/);
  });
});

describe.skipIf(!interop.coapServerOpenssl)('auth.default-credentials over coaps on libcoap coap-server-openssl', () => {
  /** libcoap's coaps endpoint as a lab would describe it, with one principal that holds the server's key. */
  const libcoapTarget = (dtlsPort: number, key: string): TargetFileInput => ({
    format: 'gauntlet-target/1',
    name: 'libcoap-coap-server-openssl',
    scope: { hosts: ['127.0.0.1'] },
    interfaces: [{ id: 'coaps', protocol: 'coaps', url: `coaps://127.0.0.1:${dtlsPort}` }],
    principals: { lab: { user: 'lab', pass: 'unused', role: 'admin', psk: { identity: 'gauntlet-lab', key } } },
  });

  it('fails with -k secretPSK: any identity with that key gets a session', async () => {
    libcoap = await startLibcoap({ binary: interop.coapServerOpenssl!, psk: { key: 'secretPSK', hint: 'CoAP' } });
    const { r, table } = await run(libcoapTarget(libcoap.dtlsPort!, 'secretPSK'), { ioTimeoutMs: 600, timeMs: 30_000 });
    expect(r.verdict, table).toBe('fail');
    const summaries = r.findings.map((f) => f.summary);
    expect(summaries).toContain('the dictionary DTLS PSK (identity "Client_identity", key "secretPSK") is accepted over COAPS');
    expect(summaries).toContain('the dictionary DTLS PSK (identity "CoAP", key "secretPSK") is accepted over COAPS');
    expect(summaries.every((s) => s.includes('key "secretPSK"'))).toBe(true);
  }, 60_000);

  it('passes with a random strong key: wrong keys go unanswered, and the control holds before and after', async () => {
    const key = randomBytes(16).toString('hex');
    libcoap = await startLibcoap({ binary: interop.coapServerOpenssl!, psk: { key, hint: 'CoAP' } });
    const { r, table } = await run(libcoapTarget(libcoap.dtlsPort!, key), { ioTimeoutMs: 600, timeMs: 30_000 });
    expect(r.verdict, table).toBe('pass');
    expect(r.reason).toMatch(/the device drops a wrong key without an alert; its own PSK still opened a session afterwards/);
  }, 60_000);
});
