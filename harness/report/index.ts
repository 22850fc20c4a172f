// harness/report: reporters and the files they write. Imports harness/model,
// a few core helpers (errors, file reading) and fuzz/store.ts (the corpus
// record format), never the runner: `merge` replays event logs into these
// same reporters without running anything.
export type { Reporter } from './reporter.js';
export * from './multiplexer.js';
export * from './event-reporter.js';
export * from './report-builder.js';
export * from './event-log.js';
export * from './json-reporter.js';
export * from './findings-writer.js';
export * from './fuzz-corpus-writer.js';
export * from './junit-reporter.js';
export * from './console-reporter.js';
export * from './report-dir.js';
export * from './paths.js';
export * from './format-version.js';
export { writeFileAtomic } from './atomic-write.js';
export { xmlAttr, xmlText } from './xml.js';
export * from './bench-table.js';
export * from './report-file-writer.js';
