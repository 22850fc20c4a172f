// The GauntletError a call throws (sync or async), or a test failure saying
// what it threw instead; and what a synchronous call threw, whatever it is.

import { expect } from 'vitest';
import { GauntletError } from '../../harness/core/errors.js';

export async function gauntletErrorOf(f: () => Promise<unknown> | unknown): Promise<GauntletError> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(GauntletError);
    return e as GauntletError;
  }
  throw new Error('expected a GauntletError');
}

/** What a synchronous call threw (any error, with its code when it has one). */
export function thrown(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a throw');
}
