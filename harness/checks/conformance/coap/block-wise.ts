// RFC 7959 cases. Block2: a stable representation longer than the smallest
// block (usually /.well-known/core itself) read in 16-byte blocks, then a
// model-based run of random block requests (any NUM, any size, past the end)
// whose answers must be the bytes at their offsets; a failure shrinks to the
// shortest request sequence that shows it. Block1: a model-based run of an
// upload that goes on, skips a block, restarts and finishes, on the resource
// the declaration (or a plugtest name) offers for PUT/POST; then an upload
// announcing a body of 4 GiB.

import fc from 'fast-check';
import type { Counterexample } from '../../../model/index.js';
import { fetchWhole, getRequest } from './discovery.js';
import { answerText, describeShort, fail, open, pass, skip, type Probe, type Verdict } from './probe.js';
import type { CoapSession, Exchange } from './session.js';
import { blockOf, blockSize, blockText, blockValue, CON, codeText, OPT, opt, pathOptions, raw, uintOption, type Block } from './wire.js';

const BLOCK2 = ['RFC7959:2.2-block2-num', 'RFC7959:2.2-block2-more', 'RFC7959:2.2-block2-szx', 'RFC7959:2.4-block2-random-access', 'RFC7959:2.2-block2-beyond-end', 'RFC7959:2.2-szx-7-4.00', 'RFC7959:4-size2'];
const BLOCK1 = ['RFC7959:2.3-block1-continue', 'RFC7959:2.3-block1-final', 'RFC7959:2.9.2-block1-incomplete-4.08', 'RFC7959:2.9.3-block1-too-large'];
/** The representation must span several 16-byte blocks. */
const MIN_LENGTH = 33;
const MAX_COMMANDS = 6;

class Violation extends Error {
  constructor(
    readonly id: string,
    readonly why: string,
  ) {
    super(`${id}: ${why}`);
  }
}

