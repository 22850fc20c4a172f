// Target control from the target file: the restart command a lab gives for
// its device (`control.restart.command`, argv, no shell), run when a crashed or
// hung device has not come back on its own within `control.rebootWait`. The
// command runs on this machine, never on the device: it is the lab's hand on
// the power switch (a smart plug's CLI, `systemctl restart`, a serial reset).
// Bounded by its timeout; its output tail goes into the error when it fails.

import { spawn } from 'node:child_process';
import type { Target, TargetControl } from '../model/index.js';
import { GauntletError } from './errors.js';

/** Output kept from a restart command, bytes. */
const OUTPUT_TAIL = 2000;

/** The target file's restart command as a TargetControl, or undefined when it declares none. */
export function commandControl(target: Target): TargetControl | undefined {
  const c = target.control;
  if (!c?.restart) return undefined;
  const { command, timeoutMs } = c.restart;
  return {
    ...(c.rebootWaitMs !== undefined ? { rebootWaitMs: c.rebootWaitMs } : {}),
    restart: (signal) => runRestart(command, timeoutMs, signal),
  };
}

/** Runs argv with a time bound; resolves to one line, rejects with a GauntletError naming the command. */
export function runRestart(command: readonly string[], timeoutMs: number, signal: AbortSignal): Promise<string> {
  const shown = command.join(' ');
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new GauntletError('ABORTED', 'interrupted'));
    let out = '';
    const keep = (b: Buffer) => {
      out = (out + b.toString('utf8')).slice(-OUTPUT_TAIL);
    };
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], shell: false });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let settled = false;
    const done = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      f();
    };
    const tail = () => (out.trim() ? `; output: ${out.trim().split('\n').slice(-3).join(' | ')}` : '');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(() => reject(new GauntletError('CONFIG_INVALID', `control.restart.command (${shown}) did not finish within ${timeoutMs} ms${tail()}`)));
    }, timeoutMs);
    const onAbort = () => {
      child.kill('SIGKILL');
      done(() => reject(new GauntletError('ABORTED', 'interrupted')));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => done(() => reject(new GauntletError('CONFIG_INVALID', `control.restart.command (${shown}) could not run: ${e.message}`))));
    child.on('exit', (code, sig) => {
      if (code === 0) done(() => resolve(`ran the restart command (${shown})`));
      else done(() => reject(new GauntletError('CONFIG_INVALID', `control.restart.command (${shown}) failed with ${code !== null ? `exit code ${code}` : `signal ${sig}`}${tail()}`)));
    });
  });
}
