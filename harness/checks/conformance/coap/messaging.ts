// RFC 7252 message layer as a client sees it: a CON acknowledged with its
// message id, the token echoed (empty, 4 and 8 bytes), a NON answered by a
// NON, the server's own message ids unique, the CoAP ping; then the same
// statements over GET requests drawn from the fuzz generators' valid mode,
// shrunk to the smallest request that breaks one.

import fc from 'fast-check';
import { coapMessageArb } from '../../../protocols/coap/arbitraries.js';
import { getRequest } from './discovery.js';
import { answerText, describeShort, fail, open, pass, skip, type Probe, type Verdict } from './probe.js';
import { decodedOf, type Exchange, type Heard } from './session.js';
import { ACK, CON, codeText, decodeStrict, NON, OPT, optionOf, raw, RST } from './wire.js';

const METHODS: Readonly<Record<number, string>> = { 1: 'GET', 2: 'POST', 3: 'PUT', 4: 'DELETE', 5: 'FETCH' };
const tokenText = (t: Uint8Array) => Buffer.from(t).toString('hex') || '(empty)';

// ------------------------------------------------------------------ basic exchange

/** The statements one answered request speaks to: ACK message id and token echo (CON), type (NON). */
export function judgeExchange(ex: Exchange): Verdict[] {
  const m = ex.sent;
  const req = `${m.type === CON ? 'CON' : 'NON'} ${METHODS[m.code] ?? codeText(m.code)} mid=${m.messageId} token=${tokenText(m.token)}`;
  const out: Verdict[] = [];
  const r = ex.response;
  if (m.type === CON) {
    if (ex.ack) out.push(pass('RFC7252:4.2-ack-message-id', `${req} -> ACK mid=${ex.ack.messageId}${ex.ack.code ? ` ${codeText(ex.ack.code)}` : ' (empty)'}`));
    else if (ex.reset) out.push(fail('RFC7252:4.2-ack-message-id', `${req} was rejected with RST, not acknowledged`));
    else if (r && r.type === ACK) out.push(fail('RFC7252:4.2-ack-message-id', `${req} was answered by ACK ${codeText(r.code)} with mid=${r.messageId}, not the request's ${m.messageId}`));
    else if (r) out.push(fail('RFC7252:4.2-ack-message-id', `${req} got its response in a ${r.type === CON ? 'CON' : 'NON'} (mid=${r.messageId}) and no ACK echoing mid=${m.messageId}`));
    else out.push(open('RFC7252:4.2-ack-message-id', `${req}: ${answerText(ex)}`));
  } else {
    const acked = ex.heard.map(decodedOf).find((w) => w?.type === ACK && (w.messageId === m.messageId || w.token.equals(Buffer.from(m.token))));
    if (acked) {
      out.push(fail('RFC7252:4.3-non-not-acknowledged', `${req} was answered by ${describeShort(acked)}: an ACK to a NON`));
      out.push(fail('RFC7252:5.2.3-non-response', `${req} was answered by an ACK (${codeText(acked.code)}), not a NON response`));
    } else if (r) {
      out.push(pass('RFC7252:4.3-non-not-acknowledged', `${req} -> no ACK; response ${r.type === NON ? 'NON' : 'CON'}`));
      out.push(pass('RFC7252:5.2.3-non-response', `${req} -> ${r.type === NON ? 'NON' : 'CON (allowed)'} ${codeText(r.code)}`));
    } else {
      out.push(open('RFC7252:5.2.3-non-response', `${req}: no response within the bound`));
      out.push(open('RFC7252:4.3-non-not-acknowledged', `${req}: no response within the bound (nothing to judge)`));
    }
  }
  if (r) {
    if (r.token.equals(Buffer.from(m.token))) out.push(pass('RFC7252:5.3.2-token-echo', `${req} -> response token ${tokenText(r.token)}`));
    else out.push(fail('RFC7252:5.3.2-token-echo', `${req} -> ${describeShort(r)}: token ${tokenText(r.token)} instead of ${tokenText(m.token)}`));
  } else if (ex.ack?.code === 0) out.push(open('RFC7252:5.3.2-token-echo', `${req}: empty ACK and no separate response`));
  return out;
}

const BASIC = ['RFC7252:4.2-ack-message-id', 'RFC7252:5.3.2-token-echo', 'RFC7252:4.3-non-not-acknowledged', 'RFC7252:5.2.3-non-response', 'RFC7252:4.4-message-id-unique'];

/** The CoAP ping [RFC7252 4.3] (TD_COAP_CORE_31). */
export async function pingCase(p: Probe): Promise<void> {
  await p.run('CoAP ping (empty CON)', ['RFC7252:4.3-ping-reset'], async (s) => {
    const mid = s.mid();
    const since = s.mark();
    s.send(Buffer.from([0x40, 0x00, mid >> 8, mid & 0xff]), `CON empty (ping) mid=${mid}`);
    const h = await s.wait((x) => decodedOf(x)?.messageId === mid, p.ctx.ioTimeoutMs, since);
    const w = h ? decodedOf(h) : undefined;
    const id = 'RFC7252:4.3-ping-reset';
    if (!h) return [open(id, `ping mid=${mid}: no answer within ${p.ctx.ioTimeoutMs}ms`)];
    if (!w) return [fail(id, `ping mid=${mid} was answered by an unparseable datagram`)];
    if (w.type === RST && w.code === 0) return [pass(id, `ping mid=${mid} -> RST mid=${w.messageId}`)];
    return [fail(id, `ping mid=${mid} was answered by ${describeShort(w)} instead of an empty RST`)];
  });
}

