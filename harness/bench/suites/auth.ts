// Authentication hot paths: parsing the credential dictionary, and drawing
// near-miss passwords as auth.credential-robustness does.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { nearMiss } from '../../checks/authentication/credential-robustness.js';
import { DEFAULT_DICTIONARY, parseDictionary } from '../../checks/authentication/dictionary.js';
import { packageRoot } from '../../core/paths.js';
import type { DeviceIdentity } from '../../model/index.js';
import type { Suite } from '../hot-paths.js';

/** Every template has a value, so every line of the file yields an entry. */
const IDENTITY: DeviceIdentity = { vendor: 'Example Corp', model: 'X200', serial: 'X200-004711', mac: '02:00:5e:10:00:42' };

export function dictionary(): Suite {
  const text = readFileSync(join(packageRoot(), DEFAULT_DICTIONARY), 'utf8');
  const entries = parseDictionary(text, IDENTITY);
  if (entries.length === 0) throw new Error(`bench dictionary: no entries in ${DEFAULT_DICTIONARY}`);
  const lines = text.split(/\r?\n/).length - (text.endsWith('\n') ? 1 : 0);
  return {
    id: 'dictionary',
    title: `Dictionary, ${DEFAULT_DICTIONARY} (${lines} lines, ${entries.length} entries; file read once, outside the timing)`,
    unit: 'dictionary',
    tasks: [
      { name: 'parseDictionary', batch: 1, fn: () => parseDictionary(text, IDENTITY).length },
    ],
  };
}

export function nearMissCredentials(): Suite {
  const arb = nearMiss('hunter2-but-longer');
  const batch = 100;
  let seed = 42;
  return {
    id: 'near-miss-arbitrary',
    title: 'Near-miss password arbitrary, fast-check fc.sample (as auth.credential-robustness draws them)',
    unit: 'value',
    tasks: [
      {
        name: `fc.sample(nearMiss, ${batch})`,
        batch,
        fn: () => fc.sample(arb, { numRuns: batch, seed: seed++ }).reduce((n, v) => n + v.pass.length, 0),
      },
    ],
  };
}
