// Keeps every fuzz finding of a run in the findings corpus
// (`<dir>/<target>/<id>.json`, gauntlet-fuzz-finding/1, fuzz/store.ts): the
// exact bytes, so the finding stays a regression input after the run's
// report directory is gone, and `gauntlet replay RECORD` reproduces it.
// Findings without bytes (evidence.fuzz) are not fuzz findings and are left
// to the findings writer. The run's meta comes with run-begin; the
// interfaces (protocol, URL) are not in the events, so the constructor takes
// them from the target.

import { GauntletError } from '../core/errors.js';
import type { CheckResult, Interface, PlannedInstance, RunMeta } from '../model/index.js';
import { fuzzRecordOf, interfaceUrl, writeFuzzRecord } from '../fuzz/store.js';
import type { Reporter } from './reporter.js';

export class FuzzCorpusWriter implements Reporter {
  readonly name = 'fuzz-corpus';
  private run: RunMeta | undefined;
  private readonly paths: string[] = [];

  /** `dir` is the corpus root (corpora/findings); `interfaces` the target's, to name each record's interface. */
  constructor(
    readonly dir: string,
    private readonly interfaces: readonly Pick<Interface, 'id' | 'protocol' | 'host' | 'port'>[],
  ) {}

  onRunBegin(run: RunMeta, _plan: readonly PlannedInstance[]): void {
    this.run = run;
  }

  onCheckEnd(result: CheckResult): void {
    const fuzzy = result.findings.filter((f) => f.evidence.fuzz !== undefined);
    if (fuzzy.length === 0) return;
    if (!this.run) {
      throw new GauntletError('REPORT_WRITE', `${this.dir}: a check ended before the run began; fuzz findings of ${result.instance.id} not kept in the corpus`);
    }
    for (const finding of fuzzy) {
      const iface = this.interfaces.find((i) => i.id === finding.interfaceId);
      // Without the interface the bytes are still worth keeping: the protocol comes from the evidence.
      const named = iface ? { id: iface.id, protocol: iface.protocol, url: interfaceUrl(iface) } : { id: finding.interfaceId, protocol: finding.evidence.fuzz!.protocol, url: '' };
      const rec = fuzzRecordOf(finding, this.run, named)!;
      this.paths.push(writeFuzzRecord(this.dir, rec));
    }
  }

  /** Paths of the records written so far. */
  written(): readonly string[] {
    return [...this.paths];
  }
}
