// The JSON Schemas Gauntlet publishes for editors and other tools
// (reports/schema/), generated from the zod schemas that validate the files,
// so the two cannot drift (a test compares them with the committed copies).

import { z } from 'zod';
import { profileFileSchema } from './profile-file.js';
import { targetFileSchema } from './target-file.js';

export const PUBLISHED_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  'gauntlet-target-1.schema.json': targetFileSchema,
  'gauntlet-profile-1.schema.json': profileFileSchema,
};

export function renderSchema(name: string): string {
  const schema = PUBLISHED_SCHEMAS[name];
  if (!schema) throw new Error(`no published schema ${name}`);
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return `${JSON.stringify({ $id: `https://gauntlet.invalid/schema/${name}`, title: name.replace('.schema.json', ''), ...json }, null, 2)}\n`;
}
