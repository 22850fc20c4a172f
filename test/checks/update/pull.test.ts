// The update checks over a pull path, on a fake pulling device (MQTT trigger,
// HTTPS fetch trusting only its own CA): the positive control installs over a
// certificate from the declared CA; update.channel passes on a verifying
// device and fails on one that accepts any certificate; update.authorization
// fails when an anonymous or low-privilege trigger installs.

import { describe, expect, it } from 'vitest';
import { updateChannel } from '../../../harness/checks/update/channel.js';
import { CHECKS } from '../../../harness/checks/registry.js';
import { updatePositiveControl } from '../../../harness/core/update-control.js';
import { targetFromObject } from '../../../harness/core/target-file.js';
import { TranscriptRecorder } from '../../../harness/core/transcript.js';
import { runAgainst, verdictTable } from '../../support/run-target.js';
import { withPuller } from './fake-puller.js';

const UPDATE = CHECKS.filter((c) => c.id.startsWith('update.'));
const CHANNEL = 'update.channel@broker';

describe('pull delivery', () => {
  it('positive control: the valid newer image installs over a certificate from the declared CA', async () => {
    await withPuller({}, async (f) => {
      const target = targetFromObject(f.target(), 'test-target');
      const transcript = new TranscriptRecorder();
      const io = { scope: { assert() {} }, transcript, timeoutMs: 1500, peer: 'broker' };
      const r = await updatePositiveControl(target, io, (ms) => new Promise((res) => setTimeout(res, ms)));
      expect(r.kind, r.detail).toBe('done');
      expect(r.detail).toMatch(/^the valid newer image fw-200 installed through pull \(triggered as admin; TLS accepted \(certificate from the declared CA for 127\.0\.0\.1\); fetched 4168 bytes\)$/);
      expect(f.installs).toEqual([200]);
      const log = transcript.entries().map((e) => e.decoded).join('\n');
      expect(log).toMatch(/admin: CONNECT user admin/);
      expect(log).toMatch(/PUBLISH devices\/fk\/cmd\/update/);
      expect(log).toMatch(/GET \/gauntlet\/[0-9a-f]+\.bin/);
      expect(log).toMatch(/update server closed/);
    });
  });

  it('no serve.ca: the positive control cannot be made, and says why', async () => {
    await withPuller({}, async (f) => {
      const target = targetFromObject(f.target({ ca: false }), 'test-target');
      const io = { scope: { assert() {} }, transcript: new TranscriptRecorder(), timeoutMs: 1500, peer: 'broker' };
      const r = await updatePositiveControl(target, io, (ms) => new Promise((res) => setTimeout(res, ms)));
      expect(r).toEqual({ kind: 'failed', detail: 'pull path pull declares no serve.ca: Gauntlet cannot serve a certificate the device trusts' });
      expect(f.triggers).toEqual([]);
    });
  });
});

