// The flaw matrix: every check is proven both ways. With each flaw switched
// on, exactly the check instances that target it fail, each with evidence
// and a replay command; on the hardened device every check passes.

import { describe, expect, it, vi } from 'vitest';
import { startReferenceDevice, type Flaw, type RunningDevice, FLAWS } from '../../targets/reference-device/index.js';
import type { TargetFileInput } from '../../harness/core/target-file.js';
import { runAgainst, verdictTable } from '../support/run-target.js';

/** Which instances each flaw must fail, and nothing else. */
const EXPECTED: Readonly<Record<Flaw, readonly string[]>> = {
  // Issue 2: authentication
  'default-credentials': ['auth.default-credentials@https', 'auth.default-credentials@mqtts'],
  'derived-credentials': ['auth.default-credentials@https', 'auth.default-credentials@mqtts'],
  // Anonymous sessions get full rights: they also read $SYS (aedes publishes other clients' ids
  // there) and can publish the firmware pull trigger. Three true findings.
  'anonymous-mqtt': ['access.unauthenticated-disclosure@target', 'auth.anonymous-access@mqtts', 'update.authorization@mqtts'],
  'anonymous-http': ['auth.anonymous-access@https'],
  'no-lockout': ['auth.brute-force@https', 'auth.brute-force@mqtts'],
  'no-forced-change': ['auth.first-use-change@https', 'auth.first-use-change@mqtts'],
  'password-prefix-match': ['auth.credential-robustness@https', 'auth.credential-robustness@mqtts'],
  // Issue 3: logical access control
  'anonymous-coap-config': ['access.coap-resources@coap'],
  'coap-hidden-resource': ['access.coap-resources@coap'],
  'coap-method-confusion': ['access.coap-resources@coap'],
  'acl-wildcard-leak': ['access.mqtt-topics@mqtts'],
  'acl-prefix-match': ['access.mqtt-topics@mqtts'],
  'will-bypass': ['access.mqtt-topics@mqtts'],
  'retained-bypass': ['access.mqtt-topics@mqtts'],
  'http-idor': ['access.http-routes@https'],
  'http-path-normalisation': ['access.http-routes@https'],
  'debug-port': ['access.exposed-surface@target'],
  'verbose-errors': ['access.unauthenticated-disclosure@target'],
  // Issue 4: secure update (the device is restored to its baseline before every update check).
  // Image verification flaws show on all three paths: pushed over HTTPS (@https), pushed
  // block-wise over coaps (@coaps) and pulled (@mqtts).
  'unsigned-accepted': ['update.unsigned@coaps', 'update.unsigned@https', 'update.unsigned@mqtts'],
  // No signature check at all: tampered, unsigned and foreign-signed images all install.
  'digest-only': [
    'update.tamper@coaps',
    'update.tamper@https',
    'update.tamper@mqtts',
    'update.unsigned@coaps',
    'update.unsigned@https',
    'update.unsigned@mqtts',
    'update.wrong-signer@coaps',
    'update.wrong-signer@https',
    'update.wrong-signer@mqtts',
  ],
  'manifest-only-signature': ['update.tamper@coaps', 'update.tamper@https', 'update.tamper@mqtts'],
  'rollback-allowed': ['update.rollback@coaps', 'update.rollback@https', 'update.rollback@mqtts'],
  // The HTTP route's and the coaps resource's authorisation (any identity, and plain CoAP);
  // pull triggers are governed by the MQTT ACL.
  'update-no-auth': ['update.authorization@coaps', 'update.authorization@https'],
  'brick-on-interrupt': ['update.interrupted@coaps', 'update.interrupted@https', 'update.interrupted@mqtts'],
  'pull-any-certificate': ['update.channel@mqtts'],
  // Issue 5: DTLS on coaps.
  'dtls-no-cookie': ['transport.dtls-handshake@coaps'],
  'dtls-weak-suite': ['transport.dtls-handshake@coaps'],
  'dtls-default-psk': ['auth.default-credentials@coaps'],
  'dtls-no-replay-window': ['transport.dtls-replay@coaps'],
  // The crash is found, shrunk and replayable; the device's watchdog brings coaps back for the checks after it.
  'dtls-crash-fragment': ['transport.dtls-robustness@coaps'],
  // Issue 5: TLS and plaintext (credentials go over mqtts/https only; the plain ports are declared ports).
  'plaintext-credentials': ['transport.plaintext@target'],
  'tls-legacy-version': ['transport.tls@https', 'transport.tls@mqtts'],
  // Issue 6: robustness, found by the default profile's short fuzz campaign (pinned seed), shrunk and confirmed.
  'mqtt-crash-remaining-length': ['robustness.fuzz@mqtts'],
  'mqtt-hang-qos2': ['robustness.fuzz@mqtts'],
  'coap-crash-option': ['robustness.fuzz@coap'],
  'coap-block-leak': ['robustness.fuzz@coap'],
  'http-crash-header': ['robustness.fuzz@https'],
  // Issue 7: resilience under load. The connection slots are the unit's (MQTT and HTTP share
  // them), so a connection flood on either TCP interface starves both; the slow-request readers
  // are the HTTP API's only.
  'no-connection-limit': ['robustness.flood@https', 'robustness.flood@mqtts'],
  'slow-request-starvation': ['robustness.flood@https'],
};