const counterexampleOf = (d: { seed: number; counterexample: readonly unknown[] | null; counterexamplePath: string | null; numRuns: number; numShrinks: number }): { value: string; cx: Counterexample } => {
  const sequence = String(d.counterexample?.[0] ?? '');
  const value = sequence.replace(/\s*\/\*replayPath=.*\*\//, '');
  return { value, cx: { seed: d.seed, path: d.counterexamplePath ?? '', value, numRuns: d.numRuns, shrinks: d.numShrinks } };
};

/** How many times each statement held during a model-based run. */
type Tally = Map<string, number>;
const count = (t: Tally, ...ids: string[]) => {
  for (const id of ids) t.set(id, (t.get(id) ?? 0) + 1);
};

/**
 * The verdicts of a model-based run: the statement a failure broke fails with
 * the shrunk sequence; every other one passes on what held before (or stays
 * open if the run never got to it).
 */
interface RunOutcome {
  readonly failed: boolean;
  readonly errorInstance: unknown;
  readonly interrupted: boolean;
  readonly seed: number;
  readonly counterexample: readonly unknown[] | null;
  readonly counterexamplePath: string | null;
  readonly numRuns: number;
  readonly numShrinks: number;
}

function modelVerdicts(ids: readonly string[], tally: Tally, d: RunOutcome, runs: number, what: string): Verdict[] {
  const v = d.failed && d.errorInstance instanceof Violation ? d.errorInstance : undefined;
  const shrunk = v ? counterexampleOf(d) : undefined;
  if (d.failed && !v) return ids.map((id) => open(id, `the ${what} run stopped: ${(d.errorInstance as Error | undefined)?.message ?? 'unknown'}`));
  return ids.map((id) => {
    if (v && shrunk && v.id === id) return fail(id, `${v.why} (shrunk to ${shrunk.value})`, shrunk.cx);
    const n = tally.get(id) ?? 0;
    const note = `${runs} random ${what} sequences of up to ${MAX_COMMANDS} steps (seed ${d.seed})${d.interrupted ? ', time bound reached' : ''}`;
    if (n === 0) return v ? open(id, `${note}: never judged before the run stopped at a failure of ${v.id}`) : skip(id, `${note}: none exercised it`);
    return pass(id, `${note}: held ${n} times${v ? ` (the run then stopped at a failure of ${v.id})` : ''}`);
  });
}

const bounds = (p: Probe, cap: number) => ({
  seed: p.ctx.instance.seed,
  numRuns: Math.max(1, Math.min(p.ctx.budget.numRuns, cap)),
  interruptAfterTimeLimit: Math.min(p.ctx.budget.timeMs, 20_000),
  markInterruptAsFailure: false as const,
});

// ------------------------------------------------------------------ Block2

/** One Block2 answer against the representation [RFC7959 2.2, 2.4]: throws the statement it breaks. */
export function judgeBlock2(repr: Buffer, asked: Block, ex: Exchange): string {
  const r = ex.response;
  const zero = asked.num === 0 && !asked.more && asked.szx === 0 ? ' (its value 0 sent as an empty option, the shortest uint)' : '';
  const what = `GET Block2=${blockText(asked)}${zero}`;
  if (!r) throw new Error(`no answer: ${answerText(ex)}`);
  const code = codeText(r.code);
  const offset = asked.num * blockSize(asked.szx);
  if (offset >= repr.length) {
    const b = blockOf(r, OPT.Block2);
    if (code.startsWith('4.') || code.startsWith('5.')) return `${what} (past the end) -> ${code}`;
    if (code === '2.05' && r.payload.length === 0 && (!b || !b.more)) return `${what} (past the end) -> 2.05, empty last block`;
    throw new Violation('RFC7959:2.2-block2-beyond-end', `${what}, offset ${offset} past the ${repr.length}-byte end -> ${describeShort(r)}`);
  }
  if (code !== '2.05') throw new Violation('RFC7959:2.2-block2-num', `${what} (offset ${offset} of ${repr.length}) -> ${code}, not 2.05`);
  const b = blockOf(r, OPT.Block2);
  if (!b) throw new Violation('RFC7959:2.2-block2-szx', `${what} -> 2.05 without a Block2 option (${r.payload.length} bytes): a block was asked for`);
  if (b.szx > asked.szx) throw new Violation('RFC7959:2.2-block2-szx', `${what} -> Block2=${blockText(b)}: larger than the ${blockSize(asked.szx)} bytes asked`);
  const size = blockSize(b.szx);
  if (b.num * size !== offset) throw new Violation('RFC7959:2.2-block2-num', `${what} -> Block2=${blockText(b)}: offset ${b.num * size}, not ${offset}`);
  const more = offset + size < repr.length;
  if (b.more !== more) throw new Violation('RFC7959:2.2-block2-more', `${what} -> Block2=${blockText(b)}: M=${b.more ? 1 : 0}, but ${more ? 'more bytes follow' : 'this is the last block'} (${repr.length} bytes in all)`);
  if (more && r.payload.length !== size) throw new Violation('RFC7959:2.2-block2-more', `${what} -> Block2=${blockText(b)}: a non-last block of ${r.payload.length} bytes, not ${size}`);
  const want = repr.subarray(offset, offset + size);
  if (!r.payload.equals(want)) throw new Violation('RFC7959:2.4-block2-random-access', `${what} -> ${r.payload.length} bytes that are not the representation's bytes ${offset}..${offset + want.length - 1}`);
  return `${what} -> Block2=${blockText(b)}, bytes ${offset}..${offset + r.payload.length - 1}`;
}

/** A stable representation of at least MIN_LENGTH bytes: two plain reads that agree. */
async function stableRepresentation(s: CoapSession, paths: readonly string[]): Promise<{ path: string; repr: Buffer } | string> {
  const notes: string[] = [];
  for (const path of paths.slice(0, 6)) {
    const a = await fetchWhole(s, path);
    if (!a.ok || codeText(a.first.code) !== '2.05') {
      notes.push(`${path}: ${a.ok ? codeText(a.first.code) : a.why}`);
      continue;
    }
    if (a.body.length < MIN_LENGTH) {
      notes.push(`${path}: ${a.body.length} bytes`);
      continue;
    }
    const b = await fetchWhole(s, path);
    if (!b.ok || !b.body.equals(a.body)) {
      notes.push(`${path}: changes between two reads`);
      continue;
    }
    return { path, repr: a.body };
  }
  return `no readable resource with a stable representation of ${MIN_LENGTH}+ bytes (${notes.join('; ') || 'none readable'})`;
}

interface Block2Real {
  readonly s: CoapSession;
  readonly path: string;
  readonly repr: Buffer;
  readonly tally: Tally;
}

class Block2Get implements fc.AsyncCommand<object, Block2Real> {
  constructor(readonly block: Block) {}
  check(): boolean {
    return true;
  }
  async run(_m: object, r: Block2Real): Promise<void> {
    const ex = await r.s.exchange(getRequest(r.s, r.path, [opt(OPT.Block2, blockValue(this.block))]));
    judgeBlock2(r.repr, this.block, ex);
    if (this.block.num * blockSize(this.block.szx) >= r.repr.length) count(r.tally, 'RFC7959:2.2-block2-beyond-end');
    else count(r.tally, 'RFC7959:2.2-block2-num', 'RFC7959:2.2-block2-more', 'RFC7959:2.2-block2-szx', 'RFC7959:2.4-block2-random-access');
  }
  toString(): string {
    return `Get(Block2=${blockText(this.block)})`;
  }
}

export async function block2Cases(p: Probe): Promise<void> {
  if (!p.book.wantsAny(BLOCK2)) return;
  let subject: { path: string; repr: Buffer } | undefined;
  await p.run('Block2: 16-byte blocks, Size2, SZX 7', BLOCK2.filter((id) => id !== 'RFC7959:2.4-block2-random-access'), async (s) => {
    const found = await stableRepresentation(s, p.resources.readable);
    if (typeof found === 'string') return BLOCK2.map((id) => skip(id, found));
    const { path, repr } = found;
    const first = await s.exchange(getRequest(s, path, [opt(OPT.Block2, blockValue({ num: 0, more: false, szx: 0 })), opt(OPT.Size2, 0)]));
    const r = first.response;
    if (!r) return BLOCK2.map((id) => open(id, `GET ${path} Block2=0/0/16 Size2=0: ${answerText(first)}`));
    if (codeText(r.code) === '4.02') {
      const why = `GET ${path} Block2=0/0/16 -> 4.02 Bad Option: the server does not do block-wise GET (optional; declare coap:block2 not implemented)`;
      return BLOCK2.map((id) => skip(id, why));
    }
    subject = found;
    const out: Verdict[] = [];
    const b0 = blockOf(r, OPT.Block2);
    const asked = `GET ${path} Block2=0/0/16 Size2=0`;
    if (!b0) out.push(fail('RFC7959:2.2-block2-szx', `${asked} -> ${describeShort(r)}: no Block2 option, ${r.payload.length} bytes`));
    else if (b0.szx > 0) out.push(fail('RFC7959:2.2-block2-szx', `${asked} -> Block2=${blockText(b0)}: larger than the 16 bytes asked`));
    else out.push(pass('RFC7959:2.2-block2-szx', `${asked} -> Block2=${blockText(b0)}`));
    try {
      judgeBlock2(repr, { num: 0, more: false, szx: 0 }, first);
    } catch (e) {
      if (!(e instanceof Violation)) throw e;
      if (e.id !== 'RFC7959:2.2-block2-szx') out.push(fail(e.id, e.why));
    }
    const size2 = uintOption(r, OPT.Size2);
    if (size2 === undefined) out.push(skip('RFC7959:4-size2', `GET ${path} Block2=0/0/16 Size2=0 -> no Size2 in the response (giving it is optional)`));
    else if (size2 === repr.length) out.push(pass('RFC7959:4-size2', `GET ${path} Block2=0/0/16 Size2=0 -> Size2=${size2}, the representation's size`));
    else out.push(fail('RFC7959:4-size2', `GET ${path} Block2=0/0/16 Size2=0 -> Size2=${size2}, but the representation (read whole, twice, the same) is ${repr.length} bytes`));
    // The rest of the transfer at 16 bytes, in order.
    const blocks = Math.ceil(repr.length / 16);
    try {
      for (let n = 1; n < Math.min(blocks, 64); n++) {
        const ex = await s.exchange(getRequest(s, path, [opt(OPT.Block2, blockValue({ num: n, more: false, szx: 0 }))]));
        judgeBlock2(repr, { num: n, more: false, szx: 0 }, ex);
      }
      out.push(pass('RFC7959:2.2-block2-num', `${path}: ${Math.min(blocks, 64)} blocks of 16 bytes in order, each NUM at its offset`));
      out.push(pass('RFC7959:2.2-block2-more', `${path}: M set on every block but block ${blocks - 1}, each non-last block 16 bytes`));
    } catch (e) {
      if (!(e instanceof Violation)) out.push(open('RFC7959:2.2-block2-num', `${path}: ${(e as Error).message}`));
      else out.push(fail(e.id, e.why));
    }
    const past = await s.exchange(getRequest(s, path, [opt(OPT.Block2, blockValue({ num: blocks, more: false, szx: 0 }))]));
    try {
      out.push(pass('RFC7959:2.2-block2-beyond-end', judgeBlock2(repr, { num: blocks, more: false, szx: 0 }, past)));
    } catch (e) {
      if (e instanceof Violation) out.push(fail(e.id, e.why));
      else out.push(open('RFC7959:2.2-block2-beyond-end', `GET ${path} Block2=${blocks}/0/16: ${(e as Error).message}`));
    }
    const seven = await s.exchange(getRequest(s, path, [opt(OPT.Block2, Buffer.from([0x07]))]));
    const c7 = seven.response ? codeText(seven.response.code) : undefined;
    if (!c7) out.push(open('RFC7959:2.2-szx-7-4.00', `GET ${path} Block2 SZX=7: ${answerText(seven)}`));
    else if (c7 === '4.00') out.push(pass('RFC7959:2.2-szx-7-4.00', `GET ${path} Block2 SZX=7 -> 4.00`));
    else out.push(fail('RFC7959:2.2-szx-7-4.00', `GET ${path} Block2 NUM=0 SZX=7 (reserved) -> ${describeShort(seven.response!)}, not 4.00 Bad Request`));
    return out;
  });
  if (!subject || p.aborted) {
    p.book.skipRest(['RFC7959:2.4-block2-random-access'], 'no Block2 transfer to explore (see RFC7959:2.2-block2-szx)');
    return;
  }
  const { path, repr } = subject;
  const id = 'RFC7959:2.4-block2-random-access';
  await p.run(`Block2 random access on ${path} (model-based)`, [id, 'RFC7959:2.2-block2-num', 'RFC7959:2.2-block2-more', 'RFC7959:2.2-block2-szx', 'RFC7959:2.2-block2-beyond-end'], async (s) => {
    const maxSzx = Math.min(6, Math.max(0, Math.ceil(Math.log2(repr.length)) - 4));
    const get = fc.integer({ min: 0, max: maxSzx }).chain((szx) => fc.integer({ min: 0, max: Math.ceil(repr.length / blockSize(szx)) }).map((num) => new Block2Get({ num, more: false, szx })));
    const tally: Tally = new Map();
    let runs = 0;
    const property = fc.asyncProperty(fc.commands([get], { maxCommands: MAX_COMMANDS }), async (cmds) => {
      runs++;
      await fc.asyncModelRun(() => ({ model: {}, real: { s, path, repr, tally } }), cmds);
    });
    const d = await fc.check(property, bounds(p, 20));
    return modelVerdicts([id, 'RFC7959:2.2-block2-num', 'RFC7959:2.2-block2-more', 'RFC7959:2.2-block2-szx', 'RFC7959:2.2-block2-beyond-end'], tally, d, runs, `Block2 (sizes 16..${blockSize(maxSzx)}, past the end included)`);
  });
}

// ------------------------------------------------------------------ Block1

interface UploadModel {
  /** Next block number at `szx`; 0 = no transfer begun. */
  next: number;
  szx: number;
  /** After a gap the server may have dropped the transfer. */
  shaky: boolean;
}

interface UploadReal {
  readonly s: CoapSession;
  readonly path: string;
  readonly method: number;
  token: Buffer;
  readonly log: string[];
  readonly tally: Tally;
}

const body = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => 0x41 + (i % 26)));

