// The fuzz findings corpus (gauntlet-fuzz-finding/1), proven both ways: a
// fuzz finding becomes a record that survives the round trip through its file
// (under <dir>/<target>/<id>.json, names made file-safe), and a finding
// without bytes becomes none; every bad field, a newer or foreign format, an
// oversized file, bad hex, bad JSON and a missing file are refused with one
// line naming the file and the field. The corpus reporter writes a record per
// fuzz finding of a run and nothing for the others.

import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckResult, Finding, RunEvent } from '../../harness/model/index.js';
import {
  FUZZ_RECORD_FORMAT,
  MAX_RECORD_BYTES,
  fuzzRecordOf,
  interfaceUrl,
  isFuzzRecordFile,
  readFuzzRecord,
  writeFuzzRecord,
  type FuzzFindingRecord,
} from '../../harness/fuzz/store.js';
import { FuzzCorpusWriter } from '../../harness/report/index.js';
import { FINDING, PLAN, RUN, feed } from '../report/synthetic-run.js';
import { thrown } from '../support/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gauntlet-corpus-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const IFACE = { id: 'coap', protocol: 'coap', url: 'coap://127.0.0.1:5683' };

const FUZZ_FINDING: Finding = {
  id: 'robustness.fuzz@coap#1',
  fileId: 'robustness.fuzz@coap-1',
  checkId: 'robustness.fuzz',
  instanceId: 'robustness.fuzz@coap',
  interfaceId: 'coap',
  severity: 'high',
  summary: 'COAP stopped answering (crash) after "hostile: option number past 65535 [RFC7252 3.1]"',
  remedy: 'Validate every length.',
  requirements: ['EN303645:5.13-1', 'NISTIR8259A:C15'],
  evidence: {
    observed: 'probe: unreachable: ECONNREFUSED',
    transcript: [],
    counterexample: { seed: 77, path: '0:12:3', value: 'GET | option 65804', numRuns: 13, shrinks: 4 },
    fuzz: {
      protocol: 'coap',
      oracle: 'crash',
      confirmed: true,
      connections: [
        {
          label: 'hostile: option number past 65535 [RFC7252 3.1]',
          steps: [
            { label: 'CON GET /a', hex: '40011234b161' },
            { label: 'CON GET option 65804', hex: '40011235E0FFFF' },
          ],
        },
      ],
    },
  },
  replay: 'gauntlet replay reports/latest/findings/robustness.fuzz@coap-1.json',
};

const record = (): FuzzFindingRecord => fuzzRecordOf(FUZZ_FINDING, RUN, IFACE)!;

/** Writes a record (as JSON) after `change` edits it. */
function writeEdited(change: (r: Record<string, any>) => void): string {
  const r = JSON.parse(JSON.stringify(record())) as Record<string, any>;
  change(r);
  const p = join(dir, 'edited.json');
  writeFileSync(p, JSON.stringify(r));
  return p;
}

