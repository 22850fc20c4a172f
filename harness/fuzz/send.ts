// Sends one fuzz case to an interface exactly as generated: the steps in
// order over one TCP or TLS connection (MQTT, HTTP) or one UDP socket (CoAP),
// each followed by a short wait for what the device answers. Records every
// step and every reply in the transcript (hex and label) and returns the
// replies per step for the invalid-response oracle. The transcript's entries
// for steps and replies are built when it is read (recordLater): a campaign
// reads a case's transcript only when the case fails.

import type { FuzzCase, Interface } from '../model/index.js';
import { openUdpChannel, recordLater } from '../protocols/common/channel.js';
import { hexOf, type Io } from '../protocols/common/io.js';
import { connectStream } from '../protocols/common/stream.js';

export interface SendOptions {
  /** After a step, how long to wait for the first reply byte, ms. */
  readonly stepWaitMs: number;
  /** After a reply started, how long a quiet line means it is complete, ms. */
  readonly quietMs: number;
}

export const DEFAULT_SEND: SendOptions = { stepWaitMs: 10, quietMs: 3 };

export interface CaseTrace {
  /** What came back after each step that was sent: the bytes (TCP) or the datagrams (UDP); empty when nothing did. */
  readonly replies: readonly (readonly Buffer[])[];
  /** Steps actually sent (the device may close the connection before the last). */
  readonly sent: number;
  /** How the connection ended: `open` (closed by us), `closed by device after step N`, `connect failed: ...`. */
  readonly ending: string;
  /** The case could not even start: the target was not reachable. */
  readonly unreachable: boolean;
}

export function sendCase(iface: Interface, c: FuzzCase, io: Io, opts: SendOptions = DEFAULT_SEND): Promise<CaseTrace> {
  return iface.protocol === 'coap' || iface.protocol === 'coaps' ? sendDatagrams(iface, c, io, opts) : sendStream(iface, c, io, opts);
}

/** Collects what arrives until `stepWaitMs` passes with nothing, or `quietMs` passes after the last byte (polled every ms). */
function collector(): { push(b: Buffer): void; wait(opts: SendOptions, ended: () => boolean): Promise<Buffer[]> } {
  let chunks: Buffer[] = [];
  let last = 0;
  return {
    push(b) {
      chunks.push(b);
      last = Date.now();
    },
    wait(opts, ended) {
      const start = Date.now();
      // One promise for the whole wait, polled from the timer itself.
      return new Promise<Buffer[]>((resolve) => {
        const poll = () => {
          const now = Date.now();
          if (
            ended() ||
            (chunks.length === 0 && now - start >= opts.stepWaitMs) ||
            (chunks.length > 0 && now - last >= opts.quietMs) ||
            now - start >= opts.stepWaitMs * 4
          ) {
            const out = chunks;
            chunks = [];
            resolve(out);
          } else {
            setTimeout(poll, 1);
          }
        };
        setTimeout(poll, 1);
      });
    },
  };
}

async function sendStream(iface: Interface, c: FuzzCase, io: Io, opts: SendOptions): Promise<CaseTrace> {
  const opened = await connectStream(iface, io, `fuzz ${io.peer}`);
  if (opened.kind !== 'connected') {
    const why = opened.kind === 'unreachable' ? opened.error : 'timeout';
    io.transcript.record({ dir: 'note', peer: io.peer, decoded: `connect failed: ${why}` });
    return { replies: [], sent: 0, ending: `connect failed: ${why}`, unreachable: true };
  }
  const socket = opened.socket;
  const peer = io.peer;
  const got = collector();
  let closed: string | undefined;
  socket.on('data', (b: Buffer) => got.push(b));
  socket.on('error', (e: NodeJS.ErrnoException) => (closed ??= `reset (${e.code ?? e.message})`));
  socket.on('close', () => (closed ??= 'closed'));
  const replies: Buffer[][] = [];
  let sent = 0;
  try {
    for (const step of c.steps) {
      if (closed || io.signal?.aborted) break;
      const { label, bytes } = step;
      recordLater(io.transcript, () => ({ dir: 'sent', peer, decoded: label, ...hexOf(bytes, 512) }));
      socket.write(bytes);
      sent++;
      const reply = Buffer.concat(await got.wait(opts, () => closed !== undefined));
      replies.push(reply.length ? [reply] : []);
      if (reply.length) recordLater(io.transcript, () => ({ dir: 'received', peer, decoded: `${reply.length} bytes`, ...hexOf(reply, 512) }));
    }
  } finally {
    socket.destroy();
  }
  const ending = closed ? `${closed} by the device after step ${sent} of ${c.steps.length}` : 'open until the case ended';
  io.transcript.record({ dir: 'note', peer: io.peer, decoded: ending });
  return { replies, sent, ending, unreachable: false };
}

async function sendDatagrams(iface: Interface, c: FuzzCase, io: Io, opts: SendOptions): Promise<CaseTrace> {
  const opened = await openUdpChannel(iface, io, `fuzz ${io.peer}`);
  if (opened.kind !== 'open') return { replies: [], sent: 0, ending: `socket failed: ${opened.detail}`, unreachable: true };
  const ch = opened.channel;
  const peer = io.peer;
  const got = collector();
  let failed: string | undefined;
  ch.onMessage((b) => got.push(b));
  ch.onFailure((why) => (failed ??= why));
  const ended = () => failed !== undefined;
  const replies: Buffer[][] = [];
  let sent = 0;
  try {
    for (const step of c.steps) {
      if (io.signal?.aborted) break;
      const label = step.label;
      // The copy sent is the one the transcript renders: nothing else holds it.
      const datagram = Buffer.from(step.bytes);
      recordLater(io.transcript, () => ({ dir: 'sent', peer, decoded: label, ...hexOf(datagram, 512) }));
      ch.send(datagram);
      sent++;
      const datagrams = await got.wait(opts, ended);
      replies.push(datagrams);
      for (const d of datagrams) recordLater(io.transcript, () => ({ dir: 'received', peer, decoded: `datagram, ${d.length} bytes`, ...hexOf(d, 512) }));
      if (failed) break;
    }
  } finally {
    await ch.close();
  }
  const ending = failed ? `${failed} after datagram ${sent} of ${c.steps.length}` : 'all datagrams sent';
  io.transcript.record({ dir: 'note', peer: io.peer, decoded: ending });
  return { replies, sent, ending, unreachable: failed !== undefined && sent <= 1 };
}
