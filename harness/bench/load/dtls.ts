// DTLS handshake load generator for `gauntlet bench` (dtls.handshake): full DTLS 1.2 PSK handshakes per second on a coaps interface, each closed at once. Unlike the CoAP generator (hand-written, pre-encoded datagrams: the stock `coap` client cannot saturate a device) it runs the harness's own conforming client, because the cost measured is the device's handshake (cookie round, PSK key derivation, Finished), not datagram handling.
//
// `connections` loops run side by side, each: handshake, close, again. A
// handshake is an op when it is established (latency: start to established);
// a refused key shows as a timeout in node-dtls-client (see
// protocols/dtls/client.ts), so when every loop's first attempt fails and
// none succeeded the run stops early and says so, naming the PSK identity.

import type { PathResult, PathSettings } from '../../model/index.js';
import { DISCARD_TRANSCRIPT } from '../../core/transcript.js';
import type { Io } from '../../protocols/common/io.js';
import type { DatagramChannel } from '../../protocols/common/channel.js';
import { openDtlsChannel, pskCredential } from '../../protocols/dtls/client.js';
import { LatencyRecorder, nowMs } from './latency.js';
import type { LoadGenerator, LoadOptions } from './types.js';

const WARMUP_MS = 300;
const DRAIN_MS = 500;
const PROGRESS_MS = 250;
/** Pause of a loop after a refused handshake (ICMP unreachable answers at once: no busy loop of sockets). */
const REFUSED_BACKOFF_MS = 20;
const MAX_KINDS = 6;


function settingsOf(o: LoadOptions, connections = o.connections): PathSettings {
  return { connections, inFlight: 1, durationMs: o.durationMs, maxOps: o.maxOps };
}

