// update.tamper (C10; TS 103 701 5.3-2-2 "one flipped byte in a signed
// image", EN 18031-1 SUM-2 "altered image with the original signature"):
// property-based. fast-check draws one mutation of the valid newer image: a
// region (payload, manifest = everything before the payload, signature; the
// whole image when no layout says where they are), an offset in it that
// shrinks toward the region start, a kind (flip a bit, set, insert or delete
// a byte) and whether the declared digests are recomputed afterwards (so the
// change gets past a checksum and reaches the signature check). Property:
// the mutated image is refused and the running version stays.
//
// The device is stateful: once a mutated image installed, the version can no
// longer tell the next install from a refusal. With a declared reset the
// device goes back to its baseline after every install and shrinking is
// judged by the version as before. Without one, shrinking goes on only when
// the device's HTTP status has told installs from refusals so far (2xx for
// the install, an error status for every refusal); otherwise the first
// counterexample is reported as found. A replay from (seed, path) on a device
// back on its baseline judges by the version again.

import fc from 'fast-check';
import type { Check, CheckContext, CheckOutcome, ImageLayout, UpdatePath } from '../../model/index.js';
import { deliver } from '../../core/update-control.js';
import { propertyBounds } from '../io.js';
import { UPDATE_CHECK, attempt, beginWithNewerImage, findingOf, judge, pathLabel, restoreBaseline, type AttemptResult } from './attempt.js';
import { applyMutation, describeMutation, recomputeDigests, resolveRange, signatureSpan, type MutationKind } from './layout.js';

export type RegionName = 'payload' | 'manifest' | 'signature' | 'image';