function blockRequest(r: UploadReal, b: Block, payload: Buffer, extra: { number: number; value: Buffer }[] = []) {
  return raw(CON, r.method, r.s.mid(), r.token, [...pathOptions(r.path), opt(OPT.Block1, blockValue(b)), ...extra], payload);
}

async function sendBlock(m: UploadModel, r: UploadReal, num: number, more: boolean): Promise<{ code?: string; echo?: Block; text: string }> {
  const size = blockSize(m.szx);
  const payload = more ? body(size) : body(Math.max(1, size >> 1));
  // Every block carries the request's options (Content-Format included): they describe the whole body.
  const ex = await r.s.exchange(blockRequest(r, { num, more, szx: m.szx }, payload, [opt(OPT.ContentFormat, 0)]));
  const w = ex.response;
  if (!w) throw new Error(`Block1=${num}/${more ? 1 : 0}/${size}: ${answerText(ex)}`);
  const echo = blockOf(w, OPT.Block1);
  return { code: codeText(w.code), ...(echo ? { echo } : {}), text: `${r.method === 3 ? 'PUT' : 'POST'} Block1=${num}/${more ? 1 : 0}/${size} -> ${describeShort(w)}` };
}

/** A non-final block: 2.31 with Block1 echoing NUM (or, for a server acting on each block, 2.04/2.01 echoing it) [RFC7959 2.3]. */
function judgeContinue(m: UploadModel, num: number, a: { code?: string; echo?: Block; text: string }): void {
  const ok = a.code === '2.31' || a.code === '2.04' || a.code === '2.01';
  if (!ok) throw new Violation('RFC7959:2.3-block1-continue', `${a.text}: not 2.31 Continue`);
  if (!a.echo) throw new Violation('RFC7959:2.3-block1-continue', `${a.text}: no Block1 option echoing block ${num}`);
  if (a.echo.szx > m.szx) throw new Violation('RFC7959:2.3-block1-continue', `${a.text}: Block1 size ${blockSize(a.echo.szx)} larger than the block sent`);
  if (a.echo.num * blockSize(a.echo.szx) !== num * blockSize(m.szx)) throw new Violation('RFC7959:2.3-block1-continue', `${a.text}: Block1 echoes block ${a.echo.num}, not ${num}`);
}