function skippedResult(o: LoadOptions, why: string, extra: Partial<PathResult> = {}): PathResult {
  return { path: o.path, interface: o.iface.id, ops: 0, elapsedMs: 0, rate: 0, errors: 0, skipped: why, settings: settingsOf(o), notes: [], ...extra };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const dtlsLoad: LoadGenerator = async (o) => {
  if (o.path !== 'dtls.handshake') return skippedResult(o, `${o.path} is not a DTLS path (dtls.handshake)`);
  if (o.iface.protocol !== 'coaps') return skippedResult(o, `dtls.handshake needs a coaps interface; ${o.iface.id} is ${o.iface.protocol}`);
  const psk = o.principal?.psk;
  if (!psk) return skippedResult(o, 'no principal with a DTLS PSK in the target file');
  const cred = pskCredential(psk);
  const ep = { host: o.iface.host, port: o.iface.port };
  o.io.scope.assert(ep.host, `bench dtls.handshake ${o.iface.id}`);
  if (o.io.signal?.aborted) return skippedResult(o, 'aborted before the run started');

  const connections = Math.max(1, Math.floor(o.connections));
  const durationMs = Math.max(1, o.durationMs);
  const maxOps = Math.max(0, o.maxOps);
  const peer = `${o.iface.id} (${ep.host}:${ep.port})`;
  // Ends every handshake in flight when the run ends (the caller's abort, or the end of the phase).
  const stop = new AbortController();
  const io: Io = { ...o.io, transcript: DISCARD_TRANSCRIPT /* handshakes are timed, not transcribed */, signal: stop.signal };

  const WARMUP = 0;
  const MEASURE = 1;
  const OVER = 2;
  let phase = WARMUP;
  let ops = 0;
  let errors = 0;
  let active = 0;
  let rec = new LatencyRecorder();
  let kinds = new Map<string, number>();
  let measureStart = 0;
  let elapsedMs = 0;
  let everOk = false;
  let failedBeforeAnyOk = 0;
  let firstFailure: string | undefined;
  let aborted = false;
  let refusedKey = false;
  const closing = new Set<Promise<void>>();

  const kind = (k: string) => {
    const n = kinds.get(k);
    if (n !== undefined) kinds.set(k, n + 1);
    else if (kinds.size < MAX_KINDS) kinds.set(k, 1);
  };

  let durationTimer: NodeJS.Timeout | undefined;
  const endPhase = (now: number): void => {
    if (phase === OVER) return;
    elapsedMs = phase === MEASURE ? now - measureStart : 0;
    phase = OVER;
    clearTimeout(durationTimer);
    stop.abort();
  };
  const startMeasure = (): void => {
    if (phase !== WARMUP) return;
    phase = MEASURE;
    ops = 0;
    errors = 0;
    rec = new LatencyRecorder();
    kinds = new Map();
    measureStart = nowMs();
    durationTimer = setTimeout(() => endPhase(nowMs()), durationMs);
    if (maxOps === 0) endPhase(measureStart);
  };
  const onAbort = (): void => {
    aborted = phase !== OVER;
    endPhase(nowMs());
  };
  o.io.signal?.addEventListener('abort', onAbort, { once: true });
  const warmupMs = Math.min(WARMUP_MS, durationMs / 10);
  const warmupTimer = setTimeout(startMeasure, warmupMs);
  const progress = setInterval(() => {
    if (phase !== MEASURE || !o.onProgress) return;
    try {
      o.onProgress(ops);
    } catch {
      // a progress callback never breaks the run
    }
  }, PROGRESS_MS);

  const close = (channel: DatagramChannel): void => {
    const p = channel.close().catch(() => {});
    closing.add(p);
    void p.finally(() => closing.delete(p));
  };

  const loop = async (): Promise<void> => {
    while (phase !== OVER) {
      if (phase === MEASURE && ops + active >= maxOps) {
        if (ops >= maxOps) endPhase(nowMs());
        else await sleep(1);
        continue;
      }
      active++;
      const t0 = nowMs();
      let outcome;
      try {
        outcome = await openDtlsChannel(ep, cred, io);
      } catch (e) {
        outcome = { kind: 'refused' as const, detail: (e as Error).message };
      }
      const t1 = nowMs();
      active--;
      if (outcome.kind === 'open') {
        close(outcome.channel);
        everOk = true;
        if (phase === MEASURE) {
          ops++;
          rec.add(t1 - t0);
          if (ops >= maxOps) endPhase(t1);
        }
        continue;
      }
      if (phase === OVER) break; // ended by the run, not by the device
      if (phase === MEASURE) {
        errors++;
        kind(outcome.detail);
      }
      if (!everOk) {
        failedBeforeAnyOk++;
        firstFailure ??= outcome.detail;
        if (failedBeforeAnyOk >= connections) {
          // Every loop's first handshake failed and none succeeded: a wrong key or a dead port, not a load figure.
          refusedKey = outcome.kind === 'timeout';
          endPhase(t1);
          break;
        }
      }
      if (outcome.kind === 'refused') await sleep(REFUSED_BACKOFF_MS);
    }
  };

  await Promise.all(Array.from({ length: connections }, () => loop()));
  clearTimeout(warmupTimer);
  clearTimeout(durationTimer);
  clearInterval(progress);
  o.io.signal?.removeEventListener('abort', onAbort);
  // Sessions still closing: bounded (each close gives up after 200 ms).
  await Promise.race([Promise.all([...closing]), sleep(DRAIN_MS)]);

  const notes: string[] = [`${connections} handshake loop(s) side by side as ${cred.identity}; warm-up ${Math.round(warmupMs)} ms not counted; each session closed once established`];
  if (aborted) notes.push(`aborted ${elapsedMs > 0 ? `after ${Math.round(elapsedMs)} ms of the measured phase` : 'during the warm-up'}: the result so far`);
  const detail = [...kinds].map(([k, v]) => `${peer} ${k} (x${v})`);
  if (!everOk && !aborted && maxOps > 0) {
    const why =
      failedBeforeAnyOk < connections
        ? `no DTLS handshake as PSK identity "${cred.identity}" completed within the run (${durationMs} ms; a handshake may take up to ${Math.max(500, o.io.timeoutMs)} ms before it times out)`
        : refusedKey
          ? `no DTLS handshake as PSK identity "${cred.identity}" completed: all ${failedBeforeAnyOk} first attempts timed out (node-dtls-client reports a refused PSK as a timeout: check the key of "${cred.identity}", or whether ${peer} answers DTLS)`
          : `no DTLS handshake as PSK identity "${cred.identity}" completed: all ${failedBeforeAnyOk} first attempts failed: ${firstFailure ?? 'unknown'}`;
    return skippedResult(o, why, {
      errors: failedBeforeAnyOk,
      ...(detail.length > 0 ? { errorDetail: detail } : firstFailure !== undefined ? { errorDetail: [`${peer} ${firstFailure}`] } : {}),
      settings: settingsOf(o, connections),
      notes,
    });
  }
  const latency = rec.summary();
  const secs = elapsedMs / 1000;
  return {
    path: o.path,
    interface: o.iface.id,
    ops,
    elapsedMs,
    rate: secs > 0 ? ops / secs : 0,
    ...(latency ? { latency } : {}),
    errors,
    ...(detail.length > 0 ? { errorDetail: detail } : {}),
    settings: settingsOf(o, connections),
    notes,
  };
};
