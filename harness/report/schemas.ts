// zod schemas of the files a run persists: report.json (gauntlet-report/1),
// one line of events.jsonl (gauntlet-events/1: the header or one event) and a
// finding file (gauntlet-finding/1). One source for the JSON Schemas in
// reports/schema/ (`npm run schemas`) and for readReport's field checks.
//
// Objects are zod's default (not strict): the formats promise "add fields,
// never rename or remove them", so a reader tolerates fields it does not
// know, and the JSON Schemas do not forbid additional properties. Every
// field the model marks required is required here, with its type and enum.
// A compile-time check at the end keeps these schemas and the model types
// equal: a field added to the model fails `tsc` until it is added here.

import { z } from 'zod';
import {
  BENCH_PATHS,
  EVENT_LOG_FORMAT,
  FINDING_FORMAT,
  GATES,
  REPORT_FORMAT,
  REQUIREMENT_VERDICTS,
  VERDICTS,
  type Direction,
  type FuzzProtocol,
  type OracleKind,
  type ProfileRequirement,
  type Report,
  type RunEvent,
  type Severity,
} from '../model/index.js';
import type { FindingFile } from './findings-writer.js';

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const satisfies readonly Severity[];
const DIRECTIONS = ['sent', 'received', 'note'] as const satisfies readonly Direction[];
const FUZZ_PROTOCOLS = ['mqtt', 'coap', 'http'] as const satisfies readonly FuzzProtocol[];
const ORACLES = ['crash', 'hang', 'reboot', 'invalid-response', 'latency'] as const satisfies readonly OracleKind[];
const REQUIREMENT_STATUSES = ['covered', 'declared', 'not-covered'] as const satisfies readonly ProfileRequirement['status'][];

const timestamp = z.iso.datetime().describe('ISO 8601 UTC time, e.g. 2025-01-02T03:04:05.000Z');

export const verdictSchema = z.enum(VERDICTS).meta({
  id: 'Verdict',
  description: 'pass | fail | inconclusive (the oracle could not decide) | error (the harness broke; see errorCode) | skipped (not applicable)',
});
export const severitySchema = z.enum(SEVERITIES).meta({ id: 'Severity' });
const verdictCountsSchema = z
  .object({ pass: z.number(), fail: z.number(), inconclusive: z.number(), error: z.number(), skipped: z.number() })
  .meta({ id: 'VerdictCounts', description: 'How many check instances ended with each verdict.' });

// --- evidence (model/evidence.ts) ---

const transcriptEntrySchema = z
  .object({
    t: z.number().describe('Milliseconds since the check began.'),
    dir: z.enum(DIRECTIONS),
    peer: z.string().describe('Interface id or host:port of the peer.'),
    hex: z.string().optional().describe('Hex of the bytes on the wire (capped; truncated says by how much).'),
    truncated: z.number().optional(),
    decoded: z.string().describe('One-line decoded form, e.g. CONNACK returnCode=5 (not authorized).'),
  })
  .meta({ id: 'TranscriptEntry' });

const counterexampleSchema = z
  .object({
    seed: z.number(),
    path: z.string(),
    value: z.string().describe('Human-readable shrunk value.'),
    numRuns: z.number(),
    shrinks: z.number(),
  })
  .meta({ id: 'Counterexample', description: 'fast-check seed and path: passing them back replays the shrunk case directly.' });

const fuzzEvidenceSchema = z
  .object({
    protocol: z.enum(FUZZ_PROTOCOLS),
    oracle: z.enum(ORACLES).describe('The oracle that fired.'),
    connections: z.array(
      z.object({
        label: z.string(),
        steps: z.array(z.object({ label: z.string(), hex: z.string() })),
      }),
    ),
    confirmed: z.boolean().describe('Whether the shrunk input fired the same oracle again on the recovered device.'),
  })
  .meta({ id: 'FuzzEvidence', description: "A fuzz finding's exact input, connection by connection, for byte-level replay." });

