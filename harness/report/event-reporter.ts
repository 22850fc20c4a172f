// The reverse of the multiplexer's hook dispatch: a base for reporters that
// want whole events (the event log, report.json, JUnit fold them with
// ReportBuilder) rather than the Reporter contract's split-up arguments.

import type { CheckResult, PlannedInstance, ProfileSummary, RunEvent, RunMeta } from '../model/index.js';
import type { Reporter } from './reporter.js';

export abstract class EventReporter implements Reporter {
  abstract readonly name: string;
  protected abstract onEvent(event: RunEvent): void | Promise<void>;

  onRunBegin(run: RunMeta, plan: readonly PlannedInstance[], profile?: ProfileSummary): void | Promise<void> {
    return this.onEvent(profile === undefined ? { type: 'run-begin', run, plan } : { type: 'run-begin', run, plan, profile });
  }
  onCheckBegin(instanceId: string, index: number, total: number): void | Promise<void> {
    return this.onEvent({ type: 'check-begin', instanceId, index, total });
  }
  onCase(instanceId: string, n: number, summary: string): void | Promise<void> {
    return this.onEvent({ type: 'case', instanceId, n, summary });
  }
  onNote(text: string, instanceId?: string): void | Promise<void> {
    return this.onEvent(instanceId === undefined ? { type: 'note', text } : { type: 'note', instanceId, text });
  }
  onCheckEnd(result: CheckResult): void | Promise<void> {
    return this.onEvent({ type: 'check-end', result });
  }
  onRunEnd(end: Extract<RunEvent, { type: 'run-end' }>): void | Promise<void> {
    return this.onEvent(end);
  }
}
