// startReferenceDeviceProcess: the reference device in a child process, so a
// fuzz crash is a real crash. The child (child.ts, run from its built form in
// dist/) runs the unit with faults 'process': a crash fault ends the process
// (exit code 70) and its ports really refuse; a hang wedges the service with
// no watchdog. The campaign sees that from outside and calls restart(), which
// starts a new process on the same ports with the same identity, credentials
// and key material (a material dir this handle owns), so the target file
// stays true. A restarted unit is freshly booted: whatever it held in RAM
// (sessions, lockout counters, a changed password, the installed firmware)
// is gone, as on a real unit without persistent settings.
//
// Every wait is bounded: a child that is not ready within START_TIMEOUT_MS is
// killed and reported with the tail of its stderr. The child ends when its
// IPC channel closes, so a parent that dies takes its unit with it; the
// child and its channel are unref'd, so a forgotten handle never keeps the
// parent alive either.

import { fork, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GauntletError, type ErrorCode } from '../../harness/core/errors.js';
import type { TargetFileInput } from '../../harness/core/target-file.js';
import { unitFacts, type RunningDevice } from './device.js';
import type { Flaw } from './flaws.js';
import { resolveOptions, type DeviceOptions, type ResolvedOptions } from './options.js';
import { freeTcpPort } from './sockets.js';

/** A start or restart that has no ready child by then fails (and its child is killed). */
export const START_TIMEOUT_MS = 15_000;
/** How long a SIGKILLed child may take to be gone. */
const KILL_WAIT_MS = 3_000;
/** How many stderr lines of a child are kept for error messages. */
const TAIL_LINES = 20;
const TAIL_LINE_CHARS = 300;
/** Starts tried when a port turns out taken (one this handle picked, or any on a restart). */
const START_ATTEMPTS = 3;
const RETRY_DELAY_MS = 250;

type Ports = ResolvedOptions['ports'];

/** The options of one start of the child: resolved, every port fixed (never 0), a material dir. */
export type ChildOptions = Omit<ResolvedOptions, 'log' | 'materialDir'> & { readonly materialDir: string };

/** The one message the parent sends, right after the fork. */
export interface ChildStart {
  readonly type: 'start';
  readonly options: ChildOptions;
}

export interface ChildReady {
  readonly type: 'ready';
  readonly ports: Ports;
  readonly images: RunningDevice['images'];
  readonly updateCa: RunningDevice['updateCa'];
  readonly deviceCa: RunningDevice['deviceCa'];
}

/** What the child sends: its log lines, then ready or failed (then it exits). */
export type ChildMessage =
  | ChildReady
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'failed'; readonly code: string; readonly message: string; readonly errno?: string; readonly port?: number };

export interface DeviceProcess {
  /** The same shape and values as RunningDevice's (device.ts), stable across restarts. */
  readonly endpoints: RunningDevice['endpoints'];
  readonly credentials: RunningDevice['credentials'];
  readonly flaws: readonly Flaw[];
  readonly identity: RunningDevice['identity'];
  /** The vendor images, update CA and device CA: files in the material dir, the same across restarts. */
  readonly images: RunningDevice['images'];
  readonly updateCa: RunningDevice['updateCa'];
  readonly deviceCa: RunningDevice['deviceCa'];
  /** The target file (gauntlet-target/1) of the unit; stable across restarts (same ports, same CA file paths). */
  targetFile(): TargetFileInput;
  /** PID of the running child, undefined while none runs. */
  pid(): number | undefined;
  /** How the last child ended (`exit code 70`, `signal SIGKILL`), undefined while it runs. */
  exited(): string | undefined;
  /**
   * Kills the child if it still runs (SIGKILL) and starts a new one on the
   * same ports with the same identity, credentials and key material. Resolves
   * to one line for a transcript; rejects with GauntletError DEVICE_START
   * naming what failed within START_TIMEOUT_MS (ABORTED when `signal` fires or
   * close() is called meanwhile).
   */
  restart(signal?: AbortSignal): Promise<string>;
  /** Kills the child and removes the material dir this handle made; idempotent. */
  close(): Promise<void>;
}

/**
 * The child entry, dist/targets/reference-device/child.js under the project
 * root (the nearest directory above `from` with a package.json): the same
 * from the TypeScript sources and from dist/.
 */
export function childEntryPath(from: string = import.meta.url): string {
  const start = dirname(fileURLToPath(from));
  let root = start;
  for (let up = 0; up < 6 && !existsSync(join(root, 'package.json')); up++) root = dirname(root);
  if (!existsSync(join(root, 'package.json'))) {
    throw new GauntletError('DEVICE_START', `reference device process: no package.json in or above ${start}: cannot find the project root and its dist/`);
  }
  const entry = join(root, 'dist', 'targets', 'reference-device', 'child.js');
  if (!existsSync(entry)) {
    throw new GauntletError('DEVICE_START', `reference device process: ${entry} is missing; run \`npm run build\` first (the device process runs the built child)`);
  }
  return entry;
}

