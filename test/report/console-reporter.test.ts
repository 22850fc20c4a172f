import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../harness/model/index.js';
import { ConsoleReporter, formatClock, formatDuration, requirementsCell } from '../../harness/report/console-reporter.js';
import { ReporterMux } from '../../harness/report/multiplexer.js';
import { FINDING, syntheticRun } from './synthetic-run.js';

const CLEAR = '\r\x1b[2K';
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

function sink(columns?: number): { out: NodeJS.WritableStream; text: () => string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  if (columns) Object.assign(out, { columns });
  return { out, text: () => text };
}

/** What a terminal shows after `raw`: a clear-line erases the line the cursor is on. */
function screen(raw: string): string {
  let s = '';
  raw.split(CLEAR).forEach((part, i) => {
    if (i > 0) s = s.slice(0, s.lastIndexOf('\n') + 1);
    s += part;
  });
  return s;
}

async function run(events: readonly RunEvent[], opts: { tty: boolean; color: boolean; verbose?: boolean; columns?: number }) {
  const { out, text } = sink(opts.columns);
  let t = 1_000_000;
  const reporter = new ConsoleReporter({ out, tty: opts.tty, color: opts.color, verbose: opts.verbose, now: () => t, tickMs: 0 });
  const mux = new ReporterMux([reporter]);
  for (const e of events) {
    t += 500;
    await mux.dispatch(e);
  }
  expect(mux.errors()).toEqual([]);
  return text();
}

describe('ConsoleReporter, not a TTY', () => {
  it('prints a header, one line per check end, a table, findings and totals', async () => {
    const text = await run(syntheticRun(), { tty: false, color: false });
    expect(text).not.toMatch(ANSI);
    expect(text).not.toContain('\r');
    const lines = text.split('\n');
    expect(lines[0]).toBe(
      'Gauntlet 0.1.0: target thermo-x200 (targets/thermo-x200.yaml), profile ci-smoke, seed 424242, 5 checks, flaws weak-lockout, run 20250102-030405-abcd',
    );
    expect(lines).toContain('[1/5] PASS auth.default-credentials@broker (120ms) no default credential accepted');
    expect(lines).toContain('[2/5] FAIL auth.brute-force@broker (1.2s) lockout not enforced: 6 failed logins accepted');
    expect(lines).toContain('[3/5] SKIPPED transport.tls-version@broker (0ms) interface is plain mqtt');
    expect(lines).toContain('[4/5] ERROR access.acl@broker (20.0s) check ran past its 20s bound');
    expect(lines).toContain('[5/5] INCONCLUSIVE robustness.malformed-coap@coap (4.5s) device stopped answering after case 7');
    expect(lines).toContain('note: device reset between phases');
    expect(text).not.toContain('pacing logins'); // instance notes only when verbose

    const head = lines.findIndex((l) => l.startsWith('check instance'));
    expect(lines[head]).toMatch(/^check instance +interface +verdict +requirements +reason$/);
    const table = lines.slice(head, head + 6);
    expect(table.every((l) => l.length <= 120)).toBe(true);
    const brute = table.find((l) => l.startsWith('auth.brute-force@broker'))!;
    expect(brute).toMatch(/ broker +fail +EN303645:5\.1-5 \+4 +lockout not enforced: 6 failed logins acce…$/);
    expect(table.find((l) => l.startsWith('transport.tls-version@broker'))).toMatch(/ skipped +EN303645:5\.5-1 +interface is plain mqtt$/);

    expect(lines).toContain('Findings (1):');
    expect(text).toContain(`  [high] ${FINDING.summary} (auth.brute-force@broker)\n    replay: ${FINDING.replay}\n`);
    expect(lines.at(-2)).toBe('5 checks: 1 pass, 1 fail, 1 inconclusive, 1 error, 1 skipped in 25.9s');
  });

  it('truncates a long reason to fit the table and says when the run was interrupted', async () => {
    const long = `device said ${'x'.repeat(300)}`;
    const events = syntheticRun({ failText: long, killedAfter: 2 });
    events.push({ type: 'run-end', finishedAt: 'z', durationMs: 3000, summary: { pass: 0, fail: 0, inconclusive: 0, error: 0, skipped: 0 }, interrupted: true });
    const lines = (await run(events, { tty: false, color: false })).split('\n');
    const row = lines.find((l) => l.startsWith('auth.brute-force@broker '))!;
    expect(row.length).toBeLessThanOrEqual(120);
    expect(row.endsWith('…')).toBe(true);
    expect(lines.at(-2)).toBe('5 checks: 1 pass, 1 fail, 2 inconclusive, 1 skipped in 3.0s (interrupted)');
  });

  it('prints instance notes and observed evidence when verbose', async () => {
    const text = await run(syntheticRun(), { tty: false, color: false, verbose: true });
    expect(text).toContain('  auth.brute-force@broker: pacing logins');
    expect(text).toContain('    observed: no CoAP ping reply for 3s');
  });
});