class Next implements fc.AsyncCommand<UploadModel, UploadReal> {
  check(m: Readonly<UploadModel>): boolean {
    return m.next < 6;
  }
  async run(m: UploadModel, r: UploadReal): Promise<void> {
    if (m.next === 0) r.token = r.s.token();
    const a = await sendBlock(m, r, m.next, true);
    r.log.push(a.text);
    if (m.shaky && a.code === '4.08') {
      m.next = 0; // the server dropped the transfer after the gap: allowed
      m.shaky = false;
      return;
    }
    judgeContinue(m, m.next, a);
    count(r.tally, 'RFC7959:2.3-block1-continue');
    // The server may ask for smaller blocks from here on [RFC7959 2.3].
    const echo = a.echo!;
    const reached = (m.next + 1) * blockSize(m.szx);
    m.szx = echo.szx;
    m.next = reached / blockSize(m.szx);
    m.shaky = false;
  }
  toString(): string {
    return 'Next';
  }
}

/** Judges the answer to a block sent past a gap; `last` when it ends the body (M=0). */
function judgeGap(m: UploadModel, r: UploadReal, a: { code?: string; text: string }, last: boolean): void {
  const id = 'RFC7959:2.9.2-block1-incomplete-4.08';
  if (a.code === '4.08') return void count(r.tally, id);
  // A server may keep blocks that come out of order and wait for the missing one [RFC7959 2.5].
  if (a.code === '2.31') return;
  if (last || a.code?.startsWith('2.')) throw new Violation(id, `${a.text}, after blocks 0..${m.next - 1}: block ${m.next} never sent, yet ${a.code?.startsWith('2.') ? 'the body was accepted' : 'not 4.08 Request Entity Incomplete'}`);
}

