// What every update check does around one image: read the running version
// first, deliver, wait for the version to settle, and call the attempt
// refused, installed, or device-dead, with the transcript as evidence. The
// version is the oracle, not the HTTP status: a device may answer 200 and
// verify later, or answer 400 and install anyway. An image that never
// arrived whole (a block-wise transfer that broke off, or 4.08) is sent once
// more; if it still does not arrive and does not install, the attempt is
// undelivered, judged like no session at all, never as a refusal; so is one
// whose transfer broke off and left the device without a readable version
// (an interruption, which update.interrupted judges, not this image).
//
// A refusal with an error status is confirmed by one readable version read;
// anything else (2xx, no reply, a cut connection) waits until the version
// changes or the declared install time has passed. Each check ends with one
// full install-time wait, so a late install after an error status is caught
// once per check rather than paid for on every image. After an install, a
// declared reset (declaration.update.reset) puts the device back on its
// baseline; without one the check stops there, since the version can no
// longer tell the next install from a refusal.

import { readFileSync, statSync } from 'node:fs';
import type { Check, CheckContext, CheckOutcome, Evidence, FindingDraft, Interface, Severity, Target, TranscriptEntry, UpdateDeclaration, UpdatePath } from '../../model/index.js';
import { describeDelivery, readVersion, resetFirmware, settleVersion, type Delivery, type VersionRead } from '../../core/update-control.js';
import type { Io } from '../../protocols/common/io.js';
import { ioOf } from '../io.js';
import { requirementsOf } from '../requirements.js';
import { layoutMismatch } from './layout.js';

/** Largest image file the checks read (the declared images; generated ones are bounded separately). */
export const MAX_IMAGE_FILE_BYTES = 64 * 1024 * 1024;
/** Transcript entries kept in one piece of evidence. */
const EVIDENCE_ENTRIES = 500;

export const NO_UPDATE = 'no update mechanism declared (declaration.update)';

/** The declared update paths that deliver over this interface. */
export function pathsOn(target: Target, iface: Interface): UpdatePath[] {
  return target.declaration.update?.paths.filter((p) => p.via === iface.id) ?? [];
}

/**
 * Common relevant(): with an update mechanism declared, only the interfaces
 * its paths deliver over get an instance; without one, every interface of the
 * check's protocols does (and is skipped, saying none is declared).
 */
export function carriesUpdate(target: Target, iface: Interface): boolean {
  return !target.declaration.update || pathsOn(target, iface).length > 0;
}

/** The descriptor fields most update checks share (C10 on every update path, run in the update phase). */
export const UPDATE_CHECK = {
  catalog: ['C10'],
  requirements: requirementsOf('C10'),
  protocols: ['http', 'https', 'mqtt', 'mqtts', 'coap', 'coaps'],
  phase: 'update',
  relevant: carriesUpdate,
  applies: (target: Target, iface: Interface) => updateApplies(target, iface),
} as const satisfies Partial<Check>;

/** Common applies(): an update declaration, a path on this interface, then the check's own need. */
export function updateApplies(target: Target, iface: Interface, need?: (u: UpdateDeclaration) => string | undefined): string | undefined {
  const u = target.declaration.update;
  if (!u) return NO_UPDATE;
  if (pathsOn(target, iface).length === 0) return `no declared update path delivers over ${iface.id}`;
  return need?.(u);
}

export const pathLabel = (p: UpdatePath) =>
  p.kind === 'pull' ? `${p.id} (pull, triggered on ${p.trigger.topic})` : p.kind === 'coap-block' ? `${p.id} (block-wise ${p.method} ${p.path})` : `${p.id} (${p.method} ${p.path})`;
export const principalLabel = (principal: string | null | undefined) => (principal === null || principal === undefined ? 'without a session' : `as ${principal}`);

export interface UpdateSetup {
  readonly ctx: CheckContext;
  readonly update: UpdateDeclaration;
  readonly paths: readonly UpdatePath[];
  readonly io: Io;
  /** The running version before the first attempt. */
  readonly v0: string;
  /** Transcript of the first version read. */
  readonly opening: readonly TranscriptEntry[];
}

export type Begun = { readonly kind: 'ready'; readonly setup: UpdateSetup } | { readonly kind: 'stop'; readonly outcome: CheckOutcome };

const stop = (verdict: 'inconclusive' | 'skipped', reason: string, evidence?: Evidence): Begun => ({ kind: 'stop', outcome: { verdict, reason, findings: [], ...(evidence ? { evidence } : {}) } });

