// The seed corpus and its reader: the shipped seeds load, every MQTT and
// CoAP step parses with mqtt-packet / coap-packet and every HTTP step is a
// well-formed request once its placeholders are filled; the text format
// reads hex, strings, comments and continuations; every mistake is a
// CONFIG_INVALID (or CONFIG_VERSION) naming file and line.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseCoap } from 'coap-packet';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterAll, describe, expect, it } from 'vitest';
import type { FuzzProtocol } from '../../harness/model/index.js';
import { GauntletError } from '../../harness/core/errors.js';
import { SEED_FORMAT, SEED_LIMITS, loadSeeds, parseSeed, seedsDir } from '../../harness/fuzz/corpus.js';
import { instantiateSeed, parseHttpRequest } from '../../harness/fuzz/mutate.js';

const PROTOCOLS: readonly FuzzProtocol[] = ['mqtt', 'coap', 'http'];
const HEAD = `format: ${SEED_FORMAT}\nprotocol: mqtt\n`;

/** The error a call throws, for matching on code and message. */
function thrown(f: () => unknown): GauntletError {
  try {
    f();
  } catch (e) {
    if (e instanceof GauntletError) return e;
    throw new Error(`expected a GauntletError, got ${String(e)}`);
  }
  throw new Error('expected an error, got none');
}

/** All packets of one step, with the parser's errors and what it left unparsed. */
function parseMqttStep(bytes: Uint8Array, version: 4 | 5): { packets: Packet[]; errors: string[]; left: number } {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: Packet[] = [];
  const errors: string[] = [];
  parser.on('packet', (p: Packet) => packets.push(p));
  parser.on('error', (e: Error) => errors.push(e.message));
  const left = parser.parse(Buffer.from(bytes));
  return { packets, errors, left };
}

