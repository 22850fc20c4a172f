// events.jsonl (gauntlet-events/1): a header line, then one run event per
// line, written synchronously as each event arrives, so a killed run keeps
// every event up to the kill and `merge` can replay shards later.

import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { GauntletError } from '../core/errors.js';
import { readTextFile } from '../core/read-file.js';
import { EVENT_LOG_FORMAT, VERDICTS, type RunEvent, type RunEventType } from '../model/index.js';
import { EventReporter } from './event-reporter.js';
import { requireFormat } from './format-version.js';

export class EventLogReporter extends EventReporter {
  readonly name = 'event-log';
  private fd: number | undefined;
  private opened = false;

  constructor(readonly path: string) {
    super();
  }

  protected onEvent(event: RunEvent): void {
    this.write(`${JSON.stringify(event)}\n`);
    if (event.type === 'run-end') this.close();
  }

  /** Closes the file; a later event reopens it for appending. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }

  private write(line: string): void {
    try {
      if (this.fd === undefined) {
        if (!this.opened) mkdirSync(dirname(this.path), { recursive: true });
        this.fd = openSync(this.path, this.opened ? 'a' : 'w');
        if (!this.opened) writeSync(this.fd, `${JSON.stringify({ format: EVENT_LOG_FORMAT })}\n`);
        this.opened = true;
      }
      writeSync(this.fd, line);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new GauntletError('REPORT_WRITE', `${this.path}: cannot write the event log (${code})`, { cause: e });
    }
  }
}

const EVENT_TYPES: ReadonlySet<RunEventType> = new Set<RunEventType>([
  'run-begin',
  'check-begin',
  'case',
  'note',
  'check-end',
  'run-end',
]);

/**
 * Reads an event log. Refuses a missing header or another format family
 * (CONFIG_INVALID) and a newer version (CONFIG_VERSION), naming file and
 * line. A last line cut short by a kill is dropped; a bad line anywhere else
 * is an error.
 */
export function readEventLog(path: string): RunEvent[] {
  const text = readTextFile(path, 'event log');
  const lines = text.split('\n');
  const complete = text.endsWith('\n');
  if (complete) lines.pop();

  const header = parseLine(lines[0] ?? '', path, 1, 'header');
  const format = isObject(header) ? header.format : undefined;
  if (format === undefined) {
    throw new GauntletError('CONFIG_INVALID', `${path}:1: not a Gauntlet event log: missing the header line {"format":"${EVENT_LOG_FORMAT}"}`);
  }
  requireFormat(format, EVENT_LOG_FORMAT, `${path}:1`, 'Gauntlet event log');
  // Only version 1 exists; older versions would be upgraded here, step by step.

  const events: RunEvent[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const lineNo = i + 1;
    const isLast = i === lines.length - 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (isLast && !complete) break; // cut short by a kill mid-write
      throw new GauntletError('CONFIG_PARSE', `${path}:${lineNo}: not valid JSON`);
    }
    events.push(asEvent(value, path, lineNo));
  }
  return events;
}

function parseLine(line: string, path: string, lineNo: number, what: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new GauntletError('CONFIG_INVALID', `${path}:${lineNo}: not a Gauntlet event log: the ${what} line is not JSON`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks the fields a reader relies on; the rest is trusted as written by a reporter. */
function asEvent(v: unknown, path: string, lineNo: number): RunEvent {
  const bad = (why: string): never => {
    throw new GauntletError('CONFIG_INVALID', `${path}:${lineNo}: ${why}`);
  };
  if (!isObject(v)) return bad('expected a JSON object');
  const type = v.type;
  if (typeof type !== 'string' || !EVENT_TYPES.has(type as RunEventType)) {
    return bad(`unknown event type ${JSON.stringify(type)}`);
  }
  const field = (ok: boolean, name: string): void => {
    if (!ok) bad(`${type}: missing or invalid field "${name}"`);
  };
  switch (type as RunEventType) {
    case 'run-begin':
      field(isObject(v.run) && typeof v.run.id === 'string', 'run');
      field(Array.isArray(v.plan), 'plan');
      break;
    case 'check-begin':
    case 'case':
      field(typeof v.instanceId === 'string', 'instanceId');
      break;
    case 'note':
      field(typeof v.text === 'string', 'text');
      break;
    case 'check-end': {
      const r = v.result;
      field(isObject(r) && isObject(r.instance) && typeof r.instance.id === 'string', 'result.instance.id');
      field(isObject(r) && (VERDICTS as readonly unknown[]).includes(r.verdict), 'result.verdict');
      field(isObject(r) && Array.isArray(r.findings), 'result.findings');
      break;
    }
    case 'run-end':
      field(typeof v.interrupted === 'boolean', 'interrupted');
      break;
  }
  return v as unknown as RunEvent;
}
