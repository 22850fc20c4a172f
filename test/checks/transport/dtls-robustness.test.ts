// transport.dtls-robustness against the reference device through the real
// planner and runner, pinned seed: the dtls-crash-fragment flaw fails it with
// a counterexample shrunk to an inconsistent handshake fragment (read back
// with the codec, not by its label), and replaying (seed, path) reproduces it;
// the hardened unit passes a small budget. The watchdog brings coaps back.
// The case builders are checked against the codec; error paths run the check
// alone: a closed port, and no principal with a PSK.

import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  RECOVERY_MS,
  afterCookieArb,
  caseBytes,
  dtlsCaseArb,
  dtlsRobustness,
  fragmentPlanArb,
  fragmentedHelloArb,
  lyingFragments,
  pack,
  pskClientKeyExchange,
} from '../../../harness/checks/transport/dtls-robustness.js';
import { targetFromObject, type TargetFileInput } from '../../../harness/core/target-file.js';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import type { CheckResult } from '../../../harness/model/index.js';
import { openDtlsChannel } from '../../../harness/protocols/dtls/client.js';
import { ContentType, HandshakeType, parseHandshake, parseRecords, reassemble } from '../../../harness/protocols/dtls/codec.js';
import { startReferenceDevice, type Flaw, type RunningDevice } from '../../../targets/reference-device/index.js';
import { RESTART_DELAY_MS } from '../../../targets/reference-device/coaps-server.js';
import { SUITES, startDtlsServer, type RunningDtls } from '../../../targets/reference-device/dtls/server.js';
import { closedPort, contextFor } from '../access/fakes.js';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { contextOnClosedCoaps } from './closed-coaps.js';

const devices: RunningDevice[] = [];
const servers: RunningDtls[] = [];
afterEach(async () => {
  await Promise.all([...devices.splice(0), ...servers.splice(0)].map((d) => d.close()));
});

async function device(flaws: readonly Flaw[], log?: (line: string) => void): Promise<RunningDevice> {
  const d = await startReferenceDevice({ flaws, factoryFresh: false, ...(log ? { log } : {}) });
  devices.push(d);
  return d;
}

const ID = 'transport.dtls-robustness@coaps';
const show = (...a: unknown[]) => process.env.SHOW && console.log(...a);

/**
 * Why the datagrams' handshake fragments are inconsistent, read with the
 * codec: a fragment header it refuses (offset + length past the message,
 * fragment_length past the record, a cut header), or fragments of one
 * message that disagree on type or length. undefined when they are fine.
 */
function inconsistentFragments(datagrams: readonly Uint8Array[]): string | undefined {
  const byMessage = new Map<number, { msgType: number; length: number }[]>();
  for (const d of datagrams) {
    for (const r of parseRecords(d).records) {
      if (r.epoch !== 0 || r.type !== ContentType.handshake) continue;
      const h = parseHandshake(r.fragment);
      if (!h.ok) return h.error;
      for (const f of h.value) byMessage.set(f.messageSeq, [...(byMessage.get(f.messageSeq) ?? []), f]);
    }
  }
  for (const fs of byMessage.values()) {
    if (fs.some((f) => f.length !== fs[0]!.length || f.msgType !== fs[0]!.msgType)) return 'fragments of one message disagree';
  }
  return undefined;
}

describe('case builders', () => {
  it('without a lie the fragments reassemble to the message; every lie is visible to the codec or leaves the message incomplete', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 3, maxLength: 120 }), fragmentPlanArb(), (body, plan) => {
        const { fragments } = lyingFragments(HandshakeType.client_hello, 0, body, plan);
        const datagrams = pack(fragments, plan.packing, 0);
        const seen = datagrams.flatMap((d) => parseRecords(d).records.flatMap((r) => (r.type === ContentType.handshake ? [parseHandshake(r.fragment)] : [])));
        const parsed = seen.flatMap((h) => (h.ok ? h.value : []));
        const whole = seen.every((h) => h.ok) ? reassemble(parsed) : undefined;
        switch (plan.lie) {
          case 'reversed':
          case 'repeated':
            expect(whole?.ok && Buffer.from(whole.value.body).equals(Buffer.from(body))).toBe(true);
            break;
          case 'overrun':
          case 'offset-past-end':
            expect(seen.some((h) => !h.ok && /fragment_offset\+fragment_length/.test(h.error))).toBe(true);
            break;
          case 'fragment-length-long':
            // A lying fragment_length runs past the record, or (one record) eats the next header.
            expect(whole === undefined || !whole.ok || !Buffer.from(whole.value.body).equals(Buffer.from(body))).toBe(true);
            break;
          default:
            expect(whole === undefined || !whole.ok || !Buffer.from(whole.value.body).equals(Buffer.from(body))).toBe(true);
        }
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it('labels every case and keeps it within one UDP datagram size', () => {
    fc.assert(
      fc.property(dtlsCaseArb('sensor-1'), (c) => {
        expect(c.label.length).toBeGreaterThan(0);
        for (const d of c.datagrams) expect(d.length).toBeLessThan(65_507);
      }),
      { seed: 11, numRuns: 300 },
    );
    const [hello] = fc.sample(fragmentedHelloArb(), { seed: 3, numRuns: 1 });
    expect(hello!.stage).toBe('first-flight');
    const [cke] = fc.sample(afterCookieArb('sensor-1'), { seed: 3, numRuns: 1 });
    expect(cke!.stage).toBe('after-cookie');
    // Renumbered for a server that asked no cookie: message_seq 1, records from 1.
    const renumbered = cke!.renumber!(1, 1);
    const rec = parseRecords(renumbered[0]!).records[0]!;
    expect(rec.sequence).toBe(1);
    expect(Buffer.from(pskClientKeyExchange('ab')).toString('hex')).toBe('00026162');
    expect(caseBytes(cke!)).toBeGreaterThan(12);
  });
});

