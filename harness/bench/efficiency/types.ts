// Load generator efficiency: Gauntlet's own load path beside a ceiling on
// the same server in the same run (a raw-socket writer, wrk, mosquitto_pub),
// so a reader sees the generator is not what limits a device's figure.

export interface ComparisonRow {
  readonly name: string;
  /** Ops per second; undefined when the row could not run (see skipped). */
  readonly rate?: number;
  readonly unit: string;
  /** The row every other row is divided by. */
  readonly ceiling?: boolean;
  /** Gauntlet's own load generator (the row the target ratio is about). */
  readonly ours?: boolean;
  readonly note?: string;
  /** Why the row did not run (a missing tool named with its Debian package). */
  readonly skipped?: string;
}

export interface Comparison {
  readonly id: string;
  readonly title: string;
  /** The server every row ran against, and the settings. */
  readonly setup: string;
  readonly rows: readonly ComparisonRow[];
  /** ours.rate / ceiling.rate, when both ran. */
  readonly ratio?: number;
  /** The target ratio from issue 7 (0.9). */
  readonly target: number;
}

export interface ComparisonOptions {
  /** Measured time per row, ms. */
  readonly durationMs: number;
  /** Progress lines ("mqtt: raw ceiling 5 s ..."). */
  readonly log: (line: string) => void;
}

export type ComparisonRun = (o: ComparisonOptions) => Promise<Comparison>;
