// The base of the reporters that write one file from the whole report
// (report.json, junit.xml, bench.md): the events build the report, and the
// file is written atomically at run end, and by flush() when a run is
// interrupted (the CLI's SIGINT handler), so a reader never sees half.

import type { Report, RunEvent } from '../model/index.js';
import { writeFileAtomic } from './atomic-write.js';
import { EventReporter } from './event-reporter.js';
import { ReportBuilder } from './report-builder.js';

export abstract class ReportFileWriter extends EventReporter {
  protected readonly builder = new ReportBuilder();

  constructor(
    readonly path: string,
    /** How the file is named in a write error. */
    private readonly what: string,
    /** Adds what the run decides after the events (the CI gate's decision). */
    private readonly finish: (r: Report) => Report = (r) => r,
  ) {
    super();
  }

  /** The report as the events so far make it, finished by the run's hook. */
  report(): Report {
    return this.finish(this.builder.report());
  }

  /** The file's text for the report so far; undefined writes nothing. */
  protected abstract render(): string | undefined;

  protected onEvent(event: RunEvent): void {
    this.builder.apply(event);
    if (event.type === 'run-end') this.flush();
  }

  /** Writes the current state; does nothing before the run began. */
  flush(): void {
    if (!this.builder.hasRun()) return;
    const text = this.render();
    if (text !== undefined) writeFileAtomic(this.path, text, this.what);
  }
}