/** A start that failed in the child: its own message, and the system error under it. */
class ChildStartError extends GauntletError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly errno?: string,
    readonly port?: number,
  ) {
    super(code, message);
  }
}

interface Child {
  readonly proc: ChildProcess;
  readonly pid: number | undefined;
  /** The last TAIL_LINES lines of its stderr. */
  readonly tail: string[];
  exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined;
  /** Settles once the process is gone and its stderr is read to the end (or it never started). */
  readonly gone: Promise<void>;
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** `p`, or nothing after `ms`: whichever comes first (the timer never outlives it). */
async function within(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

const exitText = (e: NonNullable<Child['exit']>): string => (e.code !== null ? `exit code ${e.code}` : `signal ${e.signal ?? 'unknown'}`);

/** Its stderr tail as an indented block for an error message ('' when it wrote nothing). */
const tailBlock = (c: Child): string => (c.tail.length ? `; its last stderr lines:\n  ${c.tail.join('\n  ')}` : '; it wrote nothing to stderr');

/** The line of its stderr that says why it ended: the last one that is not a stack frame, a caret or Node's version banner. */
function reasonOf(c: Child): string | undefined {
  for (let i = c.tail.length - 1; i >= 0; i--) {
    const line = c.tail[i]!;
    if (line.trim() === '' || /^\s/.test(line) || /^Node\.js v\d/.test(line)) continue;
    return line.slice(0, 200);
  }
  return undefined;
}

/** Kills a child that still runs (SIGKILL) and waits, bounded, until it is gone; false if it is not. */
async function kill(c: Child): Promise<boolean> {
  if (c.exit === undefined && c.pid !== undefined) {
    try {
      c.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  return within(c.gone, KILL_WAIT_MS);
}

/** Forks the child and sends it its options; stderr goes to the tail, log lines to `log`, a later exit to `onExit`. */
function spawnChild(entry: string, options: ChildOptions, log: (line: string) => void, onExit: (c: Child) => void): Child {
  const proc = fork(entry, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [], serialization: 'json' });
  const tail: string[] = [];
  let partial = '';
  const keep = (line: string): void => {
    tail.push(line.length > TAIL_LINE_CHARS ? `${line.slice(0, TAIL_LINE_CHARS)}...` : line);
    if (tail.length > TAIL_LINES) tail.shift();
  };
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    if (partial.length > 64 * 1024) partial = partial.slice(0, TAIL_LINE_CHARS); // one endless line: keep its start
    for (const l of lines) keep(l);
  });
  let markGone: () => void = () => {};
  const gone = new Promise<void>((resolve) => (markGone = resolve));
  const child: Child = { proc, pid: proc.pid, tail, exit: undefined, gone };
  proc.on('exit', (code, signal) => {
    child.exit = { code, signal };
    onExit(child);
  });
  proc.on('close', () => {
    if (partial) keep(partial);
    partial = '';
    markGone();
  });
  proc.on('error', () => {
    if (proc.pid === undefined) markGone(); // never started: no exit or close follows
  });
  proc.on('message', (m: ChildMessage) => {
    if (m?.type === 'log' && typeof m.line === 'string') log(m.line);
  });
  // Neither the child nor its pipes keep this process alive; the child ends when this one does.
  proc.unref();
  proc.channel?.unref();
  (proc.stderr as { unref?: () => void } | null)?.unref?.();
  try {
    proc.send({ type: 'start', options } satisfies ChildStart, (err: Error | null) => {
      if (err) keep(`(the start message could not be sent: ${err.message})`);
    });
  } catch (e) {
    keep(`(the start message could not be sent: ${e instanceof Error ? e.message : String(e)})`);
  }
  return child;
}

/** Waits for the child's ready (bounded by `deadline`); on anything else kills it and rejects naming why. */
function awaitReady(c: Child, deadline: number, boundMs: number, signal: AbortSignal): Promise<ChildReady> {
  const who = `reference device process${c.pid !== undefined ? ` (pid ${c.pid})` : ''}`;
  return new Promise<ChildReady>((resolve, reject) => {
    let settled = false;
    const cleanup = (): void => {
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      c.proc.off('message', onMessage);
      c.proc.off('exit', onExit);
      c.proc.off('error', onError);
    };
    const fail = (make: () => GauntletError): void => {
      if (settled) return;
      cleanup();
      // Gone first, so the ports are free and the tail is whole.
      void kill(c).then(() => reject(make()));
    };
    const onMessage = (m: ChildMessage): void => {
      if (settled || m === null || typeof m !== 'object') return;
      if (m.type === 'ready') {
        cleanup();
        resolve(m);
      } else if (m.type === 'failed') {
        const code: ErrorCode = m.code === 'USAGE' ? 'USAGE' : 'DEVICE_START';
        fail(() => new ChildStartError(code, m.message, m.errno, m.port));
      }
    };
    const onExit = (): void => fail(() => new GauntletError('DEVICE_START', `${who} ended with ${exitText(c.exit!)} before it was ready${tailBlock(c)}`));
    const onError = (e: Error): void => fail(() => new GauntletError('DEVICE_START', `${who} could not be started: ${e.message}`, { cause: e }));
    const onAbort = (): void => fail(() => new GauntletError('ABORTED', `${who}: start abandoned (aborted or closed)`));
    const timer = setTimeout(
      () => fail(() => new GauntletError('DEVICE_START', `${who} did not report ready within ${boundMs} ms; killed it${tailBlock(c)}`)),
      Math.max(0, deadline - Date.now()),
    );
    c.proc.on('message', onMessage);
    c.proc.on('exit', onExit);
    c.proc.on('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    else if (c.exit !== undefined) onExit();
  });
}

/**
 * A UDP port that was free a moment ago on `host`, below the kernel's
 * ephemeral range (as freeTcpPort, sockets.ts): while the unit is down its
 * port stays closed instead of being handed to some other socket.
 */
async function freeUdpPort(host: string): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const wanted = attempt < 50 ? 20_000 + Math.floor(Math.random() * 12_000) : 0;
    const s = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', reuseAddr: false });
    const bound = await new Promise<number | undefined>((resolve) => {
      s.once('error', () => resolve(undefined));
      s.bind(wanted, host, () => resolve(s.address().port));
    });
    await new Promise<void>((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve(); // never bound
      }
    });
    if (bound !== undefined) return bound;
  }
  throw new GauntletError('DEVICE_START', `reference device process: found no free UDP port on ${host} in 100 tries`);
}