describe('transport.dtls-robustness against the reference device', () => {
  it('fails on dtls-crash-fragment, shrunk to an inconsistent fragment; replaying (seed, path) reproduces it; coaps comes back', { timeout: 240_000 }, async () => {
    const log: string[] = [];
    const d = await device(['dtls-crash-fragment'], (l) => log.push(l));
    const t0 = Date.now();
    const run = await runAgainst(d.targetFile(), { checks: [dtlsRobustness], only: [ID], numRuns: 30, timeMs: 90_000, ioTimeoutMs: 800 });
    const r = run.byId.get(ID)!;
    show(`crash run: ${Date.now() - t0} ms`, r.reason, r.findings[0]?.evidence);
    expect(r.verdict, verdictTable(run.results)).toBe('fail');
    const f = r.findings[0]!;
    expect(f.summary).toMatch(/^after .+ \(\d+ bytes\) the coaps service stopped answering handshakes$/);
    const cx = f.evidence.counterexample!;
    expect(cx.path).not.toBe('');
    expect(cx.shrinks).toBeGreaterThan(0);
    expect(f.evidence.observed).toMatch(/it answered again after \d+ ms/);
    expect(f.evidence.transcript.some((e) => e.dir === 'sent')).toBe(true);
    expect(log.some((l) => /DTLS service crashed/.test(l)) && log.some((l) => /watchdog restarted/.test(l))).toBe(true);

    // The shrunk case is a fragment header the codec itself refuses (or fragments that disagree): read from the wire, not the label.
    const sent = f.evidence.transcript.filter((e) => e.dir === 'sent' && e.hex !== undefined && !/ClientHello \(valid|ClientHello with the/.test(e.decoded));
    expect(sent.length).toBeGreaterThan(0);
    expect(inconsistentFragments(sent.map((e) => Buffer.from(e.hex!, 'hex')))).toBeDefined();

    // Replay from (seed, path): the first case run is the shrunk one, and it fails the same way.
    const again = await runAgainst(d.targetFile(), { checks: [dtlsRobustness], only: [ID], numRuns: 30, timeMs: 60_000, ioTimeoutMs: 800, replayPath: cx.path });
    const r2 = again.byId.get(ID)!;
    expect(r2.verdict, verdictTable(again.results)).toBe('fail');
    expect(r2.findings[0]!.evidence.counterexample!.value).toBe(cx.value);
    expect(r2.cases).toBe(1);
  });

  it('passes on the hardened unit within a small budget, and says how fast it went', { timeout: 120_000 }, async () => {
    const d = await device([]);
    const run = await runAgainst(d.targetFile(), { checks: [dtlsRobustness], only: [ID], numRuns: 30, timeMs: 30_000, ioTimeoutMs: 800 });
    const r: CheckResult = run.byId.get(ID)!;
    show(r.reason);
    expect(r.verdict, verdictTable(run.results)).toBe('pass');
    expect(r.cases).toBe(30);
    expect(r.reason).toMatch(/^30 hostile DTLS cases, a handshake as \S+ after each \(30 cases in [\d.]+ s, [\d.]+ cases\/s\)/);
  });

  it('the watchdog restarts a crashed coaps on the same port: a handshake succeeds about 2 s after the crash', { timeout: 30_000 }, async () => {
    const d = await device(['dtls-crash-fragment']);
    const ep = d.endpoints.coaps;
    const psk = { identity: d.credentials.psk.sensor.identity, key: Buffer.from(d.credentials.psk.sensor.keyHex, 'hex') };
    const io = { scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs: 500, peer: 'coaps' };
    const handshake = async () => {
      const o = await openDtlsChannel(ep, psk, io);
      if (o.kind === 'open') await o.channel.close();
      return o.kind;
    };
    expect(await handshake()).toBe('open');
    // One fragment whose offset + length overruns its message: the flaw's trigger.
    const { createSocket } = await import('node:dgram');
    const s = createSocket('udp4');
    const crash = pack([{ msgType: HandshakeType.client_hello, messageSeq: 0, body: new Uint8Array(10), fragmentOffset: 5, length: 8 }], 'datagram-per-fragment', 0)[0]!;
    await new Promise<void>((r) => s.send(crash, ep.port, ep.host, () => r()));
    s.close();
    const crashedAt = Date.now();
    expect(await handshake()).not.toBe('open');
    await new Promise((r) => setTimeout(r, Math.max(0, crashedAt + RESTART_DELAY_MS + 500 - Date.now())));
    expect(await handshake()).toBe('open');
    expect(Date.now() - crashedAt).toBeLessThan(RECOVERY_MS);
  });

  it('close() stops a pending restart', async () => {
    const log: string[] = [];
    const d = await device(['dtls-crash-fragment'], (l) => log.push(l));
    const { createSocket } = await import('node:dgram');
    const s = createSocket('udp4');
    const crash = pack([{ msgType: HandshakeType.client_hello, messageSeq: 0, body: new Uint8Array(10), fragmentOffset: 5, length: 8 }], 'datagram-per-fragment', 0)[0]!;
    await new Promise<void>((r) => s.send(crash, d.endpoints.coaps.port, d.endpoints.coaps.host, () => r()));
    s.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(log.some((l) => /DTLS service crashed/.test(l))).toBe(true);
    await d.close();
    await new Promise((r) => setTimeout(r, RESTART_DELAY_MS + 300));
    expect(log.some((l) => /watchdog restarted/.test(l))).toBe(false);
    // The port stays free: bind it ourselves.
    const probe = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.bind(d.endpoints.coaps.port, d.endpoints.coaps.host, () => resolve());
    });
    probe.close();
  });
});

