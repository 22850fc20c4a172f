// The JSON Schemas Gauntlet publishes for editors and other tools
// (reports/schema/), generated from the zod schemas that validate the files,
// so the two cannot drift (a test compares them with the committed copies).
// The files a run writes (report, event log, finding) have their schemas in
// report/schemas.ts, a leaf of zod and model types only.

import { z } from 'zod';
import { PERSISTED_FILE_SCHEMAS } from '../report/schemas.js';
import { profileFileSchema } from './profile-file.js';
import { targetFileSchema } from './target-file.js';

export const PUBLISHED_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  'gauntlet-target-1.schema.json': targetFileSchema,
  'gauntlet-profile-1.schema.json': profileFileSchema,
  ...PERSISTED_FILE_SCHEMAS,
};

export function renderSchema(name: string): string {
  const schema = PUBLISHED_SCHEMAS[name];
  if (!schema) throw new Error(`no published schema ${name}`);
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return `${JSON.stringify({ $id: `https://gauntlet.invalid/schema/${name}`, title: name.replace('.schema.json', ''), ...json }, null, 2)}\n`;
}
