// The default-credential dictionaries: corpora/credentials/*.txt (user and
// password pairs; DTLS PSK identity and key pairs), with the label-derived
// templates ({serial}, {mac6}, ...) filled from the target's declared identity.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceIdentity } from '../../model/index.js';
import { packageRoot } from '../../core/paths.js';
import { GauntletError } from '../../core/errors.js';

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

/** DTLS pre-shared keys for coaps: corpora/credentials/dtls-psk.txt, same line format, keys as text or `hex:`. */
export const DTLS_PSK_DICTIONARY = 'corpora/credentials/dtls-psk.txt';

export interface PskDictionaryEntry {
  readonly identity: string;
  readonly key: Buffer;
  /** The key as written after the templates were filled: `secretPSK` or `hex:0a1b…`, for reports. */
  readonly keyText: string;
  /** The line as written, e.g. `{serial}:hex:{mac}`, for evidence. */
  readonly source: string;
}

/** A key as the corpus writes it: text (its UTF-8 bytes) or `hex:` and hex digits; undefined if unusable. */
export function pskKeyBytes(written: string): Buffer | undefined {
  if (!written.startsWith('hex:')) return written === '' ? undefined : Buffer.from(written, 'utf8');
  const hex = written.slice(4);
  return /^([0-9a-f]{2})+$/i.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}

/**
 * Parses the PSK corpus with the credential parser (templates, comments,
 * duplicates). A key that is empty or not hex is the corpus's error, not the
 * device's: it throws CONFIG_INVALID naming the line, so a pair is never
 * silently left out.
 */
export function parsePskDictionary(text: string, identity: DeviceIdentity, file = DTLS_PSK_DICTIONARY): PskDictionaryEntry[] {
  return parseDictionary(text, identity).map((e) => {
    const key = pskKeyBytes(e.pass);
    if (!key) throw new GauntletError('CONFIG_INVALID', `${file}: line "${e.source}": the key must be text or hex: with an even number of hex digits, and not empty`);
    return { identity: e.user, key, keyText: e.pass, source: e.source };
  });
}

export function loadPskDictionary(identity: DeviceIdentity, file = DTLS_PSK_DICTIONARY): PskDictionaryEntry[] {
  return parsePskDictionary(readFileSync(join(packageRoot(), file), 'utf8'), identity, file);
}
