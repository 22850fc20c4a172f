// The published JSON Schemas of report.json, events.jsonl and finding files
// (reports/schema/), checked with a standard draft 2020-12 validator (ajv),
// not with zod: (a) the files the real writers make from a synthetic run
// that sets every optional field, (b) the files of real runs against the
// built-in reference device, hardened and with a flaw, and (c) broken
// documents, which the schemas must refuse.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { packageRoot } from '../../harness/core/paths.js';
import { loadProfile } from '../../harness/core/profile-file.js';
import { CHECKS } from '../../harness/checks/registry.js';
import { runSession } from '../../harness/cli/session.js';
import {
  evaluateGate,
  type CheckResult,
  type Finding,
  type PathResult,
  type PlannedInstance,
  type ProfileSummary,
  type Report,
  type RunEvent,
  type RunMeta,
} from '../../harness/model/index.js';
import { EventLogReporter, readEventLog } from '../../harness/report/event-log.js';
import { FindingsWriter, readFindingFile } from '../../harness/report/findings-writer.js';
import { JsonReporter } from '../../harness/report/json-reporter.js';
import { readReport } from '../../harness/report/read-report.js';
import { buildReport } from '../../harness/report/report-builder.js';
import type { Flaw } from '../../targets/reference-device/index.js';
import { FINDING, PLAN, RUN, feed, syntheticRun } from './synthetic-run.js';

type Json = Record<string, unknown>;

// Strict, so a keyword ajv does not know fails; a type list (["number", "string"]) is standard JSON Schema.
const ajv = new Ajv2020.default({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats.default(ajv);
// The committed files users get (test/core/json-schemas.test.ts keeps them equal to the zod schemas).
const published = (name: string): Json => JSON.parse(readFileSync(join(packageRoot(), 'reports', 'schema', name), 'utf8')) as Json;
const SCHEMAS = {
  report: published('gauntlet-report-1.schema.json'),
  events: published('gauntlet-events-1.schema.json'),
  finding: published('gauntlet-finding-1.schema.json'),
};
const validators = {
  report: ajv.compile(SCHEMAS.report),
  events: ajv.compile(SCHEMAS.events),
  finding: ajv.compile(SCHEMAS.finding),
};
type Kind = keyof typeof validators;

/** The validator's errors, one line each, or '' when the document is valid. */
function errorsOf(kind: Kind, doc: unknown): string {
  const v = validators[kind];
  return v(doc) ? '' : ajv.errorsText(v.errors, { separator: '\n' });
}

function expectValid(kind: Kind, doc: unknown, what: string): void {
  expect(errorsOf(kind, doc), `${what} does not match the ${kind} schema`).toBe('');
}

function readJson(path: string): Json {
  return JSON.parse(readFileSync(path, 'utf8')) as Json;
}

function lines(path: string): Json[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Json);
}

/** Validates every file a report directory holds; returns them for more assertions. */
function validateReportDir(dir: string): { report: Json; events: Json[]; findings: Json[] } {
  const report = readJson(join(dir, 'report.json'));
  expectValid('report', report, `${dir}/report.json`);
  const events = lines(join(dir, 'events.jsonl'));
  expect(events[0]).toEqual({ format: 'gauntlet-events/1' });
  events.forEach((e, i) => expectValid('events', e, `${dir}/events.jsonl:${i + 1} (${String(e.type ?? 'header')})`));
  const findingsDir = join(dir, 'findings');
  const names = readdirSync(dir).includes('findings') ? readdirSync(findingsDir).filter((f) => f.endsWith('.json')) : [];
  const findings = names.map((f) => readJson(join(findingsDir, f)));
  findings.forEach((f, i) => expectValid('finding', f, `findings/${names[i]}`));
  // The readers accept what the schemas accept.
  expect(readReport(join(dir, 'report.json')).checks.length).toBe((report.checks as unknown[]).length);
  expect(readEventLog(join(dir, 'events.jsonl'))).toHaveLength(events.length - 1);
  for (const f of names) readFindingFile(join(findingsDir, f));
  return { report, events, findings };
}

// --- every property a schema names, and every property a document has ---

/** `run.machine.cpu`, `checks[].bench[].latency.p99Ms`: every property path the schema describes (union branches merged). */
function schemaPaths(schema: Json): Set<string> {
  const defs = (schema.$defs ?? {}) as Record<string, Json>;
  const out = new Set<string>();
  const walk = (node: Json, path: string): void => {
    if (typeof node.$ref === 'string') walk(defs[node.$ref.replace('#/$defs/', '')]!, path);
    for (const key of ['oneOf', 'anyOf', 'allOf'] as const) for (const n of (node[key] ?? []) as Json[]) walk(n, path);
    if (node.items && typeof node.items === 'object') walk(node.items as Json, `${path}[]`);
    for (const [name, sub] of Object.entries((node.properties ?? {}) as Record<string, Json>)) {
      const p = path ? `${path}.${name}` : name;
      out.add(p);
      walk(sub, p);
    }
  };
  walk(schema, '');
  return out;
}

function documentPaths(doc: unknown, path = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(doc)) for (const d of doc) documentPaths(d, `${path}[]`, out);
  else if (doc && typeof doc === 'object') {
    for (const [k, v] of Object.entries(doc)) {
      const p = path ? `${path}.${k}` : k;
      out.add(p);
      documentPaths(v, p, out);
    }
  }
  return out;
}

