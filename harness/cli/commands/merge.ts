// `gauntlet merge DIR... --out DIR`: the run directories of the shards of one
// run (`gauntlet run --shard i/n`) become one run directory with the reports
// an unsharded run writes. Exit 1 when the gate fails (as `run`: any-fail by
// default, or new-findings with a baseline), 3 when a check ended in a
// harness error, else 0.

import { relative } from 'node:path';
import { Command, Option } from 'commander';
import { loadBaseline, today } from '../../core/baseline-file.js';
import { EXIT, GauntletError } from '../../core/errors.js';
import { BENCH_FILE, EVENTS_FILE, JUNIT_FILE, REPORT_FILE, verdictTotals } from '../../report/index.js';
import { HTML_FILE } from '../../report/html-report.js';
import { SUMMARY_FILE } from '../../report/markdown-summary.js';
import { mergeRunDirs } from '../../report/merge.js';
import { GATES, withGate, type Gate } from '../../model/index.js';

interface MergeFlags {
  out: string;
  allowPartial?: boolean;
  gate: Gate;
  baseline?: string;
}

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('merge the run directories of the shards of one run (gauntlet run --shard i/n) into one report')
    .argument('<dirs...>', 'the shards\' run directories (each with its events.jsonl), in any order')
    .requiredOption('-o, --out <dir>', 'the merged run directory to write (new or empty)')
    .option('--allow-partial', 'merge even when some shards are missing (the report says which, and counts as interrupted)')
    .addOption(new Option('--gate <policy>', 'exit 1 when: any-fail = a merged check failed; new-findings = a finding not accepted in --baseline; none = never').choices([...GATES]).default('any-fail'))
    .option('--baseline <file>', 'accepted findings for --gate new-findings (gauntlet-baseline/1)')
    .addHelpText(
      'after',
      `
Each shard runs a deterministic slice of the same plan: give every shard the same
seed (and profile, target, flaws), and each its own --shard i/n. merge checks the
directories are the n slices of one run, replays their event logs into one
report.json, junit.xml, events.jsonl (bench.md) and copies their findings/.

GitHub Actions matrix:
  jobs:
    test:
      strategy: { matrix: { shard: [1, 2, 3, 4] } }
      steps:
        - run: npx gauntlet run --target dut.yaml --seed 42 --shard \${{ matrix.shard }}/4 --out shard-\${{ matrix.shard }}
        - uses: actions/upload-artifact@v4
          with: { name: shard-\${{ matrix.shard }}, path: shard-\${{ matrix.shard }} }
    report:
      needs: test
      steps:
        - uses: actions/download-artifact@v4     # every shard-N directory
        - run: npx gauntlet merge shard-* --out merged

Kubernetes Indexed Job (completionMode: Indexed, completions: 4; the index is 0-based):
  command: ["sh", "-c", "gauntlet run --target /cfg/dut.yaml --seed 42 --shard $((JOB_COMPLETION_INDEX + 1))/4 --out /results/shard-$JOB_COMPLETION_INDEX"]
  then, once the Job completes: gauntlet merge /results/shard-* --out /results/merged

Exit codes: 0 the gate passed, 1 it failed (--gate as for run), 2 the directories are not
the shards of one run (or a shard is missing without --allow-partial), 3 a check
ended in a harness error.`,
    )
    .action(async (dirs: string[], flags: MergeFlags) => {
      if (flags.baseline && flags.gate !== 'new-findings') throw new GauntletError('USAGE', `--baseline is read by --gate new-findings only (this merge's gate: ${flags.gate})`);
      const baseline = flags.baseline ? loadBaseline(flags.baseline) : undefined;
      const r = await mergeRunDirs(dirs, flags.out, { allowPartial: Boolean(flags.allowPartial), finish: withGate(flags.gate, baseline, today()) });
      const { runs, total, missing } = r.shards;
      const report = r.report;
      const lines = [
        `merged ${runs.length} of ${total} shard(s) of run seed ${report.run.seed} (target ${report.run.target}, profile ${report.run.profile}) into run ${report.run.id}`,
      ];
      if (missing.length > 0) lines.push(`missing: shard(s) ${missing.map((i) => `${i}/${total}`).join(', ')}: their checks are not in the report`);
      for (const s of runs) {
        if (!s.end) lines.push(`warning: ${s.dir}: the shard's log ends before its run ended (killed); its unfinished checks are inconclusive`);
        else if (s.end.interrupted) lines.push(`warning: ${s.dir}: the shard was interrupted; checks it did not finish are inconclusive`);
      }
      const findings = report.checks.flatMap((c) => c.findings);
      for (const f of findings) lines.push(`  [${f.severity}] ${f.summary}\n    file: ${f.file}`);
      lines.push(`${verdictTotals(report)}${report.run.interrupted ? ' (incomplete)' : ''}`);
      const rel = relative(process.cwd(), r.dir) || '.';
      const files = [REPORT_FILE, HTML_FILE, SUMMARY_FILE, JUNIT_FILE, EVENTS_FILE, ...(report.checks.some((c) => c.bench?.length) ? [BENCH_FILE] : []), ...(r.findings.length > 0 || findings.length > 0 ? ['findings/'] : [])];
      lines.push(`reports: ${rel}/ (${files.join(', ')})`);
      const gate = report.gate!;
      lines.push(`${gate.passed ? 'gate passed' : 'GATE FAILED'}: ${gate.reason}`);
      process.stdout.write(`${lines.join('\n')}\n`);
      process.exitCode = !gate.passed ? EXIT.gateFailed : report.summary.error > 0 ? EXIT.harness : EXIT.ok;
    });
}
