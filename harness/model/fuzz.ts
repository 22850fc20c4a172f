// Fuzz cases and oracle verdicts as data (no I/O). A case is what one fuzz
// iteration sends: a sequence of steps over one connection (MQTT, HTTP) or
// one UDP socket (CoAP), each step the exact bytes. Generators (fast-check
// arbitraries in protocols/*) produce cases; the campaign (fuzz/) sends them
// and the oracles judge. A finding keeps the shrunk case's bytes per step in
// its evidence, and its fast-check seed and path for `gauntlet replay`.

export type FuzzProtocol = 'mqtt' | 'coap' | 'http';

/** How a generator builds cases: conforming ones, or ones that break one rule each. */
export type FuzzMode = 'valid' | 'hostile';

export interface FuzzStep {
  /** Exactly what goes on the wire (one MQTT packet or several, one CoAP datagram, HTTP bytes). */
  readonly bytes: Uint8Array;
  /** One line a lab reads: `PUBLISH qos=2 topic="a/b"`, `remaining length 0xffffff80 (5 bytes)`. */
  readonly label: string;
}

export interface FuzzCase {
  readonly steps: readonly FuzzStep[];
  /** The rule this case breaks (hostile) or what it exercises (valid), one line. */
  readonly label: string;
}

/** What a black-box oracle concluded after a case. */
export type OracleKind = 'crash' | 'hang' | 'reboot' | 'invalid-response' | 'latency';

export interface OracleVerdict {
  readonly oracle: OracleKind;
  /** What was observed: `connect refused (ECONNREFUSED)`, `no CONNACK within 2000 ms`. */
  readonly detail: string;
}

/** The latency oracle's thresholds a lab may set (gauntlet fuzz --latency-*); the rest keep their defaults. */
export type FuzzTuning = Partial<Pick<FuzzThresholds, 'latencyFactor' | 'latencyWindow' | 'latencyFloorMs'>>;

export interface FuzzThresholds {
  /** A liveness probe slower than this is a hang, ms. */
  readonly hangMs: number;
  /** Probe latency above baseline x this factor (median of a window) is resource creep. */
  readonly latencyFactor: number;
  /** Probes in the latency window. */
  readonly latencyWindow: number;
  /** And the median must exceed the baseline by this much, ms: scheduling noise on a busy host is not creep. */
  readonly latencyFloorMs: number;
}
