// What every protocol operation needs from its caller: the scope guard (no
// connect escapes the target file), a transcript to record bytes into, and
// bounds. Protocols never import checks; checks pass this in.

import type { ScopeGuard, TranscriptSink } from '../../model/index.js';

export interface Io {
  readonly scope: ScopeGuard;
  readonly transcript: TranscriptSink;
  /** Bound on one connect or one reply wait, ms. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** How the peer is named in transcripts, e.g. the interface id. */
  readonly peer: string;
}

/** Hex of at most `cap` bytes. */
export function hexOf(bytes: Uint8Array, cap = 256): { hex: string; truncated?: number } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length <= cap) return { hex: buf.toString('hex') };
  return { hex: buf.subarray(0, cap).toString('hex'), truncated: buf.length - cap };
}

/** A printable, bounded rendering of attacker-chosen or device-sent text. */
export function printable(value: string | Uint8Array, cap = 48): string {
  const s = typeof value === 'string' ? value : Buffer.from(value).toString('latin1');
  let out = '';
  for (const ch of s.slice(0, cap)) {
    const c = ch.codePointAt(0)!;
    out += c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0) ? `\\x${c.toString(16).padStart(2, '0')}` : ch;
  }
  if (s.length > cap) out += `…(+${s.length - cap})`;
  return JSON.stringify(out).slice(1, -1);
}