describe('the shipped seeds', () => {
  it.each(PROTOCOLS)('%s: 6..12 seeds, labelled by file, in file-name order, within the bounds', (protocol) => {
    const seeds = loadSeeds(protocol);
    expect(seeds.length).toBeGreaterThanOrEqual(6);
    expect(seeds.length).toBeLessThanOrEqual(12);
    const labels = seeds.map((s) => s.label);
    expect(labels).toEqual([...labels].sort());
    for (const s of seeds) {
      expect(s.label).toMatch(new RegExp(`^seed ${protocol}/[a-z0-9-]+$`));
      expect(s.steps.length).toBeGreaterThan(0);
      expect(s.steps.length).toBeLessThanOrEqual(SEED_LIMITS.steps);
      for (const step of s.steps) {
        expect(step.bytes.length).toBeGreaterThan(0);
        expect(step.bytes.length).toBeLessThanOrEqual(SEED_LIMITS.stepBytes);
        expect(step.label).not.toMatch(/[\r\n:]/);
      }
    }
    expect(loadSeeds(protocol)).toEqual(seeds);
    expect(loadSeeds(protocol, seedsDir(protocol))).toEqual(seeds);
  });

  it('mqtt: every step is exactly one packet mqtt-packet parses and writes back byte for byte', () => {
    for (const seed of loadSeeds('mqtt')) {
      const connect = parseMqttStep(seed.steps[0]!.bytes, 4).packets[0];
      expect(connect?.cmd, seed.label).toBe('connect');
      const version = connect?.cmd === 'connect' && connect.protocolVersion === 5 ? 5 : 4;
      for (const step of seed.steps) {
        const r = parseMqttStep(step.bytes, version);
        expect({ seed: seed.label, step: step.label, errors: r.errors, left: r.left, packets: r.packets.length }).toEqual({ seed: seed.label, step: step.label, errors: [], left: 0, packets: 1 });
        expect(mqttPacket.generate(r.packets[0]!, { protocolVersion: version }).equals(Buffer.from(step.bytes))).toBe(true);
        // The label starts with the packet type.
        expect(step.label.split(' ')[0]).toBe(r.packets[0]!.cmd.toUpperCase());
      }
    }
  });

  it('mqtt: the flows a device sees are there (QoS 0/1/2, PINGREQ, DISCONNECT, an MQTT 5 CONNECT with properties)', () => {
    const packets = loadSeeds('mqtt').flatMap((s) => {
      const v = parseMqttStep(s.steps[0]!.bytes, 4).packets[0] as { protocolVersion?: number };
      return s.steps.map((st) => parseMqttStep(st.bytes, v.protocolVersion === 5 ? 5 : 4).packets[0]!);
    });
    const publishes = packets.filter((p) => p.cmd === 'publish');
    expect(new Set(publishes.map((p) => p.qos))).toEqual(new Set([0, 1, 2]));
    for (const cmd of ['subscribe', 'unsubscribe', 'pingreq', 'disconnect', 'pubrel']) expect(packets.some((p) => p.cmd === cmd), cmd).toBe(true);
    expect(packets.some((p) => p.cmd === 'connect' && p.protocolVersion === 5 && Object.keys(p.properties ?? {}).length >= 3)).toBe(true);
  });

  it('mqtt: CONNECTs carry the {user}/{pass} placeholders, except the anonymous seed', () => {
    for (const seed of loadSeeds('mqtt')) {
      const c = parseMqttStep(seed.steps[0]!.bytes, 4).packets[0];
      if (c?.cmd !== 'connect') throw new Error(`${seed.label}: no CONNECT first`);
      if (seed.label === 'seed mqtt/anonymous') {
        expect(c.username).toBeUndefined();
      } else {
        expect([seed.label, c.username, c.password?.toString()]).toEqual([seed.label, '{user}', '{pass}']);
      }
    }
  });

  it('coap: every step is a datagram coap-packet parses', () => {
    const codes = new Set<string>();
    const options = new Set<string>();
    for (const seed of loadSeeds('coap')) {
      for (const step of seed.steps) {
        const p = parseCoap(Buffer.from(step.bytes));
        codes.add(p.code);
        for (const o of p.options) options.add(String(o.name));
        expect(step.label.startsWith(p.confirmable ? 'CON ' : 'NON '), step.label).toBe(true);
      }
    }
    // GET PUT POST DELETE, the empty ping; observe, Block1 upload, Block2.
    for (const c of ['0.01', '0.02', '0.03', '0.04', '0.00']) expect(codes.has(c), c).toBe(true);
    for (const o of ['Observe', 'Block1', 'Block2', 'Uri-Path', 'Uri-Query', 'Content-Format']) expect(options.has(o), o).toBe(true);
  });

  it('http: every step, its placeholders filled, is one well-formed request with an honest length', () => {
    const methods = new Set<string>();
    let chunked = false;
    for (const seed of loadSeeds('http')) {
      const ready = instantiateSeed('http', seed, { host: '127.0.0.1:8080', sessionHeader: 'Authorization: Bearer t0k' });
      for (const step of ready.steps) {
        const text = Buffer.from(step.bytes).toString('latin1');
        expect(text).not.toMatch(/\{host\}|\{session\}/);
        const r = parseHttpRequest(step.bytes);
        expect(r, step.label).toBeDefined();
        expect(r!.rest.length).toBe(0);
        expect(r!.version).toBe('HTTP/1.1');
        expect(r!.headers.find((h) => h.name === 'Host')?.value).toBe('127.0.0.1:8080');
        methods.add(r!.method);
        if (r!.body.kind === 'chunked') chunked = true;
        expect(step.label.startsWith(r!.method)).toBe(true);
      }
    }
    for (const m of ['GET', 'POST', 'PUT', 'HEAD', 'OPTIONS', 'DELETE']) expect(methods.has(m), m).toBe(true);
    expect(chunked).toBe(true);
  });
});

