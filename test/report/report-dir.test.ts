import { existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createReportDir, newRunId } from '../../harness/report/report-dir.js';

let base: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'gauntlet-reports-'));
});
afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

describe('createReportDir', () => {
  it('creates <base>/<runId> and points latest at it with a relative symlink', () => {
    const dir = createReportDir(base, 'run-a');
    expect(dir).toBe(join(base, 'run-a'));
    expect(lstatSync(join(base, 'latest')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(base, 'latest'))).toBe('run-a');
    writeFileSync(join(dir, 'marker'), 'a');
    expect(readFileSync(join(base, 'latest', 'marker'), 'utf8')).toBe('a');
  });

  it('replaces an existing latest link and removes a stale latest.txt', () => {
    createReportDir(base, 'run-a');
    writeFileSync(join(base, 'latest.txt'), 'old');
    createReportDir(base, 'run-b');
    expect(readlinkSync(join(base, 'latest'))).toBe('run-b');
    expect(existsSync(join(base, 'latest.txt'))).toBe(false);
  });

  it('uses an explicit output directory and still points latest at it', () => {
    const out = join(base, 'elsewhere', 'mine');
    const dir = createReportDir(join(base, 'reports'), 'run-a', out);
    expect(dir).toBe(out);
    expect(existsSync(join(base, 'reports', 'run-a'))).toBe(false);
    expect(readlinkSync(join(base, 'reports', 'latest'))).toBe(join('..', 'elsewhere', 'mine'));
    expect(realpathSync(join(base, 'reports', 'latest'))).toBe(realpathSync(out));
  });

  it('never replaces a real directory named latest; writes latest.txt instead', () => {
    mkdirSync(join(base, 'latest'));
    const dir = createReportDir(base, 'run-a');
    expect(lstatSync(join(base, 'latest')).isDirectory()).toBe(true);
    expect(readFileSync(join(base, 'latest.txt'), 'utf8')).toBe(`${dir}\n`);
  });

  it('throws REPORT_WRITE when the directory cannot be made', () => {
    writeFileSync(join(base, 'file'), 'x');
    expect(() => createReportDir(join(base, 'file'), 'run-a')).toThrow(expect.objectContaining({ code: 'REPORT_WRITE' }));
  });
});

describe('newRunId', () => {
  it('is YYYYMMDD-HHMMSS-<4 hex> in UTC', () => {
    const id = newRunId(new Date(Date.UTC(2025, 0, 2, 3, 4, 5)));
    expect(id).toMatch(/^20250102-030405-[0-9a-f]{4}$/);
  });
});
