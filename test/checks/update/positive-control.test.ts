// The run-level positive control: a device that refuses every image passes
// every update check on its own; the runner's positive control (the valid
// newer image installs) is what turns those passes inconclusive.

import { describe, expect, it } from 'vitest';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { withFake } from './fake-updater.js';

const ALL = ['update.tamper', 'update.unsigned', 'update.wrong-signer', 'update.rollback', 'update.truncated-oversized', 'update.interrupted', 'update.authorization'];

describe('update checks and the positive control', () => {
  it('a device refusing everything: every check passes on its own, the runner makes them inconclusive', async () => {
    await withFake('fkfw', { refuseAll: true }, async (f) => {
      const run = await runAgainst(f.target(), { only: ALL, numRuns: 5 });
      const table = verdictTable(run.results);
      expect(run.results).toHaveLength(7);
      for (const r of run.results) {
        expect(r.verdict, table).toBe('inconclusive');
        expect(r.reason, table).toMatch(/; version stays fw-100.*; but the positive control failed \(the valid newer image did not install through upload/);
      }
      expect(run.events.some((e) => e.type === 'note' && /update positive control: the valid newer image did not install/.test(e.text))).toBe(true);
    });
  });
});
