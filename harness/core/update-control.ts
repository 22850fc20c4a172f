// The update mechanism as a lab drives it: read the running version, push an
// image through a declared path (with the declared principal's session, none,
// or another's), and the run-level positive control that follows the update
// checks: the valid newer image installs and the version shows it. Used by the
// runner and by harness/checks/update.

import { readFileSync } from 'node:fs';
import type { HttpInterface, Target, UpdatePath } from '../model/index.js';
import type { Io } from '../protocols/common/io.js';
import { httpExchange, type HttpOutcome } from '../protocols/http/exchange.js';
import { httpLogin, jsonPath } from '../protocols/http/login.js';

export type VersionRead = { readonly kind: 'version'; readonly version: string } | { readonly kind: 'unreadable'; readonly detail: string };

function httpIface(target: Target, id: string): HttpInterface {
  return target.interfaces.find((i) => i.id === id) as HttpInterface;
}

/** Session headers for a principal on an interface; `null` = no session; undefined principal name = none declared. */
export async function sessionFor(target: Target, via: string, principal: string | null | undefined, io: Io): Promise<{ headers: Record<string, string> } | { error: string }> {
  if (principal === null || principal === undefined) return { headers: {} };
  const p = target.principals.find((x) => x.name === principal);
  if (!p) return { error: `no principal named "${principal}"` };
  const iface = httpIface(target, via);
  if (!iface.auth) return { error: `interface ${via} declares no auth` };
  const r = await httpLogin(iface, { user: p.user, pass: p.pass }, io);
  if (r.kind !== 'granted') return { error: `${principal} could not log in (${'detail' in r ? r.detail : r.kind})` };
  return { headers: { ...r.headers } };
}

export async function readVersion(target: Target, io: Io): Promise<VersionRead> {
  const v = target.declaration.update!.version;
  const s = await sessionFor(target, v.via, v.as, io);
  if ('error' in s) return { kind: 'unreadable', detail: s.error };
  const r = await httpExchange(httpIface(target, v.via), { method: 'GET', path: v.path, headers: s.headers }, io);
  if (r.kind !== 'response') return { kind: 'unreadable', detail: `GET ${v.path}: ${r.kind}` };
  if (r.status < 200 || r.status > 299) return { kind: 'unreadable', detail: `GET ${v.path} answered ${r.status}` };
  let value: unknown;
  try {
    value = jsonPath(JSON.parse(r.body), v.json);
  } catch {
    return { kind: 'unreadable', detail: `GET ${v.path}: not JSON` };
  }
  if (typeof value !== 'string' && typeof value !== 'number') return { kind: 'unreadable', detail: `GET ${v.path}: nothing at ${v.json}` };
  return { kind: 'version', version: String(value) };
}

/** Polls the version until `done` holds or the declared install time has passed; returns the last read. */
export async function settleVersion(target: Target, io: Io, sleep: (ms: number) => Promise<void>, done: (v: VersionRead) => boolean): Promise<VersionRead> {
  const deadline = Date.now() + target.declaration.update!.installTimeoutMs;
  for (;;) {
    const v = await readVersion(target, io);
    if (done(v) || Date.now() >= deadline) return v;
    await sleep(Math.min(200, Math.max(20, deadline - Date.now())));
  }
}

/** Pushes `image` through `path`: with the path's principal (default), another principal, or no session (`null`). */
export async function deliver(target: Target, path: UpdatePath, image: Buffer, io: Io, principal: string | null | undefined = path.as): Promise<HttpOutcome | { kind: 'no-session'; detail: string }> {
  const s = await sessionFor(target, path.via, principal, io);
  if ('error' in s) return { kind: 'no-session', detail: s.error };
  return httpExchange(httpIface(target, path.via), { method: path.method, path: path.path, headers: { ...s.headers, 'content-type': path.contentType }, body: image }, io);
}

/** Puts the device back on its baseline image through the declared reset, if there is one. */
export async function resetFirmware(target: Target, io: Io): Promise<UpdateControl> {
  const reset = target.declaration.update?.reset;
  if (!reset) return { kind: 'not-needed', detail: 'no reset declared' };
  const s = await sessionFor(target, reset.via, reset.as, io);
  if ('error' in s) return { kind: 'failed', detail: `reset: ${s.error}` };
  const r = await httpExchange(httpIface(target, reset.via), { method: reset.method, path: reset.path, headers: s.headers }, io);
  if (r.kind !== 'response' || r.status < 200 || r.status > 299) return { kind: 'failed', detail: `reset ${reset.method} ${reset.path}: ${r.kind === 'response' ? r.status : r.kind}` };
  return { kind: 'done', detail: `reset to the baseline via ${reset.method} ${reset.path}` };
}

export type UpdateControl = { readonly kind: 'not-needed' | 'done' | 'failed'; readonly detail: string };

/** The run-level positive control: the valid newer image installs through the first path and the version shows it. */
export async function updatePositiveControl(target: Target, io: Io, sleep: (ms: number) => Promise<void>): Promise<UpdateControl> {
  const u = target.declaration.update;
  if (!u) return { kind: 'not-needed', detail: 'no update mechanism declared' };
  const path = u.paths[0]!;
  const image = readFileSync(u.images.newer.file);
  const r = await deliver(target, path, image, io);
  if (r.kind === 'no-session') return { kind: 'failed', detail: r.detail };
  const status = r.kind === 'response' ? `answered ${r.status}` : r.kind;
  const v = await settleVersion(target, io, sleep, (x) => x.kind === 'version' && x.version === u.images.newer.version);
  if (v.kind === 'version' && v.version === u.images.newer.version) {
    return { kind: 'done', detail: `the valid newer image ${u.images.newer.version} installed through ${path.id} (${path.method} ${path.path} ${status})` };
  }
  return { kind: 'failed', detail: `the valid newer image did not install through ${path.id} (${status}; version ${v.kind === 'version' ? v.version : v.detail})` };
}
