import { describe, expect, it } from 'vitest';
import { GauntletError } from '../../harness/core/errors.js';
import type { RunEventType } from '../../harness/model/index.js';
import { ReporterMux } from '../../harness/report/multiplexer.js';
import type { Reporter } from '../../harness/report/reporter.js';
import { syntheticRun } from './synthetic-run.js';

function recorder(name: string, seen: string[]): Reporter {
  const log = (what: string) => () => {
    seen.push(`${name}:${what}`);
  };
  return {
    name,
    onRunBegin: log('run-begin'),
    onCheckBegin: log('check-begin'),
    onCase: log('case'),
    onNote: log('note'),
    onCheckEnd: log('check-end'),
    onRunEnd: log('run-end'),
  };
}

describe('ReporterMux', () => {
  it('calls each reporter hook in order and awaits async ones', async () => {
    const seen: string[] = [];
    const slow: Reporter = {
      name: 'slow',
      async onRunBegin() {
        await new Promise((r) => setTimeout(r, 5));
        seen.push('slow:run-begin');
      },
    };
    const mux = new ReporterMux([slow, recorder('a', seen)]);
    for (const e of syntheticRun().slice(0, 2)) await mux.dispatch(e);
    expect(seen).toEqual(['slow:run-begin', 'a:run-begin', 'a:check-begin']);
  });

  it('passes the event fields to the matching hooks', async () => {
    const got: unknown[] = [];
    const mux = new ReporterMux([
      {
        name: 'r',
        onCheckBegin: (id, index, total) => void got.push(['begin', id, index, total]),
        onCase: (id, n, summary) => void got.push(['case', id, n, summary]),
        onNote: (text, id) => void got.push(['note', text, id]),
      },
    ]);
    await mux.dispatch({ type: 'check-begin', instanceId: 'x@y', index: 2, total: 9 });
    await mux.dispatch({ type: 'case', instanceId: 'x@y', n: 4, summary: 's' });
    await mux.dispatch({ type: 'note', text: 'hello' });
    expect(got).toEqual([['begin', 'x@y', 2, 9], ['case', 'x@y', 4, 's'], ['note', 'hello', undefined]]);
  });

  it('isolates a throwing or rejecting reporter and carries on', async () => {
    const seen: string[] = [];
    const broken: Reporter = {
      name: 'broken',
      onRunBegin() {
        throw new Error('disk full');
      },
      async onCheckEnd() {
        throw new GauntletError('REPORT_WRITE', 'junit.xml: cannot write');
      },
    };
    const mux = new ReporterMux([broken, recorder('good', seen)]);
    const events = syntheticRun();
    for (const e of events) await mux.dispatch(e);

    const types = events.map((e) => e.type);
    expect(seen).toEqual(types.map((t) => `good:${t}`));
    const errors = mux.errors();
    expect(errors[0]).toEqual({ reporter: 'broken', event: 'run-begin', message: 'disk full' });
    expect(errors.slice(1).every((e) => e.event === ('check-end' satisfies RunEventType) && e.code === 'REPORT_WRITE')).toBe(true);
    expect(errors).toHaveLength(1 + types.filter((t) => t === 'check-end').length);
  });

  it('keeps event order when dispatches are not awaited', async () => {
    const seen: number[] = [];
    const mux = new ReporterMux([
      {
        name: 'slow-first',
        async onCase(_id, n) {
          if (n === 1) await new Promise((r) => setTimeout(r, 10));
          seen.push(n);
        },
      },
    ]);
    for (let n = 1; n <= 5; n++) void mux.dispatch({ type: 'case', instanceId: 'a@b', n, summary: '' });
    await mux.idle();
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it('add() appends a reporter; errors() is a copy', async () => {
    const seen: string[] = [];
    const mux = new ReporterMux();
    mux.add(recorder('late', seen));
    await mux.dispatch({ type: 'note', text: 'x' });
    expect(seen).toEqual(['late:note']);
    (mux.errors() as unknown[]).push('junk');
    expect(mux.errors()).toEqual([]);
  });
});
