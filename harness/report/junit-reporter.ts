// junit.xml for CI: one testsuite per run, one testcase per check instance.
// fail -> <failure> with findings and replay commands; error -> <error> with
// the harness error code; skipped and inconclusive -> <skipped>, because a
// CI gate decides on those by policy, not by JUnit's red/green.

import type { Report, ReportCheck } from '../model/index.js';
import { ReportFileWriter } from './report-file-writer.js';
import { xmlAttr, xmlText } from './xml.js';

export class JunitReporter extends ReportFileWriter {
  readonly name = 'junit';

  constructor(path: string) {
    super(path, 'junit.xml');
  }

  protected render(): string {
    const report = this.builder.report();
    const seeds = new Map<string, number>();
    for (const c of report.checks) {
      const seed = this.builder.plannedInstance(c.id)?.seed;
      if (seed !== undefined) seeds.set(c.id, seed);
    }
    return renderJunit(report, seeds);
  }
}

/** Renders a report as JUnit XML. `seeds` gives each instance's seed (report.json does not carry it). */
export function renderJunit(report: Report, seeds: ReadonlyMap<string, number> = new Map()): string {
  const { run, checks, summary } = report;
  const tests = checks.length;
  const skipped = summary.skipped + summary.inconclusive;
  const totalMs = run.durationMs ?? checks.reduce((t, c) => t + c.durationMs, 0);
  const counts = `tests="${tests}" failures="${summary.fail}" errors="${summary.error}" skipped="${skipped}" time="${seconds(totalMs)}"`;

  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(`<testsuites name="gauntlet" ${counts}>`);
  out.push(
    `  <testsuite name="${xmlAttr(`gauntlet: ${run.target} / ${run.profile}`)}" ${counts} timestamp="${xmlAttr(run.startedAt)}">`,
  );
  out.push('    <properties>');
  const runProps: [string, string][] = [
    ['run.id', run.id],
    ['seed', String(run.seed)],
    ['target', run.target],
    ['target.source', run.targetSource],
    ['profile', run.profile],
    ['harness.version', run.harnessVersion],
    ...run.flaws.map((f): [string, string] => ['flaw', f]),
    ...(run.shard ? [['shard', `${run.shard.index}/${run.shard.total}`] as [string, string]] : []),
    ['interrupted', String(run.interrupted)],
  ];
  for (const [name, value] of runProps) out.push(`      ${property(name, value)}`);
  out.push('    </properties>');
  for (const c of checks) out.push(...testcase(c, seeds.get(c.id)));
  out.push('  </testsuite>');
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

function testcase(c: ReportCheck, seed: number | undefined): string[] {
  const out = [`    <testcase classname="${xmlAttr(c.check)}" name="${xmlAttr(c.id)}" time="${seconds(c.durationMs)}">`];
  out.push('      <properties>');
  for (const r of c.requirements) out.push(`        ${property('requirement', r)}`);
  if (seed !== undefined) out.push(`        ${property('seed', String(seed))}`);
  out.push('      </properties>');
  switch (c.verdict) {
    case 'pass':
      break;
    case 'fail': {
      const body = [c.reason];
      if (c.evidence) body.push(`observed: ${c.evidence.observed}`);
      for (const f of c.findings) body.push(`[${f.severity}] ${f.summary}`, `  replay: ${f.replay}`, `  file: ${f.file}`);
      out.push(`      <failure message="${xmlAttr(c.reason)}" type="fail">${xmlText(body.join('\n'))}</failure>`);
      break;
    }
    case 'error':
      out.push(
        `      <error message="${xmlAttr(c.reason)}" type="${xmlAttr(c.errorCode ?? 'error')}">${xmlText(c.reason)}</error>`,
      );
      break;
    case 'skipped':
      out.push(`      <skipped message="${xmlAttr(c.reason)}"/>`);
      break;
    case 'inconclusive':
      out.push(`      <skipped message="${xmlAttr(`inconclusive: ${c.reason}`)}"/>`);
      break;
  }
  out.push('    </testcase>');
  return out;
}

function property(name: string, value: string): string {
  return `<property name="${xmlAttr(name)}" value="${xmlAttr(value)}"/>`;
}

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}