const UDP: ReadonlySet<keyof Ports> = new Set(['coap', 'coaps']);

/** The ports with every 0 (free) replaced by a picked free port; each number once per transport. */
async function pickPorts(host: string, asked: Ports): Promise<Ports> {
  const picked: Record<keyof Ports, number> = { ...asked };
  const taken = new Set(Object.entries(asked).map(([name, p]) => `${UDP.has(name as keyof Ports) ? 'udp' : 'tcp'}:${p}`));
  for (const name of Object.keys(asked) as (keyof Ports)[]) {
    if (asked[name] !== 0) continue;
    const udp = UDP.has(name);
    for (let attempt = 0; ; attempt++) {
      const p = udp ? await freeUdpPort(host) : await freeTcpPort(host);
      const key = `${udp ? 'udp' : 'tcp'}:${p}`;
      if (!taken.has(key) || attempt >= 20) {
        taken.add(key);
        picked[name] = p;
        break;
      }
    }
  }
  return picked;
}

/** Test seams: another child entry (a script that misbehaves) and a shorter start bound. */
export interface ProcessSeams {
  readonly entry?: string;
  readonly startTimeoutMs?: number;
}

/**
 * Starts the unit in a child process (ports picked here when 0, below the
 * ephemeral range, so they stay the unit's across restarts) and resolves once
 * it is ready. `options` are those of startReferenceDevice; `faults` defaults
 * to 'process' here, and `materialDir` to a temp dir that close() removes (a
 * given one is kept). Rejects with USAGE for a bad option, DEVICE_START naming
 * what failed (a taken port, a missing build, a child that died or stayed
 * silent: with its stderr tail) within START_TIMEOUT_MS.
 */
