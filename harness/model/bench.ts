// Device benchmarks: what `gauntlet bench` measures on one interface (a
// "path": a constrained-device hot path such as MQTT QoS 1 publish), the
// figures it keeps, and the floors a target file may declare. Types only.

/** The hot paths measured per protocol. */
export const BENCH_PATHS = [
  'mqtt.publish.qos0',
  'mqtt.publish.qos1',
  'mqtt.publish.qos2',
  'mqtt.connect',
  'coap.get',
  'coap.non',
  'coap.block',
  'dtls.handshake',
  'http.request',
  'http.upload',
] as const;
export type BenchPath = (typeof BENCH_PATHS)[number];

/** What one op of a path is, as a table heading says it. */
export const BENCH_UNITS: Readonly<Record<BenchPath, string>> = {
  'mqtt.publish.qos0': 'msg',
  'mqtt.publish.qos1': 'msg',
  'mqtt.publish.qos2': 'msg',
  'mqtt.connect': 'connect',
  'coap.get': 'request',
  'coap.non': 'request',
  'coap.block': 'transfer',
  'dtls.handshake': 'handshake',
  'http.request': 'request',
  'http.upload': 'upload',
};

/** Latency of the ops of one path, ms (a latency sample per op, or per sampled op). */
export interface LatencySummary {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** The load settings a path ran with. */
export interface PathSettings {
  /** Connections (TCP sessions, UDP sockets, DTLS sessions) opened side by side. */
  readonly connections: number;
  /** Requests or messages outstanding per connection (tokens in flight, MQTT in-flight window, HTTP pipelining depth). */
  readonly inFlight: number;
  /** Payload per op, bytes, where the path has one (publish payload, block-wise body, upload size). */
  readonly payloadBytes?: number;
  /** The topic, resource or route the path drove. */
  readonly resource?: string;
  readonly durationMs: number;
  readonly maxOps: number;
}

export interface PathResult {
  readonly path: BenchPath;
  /** The interface id (target file). */
  readonly interface: string;
  /** Ops completed (acknowledged, answered, delivered): never merely sent. */
  readonly ops: number;
  /** Wall time of the measured phase (after connecting and warm-up), ms. */
  readonly elapsedMs: number;
  /** ops / elapsed seconds. */
  readonly rate: number;
  /** Payload bytes per second moved by completed ops, where a payload is the point (block-wise, upload). */
  readonly bytesPerSec?: number;
  readonly latency?: LatencySummary;
  /** Ops that failed: refused, answered with an error code, timed out, lost. */
  readonly errors: number;
  /** What went wrong, the first few distinct kinds (peer and reason named). */
  readonly errorDetail?: readonly string[];
  /** Set when the path could not be measured at all (no principal, no topic allowed, refused login, ...): why. */
  readonly skipped?: string;
  readonly settings: PathSettings;
  /** Observations a reader needs to trust the figure (e.g. "observer saw 99.8% of published messages"). */
  readonly notes: readonly string[];
}

/**
 * A floor the manufacturer declares for one path of one interface (target
 * file `declaration.performance.floors`): regression gating for firmware.
 */
export interface PerformanceFloor {
  readonly interface: string;
  readonly path: BenchPath;
  /** Ops per second at least. */
  readonly minRate?: number;
  /** p99 latency at most, ms. */
  readonly maxP99Ms?: number;
}

export interface PerformanceDeclaration {
  readonly floors: readonly PerformanceFloor[];
  /** The longest a liveness probe may take while the device is flooded (robustness.flood), ms. */
  readonly floodLatencyMs: number;
}

/** The default when the target file does not declare it. */
export const DEFAULT_FLOOD_LATENCY_MS = 2000;

/** The protocols a path can be measured on. */
export function benchPathFits(path: BenchPath, protocol: string): boolean {
  if (path.startsWith('mqtt.')) return protocol === 'mqtt' || protocol === 'mqtts';
  if (path.startsWith('coap.')) return protocol === 'coap';
  if (path === 'dtls.handshake') return protocol === 'coaps';
  return protocol === 'http' || protocol === 'https';
}
