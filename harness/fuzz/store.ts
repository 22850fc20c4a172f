// The fuzz findings corpus (gauntlet-fuzz-finding/1): one JSON record per
// finding at `<dir>/<target>/<id>.json` (by default corpora/findings/), with
// the exact bytes of every step of every connection, so `gauntlet replay
// RECORD` reproduces the finding with no generator and no seed, and a later
// Gauntlet (or another lab) can keep it as a regression input. Seed, path and
// instance say where the input came from; the oracle says what it did.
//   - The id is the interface, the oracle and a digest of the bytes: the same
//     input found again overwrites its own record instead of piling up.
//   - Records hold what was sent, credentials in a CONNECT or a session
//     header included: a corpus is as confidential as the target file.
//   - The reader refuses a newer format version, a file past 16 MiB and any
//     bad field, naming the file and the field.

import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { GauntletError } from '../core/errors.js';
import { readTextFile } from '../core/read-file.js';
import { formatPath } from '../core/yaml-file.js';
import type { Finding, Interface, OracleKind, Protocol, RunMeta, Severity } from '../model/index.js';
import { writeFileAtomic } from '../report/atomic-write.js';
import { requireFormat } from '../report/format-version.js';

export const FUZZ_RECORD_FORMAT = 'gauntlet-fuzz-finding/1';
/** Largest record file the reader opens. */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** Bounds a replay can trust: connections per record, steps per connection. */
export const MAX_CONNECTIONS = 1000;
export const MAX_STEPS = 10_000;
/** Where `gauntlet fuzz` keeps records unless told otherwise. */
export const DEFAULT_CORPUS_DIR = 'corpora/findings';

export interface FuzzRecordStep {
  readonly label: string;
  /** The bytes on the wire, lower-case hex. */
  readonly hex: string;
}

export interface FuzzRecordConnection {
  readonly label: string;
  readonly steps: readonly FuzzRecordStep[];
}

export interface FuzzFindingRecord {
  readonly format: typeof FUZZ_RECORD_FORMAT;
  /** `<interface>-<oracle>-<12 hex of the bytes' digest>`. */
  readonly id: string;
  readonly createdAt: string;
  readonly harnessVersion: string;
  readonly target: {
    readonly name: string;
    /** Target file path, or `builtin:reference-device`. */
    readonly source: string;
    /** Reference-device flaws that were on (the built-in device is started with them on replay). */
    readonly flaws: readonly string[];
  };
  readonly interface: { readonly id: string; readonly protocol: Protocol; readonly url: string };
  /** The check instance that found it: `robustness.fuzz@coap`. */
  readonly instance: string;
  /** The run seed: with `instance` and `path`, `gauntlet run --seed` re-runs the campaign's shrunk case. */
  readonly seed: number;
  /** The campaign's fast-check path (`<segment>:<path>`), '' when unknown. */
  readonly path: string;
  readonly oracle: OracleKind;
  /** The finding's evidence.observed: what the device did. */
  readonly observed: string;
  readonly summary: string;
  readonly severity: Severity;
  readonly requirements: readonly string[];
  /** The shrunk input fired the same oracle again on the recovered device when it was found. */
  readonly confirmed: boolean;
  readonly connections: readonly FuzzRecordConnection[];
}

const PROTOCOLS = ['mqtt', 'mqtts', 'coap', 'coaps', 'http', 'https'] as const satisfies readonly Protocol[];
const ORACLES = ['crash', 'hang', 'reboot', 'invalid-response', 'latency'] as const satisfies readonly OracleKind[];
const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const satisfies readonly Severity[];

const text = z.string().min(1, 'expected a non-empty string');
const hex = z.string().regex(/^(?:[0-9a-fA-F]{2})*$/, 'expected the bytes as hex (pairs of 0-9, a-f)');

const recordSchema = z.strictObject({
  format: z.literal(FUZZ_RECORD_FORMAT),
  id: text.max(200),
  createdAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'expected an ISO 8601 date and time' }),
  harnessVersion: text,
  target: z.strictObject({ name: text, source: text, flaws: z.array(z.string()) }),
  interface: z.strictObject({ id: text, protocol: z.enum(PROTOCOLS, { error: `expected one of ${PROTOCOLS.join(', ')}` }), url: z.string() }),
  instance: text,
  seed: z.number().int('expected an integer seed'),
  path: z.string().regex(/^[\d:]*$/, 'expected a fast-check path like 0:12:3'),
  oracle: z.enum(ORACLES, { error: `expected one of ${ORACLES.join(', ')}` }),
  observed: z.string(),
  summary: z.string(),
  severity: z.enum(SEVERITIES, { error: `expected one of ${SEVERITIES.join(', ')}` }),
  requirements: z.array(z.string()),
  confirmed: z.boolean(),
  connections: z
    .array(
      z.strictObject({
        label: z.string(),
        steps: z.array(z.strictObject({ label: z.string(), hex })).max(MAX_STEPS, `expected at most ${MAX_STEPS} steps`),
      }),
    )
    .min(1, 'expected at least one connection')
    .max(MAX_CONNECTIONS, `expected at most ${MAX_CONNECTIONS} connections`),
});

