// update.tamper on the fake updater: a hardened device refuses every drawn
// mutation; a device that skips the signature takes a change with recomputed
// digests; one that signs only the header and skips the payload digest takes
// a payload change with the original digests; without a layout, a
// counterexample shrinks to the first installable byte and replays from
// (seed, path).

import { describe, expect, it } from 'vitest';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { withFake } from './fake-updater.js';

const ID = 'update.tamper@web';

describe('update.tamper', () => {
  it('passes on a hardened device, every case refused', async () => {
    await withFake('fkfw', {}, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID], numRuns: 25 });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('pass');
      expect(r.reason).toMatch(/^tampered images refused \(\d+\); seed \d+; version stays fw-100/);
      expect(r.cases).toBeGreaterThanOrEqual(20);
      expect(f.installs).toEqual([200]);
    });
  });

  it('fails when the signature is not checked: a change with recomputed digests installs', async () => {
    await withFake('fkfw', { noSignatureCheck: true }, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID], numRuns: 25 });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      const ev = r.findings[0]!.evidence;
      // The second classic case: the same flip with the digests recomputed, so it reaches the (skipped) signature check.
      expect(ev.counterexample!.value).toBe('flip bit 0 at offset 48 (payload byte 0), digests recomputed');
      expect(r.findings[0]!.summary).toBe(`a tampered newer image was installed: ${ev.counterexample!.value}`);
      expect(ev.observed).toMatch(/answered 200; version fw-200 \(was fw-100\)/);
    });
  });

  it('fails when only the header is signed and the payload digest is unchecked', async () => {
    await withFake('fkfw', { manifestOnly: true }, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID], numRuns: 25 });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      // The classic case runs first: one bit of the payload flipped, original digests and signature.
      expect(r.findings[0]!.evidence.counterexample!.value).toBe('flip bit 0 at offset 48 (payload byte 0), original digests');
    });
  });

  it('without a layout, shrinks toward the start to the first installable byte, and replays from (seed, path)', async () => {
    // rollback lets the same version install again, so the status keeps telling installs from refusals while shrinking.
    const weak = { manifestOnly: true, rollback: true };
    const first = await withFake('fkfw', weak, (f) => runAgainst(f.target({ layout: false }), { only: [ID], numRuns: 25 }));
    const r = first.byId.get(ID)!;
    expect(r.verdict, verdictTable(first.results)).toBe('fail');
    const cx = r.findings[0]!.evidence.counterexample!;
    // Bytes 0..47 are the CRC-checked header; 48 is the first payload byte.
    expect(cx.value).toBe('flip bit 0 at offset 48 (whole image)');
    expect(cx.shrinks).toBeGreaterThan(0);
    expect(r.reason).toMatch(/shrunk by the HTTP status/);

    const again = await withFake('fkfw', weak, (f) => runAgainst(f.target({ layout: false }), { only: [ID], numRuns: 25, seed: undefined, replayPath: cx.path }));
    const r2 = again.byId.get(ID)!;
    expect(r2.verdict, verdictTable(again.results)).toBe('fail');
    expect(r2.findings[0]!.evidence.counterexample!.value).toBe(cx.value);
  });

  it('with a declared reset, shrinks on the baseline, judged by the version, and leaves the device there', async () => {
    await withFake('fkfw', { manifestOnly: true }, async (f) => {
      const run = await runAgainst(f.target({ layout: false, reset: true }), { only: [ID], numRuns: 25 });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      const cx = r.findings[0]!.evidence.counterexample!;
      expect(cx.value).toBe('flip bit 0 at offset 48 (whole image)');
      expect(cx.shrinks).toBeGreaterThan(0);
      expect(r.reason).toMatch(/the declared reset put the device back on fw-100 after each of \d+ install\(s\)$/);
      expect(r.findings[0]!.evidence.observed).toMatch(/^answered 200; version fw-200 \(was fw-100\)/);
    });
  });
});
