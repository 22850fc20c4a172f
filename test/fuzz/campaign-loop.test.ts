// The fuzz check loop on its hot path (runCampaign over CoAP against an
// in-process device): a passing case's transcript is never built, but a
// finding's still holds every datagram with its hex and decoded line, the
// probe's ping and RST, and the probe's note. fast-check's per-run hooks are
// skipped only when none is configured: a global beforeEach/afterEach still
// runs around every run.

import { createSocket, type Socket } from 'node:dgram';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { runCampaign } from '../../harness/fuzz/campaign.js';
import { thresholdsFor } from '../../harness/fuzz/oracles.js';
import { TranscriptRecorder } from '../../harness/core/transcript.js';
import type { CoapInterface, FuzzCase } from '../../harness/model/index.js';

const sockets: Socket[] = [];
afterEach(() => {
  fc.resetConfigureGlobal();
  for (const s of sockets.splice(0)) s.close();
});

/** Answers pings with RST; a datagram starting 0xde 0xad makes it answer the next datagram from the same port with bytes that are not CoAP. */
async function device(): Promise<{ iface: CoapInterface }> {
  const s = createSocket('udp4');
  sockets.push(s);
  const broken = new Set<number>();
  s.on('message', (m, from) => {
    if (m.length === 4 && m[0] === 0x40 && m[1] === 0) s.send(Buffer.from([0x70, 0x00, m[2]!, m[3]!]), from.port, from.address);
    else if (broken.delete(from.port)) s.send(Buffer.from([0xff, 0xee]), from.port, from.address);
    else if (m[0] === 0xde && m[1] === 0xad) broken.add(from.port);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return { iface: { id: 'sensors', protocol: 'coap', host: '127.0.0.1', port: s.address().port, role: 'server' } };
}

const step = (label: string, bytes: number[]) => ({ label, bytes: Uint8Array.from(bytes) });
const harmless: FuzzCase = { label: 'harmless', steps: [step('CON GET /a', [0x40, 0x01, 0x00, 0x01, 0xb1, 0x61]), step('NON GET /b', [0x50, 0x01, 0x00, 0x02, 0xb1, 0x62])] };
const breaking: FuzzCase = { label: 'breaking', steps: [step('dead', [0xde, 0xad, 0xbe, 0xef]), step('after', [0x40, 0x01, 0x00, 0x03])] };

const options = (iface: CoapInterface, cases: fc.Arbitrary<FuzzCase>, numRuns: number) => ({
  iface,
  cases,
  seed: 7,
  numRuns,
  timeMs: 20_000,
  thresholds: thresholdsFor(500),
  send: { stepWaitMs: 5, quietMs: 2 },
  rebootWaitMs: 1000,
  maxFindings: 1,
  io: { scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs: 500, peer: 'sensors' },
});

describe('runCampaign over CoAP', () => {
  it('a finding keeps the whole exchange: every datagram with hex and its decoded line, the ping, the RST, the probe', async () => {
    const d = await device();
    const r = await runCampaign(options(d.iface, fc.constantFrom(harmless, breaking), 30));
    expect(r.findings).toHaveLength(1);
    const f = r.findings[0]!;
    expect(f.oracle).toBe('invalid-response');
    expect(f.cases.map((c) => c.label)).toEqual(['breaking']);
    const t = f.transcript;
    expect(t.map((e) => e.dir)).toEqual(['sent', 'sent', 'received', 'note', 'sent', 'received', 'note']);
    expect(t[0]).toMatchObject({ dir: 'sent', peer: 'sensors', decoded: 'dead', hex: 'deadbeef' });
    expect(t[1]).toMatchObject({ dir: 'sent', decoded: 'after', hex: '40010003' });
    expect(t[2]).toMatchObject({ dir: 'received', decoded: 'datagram, 2 bytes', hex: 'ffee' });
    expect(t[3]).toMatchObject({ dir: 'note', decoded: 'all datagrams sent' });
    expect(t[4]).toMatchObject({ dir: 'sent', decoded: expect.stringMatching(/^CON empty \(ping\) mid=\d+$/), hex: expect.stringMatching(/^4000[0-9a-f]{4}$/) });
    expect(t[5]).toMatchObject({ dir: 'received', decoded: expect.stringMatching(/^RST empty mid=\d+ token=-$/), hex: `70${t[4]!.hex!.slice(2)}` });
    expect(t[6]).toMatchObject({ dir: 'note', peer: '-', decoded: expect.stringMatching(/^probe: RST to CoAP ping \(\d+\.\d ms\)$/) });
    expect(t.every((e, i) => i === 0 || e.t >= t[i - 1]!.t)).toBe(true);
  });

  it('runs fast-check\'s global hooks around every run when some are configured', async () => {
    const d = await device();
    let before = 0;
    let after = 0;
    fc.configureGlobal({ beforeEach: () => void before++, afterEach: () => void after++ });
    const r = await runCampaign(options(d.iface, fc.constant(harmless), 5));
    expect(r).toMatchObject({ cases: 5, ended: 'cases', findings: [] });
    expect([before, after]).toEqual([5, 5]);
  });
});
