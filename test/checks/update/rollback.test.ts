// update.rollback on the fake updater, both ways.

import { describe, expect, it } from 'vitest';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { withFake } from './fake-updater.js';

const ID = 'update.rollback@web';

describe('update.rollback', () => {
  it('passes when the older image is refused', async () => {
    await withFake('fkfw', {}, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      expect(run.byId.get(ID)!.verdict, verdictTable(run.results)).toBe('pass');
      expect(run.byId.get(ID)!.reason).toMatch(/^older images refused \(1\); version stays fw-100/);
    });
  });

  it('fails (high) when the older image installs', async () => {
    await withFake('bkfw', { rollback: true }, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      expect(r.findings[0]!.severity).toBe('high');
      expect(r.findings[0]!.summary).toMatch(/^the device installed the older image fw-90 .*: version fw-100 -> fw-90$/);
    });
  });

  it('is skipped without an older image', async () => {
    await withFake('fkfw', {}, async (f) => {
      const t = f.target();
      const u = (t.declaration as { update: { images: Record<string, unknown> } }).update;
      delete u.images['older'];
      const run = await runAgainst(t, { only: [ID] });
      expect(run.byId.get(ID)!.reason).toBe('no older image declared (declaration.update.images.older)');
    });
  });
});
