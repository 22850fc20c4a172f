// The statement book: every observation a case makes about a statement, and
// the one verdict per statement they fold into (fail over inconclusive over
// pass over skipped), with one finding per failing statement. The target's
// declaration.conformance.notImplemented (a statement id, or a feature such
// as coap:observe) skips a statement before any case runs.

import type { Counterexample, FindingDraft, StatementResult, TranscriptEntry } from '../../../model/index.js';
import { SPECS, STATEMENTS, statementOf, type CoapSpec } from './catalog.js';

export type ObservedVerdict = StatementResult['verdict'];

export interface Observation {
  readonly verdict: ObservedVerdict;
  /** One line: what was sent, what came back, why this verdict. */
  readonly reason: string;
  readonly transcript?: readonly TranscriptEntry[];
  readonly counterexample?: Counterexample;
}

const RANK: Readonly<Record<ObservedVerdict, number>> = { fail: 3, inconclusive: 2, pass: 1, skipped: 0 };
const MAX_PASS_REASONS = 3;

export class StatementBook {
  private readonly seen = new Map<string, Observation[]>();
  private readonly declared = new Map<string, string>();

  constructor(notImplemented: readonly string[]) {
    const marks = new Set(notImplemented);
    for (const st of STATEMENTS) {
      if (marks.has(st.id)) this.declared.set(st.id, `declared not implemented (declaration.conformance.notImplemented: ${st.id})`);
      else if (st.feature && marks.has(st.feature)) this.declared.set(st.id, `declared not implemented (declaration.conformance.notImplemented: ${st.feature})`);
    }
  }

  /** Whether a case for this statement should run (it is not declared not implemented). */
  wants(id: string): boolean {
    statementOf(id);
    return !this.declared.has(id);
  }

  /** Whether any of these statements still wants a case. */
  wantsAny(ids: readonly string[]): boolean {
    return ids.some((id) => this.wants(id));
  }

  record(id: string, o: Observation): void {
    statementOf(id);
    if (this.declared.has(id)) return;
    const list = this.seen.get(id) ?? [];
    list.push(o);
    this.seen.set(id, list);
  }

  pass(id: string, reason: string, transcript?: readonly TranscriptEntry[]): void {
    this.record(id, { verdict: 'pass', reason, ...(transcript ? { transcript } : {}) });
  }

  fail(id: string, reason: string, transcript?: readonly TranscriptEntry[], counterexample?: Counterexample): void {
    this.record(id, { verdict: 'fail', reason, ...(transcript ? { transcript } : {}), ...(counterexample ? { counterexample } : {}) });
  }

  inconclusive(id: string, reason: string, transcript?: readonly TranscriptEntry[]): void {
    this.record(id, { verdict: 'inconclusive', reason, ...(transcript ? { transcript } : {}) });
  }

  skip(id: string, reason: string): void {
    this.record(id, { verdict: 'skipped', reason });
  }

  /** Skips every listed statement that has no observation yet. */
  skipRest(ids: readonly string[], reason: string): void {
    for (const id of ids) if (!this.seen.has(id)) this.skip(id, reason);
  }

  /** The deciding observation of a statement. */
  private decide(id: string): Observation {
    const declared = this.declared.get(id);
    if (declared) return { verdict: 'skipped', reason: declared };
    const list = this.seen.get(id);
    if (!list || list.length === 0) return { verdict: 'inconclusive', reason: 'no case observed it (the run ended before its case, or its case could not run)' };
    // The worst verdict; among failures, one with a shrunk counterexample (a model-based case) first.
    const top = list.reduce((a, b) => (RANK[b.verdict] > RANK[a.verdict] || (b.verdict === 'fail' && a.verdict === 'fail' && b.counterexample && !a.counterexample) ? b : a));
    if (top.verdict !== 'pass') return top;
    const passes = list.filter((o) => o.verdict === 'pass');
    const shown = passes.slice(0, MAX_PASS_REASONS).map((o) => o.reason);
    const more = passes.length > MAX_PASS_REASONS ? `; and ${passes.length - MAX_PASS_REASONS} more observations` : '';
    return { verdict: 'pass', reason: `${shown.join('; ')}${more}` };
  }

  results(): StatementResult[] {
    return STATEMENTS.map((st) => {
      const d = this.decide(st.id);
      return { id: st.id, verdict: d.verdict, reason: d.reason };
    });
  }

  findings(): FindingDraft[] {
    const out: FindingDraft[] = [];
    for (const st of STATEMENTS) {
      const d = this.decide(st.id);
      if (d.verdict !== 'fail') continue;
      out.push({
        summary: `${st.id}${st.level === 'SHOULD' ? ' (SHOULD)' : ''}: ${d.reason}`,
        severity: st.level === 'SHOULD' ? 'info' : 'low',
        requirements: [st.id],
        evidence: {
          observed: d.reason,
          declared: st.rule,
          source: `spec:${st.spec} (${st.id})`,
          transcript: d.transcript ?? [],
          ...(d.counterexample ? { counterexample: d.counterexample } : {}),
        },
      });
    }
    return out;
  }

  /** `RFC 7252: 41 statements: 36 pass, 2 fail, 3 skipped; RFC 6690: ...`. */
  countsLine(results: readonly StatementResult[] = this.results()): string {
    return SPECS.map((spec) => `${spec}: ${countsOf(results, spec)}`).join('; ');
  }
}

export function countsOf(results: readonly StatementResult[], spec: CoapSpec): string {
  const mine = results.filter((r) => statementOf(r.id).spec === spec);
  const n = (v: ObservedVerdict) => mine.filter((r) => r.verdict === v).length;
  const parts = (['pass', 'fail', 'inconclusive', 'skipped'] as const).filter((v) => n(v) > 0).map((v) => `${n(v)} ${v}`);
  return `${mine.length} statements: ${parts.join(', ') || 'none'}`;
}