describe('ConsoleReporter, TTY', () => {
  it('rewrites one progress line in place and clears it before other output', async () => {
    const raw = await run(syntheticRun(), { tty: true, color: false, columns: 100 });
    expect(raw).toMatch(new RegExp(`${CLEAR.replace('[', '\\[')}\\[2/5\\] auth\\.brute-force@broker {2}3 cases, \\d+\\.\\d/s {2}0:0\\d`));
    expect(raw).toContain(`${CLEAR}[1/5] auth.default-credentials@broker  0 cases  0:00`);
    // Nothing but a clear-line ever follows a progress line.
    for (const m of raw.matchAll(/\[\d\/5\] \S+ {2}\d+ cases?(, [^ ]+\/s)? {2}\d+:\d\d/g)) {
      const after = raw.slice(m.index! + m[0].length, m.index! + m[0].length + CLEAR.length);
      expect(after).toBe(CLEAR);
    }
    const shown = screen(raw);
    expect(shown).not.toMatch(/ cases?(, [^ ]+\/s)? {2}\d+:\d\d/); // no progress left on screen
    expect(shown).toContain('[2/5] FAIL auth.brute-force@broker (1.2s) lockout not enforced');
    expect(shown).toContain('[4/5] ERROR access.acl@broker (20.0s)');
    expect(shown).not.toContain('[1/5] PASS'); // passes only show as progress on a TTY
    expect(shown).toContain('5 checks: 1 pass, 1 fail, 1 inconclusive, 1 error, 1 skipped in 25.9s');
  });

  it('fits the table to a wide terminal: three requirement ids, then +N', async () => {
    const shown = screen(await run(syntheticRun(), { tty: true, color: false, columns: 200 }));
    expect(shown).toMatch(/ fail +EN303645:5\.1-5, NISTIR8259A:LAI-2, EN18031-1:ACM-1 \+2 +lockout not enforced/);
  });

  it('keeps the progress line within the terminal width', async () => {
    const raw = await run(syntheticRun(), { tty: true, color: false, columns: 30 });
    for (const part of raw.split(CLEAR).slice(1)) {
      const progress = part.split('\n')[0]!;
      if (/cases?/.test(progress)) expect(progress.length).toBeLessThanOrEqual(29);
    }
  });
});

describe('ConsoleReporter, progress of a long fuzz campaign', () => {
  const events = (cases: number): RunEvent[] => {
    const all = syntheticRun();
    const begin = all.findIndex((e) => e.type === 'check-begin');
    const id = (all[begin] as Extract<RunEvent, { type: 'check-begin' }>).instanceId;
    const many: RunEvent[] = Array.from({ length: cases }, (_, i) => ({ type: 'case', instanceId: id, n: i + 1, summary: i % 50 === 7 ? `crash: hostile case ${i}` : `case ${i}` }));
    return [...all.slice(0, begin + 1), ...many, ...all.slice(begin + 1)];
  };

  it('not a TTY: a progress line every 30 s with cases, rate and the oracles that fired', async () => {
    // Events are 500 ms apart: 130 cases span 65 s, so two progress lines.
    const lines = (await run(events(130), { tty: false, color: false })).split('\n').filter((l) => /^ {2}\S+: \d+ cases/.test(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^ {2}auth\.default-credentials@broker: 60 cases, 2\.0\/s, oracle fired 2 times \(last: crash\)$/);
  });

  it('TTY: the in-place line carries the rate and the oracles too', async () => {
    const raw = await run(events(20), { tty: true, color: false, columns: 150 });
    expect(raw).toMatch(/20 cases, 2\.0\/s, oracle fired 1 time \(last: crash\) {2}0:10/);
  });
});

describe('ConsoleReporter colour', () => {
  it('colours verdicts only when asked, and reads the same without colour', async () => {
    const plain = await run(syntheticRun(), { tty: false, color: false });
    const coloured = await run(syntheticRun(), { tty: false, color: true });
    expect(coloured).toContain('\x1b[32mPASS\x1b[0m');
    expect(coloured).toContain('\x1b[31mFAIL\x1b[0m');
    expect(coloured).toContain('\x1b[33mINCONCLUSIVE\x1b[0m');
    expect(coloured).toContain('\x1b[35mERROR\x1b[0m');
    expect(coloured).toContain('\x1b[2mSKIPPED\x1b[0m');
    expect(coloured.replace(ANSI, '')).toBe(plain);
  });
});

describe('console helpers', () => {
  it('formats requirements, durations and clocks', () => {
    expect(requirementsCell([])).toBe('-');
    expect(requirementsCell(['a', 'b', 'c'])).toBe('a, b, c');
    expect(requirementsCell(['a', 'b', 'c', 'd', 'e'])).toBe('a, b, c +2');
    expect(requirementsCell(['aaaa', 'bbbb', 'cccc', 'd'], 13)).toBe('aaaa, bbbb +2');
    expect(requirementsCell(['aaaa', 'bbbb', 'cccc', 'd'], 8)).toBe('aaaa +3');
    expect(formatDuration(999)).toBe('999ms');
    expect(formatDuration(1234)).toBe('1.2s');
    expect(formatDuration(125_000)).toBe('2m05s');
    expect(formatClock(4_900)).toBe('0:04');
    expect(formatClock(750_000)).toBe('12:30');
  });
});
