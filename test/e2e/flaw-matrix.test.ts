// The flaw matrix: every check is proven both ways. With each flaw switched
// on, exactly the check instances that target it fail, each with evidence
// and a replay command; on the hardened device every check passes.

import { describe, expect, it } from 'vitest';
import { startReferenceDevice, type Flaw, type RunningDevice, FLAWS } from '../../targets/reference-device/index.js';
import { runAgainst, verdictTable } from '../support/run-target.js';

/** Which instances each flaw must fail, and nothing else. */
const EXPECTED: Readonly<Record<Flaw, readonly string[]>> = {
  // Issue 2: authentication
  'default-credentials': ['auth.default-credentials@http', 'auth.default-credentials@mqtt'],
  'derived-credentials': ['auth.default-credentials@http', 'auth.default-credentials@mqtt'],
  // Anonymous sessions get full rights: they also read $SYS (aedes publishes other clients' ids
  // there) and can publish the firmware pull trigger. Three true findings.
  'anonymous-mqtt': ['access.unauthenticated-disclosure@target', 'auth.anonymous-access@mqtt', 'update.authorization@mqtt'],
  'anonymous-http': ['auth.anonymous-access@http'],
  'no-lockout': ['auth.brute-force@http', 'auth.brute-force@mqtt'],
  'no-forced-change': ['auth.first-use-change@http', 'auth.first-use-change@mqtt'],
  'password-prefix-match': ['auth.credential-robustness@http', 'auth.credential-robustness@mqtt'],
  // Issue 3: logical access control
  'anonymous-coap-config': ['access.coap-resources@coap'],
  'coap-hidden-resource': ['access.coap-resources@coap'],
  'coap-method-confusion': ['access.coap-resources@coap'],
  'acl-wildcard-leak': ['access.mqtt-topics@mqtt'],
  'acl-prefix-match': ['access.mqtt-topics@mqtt'],
  'will-bypass': ['access.mqtt-topics@mqtt'],
  'retained-bypass': ['access.mqtt-topics@mqtt'],
  'http-idor': ['access.http-routes@http'],
  'http-path-normalisation': ['access.http-routes@http'],
  'debug-port': ['access.exposed-surface@target'],
  'verbose-errors': ['access.unauthenticated-disclosure@target'],
  // Issue 4: secure update (the device is restored to its baseline before every update check).
  // Image verification flaws show on all three paths: pushed over HTTP (@http), pushed
  // block-wise over coaps (@coaps) and pulled (@mqtt).
  'unsigned-accepted': ['update.unsigned@coaps', 'update.unsigned@http', 'update.unsigned@mqtt'],
  // No signature check at all: tampered, unsigned and foreign-signed images all install.
  'digest-only': [
    'update.tamper@coaps',
    'update.tamper@http',
    'update.tamper@mqtt',
    'update.unsigned@coaps',
    'update.unsigned@http',
    'update.unsigned@mqtt',
    'update.wrong-signer@coaps',
    'update.wrong-signer@http',
    'update.wrong-signer@mqtt',
  ],
  'manifest-only-signature': ['update.tamper@coaps', 'update.tamper@http', 'update.tamper@mqtt'],
  'rollback-allowed': ['update.rollback@coaps', 'update.rollback@http', 'update.rollback@mqtt'],
  // The HTTP route's and the coaps resource's authorisation (any identity, and plain CoAP);
  // pull triggers are governed by the MQTT ACL.
  'update-no-auth': ['update.authorization@coaps', 'update.authorization@http'],
  'brick-on-interrupt': ['update.interrupted@coaps', 'update.interrupted@http', 'update.interrupted@mqtt'],
  'pull-any-certificate': ['update.channel@mqtt'],
  // Issue 5: DTLS on coaps.
  'dtls-no-cookie': ['transport.dtls-handshake@coaps'],
  'dtls-weak-suite': ['transport.dtls-handshake@coaps'],
  'dtls-default-psk': ['auth.default-credentials@coaps'],
  'dtls-no-replay-window': ['transport.dtls-replay@coaps'],
  // The crash is found, shrunk and replayable; the device's watchdog brings coaps back for the checks after it.
  'dtls-crash-fragment': ['transport.dtls-robustness@coaps'],
};

/** Every check instance the default profile plans on the reference device. */
const CHECK_INSTANCES = 41;

// Short lockout timings keep the paced dictionary and the brute-force wait fast.
const LOCKOUT = { attempts: 5, windowMs: 300, durationMs: 300 };

/** Each test owns its device, so tests run concurrently (most of their time is lockout pacing). */
async function withDevice<T>(flaws: readonly Flaw[], fn: (d: RunningDevice) => Promise<T>): Promise<T> {
  const device = await startReferenceDevice({ flaws, lockout: LOCKOUT });
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
    const run = await withDevice([], (d) => runAgainst(d.targetFile()));
    const table = verdictTable(run.results);
    expect(run.results.length, table).toBe(CHECK_INSTANCES);
    for (const r of run.results) expect(r.verdict, table).toBe('pass');
  }, 180_000);

  for (const flaw of FLAWS) {
    it(`${flaw}: exactly ${EXPECTED[flaw].join(', ')} fail, with findings and replay`, async () => {
      const run = await withDevice([flaw], (d) => runAgainst(d.targetFile()));
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
      const first = await runAgainst(target, { only: ['auth.credential-robustness@mqtt'] });
      const r = first.byId.get('auth.credential-robustness@mqtt')!;
      expect(r.verdict).toBe('fail');
      const cx = r.findings[0]!.evidence.counterexample!;
      expect(cx.value).toMatch(/user "admin", password: prefix of length 1 /);
      expect(cx.path).not.toBe('');
      // Replay: only the shrunk case runs, and it fails again.
      const again = await runAgainst(target, { only: ['auth.credential-robustness@mqtt'], replayPath: cx.path });
      const r2 = again.byId.get('auth.credential-robustness@mqtt')!;
      expect(r2.verdict).toBe('fail');
      expect(r2.findings[0]!.evidence.counterexample!.value).toBe(cx.value);
      expect(r2.cases).toBe(1);
    });
  }, 60_000);
});
