// robustness.fuzz, proven both ways: each robustness flaw of the reference
// device is found from an empty corpus by the default generators (pinned
// seeds), shrunk, confirmed on the recovered device and replayed from its
// path; the hardened device gives no finding. Batches of cases between
// probes are bisected down to the case that does it. A device that does not
// come back still leaves its finding, and target control restarts it. Error
// paths: a target that is down before fuzzing, a peer whose replies do not
// parse (invalid-response), an interrupted campaign, a failing restart.

import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { robustnessFuzz } from '../../../harness/checks/robustness/fuzz.js';
import { targetFromObject } from '../../../harness/core/target-file.js';
import type { Budget, CheckContext, Target, TargetControl } from '../../../harness/model/index.js';
import { startReferenceDevice, type Flaw, type RunningDevice } from '../../../targets/reference-device/index.js';
import { closeFakes, closedPort, contextFor, targetOf } from '../access/fakes.js';
import { runAgainst } from '../../support/run-target.js';

const servers: { close(): void }[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) s.close();
  await closeFakes();
});

/** Each test owns its unit (the tests run concurrently). A quick watchdog: every crash costs one restart delay while shrinking; a wedge outlasts the hang threshold. */
async function withDevice<T>(flaws: readonly Flaw[], fn: (d: RunningDevice) => Promise<T>, rebootMs = 200): Promise<T> {
  const d = await startReferenceDevice({ flaws, factoryFresh: false, rebootMs, hangMs: 2500 });
  try {
    return await fn(d);
  } finally {
    await d.close();
  }
}

const fuzz = (d: RunningDevice, iface: string, opts: { numRuns?: number; replayPath?: string } = {}) =>
  runAgainst(d.targetFile(), {
    checks: [robustnessFuzz],
    only: [`robustness.fuzz@${iface}`],
    numRuns: opts.numRuns ?? 60,
    timeMs: 60_000,
    ioTimeoutMs: 1000,
    ...(opts.replayPath ? { replayPath: opts.replayPath } : {}),
  });

/** Flaw, interface, the rule the shrunk case names, the oracle, and how many steps it may keep: each failing shrink attempt on a hang costs a whole wedge, so shrinking a hang stops at the grace period sooner. */
const CASES: readonly (readonly [Flaw, string, RegExp, string, number])[] = [
  ['mqtt-crash-remaining-length', 'mqtts', /5-byte varint/, 'crash', 2],
  ['mqtt-hang-qos2', 'mqtts', /PUBREL/, 'hung', 4],
  ['coap-crash-option', 'coap', /option number past 65535/, 'crash', 2],
  ['coap-block-leak', 'coap', /Size1 of 2\^32-1/, 'crash', 2],
  ['http-crash-header', 'https', /Host|request-target/, 'crash', 2],
];

