// Byte-level replay of a fuzz finding record (fuzz/store.ts): the recorded
// connections sent again exactly as recorded, with no generator and no seed,
// to the interface of the same id on the target, judged by the campaign's
// oracles (fuzz/oracles.ts). The finding reproduces when the SAME oracle
// fires again; another oracle is reported, but is not a reproduction.
//   - The device must answer before anything is sent (a device still
//     rebooting is waited for, at most `rebootWaitMs`); if it never does the
//     replay says so (inconclusive), since a dead device proves nothing.
//   - After every connection: the campaign's settle time, the invalid-reply
//     oracle on what came back, then the probe (crash, hang, reboot).
//   - After a reproduction the device is given `rebootWaitMs` to come back,
//     so a lab's next command finds it up (`recover: false` skips that).
// Every send goes through the scope guard in `io`; the replay is bounded by
// the record's size (store.ts bounds connections and steps), each step's
// reply wait, and `timeMs` overall.

import type { FuzzCase, FuzzThresholds, Interface, OracleKind, OracleVerdict, Principal, Protocol, Target, TranscriptEntry } from '../model/index.js';
import { GauntletError } from '../core/errors.js';
import { TranscriptRecorder } from '../core/transcript.js';
import type { Io } from '../protocols/common/io.js';
import { SETTLE_MS } from './campaign.js';
import { FuzzProbe, invalidReply } from './oracles.js';
import { DEFAULT_SEND, sendCase, type SendOptions } from './send.js';
import { stepBytes, type FuzzFindingRecord } from './store.js';
import { fuzzPrincipal, sentinelTopicOf } from './sentinel.js';

export interface ReplayInputOptions {
  readonly thresholds: FuzzThresholds;
  /** How long the device may take to answer (before the replay, and after a reproduction). */
  readonly rebootWaitMs: number;
  /** Wait for the device to come back after a reproduction; default true. */
  readonly recover?: boolean;
  /** Bound on the whole replay, ms; default 120 000. */
  readonly timeMs?: number;
  /** The sentinel of the reboot oracle; default the target's first principal with a user name and password. */
  readonly principal?: Principal;
  /** MQTT: a topic the principal may subscribe to; default its first declared subscribe filter, made concrete. */
  readonly sentinelTopic?: string;
  readonly send?: SendOptions;
}

export interface ReplayInputResult {
  /** The recorded oracle fired again. */
  readonly reproduced: boolean;
  /** Set when the device could not be judged: down before the replay, or interrupted. */
  readonly inconclusive: boolean;
  /** The oracle that fired this time, if any (may differ from the recorded one). */
  readonly oracle?: OracleKind;
  readonly detail: string;
  readonly transcript: TranscriptEntry[];
}

export const DEFAULT_REPLAY_TIME_MS = 120_000;

const family = (p: Protocol | string): string => p.replace(/s$/, '');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The interface a record names, or a CONFIG_INVALID error naming the record, the target and what is there. */
export function recordInterface(target: Target, rec: FuzzFindingRecord): Interface {
  const iface = target.interfaces.find((i) => i.id === rec.interface.id);
  const list = target.interfaces.map((i) => `${i.id} (${i.protocol})`).join(', ') || 'none';
  if (!iface) {
    throw new GauntletError('CONFIG_INVALID', `fuzz finding ${rec.id}: interface ${rec.interface.id} is not in target ${target.name} (${target.source}); its interfaces: ${list}`);
  }
  if (family(iface.protocol) !== family(rec.interface.protocol)) {
    throw new GauntletError('CONFIG_INVALID', `fuzz finding ${rec.id}: recorded on a ${rec.interface.protocol} interface, but ${iface.id} in ${target.source} is ${iface.protocol}: the bytes would mean nothing there`);
  }
  return iface;
}

export async function replayFuzzRecord(target: Target, rec: FuzzFindingRecord, io: Io, opts: ReplayInputOptions): Promise<ReplayInputResult> {
  const iface = recordInterface(target, rec);
  const deadline = Date.now() + (opts.timeMs ?? DEFAULT_REPLAY_TIME_MS);
  const transcript = new TranscriptRecorder(2000);
  const rio: Io = { ...io, transcript, peer: iface.id };
  const principal = opts.principal ?? fuzzPrincipal(target);
  const probe = new FuzzProbe(iface, principal, opts.thresholds, rec.seed, opts.sentinelTopic ?? sentinelTopicOf(target, principal));
  const done = (r: Omit<ReplayInputResult, 'transcript'>): ReplayInputResult => ({ ...r, transcript: transcript.entries() });
  const interrupted = () => done({ reproduced: false, inconclusive: true, detail: 'interrupted before the replay could judge the device' });

  const waitAlive = (ms: number) => probe.awaitAlive(rio, ms, deadline);


  transcript.note(`replaying ${rec.id}: ${rec.connections.length} connection(s) to ${iface.id}; recorded oracle ${rec.oracle}`);
  const first = await waitAlive(opts.rebootWaitMs);
  if (io.signal?.aborted) return interrupted();
  if (!first.alive) {
    return done({ reproduced: false, inconclusive: true, detail: `the target did not answer before the replay (within ${opts.rebootWaitMs} ms): ${first.detail}` });
  }
  await probe.start(rio);
  transcript.note(`probe before the replay: ${first.detail}; watching ${probe.watching}`);

  let fired: OracleVerdict | undefined;
  let at = 0;
  for (const [i, c] of rec.connections.entries()) {
    if (io.signal?.aborted) return interrupted();
    if (Date.now() >= deadline) {
      return done({ reproduced: false, inconclusive: true, detail: `the replay ran out of its ${opts.timeMs ?? DEFAULT_REPLAY_TIME_MS} ms after ${i} of ${rec.connections.length} connection(s)` });
    }
    const kase: FuzzCase = { label: c.label, steps: c.steps.map((s) => ({ label: s.label, bytes: stepBytes(s) })) };
    transcript.note(`connection ${i + 1} of ${rec.connections.length}: ${c.label}`);
    const trace = await sendCase(iface, kase, rio, opts.send ?? DEFAULT_SEND);
    const invalid = trace.unreachable ? undefined : invalidReply(iface, trace);
    await sleep(SETTLE_MS);
    const p = await probe.check(rio);
    if (io.signal?.aborted) return interrupted();
    transcript.note(`probe after connection ${i + 1}: ${p.detail} (${p.ms.toFixed(1)} ms)`);
    fired = p.verdict ?? (invalid ? { oracle: 'invalid-response', detail: invalid } : undefined);
    at = i + 1;
    if (fired) break;
  }

  if (!fired) {
    return done({ reproduced: false, inconclusive: false, detail: `the device survived all ${rec.connections.length} connection(s): no crash, hang, reboot or invalid reply (recorded: ${rec.oracle})` });
  }
  const same = fired.oracle === rec.oracle;
  let detail = same
    ? `${fired.oracle} after connection ${at} of ${rec.connections.length}: ${fired.detail}`
    : `a different oracle fired after connection ${at} of ${rec.connections.length}: ${fired.oracle} (${fired.detail}); recorded: ${rec.oracle}`;
  if ((opts.recover ?? true) && fired.oracle !== 'invalid-response' && !io.signal?.aborted) {
    const back = await waitAlive(opts.rebootWaitMs);
    detail += back.alive ? `; the device answered again after ${back.afterMs} ms` : `; the device did not answer again within ${opts.rebootWaitMs} ms (${back.detail})`;
  }
  transcript.note(detail);
  return done({ reproduced: same, inconclusive: false, oracle: fired.oracle, detail });
}