describe('update.channel', () => {
  it('passes on a device that verifies the update server (self-signed, wrong host, expired all refused)', async () => {
    await withPuller({}, async (f) => {
      const run = await runAgainst(f.target(), { checks: [updateChannel] });
      const r = run.byId.get(CHANNEL)!;
      expect(r.verdict, verdictTable(run.results)).toBe('pass');
      expect(r.reason).toBe('untrusted update-server certificates refused (3); version stays fw-100');
      expect(r.evidence!.observed).toMatch(
        /refused the certificate .*self-signed for 127\.0\.0\.1\); not fetched; .*refused the certificate .*for 127\.0\.0\.2, not 127\.0\.0\.1\); not fetched; .*refused the certificate .*expired yesterday\); not fetched$/,
      );
      expect(f.triggers).toHaveLength(4); // three refusals, then the positive control
      expect(f.installs).toEqual([200]);
      expect(run.events.some((e) => e.type === 'note' && /update positive control: the valid newer image fw-200 installed through pull/.test(e.text))).toBe(true);
    });
  });

  it('fails on a device that accepts any certificate (critical)', async () => {
    await withPuller({ anyCertificate: true }, async (f) => {
      const run = await runAgainst(f.target({ reset: true }), { checks: [updateChannel] });
      const r = run.byId.get(CHANNEL)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      expect(r.findings.map((x) => x.summary)).toEqual([
        'the device installed the valid newer image fetched over a self-signed certificate through pull (pull, triggered on devices/fk/cmd/update): version fw-100 -> fw-200',
        'the device installed the valid newer image fetched over a certificate from the declared CA for another host through pull (pull, triggered on devices/fk/cmd/update): version fw-100 -> fw-200',
        'the device installed the valid newer image fetched over an expired certificate from the declared CA through pull (pull, triggered on devices/fk/cmd/update): version fw-100 -> fw-200',
      ]);
      expect(r.findings.every((x) => x.severity === 'critical')).toBe(true);
    });
  });

  it('a device that skips only the host-name check fails on the wrong-host certificate alone', async () => {
    await withPuller({ noHostCheck: true }, async (f) => {
      const run = await runAgainst(f.target({ reset: true }), { checks: [updateChannel] });
      const r = run.byId.get(CHANNEL)!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      expect(r.findings).toHaveLength(1);
      expect(r.findings[0]!.summary).toMatch(/fetched over a certificate from the declared CA for another host/);
    });
  });

  it('without serve.ca only the self-signed certificate is tried, and the reason says so', async () => {
    await withPuller({}, async (f) => {
      const run = await runAgainst(f.target({ ca: false }), { checks: [updateChannel] });
      const r = run.byId.get(CHANNEL)!;
      // The positive control cannot be made without the CA either: the pass is held inconclusive.
      expect(r.verdict, verdictTable(run.results)).toBe('inconclusive');
      expect(r.reason).toMatch(/^untrusted update-server certificates refused \(1\); version stays fw-100 \(only the self-signed certificate was tried on pull: no serve.ca declared/);
    });
  });

  it('does not apply to a target without pull paths', () => {
    const t = targetFromObject(
      {
        format: 'gauntlet-target/1',
        name: 'x',
        scope: { hosts: ['127.0.0.1'] },
        interfaces: [{ id: 'broker', protocol: 'mqtt', url: 'mqtt://127.0.0.1:1883', version: 4 }],
      } as never,
      'test-target',
    );
    expect(updateChannel.applies(t, t.interfaces[0]!)).toMatch(/no update mechanism declared/);
  });
});

describe('update checks over a pull path', () => {
  it('update.authorization fails when an anonymous trigger installs', async () => {
    await withPuller({ anonymousTrigger: true }, async (f) => {
      const run = await runAgainst(f.target(), { checks: UPDATE, only: ['update.authorization@broker'] });
      const r = run.byId.get('update.authorization@broker')!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      expect(r.findings[0]!.summary).toBe('the valid newer image was installed without a session through pull (pull, triggered on devices/fk/cmd/update): version fw-100 -> fw-200');
    });
  });

  it('update.authorization fails, naming the viewer, when any role may trigger', async () => {
    await withPuller({ anyRole: true }, async (f) => {
      const run = await runAgainst(f.target(), { checks: UPDATE, only: ['update.authorization@broker'] });
      const r = run.byId.get('update.authorization@broker')!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      expect(r.findings[0]!.summary).toMatch(/^the valid newer image was installed as viewer through pull/);
    });
  });

  it('all seven update checks pass over pull on a sound device; anonymous CONNECT refused counts as refused', async () => {
    await withPuller({}, async (f) => {
      const run = await runAgainst(f.target({ reset: true }), { checks: UPDATE, numRuns: 4 });
      const table = verdictTable(run.results);
      const onBroker = run.results.filter((r) => r.instance.id.endsWith('@broker'));
      expect(onBroker.map((r) => r.instance.id).sort(), table).toEqual(UPDATE.map((c) => `${c.id}@broker`).sort());
      for (const r of onBroker) expect(r.verdict, table).toBe('pass');
      const auth = run.byId.get('update.authorization@broker')!;
      expect(auth.evidence!.observed).toMatch(/without a session: trigger refused: anonymous CONNECT answered 5/);
      expect(run.byId.get('update.interrupted@broker')!.evidence!.observed).toMatch(/cut after 2084 of 4168 bytes/);
    });
  });

  it('update.interrupted over pull fails when a cut body leaves the device without an image', async () => {
    await withPuller({ brickOnCut: true }, async (f) => {
      const run = await runAgainst(f.target(), { checks: UPDATE, only: ['update.interrupted@broker'] });
      const r = run.byId.get('update.interrupted@broker')!;
      expect(r.verdict, verdictTable(run.results)).toBe('fail');
      expect(r.findings[0]!.summary).toMatch(/^device left without a readable version after the newer image served with its body cut after 2084 of 4168 bytes/);
    });
  });
});
