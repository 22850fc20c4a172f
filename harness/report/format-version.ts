// Format versions of persisted files (`<family>/<n>`). Readers accept their
// own family at or below the version they know and refuse newer ones with a
// message naming the file, so an old Gauntlet never misreads a new file.
// (core/yaml-file.ts has the YAML-file twin; report/ may not import it.)

import { GauntletError } from '../core/errors.js';

export interface FormatVersion {
  readonly family: string;
  readonly version: number;
}

export function parseFormat(format: string): FormatVersion | undefined {
  const m = /^([a-z][a-z0-9-]*)\/(\d+)$/.exec(format);
  return m ? { family: m[1]!, version: Number(m[2]) } : undefined;
}

/**
 * Returns the version of `format` or throws: CONFIG_INVALID when it is
 * missing or of another family, CONFIG_VERSION when it is newer than
 * `supported`. `where` is `path` or `path:line`.
 */
export function requireFormat(format: unknown, expected: string, where: string, what: string): number {
  const want = parseFormat(expected)!;
  if (typeof format !== 'string') {
    throw new GauntletError('CONFIG_INVALID', `${where}: not a ${what}: no format field (expected "${expected}")`);
  }
  const got = parseFormat(format);
  if (!got || got.family !== want.family) {
    throw new GauntletError('CONFIG_INVALID', `${where}: not a ${what}: format "${format}" (expected "${expected}")`);
  }
  if (got.version > want.version) {
    throw new GauntletError(
      'CONFIG_VERSION',
      `${where}: format ${format} is newer than this Gauntlet reads (${expected}); upgrade Gauntlet`,
    );
  }
  return got.version;
}
