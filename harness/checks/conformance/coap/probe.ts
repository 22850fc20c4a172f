// What every case of conformance.coap shares: the interface, the I/O bounds,
// the run-wide log of the server's datagrams, the statement book, what
// discovery found, and a way to run one case on its own socket with its own
// transcript (cases may run side by side; each statement's evidence is its
// case's datagrams only).

import type { CheckContext, CoapInterface, Counterexample, TranscriptEntry } from '../../../model/index.js';
import { TranscriptRecorder } from '../../../core/transcript.js';
import { ioOf } from '../../io.js';
import type { Io } from '../../../protocols/common/io.js';
import type { StatementBook } from './book.js';
import type { Link } from './links.js';
import { CoapSession, ServerLog, SessionError, openSession, type Exchange } from './session.js';
import { codeText, describeWire, type WireMessage } from './wire.js';

/** What discovery found: the resources each kind of statement needs. */
export interface Resources {
  /** The /.well-known/core listing, when it answered 2.05 with link-format. */
  readonly links: readonly Link[];
  /** A path that answers GET with 2.05: the subject of the message-layer and option statements. */
  readonly control?: string;
  /** The Content-Format of the control path's 2.05, if it carried one. */
  readonly controlFormat?: number;
  /** Paths that answer GET with 2.05, the control path first. */
  readonly readable: readonly string[];
  /** Observable resources (`obs` in the listing), best first. */
  readonly observable: readonly string[];
  /** Resources that may answer with a separate response (/separate, /async), with the query to try. */
  readonly separate: readonly { readonly path: string; readonly query: readonly string[] }[];
  /** A resource that takes a block-wise upload, and how. */
  readonly upload?: { readonly path: string; readonly method: 'PUT' | 'POST'; readonly why: string };
}

export interface Verdict {
  readonly id: string;
  readonly verdict: 'pass' | 'fail' | 'inconclusive' | 'skipped';
  readonly reason: string;
  readonly counterexample?: Counterexample;
}

export const pass = (id: string, reason: string): Verdict => ({ id, verdict: 'pass', reason });
export const fail = (id: string, reason: string, counterexample?: Counterexample): Verdict => ({ id, verdict: 'fail', reason, ...(counterexample ? { counterexample } : {}) });
export const open = (id: string, reason: string): Verdict => ({ id, verdict: 'inconclusive', reason });
export const skip = (id: string, reason: string): Verdict => ({ id, verdict: 'skipped', reason });

export class Probe {
  readonly log = new ServerLog();
  readonly iface: CoapInterface;
  /** How long a server gets to answer what it should ignore, before silence counts as ignoring. */
  readonly silenceMs: number;
  resources: Resources = { links: [], readable: [], observable: [], separate: [] };
  /** One line per case, for the check's evidence. */
  readonly trail = new TranscriptRecorder(2000);
  cases = 0;

  constructor(
    readonly ctx: CheckContext,
    readonly book: StatementBook,
  ) {
    this.iface = ctx.iface as CoapInterface;
    this.silenceMs = Math.max(150, Math.min(ctx.ioTimeoutMs, 1500));
  }

  io(transcript = this.ctx.transcript, timeoutMs = this.ctx.ioTimeoutMs): Io {
    return { ...ioOf(this.ctx, timeoutMs), transcript };
  }

  get aborted(): boolean {
    return this.ctx.signal.aborted;
  }

  /**
   * Runs one case on a fresh socket with its own transcript; its verdicts go
   * to the book with that transcript. A case whose statements are all
   * declared not implemented does not run. A socket that cannot be opened
   * makes its statements inconclusive.
   */
  async run(label: string, ids: readonly string[], fn: (s: CoapSession) => Promise<readonly Verdict[]>): Promise<readonly Verdict[]> {
    const wanted = ids.filter((id) => this.book.wants(id));
    if (wanted.length === 0 || this.aborted) return [];
    const rec = new TranscriptRecorder(600);
    rec.note(`case: ${label}`);
    let verdicts: readonly Verdict[];
    let session: CoapSession | undefined;
    try {
      session = await openSession(this.iface, this.io(rec), this.log);
      verdicts = await fn(session);
    } catch (e) {
      if (!(e instanceof SessionError)) throw e;
      verdicts = wanted.map((id) => open(id, e.message));
    } finally {
      await session?.close();
    }
    if (this.aborted) verdicts = verdicts.filter((v) => v.verdict === 'fail');
    const transcript: TranscriptEntry[] = rec.entries();
    for (const v of verdicts) {
      if (!this.book.wants(v.id)) continue;
      this.book.record(v.id, { verdict: v.verdict, reason: v.reason, transcript, ...(v.counterexample ? { counterexample: v.counterexample } : {}) });
      this.trail.note(`${v.id}: ${v.verdict}: ${v.reason}`);
    }
    this.cases++;
    this.ctx.caseDone(label);
    return verdicts;
  }
}

/** One line for what an exchange got. */
export function answerText(ex: Exchange): string {
  if (ex.reset) return `RST mid=${ex.reset.messageId}`;
  if (ex.response) return describeShort(ex.response);
  if (ex.ack) return `empty ACK mid=${ex.ack.messageId}, then no response`;
  if (ex.malformed) return `an unparseable datagram`;
  return 'no answer';
}

export function describeShort(w: WireMessage): string {
  return describeWire(w).replace(/ payload .*$/, (p) => (p.length > 40 ? `${p.slice(0, 40)}…"` : p));
}

export const codeOf = (ex: Exchange) => (ex.response ? codeText(ex.response.code) : undefined);
