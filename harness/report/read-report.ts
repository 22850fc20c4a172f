// Reads report.json (gauntlet-report/1) for the tools that come after a run
// (merge, gates, the HTML report). Refuses a file that is not JSON, not a
// Gauntlet report, or written by a newer Gauntlet, and checks every field
// against the published schema (report/schemas.ts), naming file and field:
// `report.json: checks[3].verdict: expected one of pass, fail, ...`. Fields
// it does not know are kept: the format only ever adds fields.
// (Finding files have their reader in findings-writer.ts, event logs in event-log.ts.)

import type { z } from 'zod';
import { GauntletError } from '../core/errors.js';
import { readTextFile } from '../core/read-file.js';
import { REPORT_FORMAT, type Report } from '../model/index.js';
import { requireFormat } from './format-version.js';
import { reportSchema } from './schemas.js';

export function readReport(path: string): Report {
  const text = readTextFile(path, 'report');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new GauntletError('CONFIG_PARSE', `${path}: not a Gauntlet report: not valid JSON`);
  }
  if (!isObject(data)) throw new GauntletError('CONFIG_INVALID', `${path}: not a Gauntlet report: expected a JSON object`);
  requireFormat(data.format, REPORT_FORMAT, path, 'Gauntlet report');
  // Only version 1 exists; older versions would be upgraded here, step by step.

  const r = reportSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const more = r.error.issues.length > 1 ? ` (+${r.error.issues.length - 1} more)` : '';
    throw new GauntletError('CONFIG_INVALID', `${path}: ${fieldPath(issue.path)}: ${explain(issue, valueAt(data, issue.path))}${more}`);
  }
  return data as unknown as Report;
}

/** `checks[3].findings[0].severity` */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out === '' ? '' : '.'}${String(p)}`;
  return out || '(top level)';
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function explain(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_value': {
      const want = issue.values.length === 1 ? `"${String(issue.values[0])}"` : `one of ${issue.values.map(String).join(', ')}`;
      return value === undefined ? `missing (expected ${want})` : `expected ${want}; got ${JSON.stringify(value) ?? kindOf(value)}`;
    }
    case 'invalid_type':
      return value === undefined ? `missing (expected ${issue.expected})` : `expected ${issue.expected}, got ${kindOf(value)}`;
    default:
      return issue.message.replace(/^Invalid input: /, '');
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
