// The GauntletError a call throws (sync or async), or a test failure saying
// what it threw instead.

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
