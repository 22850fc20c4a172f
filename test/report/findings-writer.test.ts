import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FindingsWriter, readFindingFile } from '../../harness/report/findings-writer.js';
import { buildReport } from '../../harness/report/report-builder.js';
import { FINDING, PLAN, RUN, feed, syntheticRun } from './synthetic-run.js';
import { thrown } from '../support/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gauntlet-findings-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('FindingsWriter', () => {
  it('writes one finding file per finding, at the path report.json names', async () => {
    const writer = new FindingsWriter(dir);
    const events = syntheticRun();
    await feed(events, writer);
    const file = buildReport(events).checks[1]!.findings[0]!.file;
    expect(writer.written()).toEqual([join(dir, file)]);

    const f = readFindingFile(join(dir, file));
    expect(f).toEqual({
      format: 'gauntlet-finding/1',
      finding: FINDING,
      run: {
        id: RUN.id,
        seed: RUN.seed,
        target: RUN.target,
        targetSource: RUN.targetSource,
        profile: RUN.profile,
        flaws: RUN.flaws,
        harnessVersion: RUN.harnessVersion,
      },
      instance: { id: PLAN[1]!.id, checkId: 'auth.brute-force', interfaceId: 'broker', seed: 22 },
      replay: FINDING.replay,
    });
  });

  it('keeps a hostile fileId inside the findings directory', async () => {
    const writer = new FindingsWriter(dir);
    const events = syntheticRun().map((e) =>
      e.type === 'check-end' && e.result.findings.length
        ? { ...e, result: { ...e.result, findings: [{ ...FINDING, fileId: '../../escape' }] } }
        : e,
    );
    await feed(events, writer);
    expect(writer.written()).toEqual([join(dir, 'findings', '__.._escape.json')]);
    expect(buildReport(events).checks[1]!.findings[0]!.file).toBe('findings/__.._escape.json');
  });
});

describe('readFindingFile', () => {
  const write = (data: unknown): string => {
    const path = join(dir, 'f.json');
    writeFileSync(path, typeof data === 'string' ? data : JSON.stringify(data));
    return path;
  };
  const good = async (): Promise<Record<string, unknown>> => {
    await feed(syntheticRun(), new FindingsWriter(dir));
    return JSON.parse(readFileSync(join(dir, 'findings', `${FINDING.fileId}.json`), 'utf8'));
  };

  it('refuses a newer version, naming the file', async () => {
    const path = write({ ...(await good()), format: 'gauntlet-finding/3' });
    const e = thrown(() => readFindingFile(path));
    expect(e.code).toBe('CONFIG_VERSION');
    expect(e.message).toContain(path);
    expect(e.message).toContain('gauntlet-finding/3');
  });

  it('refuses another family, no format, bad JSON, a missing file, a broken field', async () => {
    const ok = await good();
    expect(thrown(() => readFindingFile(write({ ...ok, format: 'gauntlet-report/1' }))).code).toBe('CONFIG_INVALID');
    expect(thrown(() => readFindingFile(write({ finding: ok.finding }))).code).toBe('CONFIG_INVALID');
    expect(thrown(() => readFindingFile(write('{oops')))).toMatchObject({ code: 'CONFIG_PARSE' });
    expect(thrown(() => readFindingFile(join(dir, 'none.json')))).toMatchObject({ code: 'CONFIG_NOT_FOUND' });
    const noSeed = { ...ok, instance: { ...(ok.instance as object), seed: 'x' } };
    expect(thrown(() => readFindingFile(write(noSeed)))).toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('instance.seed'),
    });
  });
});
