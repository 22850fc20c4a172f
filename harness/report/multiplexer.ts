// Fans each run event out to every reporter, in order, awaiting each. A
// reporter that throws or rejects is remembered and skipped for that event
// only: one broken reporter (a full disk, a closed pipe) never ends a run.
// Dispatches are queued, so events keep their order even when a caller does
// not await (CheckContext.caseDone is synchronous).

import { describeError, isGauntletError } from '../core/errors.js';
import type { RunEvent, RunEventType } from '../model/index.js';
import type { Reporter } from './reporter.js';

export interface ReporterFailure {
  readonly reporter: string;
  readonly event: RunEventType;
  readonly message: string;
  /** The GauntletError code, when the reporter threw one. */
  readonly code?: string;
}

export class ReporterMux {
  private readonly reporters: Reporter[];
  private readonly failures: ReporterFailure[] = [];
  private tail: Promise<void> = Promise.resolve();

  constructor(reporters: readonly Reporter[] = []) {
    this.reporters = [...reporters];
  }

  add(reporter: Reporter): void {
    this.reporters.push(reporter);
  }

  /** Delivers `event` after every earlier dispatch; never rejects. */
  dispatch(event: RunEvent): Promise<void> {
    this.tail = this.tail.then(() => this.deliver(event));
    return this.tail;
  }

  /** Resolves when every event dispatched so far has been delivered. */
  idle(): Promise<void> {
    return this.tail;
  }

  private async deliver(event: RunEvent): Promise<void> {
    for (const reporter of [...this.reporters]) {
      try {
        await callHook(reporter, event);
      } catch (e) {
        this.failures.push({
          reporter: reporter.name,
          event: event.type,
          message: describeError(e),
          ...(isGauntletError(e) ? { code: e.code } : {}),
        });
      }
    }
  }

  /** Every reporter failure so far, in order. */
  errors(): readonly ReporterFailure[] {
    return [...this.failures];
  }
}

/** Calls the hook of `reporter` that matches `event`, if it has one. */
export function callHook(reporter: Reporter, event: RunEvent): void | Promise<void> {
  switch (event.type) {
    case 'run-begin':
      return reporter.onRunBegin?.(event.run, event.plan, event.profile);
    case 'check-begin':
      return reporter.onCheckBegin?.(event.instanceId, event.index, event.total);
    case 'case':
      return reporter.onCase?.(event.instanceId, event.n, event.summary);
    case 'note':
      return reporter.onNote?.(event.text, event.instanceId);
    case 'check-end':
      return reporter.onCheckEnd?.(event.result);
    case 'run-end':
      return reporter.onRunEnd?.(event);
    default: {
      const never: never = event;
      throw new Error(`unknown run event ${JSON.stringify(never)}`);
    }
  }
}
