// Builds a protocol Io from a check's context: scope guard, transcript,
// bounds and the run's abort signal travel together.

import type { CheckContext } from '../model/index.js';
import type { Io } from '../protocols/common/io.js';

export function ioOf(ctx: CheckContext, timeoutMs = ctx.ioTimeoutMs): Io {
  return { scope: ctx.scope, transcript: ctx.transcript, timeoutMs, signal: ctx.signal, peer: ctx.iface.id };
}
