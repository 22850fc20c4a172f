// Presents one credential on the check's interface and says whether it was
// granted. The same question for MQTT (CONNACK 0) and HTTP (a session that
// opens the declared protected route), so the auth checks are written once.
// Every attempt goes through the lockout pacer.

import type { CheckContext, HttpInterface, MqttInterface, TranscriptSink } from '../../model/index.js';
import { printable } from '../../protocols/common/io.js';
import type { ConnectFields } from '../../protocols/mqtt/connect-bytes.js';
import { connectFor, mqttConnectAttempt, describeCredential } from '../../protocols/mqtt/connect-attempt.js';
import { httpLogin } from '../../protocols/http/login.js';
import { ioOf } from '../io.js';

export interface AttemptCredential {
  /** Undefined = no user name at all (anonymous). */
  readonly user?: string | Uint8Array;
  readonly pass?: string | Uint8Array;
  /** MQTT only: hostile CONNECT fields (lying length prefixes). */
  readonly mqtt?: Partial<ConnectFields>;
}

export type Attempt =
  | { readonly kind: 'granted'; readonly detail: string }
  | { readonly kind: 'refused'; readonly detail: string }
  | { readonly kind: 'no-answer'; readonly detail: string };

export const credentialLabel = (c: AttemptCredential) => describeCredential({ username: c.user, password: c.pass });

const pacerKey = (user: AttemptCredential['user']) => (user === undefined ? '' : typeof user === 'string' ? user : Buffer.from(user).toString('latin1'));

/** Whether a protocol of this interface has a credential to try. */
export function credentialsApply(iface: CheckContext['iface']): string | undefined {
  if (iface.protocol === 'mqtt' || iface.protocol === 'mqtts') return undefined;
  if (iface.protocol === 'http' || iface.protocol === 'https') {
    return iface.auth ? undefined : 'the target file declares no auth for this HTTP interface (interfaces[].auth)';
  }
  return `no credential mechanism on plain ${iface.protocol} (DTLS identities are tested on coaps)`;
}

export interface AttemptOptions {
  /** false: the caller exceeds the lockout on purpose (auth.brute-force). */
  readonly paced?: boolean;
  /** Record into this transcript instead of the check's (attempts running side by side). */
  readonly transcript?: TranscriptSink;
}

export async function tryCredential(ctx: CheckContext, cred: AttemptCredential, opts: AttemptOptions = {}): Promise<Attempt> {
  const paced = opts.paced ?? true;
  const key = pacerKey(cred.user);
  if (paced && cred.user !== undefined) await ctx.pacer.beforeAttempt(key);
  const result = await attempt(ctx, cred, opts.transcript);
  if (paced && cred.user !== undefined && result.kind !== 'no-answer') ctx.pacer.afterAttempt(key, result.kind === 'granted');
  return result;
}

async function attempt(ctx: CheckContext, cred: AttemptCredential, transcript?: TranscriptSink): Promise<Attempt> {
  const iface = ctx.iface;
  const io = transcript ? { ...ioOf(ctx), transcript } : ioOf(ctx);
  if (iface.protocol === 'mqtt' || iface.protocol === 'mqtts') {
    const m = iface as MqttInterface;
    const packet = connectFor(m.version, { username: cred.user, password: cred.pass }, cred.mqtt);
    const o = await mqttConnectAttempt(m, m.version, packet, io, `CONNECT ${credentialLabel(cred)}`);
    switch (o.kind) {
      case 'accepted':
        return { kind: 'granted', detail: `CONNACK ${o.code} (${o.meaning})` };
      case 'refused':
        return { kind: 'refused', detail: `CONNACK ${o.code} (${o.meaning})` };
      case 'closed':
        return { kind: 'refused', detail: 'connection closed without CONNACK' };
      case 'malformed':
        return { kind: 'refused', detail: `reply was not a CONNACK: ${o.detail}` };
      case 'timeout':
        return { kind: 'no-answer', detail: 'no CONNACK in time' };
      case 'unreachable':
        return { kind: 'no-answer', detail: `cannot connect: ${o.error}` };
    }
  }
  if (iface.protocol === 'http' || iface.protocol === 'https') {
    const h = iface as HttpInterface;
    const user = typeof cred.user === 'string' ? cred.user : Buffer.from(cred.user ?? []).toString('latin1');
    const pass = typeof cred.pass === 'string' ? cred.pass : Buffer.from(cred.pass ?? []).toString('latin1');
    const o = await httpLogin(h, { user, pass }, io);
    switch (o.kind) {
      case 'granted':
        return { kind: 'granted', detail: o.detail };
      case 'refused':
        return { kind: 'refused', detail: o.detail };
      case 'timeout':
        return { kind: 'no-answer', detail: 'no HTTP reply in time' };
      case 'unreachable':
        return { kind: 'no-answer', detail: `request failed: ${o.error}` };
    }
  }
  return { kind: 'no-answer', detail: `no credential mechanism on ${iface.protocol}` };
}

/** Protocol name as a lab reads it. */
export const protocolLabel = (ctx: CheckContext) => ctx.iface.protocol.toUpperCase();

export { printable };