describe('fuzz finding records', () => {
  it('a fuzz finding becomes a record with its bytes, run, interface and oracle; one without bytes becomes none', () => {
    const r = record();
    expect(r).toMatchObject({
      format: FUZZ_RECORD_FORMAT,
      harnessVersion: RUN.harnessVersion,
      target: { name: RUN.target, source: RUN.targetSource, flaws: RUN.flaws },
      interface: IFACE,
      instance: 'robustness.fuzz@coap',
      seed: RUN.seed,
      path: '0:12:3',
      oracle: 'crash',
      observed: FUZZ_FINDING.evidence.observed,
      summary: FUZZ_FINDING.summary,
      severity: 'high',
      requirements: FUZZ_FINDING.requirements,
      confirmed: true,
    });
    expect(r.id).toMatch(/^coap-crash-[0-9a-f]{12}$/);
    // Hex is kept lower-case, so the same bytes always give the same id.
    expect(r.connections[0]!.steps[1]).toEqual({ label: 'CON GET option 65804', hex: '40011235e0ffff' });
    expect(Number.isNaN(Date.parse(r.createdAt))).toBe(false);
    expect(fuzzRecordOf(FINDING, RUN, IFACE)).toBeUndefined();
  });

  it('the id follows the bytes: the same input keeps its id, another input gets another', () => {
    const other: Finding = {
      ...FUZZ_FINDING,
      evidence: { ...FUZZ_FINDING.evidence, fuzz: { ...FUZZ_FINDING.evidence.fuzz!, connections: [{ label: 'x', steps: [{ label: 'y', hex: '40011235e0fffe' }] }] } },
    };
    expect(fuzzRecordOf({ ...FUZZ_FINDING, id: 'robustness.fuzz@coap#7' }, { ...RUN, id: 'another-run' }, IFACE)!.id).toBe(record().id);
    expect(fuzzRecordOf(other, RUN, IFACE)!.id).not.toBe(record().id);
  });

  it('round trip: written atomically to <dir>/<target>/<id>.json and read back equal', () => {
    const r = record();
    const p = writeFuzzRecord(dir, r);
    expect(p).toBe(join(dir, 'thermo-x200', `${r.id}.json`));
    expect(readdirSync(join(dir, 'thermo-x200'))).toEqual([`${r.id}.json`]); // no temp file left
    expect(readFuzzRecord(p)).toEqual(r);
    expect(isFuzzRecordFile(p)).toBe(true);
    expect(readFileSync(p, 'utf8')).toMatch(/^\{\n {2}"format": "gauntlet-fuzz-finding\/1",/);
  });

  it('a target name or id with separators or dots stays inside the corpus directory', () => {
    const r = { ...record(), id: '../../escape', target: { ...record().target, name: '../../etc/x:y' } };
    const p = writeFuzzRecord(dir, r);
    expect(relative(dir, p).startsWith('..')).toBe(false);
    expect(relative(dir, p).split(sep)).toHaveLength(2);
    expect(readFuzzRecord(p).id).toBe('../../escape');
  });

  it('interfaceUrl names IPv4 and IPv6 hosts', () => {
    expect(interfaceUrl({ protocol: 'coap', host: '127.0.0.1', port: 5683 })).toBe('coap://127.0.0.1:5683');
    expect(interfaceUrl({ protocol: 'mqtts', host: '::1', port: 8883 })).toBe('mqtts://[::1]:8883');
  });

  const BAD: readonly (readonly [string, (r: Record<string, any>) => void, RegExp])[] = [
    ['id', (r) => delete r.id, /: id: expected string/],
    ['createdAt', (r) => (r.createdAt = 'yesterday'), /: createdAt: expected an ISO 8601 date/],
    ['harnessVersion', (r) => (r.harnessVersion = ''), /: harnessVersion: expected a non-empty string/],
    ['target.name', (r) => (r.target.name = 42), /: target\.name: expected string/],
    ['target.source', (r) => delete r.target.source, /: target\.source: expected string/],
    ['target.flaws', (r) => (r.target.flaws = 'no-lockout'), /: target\.flaws: expected array/],
    ['interface.id', (r) => (r.interface.id = ''), /: interface\.id: expected a non-empty string/],
    ['interface.protocol', (r) => (r.interface.protocol = 'dtls'), /: interface\.protocol: expected one of mqtt, mqtts, coap, coaps, http, https/],
    ['interface.url', (r) => delete r.interface.url, /: interface\.url: expected string/],
    ['instance', (r) => (r.instance = null), /: instance: expected string/],
    ['seed', (r) => (r.seed = 1.5), /: seed: expected an integer seed/],
    ['path', (r) => (r.path = 'left, then right'), /: path: expected a fast-check path/],
    ['oracle', (r) => (r.oracle = 'explode'), /: oracle: expected one of crash, hang, reboot, invalid-response, latency/],
    ['observed', (r) => delete r.observed, /: observed: expected string/],
    ['severity', (r) => (r.severity = 'urgent'), /: severity: expected one of critical, high/],
    ['requirements', (r) => (r.requirements = [1]), /: requirements\[0\]: expected string/],
    ['confirmed', (r) => (r.confirmed = 'yes'), /: confirmed: expected boolean/],
    ['connections (none)', (r) => (r.connections = []), /: connections: expected at least one connection/],
    ['connections[0].label', (r) => delete r.connections[0].label, /: connections\[0\]\.label: expected string/],
    ['connections[0].steps', (r) => (r.connections[0].steps = {}), /: connections\[0\]\.steps: expected array/],
    ['hex (not hex)', (r) => (r.connections[0].steps[1].hex = '40zz'), /: connections\[0\]\.steps\[1\]\.hex: expected the bytes as hex/],
    ['hex (odd length)', (r) => (r.connections[0].steps[0].hex = '401'), /: connections\[0\]\.steps\[0\]\.hex: expected the bytes as hex/],
    ['unknown field', (r) => (r.colour = 'red'), /: colour: unknown field in a fuzz finding record/],
    ['unknown nested field', (r) => (r.connections[0].steps[0].bytes = [1]), /: connections\[0\]\.steps\[0\]\.bytes: unknown field/],
  ];
  for (const [name, change, message] of BAD) {
    it(`refuses a bad ${name}, naming the file and the field`, () => {
      const p = writeEdited(change);
      const e = thrown(() => readFuzzRecord(p));
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.message.startsWith(`${p}: `)).toBe(true);
      expect(e.message).toMatch(message);
      expect(e.message).not.toContain('\n');
    });
  }

  it('refuses another format family (CONFIG_INVALID) and a newer version (CONFIG_VERSION); the unedited record passes', () => {
    expect(readFuzzRecord(writeEdited(() => {})).id).toBe(record().id);
    const other = thrown(() => readFuzzRecord(writeEdited((r) => (r.format = 'gauntlet-finding/1'))));
    expect(other.code).toBe('CONFIG_INVALID');
    expect(other.message).toMatch(/not a Gauntlet fuzz finding record: format "gauntlet-finding\/1"/);
    const newer = thrown(() => readFuzzRecord(writeEdited((r) => (r.format = 'gauntlet-fuzz-finding/2'))));
    expect(newer.code).toBe('CONFIG_VERSION');
    expect(newer.message).toMatch(/newer than this Gauntlet reads/);
    const none = thrown(() => readFuzzRecord(writeEdited((r) => delete r.format)));
    expect(none.code).toBe('CONFIG_INVALID');
  });

  it('refuses a file past 16 MiB without reading it', () => {
    const p = join(dir, 'huge.json');
    writeFileSync(p, JSON.stringify(record()));
    truncateSync(p, MAX_RECORD_BYTES + 1); // sparse: cheap to make
    const e = thrown(() => readFuzzRecord(p));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(`${p}: fuzz finding record of ${MAX_RECORD_BYTES + 1} bytes is larger than the 16 MiB a record may be`);
    expect(isFuzzRecordFile(p)).toBe(false);
  });

  it('refuses bad JSON (CONFIG_PARSE) and a missing file (CONFIG_NOT_FOUND), naming the file', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"format": "gauntlet-fuzz-finding/1",');
    const parse = thrown(() => readFuzzRecord(bad));
    expect(parse.code).toBe('CONFIG_PARSE');
    expect(parse.message).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a fuzz finding record: not valid JSON`));
    const missing = join(dir, 'nope.json');
    const nf = thrown(() => readFuzzRecord(missing));
    expect(nf.code).toBe('CONFIG_NOT_FOUND');
    expect(nf.message).toBe(`${missing}: fuzz finding record: no such file`);
    expect(isFuzzRecordFile(missing)).toBe(false);
    expect(isFuzzRecordFile(bad)).toBe(false);
  });
});

describe('FuzzCorpusWriter', () => {
  const result = (findings: Finding[]): CheckResult => ({
    instance: { id: 'robustness.fuzz@coap', checkId: 'robustness.fuzz', interfaceId: 'coap', seed: 5 },
    title: 'fuzz',
    verdict: findings.length ? 'fail' : 'pass',
    reason: 'r',
    requirements: [],
    durationMs: 1,
    cases: 10,
    findings,
  });
  const events = (findings: Finding[]): RunEvent[] => [
    { type: 'run-begin', run: RUN, plan: PLAN },
    { type: 'check-end', result: result(findings) },
    { type: 'run-end', finishedAt: RUN.startedAt, durationMs: 1, summary: { pass: 0, fail: 1, inconclusive: 0, error: 0, skipped: 0 }, interrupted: false },
  ];

  it('writes one record per fuzz finding, with the interface of the target, and skips findings without bytes', async () => {
    const w = new FuzzCorpusWriter(join(dir, 'corpus'), [{ id: 'coap', protocol: 'coap', host: '127.0.0.1', port: 40123 }]);
    await feed(events([FUZZ_FINDING, FINDING]), w);
    expect(w.written()).toHaveLength(1);
    const rec = readFuzzRecord(w.written()[0]!);
    expect(w.written()[0]).toBe(join(dir, 'corpus', 'thermo-x200', `${rec.id}.json`));
    expect(rec.interface).toEqual({ id: 'coap', protocol: 'coap', url: 'coap://127.0.0.1:40123' });
    expect(rec.connections).toEqual(record().connections);
  });

  it('a run without fuzz findings writes nothing, not even the directory', async () => {
    const w = new FuzzCorpusWriter(join(dir, 'corpus'), []);
    await feed(events([FINDING]), w);
    expect(w.written()).toEqual([]);
    expect(existsSync(join(dir, 'corpus'))).toBe(false);
  });

  it('keeps the bytes when the interface is not among the given ones (protocol from the evidence); refuses a check end before run-begin', async () => {
    const w = new FuzzCorpusWriter(join(dir, 'corpus'), []);
    await feed(events([FUZZ_FINDING]), w);
    expect(readFuzzRecord(w.written()[0]!).interface).toEqual({ id: 'coap', protocol: 'coap', url: '' });
    const early = new FuzzCorpusWriter(join(dir, 'early'), []);
    const e = thrown(() => early.onCheckEnd(result([FUZZ_FINDING])));
    expect(e.code).toBe('REPORT_WRITE');
    expect(e.message).toMatch(/a check ended before the run began/);
  });
});
