// The default-credential dictionary: corpora/credentials/*.txt, with the
// label-derived templates ({serial}, {mac6}, ...) filled from the target's
// declared identity.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceIdentity } from '../../model/index.js';
import { packageRoot } from '../../core/paths.js';

export interface DictionaryEntry {
  readonly user: string;
  readonly pass: string;
  /** The line as written, e.g. `admin:{mac6}`, for evidence. */
  readonly source: string;
}

export const DEFAULT_DICTIONARY = 'corpora/credentials/default-credentials.txt';

export function templateValues(id: DeviceIdentity): Record<string, string | undefined> {
  const hex = id.mac?.replace(/[^0-9a-f]/gi, '');
  return {
    serial: id.serial,
    model: id.model,
    mac: hex?.toLowerCase(),
    mac6: hex?.slice(-6).toLowerCase(),
    MAC6: hex?.slice(-6).toUpperCase(),
  };
}

export function parseDictionary(text: string, identity: DeviceIdentity): DictionaryEntry[] {
  const values = templateValues(identity);
  const seen = new Set<string>();
  const out: DictionaryEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    // Trailing blanks are an editor's, not a password's: a password cannot end in white space here.
    const line = raw.trimEnd();
    if (line === '' || line.trimStart().startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    let missing = false;
    const fill = (s: string) =>
      s.replace(/\{(serial|model|mac|mac6|MAC6)\}/g, (_, k: string) => {
        const v = values[k];
        if (v === undefined) missing = true;
        return v ?? '';
      });
    const user = fill(line.slice(0, colon));
    const pass = fill(line.slice(colon + 1));
    if (missing) continue;
    const key = `${user}\u0000${pass}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ user, pass, source: line });
  }
  return out;
}

export function loadDictionary(identity: DeviceIdentity, file = DEFAULT_DICTIONARY): DictionaryEntry[] {
  return parseDictionary(readFileSync(join(packageRoot(), file), 'utf8'), identity);
}
