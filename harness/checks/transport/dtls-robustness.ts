// transport.dtls-robustness (C15, C16): property-based. For any hostile DTLS
// input, the coaps service still completes a handshake afterwards.
// fast-check draws cases of three kinds, each sent on a fresh UDP socket:
//   - one hostile datagram (protocols/dtls/arbitraries.ts: lying record and
//     handshake lengths, overrunning fragments, odd versions, edge values);
//   - a valid ClientHello cut into fragments with one lie among them
//     (overrun, disagreeing lengths or types, overlaps, gaps, repeats);
//   - the same lies on a ClientKeyExchange sent after a real cookie round
//     and the server's first flight, so the server's reassembly of a
//     handshake in progress is reached, not only its first-flight parser.
// Liveness after each case: a full DTLS handshake with the first principal's
// PSK (without one: a ClientHello answered, cookie followed). A quick
// ClientHello on a connected socket goes first, so a closed port (ICMP
// unreachable) is seen at once instead of after a handshake timeout.
// A case after which the service does not complete a handshake fails the
// property; fast-check shrinks it to one labelled case, replayable from
// (seed, path). A crashed device may take a while to come back (a watchdog
// restart, a reboot): before each further case the check waits for it, up to
// RECOVERY_MS; a device that never comes back ends the shrinking, and the
// finding says so. Bounded by the run's numRuns and time budget (which the
// shrinking shares).

import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { Check, CheckContext, CheckOutcome, CoapInterface, Endpoint, Principal } from '../../model/index.js';
import { TranscriptRecorder } from '../../core/transcript.js';
import { hexOf, type Io } from '../../protocols/common/io.js';
import { clientHelloArb, hostileDatagramArb } from '../../protocols/dtls/arbitraries.js';
import { openDtlsChannel, pskCredential, pskPrincipals, type PskCredential } from '../../protocols/dtls/client.js';
import {
  ContentType,
  DTLS1_2,
  HandshakeType,
  SUITE_IDS_BY_NAME,
  describeDatagram,
  encodeClientHello,
  encodeHandshake,
  encodeRecord,
  parseHandshake,
  parseHelloVerifyRequest,
  parseRecords,
  type ClientHello,
  type HandshakeInput,
} from '../../protocols/dtls/codec.js';
import { defaultExtensions, describeOutcome, helloProbe } from '../../protocols/dtls/hello-probe.js';
import { ioOf, propertyBounds } from '../io.js';
import { requirementsOf } from '../requirements.js';

/** How long a device that stopped answering gets to come back before the next case. */
export const RECOVERY_MS = 5000;
const POLL_MS = 250;
/** CoAP's PSK suites [RFC7252 9.1.3.1], offered when the interface declares none. */
const FALLBACK_SUITES = ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_GCM_SHA256', 'TLS_PSK_WITH_AES_128_CCM'];

/** One case: datagrams sent in order on one fresh socket. */
export interface DtlsCase {
  readonly label: string;
  /** `first-flight`: sent as they are; `after-cookie`: after a cookie round and the server's flight, on the same socket. */
  readonly stage: 'first-flight' | 'after-cookie';
  /** As sent; for `after-cookie`, numbered as after a cookie exchange (message_seq 2, record sequence from 2). */
  readonly datagrams: readonly Uint8Array[];
  /** `after-cookie` only: the datagrams numbered from the message_seq and record sequence the handshake reached. */
  readonly renumber?: (messageSeq: number, recordSeq: number) => readonly Uint8Array[];
}

export const caseBytes = (c: DtlsCase) => c.datagrams.reduce((n, d) => n + d.length, 0);

// ---------------------------------------------------------------- hostile fragments of a valid message

export type FragmentLie =
  | 'overrun'
  | 'offset-past-end'
  | 'length-disagrees'
  | 'type-disagrees'
  | 'overlap-disagrees'
  | 'fragment-length-long'
  | 'gap'
  | 'repeated'
  | 'reversed';