// --- (a) a synthetic run with every optional field set ---

const FULL_RUN: RunMeta = { ...RUN, machine: { cpu: 'Test CPU @ 2.0GHz', cores: 2, memoryGiB: 3.8 }, shard: { index: 1, total: 2, planIds: ['auth.brute-force@broker'] } };

const PROFILE: ProfileSummary = {
  name: 'ci-smoke',
  description: 'synthetic profile',
  requirements: [
    { id: 'EN303645:5.1-5', title: 'brute force', checks: ['auth.brute-force'], status: 'covered' },
    { id: 'EN303645:5.2-1', title: 'vulnerability disclosure policy', checks: [], status: 'declared', reason: 'a published policy, not a network test' },
    { id: 'EN303645:5.4-1', title: 'secure storage', checks: [], status: 'not-covered', reason: 'needs the device open' },
  ],
};

const FUZZ_FINDING: Finding = {
  ...FINDING,
  id: 'robustness.fuzz@coap#1',
  fileId: 'robustness.fuzz@coap-1',
  checkId: 'robustness.fuzz',
  instanceId: 'robustness.fuzz@coap',
  interfaceId: 'coap',
  severity: 'critical',
  requirements: ['EN303645:5.13-1'],
  evidence: {
    observed: 'device stopped answering after case 12',
    declared: 'no crash',
    source: 'oracle:crash',
    transcript: [
      { t: 0, dir: 'sent', peer: '127.0.0.1:5683', hex: '40010001', truncated: 200, decoded: 'CON GET /' },
      { t: 5, dir: 'received', peer: '127.0.0.1:5683', decoded: '(nothing)' },
      { t: 9, dir: 'note', peer: 'coap', decoded: 'restarted the device' },
    ],
    counterexample: { seed: 7, path: '3:1:0', value: '[option 0xffff]', numRuns: 12, shrinks: 4 },
    fuzz: { protocol: 'coap', oracle: 'crash', connections: [{ label: 'option length overflow', steps: [{ label: 'GET with option 0xffff', hex: '4001ffff' }] }], confirmed: true },
  },
};

const BENCH: PathResult = {
  path: 'coap.block',
  interface: 'coap',
  ops: 120,
  elapsedMs: 1000,
  rate: 120,
  bytesPerSec: 122_880,
  latency: { samples: 120, p50Ms: 4, p90Ms: 7, p99Ms: 11, maxMs: 15, meanMs: 5 },
  errors: 1,
  errorDetail: ['timeout after 2000 ms'],
  settings: { connections: 2, inFlight: 4, payloadBytes: 1024, resource: '/fw', durationMs: 1000, maxOps: 10_000 },
  notes: ['observer saw 100% of transfers'],
};

