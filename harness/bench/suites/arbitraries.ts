// Case generation rate per protocol: the fuzz arbitraries, one op = one
// generated case, drawn with fc.sample at a fixed seed (the same cases every
// run and every sample). Each beside fc.uint8Array of the mix's median case
// size: what fast-check pays for that many random bytes alone (the median,
// as a few hostile cases of 64 KiB of filler make the mean no typical size).
//
// The mix is the one robustness.fuzz builds (checks/robustness/fuzz.ts
// casesFor: a sixth conforming, half hostile, a third mutated corpus seeds),
// aimed at what targets/example-device.yaml declares; test/bench checks it
// draws exactly what casesFor draws for that target. DTLS: the case kinds of
// transport.dtls-robustness (dtlsCaseArb).

import fc from 'fast-check';
import type { FuzzCase, FuzzProtocol } from '../../model/index.js';
import { afterCookieArb, dtlsCaseArb, fragmentedHelloArb, type DtlsCase } from '../../checks/transport/dtls-robustness.js';
import { loadSeeds } from '../../fuzz/corpus.js';
import { mutatedCaseArb } from '../../fuzz/mutate.js';
import { coapCaseArb } from '../../protocols/coap/arbitraries.js';
import { hostileDatagramArb } from '../../protocols/dtls/arbitraries.js';
import { httpCaseArb } from '../../protocols/http/arbitraries.js';
import { mqttCaseArb } from '../../protocols/mqtt/arbitraries.js';
import type { BenchTask, Suite } from '../hot-paths.js';
import { caseBytes, mean } from './util.js';

/** The secrets targets/example-device.yaml reads from its environment. */
const EXAMPLE_ENV = { THERMO_ADMIN_PASS: 'bench-admin-pass', THERMO_SENSOR_PASS: 'bench-sensor-pass', THERMO_LABEL_PASS: 'bench-label-pass' } as const;

/**
 * What robustness.fuzz aims its cases at on targets/example-device.yaml
 * (with EXAMPLE_ENV as its environment): MQTT in admin's session (the first
 * principal with a password) on the topics its rules allow; CoAP on the
 * declared resources; HTTP on the declared routes, without a session
 * (casesFor would log in for one).
 */
export const EXAMPLE_TARGET = {
  file: 'targets/example-device.yaml',
  env: EXAMPLE_ENV,
  mqtt: { version: 4, auth: { username: 'admin', password: EXAMPLE_ENV.THERMO_ADMIN_PASS }, topics: ['fuzz'] },
  coapPaths: ['/.well-known/core', '/sensors/temperature', '/config'],
  http: { host: '127.0.0.1:8080', paths: ['/api/health', '/api/config', '/api/login', '/api/password', '/api/status', '/api/users/admin'] },
  /** A PSK identity for transport.dtls-robustness's ClientKeyExchange (the example declares no PSK). */
  dtlsIdentity: 'sensor-1',
} as const;

/** As checks/robustness/fuzz.ts weighs them: conforming 1, hostile 3, mutated corpus seeds 2. */
const WEIGHTS = { valid: 1, hostile: 3, mutated: 2 } as const;

export interface CaseMix {
  readonly valid: fc.Arbitrary<FuzzCase>;
  readonly hostile: fc.Arbitrary<FuzzCase>;
  readonly mutated: fc.Arbitrary<FuzzCase>;
  /** All three, weighed as robustness.fuzz weighs them. */
  readonly mix: fc.Arbitrary<FuzzCase>;
  readonly seeds: number;
}