describe('parseSeed', () => {
  it('reads hex pairs and runs, JSON strings (one byte a character), comments and indented continuations', () => {
    const text = [
      '# a comment',
      HEAD.trimEnd(),
      '',
      'first step: 10 02 0a0b  # trailing comment',
      '  "AB\\r\\n" ff',
      '    # a comment inside a step',
      '  "\\u00ff#" 00',
      'second: e0 00',
    ].join('\r\n');
    const c = parseSeed(text, 'x.seed', 'mqtt');
    expect(c.label).toBe('seed mqtt/x');
    expect(c.steps.map((s) => s.label)).toEqual(['first step', 'second']);
    expect([...c.steps[0]!.bytes]).toEqual([0x10, 0x02, 0x0a, 0x0b, 0x41, 0x42, 0x0d, 0x0a, 0xff, 0xff, 0x23, 0x00]);
    expect([...c.steps[1]!.bytes]).toEqual([0xe0, 0x00]);
  });

  const bad: readonly [string, string, number, RegExp][] = [
    ['no format line', 'protocol: mqtt\nstep: 00\n', 1, /format: expected "format: gauntlet-seed\/1"/],
    ['another format family', 'format: gauntlet-target/1\n', 1, /expected "gauntlet-seed\/1", got "gauntlet-target\/1"/],
    ['no protocol line', `format: ${SEED_FORMAT}\nstep: 00\n`, 2, /protocol: expected "protocol: mqtt"/],
    ['a protocol not known', `format: ${SEED_FORMAT}\nprotocol: ftp\n`, 2, /"ftp" is not one of mqtt, coap, http/],
    ['another protocol', `format: ${SEED_FORMAT}\nprotocol: coap\n`, 2, /this seed is for coap, but it was read as a mqtt seed/],
    ['an odd number of hex digits', `${HEAD}a: 10 0\n`, 3, /hex "0" has an odd number of digits/],
    ['not hex', `${HEAD}a: 10 zz\n`, 3, /"zz" is neither hex nor a "string"/],
    ['a string with no closing quote', `${HEAD}a: "GET /\n`, 3, /has no closing quote/],
    ['a bad escape', `${HEAD}a: "\\q"\n`, 3, /not a valid JSON string/],
    ['a character beyond one byte', `${HEAD}a: "€"\n`, 3, /U\+20AC .* not one byte; write its bytes as hex \(UTF-8: e2 82 ac\)/],
    ['a step with no bytes', `${HEAD}a:\nb: 00\n`, 3, /step "a" has no bytes/],
    ['the last step with no bytes', `${HEAD}a: 00\nb:   # nothing\n`, 4, /step "b" has no bytes/],
    ['a continuation before any step', `${HEAD}  00 01\n`, 3, /no step has begun/],
    ['a line without a colon', `${HEAD}just text\n`, 3, /expected `label: bytes`/],
    ['an empty label', `${HEAD}: 00\n`, 3, /needs a label/],
    ['format twice', `${HEAD}a: 00\nformat: ${SEED_FORMAT}\n`, 4, /"format" may appear once/],
  ];
  it.each(bad)('%s: CONFIG_INVALID naming file:line and what is wrong', (_, text, line, message) => {
    const e = thrown(() => parseSeed(text, 'corpora/mqtt/seeds/bad.seed', 'mqtt'));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(new RegExp(`^corpora/mqtt/seeds/bad\\.seed:${line}: `));
    expect(e.message).toMatch(message);
    expect(e.message).not.toMatch(/\n\s+at /);
  });

  it('no steps at all: CONFIG_INVALID naming the file', () => {
    const e = thrown(() => parseSeed(`# only comments\n${HEAD}`, 'empty.seed', 'mqtt'));
    expect([e.code, e.message]).toEqual(['CONFIG_INVALID', 'empty.seed: no steps (a step line is `label: bytes`)']);
  });

  it('a newer format version: CONFIG_VERSION, upgrade Gauntlet', () => {
    const e = thrown(() => parseSeed('format: gauntlet-seed/2\nprotocol: mqtt\na: 00\n', 'new.seed', 'mqtt'));
    expect(e.code).toBe('CONFIG_VERSION');
    expect(e.message).toBe('new.seed:1: format gauntlet-seed/2 is newer than this Gauntlet reads (gauntlet-seed/1); upgrade Gauntlet');
  });

  it('bounds: too many steps, a step too long', () => {
    const many = HEAD + Array.from({ length: SEED_LIMITS.steps + 1 }, (_, i) => `s${i}: 00`).join('\n');
    expect(thrown(() => parseSeed(many, 'many.seed', 'mqtt')).message).toBe(`many.seed:${SEED_LIMITS.steps + 3}: more than ${SEED_LIMITS.steps} steps in one seed`);
    const long = `${HEAD}big:\n${Array.from({ length: SEED_LIMITS.stepBytes / 32 + 1 }, () => `  ${'00'.repeat(32)}`).join('\n')}\n`;
    expect(thrown(() => parseSeed(long, 'long.seed', 'mqtt')).message).toBe(`long.seed:3: step "big" is longer than ${SEED_LIMITS.stepBytes} bytes`);
  });
});

