// The seed mutators: every mutated case is a bounded FuzzCase with one-line
// labels that name the seed and the mutations; the same fast-check seed
// gives the same cases; a field-aware edit of a parseable step changes the
// field it names and nothing else (semantic edits re-parse equal but for
// that field, patches rewrite at most two adjacent bytes in place); the
// principal's credentials end up in the CONNECT and the target's host and
// session in HTTP heads; fast-check shrinks by dropping mutations.
// Pinned seeds, bounded runs.

import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { FuzzCase, FuzzProtocol } from '../../harness/model/index.js';
import { GauntletError } from '../../harness/core/errors.js';
import { loadSeeds } from '../../harness/fuzz/corpus.js';
import {
  CASE_LIMITS,
  applyMutations,
  decodeCoap,
  instantiateSeed,
  mutatedCaseArb,
  parseHttpRequest,
  type Mutation,
  type MutateOptions,
} from '../../harness/fuzz/mutate.js';

const RUNS = { seed: 424242, numRuns: 150 } as const;
const PROTOCOLS: readonly FuzzProtocol[] = ['mqtt', 'coap', 'http'];
const OPTS: MutateOptions = { auth: { username: 'alice', password: 's3cr3t' }, host: '127.0.0.1:8080', sessionHeader: 'Authorization: Bearer t0k' };
const SEEDS = Object.fromEntries(PROTOCOLS.map((p) => [p, loadSeeds(p)])) as Record<FuzzProtocol, FuzzCase[]>;
const READY = Object.fromEntries(PROTOCOLS.map((p) => [p, SEEDS[p].map((s) => instantiateSeed(p, s, OPTS))])) as Record<FuzzProtocol, FuzzCase[]>;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** One MQTT packet, or undefined when mqtt-packet refuses the bytes. */
function parseMqtt(bytes: Uint8Array, version: 4 | 5): Record<string, unknown> | undefined {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: Packet[] = [];
  let failed = false;
  parser.on('packet', (p: Packet) => packets.push(p));
  parser.on('error', () => (failed = true));
  try {
    const left = parser.parse(Buffer.from(bytes));
    return !failed && left === 0 && packets.length === 1 ? (packets[0] as unknown as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const versionOf = (c: FuzzCase): 4 | 5 => (parseMqtt(c.steps[0]!.bytes, 4)?.['protocolVersion'] === 5 ? 5 : 4);

/** A step decoded into named fields, the way the mutator names them. */
function decode(protocol: FuzzProtocol, bytes: Uint8Array, version: 4 | 5): Record<string, unknown> | undefined {
  if (protocol === 'mqtt') {
    const p = parseMqtt(bytes, version);
    if (!p) return undefined;
    const { length: _, ...rest } = p;
    return rest;
  }
  if (protocol === 'coap') {
    const m = decodeCoap(bytes);
    if (!m) return undefined;
    const { optionBytes: _, ...rest } = m;
    return { payload: undefined, ...rest };
  }
  return parseHttpRequest(bytes) as Record<string, unknown> | undefined;
}

describe('mutatedCaseArb', () => {
  it.each(PROTOCOLS)('%s: every case is a bounded FuzzCase whose labels are one line naming the seed and the mutations', (protocol) => {
    fc.assert(
      fc.property(mutatedCaseArb(protocol, SEEDS[protocol], { ...OPTS, maxMutations: CASE_LIMITS.mutations }), (c) => {
        expect(c.steps.length).toBeGreaterThan(0);
        expect(c.steps.length).toBeLessThanOrEqual(CASE_LIMITS.steps);
        for (const s of c.steps) {
          expect(s.bytes).toBeInstanceOf(Uint8Array);
          expect(s.bytes.length).toBeLessThanOrEqual(CASE_LIMITS.stepBytes);
          expect(s.label).not.toMatch(/[\r\n]/);
        }
        expect(c.label).toMatch(new RegExp(`^seed ${protocol}/[a-z0-9-]+: step \\d+ `));
        expect(c.label).not.toMatch(/[\r\n]/);
      }),
      RUNS,
    );
  });

  it.each(PROTOCOLS)('%s: the same fast-check seed gives the same cases', (protocol) => {
    const arb = () => mutatedCaseArb(protocol, SEEDS[protocol], OPTS);
    const a = fc.sample(arb(), { seed: 7, numRuns: 40 });
    const b = fc.sample(arb(), { seed: 7, numRuns: 40 });
    expect(b.map((c) => [c.label, ...c.steps.map((s) => hex(s.bytes))])).toEqual(a.map((c) => [c.label, ...c.steps.map((s) => hex(s.bytes))]));
    const other = fc.sample(arb(), { seed: 8, numRuns: 40 });
    expect(other.map((c) => c.label)).not.toEqual(a.map((c) => c.label));
  });

  it('mqtt: the principal\'s credentials are in every CONNECT no mutation touched', () => {
    let seen = 0;
    for (const c of fc.sample(mutatedCaseArb('mqtt', SEEDS.mqtt, OPTS), { seed: 11, numRuns: 200 })) {
      const first = c.steps[0]!;
      if (first.label.includes('[')) continue; // mutated
      const p = parseMqtt(first.bytes, 5) as { cmd: string; username?: string; password?: Buffer; clientId: string } | undefined;
      expect(p?.cmd).toBe('connect');
      if (p?.clientId === 'gauntlet-anon') continue; // the anonymous seed stays anonymous
      expect([p?.username, p?.password?.toString()]).toEqual(['alice', 's3cr3t']);
      expect(first.label).toContain('user=alice');
      seen++;
    }
    expect(seen).toBeGreaterThan(50);
  });

  it('fast-check shrinks a failure to one mutation of the first seed it can', () => {
    const r = fc.check(
      fc.property(mutatedCaseArb('mqtt', SEEDS.mqtt, { ...OPTS, maxMutations: 8 }), (c) => !/PUBLISH qos /.test(c.label)),
      { seed: 5, numRuns: 2000 },
    );
    expect(r.failed).toBe(true);
    const label = r.counterexample![0].label;
    // One mutation left, on the first seed (it has a PUBLISH), with the smallest step index that has one.
    expect(label).toMatch(/^seed mqtt\/[a-z0-9-]+: step \d+ PUBLISH qos \d->\d$/);
    expect(label.startsWith(`${SEEDS.mqtt[0]!.label}: step 2 `)).toBe(true);
  });

  it('no seeds, or a bad maxMutations: CONFIG_INVALID saying which', () => {
    const err = (f: () => unknown): unknown[] | undefined => {
      try {
        f();
      } catch (e) {
        return e instanceof GauntletError ? [e.code, e.message] : [e];
      }
      return undefined;
    };
    expect(err(() => mutatedCaseArb('coap', []))).toEqual(['CONFIG_INVALID', 'no coap seeds to mutate (corpora/coap/seeds has none?)']);
    expect(err(() => mutatedCaseArb('coap', SEEDS.coap, { maxMutations: 0 }))).toEqual(['CONFIG_INVALID', 'maxMutations: 0 is not an integer in 1..32']);
    expect(err(() => mutatedCaseArb('coap', SEEDS.coap, { maxMutations: 33 }))?.[0]).toBe('CONFIG_INVALID');
  });
});

describe('placeholders', () => {
  it('mqtt: {user}/{pass} become the credentials; without a principal the CONNECT is anonymous', () => {
    const seed = SEEDS.mqtt.find((s) => s.label === 'seed mqtt/publish-qos2')!;
    const withAuth = parseMqtt(instantiateSeed('mqtt', seed, OPTS).steps[0]!.bytes, 4) as { username?: string; password?: Buffer; clientId: string };
    expect([withAuth.username, withAuth.password?.toString(), withAuth.clientId]).toEqual(['alice', 's3cr3t', 'gauntlet-seed']);
    const anon = instantiateSeed('mqtt', seed, {});
    const p = parseMqtt(anon.steps[0]!.bytes, 4) as { username?: string; password?: Buffer };
    expect([p.username, p.password]).toEqual([undefined, undefined]);
    expect(anon.steps[0]!.label).toBe('CONNECT v4 clientId=gauntlet-seed anonymous keepalive=60 clean (placeholders removed)');
    // The other steps are the seed's own bytes.
    expect(anon.steps.slice(1)).toEqual(seed.steps.slice(1));
  });

  it('mqtt 5: the CONNECT keeps its properties around the new credentials', () => {
    const seed = SEEDS.mqtt.find((s) => s.label === 'seed mqtt/mqtt5-properties')!;
    const before = parseMqtt(seed.steps[0]!.bytes, 5) as { properties: unknown };
    const after = parseMqtt(instantiateSeed('mqtt', seed, OPTS).steps[0]!.bytes, 5) as { username: string; properties: unknown; protocolVersion: number };
    expect([after.username, after.protocolVersion]).toEqual(['alice', 5]);
    expect(after.properties).toEqual(before.properties);
  });

  it('http: {host} and the {session} line are filled in the head, or the line dropped', () => {
    const seed = SEEDS.http.find((s) => s.label === 'seed http/post-json')!;
    const text = (c: FuzzCase) => Buffer.from(c.steps[0]!.bytes).toString('latin1');
    const filled = text(instantiateSeed('http', seed, OPTS));
    expect(filled).toContain('\r\nHost: 127.0.0.1:8080\r\n');
    expect(filled).not.toContain('{session}');
    const bare = text(instantiateSeed('http', seed, { host: 'h:1' }));
    expect(bare).toContain('\r\nHost: h:1\r\n');
    expect(bare).not.toMatch(/\{session\}|\r\n\r\n.*\r\n\r\n/s);
    expect(parseHttpRequest(Buffer.from(bare, 'latin1'))?.headers.map((h) => h.name)).toEqual(['Host', 'Content-Type', 'Content-Length']);
    const get = SEEDS.http.find((s) => s.label === 'seed http/get-root')!;
    expect(text(instantiateSeed('http', get, { sessionHeader: 'Cookie: a=1\nX-Csrf: 2' }))).toContain('\r\nCookie: a=1\r\nX-Csrf: 2\r\n');
  });

  it('coap has none: seeds pass through', () => {
    expect(instantiateSeed('coap', SEEDS.coap[0]!, OPTS)).toBe(SEEDS.coap[0]);
  });
});

describe('field-aware mutations', () => {
  const editArb = (protocol: FuzzProtocol) =>
    fc.record({ seed: fc.nat({ max: READY[protocol].length - 1 }), step: fc.nat({ max: 63 }), field: fc.nat({ max: 255 }), value: fc.nat({ max: 0xffff }) });

  it.each(PROTOCOLS)('%s: an edit of a parseable step changes exactly the field it names', (protocol) => {
    let semantic = 0;
    fc.assert(
      fc.property(editArb(protocol), ({ seed, step, field, value }) => {
        const base = READY[protocol][seed]!;
        const version = protocol === 'mqtt' ? versionOf(base) : 4;
        const m: Mutation = { kind: 'field', step, field, value };
        const { case: c, applied } = applyMutations(protocol, READY[protocol], seed, [m]);
        const i = step % base.steps.length;
        const a = applied[0]!;
        expect(a.step).toBe(i);
        expect(c.label).toBe(`${base.label}: ${a.text}`);
        expect(a.text.startsWith(`step ${i + 1} `)).toBe(true);
        // Every seed step parses, so the edit is field-aware and the other steps are untouched.
        expect(a.edit, a.text).toBeDefined();
        expect(c.steps.length).toBe(base.steps.length);
        c.steps.forEach((s, k) => k !== i && expect(hex(s.bytes)).toBe(hex(base.steps[k]!.bytes)));
        const before = base.steps[i]!.bytes;
        const after = c.steps[i]!.bytes;
        expect(hex(after)).not.toBe(hex(before));
        expect(c.steps[i]!.label.startsWith(`${base.steps[i]!.label} [`)).toBe(true);
        if (a.edit!.kind === 'patch') {
          expect(after.length).toBe(before.length);
          const diff = [...after].flatMap((x, k) => (x === before[k] ? [] : [k]));
          expect(diff.at(-1)! - diff[0]!).toBeLessThanOrEqual(1);
        }
        if (a.edit!.kind === 'semantic') {
          const was = decode(protocol, before, version)!;
          const now = decode(protocol, after, version);
          if (!now) return; // the new value is one the parser refuses (ill-formed UTF-8, an empty method): fine
          semantic++;
          const keys = new Set([...Object.keys(was), ...Object.keys(now)]);
          const changed = [...keys].filter((k) => !isDeepStrictEqual(was[k], now[k]));
          expect(changed.length, a.text).toBeGreaterThan(0);
          expect(changed.every((k) => a.edit!.keys.includes(k)), `${a.text}: changed ${changed.join(', ')}, named ${a.edit!.keys.join(', ')}`).toBe(true);
        }
      }),
      { ...RUNS, numRuns: 400 },
    );
    expect(semantic).toBeGreaterThan(50);
  });

  it('mqtt: PUBLISH qos 2->3 rewrites the two QoS bits and nothing else', () => {
    const seeds = READY.mqtt;
    const at = seeds.findIndex((s) => s.label === 'seed mqtt/publish-qos2');
    const { case: c, applied } = applyMutations('mqtt', seeds, at, [{ kind: 'field', step: 2, field: 0, value: 2 }]);
    expect(c.label).toBe('seed mqtt/publish-qos2: step 3 PUBLISH qos 2->3');
    expect(c.steps[2]!.label).toBe('PUBLISH qos=2 id=7 topic=gauntlet/fuzz 20B json [qos 2->3]');
    expect(applied[0]!.edit).toEqual({ kind: 'patch', keys: [] });
    const before = seeds[at]!.steps[2]!.bytes;
    expect(c.steps[2]!.bytes[0]).toBe(0x36);
    expect(hex(c.steps[2]!.bytes.subarray(1))).toBe(hex(before.subarray(1)));
  });

  it('coap: a code edit re-encodes through encodeCoap and keeps the rest of the datagram', () => {
    const seeds = READY.coap;
    const at = seeds.findIndex((s) => s.label === 'seed coap/observe');
    const { case: c } = applyMutations('coap', seeds, at, [{ kind: 'field', step: 0, field: 1, value: 1 }]);
    expect(c.label).toBe('seed coap/observe: step 1 CON GET code GET->PUT');
    const was = decodeCoap(seeds[at]!.steps[0]!.bytes)!;
    expect(decodeCoap(c.steps[0]!.bytes)).toEqual({ ...was, code: 3 });
  });

  it('a step that no longer parses gets a byte-level change instead, and says so', () => {
    const seeds = READY.http;
    const { case: c } = applyMutations('http', seeds, 0, [
      { kind: 'truncate', step: 0, at: 10 },
      { kind: 'field', step: 0, field: 3, value: 4 },
    ]);
    expect(c.label).toMatch(/^seed http\/[a-z-]+: step 1 truncated to 10 of \d+ bytes; step 1 \(does not parse\) byte 4 0x[0-9a-f]{2}->0x[0-9a-f]{2}$/);
    expect(c.steps[0]!.bytes.length).toBe(10);
  });
});

describe('byte-level mutations', () => {
  const seeds = READY.coap;
  const at = seeds.findIndex((s) => s.label === 'seed coap/well-known-core');
  const base = seeds[at]!.steps[0]!.bytes;
  const one = (m: Mutation) => applyMutations('coap', seeds, at, [m]);

  it('flip, set, insert, delete, duplicate, truncate: the bytes and the label agree', () => {
    const flip = one({ kind: 'flip', step: 0, at: 1, bit: 3 });
    expect(flip.case.label).toBe('seed coap/well-known-core: step 1 byte 1 bit 3 flipped');
    expect(flip.case.steps[0]!.bytes[1]).toBe(base[1]! ^ 8);

    const set = one({ kind: 'set', step: 0, at: 0, value: 3 });
    expect(set.case.label).toBe('seed coap/well-known-core: step 1 byte 0 0x42->0xff');

    const ins = one({ kind: 'insert', step: 0, at: 2, bytes: Uint8Array.of(1, 2, 3) });
    expect(ins.case.label).toBe('seed coap/well-known-core: step 1 3 byte(s) 010203 inserted at 2');
    expect(hex(ins.case.steps[0]!.bytes)).toBe(hex(base.subarray(0, 2)) + '010203' + hex(base.subarray(2)));

    const del = one({ kind: 'delete', step: 0, at: 5, length: 2 });
    expect(del.case.label).toBe('seed coap/well-known-core: step 1 bytes 5..7 deleted');
    expect(hex(del.case.steps[0]!.bytes)).toBe(hex(base.subarray(0, 5)) + hex(base.subarray(8)));

    const dup = one({ kind: 'duplicate', step: 0, at: 4, length: 1 });
    expect(dup.case.label).toBe('seed coap/well-known-core: step 1 bytes 4..5 duplicated');
    expect(hex(dup.case.steps[0]!.bytes)).toBe(hex(base.subarray(0, 6)) + hex(base.subarray(4)));

    const cut = one({ kind: 'truncate', step: 0, at: 3 });
    expect(cut.case.label).toBe(`seed coap/well-known-core: step 1 truncated to 3 of ${base.length} bytes`);
    expect(hex(cut.case.steps[0]!.bytes)).toBe(hex(base.subarray(0, 3)));
  });

  it('splice and repeat add steps, within the step bound', () => {
    const donor = seeds.findIndex((s) => s.label === 'seed coap/delete');
    const sp = one({ kind: 'splice', step: 0, seed: donor, from: 0 });
    expect(sp.case.label).toBe('seed coap/well-known-core: step 1 followed by step 1 of coap/delete');
    expect(sp.case.steps.map((s) => s.label)).toEqual([seeds[at]!.steps[0]!.label, `${seeds[donor]!.steps[0]!.label} (from coap/delete step 1)`]);

    const rep = one({ kind: 'repeat', step: 0, times: 2 });
    expect(rep.case.steps).toHaveLength(4);
    expect(rep.case.steps[3]!.label).toMatch(/\[repeat 3 of 3\]$/);

    const many = applyMutations('coap', seeds, at, Array.from({ length: CASE_LIMITS.mutations }, () => ({ kind: 'repeat' as const, step: 0, times: 7 })));
    expect(many.case.steps).toHaveLength(CASE_LIMITS.steps);
    expect(many.applied.at(-1)!.text).toBe(`step 1 repeat skipped (${CASE_LIMITS.steps} steps already)`);
  });

  it('inserts stop at the step bound', () => {
    const big = { label: 'seed coap/big', steps: [{ label: 'big', bytes: new Uint8Array(CASE_LIMITS.stepBytes - 4) }] };
    const r = applyMutations('coap', [big], 0, [
      { kind: 'insert', step: 0, at: 0, bytes: new Uint8Array(32) },
      { kind: 'duplicate', step: 0, at: 0, length: 100 },
    ]);
    expect(r.case.steps[0]!.bytes.length).toBe(CASE_LIMITS.stepBytes);
    expect(r.applied.map((a) => a.text)).toEqual(['step 1 4 byte(s) 00000000 inserted at 0', `step 1 duplicate skipped (the step is at ${CASE_LIMITS.stepBytes} bytes)`]);
  });
});
