// File names inside a report directory. One place, so report.json's
// `findings[].file` and the file the findings writer creates never disagree.

export const EVENTS_FILE = 'events.jsonl';
export const REPORT_FILE = 'report.json';
export const JUNIT_FILE = 'junit.xml';
export const FINDINGS_DIR = 'findings';

/**
 * Path of a finding file relative to the report directory. The runner makes
 * `fileId` file-name safe already (and then this changes nothing); it only
 * guards against a separator, a character Windows refuses or a leading dot
 * slipping through, which could write outside the report directory.
 */
export function findingFilePath(fileId: string): string {
  // eslint-disable-next-line no-control-regex
  const safe = fileId.replace(/[/\\\x00-\x1f:*?"<>|]/g, '_').replace(/^\.+/, '_');
  return `${FINDINGS_DIR}/${safe || '_'}.json`;
}