export type Packing = 'datagram-per-fragment' | 'record-per-fragment' | 'one-record';

export interface FragmentPlan {
  readonly lie: FragmentLie;
  /** Fragments before the lie, 2..4 (fewer for a message that short). */
  readonly parts: number;
  /** Cut positions, reduced modulo the message length. */
  readonly cuts: readonly number[];
  /** The size of the lie (bytes off, repeats). */
  readonly d: number;
  readonly packing: Packing;
}

const FRAGMENT_LIES: readonly FragmentLie[] = ['overrun', 'offset-past-end', 'length-disagrees', 'type-disagrees', 'overlap-disagrees', 'fragment-length-long', 'gap', 'repeated', 'reversed'];

export const fragmentPlanArb = (): fc.Arbitrary<FragmentPlan> =>
  fc.record({
    lie: fc.constantFrom(...FRAGMENT_LIES),
    parts: fc.integer({ min: 2, max: 4 }),
    cuts: fc.array(fc.nat({ max: 0xffff }), { minLength: 3, maxLength: 3 }),
    d: fc.integer({ min: 1, max: 64 }),
    packing: fc.constantFrom<Packing>('datagram-per-fragment', 'record-per-fragment', 'one-record'),
  });

interface Piece {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

function split(body: Uint8Array, parts: number, cuts: readonly number[]): Piece[] {
  const L = body.length;
  const at = L < 2 ? [] : [...new Set(cuts.slice(0, parts - 1).map((c) => 1 + (c % (L - 1))))].sort((a, b) => a - b);
  const bounds = [0, ...at, L];
  return bounds.slice(0, -1).map((b, i) => ({ offset: b, bytes: body.subarray(b, bounds[i + 1]) }));
}

/** The handshake fragments of one message with the plan's lie, and what the lie is in words. */
export function lyingFragments(msgType: number, messageSeq: number, body: Uint8Array, plan: FragmentPlan): { readonly fragments: HandshakeInput[]; readonly lie: string } {
  const L = body.length;
  const pieces = split(body, plan.parts, plan.cuts);
  const k = pieces.length;
  const frag = (p: Piece, over: Partial<HandshakeInput> = {}): HandshakeInput => ({ msgType, messageSeq, body: p.bytes, fragmentOffset: p.offset, length: L, ...over });
  const plain = pieces.map((p) => frag(p));
  const i = k > 1 ? 1 + (plan.d % (k - 1)) : 0; // a fragment other than the first, when there is one
  switch (plan.lie) {
    case 'overrun': {
      const short = 1 + ((plan.d - 1) % Math.max(1, L));
      return { fragments: pieces.map((p) => frag(p, { length: Math.max(0, L - short) })), lie: `message length ${short} short of its ${L} bytes: the last fragment's fragment_offset+fragment_length > length` };
    }
    case 'offset-past-end': {
      const extra = { offset: L + plan.d, bytes: new Uint8Array(1 + (plan.d % 8)).fill(0x41) };
      return { fragments: [...plain, frag(extra)], lie: `an extra fragment at fragment_offset ${extra.offset}, past the message end (${L})` };
    }
    case 'length-disagrees':
      return { fragments: plain.map((f, j) => (j === i ? { ...f, length: L + plan.d } : f)), lie: `fragments disagree on the message length (${L} and ${L + plan.d})` };
    case 'type-disagrees': {
      const other = (msgType + 1 + (plan.d % 254)) & 0xff;
      return { fragments: plain.map((f, j) => (j === i ? { ...f, msgType: other } : f)), lie: `fragments disagree on msg_type (${msgType} and ${other})` };
    }
    case 'overlap-disagrees': {
      const p = pieces[i]!;
      const back = Math.min(plan.d, p.offset);
      const bytes = body.slice(p.offset - back, p.offset + p.bytes.length).map((b, j) => (j < back ? b ^ 0xff : b));
      return { fragments: plain.map((f, j) => (j === i ? frag({ offset: p.offset - back, bytes }) : f)), lie: `fragment ${i + 1} overlaps the one before by ${back} byte(s) that disagree` };
    }
    case 'fragment-length-long':
      return { fragments: plain.map((f, j) => (j === i ? { ...f, fragmentLength: f.body.length + plan.d } : f)), lie: `fragment ${i + 1}'s fragment_length ${plan.d} more than its bytes` };
    case 'gap':
      return { fragments: plain.filter((_, j) => j !== i || k === 1), lie: k > 1 ? `fragment ${i + 1} of ${k} missing` : 'one fragment, nothing missing' };
    case 'repeated': {
      const n = 2 + (plan.d % 39);
      return { fragments: [...Array.from({ length: n }, () => plain[0]!), ...plain.slice(1)], lie: `fragment 1 of ${k} sent ${n} times` };
    }
    case 'reversed':
      return { fragments: [...plain].reverse(), lie: `${k} fragments in reverse order` };
  }
}

const PACKING_TEXT: Readonly<Record<Packing, string>> = {
  'datagram-per-fragment': 'one datagram per fragment',
  'record-per-fragment': 'one record per fragment, one datagram',
  'one-record': 'every fragment in one record',
};

/** Epoch-0 handshake records carrying `fragments`, packed into datagrams; record sequence numbers from `recordSeq`. */
export function pack(fragments: readonly HandshakeInput[], packing: Packing, recordSeq: number): Uint8Array[] {
  const encoded = fragments.map(encodeHandshake);
  const rec = (fragment: Uint8Array, n: number) => encodeRecord({ type: ContentType.handshake, version: DTLS1_2, epoch: 0, sequence: recordSeq + n, fragment });
  switch (packing) {
    case 'datagram-per-fragment':
      return encoded.map((f, n) => rec(f, n));
    case 'record-per-fragment':
      return [Buffer.concat(encoded.map((f, n) => rec(f, n)))];
    case 'one-record':
      return [rec(Buffer.concat(encoded), 0)];
  }
}

/** A valid ClientHello in fragments, one lie among them. */
export const fragmentedHelloArb = (): fc.Arbitrary<DtlsCase> =>
  fc.tuple(clientHelloArb(), fragmentPlanArb()).map(([hello, plan]) => {
    const { fragments, lie } = lyingFragments(HandshakeType.client_hello, 0, encodeClientHello(hello), plan);
    return { label: `ClientHello in fragments: ${lie} (${PACKING_TEXT[plan.packing]})`, stage: 'first-flight', datagrams: pack(fragments, plan.packing, 0) };
  });

/** PSK ClientKeyExchange body: psk_identity<0..2^16-1> [RFC4279 2]. */
export function pskClientKeyExchange(identity: string): Uint8Array {
  const id = Buffer.from(identity, 'utf8');
  return Buffer.concat([Buffer.from([id.length >> 8, id.length & 0xff]), id]);
}

/** After a real cookie round: the ClientKeyExchange of `identity` in fragments, one lie among them. */
export const afterCookieArb = (identity: string): fc.Arbitrary<DtlsCase> =>
  fragmentPlanArb().map((plan) => {
    const body = pskClientKeyExchange(identity);
    const build = (messageSeq: number, recordSeq: number) => pack(lyingFragments(HandshakeType.client_key_exchange, messageSeq, body, plan).fragments, plan.packing, recordSeq);
    const { lie } = lyingFragments(HandshakeType.client_key_exchange, 2, body, plan);
    return { label: `after a cookie round, ClientKeyExchange in fragments: ${lie} (${PACKING_TEXT[plan.packing]})`, stage: 'after-cookie', datagrams: build(2, 2), renumber: build };
  });

/** Every case kind; single hostile datagrams weigh most, as the widest net. */
export const dtlsCaseArb = (identity: string): fc.Arbitrary<DtlsCase> =>
  fc.oneof(
    { weight: 4, arbitrary: hostileDatagramArb().map((h): DtlsCase => ({ label: h.label, stage: 'first-flight', datagrams: [h.bytes] })) },
    { weight: 2, arbitrary: fragmentedHelloArb() },
    { weight: 2, arbitrary: afterCookieArb(identity) },
  );

/** One line for a counterexample: label, size, and each datagram read by the codec, with its (capped) hex. */
export function describeCase(c: DtlsCase): string {
  const parts = c.datagrams.slice(0, 4).map((d, i) => {
    const h = hexOf(d, 96);
    return `#${i + 1} ${describeDatagram(d)} [${h.hex}${h.truncated ? `…(+${h.truncated}B)` : ''}]`;
  });
  const more = c.datagrams.length > 4 ? ` …(+${c.datagrams.length - 4} datagrams)` : '';
  return `${c.label} (${caseBytes(c)} bytes in ${c.datagrams.length} datagram(s)): ${parts.join(' / ')}${more}`;
}

// ---------------------------------------------------------------- the wire

interface Liveness {
  readonly alive: boolean;
  readonly detail: string;
}

function suitesOf(ctx: CheckContext): number[] {
  const declared = ctx.target.declaration.dtls[ctx.iface.id]?.suites ?? [];
  const ids = declared.flatMap((n) => SUITE_IDS_BY_NAME.get(n) ?? []);
  return ids.length ? ids : FALLBACK_SUITES.map((n) => SUITE_IDS_BY_NAME.get(n)!);
}

/**
 * Alive = a full handshake as `psk` completes; without a PSK, a ClientHello
 * is answered (cookie followed). The probes' own bytes stay out of the
 * check's transcript: a note says what the probe found.
 */
async function liveness(ctx: CheckContext, ep: Endpoint, psk: PskCredential | undefined, suites: readonly number[]): Promise<Liveness> {
  const io: Io = { ...ioOf(ctx), transcript: new TranscriptRecorder(50) };
  const hello = await helloProbe(ep, { suites, cookie: psk ? 'ignore' : 'follow' }, io);
  if (hello.kind === 'unreachable') return { alive: false, detail: `unreachable (${hello.error})` };
  if (hello.kind === 'timeout' && hello.hvr === undefined) return { alive: false, detail: `no answer to a ClientHello within ${io.timeoutMs} ms` };
  if (!psk) return { alive: true, detail: `ClientHello answered: ${describeOutcome(hello)}` };
  const o = await openDtlsChannel(ep, psk, io);
  if (o.kind !== 'open') return { alive: false, detail: `a ClientHello was answered (${describeOutcome(hello)}) but no handshake as ${psk.identity} completed: ${o.detail}` };
  await o.channel.close();
  return { alive: true, detail: `handshake as ${psk.identity} completed` };
}

/** Fresh connected UDP socket to the device: datagrams in, a bounded wait for answers out. */
async function sendCase(ctx: CheckContext, ep: Endpoint, c: DtlsCase, suites: readonly number[], listenMs: number): Promise<void> {
  const io = ioOf(ctx);
  ctx.scope.assert(ep.host, `dtls ${io.peer}`);
  const socket = createSocket(ep.host.includes(':') ? 'udp6' : 'udp4');
  const inbox: Buffer[] = [];
  let wake: (() => void) | undefined;
  socket.on('message', (m: Buffer) => {
    io.transcript.record({ dir: 'received', peer: io.peer, decoded: describeDatagram(m), ...hexOf(m) });
    inbox.push(m);
    wake?.();
  });
  socket.on('error', (e: NodeJS.ErrnoException) => io.transcript.record({ dir: 'note', peer: io.peer, decoded: `socket error ${e.code ?? e.message}` }));
  const send = (d: Uint8Array, what?: string) =>
    new Promise<void>((resolve) => {
      io.transcript.record({ dir: 'sent', peer: io.peer, decoded: what ?? describeDatagram(d), ...hexOf(d) });
      socket.send(d, () => resolve());
    });
  /** The next datagram within the I/O timeout, or undefined. */
  const next = async (): Promise<Buffer | undefined> => {
    const until = Date.now() + io.timeoutMs;
    while (inbox.length === 0 && Date.now() < until && !ctx.signal.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, until - Date.now());
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
    return inbox.shift();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(ep.port, ep.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    let datagrams = c.datagrams;
    if (c.stage === 'after-cookie' && c.renumber) {
      const reached = await cookieRound(send, next, suites);
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: reached.note });
      datagrams = c.renumber(reached.messageSeq, reached.recordSeq);
    }
    for (const d of datagrams) await send(d);
    if (listenMs > 0) await sleep(ctx, listenMs);
  } catch (e) {
    io.transcript.record({ dir: 'note', peer: io.peer, decoded: `could not send the case: ${(e as Error).message}` });
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

/**
 * A valid ClientHello, the cookie round if the server asks for one, then the
 * server's first flight up to ServerHelloDone. Returns the message_seq and
 * record sequence number the client's next flight takes.
 */
async function cookieRound(
  send: (d: Uint8Array, what?: string) => Promise<void>,
  next: () => Promise<Buffer | undefined>,
  suites: readonly number[],
): Promise<{ readonly messageSeq: number; readonly recordSeq: number; readonly note: string }> {
  const hello: ClientHello = { version: DTLS1_2, random: new Uint8Array(randomBytes(32)), sessionId: new Uint8Array(0), cookie: new Uint8Array(0), suites, compression: [0], extensions: defaultExtensions(suites) };
  const helloDatagram = (h: ClientHello, seq: number) =>
    encodeRecord({ type: ContentType.handshake, version: DTLS1_2, epoch: 0, sequence: seq, fragment: encodeHandshake({ msgType: HandshakeType.client_hello, messageSeq: seq, body: encodeClientHello(h) }) });
  await send(helloDatagram(hello, 0), 'ClientHello (valid, to reach the second flight)');
  let cookie: Uint8Array | undefined;
  let serverHello = false;
  for (;;) {
    const m = await next();
    if (!m) return { messageSeq: cookie ? 2 : 1, recordSeq: cookie ? 2 : 1, note: `handshake not reached: no ${cookie ? 'ServerHelloDone after the cookie' : 'answer to the ClientHello'}; the case is sent anyway` };
    for (const rec of parseRecords(m).records) {
      if (rec.epoch !== 0) continue;
      if (rec.type === ContentType.alert) return { messageSeq: cookie ? 2 : 1, recordSeq: cookie ? 2 : 1, note: 'handshake not reached: the server sent an alert; the case is sent anyway' };
      if (rec.type !== ContentType.handshake) continue;
      const h = parseHandshake(rec.fragment);
      if (!h.ok) continue;
      for (const f of h.value) {
        if (f.msgType === HandshakeType.hello_verify_request && !cookie && !serverHello) {
          const v = parseHelloVerifyRequest(f.body);
          if (!v.ok) continue;
          cookie = v.value.cookie;
          await send(helloDatagram({ ...hello, cookie }, 1), `ClientHello with the ${cookie.length}B cookie`);
        } else if (f.msgType === HandshakeType.server_hello) {
          serverHello = true;
        } else if (f.msgType === HandshakeType.server_hello_done) {
          return { messageSeq: cookie ? 2 : 1, recordSeq: cookie ? 2 : 1, note: `server flight complete${cookie ? ' after the cookie round' : ' (no cookie asked)'}: the hostile second flight follows` };
        }
      }
    }
  }
}

async function sleep(ctx: CheckContext, ms: number): Promise<void> {
  try {
    await ctx.sleep(ms);
  } catch {
    // aborted: the caller looks at ctx.signal
  }
}

/** Polls liveness until alive or `boundMs` passed. */
async function waitForReturn(ctx: CheckContext, check: () => Promise<Liveness>, boundMs: number): Promise<Liveness & { readonly afterMs: number }> {
  const started = Date.now();
  for (;;) {
    const l = await check();
    const afterMs = Date.now() - started;
    if (l.alive || afterMs >= boundMs || ctx.signal.aborted) return { ...l, afterMs };
    await sleep(ctx, Math.min(POLL_MS, boundMs - afterMs));
  }
}

// ---------------------------------------------------------------- the check

export function pskOf(principals: readonly Principal[]): PskCredential | undefined {
  const p = pskPrincipals(principals)[0];
  return p && pskCredential(p.psk);
}

export const dtlsRobustness: Check = {
  id: 'transport.dtls-robustness',
  title: 'Hostile DTLS records and handshake fragments never stop the coaps service (property)',
  catalog: ['C15', 'C16'],
  requirements: requirementsOf('C15', 'C16'),
  protocols: ['coaps'],
  phase: 'main',
  severity: 'high',
  remedy:
    'Validate every DTLS record and handshake fragment header against the bytes received before using it (RFC 6347 4.2.3: fragment_offset + fragment_length within the message length, consistent fragments of one message) and drop what does not fit; a malformed datagram must never take the DTLS service down.',
  // The time budget (exploration and shrinking), one re-run and a recovery wait.
  timeoutMs: 180_000,
  applies: (_t, iface) => (iface.role === 'server' ? undefined : `${iface.id}: the device is the DTLS client here; the fuzz cases go to a DTLS server`),
  run: (ctx) => runRobustness(ctx, ctx.iface as CoapInterface),
};

async function runRobustness(ctx: CheckContext, iface: CoapInterface): Promise<CheckOutcome> {
  const psk = pskOf(ctx.target.principals);
  const suites = suitesOf(ctx);
  const alive = () => liveness(ctx, iface, psk, suites);
  const recoveryMs = Math.max(RECOVERY_MS, 2 * ctx.ioTimeoutMs);
  const oracle = psk ? `a full DTLS handshake as ${psk.identity} completes after every case` : 'a ClientHello is answered after every case (no principal has a PSK for a full handshake)';

  // The oracle must hold before any case, or a failure would prove nothing.
  const baseline = await alive();
  if (!baseline.alive) return { verdict: 'inconclusive', reason: `before any case: ${baseline.detail}; liveness cannot be judged`, findings: [], cases: 0 };

  let ran = 0;
  let down: Liveness | undefined;
  let gone: { readonly label: string; readonly detail: string } | undefined;
  let harnessError: unknown;
  let stopped = false;
  let inflight: Promise<unknown> = Promise.resolve();
  const started = Date.now();

  const runCase = async (c: DtlsCase): Promise<boolean> => {
    if (stopped || gone || harnessError !== undefined || ctx.signal.aborted) return true;
    try {
      if (down) {
        // The last case took the service down: let it come back before judging another.
        const back = await waitForReturn(ctx, alive, recoveryMs);
        if (!back.alive) {
          gone = { label: c.label, detail: back.detail };
          return true; // cannot judge this case: the counterexample stays the last failing one
        }
        down = undefined;
      }
      ctx.transcript.take();
      await sendCase(ctx, iface, c, suites, 0);
      ran++;
      ctx.caseDone(c.label);
      const after = await alive();
      if (ctx.signal.aborted) return true;
      ctx.transcript.record({ dir: 'note', peer: iface.id, decoded: `liveness: ${after.detail}` });
      if (after.alive) return true;
      down = after;
      return false;
    } catch (e) {
      // A harness failure (scope, socket) is not a counterexample: stop and rethrow below.
      harnessError = e;
      return true;
    }
  };
  const property = fc.asyncProperty(dtlsCaseArb(psk?.identity ?? 'gauntlet-fuzz'), (c) => {
    const p = runCase(c);
    inflight = p;
    return p;
  });
  const details = await fc.check(property, {
    ...propertyBounds(ctx),
    endOnFailure: false,
  });
  // The time limit races a case in progress: let it end before touching the device again.
  stopped = true;
  await inflight.catch(() => undefined);
  const wallMs = Date.now() - started;
  if (harnessError !== undefined) throw harnessError;
  const rate = `${ran} cases in ${(wallMs / 1000).toFixed(1)} s`;

  if (details.failed && details.counterexample) {
    const [c] = details.counterexample as [DtlsCase];
    const counterexample = { seed: details.seed, path: details.counterexamplePath ?? '', value: describeCase(c), numRuns: details.numRuns, shrinks: details.numShrinks };
    const summaryHead = `after ${c.label} (${caseBytes(c)} bytes) the coaps service stopped answering handshakes`;
    if (gone) {
      const observed = `${summaryHead}: ${down?.detail ?? 'no handshake'}; it did not come back within ${recoveryMs} ms (last probe: ${gone.detail}), so shrinking stopped at this case`;
      return {
        verdict: 'fail',
        reason: `the coaps service died after a hostile case and did not come back (${rate})`,
        cases: ran,
        findings: [{ summary: `${summaryHead}; it did not come back within ${recoveryMs / 1000} s`, evidence: { observed, declared: oracle, source: 'property: transport.dtls-robustness', transcript: ctx.transcript.take(), counterexample } }],
      };
    }
    // Re-run the shrunk case alone so the evidence is its transcript.
    if (down) await waitForReturn(ctx, alive, recoveryMs);
    ctx.transcript.take();
    ctx.transcript.note(`the shrunk case, sent again: ${c.label}`);
    await sendCase(ctx, iface, c, suites, Math.min(300, ctx.ioTimeoutMs));
    const again = await alive();
    ctx.transcript.note(`liveness: ${again.detail}`);
    let tail: string;
    if (again.alive) tail = `on the re-run the service survived (the shrunk failure did not reproduce: timing-dependent?); during the run: ${down?.detail ?? 'no handshake'}`;
    else {
      const back = await waitForReturn(ctx, alive, recoveryMs);
      ctx.transcript.note(back.alive ? `the service answered again ${back.afterMs} ms later (restarted)` : `no handshake for ${back.afterMs} ms: ${back.detail}`);
      tail = `${again.detail}; ${back.alive ? `it answered again after ${back.afterMs} ms (a restart: sessions and state lost)` : `it did not come back within ${recoveryMs} ms`}`;
    }
    return {
      verdict: 'fail',
      reason: `a hostile DTLS case stopped the coaps service: ${c.label} (${rate})`,
      cases: ran,
      findings: [
        {
          summary: summaryHead,
          evidence: { observed: `${summaryHead}: ${tail}`, declared: oracle, source: 'property: transport.dtls-robustness', transcript: ctx.transcript.take(), counterexample },
        },
      ],
    };
  }
  if (ctx.signal.aborted) return { verdict: 'inconclusive', reason: `interrupted after ${rate}`, findings: [], cases: ran };
  if (ran === 0) return { verdict: 'inconclusive', reason: 'no case ran within the budget', findings: [], cases: 0 };
  const perSecond = ran / Math.max(0.001, wallMs / 1000);
  return {
    verdict: 'pass',
    reason: `${ran} hostile DTLS cases, ${psk ? `a handshake as ${psk.identity}` : 'a ClientHello answered'} after each (${rate}, ${perSecond.toFixed(1)} cases/s)${details.interrupted ? ' (time budget reached)' : ''}; seed ${details.seed}`,
    findings: [],
    cases: ran,
    evidence: { observed: `alive after each of ${ran} cases (${rate})`, declared: oracle, source: 'property: transport.dtls-robustness', transcript: [] },
  };
}