export interface Region {
  readonly name: RegionName;
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export interface TamperCase {
  readonly path: UpdatePath;
  readonly region: Region;
  /** Offset inside the region. */
  readonly at: number;
  readonly kind: MutationKind;
  /** flip: the bit is value & 7; set / insert: the byte. */
  readonly value: number;
  readonly recompute: boolean;
}

/** Where mutations aim: payload first (shrinking prefers it), then manifest, then signature. */
export function regionsOf(length: number, layout: ImageLayout | undefined): Region[] {
  const out: Region[] = [];
  if (layout?.payload) {
    const p = resolveRange(layout.payload, length);
    if (p.end > p.start) out.push({ name: 'payload', ...p });
    if (p.start > 0) out.push({ name: 'manifest', start: 0, end: p.start });
  }
  if (layout?.signature) {
    const s = signatureSpan(layout.signature, length);
    if (s.end > s.start) out.push({ name: 'signature', ...s });
  }
  if (out.length === 0 && length > 0) out.push({ name: 'image', start: 0, end: length });
  return out;
}

export function tamperedImage(image: Buffer, layout: ImageLayout | undefined, c: TamperCase): Buffer {
  const m = applyMutation(image, { kind: c.kind, offset: c.region.start + c.at, value: c.value });
  return c.recompute ? recomputeDigests(m, layout) : m;
}

/** `flip bit 3 at offset 4711 (payload byte 4583), digests recomputed`. */
export function caseLabel(c: TamperCase, opts: { digests: boolean; paths: number }): string {
  const m = describeMutation({ kind: c.kind, offset: c.region.start + c.at, value: c.value });
  const where = c.region.name === 'image' ? 'whole image' : `${c.region.name} byte ${c.at}`;
  const digests = opts.digests ? (c.recompute ? ', digests recomputed' : ', original digests') : '';
  return `${m} (${where})${digests}${opts.paths > 1 ? ` through ${c.path.id}` : ''}`;
}

export function tamperArbitrary(paths: readonly UpdatePath[], regions: readonly Region[], digests: boolean): fc.Arbitrary<TamperCase> {
  return fc.record({ path: fc.constantFrom(...paths), region: fc.constantFrom(...regions) }).chain(({ path, region }) =>
    fc
      .record({
        at: fc.nat({ max: region.end - region.start - 1 }),
        kind: fc.constantFrom<MutationKind>('flip', 'set', 'insert', 'delete'),
        value: fc.nat({ max: 255 }),
        recompute: digests ? fc.boolean() : fc.constant(false),
      })
      .map((r) => ({ path, region, ...r })),
  );
}

const is2xx = (s: number | undefined) => s !== undefined && s >= 200 && s <= 299;

export const updateTamper: Check = {
  id: 'update.tamper',
  title: 'A tampered image is refused, wherever the change is (property)',
  ...UPDATE_CHECK,
  severity: 'critical',
  remedy: 'Verify a signature over the whole image (manifest and payload) and the payload digest against the signed manifest, before installing anything.',
  timeoutMs: 300_000,
  async run(ctx: CheckContext): Promise<CheckOutcome> {
    const u = ctx.target.declaration.update!;
    const begun = await beginWithNewerImage(ctx);
    if (begun.kind === 'stop') return begun.outcome;
    const { setup, image: newer } = begun;
    const regions = regionsOf(newer.length, u.layout);
    if (regions.length === 0) return { verdict: 'inconclusive', reason: 'the newer image is empty', findings: [] };
    const digests = (u.layout?.digests.length ?? 0) > 0;
    const label = (c: TamperCase) => caseLabel(c, { digests, paths: setup.paths.length });

    // How the device has told refusals from installs so far (see the file comment).
    // Assigned in the property; `as` keeps TS from narrowing it to the initial value.
    let mode = 'version' as 'version' | 'status' | 'frozen';
    let refusals = 0;
    let statusTells = true;
    let ran = 0;
    let undelivered = 0;
    let anyQuick = false;
    let stopReason: string | undefined;
    let harnessError: unknown;
    const refused: AttemptResult[] = [];
    let last: { a: AttemptResult; byStatus: boolean } | undefined;
    let resets = 0;

    const property = fc.asyncProperty(tamperArbitrary(setup.paths, regions, digests), async (c) => {
      const image = tamperedImage(newer, u.layout, c);
      fc.pre(!image.equals(newer));
      if (harnessError !== undefined || stopReason !== undefined || mode === 'frozen') return true;
      const what = `a tampered newer image (${label(c)}) through ${pathLabel(c.path)}`;
      try {
        if (mode === 'status') {
          ctx.transcript.take();
          const o = await deliver(ctx.target, c.path, image, setup.io);
          const status = o.kind === 'response' ? o.status : undefined;
          ctx.transcript.note(`judged by the HTTP status (the device no longer runs ${setup.v0}): ${status ?? o.kind}`);
          const transcript = ctx.transcript.take();
          ran++;
          ctx.caseDone(`${label(c)}: ${status ?? o.kind} (judged by the status)`);
          if (!is2xx(status)) return true;
          last = { a: { verdict: 'installed', label: what, delivery: `answered ${status}`, status, after: last!.a.after, transcript, quick: false }, byStatus: true };
          return false;
        }
        const a = await attempt(setup, what, (io) => deliver(ctx.target, c.path, image, io));
        if (a.verdict === 'undelivered') {
          // Sent twice and never arrived whole: this case says nothing; the run goes on.
          undelivered++;
          ctx.caseDone(`${label(c)}: ${a.delivery} (not delivered)`);
          // A transfer that broke off and left the device unreadable: back to the baseline, or stop judging.
          if (a.after.kind !== 'version' && !(await restoreBaseline(setup))) stopReason = `${a.delivery}; the device was left without a readable version and no reset is declared`;
          return true;
        }
        if (a.verdict === 'no-session') {
          stopReason = a.delivery;
          return true;
        }
        ran++;
        ctx.caseDone(`${label(c)}: ${a.delivery}`);
        if (a.verdict === 'refused') {
          refusals++;
          anyQuick ||= a.quick;
          if (is2xx(a.status) || a.status === undefined) statusTells = false;
          if (refused.length < 3) refused.push(a);
          return true;
        }
        // With a declared reset the device goes back to the baseline and shrinking stays judged by the version.
        const restored = await restoreBaseline(setup);
        if (restored) resets++;
        last = { a: { ...a, transcript: [...a.transcript, ...ctx.transcript.take()] }, byStatus: false };
        if (!restored) mode = a.verdict === 'installed' && is2xx(a.status) && refusals > 0 && statusTells ? 'status' : 'frozen';
        return false;
      } catch (e) {
        // A harness failure (scope, abort) is not a counterexample: stop and rethrow below.
        harnessError = e;
        return true;
      }
    });

    const first = setup.paths[0]!;
    const examples: TamperCase[] = [{ path: first, region: regions[0]!, at: 0, kind: 'flip', value: 0, recompute: false }];
    if (digests) examples.push({ ...examples[0]!, recompute: true });
    const details = await fc.check(property, {
      ...propertyBounds(ctx),
      // Examples come first in the case stream, so a replay path counts them too.
      examples: examples.map((c) => [c] as [TamperCase]),
    });
    if (harnessError !== undefined) throw harnessError;
    if (details.failed && details.counterexample && last) {
      const [c] = details.counterexample as [TamperCase];
      const how = last.byStatus
        ? `; shrunk by the HTTP status after the first install (the device answered 2xx to installed images and an error status to all ${refusals} refused ones)`
        : mode === 'frozen'
          ? '; not shrunk: after the install neither the version nor the HTTP status could tell the next install from a refusal'
          : resets > 0
            ? `; the declared reset put the device back on ${setup.v0} after each of ${resets} install(s)`
            : '';
      const f = findingOf(setup, last.a, {
        source: 'property: update.tamper',
        counterexample: { seed: details.seed, path: details.counterexamplePath ?? '', value: label(c), numRuns: details.numRuns, shrinks: details.numShrinks },
      });
      const summary = last.a.verdict === 'dead' ? `device left without a readable version after a tampered newer image: ${label(c)}` : `a tampered newer image was installed: ${label(c)}`;
      return {
        verdict: 'fail',
        reason: `${summary}${how}`,
        cases: ran,
        findings: [{ ...f, summary, evidence: { ...f.evidence, observed: `${f.evidence.observed}${how}` } }],
      };
    }
    if (details.failed) return { verdict: 'inconclusive', reason: `the property run did not complete: ${String(details.errorInstance ?? 'no counterexample')}`, findings: [], cases: ran };
    if (stopReason !== undefined) return { verdict: 'inconclusive', reason: `no image could be delivered: ${stopReason}`, findings: [], cases: ran };
    if (ran === 0) return { verdict: 'inconclusive', reason: 'no case ran within the budget', findings: [], cases: 0 };
    const outcome = await judge(setup, refused.length > 0 ? refused.map((a) => ({ ...a, quick: anyQuick })) : [], {
      what: 'tampered images',
      passReason: () => `tampered images refused (${ran})${undelivered > 0 ? `, ${undelivered} not delivered whole` : ''}${details.interrupted ? ' (time budget reached)' : ''}; seed ${details.seed}`,
    });
    return { ...outcome, cases: ran };
  },
};
