// Builds a protocol Io from a check's context: scope guard, transcript,
// bounds and the run's abort signal travel together.

import type { CheckContext } from '../model/index.js';
import type { Io } from '../protocols/common/io.js';

export function ioOf(ctx: CheckContext, timeoutMs = ctx.ioTimeoutMs): Io {
  return { scope: ctx.scope, transcript: ctx.transcript, timeoutMs, signal: ctx.signal, peer: ctx.iface.id };
}

/**
 * fast-check parameters every property-based check shares: the instance's
 * seed, the replay path, and the run's case and time bounds (running out of
 * time ends the run without failing it).
 */
export function propertyBounds(ctx: CheckContext): { seed: number; path: string | undefined; numRuns: number; interruptAfterTimeLimit: number; markInterruptAsFailure: false } {
  return { seed: ctx.instance.seed, path: ctx.replay.path, numRuns: ctx.budget.numRuns, interruptAfterTimeLimit: ctx.budget.timeMs, markInterruptAsFailure: false };
}
