// process.ts — spawn and babysit the third-party servers used for interop
// runs (Mosquitto, libcoap): captures their output into a bounded log, polls
// for readiness, stops them (SIGTERM, then SIGKILL), and makes sure none
// outlives this Node process:
//  - on Linux the server is started through util-linux `setpriv --pdeathsig
//    KILL` (which then execs it, same pid), so the kernel kills it whenever
//    this process dies, however it dies. This matters: vitest ends its fork
//    workers with SIGTERM/SIGKILL, and then no 'exit' handler runs;
//  - a process 'exit' hook kills whatever is left and removes temp dirs
//    registered with trackTempDir;
//  - sweepStaleTempDirs() removes temp dirs left by owners that are gone.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { which } from './which.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all (e.g. ENOENT). */
  error?: Error;
}

export interface ManagedProcess {
  readonly pid: number | undefined;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr (tail-truncated to maxLogBytes). */
  logs(): string;
  /** Null while it runs. */
  exitInfo(): ExitInfo | null;
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM, SIGKILL after graceMs, then wait for exit. Idempotent. */
  stop(graceMs?: number): Promise<ExitInfo>;
}

export interface SpawnManagedOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Keep at most this many characters of output (the newest). Default 1 MiB. */
  maxLogBytes?: number;
  /**
   * Kill the child when this process dies, via `setpriv --pdeathsig KILL`
   * (Linux, util-linux). Default true; silently off where setpriv is missing.
   * Note: the "parent" is the spawning thread, so under vitest's `threads`
   * pool the child dies with the worker thread.
   */
  dieWithParent?: boolean;
}

let setprivPath: string | null | undefined;
function setpriv(): string | null {
  if (setprivPath === undefined) setprivPath = process.platform === 'linux' ? which('setpriv') : null;
  return setprivPath;
}

// ---- never leave orphans ----------------------------------------------------

const live = new Set<ManagedProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) {
      try {
        p.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const dir of liveDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  });
}

/** Register a temp dir to be removed if this Node process exits before its owner cleans it up. */
export function trackTempDir(dir: string): () => Promise<void> {
  installExitHook();
  liveDirs.add(dir);
  return async () => {
    liveDirs.delete(dir);
    await rm(dir, { recursive: true, force: true });
  };
}

// ---- spawning -----------------------------------------------------------------

export function spawnManaged(
  binary: string,
  args: readonly string[],
  opts: SpawnManagedOptions = {},
): ManagedProcess {
  installExitHook();
  const resolved = which(binary);
  if (!resolved) throw new Error(`${binary}: not found or not executable`);
  const maxLogBytes = opts.maxLogBytes ?? 1024 * 1024;
  let log = '';
  let truncated = false;
  const append = (chunk: string): void => {
    log += chunk;
    if (log.length > maxLogBytes) {
      log = log.slice(log.length - maxLogBytes);
      truncated = true;
    }
  };

  const guard = opts.dieWithParent === false ? null : setpriv();
  const [file, argv] = guard
    ? [guard, ['--pdeathsig', 'KILL', '--', resolved, ...args]]
    : [resolved, [...args]];
  const child = spawn(file, argv, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.setEncoding('utf8').on('data', append);
  child.stderr?.setEncoding('utf8').on('data', append);

  let info: ExitInfo | null = null;
  let stopping: Promise<ExitInfo> | null = null;

  const exited = new Promise<ExitInfo>((resolve) => {
    child.on('error', (error) => {
      // 'error' without 'exit' means it never started; with 'exit' the exit wins.
      if (child.pid === undefined && info === null) {
        info = { code: null, signal: null, error };
        append(`[spawn ${binary} failed: ${error.message}]\n`);
        live.delete(managed);
        resolve(info);
      }
    });
    // 'close' rather than 'exit' so that all output has been read by then.
    child.once('close', (code, signal) => {
      if (info === null) info = { code, signal };
      live.delete(managed);
      resolve(info);
    });
  });

  const managed: ManagedProcess = {
    get pid() {
      return child.pid;
    },
    child,
    logs: () => (truncated ? `[... earlier output dropped ...]\n${log}` : log),
    exitInfo: () => info,
    exited,
    stop(graceMs = 2000): Promise<ExitInfo> {
      if (stopping) return stopping;
      stopping = (async () => {
        if (info === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => {
            if (info === null) child.kill('SIGKILL');
          }, graceMs);
          timer.unref();
          await exited;
          clearTimeout(timer);
        }
        return exited;
      })();
      return stopping;
    },
  };
  live.add(managed);
  return managed;
}

// ---- temp dirs -----------------------------------------------------------------

/** `${os.tmpdir()}/gauntlet-<what>-<pid>-` : mkdtemp prefix recording the owner pid. */
export function tempDirPrefix(what: string): string {
  return path.join(os.tmpdir(), `gauntlet-${what}-${process.pid}-`);
}

/** Whether a process with this pid exists (signal 0 only checks). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove gauntlet-<what>-<pid>-* temp dirs whose owner pid is gone (cheap: one readdir). */
export async function sweepStaleTempDirs(what: string): Promise<void> {
  const re = new RegExp(`^gauntlet-${what}-(\\d+)-`);
  let names: string[];
  try {
    names = await readdir(os.tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(re.exec(name)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    await rm(path.join(os.tmpdir(), name), { recursive: true, force: true }).catch(() => {});
  }
}

// ---- readiness ----------------------------------------------------------------

export class NotReadyError extends Error {
  constructor(
    message: string,
    readonly logs: string,
    /** True when the log says the port was taken (worth retrying with another port). */
    readonly portInUse: boolean,
  ) {
    super(message);
    this.name = 'NotReadyError';
  }
}

const PORT_IN_USE = /address already in use|cannot create \w+ endpoint/i;

export function logSaysPortInUse(logs: string): boolean {
  return PORT_IN_USE.test(logs);
}

export interface WaitReadyOptions {
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /**
   * Also require this in the log. A probe can be answered by whoever else
   * holds the port; a "listening" log line proves it is this process.
   */
  logReady?: RegExp;
  /** After the first good probe, wait this long and re-check the log for bind errors. */
  settleMs?: number;
}

/**
 * Poll `probe` until it returns true. Fails early (NotReadyError) if the
 * process exits or its log reports a bind failure, and after timeoutMs.
 */
export async function waitReady(
  proc: ManagedProcess,
  probe: () => Promise<boolean>,
  opts: WaitReadyOptions,
): Promise<void> {
  const interval = opts.intervalMs ?? 50;
  const deadline = Date.now() + opts.timeoutMs;
  const fail = (why: string): NotReadyError => {
    const logs = proc.logs();
    return new NotReadyError(
      `${opts.what} ${why}\n--- ${opts.what} output ---\n${logs || '(no output)'}\n--- end ---`,
      logs,
      logSaysPortInUse(logs),
    );
  };
  for (;;) {
    const exit = proc.exitInfo();
    if (exit) {
      const how = exit.error
        ? `could not be started (${exit.error.message})`
        : `exited before it was ready (code ${exit.code}, signal ${exit.signal})`;
      throw fail(how);
    }
    if (logSaysPortInUse(proc.logs())) throw fail('could not bind its port');
    if ((!opts.logReady || opts.logReady.test(proc.logs())) && (await probe())) {
      if (opts.settleMs) await new Promise((r) => setTimeout(r, opts.settleMs));
      // The probe may have been answered by someone else on a reused port.
      if (proc.exitInfo() === null && !logSaysPortInUse(proc.logs())) return;
      continue;
    }
    if (Date.now() >= deadline) throw fail(`was not ready after ${opts.timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, interval));
  }
}