export async function startReferenceDeviceProcess(options: DeviceOptions = {}, seams: ProcessSeams = {}): Promise<DeviceProcess> {
  const o = resolveOptions(options); // USAGE errors here, in the caller's process
  const entry = seams.entry ?? childEntryPath();
  const boundMs = seams.startTimeoutMs ?? START_TIMEOUT_MS;
  const log = (line: string): void => {
    try {
      o.log(line);
    } catch {
      // a broken log sink must not take the handle down
    }
  };
  const ownDir = o.materialDir === undefined;
  const materialDir = o.materialDir ?? mkdtempSync(join(tmpdir(), 'gauntlet-rd1-'));
  const removeDir = (): void => {
    if (ownDir) rmSync(materialDir, { recursive: true, force: true });
  };
  const { log: _sink, ...resolved } = o;
  const base: Omit<ChildOptions, 'ports'> = { ...resolved, faults: options.faults ?? 'process', materialDir };

  let current: Child | undefined;
  let closed = false;
  const stopping = new AbortController();
  const onExit = (c: Child): void => {
    if (c === current && !closed) log(`process: pid ${c.pid} ended with ${exitText(c.exit!)}`);
  };

  /**
   * One start, tried again while a port turns out taken: on the first start
   * with fresh picks if it is one of the ports this handle chose (`auto`), on
   * a restart with the same ports after a pause (they must stay the unit's).
   */
  const launch = async (
    ports: Ports,
    auto: ReadonlySet<keyof Ports> | 'restart',
    deadline: number,
    signal: AbortSignal,
  ): Promise<{ child: Child; ready: ChildReady; ports: Ports }> => {
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw new GauntletError('ABORTED', 'reference device process: start abandoned (aborted or closed)');
      const child = spawnChild(entry, { ...base, ports }, log, onExit);
      current = child;
      try {
        const ready = await awaitReady(child, deadline, boundMs, signal);
        const wrong = (Object.keys(ports) as (keyof Ports)[]).filter((k) => ready.ports[k] !== ports[k]);
        if (wrong.length) {
          await kill(child);
          throw new GauntletError('DEVICE_START', `reference device process (pid ${child.pid}) listens on other ports than asked: ${wrong.map((k) => `${k} ${ready.ports[k]} (asked ${ports[k]})`).join(', ')}`);
        }
        return { child, ready, ports };
      } catch (e) {
        const taken = e instanceof ChildStartError && e.errno === 'EADDRINUSE';
        const picked = taken && auto !== 'restart' && [...auto].some((k) => ports[k] === e.port);
        const again = attempt < START_ATTEMPTS && Date.now() + RETRY_DELAY_MS < deadline && (picked || (taken && auto === 'restart'));
        if (!again) throw e;
        log(`process: ${(e as Error).message}; trying again (${attempt + 1} of ${START_ATTEMPTS})`);
        if (auto === 'restart') await wait(RETRY_DELAY_MS);
        else ports = await pickPorts(o.host, { ...ports, ...Object.fromEntries([...auto].map((k) => [k, 0])) });
      }
    }
  };
  const auto = new Set((Object.keys(o.ports) as (keyof Ports)[]).filter((k) => o.ports[k] === 0));
  let first: { child: Child; ready: ChildReady; ports: Ports };
  try {
    first = await launch(await pickPorts(o.host, o.ports), auto, Date.now() + boundMs, stopping.signal);
  } catch (e) {
    removeDir();
    throw e;
  }
  const ports = first.ports;
  const { images, updateCa, deviceCa } = first.ready;

  let queue: Promise<unknown> = Promise.resolve();
  const restartOnce = async (signal: AbortSignal | undefined): Promise<string> => {
    if (closed) throw new GauntletError('DEVICE_START', 'reference device process: restart() after close()');
    if (signal?.aborted) throw new GauntletError('ABORTED', 'reference device process: restart abandoned before it began (aborted)');
    const both = signal ? AbortSignal.any([signal, stopping.signal]) : stopping.signal;
    const deadline = Date.now() + boundMs;
    const old = current!;
    let before: string;
    if (old.exit !== undefined) {
      await within(old.gone, 1000); // its last stderr lines
      const reason = reasonOf(old);
      const how = old.exit.code !== null ? `had exited with code ${old.exit.code}` : `had been killed by ${old.exit.signal}`;
      // The crash reason (exit code 70: the line crashProcess wrote, watchdog.ts) or the error an unexpected exit printed.
      before = `pid ${old.pid} ${how}${reason && old.exit.code !== 0 ? `: ${reason}` : ''}`;
    } else {
      before = `pid ${old.pid} was still running: killed it`;
      if (!(await kill(old))) {
        throw new GauntletError('DEVICE_START', `reference device process: pid ${old.pid} was still there ${KILL_WAIT_MS} ms after SIGKILL; not starting another on its ports`);
      }
    }
    const next = await launch(ports, 'restart', deadline, both);
    return `restarted the reference device (${before}); now pid ${next.child.pid}`;
  };

  let closing: Promise<void> | undefined;
  return {
    ...unitFacts(o, ports, { images, updateCa, deviceCa }),
    pid: () => (current && current.exit === undefined ? current.pid : undefined),
    exited: () => (current?.exit ? exitText(current.exit) : undefined),
    restart(signal) {
      const run = queue.then(() => restartOnce(signal));
      queue = run.catch(() => undefined);
      return run;
    },
    close() {
      closing ??= (async () => {
        closed = true;
        stopping.abort();
        await within(queue.then(() => undefined), KILL_WAIT_MS + 1000);
        if (current) await kill(current);
        removeDir();
      })();
      return closing;
    },
  };
}
