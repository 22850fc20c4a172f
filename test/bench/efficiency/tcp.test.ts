// The MQTT and HTTP efficiency comparisons (harness/bench/efficiency/mqtt.ts,
// http.ts) run end to end, briefly: every row either has a rate or says why
// not (a missing tool named with its Debian package), the ratio is ours over
// the ceiling, and nothing they started outlives them. Speeds are measured
// by `gauntlet bench`, never asserted here.

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { httpComparison } from '../../../harness/bench/efficiency/http.js';
import { mqttComparison } from '../../../harness/bench/efficiency/mqtt.js';
import type { Comparison } from '../../../harness/bench/efficiency/types.js';

/** Processes this test process started that are still there. */
function children(): string[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/\bps -o pid=/.test(l));
}

function expectWellFormed(c: Comparison, names: readonly string[]): void {
  const show = JSON.stringify(c, null, 1);
  expect(c.rows.map((r) => r.name).sort(), show).toEqual([...names].sort());
  expect(c.target).toBe(0.9);
  expect(c.rows.filter((r) => r.ceiling)).toHaveLength(1);
  expect(c.rows.filter((r) => r.ours)).toHaveLength(1);
  for (const r of c.rows) {
    if (r.rate === undefined) expect(r.skipped, show).toMatch(/\S/);
    else expect(r.rate, show).toBeGreaterThan(0);
  }
  const ceiling = c.rows.find((r) => r.ceiling)!;
  const ours = c.rows.find((r) => r.ours)!;
  if (ceiling.rate !== undefined && ours.rate !== undefined) expect(c.ratio).toBeCloseTo(ours.rate / ceiling.rate, 9);
  else expect(c.ratio).toBeUndefined();
}

describe('efficiency comparisons', () => {
  it('MQTT: raw ceiling, mqttLoad, flood, mosquitto_pub, mqtt.js into one Mosquitto, all stopped after', { timeout: 60_000 }, async () => {
    const lines: string[] = [];
    const c = await mqttComparison({ durationMs: 500, log: (l) => lines.push(l) });
    expectWellFormed(c, ['raw socket (ceiling)', 'Gauntlet mqttLoad', 'raw socket, open-loop flood', 'mosquitto_pub -l', 'mqtt.js']);
    for (const r of c.rows) if (r.skipped) expect(r.skipped).toMatch(/Debian package|failed:|broker did not start/);
    if (!c.rows.some((r) => /not installed/.test(r.skipped ?? ''))) expect(lines.length).toBeGreaterThan(0);
    expect(children()).toEqual([]);
  });

  it('HTTP: wrk, httpLoad with and without pipelining, undici against one server process, stopped after', { timeout: 60_000 }, async () => {
    const c = await httpComparison({ durationMs: 500, log: () => undefined });
    expectWellFormed(c, ['wrk -t1', 'Gauntlet httpLoad', 'Gauntlet httpLoad, no pipelining', 'undici Pool']);
    const wrk = c.rows.find((r) => r.name === 'wrk -t1')!;
    if (wrk.skipped) expect(wrk.skipped).toMatch(/wrk not installed \(Debian package wrk\)|failed:/);
    expect(c.rows.find((r) => r.ours)!.rate, JSON.stringify(c)).toBeGreaterThan(0);
    expect(children()).toEqual([]);
  });
});
