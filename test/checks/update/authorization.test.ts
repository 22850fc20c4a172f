// update.authorization on the fake updater: no session and a viewer are
// refused; a device that needs no session, or takes any role, installs.

import { describe, expect, it } from 'vitest';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { withFake } from './fake-updater.js';

const ID = 'update.authorization@web';

describe('update.authorization', () => {
  it('passes when only the installer role can push (no session and the viewer tried; ops has the same role)', async () => {
    await withFake('fkfw', {}, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('pass');
      expect(r.reason).toMatch(/^unauthorised uploads refused \(2\); version stays fw-100/);
      expect(r.evidence!.observed).toMatch(/without a session: answered 401; .* as viewer: answered 403/);
    });
  });

  it('fails, naming "without a session", when no session is needed', async () => {
    await withFake('fkfw', { noAuth: true }, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      expect(r.findings[0]!.summary).toBe('the valid newer image was installed without a session through upload (POST /api/firmware): version fw-100 -> fw-200');
    });
  });

  it('with a declared reset, reports every principal that could install', async () => {
    await withFake('fkfw', { noAuth: true }, async (f) => {
      const run = await runAgainst(f.target({ reset: true }), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      expect(r.findings.map((x) => x.summary)).toEqual([
        'the valid newer image was installed without a session through upload (POST /api/firmware): version fw-100 -> fw-200',
        'the valid newer image was installed as viewer through upload (POST /api/firmware): version fw-100 -> fw-200',
      ]);
    });
  });

  it('fails, naming the principal, when any role may install (Basic auth shape)', async () => {
    await withFake('bkfw', { anyRole: true }, async (f) => {
      const run = await runAgainst(f.target(), { only: [ID] });
      const r = run.byId.get(ID)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      expect(r.findings[0]!.summary).toMatch(/^the valid newer image was installed as viewer through upload/);
    });
  });
});