export const evidenceSchema = z
  .object({
    observed: z.string().describe('What was compared with what.'),
    declared: z.string().optional().describe('The declared value used as the oracle.'),
    source: z.string().optional().describe('Where the oracle came from, e.g. target:declaration.lockout.'),
    transcript: z.array(transcriptEntrySchema),
    counterexample: counterexampleSchema.optional(),
    fuzz: fuzzEvidenceSchema.optional(),
  })
  .meta({ id: 'Evidence' });

export const findingSchema = z
  .object({
    id: z.string().describe('Stable within a run: <check>@<iface>#<n>.'),
    fileId: z.string(),
    checkId: z.string(),
    instanceId: z.string(),
    interfaceId: z.string(),
    severity: severitySchema,
    summary: z.string(),
    remedy: z.string().describe('What the manufacturer should change.'),
    requirements: z.array(z.string()),
    evidence: evidenceSchema,
    replay: z.string().describe('Shell command that reproduces the finding.'),
  })
  .meta({ id: 'Finding' });

// --- run metadata, plan, results (model/events.ts, check.ts, bench.ts) ---

const statsSchema = z
  .record(z.string(), z.union([z.number(), z.string()]))
  .meta({ id: 'Stats', description: 'Figures of a check (fuzz campaigns: cases, cases/s, probes, restarts, how it ended).' });

const pathResultSchema = z
  .object({
    path: z.enum(BENCH_PATHS),
    interface: z.string(),
    ops: z.number().describe('Ops completed (acknowledged, answered, delivered), never merely sent.'),
    elapsedMs: z.number(),
    rate: z.number().describe('ops per second'),
    bytesPerSec: z.number().optional(),
    latency: z
      .object({ samples: z.number(), p50Ms: z.number(), p90Ms: z.number(), p99Ms: z.number(), maxMs: z.number(), meanMs: z.number() })
      .optional(),
    errors: z.number(),
    errorDetail: z.array(z.string()).optional(),
    skipped: z.string().optional().describe('Set when the path could not be measured at all: why.'),
    settings: z.object({
      connections: z.number(),
      inFlight: z.number(),
      payloadBytes: z.number().optional(),
      resource: z.string().optional(),
      durationMs: z.number(),
      maxOps: z.number(),
    }),
    notes: z.array(z.string()),
  })
  .meta({ id: 'PathResult', description: 'A device benchmark of one hot path: rate, latency percentiles, errors and settings.' });

const runMetaShape = {
  id: z.string(),
  seed: z.number(),
  startedAt: timestamp,
  target: z.string(),
  targetSource: z.string().describe('Target file path, or builtin:reference-device.'),
  profile: z.string(),
  harnessVersion: z.string(),
  flaws: z.array(z.string()).describe('Reference-device flaws switched on for this run.'),
  argv: z.array(z.string()),
  node: z.string(),
  platform: z.string(),
  machine: z.object({ cpu: z.string(), cores: z.number(), memoryGiB: z.number() }).optional(),
  shard: z.object({ index: z.number(), total: z.number(), planIds: z.array(z.string()).optional() }).optional(),
};
const runMetaSchema = z.object(runMetaShape).meta({ id: 'RunMeta' });

const checkInstanceShape = {
  id: z.string().describe('<check id>@<interface id>'),
  checkId: z.string(),
  interfaceId: z.string(),
  seed: z.number(),
};
const checkInstanceSchema = z.object(checkInstanceShape).meta({ id: 'CheckInstance' });

const plannedInstanceSchema = z
  .object({
    ...checkInstanceShape,
    title: z.string(),
    requirements: z.array(z.string()),
    skipReason: z.string().optional(),
  })
  .meta({ id: 'PlannedInstance' });