/** `coap://127.0.0.1:5683`: how an interface is named in a record. */
export function interfaceUrl(iface: Pick<Interface, 'protocol' | 'host' | 'port'>): string {
  return `${iface.protocol}://${iface.host.includes(':') ? `[${iface.host}]` : iface.host}:${iface.port}`;
}

/** The record of a fuzz finding, or undefined when the finding carries no bytes (evidence.fuzz). */
export function fuzzRecordOf(finding: Finding, meta: RunMeta, iface: { id: string; protocol: string; url: string }): FuzzFindingRecord | undefined {
  const fuzz = finding.evidence.fuzz;
  if (!fuzz) return undefined;
  const connections = fuzz.connections.map((c) => ({ label: c.label, steps: c.steps.map((s) => ({ label: s.label, hex: s.hex.toLowerCase() })) }));
  const digest = createHash('sha256').update(JSON.stringify(connections.map((c) => c.steps.map((s) => s.hex)))).digest('hex').slice(0, 12);
  return {
    format: FUZZ_RECORD_FORMAT,
    id: `${iface.id}-${fuzz.oracle}-${digest}`,
    createdAt: new Date().toISOString(),
    harnessVersion: meta.harnessVersion,
    target: { name: meta.target, source: meta.targetSource, flaws: [...meta.flaws] },
    interface: { id: iface.id, protocol: (PROTOCOLS as readonly string[]).includes(iface.protocol) ? (iface.protocol as Protocol) : fuzz.protocol, url: iface.url },
    instance: finding.instanceId,
    seed: meta.seed,
    path: finding.evidence.counterexample?.path ?? '',
    oracle: fuzz.oracle,
    observed: finding.evidence.observed,
    summary: finding.summary,
    severity: finding.severity,
    requirements: [...finding.requirements],
    confirmed: fuzz.confirmed,
    connections,
  };
}

/** A path segment that cannot leave its directory or upset a file system. */
function fileSafe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[/\\\x00-\x1f:*?"<>|]/g, '_').replace(/^\.+/, '_') || '_';
}

/** Writes `<dir>/<target name>/<id>.json` atomically; returns the path. */
export function writeFuzzRecord(dir: string, rec: FuzzFindingRecord): string {
  const path = join(dir, fileSafe(rec.target.name), `${fileSafe(rec.id)}.json`);
  writeFileAtomic(path, `${JSON.stringify(rec, null, 2)}\n`, 'fuzz finding record');
  return path;
}

/** Whether `path` holds a fuzz finding record (by its format field); false for anything else, a missing file included. */
export function isFuzzRecordFile(path: string): boolean {
  try {
    if (statSync(path).size > MAX_RECORD_BYTES) return false;
    const data = JSON.parse(readTextFile(path, 'fuzz finding record')) as { format?: unknown } | null;
    return typeof data?.format === 'string' && data.format.startsWith('gauntlet-fuzz-finding/');
  } catch {
    return false;
  }
}

/** Reads and validates a record: CONFIG_NOT_FOUND, CONFIG_PARSE, CONFIG_VERSION, or CONFIG_INVALID naming the field. */
export function readFuzzRecord(path: string): FuzzFindingRecord {
  let size: number | undefined;
  try {
    size = statSync(path).size;
  } catch {
    // readTextFile says why in the house words (no such file, a directory, ...).
  }
  if (size !== undefined && size > MAX_RECORD_BYTES) {
    throw new GauntletError('CONFIG_INVALID', `${path}: fuzz finding record of ${size} bytes is larger than the ${MAX_RECORD_BYTES / 1024 / 1024} MiB a record may be`);
  }
  const body = readTextFile(path, 'fuzz finding record');
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (e) {
    throw new GauntletError('CONFIG_PARSE', `${path}: not a fuzz finding record: not valid JSON (${(e as Error).message})`);
  }
  const format = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as { format?: unknown }).format : undefined;
  requireFormat(format, FUZZ_RECORD_FORMAT, path, 'Gauntlet fuzz finding record');
  const r = recordSchema.safeParse(data);
  if (r.success) return r.data as FuzzFindingRecord;
  const issue = r.error.issues[0]!;
  let fieldPath = issue.path as PropertyKey[];
  let message = issue.message.replace(/^Invalid input: /, '');
  if (issue.code === 'unrecognized_keys') {
    fieldPath = [...fieldPath, ...(issue.keys.slice(0, 1) as string[])];
    message = 'unknown field in a fuzz finding record';
  }
  const more = r.error.issues.length > 1 ? ` (+${r.error.issues.length - 1} more)` : '';
  throw new GauntletError('CONFIG_INVALID', `${path}: ${formatPath(fieldPath)}: ${message}${more}`);
}

/** The bytes of a record's step (the hex was validated by readFuzzRecord). */
export function stepBytes(step: FuzzRecordStep): Buffer {
  return Buffer.from(step.hex, 'hex');
}
