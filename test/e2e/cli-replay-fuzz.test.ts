// `gauntlet replay RECORD` for fuzz finding records, through the real bin:
// the recorded bytes crash the built-in device started with the recorded flaw
// (exit 1, "reproduced"), do nothing to it without the flaw (exit 0, "not
// reproduced"), the transcript only with --verbose; a malformed record or one
// naming an interface the target lacks exits 2 with one line naming the file
// and the field; --help says both file kinds are accepted.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FuzzFindingRecord } from '../../harness/fuzz/store.js';
import { CRASH, crashRecord } from '../fuzz/crash-record.js';

const BIN = resolve('bin/gauntlet.js');
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gauntlet-replay-fuzz-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function gauntlet(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: 'true', NO_COLOR: '1' }, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const record = (flaws: string[], over: Partial<FuzzFindingRecord> = {}) => crashRecord(flaws, undefined, over);

function write(name: string, data: unknown): string {
  writeFileSync(join(dir, name), typeof data === 'string' ? data : JSON.stringify(data, null, 2));
  return name;
}

describe('gauntlet replay of a fuzz finding record', () => {
  it('--help says both file kinds are accepted, and --verbose', () => {
    const r = gauntlet(['replay', '--help']);
    expect(r.code).toBe(0);
    for (const word of ['gauntlet-finding/1', 'gauntlet-fuzz-finding/1', 'corpora/findings', '--verbose', 'Exit code 1']) expect(r.out).toContain(word);
  });

  it('the recorded flaw on: the bytes are printed, sent, and crash the device again (exit 1)', () => {
    const r = gauntlet(['replay', write('crash.json', record(['coap-crash-option']))]);
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.out).toContain('replaying fuzz finding coap-crash-0123456789ab (crash.json)');
    expect(r.out).toMatch(/recorded: crash on coap \(coap\) of reference-device, confirmed when found; .*flaws coap-crash-option/);
    expect(r.out).toContain(`    1. CON GET, option delta to 65804 [${CRASH.length} B] ${CRASH.toString('hex')}`);
    expect(r.out).toMatch(/to coap of \S+ \(builtin:reference-device\), coap:\/\/127\.0\.0\.1:\d+/);
    expect(r.out).toMatch(/\nreproduced: crash after connection 1 of 1: probe: /);
    expect(r.out).not.toContain('transcript:');
    expect(r.err).toBe('');
  });

  it('without the flaw the same bytes do nothing (exit 0); --verbose prints the transcript', () => {
    const r = gauntlet(['replay', write('fixed.json', record([])), '--verbose']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/\nnot reproduced: the device survived all 1 connection\(s\)/);
    expect(r.out).toContain('transcript:');
    expect(r.out).toMatch(new RegExp(`sent +coap {2}CON GET, option delta to 65804 ${CRASH.toString('hex')}`));
  });

  it('a malformed record exits 2 with one line naming the file and the field, and starts nothing', () => {
    const bad = record(['coap-crash-option']);
    const r = gauntlet(['replay', write('bad-hex.json', { ...bad, connections: [{ label: 'x', steps: [{ label: 'y', hex: 'e0fg' }] }] })]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe('gauntlet: bad-hex.json: connections[0].steps[0].hex: expected the bytes as hex (pairs of 0-9, a-f)');
    expect(r.out).toBe('');

    const oracle = gauntlet(['replay', write('bad-oracle.json', { ...bad, oracle: 'meltdown' })]);
    expect(oracle.code).toBe(2);
    expect(oracle.err).toMatch(/^gauntlet: bad-oracle\.json: oracle: expected one of crash, /);
    expect(oracle.err).not.toMatch(/\n\s+at /);

    const newer = gauntlet(['replay', write('newer.json', { ...bad, format: 'gauntlet-fuzz-finding/9' })]);
    expect(newer.code).toBe(2);
    expect(newer.err).toMatch(/newer\.json: format gauntlet-fuzz-finding\/9 is newer than this Gauntlet reads/);
  });

  it('an interface the target does not have exits 2 naming it; a recorded target file that is gone asks for --target', () => {
    const r = gauntlet(['replay', write('zigbee.json', record(['coap-crash-option'], { interface: { id: 'zigbee', protocol: 'coap', url: '' } }))]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^gauntlet: fuzz finding coap-crash-0123456789ab: interface zigbee is not in target .*; its interfaces: /);
    const gone = gauntlet(['replay', write('gone.json', record([], { target: { name: 'x', source: 'targets/nope.yaml', flaws: [] } }))]);
    expect(gone.code).toBe(2);
    expect(gone.err.trim()).toBe('gauntlet: gone.json: the recorded target file targets/nope.yaml does not exist; pass --target');
  });
});
