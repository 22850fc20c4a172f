// The authentication checks against Eclipse Mosquitto (Debian's package),
// started on 127.0.0.1: (a) allow_anonymous true, (b) a password file and an
// ACL file. The verdicts must match what Mosquitto really does, both ways:
// a permissive broker fails, a locked-down one passes, and Mosquitto 2.0's
// lack of login throttling is reported honestly.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { TargetFileInput } from '../../harness/core/target-file.js';
import { startMosquitto, type MosquittoHandle } from '../../targets/interop/mosquitto.js';
import { runAgainst, verdictTable } from '../support/run-target.js';

const interop = inject('interop');

function mosquittoTarget(port: number, principals: TargetFileInput['principals'] = {}): TargetFileInput {
  return {
    format: 'gauntlet-target/1',
    name: 'mosquitto',
    scope: { hosts: ['127.0.0.1'] },
    interfaces: [{ id: 'broker', protocol: 'mqtt', url: `mqtt://127.0.0.1:${port}`, version: 4 }],
    principals,
    declaration: { access: { mqtt: { anonymous: false } } },
  };
}

let broker: MosquittoHandle | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

describe.skipIf(!interop.mosquitto || !interop.mosquittoPasswd)('Mosquitto interop: authentication checks', () => {
  it('(a) allow_anonymous true: anonymous access and any credential are findings', async () => {
    broker = await startMosquitto({ binary: interop.mosquitto!, anonymous: true });
    const run = await runAgainst(mosquittoTarget(broker.port), { numRuns: 15 });
    const table = verdictTable(run.results);
    expect(run.byId.get('auth.anonymous-access@broker')?.verdict, table).toBe('fail');
    expect(run.byId.get('auth.default-credentials@broker')?.verdict, table).toBe('fail');
    expect(run.byId.get('auth.credential-robustness@broker')?.verdict, table).toBe('fail');
    // No principal was given: a lockout cannot be told from a refusal.
    expect(run.byId.get('auth.brute-force@broker')?.verdict, table).toBe('skipped');
    expect(run.byId.get('auth.first-use-change@broker')?.verdict, table).toBe('skipped');
  }, 60_000);

  it('(b) password file + ACL: anonymous and dictionary credentials refused; no throttling and NUL truncation reported', async () => {
    const adminPass = randomBytes(12).toString('base64url');
    broker = await startMosquitto({
      binary: interop.mosquitto!,
      passwdBinary: interop.mosquittoPasswd!,
      anonymous: false,
      users: { admin: adminPass, 'sensor-1': randomBytes(12).toString('base64url') },
      acl: 'user admin\ntopic readwrite #\n\nuser sensor-1\ntopic write devices/sensor-1/#\ntopic read config/sensor-1\n',
    });
    const run = await runAgainst(mosquittoTarget(broker.port, { admin: { user: 'admin', pass: adminPass, role: 'admin' } }), { numRuns: 25 });
    const table = verdictTable(run.results);
    expect(run.byId.get('auth.anonymous-access@broker')?.verdict, table).toBe('pass');
    expect(run.byId.get('auth.default-credentials@broker')?.verdict, table).toBe('pass');
    // Mosquitto 2.0.11 truncates the password at the first NUL byte (C string), although
    // MQTT 3.1.1 section 3.1.3.5 makes it binary data: "<password>\0" is granted. A true finding.
    const cr = run.byId.get('auth.credential-robustness@broker')!;
    expect(cr.verdict, table).toBe('fail');
    expect(cr.findings[0]!.evidence.counterexample!.value).toMatch(/password: the real one \+ NUL/);
    // Mosquitto 2.0 has no failed-login throttling, and none is declared: a true finding.
    const bf = run.byId.get('auth.brute-force@broker')!;
    expect(bf.verdict, table).toBe('fail');
    expect(bf.reason).toMatch(/no brute-force protection after 10 failures/);
  }, 60_000);

  it('(b) with a dictionary account in the password file: auth.default-credentials finds it', async () => {
    const adminPass = randomBytes(12).toString('base64url');
    broker = await startMosquitto({
      binary: interop.mosquitto!,
      passwdBinary: interop.mosquittoPasswd!,
      anonymous: false,
      users: { admin: adminPass, mqtt: 'mqtt' },
    });
    const run = await runAgainst(mosquittoTarget(broker.port, { admin: { user: 'admin', pass: adminPass, role: 'admin' } }), {
      only: ['auth.default-credentials@broker', 'auth.anonymous-access@broker'],
    });
    const dc = run.byId.get('auth.default-credentials@broker')!;
    expect(dc.verdict, verdictTable(run.results)).toBe('fail');
    expect(dc.findings.map((f) => f.summary)).toEqual([expect.stringContaining('mqtt:mqtt')]);
    expect(run.byId.get('auth.anonymous-access@broker')?.verdict).toBe('pass');
  }, 60_000);

  it('a broker that is not running: checks are inconclusive, never pass or fail', async () => {
    broker = await startMosquitto({ binary: interop.mosquitto!, anonymous: true });
    const port = broker.port;
    await broker.close();
    broker = undefined;
    const run = await runAgainst(mosquittoTarget(port), { only: ['auth.anonymous-access@broker', 'auth.default-credentials@broker'] });
    for (const r of run.results) expect(r.verdict, verdictTable(run.results)).toBe('inconclusive');
  }, 30_000);
});
