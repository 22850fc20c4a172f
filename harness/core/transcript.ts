// Records what crosses the wire during one check instance, bounded so a
// chatty device cannot exhaust memory.
//
// Entries are made into TranscriptEntry objects when they are read
// (entries(), take(), or the function takeDeferred() returns), not when
// recorded: an entry recorded with recordLater() is a function that builds
// it (the hex of a datagram, its decoded line), so a fuzz campaign, which
// reads the transcript of a case only when the case fails, does not build
// them for every case. What is read is what would have been read had each
// entry been built when recorded: its time is taken when it is recorded, and
// the functions read bytes and packets nobody changes afterwards.

import type { TranscriptEntry, TranscriptSink } from '../model/index.js';

type Recorded = Omit<TranscriptEntry, 't'>;

export class TranscriptRecorder implements TranscriptSink {
  private list: (Recorded | (() => Recorded))[] = [];
  /** performance.now() when each entry of `list` was recorded. */
  private at: number[] = [];
  private dropped = 0;
  private readonly start = performance.now();

  constructor(private readonly cap = 500) {}

  record(entry: Recorded): void {
    // A copy, as the caller may reuse its object.
    this.keep({ ...entry });
  }

  /** Records the entry `build` returns, called when the entries are read (every time they are). */
  recordLater(build: () => Recorded): void {
    this.keep(build);
  }

  note(text: string): void {
    this.keep({ dir: 'note', peer: '-', decoded: text });
  }

  entries(): TranscriptEntry[] {
    return render(this.list, this.at, this.dropped, this.start);
  }

  take(): TranscriptEntry[] {
    const out = this.entries();
    this.reset();
    return out;
  }

  /**
   * take(), with the building left to later: starts a fresh segment at once
   * and returns a function that builds what was recorded before (every time
   * it is called), for a caller that needs that only sometimes.
   */
  takeDeferred(): () => TranscriptEntry[] {
    const { list, at, dropped, start } = this;
    this.reset();
    return () => render(list, at, dropped, start);
  }

  private keep(entry: Recorded | (() => Recorded)): void {
    if (this.list.length >= this.cap) {
      this.dropped++;
      return;
    }
    this.list.push(entry);
    this.at.push(performance.now());
  }

  private reset(): void {
    this.list = [];
    this.at = [];
    this.dropped = 0;
  }
}

function render(list: readonly (Recorded | (() => Recorded))[], at: readonly number[], dropped: number, start: number): TranscriptEntry[] {
  // `t` first, so an entry's own `t` wins, as it did when entries were copied on record.
  const out: TranscriptEntry[] = list.map((e, i) => ({ t: Math.round((at[i]! - start) * 10) / 10, ...(typeof e === 'function' ? e() : e) }));
  if (dropped > 0) out.push({ t: out.at(-1)?.t ?? 0, dir: 'note', peer: '-', decoded: `${dropped} more entries not kept` });
  return out;
}

/** A transcript that keeps nothing: load and flood traffic is summarised, not recorded packet by packet. */
export const DISCARD_TRANSCRIPT: TranscriptSink = { record() {}, note() {}, entries: () => [], take: () => [] };