/** The case generators robustness.fuzz builds for `protocol` on the example target. */
export function fuzzMix(protocol: FuzzProtocol): CaseMix {
  const t = EXAMPLE_TARGET;
  const seeds = loadSeeds(protocol);
  const [valid, hostile, mutated] =
    protocol === 'mqtt'
      ? [mqttCaseArb({ ...t.mqtt, mode: 'valid' }), mqttCaseArb({ ...t.mqtt, mode: 'hostile' }), mutatedCaseArb('mqtt', seeds, { auth: t.mqtt.auth })]
      : protocol === 'coap'
        ? [coapCaseArb({ mode: 'valid', paths: t.coapPaths }), coapCaseArb({ mode: 'hostile', paths: t.coapPaths }), mutatedCaseArb('coap', seeds)]
        : [httpCaseArb({ ...t.http, mode: 'valid' }), httpCaseArb({ ...t.http, mode: 'hostile' }), mutatedCaseArb('http', seeds, { host: t.http.host })];
  const mix = fc.oneof({ weight: WEIGHTS.valid, arbitrary: valid }, { weight: WEIGHTS.hostile, arbitrary: hostile }, { weight: WEIGHTS.mutated, arbitrary: mutated });
  return { valid, hostile, mutated, mix, seeds: seeds.length };
}

/** The same cases on every call: fast-check's first `batch` runs from one seed. */
const SEED = 20261122;
/** Cases per sample: enough that fc.sample's own set-up is a small share of a case. */
const BATCH = 100;

function drawTask<T>(name: string, arb: fc.Arbitrary<T>, size: (t: T) => number, baseline = false): BenchTask {
  return { name, ...(baseline ? { baseline } : {}), batch: BATCH, fn: () => fc.sample(arb, { seed: SEED, numRuns: BATCH }).reduce((n, v) => n + size(v), 0) };
}

/** Median and mean case size of `arb`'s first BATCH draws; the baseline draws the median's worth of random bytes. */
function sizes<T>(arb: fc.Arbitrary<T>, size: (t: T) => number): { median: number; mean: number } {
  const xs = fc.sample(arb, { seed: SEED, numRuns: BATCH }).map(size);
  const sorted = [...xs].sort((a, b) => a - b);
  return { median: Math.max(1, sorted[Math.floor(sorted.length / 2)]!), mean: Math.round(mean(xs)) };
}

const sizeText = (s: { median: number; mean: number }) => `the mix's cases ${s.median} bytes median, ${s.mean} mean`;

const bytesTask = (n: number) => drawTask(`fc.uint8Array(${n} bytes)`, fc.uint8Array({ minLength: n, maxLength: n }), (b) => b.length, true);

const PROTOCOL_NAMES: Readonly<Record<FuzzProtocol, string>> = { mqtt: 'MQTT 3.1.1', coap: 'CoAP', http: 'HTTP/1.1' };

export function caseGeneration(protocol: FuzzProtocol): Suite {
  const m = fuzzMix(protocol);
  const n = sizes(m.mix, caseBytes);
  return {
    id: `generate-${protocol}`,
    title: `${PROTOCOL_NAMES[protocol]} fuzz case generation, fc.sample at a fixed seed (${BATCH} cases a sample; ${sizeText(n)})`,
    unit: 'case',
    tasks: [
      bytesTask(n.median),
      drawTask('conforming (valid mode)', m.valid, caseBytes),
      drawTask('hostile (one rule broken)', m.hostile, caseBytes),
      drawTask(`mutated corpus seed (${m.seeds} seeds)`, m.mutated, caseBytes),
      drawTask('robustness.fuzz mix (1:3:2)', m.mix, caseBytes),
    ],
  };
}

const dtlsBytes = (c: DtlsCase) => c.datagrams.reduce((k, d) => k + d.length, 0);

export function dtlsCaseGeneration(): Suite {
  const mix = dtlsCaseArb(EXAMPLE_TARGET.dtlsIdentity);
  const n = sizes(mix, dtlsBytes);
  return {
    id: 'generate-dtls',
    title: `DTLS 1.2 case generation (transport.dtls-robustness), fc.sample at a fixed seed (${BATCH} cases a sample; ${sizeText(n)})`,
    unit: 'case',
    tasks: [
      bytesTask(n.median),
      drawTask('hostile datagram', hostileDatagramArb(), (h) => h.bytes.length),
      drawTask('ClientHello in lying fragments', fragmentedHelloArb(), dtlsBytes),
      drawTask('ClientKeyExchange after a cookie round', afterCookieArb(EXAMPLE_TARGET.dtlsIdentity), dtlsBytes),
      drawTask('dtls-robustness mix (4:2:2)', mix, dtlsBytes),
    ],
  };
}
