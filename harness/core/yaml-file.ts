// Reads a YAML (or JSON) config file and validates it against a zod schema.
// Every error names the file, the line, the field and what was expected, in
// one line, so a lab engineer fixes it without reading a stack trace.

import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { GauntletError } from './errors.js';
import { readTextFile } from './read-file.js';

export interface LoadedYaml {
  readonly path: string;
  readonly data: unknown;
  /** Line (1-based) of the node at a field path, or undefined. */
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

export function readYamlFile(path: string, what: string): LoadedYaml {
  const text = readTextFile(path, what);
  return parseYamlText(text, path);
}

export function parseYamlText(text: string, path: string): LoadedYaml {
  const lines = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0] ?? lines.linePos(first.pos[0]);
    const where = pos ? `${path}:${pos.line}:${pos.col}` : path;
    throw new GauntletError('CONFIG_PARSE', `${where}: not valid YAML: ${first.message.split('\n')[0]}`);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // Alias bombs and aliases to undefined anchors surface here.
    throw new GauntletError('CONFIG_PARSE', `${path}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return {
    path,
    data,
    lineOf(fieldPath) {
      // Walk up until a node exists: a missing field is reported at its parent.
      for (let n = fieldPath.length; n >= 0; n--) {
        const node = doc.getIn(fieldPath.slice(0, n) as unknown[], true);
        if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
      }
      return undefined;
    },
  };
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out || '(top level)';
}

/** Validates `loaded.data` against `schema`, or throws CONFIG_INVALID naming the first bad field. */
export function validate<S extends z.ZodType>(loaded: LoadedYaml, schema: S, what: string): z.output<S> {
  const r = schema.safeParse(loaded.data);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const fieldPath = issue.path as PropertyKey[];
  const line = loaded.lineOf(issue.code === 'unrecognized_keys' ? [...fieldPath, ...(issue.keys.slice(0, 1) as string[])] : fieldPath);
  const where = line ? `${loaded.path}:${line}` : loaded.path;
  let field = formatPath(fieldPath);
  let message = issue.message.replace(/^Invalid input: /, '');
  if (issue.code === 'unrecognized_keys') {
    field = formatPath([...fieldPath, ...(issue.keys.slice(0, 1) as string[])]);
    message = `unknown field in ${what} (check the spelling; see reports/schema/)`;
  }
  const more = r.error.issues.length > 1 ? ` (+${r.error.issues.length - 1} more)` : '';
  throw new GauntletError('CONFIG_INVALID', `${where}: ${field}: ${message}${more}`);
}

/** Refuses files written for a newer format version, and names the expected one. */
export function checkFormat(loaded: LoadedYaml, family: string, supported: number): void {
  const data = loaded.data as { format?: unknown } | null;
  const format = data && typeof data === 'object' ? data.format : undefined;
  if (typeof format !== 'string') {
    throw new GauntletError('CONFIG_INVALID', `${loaded.path}:${loaded.lineOf(['format']) ?? 1}: format: expected "${family}/${supported}"`);
  }
  const m = /^([a-z-]+)\/(\d+)$/.exec(format);
  if (!m || m[1] !== family) {
    throw new GauntletError('CONFIG_INVALID', `${loaded.path}:${loaded.lineOf(['format']) ?? 1}: format: expected "${family}/${supported}", got "${format}"`);
  }
  if (Number(m[2]) > supported) {
    throw new GauntletError('CONFIG_VERSION', `${loaded.path}: format ${format} is newer than this Gauntlet reads (${family}/${supported}); upgrade Gauntlet`);
  }
}