/** Reads the running version (unreadable -> inconclusive); `notRunning` is a version the check needs the device not to run already. */
export async function beginUpdateCheck(ctx: CheckContext, notRunning?: { version: string; what: string }): Promise<Begun> {
  const update = ctx.target.declaration.update!;
  const io = ioOf(ctx);
  ctx.transcript.take();
  const v = await readVersion(ctx.target, io);
  const opening = ctx.transcript.take();
  if (v.kind !== 'version') return stop('inconclusive', `the running version could not be read before the first image: ${v.detail}`, { observed: v.detail, source: 'target:declaration.update.version', transcript: opening });
  if (notRunning && v.version === notRunning.version) {
    // An install of an image carrying the running version would not show in the version.
    return stop('inconclusive', `the device already runs ${v.version}, the version of ${notRunning.what}: an install of it would not show (an earlier check may have installed it)`, {
      observed: `running version ${v.version}`,
      source: 'target:declaration.update.images',
      transcript: opening,
    });
  }
  return { kind: 'ready', setup: { ctx, update, paths: pathsOn(ctx.target, ctx.iface), io, v0: v.version, opening } };
}

/** The opening most update checks share: the newer image (fitting the declared layout), then the version read. */
export async function beginWithNewerImage(ctx: CheckContext): Promise<{ kind: 'ready'; setup: UpdateSetup; image: Buffer } | { kind: 'stop'; outcome: CheckOutcome }> {
  const u = ctx.target.declaration.update!;
  const loaded = loadImage(u.images.newer.file, u.layout, 'the newer image');
  if ('problem' in loaded) return { kind: 'stop', outcome: { verdict: 'inconclusive', reason: loaded.problem, findings: [] } };
  const begun = await beginUpdateCheck(ctx, { version: u.images.newer.version, what: 'the newer image' });
  if (begun.kind === 'stop') return begun;
  return { kind: 'ready', setup: begun.setup, image: loaded.image };
}

/** A declared image file, bounded; `problem` when it is missing, too big, or does not match the declared layout. */
export function loadImage(file: string, layout: UpdateDeclaration['layout'], what: string): { image: Buffer } | { problem: string } {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    return { problem: `${what} (${file}) cannot be read: ${(e as Error).message}` };
  }
  if (size > MAX_IMAGE_FILE_BYTES) return { problem: `${what} is ${size} bytes, more than the ${MAX_IMAGE_FILE_BYTES} the checks read` };
  const image = readFileSync(file);
  const bad = layoutMismatch(image, layout);
  if (bad) return { problem: `the declared layout does not match ${what}: ${bad}` };
  return { image };
}

export type { Delivery } from '../../core/update-control.js';

export type AttemptVerdict = 'refused' | 'installed' | 'dead' | 'no-session' | 'undelivered';

/** Attempts that say nothing about the image: no session, or it never arrived whole. */
export const notDelivered = (a: AttemptResult): boolean => a.verdict === 'no-session' || a.verdict === 'undelivered';

export interface AttemptResult {
  readonly verdict: AttemptVerdict;
  /** What was sent, e.g. `the newer image with its signature zeroed through fw (POST /api/firmware) as admin`. */
  readonly label: string;
  /** How the device took the delivery: `answered 400`, `no reply`, `cut after 128 of 4096 bytes`. */
  readonly delivery: string;
  /** The HTTP status the delivery got, when it got one. */
  readonly status?: number;
  /** The version read last. */
  readonly after: VersionRead;
  readonly transcript: readonly TranscriptEntry[];
  /** Whether the refusal was taken from an error status (or a pull the device did not fetch) plus one version read (no install-time wait). */
  readonly quick: boolean;
}

const versionText = (v: VersionRead) => (v.kind === 'version' ? `version ${v.version}` : `version unreadable (${v.detail})`);