const BENCH_SKIPPED: PathResult = {
  path: 'mqtt.publish.qos1',
  interface: 'broker',
  ops: 0,
  elapsedMs: 0,
  rate: 0,
  errors: 0,
  skipped: 'no principal may publish anywhere',
  settings: { connections: 1, inFlight: 1, durationMs: 1000, maxOps: 10_000 },
  notes: [],
};

const FUZZ_PLAN: PlannedInstance = { id: 'robustness.fuzz@coap', checkId: 'robustness.fuzz', interfaceId: 'coap', seed: 66, title: 'fuzz', requirements: ['EN303645:5.13-1', 'EN18031:GEC-6'] };

function fullRun(): RunEvent[] {
  const events = syntheticRun();
  const [begin, ...rest] = events as [Extract<RunEvent, { type: 'run-begin' }>, ...RunEvent[]];
  const fuzzResult: CheckResult = {
    instance: { id: FUZZ_PLAN.id, checkId: FUZZ_PLAN.checkId, interfaceId: FUZZ_PLAN.interfaceId, seed: FUZZ_PLAN.seed },
    title: FUZZ_PLAN.title,
    verdict: 'fail',
    reason: 'crash',
    requirements: FUZZ_PLAN.requirements,
    durationMs: 5000,
    cases: 12,
    findings: [FUZZ_FINDING],
    evidence: FUZZ_FINDING.evidence,
    stats: { cases: 12, 'cases/s': 2.4, ended: 'finding' },
    bench: [BENCH, BENCH_SKIPPED],
    statements: [{ id: 'MQTT-3.1.1:MQTT-3.1.0-2', verdict: 'pass', reason: 'a second CONNECT closed the connection' }],
  };
  const end = rest.pop()!;
  return [
    { ...begin, run: FULL_RUN, plan: [...PLAN, FUZZ_PLAN], profile: PROFILE },
    ...rest,
    { type: 'check-begin', instanceId: FUZZ_PLAN.id, index: 5, total: 6 },
    { type: 'check-end', result: fuzzResult },
    end,
  ];
}

/** Adds the gate, as the CLI's report writer does: new-findings, one finding accepted, one baseline entry expired. */
function withGate(r: Report): Report {
  const baseline = {
    format: 'gauntlet-baseline/1' as const,
    accepted: [
      { fingerprint: 'auth.brute-force@broker:0000000000000000', instance: 'auth.brute-force@broker', summary: 's', justification: 'ticket 1', expires: '2020-01-01' },
    ],
  };
  const findings = r.checks.flatMap((c) => c.findings.map((f) => ({ id: f.id, instanceId: c.id, summary: f.summary })));
  return { ...r, gate: evaluateGate('new-findings', r.checks.filter((c) => c.verdict === 'fail').map((c) => c.id), findings, baseline, '2025-01-02') };
}

describe('published schemas: the writers’ files from a run that sets every optional field', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gauntlet-schemas-'));
    await feed(fullRun(), new EventLogReporter(join(dir, 'events.jsonl')), new JsonReporter(join(dir, 'report.json'), withGate), new FindingsWriter(dir));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('report.json, every events.jsonl line and every finding file match their schemas', () => {
    const { report, findings } = validateReportDir(dir);
    expect(report.gate).toMatchObject({ policy: 'new-findings', expired: [expect.anything()] });
    expect(findings).toHaveLength(2);
  });

  it('the synthetic run sets every property the schemas name (so every optional field was validated)', () => {
    const { report, events, findings } = validateReportDir(dir);
    const missing = (kind: Kind, docs: unknown[]) => {
      const have = new Set(docs.flatMap((d) => [...documentPaths(d)]));
      return [...schemaPaths(SCHEMAS[kind])].filter((p) => !have.has(p));
    };
    expect(missing('report', [report]), 'report properties no synthetic document sets: add them to fullRun()').toEqual([]);
    expect(missing('events', events), 'event properties no synthetic event sets').toEqual([]);
    expect(missing('finding', findings), 'finding properties no synthetic finding sets').toEqual([]);
  });

  it('the schemas are draft 2020-12 and name their format', () => {
    for (const [kind, s] of Object.entries(SCHEMAS)) {
      expect(s.$schema, kind).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(s.$id, kind).toBe(`https://gauntlet.invalid/schema/gauntlet-${kind}-1.schema.json`);
    }
    expect(JSON.stringify(SCHEMAS.report)).toContain('"const":"gauntlet-report/1"');
    expect(JSON.stringify(SCHEMAS.events)).toContain('"const":"gauntlet-events/1"');
    expect(JSON.stringify(SCHEMAS.finding)).toContain('"const":"gauntlet-finding/1"');
  });
});