describe.concurrent('robustness.fuzz on the reference device', () => {
  for (const [flaw, iface, rule, what, maxSteps] of CASES) {
    it(`${flaw}: found from an empty corpus, shrunk, confirmed, and replayed from its path`, () => withDevice([flaw], async (d) => {
      const run = await fuzz(d, iface);
      const r = run.byId.get(`robustness.fuzz@${iface}`)!;
      expect(r.verdict, r.reason).toBe('fail');
      const f = r.findings[0]!;
      expect(f.summary).toMatch(rule);
      expect(f.summary).toContain(what === 'hung' ? 'hung after' : 'stopped answering (crash)');
      expect(f.summary).toContain('confirmed');
      // Shrunk: at most the CONNECT (or nothing) before the one breaking step (a hang: see CASES).
      expect(f.evidence.counterexample!.value.split(' | ').length).toBeLessThanOrEqual(maxSteps);
      expect(f.evidence.observed).toMatch(/shrunk case \(\d+ shrinks\):\n {2}1\. /);
      expect(f.evidence.transcript.some((e) => e.dir === 'sent' && e.hex)).toBe(true);
      // The replay sends exactly the shrunk case, and it fails again.
      const again = await fuzz(d, iface, { replayPath: f.evidence.counterexample!.path });
      const r2 = again.byId.get(`robustness.fuzz@${iface}`)!;
      expect(r2.verdict, r2.reason).toBe('fail');
      expect(r2.findings[0]!.evidence.counterexample!.value).toBe(f.evidence.counterexample!.value);
    }), 240_000);
  }

  it('hardened device: no finding on mqtts, coap or https, with the sentinels watching', () => withDevice([], async (d) => {
    const run = await runAgainst(d.targetFile(), { checks: [robustnessFuzz], numRuns: 30, timeMs: 30_000 });
    expect(run.results.map((r) => r.instance.id).sort()).toEqual(['robustness.fuzz@coap', 'robustness.fuzz@https', 'robustness.fuzz@mqtts']);
    for (const r of run.results) expect(r.verdict, `${r.instance.id}: ${r.reason}`).toBe('pass');
    expect(run.byId.get('robustness.fuzz@mqtts')!.reason).toMatch(/^no crash, hang, reboot, invalid reply or latency creep: 240 cases in .*watching the persistent MQTT session gauntlet-sentinel-\w+ of admin/);
    expect(run.byId.get('robustness.fuzz@https')!.reason).toContain('watching the session of admin on GET /api/config');
  }), 240_000);
});

describe('robustness.fuzz: error paths', () => {
  it('a target down before fuzzing is inconclusive, never a pass', async () => {
    const target = targetOf({ interfaces: [{ id: 'broker', protocol: 'mqtt', url: `mqtt://127.0.0.1:${await closedPort('tcp')}` }] });
    const out = await robustnessFuzz.run(contextFor(target));
    expect(out.verdict).toBe('inconclusive');
    expect(out.reason).toMatch(/^the target did not answer before fuzzing: connect failed: ECONNREFUSED/);
    expect(out.cases).toBe(0);
  });

  it('invalid-response: a broker that answers CONNECT but sends bytes that are not MQTT afterwards', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('data', (b: Buffer) => s.write(b[0] === 0x10 ? Buffer.from('20020000', 'hex') : Buffer.from('f0ff', 'hex')));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push({ close: () => (sockets.forEach((s) => s.destroy()), server.close()) });
    const port = (server.address() as { port: number }).port;
    const target = targetOf({ interfaces: [{ id: 'broker', protocol: 'mqtt', url: `mqtt://127.0.0.1:${port}` }] });
    const ctx = contextFor(target, { ioTimeoutMs: 500, seed: 5 });
    const out = await robustnessFuzz.run({ ...ctx, budget: { numRuns: 5, timeMs: 10_000 } });
    expect(out.verdict).toBe('fail');
    expect(out.findings[0]!.summary).toMatch(/^MQTT sent a reply that does not parse after /);
    expect(out.findings[0]!.evidence.observed).toMatch(/reply is not valid MQTT/);
  });

  it('latency creep is judged by the run\'s thresholds: a device that slows by 200 ms is creep under a 100 ms floor, not under the default 250 ms', async () => {
    // A CoAP peer that answers pings (an empty CON, with RST) at once for its first 12, then 200 ms late.
    const sock = createSocket('udp4');
    let pings = 0;
    sock.on('message', (m, r) => {
      if (m.length !== 4 || m[1] !== 0 || (m[0]! & 0x30) !== 0) return;
      const rst = Buffer.from([0x70, 0x00, m[2]!, m[3]!]);
      setTimeout(() => sock.send(rst, r.port, r.address), ++pings > 12 ? 200 : 0);
    });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    servers.push({ close: () => sock.close() });
    const target = targetOf({ interfaces: [{ id: 'sensors', protocol: 'coap', url: `coap://127.0.0.1:${sock.address().port}` }] });
    const run = (fuzz?: CheckContext['fuzz']) => {
      pings = 0;
      const ctx = contextFor(target, { ioTimeoutMs: 1000, seed: 3 });
      return robustnessFuzz.run({ ...ctx, budget: { numRuns: 3, timeMs: 30_000 }, ...(fuzz ? { fuzz } : {}) });
    };
    const tuned = await run({ latencyWindow: 5, latencyFloorMs: 100 });
    expect(tuned.verdict, tuned.reason).toBe('fail');
    expect(tuned.findings[0]!.summary).toMatch(/probe latency crept up during the campaign: probe median 2\d\d\.\d ms over the last 5 cases, baseline \d+\.\d ms \(threshold x10 and \+100 ms\)/);
    const defaults = await run({ latencyWindow: 5 });
    expect(defaults.verdict, defaults.reason).toBe('pass');
  }, 60_000);

  it('an interrupted campaign is inconclusive', () => withDevice([], async (d) => {
    const { targetFromObject } = await import('../../../harness/core/target-file.js');
    const target = targetFromObject(d.targetFile(), 'test');
    const ac = new AbortController();
    const ctx = contextFor(target, { signal: ac.signal });
    const coap = target.interfaces.find((i) => i.id === 'coap')!;
    setTimeout(() => ac.abort(), 300);
    const out = await robustnessFuzz.run({ ...ctx, iface: coap, budget: { numRuns: 10_000, timeMs: 30_000 } });
    expect(out.verdict).toBe('inconclusive');
    expect(out.reason).toMatch(/^interrupted; \d+ cases/);
  }));
});

