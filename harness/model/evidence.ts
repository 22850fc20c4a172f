// Evidence: what shows a verdict. Transcripts hold bytes both ways with
// timestamps and a decoded form, so a lab can file them and a reader can
// re-check the oracle by hand.

export type Direction = 'sent' | 'received' | 'note';

export interface TranscriptEntry {
  /** Milliseconds since the check began. */
  readonly t: number;
  readonly dir: Direction;
  /** `interface id` or `host:port` of the peer. */
  readonly peer: string;
  /** Hex of the bytes on the wire (capped; `truncated` says by how much). */
  readonly hex?: string;
  readonly truncated?: number;
  /** One-line decoded form, e.g. `CONNACK returnCode=5 (not authorized)`. */
  readonly decoded: string;
}

export interface Counterexample {
  /** fast-check seed and path: passing them back replays the shrunk case directly. */
  readonly seed: number;
  readonly path: string;
  /** Human-readable shrunk value. */
  readonly value: string;
  readonly numRuns: number;
  readonly shrinks: number;
}

/**
 * A fuzz finding's exact input: the connections (one TCP connection or UDP
 * socket each, in order) and each one's steps as hex, so the finding can be
 * replayed byte for byte, with no generator or seed, and kept in a corpus.
 */
export interface FuzzEvidence {
  readonly protocol: 'mqtt' | 'coap' | 'http';
  /** The oracle that fired: crash, hang, reboot, invalid-response. */
  readonly oracle: 'crash' | 'hang' | 'reboot' | 'invalid-response' | 'latency';
  readonly connections: readonly {
    /** The case's label: the rule it breaks or what it exercises. */
    readonly label: string;
    readonly steps: readonly { readonly label: string; readonly hex: string }[];
  }[];
  /** Whether the shrunk input fired the same oracle again on the recovered device. */
  readonly confirmed: boolean;
}

export interface Evidence {
  /** What was compared with what: `declared lockout 5/1000ms; observed: login accepted after 6 failures`. */
  readonly observed: string;
  /** The declared value used as the oracle, where the check has one. */
  readonly declared?: string;
  /** Where the oracle came from: `target:declaration.lockout`, `dictionary:corpora/credentials/mqtt.txt`. */
  readonly source?: string;
  readonly transcript: readonly TranscriptEntry[];
  readonly counterexample?: Counterexample;
  /** Fuzz findings: the exact input, for byte-level replay. */
  readonly fuzz?: FuzzEvidence;
}

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

export interface Finding {
  /** Stable within a run: `<check>@<iface>#<n>`, file-name safe form in `fileId`. */
  readonly id: string;
  readonly fileId: string;
  readonly checkId: string;
  readonly instanceId: string;
  readonly interfaceId: string;
  readonly severity: Severity;
  readonly summary: string;
  /** What the manufacturer should change. */
  readonly remedy: string;
  readonly requirements: readonly string[];
  readonly evidence: Evidence;
  /** Shell command that reproduces the finding. */
  readonly replay: string;
}
