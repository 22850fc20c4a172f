// robustness.flood, proven both ways on the reference device: the hardened
// unit keeps answering during every flood (mqtts, coap, coaps, https) and
// recovers; no-connection-limit fails the connection flood (mqtts and https
// share the slots) and slow-request-starvation fails the slowloris flood of
// https. Error paths: a device down before the flood, an aborted run (and no
// socket left behind), a server that stops serving past a number of
// connections (and one that never comes back), a device that floods garbage
// back over TCP and UDP. Real sockets on 127.0.0.1, closed in afterEach.

import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { floodLatencyOf, MAX_CONNECTIONS, READ_CAP, RECOVERY_MS, robustnessFlood } from '../../../harness/checks/robustness/flood.js';
import type { CheckOutcome, Target } from '../../../harness/model/index.js';
import { DEFAULT_FLOOD_LATENCY_MS } from '../../../harness/model/bench.js';
import { startReferenceDevice, type Flaw, type RunningDevice } from '../../../targets/reference-device/index.js';
import { closeFakes, closedPort, coapPingResponder, contextFor, targetOf, udpServer } from '../access/fakes.js';
import { runAgainst } from '../../support/run-target.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));
  await closeFakes();
});

/** A target whose declaration names the flood latency (the reference device's file does not). */
function withLatency(t: Target, ms: number): Target {
  return { ...t, declaration: { ...t.declaration, performance: { floors: [], floodLatencyMs: ms } } as Target['declaration'] };
}

const CONNACK_5 = Buffer.from('20020005', 'hex');

/**
 * A TCP "broker" that answers every CONNECT with CONNACK 5, on at most `cap`
 * connections at once: past that it accepts and never reads (a device out of
 * descriptors, its backlog never served). `forever`: once past the cap it
 * never serves anyone again.
 */