const statementResultSchema = z
  .object({
    id: z.string().describe('`<SPEC>:<statement id>`, e.g. MQTT-3.1.1:MQTT-3.1.0-2'),
    verdict: z.enum(['pass', 'fail', 'inconclusive', 'skipped']),
    reason: z.string(),
  })
  .meta({ id: 'StatementResult', description: 'One normative statement judged by a conformance check.' });

const checkResultSchema = z
  .object({
    instance: checkInstanceSchema,
    title: z.string(),
    verdict: verdictSchema,
    reason: z.string(),
    requirements: z.array(z.string()),
    durationMs: z.number(),
    cases: z.number(),
    findings: z.array(findingSchema),
    evidence: evidenceSchema.optional(),
    stats: statsSchema.optional(),
    bench: z.array(pathResultSchema).optional(),
    statements: z.array(statementResultSchema).optional(),
    errorCode: z.string().optional().describe("For verdict 'error': the harness error code."),
  })
  .meta({ id: 'CheckResult' });

const profileSummarySchema = z
  .object({
    name: z.string(),
    description: z.string(),
    requirements: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        checks: z.array(z.string()),
        status: z.enum(REQUIREMENT_STATUSES),
        reason: z.string().optional(),
      }),
    ),
  })
  .meta({ id: 'ProfileSummary' });

// --- events.jsonl (model/events.ts) ---

export const eventLogHeaderSchema = z.object({ format: z.literal(EVENT_LOG_FORMAT) }).meta({ id: 'EventLogHeader', description: 'The first line of an event log.' });

export const runEventSchema = z
  .discriminatedUnion('type', [
    z
      .object({
        type: z.literal('run-begin'),
        run: runMetaSchema,
        plan: z.array(plannedInstanceSchema),
        profile: profileSummarySchema.optional().describe("The profile's requirement table (absent in logs written before it existed)."),
      })
      .meta({ id: 'RunBeginEvent' }),
    z.object({ type: z.literal('check-begin'), instanceId: z.string(), index: z.number(), total: z.number() }).meta({ id: 'CheckBeginEvent' }),
    z.object({ type: z.literal('case'), instanceId: z.string(), n: z.number(), summary: z.string() }).meta({ id: 'CaseEvent' }),
    z.object({ type: z.literal('note'), instanceId: z.string().optional(), text: z.string() }).meta({ id: 'NoteEvent' }),
    z.object({ type: z.literal('check-end'), result: checkResultSchema }).meta({ id: 'CheckEndEvent' }),
    z
      .object({
        type: z.literal('run-end'),
        finishedAt: timestamp,
        durationMs: z.number(),
        summary: verdictCountsSchema,
        interrupted: z.boolean(),
      })
      .meta({ id: 'RunEndEvent' }),
  ])
  .meta({ id: 'RunEvent' });

/** One line of events.jsonl: the header line, or one run event. */
export const eventLogLineSchema = z
  .xor([eventLogHeaderSchema, runEventSchema])
  .describe('One line of events.jsonl (gauntlet-events/1): the header line {"format":"gauntlet-events/1"} first, then one run event per line.');

// --- report.json (model/report.ts, requirements.ts, gate.ts) ---

const reportFindingSchema = z
  .object({
    id: z.string(),
    summary: z.string(),
    severity: severitySchema,
    replay: z.string(),
    file: z.string().describe('Path of the finding file, relative to the report directory.'),
    requirements: z.array(z.string()).optional().describe('Present when the finding speaks to fewer requirements than its check (a conformance statement).'),
  })
  .meta({ id: 'ReportFinding' });

const reportCheckSchema = z
  .object({
    id: z.string(),
    check: z.string(),
    interface: z.string(),
    title: z.string(),
    verdict: verdictSchema,
    requirements: z.array(z.string()),
    reason: z.string(),
    durationMs: z.number(),
    cases: z.number(),
    errorCode: z.string().optional(),
    findings: z.array(reportFindingSchema),
    evidence: evidenceSchema.optional(),
    stats: statsSchema.optional(),
    bench: z.array(pathResultSchema).optional(),
    statements: z.array(statementResultSchema).optional(),
  })
  .meta({ id: 'ReportCheck' });

