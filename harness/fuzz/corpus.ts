// Fuzz seeds: the corpora/<protocol>/seeds/*.seed files, read into FuzzCases
// for the mutators (fuzz/mutate.ts). A seed is a small text file a reviewer
// can read: `# comments`, a format line, the protocol, then one step per
// `label: bytes` line, the bytes as hex pairs and/or JSON strings (one
// character = one byte), continued on indented lines. corpora/README.md is
// the format's reference. Placeholders ({user}/{pass} in an MQTT CONNECT,
// {host} and a {session} line in HTTP) stay as written here: mutate.ts fills
// them from the target.
// Reading is bounded (files per directory, bytes per file, steps per seed,
// bytes per step) and every mistake is CONFIG_INVALID naming file:line.

import { readdirSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative } from 'node:path';
import type { FuzzCase, FuzzProtocol, FuzzStep } from '../model/index.js';
import { GauntletError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import { readTextFile } from '../core/read-file.js';
import { CASE_LIMITS } from './mutate.js';

export const SEED_FORMAT = 'gauntlet-seed/1';
const FAMILY = 'gauntlet-seed';
const SUPPORTED = 1;

/** Bounds on what a seed directory may hold. */
export const SEED_LIMITS = {
  /** *.seed files read from one directory. */
  files: 256,
  /** Bytes of one seed file. */
  fileBytes: 256 * 1024,
  /** Steps of one seed (the mutators keep cases within the same bound). */
  steps: CASE_LIMITS.steps,
  /** Bytes of one step. */
  stepBytes: CASE_LIMITS.stepBytes,
} as const;

const PROTOCOLS: readonly FuzzProtocol[] = ['mqtt', 'coap', 'http'];

/** The package's own seeds for a protocol: corpora/<protocol>/seeds. */
export function seedsDir(protocol: FuzzProtocol): string {
  return join(packageRoot(), 'corpora', protocol, 'seeds');
}

/** A path as error messages show it: relative to the package when inside it. */
function shown(path: string): string {
  const rel = relative(packageRoot(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** Where a mistake is, and what it is, as a harness error. */
const bad = (where: string, what: string) => new GauntletError('CONFIG_INVALID', `${where}: ${what}`);

/**
 * One step's value: hex pairs (whitespace between them allowed), JSON
 * strings (each character one byte, at most U+00FF), and a `#` comment to
 * the end of the line outside strings.
 */
function valueBytes(text: string, where: string): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === ' ' || ch === '\t') {
      i++;
    } else if (ch === '#') {
      break;
    } else if (ch === '"') {
      // The closing quote: the first one not escaped by an odd run of backslashes.
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (end >= text.length) throw bad(where, `string ${text.slice(i, i + 24)}… has no closing quote`);
      let s: string;
      try {
        s = JSON.parse(text.slice(i, end + 1)) as string;
      } catch {
        throw bad(where, `string ${text.slice(i, Math.min(end + 1, i + 40))} is not a valid JSON string (escapes: \\r \\n \\t \\" \\\\ \\u00XX)`);
      }
      for (const c of s) {
        const code = c.codePointAt(0)!;
        if (code > 0xff) {
          const utf8 = Buffer.from(c, 'utf8').toString('hex').replace(/(..)(?!$)/g, '$1 ');
          throw bad(where, `character U+${code.toString(16).toUpperCase().padStart(4, '0')} in a string is not one byte; write its bytes as hex (UTF-8: ${utf8})`);
        }
        out.push(code);
      }
      i = end + 1;
    } else {
      let end = i;
      while (end < text.length && !' \t#"'.includes(text[end]!)) end++;
      const run = text.slice(i, end);
      if (!/^[0-9a-fA-F]+$/.test(run)) throw bad(where, `"${run.slice(0, 24)}" is neither hex nor a "string"`);
      if (run.length % 2 !== 0) throw bad(where, `hex "${run.slice(0, 24)}" has an odd number of digits`);
      for (let k = 0; k < run.length; k += 2) out.push(parseInt(run.slice(k, k + 2), 16));
      i = end;
    }
  }
  return out;
}

interface Draft {
  readonly label: string;
  readonly line: number;
  bytes: number[];
}

/**
 * Parses one seed file's text. `file` names it in errors and `name` (the
 * file name without .seed) in the case label: `seed mqtt/publish-qos2`.
 */
export function parseSeed(text: string, file: string, protocol: FuzzProtocol, name = basename(file).replace(/\.seed$/, '')): FuzzCase {
  const lines = text.split(/\r?\n/);
  let format: string | undefined;
  let declared: string | undefined;
  const drafts: Draft[] = [];
  const close = (d: Draft | undefined) => {
    if (!d) return;
    if (d.bytes.length === 0) throw bad(`${file}:${d.line}`, `step "${d.label}" has no bytes`);
  };
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const where = `${file}:${n + 1}`;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) continue;
    if (/^[ \t]/.test(raw)) {
      const last = drafts.at(-1);
      if (!last) throw bad(where, 'an indented line continues a step, but no step has begun (a step line is `label: bytes`)');
      last.bytes.push(...valueBytes(raw, where));
      if (last.bytes.length > SEED_LIMITS.stepBytes) throw bad(`${file}:${last.line}`, `step "${last.label}" is longer than ${SEED_LIMITS.stepBytes} bytes`);
      continue;
    }
    const colon = raw.indexOf(':');
    if (colon < 0) throw bad(where, 'expected `label: bytes` (hex pairs or "strings"), a `# comment`, or an indented continuation');
    const key = raw.slice(0, colon).trim();
    const rest = raw.slice(colon + 1);
    if (format === undefined) {
      if (key !== 'format') throw bad(where, `format: expected "format: ${SEED_FORMAT}" before anything else`);
      const m = /^([a-z][a-z0-9-]*)\/(\d+)$/.exec(rest.trim());
      if (!m || m[1] !== FAMILY) throw bad(where, `format: expected "${SEED_FORMAT}", got "${rest.trim()}"`);
      if (Number(m[2]) > SUPPORTED) {
        throw new GauntletError('CONFIG_VERSION', `${where}: format ${rest.trim()} is newer than this Gauntlet reads (${SEED_FORMAT}); upgrade Gauntlet`);
      }
      format = rest.trim();
      continue;
    }
    if (declared === undefined) {
      if (key !== 'protocol') throw bad(where, `protocol: expected "protocol: ${protocol}" after the format line`);
      declared = rest.trim();
      if (!(PROTOCOLS as readonly string[]).includes(declared)) throw bad(where, `protocol: "${declared}" is not one of ${PROTOCOLS.join(', ')}`);
      if (declared !== protocol) throw bad(where, `protocol: this seed is for ${declared}, but it was read as a ${protocol} seed (is it in the wrong directory?)`);
      continue;
    }
    if (key === 'format' || key === 'protocol') throw bad(where, `"${key}" may appear once, before the first step`);
    if (key === '') throw bad(where, 'a step needs a label before its colon');
    close(drafts.at(-1));
    if (drafts.length >= SEED_LIMITS.steps) throw bad(where, `more than ${SEED_LIMITS.steps} steps in one seed`);
    const d: Draft = { label: key, line: n + 1, bytes: valueBytes(rest, where) };
    if (d.bytes.length > SEED_LIMITS.stepBytes) throw bad(where, `step "${key}" is longer than ${SEED_LIMITS.stepBytes} bytes`);
    drafts.push(d);
  }
  if (format === undefined) throw bad(`${file}:1`, `format: expected "format: ${SEED_FORMAT}"; the file has no format line`);
  if (declared === undefined) throw bad(file, `protocol: expected "protocol: ${protocol}" after the format line`);
  close(drafts.at(-1));
  if (drafts.length === 0) throw bad(file, 'no steps (a step line is `label: bytes`)');
  const steps: FuzzStep[] = drafts.map((d) => ({ bytes: Uint8Array.from(d.bytes), label: d.label }));
  return { steps, label: `seed ${protocol}/${name}` };
}