describe('loadSeeds', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'gauntlet-seeds-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const dirWith = (name: string, files: Record<string, string>) => {
    const dir = path.join(scratch, name);
    mkdirSync(dir);
    for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
    return dir;
  };

  it('reads *.seed files only, sorted by name', () => {
    const dir = dirWith('ok', { 'b.seed': `${HEAD}x: e0 00\n`, 'a.seed': `${HEAD}y: c0 00\n`, 'notes.txt': 'not a seed' });
    expect(loadSeeds('mqtt', dir).map((s) => s.label)).toEqual(['seed mqtt/a', 'seed mqtt/b']);
  });

  it('a bad file: the error names that file and the line', () => {
    const dir = dirWith('bad', { 'a.seed': `${HEAD}x: e0 00\n`, 'b.seed': `${HEAD}x: e0 0\n` });
    const e = thrown(() => loadSeeds('mqtt', dir));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(`${path.join(dir, 'b.seed')}:3: hex "0" has an odd number of digits`);
  });

  it('a missing directory is CONFIG_NOT_FOUND; one without seeds is CONFIG_INVALID', () => {
    const missing = path.join(scratch, 'nope');
    expect([thrown(() => loadSeeds('coap', missing)).code, thrown(() => loadSeeds('coap', missing)).message]).toEqual(['CONFIG_NOT_FOUND', `${missing}: coap seed directory: no such directory`]);
    const empty = dirWith('empty', { 'readme.txt': 'x' });
    expect(thrown(() => loadSeeds('coap', empty)).message).toBe(`${empty}: no coap seeds (*.seed files) in this directory`);
  });

  it('a file over the size bound is refused before it is read', () => {
    const dir = dirWith('big', { 'huge.seed': `${HEAD}x: 00\n# ${'x'.repeat(SEED_LIMITS.fileBytes)}\n` });
    const e = thrown(() => loadSeeds('mqtt', dir));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(new RegExp(`huge\\.seed: \\d+ bytes; a seed file may have at most ${SEED_LIMITS.fileBytes}$`));
  });

  it('more files than the bound: CONFIG_INVALID naming the directory', () => {
    const files = Object.fromEntries(Array.from({ length: SEED_LIMITS.files + 1 }, (_, i) => [`s${String(i).padStart(3, '0')}.seed`, `${HEAD}x: e0 00\n`]));
    const dir = dirWith('many', files);
    expect(thrown(() => loadSeeds('mqtt', dir)).message).toBe(`${dir}: ${SEED_LIMITS.files + 1} seed files; at most ${SEED_LIMITS.files} are read (split the corpus)`);
  });
});
