// The transcript recorder keeps entries as recorded and builds them when read:
// what is read is what was recorded (time taken at record, entries copied),
// recordLater()'s functions run only on a read, and takeDeferred() starts a
// fresh segment at once while leaving the old one to be built later.

import { describe, expect, it } from 'vitest';
import { TranscriptRecorder } from '../../harness/core/transcript.js';
import { recordLater } from '../../harness/protocols/common/channel.js';
import type { TranscriptEntry, TranscriptSink } from '../../harness/model/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TranscriptRecorder', () => {
  it('keeps record order, times entries when recorded, and copies what record() is given', async () => {
    const rec = new TranscriptRecorder();
    const entry: { dir: 'sent'; peer: string; decoded: string; hex: string } = { dir: 'sent', peer: 'p', decoded: 'one', hex: '01' };
    rec.record(entry);
    entry.decoded = 'changed after';
    await sleep(30);
    rec.note('two');
    const es = rec.entries();
    expect(es.map((e) => [e.dir, e.peer, e.decoded, e.hex])).toEqual([
      ['sent', 'p', 'one', '01'],
      ['note', '-', 'two', undefined],
    ]);
    expect(Object.keys(es[0]!)).toEqual(['t', 'dir', 'peer', 'decoded', 'hex']);
    expect(es[1]!.t - es[0]!.t).toBeGreaterThanOrEqual(25);
    // Read twice, the same.
    expect(rec.entries()).toEqual(es);
  });

  it('recordLater builds the entry only when the transcript is read, timed when it was recorded', async () => {
    const rec = new TranscriptRecorder();
    let built = 0;
    rec.recordLater(() => (built++, { dir: 'received', peer: 'dev', decoded: 'late', hex: 'ff' }));
    await sleep(30);
    rec.note('after');
    expect(built).toBe(0);
    const es = rec.entries();
    expect(built).toBe(1);
    expect(es[0]).toEqual({ t: es[0]!.t, dir: 'received', peer: 'dev', decoded: 'late', hex: 'ff' });
    expect(es[1]!.t - es[0]!.t).toBeGreaterThanOrEqual(25);
  });

  it('take() empties it; takeDeferred() empties it at once and builds the old segment when called', () => {
    const rec = new TranscriptRecorder();
    let built = 0;
    rec.note('a');
    rec.recordLater(() => (built++, { dir: 'sent', peer: 'x', decoded: 'b' }));
    const later = rec.takeDeferred();
    expect(rec.entries()).toEqual([]);
    rec.note('c');
    expect(built).toBe(0);
    expect(later().map((e) => e.decoded)).toEqual(['a', 'b']);
    expect(later().map((e) => e.decoded)).toEqual(['a', 'b']);
    expect(rec.take().map((e) => e.decoded)).toEqual(['c']);
    expect(rec.take()).toEqual([]);
  });

  it('stays bounded: past the cap entries are counted, not kept (deferred ones too), and the count is noted', () => {
    const rec = new TranscriptRecorder(3);
    let built = 0;
    for (let i = 0; i < 5; i++) rec.recordLater(() => (built++, { dir: 'sent', peer: 'x', decoded: `d${i}` }));
    rec.note('over');
    const later = rec.takeDeferred();
    const es = later();
    expect(built).toBe(3);
    expect(es.map((e) => e.decoded)).toEqual(['d0', 'd1', 'd2', '3 more entries not kept']);
    expect(es[3]!.t).toBe(es[2]!.t);
    rec.note('fresh');
    expect(rec.entries().map((e) => e.decoded)).toEqual(['fresh']);
  });
});

describe('recordLater', () => {
  it('a sink that cannot defer is given the entry at once', () => {
    const got: Omit<TranscriptEntry, 't'>[] = [];
    const sink: TranscriptSink = { record: (e) => got.push(e), note() {}, entries: () => [], take: () => [] };
    recordLater(sink, () => ({ dir: 'sent', peer: 'x', decoded: 'now', hex: '00' }));
    expect(got).toEqual([{ dir: 'sent', peer: 'x', decoded: 'now', hex: '00' }]);
  });
});