export async function basicCases(p: Probe): Promise<void> {
  const path = p.resources.control;
  if (!path) {
    for (const id of BASIC) p.book.inconclusive(id, 'no resource answered GET with 2.05 (neither /.well-known/core nor a listed or declared one)');
    return;
  }
  await p.run(`basic GET ${path}: CON with tokens of 4, 0 and 8 bytes; NON`, BASIC, async (s) => {
    const out: Verdict[] = [];
    for (const [what, token] of [
      ['4-byte token', s.token(4)],
      ['empty token (TD_COAP_CORE_12)', Buffer.alloc(0)],
      ['8-byte token (TD_COAP_CORE_10)', s.token(8)],
    ] as const) {
      const ex = await s.exchange(getRequest(s, path, [], { token }));
      out.push(...judgeExchange(ex).map((v) => ({ ...v, reason: `${what}: ${v.reason}` })));
    }
    const since = s.mark();
    for (let i = 0; i < 3; i++) {
      const ex = await s.exchange(getRequest(s, path, [], { type: NON }));
      out.push(...judgeExchange(ex));
    }
    out.push(uniqueIds(s.received(since)));
    return out;
  });
}

/** The server's own CON/NON messages in one session: one message id, one message (retransmissions aside) [RFC7252 4.4]. */
export function uniqueIds(heard: readonly Heard[]): Verdict {
  const id = 'RFC7252:4.4-message-id-unique';
  const own = heard.filter((h) => h.decoded.ok && (h.decoded.msg.type === CON || h.decoded.msg.type === NON));
  if (own.length < 2) return skip(id, `fewer than two CON/NON messages from the server on one socket (${own.length})`);
  const byMid = new Map<number, Heard>();
  for (const h of own) {
    const w = decodedOf(h)!;
    const before = byMid.get(w.messageId);
    if (before && !before.bytes.equals(h.bytes)) return fail(id, `two different messages with mid=${w.messageId} on one socket: ${describeShort(decodedOf(before)!)} and ${describeShort(w)}`);
    byMid.set(w.messageId, h);
  }
  return pass(id, `${own.length} CON/NON messages from the server, ${byMid.size} message ids, none reused for another message`);
}

// ------------------------------------------------------------------ property over valid requests

class Violation extends Error {
  constructor(
    readonly verdict: Verdict,
    readonly label: string,
  ) {
    super(verdict.reason);
  }
}

/**
 * The message-layer statements over GET requests drawn from the fuzz
 * generators' valid mode (any listed path, token 0-8 bytes, CON or NON,
 * Accept/ETag/Size2/Block2 as drawn); a violation shrinks to the smallest
 * request that shows it.
 */
export async function propertyCase(p: Probe): Promise<void> {
  const ids = ['RFC7252:4.2-ack-message-id', 'RFC7252:5.3.2-token-echo', 'RFC7252:4.3-non-not-acknowledged', 'RFC7252:5.2.3-non-response'];
  const paths = p.resources.readable.length ? p.resources.readable : p.resources.control ? [p.resources.control] : [];
  if (paths.length === 0) return;
  const numRuns = Math.max(1, Math.min(p.ctx.budget.numRuns, 40));
  await p.run(`valid GET requests drawn from the fuzz generators (${numRuns} runs)`, ids, async (s) => {
    const gets = coapMessageArb('valid', paths).filter((step) => {
      const d = decodeStrict(Buffer.from(step.bytes));
      return d.ok && d.msg.code === 1 && (d.msg.type === CON || d.msg.type === NON) && !optionOf(d.msg, OPT.Observe) && !optionOf(d.msg, OPT.Block1);
    });
    const counts = new Map<string, number>();
    const seen = (v: Verdict) => counts.set(`${v.id}:${v.verdict}`, (counts.get(`${v.id}:${v.verdict}`) ?? 0) + 1);
    const property = fc.asyncProperty(gets, async (step) => {
      const d = decodeStrict(Buffer.from(step.bytes));
      if (!d.ok) return;
      // The message id is the session's (a drawn one could repeat an earlier request's: a duplicate).
      const m = raw(d.msg.type as 0 | 1, d.msg.code, s.mid(), d.msg.token, d.msg.options, d.msg.payload);
      const ex = await s.exchange(m, { timeoutMs: Math.min(p.ctx.ioTimeoutMs, 1000) });
      for (const v of judgeExchange(ex)) {
        seen(v);
        if (v.verdict === 'fail') throw new Violation(v, step.label);
      }
    });
    const details = await fc.check(property, { seed: p.ctx.instance.seed, numRuns, interruptAfterTimeLimit: Math.min(p.ctx.budget.timeMs, 15_000), markInterruptAsFailure: false });
    if (details.failed && details.errorInstance instanceof Violation) {
      const v = details.errorInstance.verdict;
      const value = details.errorInstance.label;
      return [
        fail(v.id, `${v.reason} (shrunk from ${details.numRuns} drawn requests: ${value})`, { seed: details.seed, path: details.counterexamplePath ?? '', value, numRuns: details.numRuns, shrinks: details.numShrinks }),
      ];
    }
    if (details.failed) throw details.errorInstance ?? new Error('conformance.coap: the message-layer property failed without a counterexample');
    return ids.flatMap((id) => {
      const n = counts.get(`${id}:pass`) ?? 0;
      return n > 0 ? [pass(id, `${n} drawn GET requests (seed ${details.seed}) held it${details.interrupted ? ' (time bound reached)' : ''}`)] : [];
    });
  });
}
