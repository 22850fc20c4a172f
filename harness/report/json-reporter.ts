// report.json: written at run end, and by flush() when a run is interrupted
// (the CLI's SIGINT handler), always atomically so a reader never sees half.

import type { Report } from '../model/index.js';
import { ReportFileWriter } from './report-file-writer.js';

export class JsonReporter extends ReportFileWriter {
  readonly name = 'json';

  constructor(path: string) {
    super(path, 'report.json');
  }

  /** The report as the events so far make it. */
  report(): Report {
    return this.builder.report();
  }

  protected render(): string {
    return `${JSON.stringify(this.builder.report(), null, 2)}\n`;
  }
}
