// Drift test: the JSON Schemas committed in reports/schema/ are exactly what
// the zod schemas generate today.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../harness/core/paths.js';
import { PUBLISHED_SCHEMAS, renderSchema } from '../../harness/core/json-schemas.js';

const dir = join(packageRoot(), 'reports', 'schema');

describe('published JSON Schemas', () => {
  it.each(Object.keys(PUBLISHED_SCHEMAS))('reports/schema/%s matches the zod schema', (name) => {
    const committed = readFileSync(join(dir, name), 'utf8');
    expect(committed, `reports/schema/${name} is stale: run \`npm run schemas\` and commit the result`).toBe(renderSchema(name));
  });

  it('publishes every schema file that is committed, and no other', () => {
    const committed = readdirSync(dir).filter((f) => f.endsWith('.schema.json')).sort();
    expect(committed, 'reports/schema/ and PUBLISHED_SCHEMAS disagree: run `npm run schemas` (and delete stale files)').toEqual(Object.keys(PUBLISHED_SCHEMAS).sort());
  });

  it('renders valid JSON with an $id, a title and the file format constant', () => {
    const target = JSON.parse(renderSchema('gauntlet-target-1.schema.json')) as Record<string, unknown>;
    expect(target.$id).toBe('https://gauntlet.invalid/schema/gauntlet-target-1.schema.json');
    expect(target.title).toBe('gauntlet-target-1');
    expect(JSON.stringify(target)).toContain('gauntlet-target/1');
    expect(renderSchema('gauntlet-profile-1.schema.json').endsWith('}\n')).toBe(true);
  });

  it('refuses an unknown name', () => {
    expect(() => renderSchema('nope.schema.json')).toThrow(/no published schema/);
  });
});