const requirementMatrixSchema = z
  .object({
    profile: z.string(),
    rows: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        status: z.enum(REQUIREMENT_STATUSES),
        verdict: z.enum(REQUIREMENT_VERDICTS),
        reason: z.string(),
        instances: z.array(z.object({ id: z.string(), verdict: verdictSchema })),
        findings: z.number(),
      }),
    ),
    coverage: z.object({
      total: z.number(),
      tested: z.number(),
      declared: z.number(),
      notCovered: z.number(),
      pass: z.number(),
      fail: z.number(),
      inconclusive: z.number(),
      notTested: z.number(),
    }),
  })
  .meta({ id: 'RequirementMatrix', description: "The profile's requirements with their verdicts and coverage figures." });

const gateResultSchema = z
  .object({
    policy: z.enum(GATES),
    passed: z.boolean(),
    failing: z.array(z.string()),
    newFindings: z.array(z.string()),
    accepted: z.array(z.string()),
    expired: z.array(z.object({ fingerprint: z.string(), instance: z.string(), expires: z.string() })),
    reason: z.string(),
  })
  .meta({ id: 'GateResult', description: "The CI gate's decision." });

export const reportSchema = z.object({
  format: z.literal(REPORT_FORMAT),
  run: z.object({
    ...runMetaShape,
    finishedAt: timestamp.optional(),
    durationMs: z.number().optional(),
    interrupted: z.boolean(),
  }),
  checks: z.array(reportCheckSchema),
  summary: verdictCountsSchema,
  requirements: requirementMatrixSchema.optional(),
  gate: gateResultSchema.optional(),
}).describe("report.json (gauntlet-report/1): a run's verdicts, findings and figures. Later versions add fields, never rename or remove them.");

// --- findings/<fileId>.json (report/findings-writer.ts) ---

export const findingFileSchema = z.object({
  format: z.literal(FINDING_FORMAT),
  finding: findingSchema,
  run: z.object({
    id: runMetaShape.id,
    seed: runMetaShape.seed,
    target: runMetaShape.target,
    targetSource: runMetaShape.targetSource,
    profile: runMetaShape.profile,
    flaws: runMetaShape.flaws,
    harnessVersion: runMetaShape.harnessVersion,
  }),
  instance: checkInstanceSchema,
  replay: z.string(),
}).describe('findings/<fileId>.json (gauntlet-finding/1): one finding with the run and instance it came from; `gauntlet replay FILE` reproduces it.');

/** The schemas published in reports/schema/, by file name. */
export const PERSISTED_FILE_SCHEMAS = {
  'gauntlet-report-1.schema.json': reportSchema,
  'gauntlet-events-1.schema.json': eventLogLineSchema,
  'gauntlet-finding-1.schema.json': findingFileSchema,
} as const;

// --- compile-time: the schemas and the model types are the same shapes ---

/** Readonly everywhere and intersections flattened, so only the shape is compared. */
type Shape<T> = T extends readonly (infer U)[] ? readonly Shape<U>[] : T extends object ? { readonly [K in keyof T]: Shape<T[K]> } : T;
type Same<A, B> = (<X>() => X extends Shape<A> ? 1 : 2) extends <X>() => X extends Shape<B> ? 1 : 2 ? true : false;

// "Type 'true' is not assignable to type 'false'" here: a schema and its model
// type differ (a field added, removed, made optional or retyped on one side).
const modelAgrees: [
  Same<z.output<typeof reportSchema>, Report>,
  Same<z.output<typeof runEventSchema>, RunEvent>,
  Same<z.output<typeof findingFileSchema>, FindingFile>,
] = [true, true, true];
void modelAgrees;
