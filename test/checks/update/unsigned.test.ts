// update.unsigned on the fake updater, both shapes: a zeroed or cut-off
// signature is refused by a hardened device and installs on one that skips
// all-zero signatures; a device that answers 400 and installs anyway is
// caught; no declared signature field = skipped.

import { describe, expect, it } from 'vitest';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { withFake } from './fake-updater.js';

const ID = 'update.unsigned@web';

describe('update.unsigned', () => {
  it('passes on a hardened device: both images refused, version unchanged', async () => {
    await withFake('fkfw', {}, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('pass');
      expect(r.reason).toMatch(/^unsigned images refused \(2\); version stays fw-100/);
      expect(r.requirements).toContain('EN-18031-1:SUM-2');
      // The only install is the runner's positive control.
      expect(f.installs).toEqual([200]);
    });
  });

  it('fails when an all-zero signature skips verification', async () => {
    await withFake('fkfw', { zeroSignatureOk: true }, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      expect(r.findings.map((x) => x.summary)).toEqual(['the device installed the newer image with its signature zeroed through upload (POST /api/firmware) as admin: version fw-100 -> fw-200']);
      const ev = r.findings[0]!.evidence;
      expect(ev.declared).toMatch(/refused; the running version stays fw-100/);
      expect(ev.transcript.some((e) => /POST \/api\/firmware/.test(e.decoded))).toBe(true);
      expect(ev.transcript.some((e) => /GET \/api\/version/.test(e.decoded))).toBe(true);
    });
  });

  it('fails when the device answers 400 but installs later (the version is the oracle)', async () => {
    await withFake('fkfw', { zeroSignatureOk: true, lieStatus: true }, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      // Seen at the end of the check, or already on the next image's version read (then the evidence says it may be a late install).
      const finding = r.findings[0]!;
      expect(finding.summary).toMatch(/version fw-100 -> fw-200$/);
      expect(`${finding.summary} ${finding.evidence.observed}`).toMatch(/seen only at the end of the check|may instead be a late install of an earlier image answered with an error status: the newer image with its signature zeroed/);
    });
  });

  it('works from the declaration alone on a Basic-auth, CRC-32, HMAC-tagged updater', async () => {
    await withFake('bkfw', {}, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      expect(run.byId.get(ID)!.verdict, verdictTable(run.results)).toBe('pass');
    });
    await withFake('bkfw', { zeroSignatureOk: true }, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      expect(run.byId.get(ID)!.verdict, verdictTable(run.results)).toBe('fail');
    });
  });

  it('is skipped without a declared layout', async () => {
    await withFake('fkfw', {}, async (f) => {
      const run = await runAgainst(f.target({ layout: false }), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict).toBe('skipped');
      expect(r.reason).toBe('no signature field declared (declaration.update.layout.signature)');
    });
  });

  describe('over a block-wise CoAP path whose transfers get lost (4.08 after the first block)', () => {
    const BLOCK = 'update.unsigned@dev';
    const notes = (r: { evidence?: { transcript: readonly { decoded: string }[] } }) => (r.evidence?.transcript ?? []).map((e) => e.decoded).join('\n');

    it('a lost transfer is sent once more, and a hardened device still passes', async () => {
      await withFake('fkfw', { loseTransfers: 1 }, async (f) => {
        const run = await runAgainst(f.target(), { only: [BLOCK] });
        const r = run.byId.get(BLOCK)!;
        expect(r.verdict, verdictTable(run.results)).toBe('pass');
        expect(r.reason).toMatch(/^unsigned images refused \(2\)/);
        expect(notes(r)).toMatch(/did not arrive whole, so it is sent once more/);
      }, { coap: true });
    });

    it('a lost transfer sent once more still catches the flaw', async () => {
      await withFake('fkfw', { loseTransfers: 1, zeroSignatureOk: true }, async (f) => {
        const run = await runAgainst(f.target(), { only: [BLOCK] });
        const r = run.byId.get(BLOCK)!;
        expect(r.verdict, verdictTable(run.results)).toBe('fail');
        expect(r.findings[0]!.summary).toMatch(/signature zeroed through block \(block-wise PUT \/fw\)/);
      }, { coap: true });
    });

    it('a device a lost transfer bricks is an interruption (update.interrupted), not a verdict on the unsigned image', async () => {
      await withFake('fkfw', { loseTransfers: 1, brickOnCut: true }, async (f) => {
        const run = await runAgainst(f.target(), { only: [BLOCK] });
        const r = run.byId.get(BLOCK)!;
        expect(r.verdict, verdictTable(run.results)).not.toBe('fail');
        expect(r.findings).toEqual([]);
      }, { coap: true });
    });

    it('images that never arrive whole are inconclusive, never refused', async () => {
      for (const w of [{}, { zeroSignatureOk: true }]) {
        await withFake('fkfw', { ...w, loseTransfers: 100 }, async (f) => {
          const run = await runAgainst(f.target(), { only: [BLOCK] });
          const r = run.byId.get(BLOCK)!;
          expect(r.verdict, verdictTable(run.results)).toBe('inconclusive');
          expect(r.reason).toMatch(/^no image could be delivered: .*4\.08/);
        }, { coap: true });
      }
    });
  });
});
