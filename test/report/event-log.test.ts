import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLogReporter, readEventLog } from '../../harness/report/event-log.js';
import { feed, syntheticRun } from './synthetic-run.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gauntlet-events-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a throw');
}

describe('EventLogReporter', () => {
  it('writes a header then one event per line, and round-trips through readEventLog', async () => {
    const path = join(dir, 'events.jsonl');
    const events = syntheticRun();
    await feed(events, new EventLogReporter(path));
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('{"format":"gauntlet-events/1"}');
    expect(lines).toHaveLength(events.length + 1);
    expect(readEventLog(path)).toEqual(events);
  });

  it('has every event on disk as soon as it is dispatched (a killed run keeps them)', async () => {
    const path = join(dir, 'sub', 'events.jsonl');
    const events = syntheticRun({ killedAfter: 2 });
    const reporter = new EventLogReporter(path);
    await feed(events.slice(0, 4), reporter);
    expect(readEventLog(path)).toEqual(events.slice(0, 4));
    await feed(events.slice(4), reporter);
    expect(readEventLog(path)).toEqual(events);
  });

  it('drops a last line cut short by a kill, but refuses a bad line elsewhere', async () => {
    const path = join(dir, 'events.jsonl');
    const events = syntheticRun();
    await feed(events.slice(0, 3), new EventLogReporter(path));
    appendFileSync(path, '{"type":"case","insta');
    expect(readEventLog(path)).toEqual(events.slice(0, 3));
    appendFileSync(path, '\n{"type":"note","text":"x"}\n');
    expect(codeOf(() => readEventLog(path))).toMatchObject({ code: 'CONFIG_PARSE', message: expect.stringContaining(`${path}:5`) });
  });
});

describe('readEventLog', () => {
  const write = (text: string): string => {
    const path = join(dir, 'events.jsonl');
    writeFileSync(path, text);
    return path;
  };

  it('refuses a newer version with CONFIG_VERSION naming the file and line', () => {
    const path = write('{"format":"gauntlet-events/2"}\n{"type":"note","text":"x"}\n');
    const e = codeOf(() => readEventLog(path));
    expect(e.code).toBe('CONFIG_VERSION');
    expect(e.message).toContain(`${path}:1`);
    expect(e.message).toContain('gauntlet-events/2');
  });

  it('refuses a missing header or another format family with CONFIG_INVALID', () => {
    const run = syntheticRun();
    const noHeader = write(`${JSON.stringify(run[0])}\n`);
    expect(codeOf(() => readEventLog(noHeader))).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining(`${noHeader}:1`) });
    expect(codeOf(() => readEventLog(write('')))).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(codeOf(() => readEventLog(write('{"format":"gauntlet-report/1"}\n')))).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(codeOf(() => readEventLog(write('not json\n')))).toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('refuses unknown event types and events missing what readers rely on, by line', () => {
    const h = '{"format":"gauntlet-events/1"}\n';
    const unknown = write(`${h}{"type":"note","text":"ok"}\n{"type":"explode"}\n`);
    expect(codeOf(() => readEventLog(unknown))).toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/:3: unknown event type "explode"/),
    });
    const badEnd = write(`${h}{"type":"check-end","result":{"instance":{"id":"a@b"},"verdict":"great","findings":[]}}\n`);
    expect(codeOf(() => readEventLog(badEnd)).message).toMatch(/:2: check-end: .*result\.verdict/);
  });

  it('reports a missing file as CONFIG_NOT_FOUND', () => {
    expect(codeOf(() => readEventLog(join(dir, 'nope.jsonl')))).toMatchObject({ code: 'CONFIG_NOT_FOUND' });
  });

  it('accepts an older-or-equal version and CRLF line ends', () => {
    const path = write('{"format":"gauntlet-events/1"}\r\n{"type":"note","text":"x"}\r\n');
    expect(readEventLog(path)).toEqual([{ type: 'note', text: 'x' }]);
  });
});
