// update.truncated-oversized on the fake updater: a device that reads the
// signature right after the declared payload and ignores the size limit
// installs the padded image.

import { describe, expect, it } from 'vitest';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { withFake } from './fake-updater.js';

const ID = 'update.truncated-oversized@web';

describe('update.truncated-oversized', () => {
  it('passes when truncated and oversized images are refused', async () => {
    await withFake('fkfw', {}, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('pass');
      expect(r.reason).toMatch(/^truncated or oversized images refused \(3\); version stays fw-100/);
      expect(r.evidence!.observed).toMatch(/zero-padded to 65537 bytes \(one byte over the declared maximum 65536\) through .*: answered 413/);
    });
  });

  it('fails (high) when trailing bytes past the maximum are ignored', async () => {
    await withFake('fkfw', { ignoreTrailing: true }, async (f) => {
      const run = await runAgainst(f.target({ maxImageBytes: null }), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      expect(r.findings[0]!.severity).toBe('high');
      expect(r.findings[0]!.summary).toMatch(/the newer image zero-padded to \d+ bytes \(the image \+ 1 MiB; no maximum declared\)/);
    });
  });
});
