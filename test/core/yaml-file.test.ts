// yaml-file: reading, line lookup, validation messages and format versions.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GauntletError } from '../../harness/core/errors.js';
import { checkFormat, formatPath, parseYamlText, readYamlFile, validate } from '../../harness/core/yaml-file.js';

function failure(fn: () => unknown): GauntletError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GauntletError) return e;
    throw new Error(`expected a GauntletError, got ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
  }
  throw new Error('expected a throw');
}

const TEXT = ['format: demo/1', 'name: box', 'items:', '  - id: a', '    size: 1', '  - id: b', '    size: 2', 'flow: { x: 1 }', ''].join('\n');

describe('parseYamlText', () => {
  it('returns the data and the line of any node', () => {
    const y = parseYamlText(TEXT, 'demo.yaml');
    expect(y.path).toBe('demo.yaml');
    expect(y.data).toEqual({ format: 'demo/1', name: 'box', items: [{ id: 'a', size: 1 }, { id: 'b', size: 2 }], flow: { x: 1 } });
    expect(y.lineOf(['name'])).toBe(2);
    expect(y.lineOf(['items', 1, 'size'])).toBe(7);
    expect(y.lineOf(['items', 1])).toBe(6);
    expect(y.lineOf(['flow', 'x'])).toBe(8);
    expect(y.lineOf([])).toBe(1);
  });

  it('reports a missing field at its nearest existing parent', () => {
    const y = parseYamlText(TEXT, 'demo.yaml');
    expect(y.lineOf(['items', 1, 'colour'])).toBe(6);
    // a block sequence's node begins at its first '-', the line after its key
    expect(y.lineOf(['items', 9, 'id'])).toBe(4);
    expect(y.lineOf(['nothing', 'here'])).toBe(1);
  });

  it('an empty document is null data with no lines', () => {
    const y = parseYamlText('', 'empty.yaml');
    expect(y.data).toBeNull();
    expect(y.lineOf(['format'])).toBeUndefined();
  });

  it('refuses syntax errors and duplicate keys with CONFIG_PARSE in one line', () => {
    for (const bad of ['a: [1, 2\n', 'a: 1\nb: 2\na: 3\n', 'a:\n  - b\n c: d\n']) {
      const e = failure(() => parseYamlText(bad, 'bad.yaml'));
      expect(e.code).toBe('CONFIG_PARSE');
      expect(e.message.startsWith('bad.yaml')).toBe(true);
      expect(e.message).toContain('not valid YAML');
      expect(e.message).not.toContain('\n');
    }
  });

  // `prettyErrors: false` leaves YAMLError.linePos unset: the line must come from the LineCounter.
  it('names the line and column of a syntax error', () => {
    const e = failure(() => parseYamlText('a: 1\nb: 2\na: 3\n', 'bad.yaml'));
    expect(e.message).toBe('bad.yaml:3:1: not valid YAML: Map keys must be unique');
  });

  // BUG harness/core/yaml-file.ts:31 — doc.toJS() throws a plain ReferenceError
  // for an alias bomb (maxAliasCount) or an alias to an undefined anchor; it is
  // not caught, so the CLI reports a crash instead of CONFIG_PARSE.
  // Fix: wrap toJS in try/catch and throw GauntletError('CONFIG_PARSE', `${path}: ...`).
  it('refuses an alias bomb with CONFIG_PARSE', () => {
    const row = (name: string, of: string) => `${name}: &${name} [${Array(10).fill(of).join(', ')}]`;
    const bomb = [row('a', 'x'), row('b', '*a'), row('c', '*b'), row('d', '*c'), 'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]'].join('\n');
    expect(failure(() => parseYamlText(bomb, 'bomb.yaml')).code).toBe('CONFIG_PARSE');
  });

  it('refuses an alias to an undefined anchor with CONFIG_PARSE', () => {
    expect(failure(() => parseYamlText('a: *nope\n', 'alias.yaml')).code).toBe('CONFIG_PARSE');
  });

  it('allows a few aliases', () => {
    expect(parseYamlText('a: &x [1, 2]\nb: *x\n', 'ok.yaml').data).toEqual({ a: [1, 2], b: [1, 2] });
  });
});

describe('readYamlFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gauntlet-yaml-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a file', () => {
    const path = join(dir, 'x.yaml');
    writeFileSync(path, TEXT);
    expect(readYamlFile(path, 'thing').data).toMatchObject({ name: 'box' });
  });

  it('CONFIG_NOT_FOUND for a missing file or a directory, naming what it is', () => {
    const missing = join(dir, 'nope.yaml');
    expect(failure(() => readYamlFile(missing, 'profile'))).toMatchObject({ code: 'CONFIG_NOT_FOUND', message: `${missing}: profile: no such file` });
    const sub = join(dir, 'sub.yaml');
    mkdirSync(sub);
    expect(failure(() => readYamlFile(sub, 'profile'))).toMatchObject({ code: 'CONFIG_NOT_FOUND', message: `${sub}: profile: is a directory` });
  });
});

describe('formatPath', () => {
  it.each([
    [['a', 0, 'b'], 'a[0].b'],
    [[], '(top level)'],
    [[2], '[2]'],
    [['x', 'y', 1, 3], 'x.y[1][3]'],
  ] as const)('%j -> %s', (path, want) => {
    expect(formatPath(path)).toBe(want);
  });
});

describe('validate', () => {
  const schema = z.strictObject({
    format: z.string(),
    name: z.string().min(1),
    items: z.array(z.strictObject({ id: z.string(), size: z.number().int() })),
    flow: z.strictObject({ x: z.number() }),
    extra: z.string().default('d'),
  });

  it('returns the parsed output with defaults', () => {
    expect(validate(parseYamlText(TEXT, 'v.yaml'), schema, 'a demo')).toMatchObject({ name: 'box', extra: 'd' });
  });

  it('names file:line, the field and what was expected', () => {
    const y = parseYamlText(TEXT.replace('size: 2', 'size: two'), 'v.yaml');
    const e = failure(() => validate(y, schema, 'a demo'));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe('v.yaml:7: items[1].size: expected number, received string');
  });

  it('names an unknown field and the kind of file', () => {
    const y = parseYamlText(TEXT.replace('flow: { x: 1 }', 'flow: { x: 1, y: 2 }'), 'v.yaml');
    const e = failure(() => validate(y, schema, 'a demo'));
    expect(e.message).toMatch(/^v\.yaml:8: flow\.y: unknown field in a demo \(check the spelling; see reports\/schema\/\)$/);
  });

  it('says how many more issues there are', () => {
    const y = parseYamlText('format: 1\nname: ""\nitems: []\nflow: {x: 1}\n', 'v.yaml');
    const e = failure(() => validate(y, schema, 'a demo'));
    expect(e.message).toMatch(/^v\.yaml:1: format: expected string, received number \(\+1 more\)$/);
  });

  it('without lines (an in-memory object) names just the source', () => {
    const e = failure(() => validate({ path: 'builtin:x', data: { format: 'f' }, lineOf: () => undefined }, schema, 'a demo'));
    expect(e.message.startsWith('builtin:x: name: ')).toBe(true);
  });
});

describe('checkFormat', () => {
  const at = (text: string) => parseYamlText(text, 'f.yaml');

  it('accepts the supported version and older ones of the same family', () => {
    expect(() => checkFormat(at('format: demo/3\n'), 'demo', 3)).not.toThrow();
    expect(() => checkFormat(at('format: demo/1\n'), 'demo', 3)).not.toThrow();
  });

  it('refuses a newer version with CONFIG_VERSION', () => {
    const e = failure(() => checkFormat(at('format: demo/4\n'), 'demo', 3));
    expect(e.code).toBe('CONFIG_VERSION');
    expect(e.message).toBe('f.yaml: format demo/4 is newer than this Gauntlet reads (demo/3); upgrade Gauntlet');
    expect(e.exitCode).toBe(2);
  });

  it('refuses a missing, non-string or foreign format with CONFIG_INVALID at its line', () => {
    expect(failure(() => checkFormat(at('name: x\n'), 'demo', 1))).toMatchObject({ code: 'CONFIG_INVALID', message: 'f.yaml:1: format: expected "demo/1"' });
    expect(failure(() => checkFormat(at('name: x\nformat: 7\n'), 'demo', 1))).toMatchObject({ code: 'CONFIG_INVALID', message: 'f.yaml:2: format: expected "demo/1"' });
    expect(failure(() => checkFormat(at('name: x\nformat: other/1\n'), 'demo', 1))).toMatchObject({
      code: 'CONFIG_INVALID',
      message: 'f.yaml:2: format: expected "demo/1", got "other/1"',
    });
    expect(failure(() => checkFormat(at('format: demo\n'), 'demo', 1)).code).toBe('CONFIG_INVALID');
    expect(failure(() => checkFormat(at('- a\n- b\n'), 'demo', 1)).code).toBe('CONFIG_INVALID');
    expect(failure(() => checkFormat(at(''), 'demo', 1)).code).toBe('CONFIG_INVALID');
  });
});
