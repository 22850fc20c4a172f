// transport.dtls-replay (C09): a captured DTLS application record, sent to the
// device again, must not be processed again. RFC 6347 4.1.2.6: a receiver
// keeps a replay window and silently discards a duplicate record.
//   1. A relay (protocols/dtls/relay.ts) sits between the harness's DTLS
//      session, opened with the first principal's PSK, and the device.
//   2. Positive control: one CoAP CON GET /.well-known/core through it must
//      be answered; otherwise the check cannot tell a dropped copy from a
//      device that answers nothing (inconclusive).
//   3. The client datagram that carried the request (an epoch-1
//      application_data record, read with the codec) is sent twice more by
//      the relay, from the session's own address and port, exactly as
//      captured. Any datagram from the device within the wait after a copy
//      means the record was decrypted and processed again: a finding.
// Only the exact copy is replayed. STANDARDS.md C09 also lists "old sequence
// number" and "stale timestamp": at the DTLS record layer the sequence number
// is part of the AEAD nonce and additional data [RFC6347 4.1.2.1, RFC5246
// 6.2.3.3], so a record with any field or byte altered fails authentication
// on every device, window or not; the exact copy, with its old sequence
// number, is the one replay a network attacker can make and the one the
// window must catch. DTLS has no timestamp to make stale.

import { parse as parseCoap } from 'coap-packet';
import type { Check, CheckContext, CheckOutcome, CoapInterface, Evidence, Principal } from '../../model/index.js';
import { hexOf, printable, type Io } from '../../protocols/common/io.js';
import { codeName, coapExchangeOn } from '../../protocols/coap/exchange.js';
import { openDtlsChannel, pskCredential, pskPrincipals, type PskPrincipal } from '../../protocols/dtls/client.js';
import { ContentType, parseRecords } from '../../protocols/dtls/codec.js';
import { startDtlsRelay, type DtlsRelay, type RelayedDatagram } from '../../protocols/dtls/relay.js';
import { ioOf } from '../io.js';
import { requirementsOf } from '../requirements.js';

/** How many copies of the captured record are sent. */
export const COPIES = 2;
const WELL_KNOWN = '/.well-known/core';
const DECLARED = 'RFC 6347 4.1.2.6: a duplicate record is discarded silently (replay window); the request is served once';
const SOURCE = 'transport.dtls-replay: exact copy of the request record, sent again through a relay';

/** The first principal with a DTLS PSK: the session the replay needs. */
export function pskPrincipal(principals: readonly Principal[]): PskPrincipal | undefined {
  return pskPrincipals(principals)[0];
}

/** Whether a datagram carries an encrypted application_data record (epoch > 0, content type 23). */
export function carriesApplicationData(datagram: Uint8Array): { readonly epoch: number; readonly sequence: number } | undefined {
  const rec = parseRecords(datagram).records.find((r) => r.type === ContentType.application_data && r.epoch > 0);
  return rec && { epoch: rec.epoch, sequence: rec.sequence };
}

export const dtlsReplay: Check = {
  id: 'transport.dtls-replay',
  title: 'A captured DTLS application record sent again is not processed again (replay window)',
  catalog: ['C09'],
  requirements: requirementsOf('C09'),
  protocols: ['coaps'],
  phase: 'main',
  severity: 'high',
  remedy:
    'Enable the DTLS replay window (RFC 6347 4.1.2.6; on by default in mbed TLS, tinydtls, wolfSSL and OpenSSL): discard silently every record whose sequence number was already received in its epoch, before the application sees it.',
  // Handshake + one exchange + two waits, each bounded by the I/O timeout.
  timeoutMs: 60_000,
  applies(target, iface) {
    if (iface.role !== 'server') return `${iface.id}: the device is the DTLS client here; the replay runs against a DTLS server`;
    return pskPrincipal(target.principals) ? undefined : 'no principal has a DTLS PSK (principals.<name>.psk): no session to capture a record from';
  },
  run: (ctx) => runReplay(ctx, ctx.iface as CoapInterface),
};

async function runReplay(ctx: CheckContext, iface: CoapInterface): Promise<CheckOutcome> {
  const principal = pskPrincipal(ctx.target.principals);
  if (!principal) return { verdict: 'skipped', reason: 'no principal has a DTLS PSK: no session to capture a record from', findings: [] };
  const io = ioOf(ctx);
  const relay = await startDtlsRelay(iface, io);
  try {
    return await replayThrough(ctx, io, relay, principal.psk);
  } finally {
    await relay.close();
  }
}

