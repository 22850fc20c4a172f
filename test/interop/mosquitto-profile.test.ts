// A standards profile against Eclipse Mosquitto (Debian's package) on
// 127.0.0.1: the requirement matrix follows from what the broker really does.
// allow_anonymous true fails NISTIR 8259A LAI-2 (logical access restricted to
// authorised entities) through auth.anonymous-access; the checks that need
// interfaces Mosquitto does not have leave their requirements "not tested".

import { afterEach, describe, expect, inject, it } from 'vitest';
import type { TargetFileInput } from '../../harness/core/target-file.js';
import { coverageLine } from '../../harness/model/index.js';
import { startMosquitto, type MosquittoHandle } from '../../targets/interop/mosquitto.js';
import { runAgainst, verdictTable } from '../support/run-target.js';

const interop = inject('interop');

let broker: MosquittoHandle | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

describe.skipIf(!interop.mosquitto)('Mosquitto interop: a standards profile', () => {
  it('nistir-8259a against allow_anonymous true: LAI-2 fails on the anonymous session, the software-update rows are not tested', async () => {
    broker = await startMosquitto({ binary: interop.mosquitto!, anonymous: true });
    const target: TargetFileInput = {
      format: 'gauntlet-target/1',
      name: 'mosquitto',
      scope: { hosts: ['127.0.0.1'] },
      interfaces: [{ id: 'broker', protocol: 'mqtt', url: `mqtt://127.0.0.1:${broker.port}`, version: 4 }],
      principals: {},
      declaration: { access: { mqtt: { anonymous: false } } },
    };
    const run = await runAgainst(target, { profile: 'nistir-8259a', numRuns: 10, only: ['auth.anonymous-access', 'auth.default-credentials', 'transport.plaintext', 'update.tamper'] });
    const table = verdictTable(run.results);
    const m = run.report.requirements!;
    const row = (id: string) => m.rows.find((r) => r.id === id)!;
    expect(row('NISTIR-8259A:LAI-2').verdict, table).toBe('fail');
    expect(row('NISTIR-8259A:LAI-2').reason).toMatch(/auth\.anonymous-access@broker/);
    expect(row('NISTIR-8259A:SWU-2').verdict, table).toBe('not-tested');
    expect(coverageLine(m)).toMatch(/^nistir-8259a: \d+ requirements: \d+ tested \([^)]*\d+ fail/);
  }, 90_000);
});
