// Records what crosses the wire during one check instance, bounded so a
// chatty device cannot exhaust memory.

import type { TranscriptEntry, TranscriptSink } from '../model/index.js';

export class TranscriptRecorder implements TranscriptSink {
  private list: TranscriptEntry[] = [];
  private dropped = 0;
  private readonly start = performance.now();

  constructor(private readonly cap = 500) {}

  record(entry: Omit<TranscriptEntry, 't'>): void {
    if (this.list.length >= this.cap) {
      this.dropped++;
      return;
    }
    this.list.push({ t: Math.round((performance.now() - this.start) * 10) / 10, ...entry });
  }

  note(text: string): void {
    this.record({ dir: 'note', peer: '-', decoded: text });
  }

  entries(): TranscriptEntry[] {
    const out = [...this.list];
    if (this.dropped > 0) out.push({ t: out.at(-1)?.t ?? 0, dir: 'note', peer: '-', decoded: `${this.dropped} more entries not kept` });
    return out;
  }

  take(): TranscriptEntry[] {
    const out = this.entries();
    this.list = [];
    this.dropped = 0;
    return out;
  }
}
