// The named flaws of the reference device: each switches on exactly one
// weakness a Gauntlet check looks for, so the flaw-matrix tests can prove
// every check fails on its flaw and passes on the hardened device.

import { GauntletError } from '../../harness/core/errors.js';

export const FLAWS = [
  'default-credentials',
  'derived-credentials',
  'anonymous-mqtt',
  'anonymous-http',
  'anonymous-coap-config',
  'no-lockout',
  'no-forced-change',
  'password-prefix-match',
] as const;

export type Flaw = (typeof FLAWS)[number];

export const FLAW_INFO: Readonly<Record<Flaw, string>> = Object.freeze({
  'default-credentials': 'a hard-coded extra account support/support (role admin) exists on MQTT and HTTP',
  'derived-credentials': 'a hard-coded extra account "service" whose password is the last 6 hex digits of the MAC (role admin)',
  'anonymous-mqtt': 'the MQTT broker accepts a CONNECT without user name, with full rights',
  'anonymous-http': 'GET /api/status, /api/config and /api/users answer without a session',
  'anonymous-coap-config': 'plain CoAP GET and PUT /config work without authentication',
  'no-lockout': 'failed logins are never throttled: unlimited password guessing',
  'no-forced-change': 'a factory-fresh unit grants access with the shipped password without demanding a change',
  'password-prefix-match': 'the password check refuses an empty password but accepts any non-empty prefix of the stored one (memcmp with the caller\'s length)',
});

export function isFlaw(name: string): name is Flaw {
  return (FLAWS as readonly string[]).includes(name);
}

/** Parses a comma-separated flaw list ("a,b"); blanks are ignored, duplicates collapsed. */
export function parseFlaws(list: string): Flaw[] {
  const out: Flaw[] = [];
  for (const raw of list.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    if (!isFlaw(name)) {
      throw new GauntletError('USAGE', `unknown flaw "${name}"; known: ${FLAWS.join(', ')}`);
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}
