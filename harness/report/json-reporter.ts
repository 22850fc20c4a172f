// report.json: written at run end, and by flush() when a run is interrupted
// (the CLI's SIGINT handler), always atomically so a reader never sees half.

import type { Report, RunEvent } from '../model/index.js';
import { writeFileAtomic } from './atomic-write.js';
import { EventReporter } from './event-reporter.js';
import { ReportBuilder } from './report-builder.js';

export class JsonReporter extends EventReporter {
  readonly name = 'json';
  private readonly builder = new ReportBuilder();

  constructor(readonly path: string) {
    super();
  }

  protected onEvent(event: RunEvent): void {
    this.builder.apply(event);
    if (event.type === 'run-end') this.flush();
  }

  /** The report as the events so far make it. */
  report(): Report {
    return this.builder.report();
  }

  /** Writes the current state; does nothing before the run began. */
  flush(): void {
    if (!this.builder.hasRun()) return;
    writeFileAtomic(this.path, `${JSON.stringify(this.builder.report(), null, 2)}\n`, 'report.json');
  }
}
