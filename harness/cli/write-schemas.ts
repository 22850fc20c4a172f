// `npm run schemas`: regenerates reports/schema/*.schema.json from the zod schemas.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PUBLISHED_SCHEMAS, renderSchema } from '../core/json-schemas.js';
import { packageRoot } from '../core/paths.js';

const dir = join(packageRoot(), 'reports', 'schema');
mkdirSync(dir, { recursive: true });
for (const name of Object.keys(PUBLISHED_SCHEMAS)) {
  writeFileSync(join(dir, name), renderSchema(name));
  process.stdout.write(`wrote reports/schema/${name}\n`);
}
