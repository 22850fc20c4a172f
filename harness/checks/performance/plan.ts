// What to drive on each hot path of one interface, read off the target file:
// the principal and topic for MQTT (one the principal may both publish and
// subscribe, so an observer can time delivery), the resource for CoAP, the
// PSK for DTLS, the route and session for HTTP. A path the target file gives
// nothing to drive is planned as skipped, with the field that is missing.
// Pure: no I/O (the HTTP session for an upload is opened by the caller).

import { BENCH_PATHS, benchPathFits, type BenchPath, type Interface, type Principal, type Target } from '../../model/index.js';
import { topicMatches } from '../policy/mqtt-topics.js';

export interface PlannedPath {
  readonly path: BenchPath;
  readonly iface: Interface;
  readonly principal?: Principal;
  /** Topic, resource or route. */
  readonly resource: string;
  readonly payloadBytes?: number;
  /** HTTP: log this principal in and send its session header. */
  readonly login?: Principal;
  readonly note?: string;
  /** Why the path cannot be measured on this target. */
  readonly skipped?: string;
}

/** Bytes per op where a path has a payload. */
export const PAYLOAD_BYTES: Partial<Record<BenchPath, number>> = {
  'mqtt.publish.qos0': 64,
  'mqtt.publish.qos1': 64,
  'mqtt.publish.qos2': 64,
  'coap.block': 64,
  'http.upload': 256 * 1024,
};

/** A device principal first: the hot path of a constrained device is its own sensor traffic, not the admin's. */
const byDeviceFirst = (a: Principal, b: Principal) => Number(a.role === 'admin') - Number(b.role === 'admin');

/** A concrete topic the rules let one both publish and subscribe, derived from a publish filter. */
function benchTopic(rules: { readonly publish: readonly string[]; readonly subscribe: readonly string[] }): string | undefined {
  for (const f of rules.publish) {
    const topic = f
      .split('/')
      .map((l) => (l === '#' ? 'gauntlet-bench' : l === '+' ? 'gauntlet' : l))
      .join('/');
    if (topic.startsWith('$')) continue;
    if (rules.publish.some((p) => topicMatches(p, topic)) && rules.subscribe.some((s) => topicMatches(s, topic))) return topic;
  }
  return undefined;
}

function mqttPlan(t: Target, iface: Interface, path: BenchPath): PlannedPath {
  const rules = t.declaration.access.mqtt.rules;
  for (const p of [...t.principals].sort(byDeviceFirst)) {
    const r = rules[p.name];
    const topic = r && benchTopic(r);
    if (topic) return { path, iface, principal: p, resource: topic, payloadBytes: PAYLOAD_BYTES[path] };
  }
  const anon = rules['anonymous'];
  const topic = t.declaration.access.mqtt.anonymous ? (anon ? benchTopic(anon) : 'gauntlet/bench') : undefined;
  if (topic) return { path, iface, resource: topic, payloadBytes: PAYLOAD_BYTES[path], note: 'anonymous session (declaration.access.mqtt.anonymous)' };
  if (path === 'mqtt.connect') {
    const p = [...t.principals].sort(byDeviceFirst)[0];
    if (p) return { path, iface, principal: p, resource: '' };
  }
  return {
    path,
    iface,
    resource: '',
    skipped: 'no principal may both publish and subscribe one topic (declaration.access.mqtt.rules), so delivery cannot be observed',
  };
}

function coapPlan(t: Target, iface: Interface, path: BenchPath): PlannedPath {
  if (path === 'coap.block') return { path, iface, resource: '/.well-known/core', payloadBytes: PAYLOAD_BYTES[path] };
  const open = Object.entries(t.declaration.access.coap.anonymous).find(([r, m]) => r !== '/.well-known/core' && m.includes('GET'));
  return { path, iface, resource: open?.[0] ?? '/.well-known/core' };
}

function dtlsPlan(t: Target, iface: Interface, path: BenchPath): PlannedPath {
  const p = [...t.principals].filter((x) => x.psk).sort(byDeviceFirst)[0];
  return p ? { path, iface, principal: p, resource: '' } : { path, iface, resource: '', skipped: 'no principal with a DTLS PSK in the target file (principals.<name>.psk)' };
}

function httpPlan(t: Target, iface: Interface & { readonly probePath: string }, path: BenchPath): PlannedPath {
  if (path === 'http.request') return { path, iface, resource: iface.probePath };
  const up = t.declaration.update?.paths.find((u) => u.kind === 'http-upload' && u.via === iface.id);
  if (!up || up.kind !== 'http-upload') return { path, iface, resource: '', skipped: `no http-upload update path via ${iface.id} (declaration.update.paths)` };
  const as = up.as ? t.principals.find((p) => p.name === up.as) : undefined;
  return {
    path,
    iface,
    resource: up.path,
    payloadBytes: PAYLOAD_BYTES[path],
    ...(as ? { login: as } : {}),
    note: `${up.method} ${up.path}${as ? ` as ${as.name}` : ''}; the body is random bytes, so no image installs`,
  };
}

/** The paths of one interface: `only` narrows them (declared floors); a path that does not fit the protocol is never planned. */
export function planPaths(t: Target, iface: Interface, only?: readonly BenchPath[]): PlannedPath[] {
  const paths = BENCH_PATHS.filter((p) => benchPathFits(p, iface.protocol) && (!only || only.includes(p)));
  return paths.map((path) => {
    switch (iface.protocol) {
      case 'mqtt':
      case 'mqtts':
        return mqttPlan(t, iface, path);
      case 'coap':
        return coapPlan(t, iface, path);
      case 'coaps':
        return dtlsPlan(t, iface, path);
      case 'http':
      case 'https':
        return httpPlan(t, iface, path);
    }
  });
}