async function replayThrough(ctx: CheckContext, io: Io, relay: DtlsRelay, psk: NonNullable<Principal['psk']>): Promise<CheckOutcome> {
  const evidence = (observed: string): Evidence => ({ observed, declared: DECLARED, source: SOURCE, transcript: ctx.transcript.entries() });
  const inconclusive = (reason: string): CheckOutcome => ({ verdict: 'inconclusive', reason, findings: [], evidence: evidence(reason) });

  const opened = await openDtlsChannel(relay.endpoint, pskCredential(psk), relay.clientIo(io));
  if (opened.kind !== 'open') return inconclusive(`no DTLS session as ${psk.identity} through the relay: ${opened.detail}`);
  const channel = opened.channel;
  try {
    // Positive control: the request is answered once.
    const mark = relay.datagrams().length;
    const first = await coapExchangeOn(channel, { method: 'GET', path: WELL_KNOWN }, io);
    if (first.kind !== 'response') return inconclusive(`positive control failed: GET ${WELL_KNOWN} over the session got ${first.kind === 'unreachable' ? `no answer (${first.error})` : first.kind}, so a dropped copy would prove nothing`);
    const answer = `${codeName(first.code)} (mid=${first.packet.messageId})`;

    const requests = relay
      .datagrams()
      .slice(mark)
      .filter((d) => d.dir === 'to-device' && carriesApplicationData(d.bytes) !== undefined);
    const captured = requests[0];
    if (!captured) return inconclusive('the request was answered, but the relay saw no client datagram with an encrypted application_data record (the client or the relay lost track)');
    const rec = carriesApplicationData(captured.bytes)!;
    const label = `the request's record (epoch ${rec.epoch}, seq ${rec.sequence}, ${captured.bytes.length} bytes${requests.length > 1 ? `; ${requests.length - 1} retransmission(s) also seen` : ''})`;

    // Late answers to retransmissions must not be taken for answers to a copy.
    if (ctx.signal.aborted) return inconclusive('interrupted');
    await quiet(ctx, relay, Math.min(300, Math.max(50, Math.floor(io.timeoutMs / 4))), io.timeoutMs);

    // What the session decrypts from here on: the device's answers to the copies, if it processed them.
    const decrypted: string[] = [];
    let decryptedCode: string | undefined;
    const offData = channel.onMessage((m) => {
      let text: string;
      try {
        const p = parseCoap(m);
        decryptedCode ??= codeName(p.code);
        text = `${p.ack ? 'ACK' : p.confirmable ? 'CON' : p.reset ? 'RST' : 'NON'} ${codeName(p.code)} mid=${p.messageId}${p.messageId === first.packet.messageId ? ' (the request\'s message id)' : ''}${p.payload.length ? ` payload "${printable(p.payload, 40)}"` : ''}`;
      } catch {
        text = `${m.length} bytes that are not CoAP`;
      }
      decrypted.push(text);
      io.transcript.record({ dir: 'note', peer: io.peer, decoded: `decrypted by the session: ${text}`, ...hexOf(m) });
    });
    const answers: { copy: number; d: RelayedDatagram }[] = [];
    let copy = 0;
    // Only application data shows the copy was processed; an alert or a stray
    // handshake retransmission does not (it stays in the transcript).
    const offDevice = relay.onDeviceDatagram((d) => {
      if (carriesApplicationData(d.bytes) !== undefined) answers.push({ copy, d });
    });
    try {
      for (copy = 1; copy <= COPIES; copy++) {
        if (ctx.signal.aborted) return inconclusive('interrupted');
        await relay.resend(captured.bytes, `copy ${copy} of ${COPIES} of ${label}, byte for byte (hex in the next entry)`);
        await sleepQuietly(ctx, io.timeoutMs);
      }
    } finally {
      offDevice();
      offData();
    }

    if (answers.length > 0) {
      const perCopy = Array.from({ length: COPIES }, (_, i) => answers.filter((a) => a.copy === i + 1).length);
      const what = decrypted.length ? `; the session decrypted ${decrypted.join('; ')}` : '';
      const observed =
        `a captured application record sent again was processed: the device answered the exact copies of ${label} with ` +
        `${perCopy.map((n, i) => `${n} datagram(s) after copy ${i + 1}`).join(', ')}${what}. The first request was answered ${answer}.`;
      return {
        verdict: 'fail',
        reason: `the device processed a replayed DTLS record: ${answers.length} datagram(s) answered ${COPIES} exact copies`,
        findings: [
          {
            summary: `a captured application record sent again was processed: the device answered ${decryptedCode ?? `with ${answers.length} datagram(s)`} to an exact copy of the request's DTLS record (no replay window)`,
            evidence: { ...evidence(observed), transcript: ctx.transcript.take() },
          },
        ],
      };
    }
    const observed = `${COPIES} exact copies of ${label} got no answer within ${io.timeoutMs} ms each; the request itself was answered ${answer}`;
    return { verdict: 'pass', reason: `replayed record dropped silently (${COPIES} copies)`, findings: [], evidence: evidence(observed) };
  } finally {
    await channel.close();
  }
}

/** Waits until the device has been silent for `quietMs` (at most `boundMs`). */
async function quiet(ctx: CheckContext, relay: DtlsRelay, quietMs: number, boundMs: number): Promise<void> {
  let last = performance.now();
  const off = relay.onDeviceDatagram(() => (last = performance.now()));
  const until = performance.now() + boundMs;
  try {
    while (performance.now() - last < quietMs && performance.now() < until) await sleepQuietly(ctx, Math.max(10, quietMs - (performance.now() - last)));
  } finally {
    off();
  }
}

/** ctx.sleep without the rejection on abort: callers look at ctx.signal. */
async function sleepQuietly(ctx: CheckContext, ms: number): Promise<void> {
  try {
    await ctx.sleep(ms);
  } catch {
    // aborted
  }
}