/** Every check instance the default profile plans on the reference device. */
const CHECK_INSTANCES = 51;

// Short lockout timings keep the paced dictionary and the brute-force wait fast
// (a window that five TLS logins fill even on a loaded CI machine); a quick
// watchdog keeps the fuzz campaigns' crash recoveries short, and a wedge
// outlasts the probe's hang threshold (the I/O bound). The I/O bound leaves
// room for a loaded machine: every device here runs next to four others.
const LOCKOUT = { attempts: 5, windowMs: 1000, durationMs: 600 };
const WATCHDOG = { rebootMs: 300, hangMs: 4000 };
const IO = { ioTimeoutMs: 3000 };
// Eight devices and their harnesses share two cores here, so a flood probe's
// round trip includes the other rows' work: the devices declare 5 s under a
// flood (no-connection-limit and slow-request-starvation never answer while
// the flood is held, so they still fail).
const FLOOD_LATENCY = '5s';
// Half the default test budget of property cases (fuzz campaigns: 120 cases each):
// every flaw is still found with the pinned seed, and forty rows fit CI's time.
const BUDGET = { ...IO, numRuns: 15 };

// A row mostly waits (lockout pacing, install timeouts, watchdog restarts):
// alone on an idle two-core machine the matrix keeps two thirds of one core
// busy at five rows at a time, so eight share the machine with the other worker.
vi.setConfig({ maxConcurrency: 8 });

/** Each test owns its device, so tests run concurrently (most of their time is lockout pacing). */
/** The device's target file, declaring the flood latency this shared machine allows. */
function targetOf(d: RunningDevice): TargetFileInput {
  const t = d.targetFile();
  return { ...t, declaration: { ...t.declaration, performance: { ...t.declaration?.performance, floodLatency: FLOOD_LATENCY } } };
}

async function withDevice<T>(flaws: readonly Flaw[], fn: (d: RunningDevice) => Promise<T>): Promise<T> {
  const device = await startReferenceDevice({ flaws, lockout: LOCKOUT, ...WATCHDOG });
  try {
    return await fn(device);
  } finally {
    await device.close();
  }
}

describe.concurrent('flaw matrix (reference device)', () => {
  it('covers every flaw the device has', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...FLAWS].sort());
  });

  it('hardened device: every check instance passes', async () => {
    const run = await withDevice([], (d) => runAgainst(targetOf(d), BUDGET));
    const table = verdictTable(run.results);
    expect(run.results.length, table).toBe(CHECK_INSTANCES);
    for (const r of run.results) expect(r.verdict, table).toBe('pass');
  }, 180_000);

  for (const flaw of FLAWS) {
    it(`${flaw}: exactly ${EXPECTED[flaw].join(', ')} fail, with findings and replay`, async () => {
      const run = await withDevice([flaw], (d) => runAgainst(targetOf(d), BUDGET));
      const table = verdictTable(run.results);
      expect(run.failing, table).toEqual([...EXPECTED[flaw]].sort());
      for (const r of run.results) {
        if (EXPECTED[flaw].includes(r.instance.id)) {
          expect(r.findings.length, r.reason).toBeGreaterThan(0);
          for (const f of r.findings) {
            expect(f.replay).toMatch(/^gauntlet replay /);
            expect(f.requirements.length).toBeGreaterThan(0);
            expect(f.evidence.transcript.length, f.summary).toBeGreaterThan(0);
          }
        } else {
          expect(r.verdict, table).toBe('pass');
        }
      }
    }, 180_000);
  }

  it('password-prefix-match: the counterexample is shrunk to a one-character prefix and replays from its path', async () => {
    await withDevice(['password-prefix-match'], async (device) => {
      const target = device.targetFile();
      const first = await runAgainst(target, { only: ['auth.credential-robustness@mqtts'] });
      const r = first.byId.get('auth.credential-robustness@mqtts')!;
      expect(r.verdict).toBe('fail');
      const cx = r.findings[0]!.evidence.counterexample!;
      expect(cx.value).toMatch(/user "admin", password: prefix of length 1 /);
      expect(cx.path).not.toBe('');
      // Replay: only the shrunk case runs, and it fails again.
      const again = await runAgainst(target, { only: ['auth.credential-robustness@mqtts'], replayPath: cx.path });
      const r2 = again.byId.get('auth.credential-robustness@mqtts')!;
      expect(r2.verdict).toBe('fail');
      expect(r2.findings[0]!.evidence.counterexample!.value).toBe(cx.value);
      expect(r2.cases).toBe(1);
    });
  }, 60_000);
});