// --- (b) real runs against the built-in reference device ---

describe('published schemas: real runs against the built-in reference device', () => {
  let base: string;
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'gauntlet-schemas-real-'));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  async function run(name: string, only: string[], flaws: Flaw[] = []): Promise<string> {
    const out = join(base, name);
    const quiet = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await runSession({
        flaws,
        profile: loadProfile('default', CHECKS.map((c) => c.id)),
        only,
        seed: 20261122,
        out,
        reportsBase: base,
        gate: 'any-fail',
        ioTimeoutMs: 2000,
        budget: { numRuns: 20, timeMs: 10_000 },
        argv: ['run', '--only', only.join(','), '--out', out],
        color: false,
        verbose: false,
      });
    } finally {
      quiet.mockRestore();
    }
    return out;
  }

  it('hardened device: report.json, events.jsonl and findings match the schemas', async () => {
    const dir = await run('hardened', ['access.exposed-surface', 'auth.anonymous-access', 'transport.dtls-handshake']);
    const { report, events } = validateReportDir(dir);
    const checks = report.checks as Json[];
    expect(checks.map((c) => c.check)).toEqual(expect.arrayContaining(['access.exposed-surface', 'auth.anonymous-access', 'transport.dtls-handshake']));
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['run-begin', 'check-begin', 'case', 'check-end', 'run-end']));
    expect(checks.some((c) => c.evidence !== undefined), 'some check keeps its evidence').toBe(true);
    expect(report.requirements).toBeDefined();
  }, 40_000);

  it('with a flaw: the failing check, its finding, evidence and finding file match the schemas', async () => {
    const dir = await run('anonymous-http', ['auth.anonymous-access@https'], ['anonymous-http']);
    const { report, findings } = validateReportDir(dir);
    const failed = (report.checks as Json[]).find((c) => c.id === 'auth.anonymous-access@https');
    expect(failed?.verdict).toBe('fail');
    expect((failed?.findings as unknown[]).length).toBeGreaterThan(0);
    expect(findings.length).toBe((failed?.findings as unknown[]).length);
    expect(((findings[0]!.finding as Json).evidence as Json).transcript, 'the finding keeps its transcript').not.toEqual([]);
    expect(report.gate).toMatchObject({ policy: 'any-fail', passed: false });
  }, 40_000);
});

// --- (c) broken documents are refused ---