describe('transport.dtls-robustness error paths', () => {
  it('a service that never comes back: the finding says so and shrinking stops there', { timeout: 60_000 }, async () => {
    // The device's DTLS server alone, crash flaw on, no watchdog.
    const keyHex = '00112233445566778899aabbccddeeff';
    const server = await startDtlsServer({
      host: '127.0.0.1',
      port: 0,
      pskFor: (id) => (id === 'dev' ? Buffer.from(keyHex, 'hex') : undefined),
      suites: [SUITES.TLS_PSK_WITH_AES_128_CCM_8],
      cookies: true,
      replayWindow: true,
      crashOnBadFragment: true,
      log: () => {},
      onData: () => {},
    });
    servers.push(server);
    const input: TargetFileInput = {
      format: 'gauntlet-target/1',
      name: 'dies-once',
      scope: { hosts: ['127.0.0.1'] },
      interfaces: [{ id: 'coaps', protocol: 'coaps', role: 'server', url: `coaps://127.0.0.1:${server.port}` }],
      principals: { dev: { user: 'dev', pass: 'unused', psk: { identity: 'dev', keyHex } } },
    };
    const started = Date.now();
    const run = await runAgainst(input, { checks: [dtlsRobustness], only: [ID], numRuns: 30, timeMs: 30_000, ioTimeoutMs: 500 });
    const r = run.byId.get(ID)!;
    expect(r.verdict, verdictTable(run.results)).toBe('fail');
    const f = r.findings[0]!;
    expect(f.summary).toMatch(/the coaps service stopped answering handshakes; it did not come back within 5 s$/);
    expect(f.evidence.observed).toMatch(/shrinking stopped at this case/);
    expect(f.evidence.counterexample!.shrinks).toBe(0);
    expect(r.reason).toMatch(/target stopped answering afterwards/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('is inconclusive on a closed coaps port, before any case', async () => {
    const d = await device([]);
    const ctx = await contextOnClosedCoaps(d);
    const out = await dtlsRobustness.run(ctx);
    expect(out.verdict).toBe('inconclusive');
    expect(out.reason).toMatch(/^before any case: unreachable/);
    expect(out.cases).toBe(0);
  });

  it('without a principal PSK, judges liveness by a ClientHello answered (and still passes the hardened unit)', { timeout: 60_000 }, async () => {
    const d = await device([]);
    const input = d.targetFile();
    const principals = Object.fromEntries(Object.entries(input.principals ?? {}).map(([k, v]) => [k, { ...v, psk: undefined }]));
    const declaration = { ...input.declaration, update: undefined };
    const run = await runAgainst({ ...input, principals, declaration } as TargetFileInput, { checks: [dtlsRobustness], only: [ID], numRuns: 10, timeMs: 20_000, ioTimeoutMs: 800 });
    const r = run.byId.get(ID)!;
    expect(r.verdict, verdictTable(run.results)).toBe('pass');
    expect(r.reason).toMatch(/a ClientHello answered after each/);
  });
});