/**
 * The seeds of a protocol, one FuzzCase per *.seed file, in file-name order
 * (so a seed index means the same file on every machine). `dir` defaults to
 * the package's corpora/<protocol>/seeds.
 */
export function loadSeeds(protocol: FuzzProtocol, dir: string = seedsDir(protocol)): FuzzCase[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'is not a directory' : `cannot be read (${code ?? 'error'})`;
    throw new GauntletError('CONFIG_NOT_FOUND', `${shown(dir)}: ${protocol} seed directory: ${why}`);
  }
  const files = names.filter((f) => f.endsWith('.seed')).sort();
  if (files.length === 0) throw bad(shown(dir), `no ${protocol} seeds (*.seed files) in this directory`);
  if (files.length > SEED_LIMITS.files) throw bad(shown(dir), `${files.length} seed files; at most ${SEED_LIMITS.files} are read (split the corpus)`);
  return files.map((f) => {
    const path = join(dir, f);
    const where = shown(path);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      size = 0; // readTextFile names the problem
    }
    if (size > SEED_LIMITS.fileBytes) throw bad(where, `${size} bytes; a seed file may have at most ${SEED_LIMITS.fileBytes}`);
    return parseSeed(readTextFile(path, `${protocol} seed`), where, protocol, f.replace(/\.seed$/, ''));
  });
}
