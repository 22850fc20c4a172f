// The report files a run directory gets, in one place, so a live run and
// `gauntlet merge` (replaying shard logs) write the same set under the same
// names. The event log is not here: it records events rather than reporting
// them, and each caller opens it itself (merge writes a merged one).

import { join } from 'node:path';
import type { Report } from '../model/index.js';
import { BENCH_FILE, BenchWriter } from './bench-table.js';
import { FindingsWriter } from './findings-writer.js';
import { HTML_FILE, HtmlReporter } from './html-report.js';
import { MarkdownSummaryWriter, SUMMARY_FILE } from './markdown-summary.js';
import { JsonReporter } from './json-reporter.js';
import { JunitReporter } from './junit-reporter.js';
import { JUNIT_FILE, REPORT_FILE } from './paths.js';
import type { Reporter } from './reporter.js';

/**
 * The file reporters of run directory `dir`: report.json (finished by
 * `finish`, e.g. the CI gate's decision), junit.xml, bench.md (when some
 * check measured something), findings/<id>.json, report.html and summary.md
 * (both finished the same way).
 */
export function reportWriters(dir: string, finish?: (r: Report) => Report): Reporter[] {
  return [
    new JsonReporter(join(dir, REPORT_FILE), finish),
    new JunitReporter(join(dir, JUNIT_FILE)),
    new BenchWriter(join(dir, BENCH_FILE)),
    new FindingsWriter(dir),
    new HtmlReporter(join(dir, HTML_FILE), finish),
    new MarkdownSummaryWriter(join(dir, SUMMARY_FILE), finish),
  ];
}