/** A block past a gap (block `next` skipped): 4.08, or 2.31 from a server that buffers out-of-order blocks. */
class Gap implements fc.AsyncCommand<UploadModel, UploadReal> {
  constructor(readonly last: boolean) {}
  check(m: Readonly<UploadModel>): boolean {
    return m.next >= 1;
  }
  async run(m: UploadModel, r: UploadReal): Promise<void> {
    const a = await sendBlock(m, r, m.next + 1, !this.last);
    r.log.push(`${a.text} (block ${m.next} skipped)`);
    judgeGap(m, r, a, this.last);
    m.shaky = true;
  }
  toString(): string {
    return this.last ? 'GapThenLast' : 'Gap';
  }
}

class Restart implements fc.AsyncCommand<UploadModel, UploadReal> {
  check(m: Readonly<UploadModel>): boolean {
    return m.next >= 1;
  }
  async run(m: UploadModel, r: UploadReal): Promise<void> {
    r.token = r.s.token();
    const a = await sendBlock(m, r, 0, true);
    r.log.push(`${a.text} (a new transfer, the old one abandoned)`);
    judgeContinue(m, 0, a);
    count(r.tally, 'RFC7959:2.3-block1-continue');
    m.szx = a.echo!.szx;
    m.next = 1;
    m.shaky = false;
  }
  toString(): string {
    return 'Restart';
  }
}