describe.concurrent('robustness.fuzz: batches and recovery', () => {
  /** The coap interface of a unit, with a context to run the check on it directly. */
  const coapContext = async (d: RunningDevice, control?: Target['control'], budget: Budget = { numRuns: 60, timeMs: 60_000 }, extra: Partial<CheckContext> = {}) => {
    const base = targetFromObject(d.targetFile(), 'test');
    const target: Target = control ? { ...base, control } : base;
    const ctx = contextFor(target, { ioTimeoutMs: 1000, seed: 20261121 });
    return { ...ctx, iface: target.interfaces.find((i) => i.id === 'coap')!, budget, ...extra };
  };

  it('a batch of eight cases per probe is bisected down to the one case that crashes the device', () => withDevice(['coap-crash-option'], async (d) => {
    const out = await robustnessFuzz.run(await coapContext(d, undefined, { numRuns: 60, timeMs: 60_000, batch: 8 }));
    expect(out.verdict, out.reason).toBe('fail');
    const f = out.findings[0]!;
    expect(f.summary).toMatch(/option number past 65535.*confirmed/);
    expect(f.evidence.fuzz!.connections, f.evidence.observed).toHaveLength(1);
    expect(f.evidence.fuzz!.oracle).toBe('crash');
    expect(f.evidence.fuzz!.confirmed).toBe(true);
    expect(out.stats!['batch']).toBe(8);
  }), 120_000);

  it('batches on a hardened device: one probe for several cases, and no finding', () => withDevice([], async (d) => {
    const out = await robustnessFuzz.run(await coapContext(d, undefined, { numRuns: 20, timeMs: 60_000, batch: 8 }));
    expect(out.verdict, out.reason).toBe('pass');
    // The case budget is checked before each batch: the last one may run past it by up to seven cases.
    const cases = Number(out.stats!['cases']);
    expect(cases).toBeGreaterThanOrEqual(160);
    expect(cases).toBeLessThan(168);
    // The first look plus one probe per batch of one to eight cases.
    expect(Number(out.stats!['probes'])).toBeLessThan(cases / 2);
  }), 120_000);

  it('a device that never comes back: the crashing case is still the finding, unshrunk and unconfirmed, and the reason says no restart is declared', () =>
    withDevice(['coap-crash-option'], async (d) => {
      const out = await robustnessFuzz.run(await coapContext(d, { rebootWaitMs: 500 }));
      expect(out.verdict, out.reason).toBe('fail');
      expect(out.findings[0]!.summary).toMatch(/stopped answering \(crash\) after .*the target did not come back, so not confirmed/);
      expect(out.findings[0]!.evidence.fuzz!.confirmed).toBe(false);
      expect(out.reason).toMatch(/then the target did not come back within 500 ms .*no restart is declared \(target file control\.restart\)/);
      expect(out.stats!['ended']).toBe('target-down');
    }, 60_000), 120_000);

  it('target control restarts a device that does not come back on its own, and the campaign goes on', () =>
    withDevice(['coap-crash-option'], async (d) => {
      let restarts = 0;
      // The "restart" here is the unit's own watchdog, slowed so the campaign gives up waiting first.
      const control: TargetControl = {
        rebootWaitMs: 300,
        async restart() {
          restarts++;
          await new Promise((r) => setTimeout(r, 1200));
          return 'power-cycled the test unit';
        },
      };
      const out = await robustnessFuzz.run(await coapContext(d, undefined, { numRuns: 60, timeMs: 60_000 }, { control }));
      expect(out.verdict, out.reason).toBe('fail');
      expect(out.findings[0]!.summary).toMatch(/confirmed\)$/);
      expect(restarts).toBeGreaterThan(0);
      expect(out.stats!['restarts']).toBe(restarts);
      expect(out.reason).toMatch(/restart\(s\) through target control/);
    }, 1000), 120_000);

  it('a device that dies on its own timer, not on an input: one finding counting the times, and the campaign runs to its budget', async () => {
    // A CoAP peer that answers pings, closes its socket every 1.5 s (refusing everything), and is back 100 ms later.
    let sock: ReturnType<typeof createSocket> | undefined;
    let port = 0;
    let stopped = false;
    const open = async () => {
      const s = createSocket('udp4');
      s.on('message', (m, r) => {
        if (m.length === 4 && m[1] === 0 && (m[0]! & 0x30) === 0) s.send(Buffer.from([0x70, 0x00, m[2]!, m[3]!]), r.port, r.address);
      });
      await new Promise<void>((res) => s.bind(port, '127.0.0.1', res));
      port = s.address().port;
      sock = s;
    };
    await open();
    const timer = setInterval(() => {
      sock?.close();
      sock = undefined;
      setTimeout(() => void (stopped ? undefined : open()), 100);
    }, 1500);
    // Closed here, not in afterEach: the tests of this block run concurrently, and afterEach follows each of them.
    const target = targetOf({ interfaces: [{ id: 'sensors', protocol: 'coap', url: `coap://127.0.0.1:${port}` }] });
    const ctx = contextFor(target, { ioTimeoutMs: 500, seed: 4 });
    const out = await robustnessFuzz.run({ ...ctx, budget: { numRuns: 100_000, timeMs: 7000 } }).finally(() => {
      stopped = true;
      clearInterval(timer);
      sock?.close();
    });
    expect(out.verdict, out.reason).toBe('fail');
    const timed = out.findings.find((f) => /stopped answering \(crash\) \d+ times? during the campaign; the input sent just before did not do it again on its own/.test(f.summary));
    expect(timed, out.reason).toBeDefined();
    expect(timed!.evidence.observed).toMatch(/the input sent just before each time:\n {2}1\. /);
    expect(timed!.evidence.fuzz!.confirmed).toBe(false);
    expect(timed!.evidence.observed).toMatch(/\ncase as sent:\n/);
    // Sent again at once on the recovered device, the input survives: no coincidence is shrunk or confirmed.
    expect(out.findings.filter((f) => f.evidence.fuzz!.confirmed)).toEqual([]);
    expect(out.stats!['ended']).toBe('budget');
  }, 90_000);

  it('a restart that fails ends the campaign with the restart error in the reason', () =>
    withDevice(['coap-crash-option'], async (d) => {
      const control: TargetControl = {
        rebootWaitMs: 300,
        restart: () => Promise.reject(new Error('control.restart.command (smartplug off-on) failed with exit code 2')),
      };
      const out = await robustnessFuzz.run(await coapContext(d, undefined, { numRuns: 60, timeMs: 60_000 }, { control }));
      expect(out.verdict, out.reason).toBe('fail');
      expect(out.reason).toMatch(/restarting it failed: control\.restart\.command \(smartplug off-on\) failed with exit code 2/);
    }, 60_000), 120_000);
});
