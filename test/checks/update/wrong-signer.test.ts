// update.wrong-signer on the fake updater: a fresh Ed25519 signature is
// refused unless the device skips the signature; skipped where the harness
// cannot re-sign (no layout, or an HMAC tag).

import { describe, expect, it } from 'vitest';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { withFake } from './fake-updater.js';

const ID = 'update.wrong-signer@web';

describe('update.wrong-signer', () => {
  it('passes on a hardened device', async () => {
    await withFake('fkfw', {}, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('pass');
      expect(r.reason).toMatch(/^images signed by another key refused \(1\); version stays fw-100/);
    });
  });

  it('fails when the signature is not verified', async () => {
    await withFake('fkfw', { noSignatureCheck: true }, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      expect(r.findings[0]!.summary).toMatch(/^the device installed the newer image re-signed with a fresh Ed25519 key through upload .*: version fw-100 -> fw-200$/);
    });
  });

  it('is skipped without a layout, and when the signature is not ed25519', async () => {
    await withFake('fkfw', {}, async (f) => {
      const run = await runAgainst(f.target({ layout: false }), { only: [ID] });
      expect(run.byId.get(ID)!.reason).toBe('no signature field declared (declaration.update.layout.signature)');
    });
    await withFake('bkfw', {}, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict).toBe('skipped');
      expect(r.reason).toMatch(/not declared as ed25519/);
    });
  });
});
