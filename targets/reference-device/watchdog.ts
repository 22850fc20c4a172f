// A supervised service of the reference device (like systemd's
// Restart=always with RestartSec): when it crashes, every socket of it closes
// at once (clients see refused connections and resets, as from a dead
// process) and it comes back on the same ports after the restart delay, its
// in-memory state gone (MQTT sessions, retained messages, HTTP sessions of
// that service). A hang wedges it: it stops answering without closing, until
// the watchdog notices and restarts it. The robustness flaws (fuzz targets)
// use this, so a fuzzer observes crash, hang and reboot from outside.
//
// A unit in its own process (options.faults 'process', child.ts) has no
// watchdog: a crash ends the process (crashProcess: exit code 70, the ports
// really refuse) and a hang lasts until whoever runs the process restarts it.

/** The exit code of a unit process that crashed on a fault (EX_SOFTWARE, sysexits.h). */
export const CRASH_EXIT_CODE = 70;

/** A crash with no watchdog: the reason on stderr (synchronous on a pipe or a file), then the whole process ends. */
export function crashProcess(service: string, reason: string): never {
  try {
    process.stderr.write(`${service} crashed: ${reason}\n`);
  } finally {
    process.exit(CRASH_EXIT_CODE);
  }
}

export interface Service {
  close(): Promise<void>;
}

export type ServiceState = 'up' | 'hung' | 'down';

export class Supervised<T extends Service> {
  private current: T;
  private timer: NodeJS.Timeout | undefined;
  private restarting: Promise<void> | undefined;
  private stopped = false;
  private stateNow: ServiceState = 'up';

  private constructor(
    readonly name: string,
    private readonly restartFn: () => Promise<T>,
    first: T,
    private readonly delayMs: number,
    private readonly log: (line: string) => void,
  ) {
    this.current = first;
  }

  /** Starts the service once (`first`, which may pick free ports) and supervises later restarts (`again`, on the same ports). */
  static async start<T extends Service>(
    name: string,
    first: () => Promise<T>,
    again: (previous: T) => () => Promise<T>,
    delayMs: number,
    log: (line: string) => void,
  ): Promise<Supervised<T>> {
    const s = await first();
    return new Supervised(name, again(s), s, delayMs, log);
  }

  get service(): T {
    return this.current;
  }

  get state(): ServiceState {
    return this.stateNow;
  }

  /** The service dies now (all sockets closed) and restarts after the delay. */
  crash(reason: string): void {
    if (this.stopped || this.stateNow === 'down') return;
    this.stateNow = 'down';
    this.log(`${this.name}: crashed (${reason}); watchdog restarts it in ${this.delayMs} ms`);
    const dying = this.current;
    clearTimeout(this.timer);
    this.restarting = dying.close().catch(() => undefined).then(() => this.schedule());
  }

  /**
   * The service stops answering (sockets stay open) until the watchdog restarts
   * it after `forMs`; with `forMs` undefined (no watchdog), until the unit's
   * process is restarted from outside.
   */
  hang(reason: string, forMs: number | undefined): void {
    if (this.stopped || this.stateNow !== 'up') return;
    this.stateNow = 'hung';
    if (forMs === undefined) {
      this.log(`${this.name}: hung (${reason}); no watchdog: wedged until the unit is restarted`);
      return;
    }
    this.log(`${this.name}: hung (${reason}); watchdog restarts it in ${forMs} ms`);
    this.timer = setTimeout(() => {
      this.stateNow = 'down';
      this.restarting = this.current.close().catch(() => undefined).then(() => this.schedule(0));
    }, forMs);
  }

  private schedule(delay = this.delayMs): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.restart(), delay);
  }

  private restart(): void {
    this.timer = undefined;
    if (this.stopped) return;
    this.restarting = this.restartFn().then(
      async (next) => {
        if (this.stopped) return next.close();
        this.current = next;
        this.stateNow = 'up';
        this.log(`${this.name}: watchdog restarted it`);
      },
      (e: unknown) => {
        if (this.stopped) return;
        // The port may still be held a moment: try again.
        this.log(`${this.name}: watchdog could not restart it (${e instanceof Error ? e.message : String(e)}); retrying in ${this.delayMs} ms`);
        this.schedule();
      },
    );
  }

  close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    return (async () => {
      await this.restarting;
      if (this.stateNow !== 'down') await this.current.close();
    })();
  }
}
