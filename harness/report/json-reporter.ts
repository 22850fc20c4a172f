// report.json: written at run end, and by flush() when a run is interrupted
// (the CLI's SIGINT handler), always atomically so a reader never sees half.

import type { Report } from '../model/index.js';
import { ReportFileWriter } from './report-file-writer.js';

export class JsonReporter extends ReportFileWriter {
  readonly name = 'json';

  constructor(path: string, finish?: (r: Report) => Report) {
    super(path, 'report.json', finish);
  }

  protected render(): string {
    return `${JSON.stringify(this.report(), null, 2)}\n`;
  }
}