describe('published schemas refuse broken documents', () => {
  const report = (): Json => JSON.parse(JSON.stringify(withGate(buildReport(fullRun())))) as Json;
  const checkOf = (r: Json, i: number): Json => (r.checks as Json[])[i]!;

  it('a report: missing verdict, unknown verdict, wrong format, wrong types, unknown severity or gate policy', () => {
    const cases: [string, (r: Json) => void, RegExp][] = [
      ['missing verdict', (r) => delete checkOf(r, 0).verdict, /must have required property 'verdict'/],
      ['unknown verdict', (r) => (checkOf(r, 0).verdict = 'maybe'), /verdict must be equal to one of the allowed values/],
      ['newer format', (r) => (r.format = 'gauntlet-report/2'), /format must be equal to constant/],
      ['foreign format', (r) => (r.format = 'gauntlet-events/1'), /format must be equal to constant/],
      ['no format', (r) => delete r.format, /must have required property 'format'/],
      ['findings not an array', (r) => (checkOf(r, 1).findings = 'none'), /findings must be array/],
      ['finding severity', (r) => ((checkOf(r, 1).findings as Json[])[0]!.severity = 'urgent'), /severity must be equal to one of the allowed values/],
      ['seed a string', (r) => ((r.run as Json).seed = '42'), /seed must be number/],
      ['startedAt not a time', (r) => ((r.run as Json).startedAt = 'yesterday'), /startedAt must match format "date-time"/],
      ['requirement verdict', (r) => (((r.requirements as Json).rows as Json[])[0]!.verdict = 'partly'), /verdict must be equal to one of the allowed values/],
      ['gate policy', (r) => ((r.gate as Json).policy = 'sometimes'), /policy must be equal to one of the allowed values/],
      ['transcript direction', (r) => (((checkOf(r, 1).evidence as Json).transcript as Json[])[0]!.dir = 'sideways'), /dir must be equal to one of the allowed values/],
      ['interrupted missing', (r) => delete (r.run as Json).interrupted, /must have required property 'interrupted'/],
    ];
    expectValid('report', report(), 'the unbroken report');
    for (const [what, breakIt, why] of cases) {
      const r = report();
      breakIt(r);
      expect(errorsOf('report', r), what).toMatch(why);
    }
  });

  it('a report with fields this version does not know is still valid (readers tolerate added fields)', () => {
    const r = report();
    r.addedLater = { x: 1 };
    (r.run as Json).addedLater = true;
    checkOf(r, 0).addedLater = 'yes';
    expectValid('report', r, 'a report with added fields');
  });

  it('an event line: unknown type, missing field, wrong header', () => {
    expectValid('events', { format: 'gauntlet-events/1' }, 'the header');
    expectValid('events', { type: 'note', text: 'hello', addedLater: 1 }, 'a note with an added field');
    expect(errorsOf('events', { format: 'gauntlet-events/2' })).not.toBe('');
    expect(errorsOf('events', { format: 'gauntlet-report/1' })).not.toBe('');
    expect(errorsOf('events', { type: 'launch', text: 'x' })).not.toBe('');
    expect(errorsOf('events', { type: 'case', n: 1, summary: 'x' })).toMatch(/must have required property 'instanceId'/);
    expect(errorsOf('events', { type: 'run-end', finishedAt: '2025-01-02T03:04:31.000Z', durationMs: 1, summary: { pass: 1 }, interrupted: false })).toMatch(/must have required property 'fail'/);
    const end = fullRun().find((e) => e.type === 'check-end')!;
    const broken = JSON.parse(JSON.stringify(end)) as { result: Json };
    broken.result.verdict = 'maybe';
    expect(errorsOf('events', broken)).toMatch(/verdict must be equal to one of the allowed values/);
  });

  it('a finding file: wrong format, unknown severity, no replay', () => {
    const good: Json = {
      format: 'gauntlet-finding/1',
      finding: FINDING,
      run: { id: RUN.id, seed: RUN.seed, target: RUN.target, targetSource: RUN.targetSource, profile: RUN.profile, flaws: RUN.flaws, harnessVersion: RUN.harnessVersion },
      instance: { id: PLAN[1]!.id, checkId: PLAN[1]!.checkId, interfaceId: PLAN[1]!.interfaceId, seed: PLAN[1]!.seed },
      replay: FINDING.replay,
    };
    expectValid('finding', good, 'a finding file');
    expect(errorsOf('finding', { ...good, format: 'gauntlet-finding/2' })).toMatch(/format must be equal to constant/);
    expect(errorsOf('finding', { ...good, finding: { ...FINDING, severity: 'urgent' } })).toMatch(/severity must be equal to one of the allowed values/);
    const { replay: _replay, ...noReplay } = good;
    expect(errorsOf('finding', noReplay)).toMatch(/must have required property 'replay'/);
  });
});