async function cappedBroker(cap: number, forever = false): Promise<{ port: number; open: () => number }> {
  const sockets = new Set<Socket>();
  let broken = false;
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    // Past the cap (or once broken) the bytes are drained, never answered: only the close is seen.
    if (sockets.size > cap || broken) {
      if (forever) broken = true;
      s.resume();
      return;
    }
    s.on('data', (b: Buffer) => {
      if (b[0] === 0x10) s.end(CONNACK_5);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
  return { port: (server.address() as { port: number }).port, open: () => sockets.size };
}

const mqttTarget = (port: number) => targetOf({ interfaces: [{ id: 'broker', protocol: 'mqtt', url: `mqtt://127.0.0.1:${port}` }] });
const coapTarget = (port: number) => targetOf({ interfaces: [{ id: 'sensors', protocol: 'coap', url: `coap://127.0.0.1:${port}` }] });

/** Open sockets of this process, by kind. */
function handles(): { tcp: number; udp: number } {
  const all = process.getActiveResourcesInfo();
  return { tcp: all.filter((r) => r === 'TCPSocketWrap').length, udp: all.filter((r) => r === 'UDPWrap').length };
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('robustness.flood: error paths', () => {
  it('reads the flood latency from declaration.performance, else the default', () => {
    const t = mqttTarget(1883);
    expect(floodLatencyOf(t)).toEqual({ ms: DEFAULT_FLOOD_LATENCY_MS, declared: false });
    expect(floodLatencyOf(withLatency(t, 750))).toEqual({ ms: 750, declared: true });
  });

  it('a device down before the flood is inconclusive, and nothing is flooded', async () => {
    const out = await robustnessFlood.run(contextFor(mqttTarget(await closedPort('tcp'))));
    expect(out.verdict).toBe('inconclusive');
    expect(out.reason).toMatch(/^the device did not answer before the flood \(connect failed: ECONNREFUSED\)/);
    expect(out.cases).toBe(0);
  });

  it('an aborted connection flood is inconclusive and leaves no socket behind', async () => {
    const broker = await cappedBroker(10_000);
    const before = handles();
    const ac = new AbortController();
    const ctx = contextFor(mqttTarget(broker.port), { signal: ac.signal, ioTimeoutMs: 1000 });
    setTimeout(() => ac.abort(), 400);
    const t0 = Date.now();
    const out = await robustnessFlood.run(ctx);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(out.verdict, out.reason).toBe('inconclusive');
    expect(out.reason).toMatch(/^interrupted during the connection flood/);
    expect(out.findings).toEqual([]);
    // The device side sees every flood connection go, and this process holds no socket more than before.
    await until('the broker to see every connection closed', () => broker.open() === 0);
    await until('the sockets to be released', () => handles().tcp <= before.tcp);
    expect(handles().udp).toBeLessThanOrEqual(before.udp);
  });

  it('an aborted request flood leaves no UDP socket behind', async () => {
    const device = await udpServer(coapPingResponder);
    const before = handles();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const out = await robustnessFlood.run(contextFor(coapTarget(device.port), { signal: ac.signal }));
    expect(out.verdict, out.reason).toBe('inconclusive');
    expect(device.seen.length).toBeGreaterThan(50);
    await until('the UDP sockets to close', () => handles().udp <= before.udp);
    expect(handles().tcp).toBeLessThanOrEqual(before.tcp);
  });

  it('a server that stops serving past 16 connections fails, with what was in flight, and recovers once the flood is gone', async () => {
    const broker = await cappedBroker(16);
    const ctx = contextFor(withLatency(mqttTarget(broker.port), 300), { ioTimeoutMs: 1000, seed: 7 });
    const out: CheckOutcome = await robustnessFlood.run(ctx);
    expect(out.verdict, out.reason).toBe('fail');
    expect(out.findings).toHaveLength(1);
    const f = out.findings[0]!;
    expect(f.severity).toBe('high');
    expect(f.summary).toMatch(/^connection flood on broker: the MQTT CONNECT probe was not answered \(no CONNACK within 300 ms, after \d+ ms; 300 ms allowed\) while \d+ connections were held \(\d+ opened\), \d+ ms into the flood, and the next probe was not answered in time either \(no CONNACK within 300 ms after \d+ ms\); it answered again [\d.]+ ms after the flood stopped$/);
    expect(f.evidence.declared).toMatch(/within 300 ms during each flood \(declaration\.performance\.floodLatency\)/);
    expect(f.evidence.source).toBe('target:declaration.performance.floodLatency');
    expect(f.evidence.observed).toMatch(/probes during the flood:\n {2}probe 1 at /);
    expect(f.evidence.observed).toMatch(/<- no answer in time/);
    expect(f.evidence.observed).toContain('instance seed 7');
    expect(f.evidence.transcript.some((e) => e.dir === 'sent' && /CONNECT \(flood probe/.test(e.decoded))).toBe(true);
    expect(f.evidence.transcript.some((e) => /connection flood stopped after/.test(e.decoded))).toBe(true);
    expect(out.stats!['connectionsOpened']).toBeGreaterThan(16);
    await until('the broker to see every connection closed', () => broker.open() === 0);
  }, 20_000);

  it('one late probe that the next one does not confirm is a stall in the evidence, not a finding', async () => {
    // A broker that serves every CONNECT but leaves the first one during the flood unanswered.
    const sockets = new Set<Socket>();
    let connects = 0;
    const server: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
      s.on('data', (b: Buffer) => {
        if (b[0] !== 0x10) return;
        connects++;
        if (connects === 3) return;
        s.end(CONNACK_5);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => (sockets.forEach((x) => x.destroy()), server.close(() => r()))));
    const port = (server.address() as { port: number }).port;
    const out = await robustnessFlood.run(contextFor(withLatency(mqttTarget(port), 300), { ioTimeoutMs: 1000 }));
    expect(out.verdict, out.reason).toBe('pass');
    expect(out.findings).toEqual([]);
    expect(out.reason).toMatch(/1 probe late \(probe 2: no CONNACK within 300 ms after \d+ ms\), the next answered in time: a stall, not a denial of service/);
    expect(out.evidence?.observed).toMatch(/a stall, not a denial of service/);
  }, 20_000);

  it('a server that never serves again after the flood fails for not recovering', async () => {
    const broker = await cappedBroker(16, true);
    const out = await robustnessFlood.run(contextFor(withLatency(mqttTarget(broker.port), 300), { ioTimeoutMs: 1000 }));
    expect(out.verdict, out.reason).toBe('fail');
    expect(out.findings[0]!.summary).toMatch(new RegExp(`; it did not answer again within ${RECOVERY_MS} ms after the flood stopped \\(no CONNACK within \\d+ ms\\)$`));
    expect(out.findings[0]!.evidence.observed).toMatch(new RegExp(`after the flood: no answer within ${RECOVERY_MS} ms \\(\\d+ probes; `));
  }, 20_000);

  it('a device that floods garbage back on every idle connection does not hold the check', async () => {
    const sockets = new Set<Socket>();
    const junk = Buffer.alloc(16 * 1024, 0xa5);
    const server = createServer((s) => {
      sockets.add(s);
      let spoke = false;
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
      s.on('data', (b: Buffer) => {
        spoke = true;
        if (b[0] === 0x10) s.end(CONNACK_5);
      });
      // Whoever stays silent for 20 ms gets garbage as fast as it reads it.
      const spew = () => {
        if (spoke || s.destroyed) return;
        if (s.write(junk)) setImmediate(spew);
        else s.once('drain', spew);
      };
      setTimeout(spew, 20);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
    const t0 = Date.now();
    const out = await robustnessFlood.run(contextFor(mqttTarget((server.address() as { port: number }).port), { ioTimeoutMs: 1000 }));
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(out.verdict, out.reason).toBe('pass');
    expect(out.reason).toMatch(new RegExp(`the device sent \\d+ bytes on them, \\d+ closed after more than ${READ_CAP} bytes`));
  }, 20_000);

  it('a CoAP device that answers every datagram with a burst of garbage does not hold the check', async () => {
    const device = await udpServer((msg, from, sock) => {
      coapPingResponder(msg, from, sock);
      for (let i = 0; i < 8; i++) sock.send(Buffer.alloc(512, i), from.port, from.address);
    });
    const t0 = Date.now();
    const out = await robustnessFlood.run(contextFor(coapTarget(device.port), { ioTimeoutMs: 1000 }));
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(out.verdict, out.reason).toBe('pass');
    expect(out.reason).toMatch(/request flood: \d+ CoAP CON GETs sent from 16 source ports/);
  }, 20_000);

  it('a client interface is not flooded', () => {
    const t = targetOf({ interfaces: [{ id: 'uplink', protocol: 'mqtt', url: 'mqtt://127.0.0.1:1883', role: 'client' }] });
    expect(robustnessFlood.applies(t, t.interfaces[0]!)).toMatch(/the device is a client here/);
  });
});

/** Each test owns its unit (the tests run concurrently). */
async function withDevice<T>(flaws: readonly Flaw[], fn: (d: RunningDevice) => Promise<T>): Promise<T> {
  const d = await startReferenceDevice({ flaws, factoryFresh: false });
  try {
    return await fn(d);
  } finally {
    await d.close();
  }
}

const flood = (d: RunningDevice, only?: string[]) => runAgainst(d.targetFile(), { checks: [robustnessFlood], ioTimeoutMs: 1500, ...(only ? { only } : {}) });

describe.concurrent('robustness.flood on the reference device', () => {
  it('hardened: every interface keeps answering during its floods and after them', () =>
    withDevice([], async (d) => {
      const run = await flood(d);
      expect(run.results.map((r) => r.instance.id).sort()).toEqual(['robustness.flood@coap', 'robustness.flood@coaps', 'robustness.flood@https', 'robustness.flood@mqtts']);
      for (const r of run.results) expect(r.verdict, `${r.instance.id}: ${r.reason}`).toBe('pass');
      const mqtts = run.byId.get('robustness.flood@mqtts')!;
      // The unit's per-service cap evicts the idle flood connections; the probes get through.
      expect(mqtts.reason).toMatch(new RegExp(`^every probe answered within ${DEFAULT_FLOOD_LATENCY_MS} ms during the flood, and after it: connection flood: ${MAX_CONNECTIONS} of ${MAX_CONNECTIONS} connections opened and held sending nothing \\([1-9]\\d* closed by the device`));
      expect(mqtts.reason).toMatch(/probes answered in time, p50 [\d.]+ ms, max [\d.]+ ms; answered again [\d.]+ ms after it/);
      expect(run.byId.get('robustness.flood@https')!.reason).toMatch(/slow-request flood \(slowloris\): 32 of 32 connections sent request heads .*[1-9]\d* closed by the device/);
      expect(run.byId.get('robustness.flood@coaps')!.reason).toMatch(/ClientHello flood: \d+ ClientHellos without a cookie sent/);
      expect(run.byId.get('robustness.flood@coap')!.stats!['requestsSent']).toBeGreaterThan(0);
      for (const r of run.results) expect(Number(r.stats!['probes']), r.instance.id).toBeGreaterThanOrEqual(3);
    }), 60_000);

  it('no-connection-limit: the connection flood on mqtts starves the probe, and the unit recovers once it stops', () =>
    withDevice(['no-connection-limit'], async (d) => {
      const run = await flood(d, ['robustness.flood@mqtts', 'robustness.flood@coap']);
      const r = run.byId.get('robustness.flood@mqtts')!;
      expect(r.verdict, r.reason).toBe('fail');
      const f = r.findings[0]!;
      expect(f.summary).toMatch(/^connection flood on mqtts: the MQTT CONNECT probe was not answered \(.*\) while \d+ connections were held .*; it answered again [\d.]+ ms after the flood stopped$/);
      expect(f.replay).toMatch(/^gauntlet replay /);
      expect(f.requirements).toEqual(expect.arrayContaining(['EN-18031-1:RLM-1']));
      // UDP is not what the flaw starves.
      expect(run.byId.get('robustness.flood@coap')!.verdict).toBe('pass');
    }), 60_000);

  it('slow-request-starvation: the slowloris flood on https starves the probe; the connection flood does not', () =>
    withDevice(['slow-request-starvation'], async (d) => {
      const run = await flood(d, ['robustness.flood@https']);
      const r = run.byId.get('robustness.flood@https')!;
      expect(r.verdict, r.reason).toBe('fail');
      expect(r.findings).toHaveLength(1);
      expect(r.findings[0]!.summary).toMatch(/^slow-request flood \(slowloris\) on https: the GET \/api\/health probe was not answered \(no HTTP reply within 2000 ms.*\) while \d+ connections were sending request heads a byte every 200 ms/);
      expect(r.findings[0]!.evidence.observed).toMatch(/^slow-request flood \(slowloris\): /);
      expect(r.reason).not.toMatch(/^connection flood/);
    }), 60_000);
});
