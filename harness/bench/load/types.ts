// The contract of a device load generator (one per protocol file here):
// drive one hot path of one interface for a bounded time and op count, and
// say what completed. The generator is measured against the device, so it
// must never be the bottleneck: pre-encoded packets, batched writes that
// honour drain, lean reply accounting (see harness/bench/efficiency.ts).

import type { BenchPath, Interface, PathResult, Principal } from '../../model/index.js';
import type { Io } from '../../protocols/common/io.js';

export interface LoadOptions {
  readonly path: BenchPath;
  readonly iface: Interface;
  /** Who logs in / publishes (MQTT username, HTTP login, DTLS PSK); none: anonymous. */
  readonly principal?: Principal;
  /** Scope guard (every connect asserts the host), signal (abort ends the phase early, result still returned), timeout per connect/reply. */
  readonly io: Io;
  /** Measured phase, ms (after connecting and a short warm-up). */
  readonly durationMs: number;
  /** Ops at most in the measured phase. */
  readonly maxOps: number;
  readonly connections: number;
  readonly inFlight: number;
  /** MQTT: the topic to publish to and observe (the principal may publish and subscribe to it). CoAP: the resource path. HTTP: the route (GET), or the upload route. */
  readonly resource: string;
  /** Payload bytes per op where the path has one. */
  readonly payloadBytes?: number;
  /** Extra HTTP headers (a session token), or the upload's method/field details. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Called now and then (at most every 250 ms) with the ops completed so far. */
  readonly onProgress?: (ops: number) => void;
}

export type LoadGenerator = (o: LoadOptions) => Promise<PathResult>;
