// Durations in config files and on the command line.

import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../harness/core/duration.js';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['5s', 5000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['0.25s', 250],
    [' 30 s ', 30_000],
    ['42', 42],
    ['0', 0],
    ['0.4', 0],
  ] as const)('%j -> %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'ms', '5x', '-1', '-1s', '5S', '5 sec', '1e3', '.5s', '5s5', '1h30m'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('takes a number as milliseconds, and refuses negative or non-finite ones', () => {
    expect(parseDuration(1500)).toBe(1500);
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Number.NaN)).toBeUndefined();
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [250, '250ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [30_000, '30s'],
    [60_000, '1m0s'],
    [90_000, '1m30s'],
    [3_600_000, '60m0s'],
  ] as const)('%d ms -> %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips what it prints for whole seconds and milliseconds', () => {
    for (const ms of [0, 7, 250, 1000, 2500, 45_000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });

  // BUG harness/core/duration.ts:15 — the seconds are rounded after the minutes
  // were floored, so 119.7 s prints "1m60s" (and 59.999 s prints "60.0s" from
  // line 14). Fix: round ms to whole seconds first, then split into m and s.
  it('never prints 60 seconds', () => {
    expect(formatDuration(119_700)).toBe('2m0s');
  });
});
