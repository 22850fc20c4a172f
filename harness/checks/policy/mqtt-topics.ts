// The declared MQTT policy as an oracle, under MQTT's own matching rules.
// Pure: no I/O. [MQTT-4.7.1] wildcards; [MQTT-4.7.2-1] a filter starting with
// a wildcard does not match topics starting with `$`.

import type { TopicRules } from '../../model/index.js';

/** Whether `filter` matches the topic name `topic`. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return true; // also matches the parent level [MQTT-4.7.1-2]
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** A valid topic name for PUBLISH: non-empty, no wildcards [MQTT-4.7.3-1]. */
export function isTopicName(topic: string): boolean {
  return topic.length > 0 && !topic.includes('+') && !topic.includes('#') && !topic.includes('\u0000');
}

/** A valid topic filter for SUBSCRIBE [MQTT-4.7.1-2, 4.7.1-3]. */
export function isTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  return filter.split('/').every((l, i, all) => (l.includes('#') ? l === '#' && i === all.length - 1 : !l.includes('+') || l === '+'));
}

/**
 * Whether every topic `requested` can match is also matched by `allowed`
 * (the hardened rule for granting a SUBSCRIBE).
 */
export function filterCovers(allowed: string, requested: string): boolean {
  // `$` topics are covered only by an allowed filter that names the `$` level.
  if (requested.startsWith('$') && (allowed.startsWith('+') || allowed.startsWith('#'))) return false;
  const a = allowed.split('/');
  const r = requested.split('/');
  for (let i = 0; i < a.length; i++) {
    const al = a[i]!;
    if (al === '#') return true;
    if (i >= r.length) return false;
    const rl = r[i]!;
    if (rl === '#') return false; // requested reaches deeper than a non-# allowed level
    if (al === '+') continue;
    if (rl !== al) return false; // a literal level, or `+` where a literal is allowed
  }
  return a.length === r.length;
}

export const mayPublish = (rules: TopicRules | undefined, topic: string) => (rules?.publish ?? []).some((f) => topicMatches(f, topic));
export const mayRead = (rules: TopicRules | undefined, topic: string) => (rules?.subscribe ?? []).some((f) => topicMatches(f, topic));
export const maySubscribe = (rules: TopicRules | undefined, filter: string) => (rules?.subscribe ?? []).some((f) => filterCovers(f, filter));