/** Delivers once (through `send`) and settles the version. The transcript segment is this attempt's alone. */
export async function attempt(setup: UpdateSetup, label: string, send: (io: Io) => Promise<Delivery>): Promise<AttemptResult> {
  const { ctx, io, v0 } = setup;
  ctx.transcript.take();
  let o = await send(io);
  let d = describeDelivery(o);
  const broke = d.incomplete === true;
  if (d.incomplete) {
    ctx.transcript.note(`${label}: ${d.text}; the image did not arrive whole, so it is sent once more`);
    o = await send(io);
    d = describeDelivery(o);
  }
  if (o.kind === 'no-session') {
    return { verdict: 'no-session', label, delivery: d.text, after: { kind: 'unreadable', detail: 'not read' }, transcript: ctx.transcript.take(), quick: true };
  }
  const saidNo = d.refused === true || (d.status !== undefined && (d.status < 200 || d.status > 299));
  const after = await settleVersion(ctx.target, io, ctx.sleep, saidNo ? (v) => v.kind === 'version' : (v) => v.kind === 'version' && v.version !== v0);
  ctx.transcript.note(`after ${label}: ${d.text}; ${versionText(after)}`);
  // A device left unreadable after a transfer that broke off was interrupted, not judged on this image
  // (update.interrupted owns that): undelivered, like the image that never arrived.
  const verdict: AttemptVerdict =
    after.kind !== 'version' ? (broke || d.incomplete ? 'undelivered' : 'dead') : after.version !== v0 ? 'installed' : d.incomplete ? 'undelivered' : 'refused';
  if (verdict === 'undelivered' && after.kind !== 'version') ctx.transcript.note(`${label}: the transfer broke off and the device was left without a readable version: an interrupted upload (update.interrupted), not a verdict on this image`);
  return { verdict, label, delivery: d.text, ...(d.status !== undefined ? { status: d.status } : {}), after, transcript: ctx.transcript.take(), quick: saidNo };
}

/** The finding for an attempt that installed, or left the device without a readable version. */
export function findingOf(setup: UpdateSetup, a: AttemptResult, extra: Partial<Evidence> = {}, severity?: Severity, installed?: string): FindingDraft {
  const declared = `refused; the running version stays ${setup.v0} and readable`;
  const summary =
    a.verdict === 'dead'
      ? `device left without a readable version after ${a.label} (${a.after.kind === 'unreadable' ? a.after.detail : 'unreadable'})`
      : `${installed ?? `the device installed ${a.label}`}: version ${setup.v0} -> ${a.after.kind === 'version' ? a.after.version : '?'}`;
  return {
    summary,
    ...(severity ? { severity } : {}),
    evidence: {
      observed: `${a.delivery}; ${versionText(a.after)} (was ${setup.v0})`,
      declared,
      source: 'target:declaration.update',
      transcript: bounded([...setup.opening, ...a.transcript]),
      ...extra,
    },
  };
}

export function bounded(entries: readonly TranscriptEntry[]): TranscriptEntry[] {
  if (entries.length <= EVIDENCE_ENTRIES) return [...entries];
  const kept = entries.slice(0, EVIDENCE_ENTRIES);
  return [...kept, { t: kept.at(-1)!.t, dir: 'note', peer: '-', decoded: `${entries.length - EVIDENCE_ENTRIES} more entries not kept` }];
}

/**
 * After the attempts: one full install-time wait for a late install (only
 * when some refusal was taken from its status alone), so "answered 400,
 * installed a second later" is not a pass.
 */
export async function lateInstall(setup: UpdateSetup, anyQuick: boolean, what: string): Promise<AttemptResult | undefined> {
  const { ctx, io, v0 } = setup;
  ctx.transcript.take();
  const after = anyQuick ? await settleVersion(ctx.target, io, ctx.sleep, (v) => v.kind !== 'version' || v.version !== v0) : await readVersion(ctx.target, io);
  const verdict: AttemptVerdict = after.kind !== 'version' ? 'dead' : after.version !== v0 ? 'installed' : 'refused';
  ctx.transcript.note(`${anyQuick ? `${ctx.target.declaration.update!.installTimeoutMs}ms after` : 'after'} the last image: ${versionText(after)}`);
  const transcript = ctx.transcript.take();
  if (verdict === 'refused') return undefined;
  return { verdict, label: `${what} (seen only at the end of the check)`, delivery: 'refused with an error status at first', after, transcript, quick: false };
}

/**
 * After an install (or a dead device): back to the baseline through the
 * declared reset, if there is one. True only when the version reads V0 again,
 * so the next image is judged on the baseline like the first.
 */
export async function restoreBaseline(setup: UpdateSetup): Promise<boolean> {
  const { ctx, io, v0 } = setup;
  if (!setup.update.reset) return false;
  const r = await resetFirmware(ctx.target, io);
  if (r.kind !== 'done') {
    ctx.transcript.note(`reset to the baseline failed: ${r.detail}`);
    return false;
  }
  const v = await settleVersion(ctx.target, io, ctx.sleep, (x) => x.kind === 'version' && x.version === v0);
  const back = v.kind === 'version' && v.version === v0;
  ctx.transcript.note(back ? `${r.detail}: running ${v0} again` : `${r.detail}, but the device runs ${versionText(v)}, not ${v0}`);
  return back;
}

