// update.interrupted on the fake updater: a cut upload that erases the
// running image leaves the version unreadable (503).

import { describe, expect, it } from 'vitest';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { withFake } from './fake-updater.js';

const ID = 'update.interrupted@web';

describe('update.interrupted', () => {
  it('passes when cut uploads are discarded', async () => {
    await withFake('fkfw', {}, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('pass');
      expect(r.reason).toMatch(/^interrupted uploads left the running version in place \(2\); version stays fw-100/);
      expect(r.evidence!.transcript.some((e) => /Content-Length: 4208, body cut after 2104 bytes/.test(e.decoded))).toBe(true);
    });
  });

  it('fails (high) when a cut upload leaves no bootable image', async () => {
    await withFake('bkfw', { brickOnCut: true }, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      expect(r.findings[0]!.severity).toBe('high');
      expect(r.findings[0]!.summary).toMatch(/^device left without a readable version after an upload of the newer image cut after \d+ of \d+ bytes .*answered 503/);
    });
  });
});
