// The target file's restart command (core/control.ts): run as argv with no
// shell, bounded by its timeout, its failure a clear error naming the command
// with the tail of its output; none declared, no control.

import { describe, expect, it } from 'vitest';
import { commandControl, runRestart } from '../../harness/core/control.js';
import { GauntletError } from '../../harness/core/errors.js';
import type { Target } from '../../harness/model/index.js';

const node = process.execPath;
const signal = () => new AbortController().signal;

async function failure(p: Promise<unknown>): Promise<GauntletError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof GauntletError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('runRestart', () => {
  it('a command that exits 0 is a restart, said in one line', async () => {
    await expect(runRestart([node, '-e', 'process.exit(0)'], 5000, signal())).resolves.toBe(`ran the restart command (${node} -e process.exit(0))`);
  });

  it('runs argv without a shell: metacharacters reach the program as they are', async () => {
    const out = await failure(runRestart([node, '-e', 'console.error(process.argv[1]); process.exit(4)', '$(touch /tmp/x); `id`'], 5000, signal()));
    expect(out.message).toContain('$(touch /tmp/x); `id`');
  });

  it('a failing command: CONFIG_INVALID naming the command, the exit code and its output', async () => {
    const e = await failure(runRestart([node, '-e', 'console.log("plug unreachable"); process.exit(3)'], 5000, signal()));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/^control\.restart\.command \(.*\) failed with exit code 3; output: plug unreachable$/);
  });

  it('a command that does not exist says it could not run', async () => {
    const e = await failure(runRestart(['/nonexistent/gauntlet-restart'], 5000, signal()));
    expect(e.message).toMatch(/could not run: .*ENOENT/);
  });

  it('a command past its timeout is killed and reported, within the bound', async () => {
    const t0 = Date.now();
    const e = await failure(runRestart([node, '-e', 'setTimeout(() => {}, 60000)'], 300, signal()));
    expect(e.message).toMatch(/did not finish within 300 ms/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('an aborted run stops the command: ABORTED', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const e = await failure(runRestart([node, '-e', 'setTimeout(() => {}, 60000)'], 30_000, ac.signal));
    expect(e.code).toBe('ABORTED');
  });
});

describe('commandControl', () => {
  const target = (control?: Target['control']) => ({ control }) as unknown as Target;
  it('none without a restart command (a reboot wait alone is read by the fuzz check itself)', () => {
    expect(commandControl(target())).toBeUndefined();
    expect(commandControl(target({ rebootWaitMs: 5000 }))).toBeUndefined();
  });
  it('a declared command becomes a control with the reboot wait', async () => {
    const c = commandControl(target({ rebootWaitMs: 5000, restart: { command: [node, '-e', ''], timeoutMs: 5000 } }))!;
    expect(c.rebootWaitMs).toBe(5000);
    await expect(c.restart(signal())).resolves.toMatch(/^ran the restart command/);
  });
});