export interface PlannedAttempt {
  readonly label: string;
  /** The finding's summary when it installs (default: `the device installed <label>`). */
  readonly installed?: string;
  readonly send: (io: Io) => Promise<Delivery>;
}

/**
 * Runs planned attempts in order and judges them. After an install or a dead
 * device it resets to the baseline when a reset is declared and goes on;
 * otherwise it stops there: the device no longer runs the baseline and the
 * version cannot tell the next install from a refusal.
 */
export async function runAttempts(
  setup: UpdateSetup,
  planned: readonly PlannedAttempt[],
  opts: { readonly what: string; readonly severity?: Severity; readonly passReason?: (n: number) => string },
): Promise<CheckOutcome> {
  const { ctx } = setup;
  const done: AttemptResult[] = [];
  const findings: FindingDraft[] = [];
  for (const [i, p] of planned.entries()) {
    const a = await attempt(setup, p.label, p.send);
    ctx.caseDone(`${p.label}: ${a.delivery}; ${versionText(a.after)}`);
    if (a.verdict !== 'installed' && a.verdict !== 'dead') {
      done.push(a);
      // A transfer that broke off and left the device unreadable: back to the baseline, or judge no further image.
      const left = planned.length - i - 1;
      if (a.verdict === 'undelivered' && a.after.kind !== 'version' && left > 0 && !(await restoreBaseline(setup))) {
        ctx.transcript.note(`${left} more image(s) not tried: the device was left without a readable version and no reset is declared`);
        break;
      }
      continue;
    }
    const left = planned.length - i - 1;
    const restored = left > 0 && (await restoreBaseline(setup));
    const tail = ctx.transcript.take();
    if (left > 0 && !restored) tail.push({ t: tail.at(-1)?.t ?? a.transcript.at(-1)?.t ?? 0, dir: 'note', peer: '-', decoded: `${left} more image(s) not tried: the device no longer runs ${setup.v0}` });
    // An earlier image refused with an error status may be what installed late.
    const earlier = done.filter((d) => d.quick).map((d) => d.label);
    const f = findingOf(setup, { ...a, transcript: [...a.transcript, ...tail] }, {}, opts.severity, p.installed);
    findings.push(earlier.length === 0 ? f : { ...f, evidence: { ...f.evidence, observed: `${f.evidence.observed}; it may instead be a late install of an earlier image answered with an error status: ${earlier.join('; ')}` } });
    if (!restored) break;
  }
  if (findings.length > 0) return { verdict: 'fail', reason: findings.map((f) => f.summary).join('; '), findings, cases: done.length + findings.length };
  return judge(setup, done, opts);
}

/** The verdict for attempts that were all refused or had no session (plus the late-install wait). */
export async function judge(setup: UpdateSetup, done: readonly AttemptResult[], opts: { readonly what: string; readonly severity?: Severity; readonly passReason?: (n: number) => string }): Promise<CheckOutcome> {
  const tried = done.filter((a) => !notDelivered(a));
  const noSession = done.filter(notDelivered);
  const evidence = (observed: string, extra: readonly TranscriptEntry[] = []): Evidence => ({
    observed,
    declared: `every one refused; the running version stays ${setup.v0}`,
    source: 'target:declaration.update',
    transcript: bounded([...setup.opening, ...done.flatMap((a) => a.transcript), ...extra]),
  });
  if (tried.length === 0) {
    const why = noSession.map((a) => a.delivery).join('; ') || 'nothing to deliver';
    return { verdict: 'inconclusive', reason: `no image could be delivered: ${why}`, findings: [], cases: done.length, evidence: evidence(why) };
  }
  const late = await lateInstall(setup, tried.some((a) => a.quick), opts.what);
  if (late) {
    const f = findingOf(setup, late, {}, opts.severity);
    return { verdict: 'fail', reason: f.summary, findings: [{ ...f, evidence: { ...f.evidence, transcript: bounded([...setup.opening, ...done.flatMap((a) => a.transcript), ...late.transcript]) } }], cases: done.length };
  }
  const skipped = noSession.length > 0 ? `; ${noSession.length} not delivered (${noSession.map((a) => a.delivery).join('; ')})` : '';
  const reason = (opts.passReason?.(tried.length) ?? `${opts.what} refused (${tried.length})`) + `; version stays ${setup.v0}${skipped}`;
  return { verdict: 'pass', reason, findings: [], cases: done.length, evidence: evidence(tried.map((a) => `${a.label}: ${a.delivery}`).join('; ')) };
}