class Finish implements fc.AsyncCommand<UploadModel, UploadReal> {
  check(m: Readonly<UploadModel>): boolean {
    return m.next >= 1 && !m.shaky;
  }
  async run(m: UploadModel, r: UploadReal): Promise<void> {
    const a = await sendBlock(m, r, m.next, false);
    r.log.push(a.text);
    // The final response may refuse the body (4.00, 4.15: the content is the resource's business), but not ask for more.
    if (a.code === '2.31' || a.code === '4.08') throw new Violation('RFC7959:2.3-block1-final', `${a.text}: the last block, after blocks 0..${m.next - 1} in order, got ${a.code} instead of a final response`);
    if (a.code?.startsWith('2.') && (!a.echo || a.echo.num * blockSize(a.echo.szx) !== m.next * blockSize(m.szx))) {
      throw new Violation('RFC7959:2.3-block1-final', `${a.text}: the final 2.xx response does not carry Block1 for block ${m.next}`);
    }
    count(r.tally, 'RFC7959:2.3-block1-final');
    m.next = 0;
  }
  toString(): string {
    return 'Finish';
  }
}

export async function block1Cases(p: Probe): Promise<void> {
  if (!p.book.wantsAny(BLOCK1)) return;
  const u = p.resources.upload;
  if (!u) {
    p.book.skipRest(BLOCK1, 'no resource takes a block-wise upload: none declared for anonymous PUT/POST (declaration.access.coap.anonymous) and no plugtest-named one listed');
    return;
  }
  const method = u.method === 'PUT' ? 3 : 2;
  let supported = false;
  await p.run(`Block1 upload to ${u.method} ${u.path} (model-based: next, gap, restart, finish)`, ['RFC7959:2.3-block1-continue', 'RFC7959:2.3-block1-final', 'RFC7959:2.9.2-block1-incomplete-4.08'], async (s) => {
    // Does the resource take Block1 at all?
    const tally: Tally = new Map();
    const real: UploadReal = { s, path: u.path, method, token: s.token(), log: [], tally };
    const probe = await sendBlock({ next: 0, szx: 1, shaky: false }, real, 0, true);
    if (probe.code === '4.02' || probe.code === '4.05' || probe.code === '4.01' || probe.code === '4.03') {
      const why = `${probe.text}: ${probe.code === '4.02' ? 'the resource does not do block-wise uploads (optional; declare coap:block1 not implemented)' : `the ${u.method} is refused (${u.why})`}`;
      return ['RFC7959:2.3-block1-continue', 'RFC7959:2.3-block1-final', 'RFC7959:2.9.2-block1-incomplete-4.08'].map((id) => skip(id, why));
    }
    supported = true;
    let runs = 0;
    const commands = [fc.constant(new Next()), fc.constant(new Gap(false)), fc.constant(new Gap(true)), fc.constant(new Restart()), fc.constant(new Finish())];
    const property = fc.asyncProperty(fc.commands(commands, { maxCommands: MAX_COMMANDS }), async (cmds) => {
      runs++;
      const r: UploadReal = { s, path: u.path, method, token: s.token(), log: [], tally };
      await fc.asyncModelRun(() => ({ model: { next: 0, szx: 1, shaky: false }, real: r }), cmds);
    });
    const d = await fc.check(property, bounds(p, 12));
    return modelVerdicts(['RFC7959:2.3-block1-continue', 'RFC7959:2.3-block1-final', 'RFC7959:2.9.2-block1-incomplete-4.08'], tally, d, runs, `${u.method} ${u.path} upload`);
  });
  const gapId = 'RFC7959:2.9.2-block1-incomplete-4.08';
  if (supported && p.book.wants(gapId)) {
    await p.run(`Block1 upload to ${u.method} ${u.path}: block 0, then the last block with block 1 skipped`, [gapId], async (s) => {
      const m: UploadModel = { next: 0, szx: 1, shaky: false };
      const r: UploadReal = { s, path: u.path, method, token: s.token(), log: [], tally: new Map() };
      const first = await sendBlock(m, r, 0, true);
      if (first.code !== '2.31' && first.code !== '2.04' && first.code !== '2.01') return [open(gapId, `${first.text}: the transfer did not begin`)];
      if (first.echo && first.echo.szx < m.szx) m.szx = first.echo.szx; // the server asked for smaller blocks
      m.next = 1;
      const gap = await sendBlock(m, r, 2, false);
      const what = `${first.text}; then ${gap.text} (block 1 never sent)`;
      if (gap.code === '2.31') return [skip(gapId, `${what}: the server keeps waiting for the missing block (it buffers blocks out of order), so its answer to a hole cannot be seen`)];
      try {
        judgeGap(m, r, gap, true);
      } catch (e) {
        if (e instanceof Violation) return [fail(gapId, e.why)];
        throw e;
      }
      return [pass(gapId, what)];
    });
  }
  const big = 'RFC7959:2.9.3-block1-too-large';
  if (!supported) {
    p.book.skipRest([big], 'the resource takes no block-wise upload');
    return;
  }
  await p.run(`Block1 upload to ${u.method} ${u.path} announcing Size1=4294967295`, [big], async (s) => {
    const r: UploadReal = { s, path: u.path, method, token: s.token(), log: [], tally: new Map() };
    const ex = await s.exchange(blockRequest(r, { num: 0, more: true, szx: 1 }, body(32), [opt(OPT.ContentFormat, 0), opt(OPT.Size1, 0xffffffff)]));
    const w = ex.response;
    const what = `${u.method} Block1=0/1/32 Size1=4294967295`;
    if (!w) return [open(big, `${what}: ${answerText(ex)}`)];
    const code = codeText(w.code);
    if (code === '4.13') {
      const size1 = uintOption(w, OPT.Size1);
      return [size1 !== undefined ? pass(big, `${what} -> 4.13 with Size1=${size1}`) : fail(big, `${what} -> 4.13 without Size1 (it should name the largest body accepted)`)];
    }
    if (code === '2.31' || code.startsWith('2.')) return [skip(big, `${what} -> ${code}: the server does not judge Size1 up front (it may refuse later); no 4.13 to judge`)];
    return [open(big, `${what} -> ${describeShort(w)}`)];
  });
}
