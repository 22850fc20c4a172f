// Who watches for a reboot during a campaign or a replay: the target's first
// principal with a user name and password (its MQTT persistent session or HTTP
// session is the sentinel), and for MQTT a topic it may subscribe to. One
// choice, shared by robustness.fuzz and the byte-level replay, so a replay
// watches the same state the campaign did.

import type { Principal, Target } from '../model/index.js';

/** The first principal with a user name and password: its session is what the stateful cases run in. */
export function fuzzPrincipal(target: Target): Principal | undefined {
  return target.principals.find((p) => p.user !== '' && p.pass !== '');
}

/** The principal's declared topic rules (none without a principal). */
export const rulesOf = (target: Target, principal: Principal | undefined) => (principal ? target.declaration.access.mqtt.rules[principal.name] : undefined);

/** A topic a filter allows: `#` becomes `leaf`, `+` becomes `x`. */
export const concreteTopic = (filter: string, leaf: string) => filter.replace(/#$/, leaf).replace(/\+/g, 'x') || leaf;

/** A topic the principal may subscribe to (its first subscribe filter, made concrete), for the reboot oracle's sentinel. */
export function sentinelTopicOf(target: Target, principal: Principal | undefined): string {
  const filter = rulesOf(target, principal)?.subscribe.find((f) => !f.startsWith('$'));
  return filter ? concreteTopic(filter, 'gauntlet-sentinel') : 'gauntlet/sentinel';
}
