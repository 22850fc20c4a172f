// conformance.coap: the server-side normative statements of RFC 7252 (CoAP),
// RFC 6690 (discovery), RFC 7959 (block-wise) and RFC 7641 (observe) that a
// client observes on the wire, one verdict per statement
// (coap/catalog.ts lists them, with the id scheme and the ETSI plugtest
// aliases). Cases run on their own sockets in this order: discovery (which
// also finds the resources the rest needs), the CoAP ping (a server that
// answers neither ends the check there, inconclusive), the message layer
// (fixed exchanges, then a property over valid requests from the fuzz generators),
// rejections of malformed and unexpected messages (side by side: each waits
// out a silence), options and methods, duplicates, ETag validation, separate
// responses, Block2, Block1, observe; last, statements judged over every
// datagram the server sent. Stateful statements (a block-wise transfer
// interrupted, observe registration and cancellation) are model-based
// fast-check commands, seeded from the instance, so a failure shrinks to the
// shortest sequence. A statement the declaration marks not implemented
// (declaration.conformance.notImplemented: its id, or coap:observe,
// coap:block1, coap:block2, coap:separate, coap:discovery) is skipped, as is
// one the target has nothing for (no observable resource, no upload
// resource), with the reason. Plain CoAP interfaces only: over coaps the
// same cases would need a DTLS session per socket (a principal's PSK), which
// this check does not open yet.

import type { Check, CheckContext, CheckOutcome } from '../../model/index.js';
import { StatementBook, countsOf } from './coap/book.js';
import { SPECS, STATEMENT_IDS } from './coap/catalog.js';
import { block1Cases, block2Cases } from './coap/block-wise.js';
import { discover } from './coap/discovery.js';
import { judgeServerDatagrams } from './coap/global.js';
import { duplicateCases, etagCase } from './coap/duplicates.js';
import { basicCases, pingCase, propertyCase } from './coap/messaging.js';
import { optionCases } from './coap/options.js';
import { rejectionCases } from './coap/rejections.js';
import { separateCases } from './coap/separate.js';
import { observeCases } from './coap/observe.js';
import { Probe } from './coap/probe.js';

export const conformanceCoap: Check = {
  id: 'conformance.coap',
  title: 'CoAP server conformance: RFC 7252, RFC 6690, RFC 7959 and RFC 7641 statements, one verdict each',
  catalog: [],
  requirements: STATEMENT_IDS,
  protocols: ['coap'],
  phase: 'main',
  severity: 'low',
  remedy:
    'Fix the CoAP stack where a statement fails (each finding cites the RFC section and what the stack did), or update it to a release that conforms; an optional feature the device does not offer (observe, block-wise, separate responses, discovery) is declared in declaration.conformance.notImplemented.',
  timeoutMs: 240_000,
  applies() {
    return undefined;
  },
  run,
};

async function run(ctx: CheckContext): Promise<CheckOutcome> {
  const t0 = Date.now();
  const book = new StatementBook(ctx.target.declaration.conformance?.notImplemented ?? []);
  const p = new Probe(ctx, book);
  ctx.transcript.take();

  p.resources = await discover(p);
  // The ping next: with discovery, it decides whether anything answers before the rest waits out its bounds.
  await pingCase(p);
  const silent = p.log.heard.length === 0;
  const steps: [string, (p: Probe) => Promise<void>][] = [
    ['message layer', basicCases],
    ['message-layer property', propertyCase],
    ['rejections', rejectionCases],
    ['options and methods', optionCases],
    ['duplicates', duplicateCases],
    ['ETag', etagCase],
    ['separate responses', separateCases],
    ['Block2', block2Cases],
    ['Block1', block1Cases],
    ['observe', observeCases],
  ];
  for (const [, step] of silent ? [] : steps) {
    if (ctx.signal.aborted) break;
    await step(p);
  }
  if (silent) for (const id of STATEMENT_IDS) book.inconclusive(id, `the server answered neither GET /.well-known/core nor a CoAP ping within ${ctx.ioTimeoutMs}ms`);
  judgeServerDatagrams(p);

  const statements = book.results();
  const findings = book.findings();
  const n = (v: string) => statements.filter((s) => s.verdict === v).length;
  const counts = book.countsLine(statements);
  const heard = p.log.heard.length;
  const r = p.resources;
  const found = `control ${r.control ?? '(none)'}; ${r.readable.length} readable, ${r.observable.length} observable${r.observable.length ? ` (${r.observable[0]})` : ''}, upload ${r.upload ? `${r.upload.method} ${r.upload.path}` : '(none)'}, separate ${r.separate.map((x) => x.path).join(' ') || '(none)'}`;
  const stats = {
    statements: statements.length,
    pass: n('pass'),
    fail: n('fail'),
    inconclusive: n('inconclusive'),
    skipped: n('skipped'),
    ...Object.fromEntries(SPECS.map((spec) => [spec, countsOf(statements, spec)])),
    datagramsFromServer: heard,
    cases: p.cases,
    durationMs: Date.now() - t0,
    resources: found,
  };
  const evidence = {
    observed: `${counts}; ${found}; ${heard} datagrams from the server`,
    source: 'spec:RFC 7252, RFC 6690, RFC 7959, RFC 7641',
    transcript: p.trail.entries(),
  };
  const aborted = ctx.signal.aborted ? ' (the run was stopped before every case ran)' : '';
  if (heard === 0) {
    return { verdict: 'inconclusive', reason: `the server answered nothing: ${counts}${aborted}`, findings: [], statements, cases: p.cases, stats, evidence };
  }
  const verdict = findings.length > 0 ? 'fail' : n('inconclusive') > 0 ? 'inconclusive' : 'pass';
  return { verdict, reason: `${counts}${aborted}`, findings, statements, cases: p.cases, stats, evidence };
}
