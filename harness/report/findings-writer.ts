// findings/<fileId>.json (gauntlet-finding/1): one self-contained file per
// finding, with the run and instance it came from, so a lab can file it and
// `gauntlet replay FINDING` can reproduce it without the rest of the report.

import { join } from 'node:path';
import { GauntletError } from '../core/errors.js';
import { readTextFile } from '../core/read-file.js';
import {
  FINDING_FORMAT,
  type CheckInstance,
  type CheckResult,
  type Finding,
  type PlannedInstance,
  type RunMeta,
} from '../model/index.js';
import { writeFileAtomic } from './atomic-write.js';
import { requireFormat } from './format-version.js';
import { findingFilePath } from './paths.js';
import type { Reporter } from './reporter.js';

export type FindingRunMeta = Pick<RunMeta, 'id' | 'seed' | 'target' | 'targetSource' | 'profile' | 'flaws' | 'harnessVersion'>;

export interface FindingFile {
  readonly format: typeof FINDING_FORMAT;
  readonly finding: Finding;
  readonly run: FindingRunMeta;
  readonly instance: CheckInstance;
  readonly replay: string;
}

export class FindingsWriter implements Reporter {
  readonly name = 'findings';
  private run: FindingRunMeta | undefined;
  private readonly paths: string[] = [];

  /** `dir` is the report directory; files go to `<dir>/findings/`. */
  constructor(readonly dir: string) {}

  onRunBegin(run: RunMeta, _plan: readonly PlannedInstance[]): void {
    const { id, seed, target, targetSource, profile, flaws, harnessVersion } = run;
    this.run = { id, seed, target, targetSource, profile, flaws, harnessVersion };
  }

  onCheckEnd(result: CheckResult): void {
    if (result.findings.length === 0) return;
    if (!this.run) {
      throw new GauntletError('REPORT_WRITE', `${join(this.dir, 'findings')}: a check ended before the run began; findings not written`);
    }
    const { id, checkId, interfaceId, seed } = result.instance;
    for (const finding of result.findings) {
      const file: FindingFile = {
        format: FINDING_FORMAT,
        finding,
        run: this.run,
        instance: { id, checkId, interfaceId, seed },
        replay: finding.replay,
      };
      const path = join(this.dir, findingFilePath(finding.fileId));
      writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, 'finding file');
      this.paths.push(path);
    }
  }

  /** Paths of the finding files written so far. */
  written(): readonly string[] {
    return [...this.paths];
  }
}

/** Reads and validates a finding file; refuses another format family or a newer version. */
export function readFindingFile(path: string): FindingFile {
  const text = readTextFile(path, 'finding file');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new GauntletError('CONFIG_PARSE', `${path}: not a finding file: not valid JSON`);
  }
  const top = isObject(data) ? data : {};
  requireFormat(top.format, FINDING_FORMAT, path, 'Gauntlet finding file');

  const need = (ok: boolean, field: string): void => {
    if (!ok) throw new GauntletError('CONFIG_INVALID', `${path}: ${field}: missing or invalid`);
  };
  const str = (o: Record<string, unknown>, k: string): boolean => typeof o[k] === 'string';
  const num = (o: Record<string, unknown>, k: string): boolean => typeof o[k] === 'number' && Number.isFinite(o[k]);

  need(isObject(top.finding), 'finding');
  const f = top.finding as Record<string, unknown>;
  for (const k of ['id', 'fileId', 'checkId', 'instanceId', 'interfaceId', 'severity', 'summary', 'replay']) need(str(f, k), `finding.${k}`);
  need(Array.isArray(f.requirements), 'finding.requirements');
  need(isObject(f.evidence) && Array.isArray(f.evidence.transcript), 'finding.evidence');

  need(isObject(top.run), 'run');
  const run = top.run as Record<string, unknown>;
  for (const k of ['id', 'target', 'targetSource', 'profile', 'harnessVersion']) need(str(run, k), `run.${k}`);
  need(num(run, 'seed'), 'run.seed');
  need(Array.isArray(run.flaws), 'run.flaws');

  need(isObject(top.instance), 'instance');
  const inst = top.instance as Record<string, unknown>;
  for (const k of ['id', 'checkId', 'interfaceId']) need(str(inst, k), `instance.${k}`);
  need(num(inst, 'seed'), 'instance.seed');

  need(str(top, 'replay'), 'replay');
  return top as unknown as FindingFile;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
