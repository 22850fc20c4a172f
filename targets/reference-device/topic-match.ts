// MQTT topic-filter matching (MQTT 3.1.1 section 4.7) for the broker's ACL:
// whether a filter matches a topic name, and whether one filter covers every
// topic another can match (so a subscription with wildcards is only granted
// when all it could receive is allowed).

/** Whether a topic filter is syntactically valid: '#' only last and alone in its level, '+' alone in its level. */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  for (const [i, level] of levels.entries()) {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return false;
    if (level.includes('+') && level !== '+') return false;
  }
  return true;
}

/** Whether a topic name is valid for PUBLISH: non-empty, no wildcards, no NUL. */
export function isValidTopic(topic: string): boolean {
  return topic.length > 0 && !/[#+\u0000]/.test(topic);
}

/** Whether `filter` matches the topic name `topic`. Wildcards at the first level never match topics starting with '$'. */
export function topicMatches(filter: string, topic: string): boolean {
  if (!isValidFilter(filter) || !isValidTopic(topic)) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return true; // also matches the parent level: "a/#" matches "a"
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Whether every topic that `requested` can match is also matched by `allowed`. */
export function filterCovers(allowed: string, requested: string): boolean {
  if (!isValidFilter(allowed) || !isValidFilter(requested)) return false;
  const a = allowed.split('/');
  const r = requested.split('/');
  // An allowed wildcard first level does not reach '$' topics.
  if (requested.startsWith('$') && (a[0] === '+' || a[0] === '#')) return false;
  for (let i = 0; i < a.length; i++) {
    const level = a[i]!;
    if (level === '#') return true;
    if (i >= r.length) return false;
    const want = r[i]!;
    if (want === '#') return false; // requested reaches deeper/shallower than a non-'#' allowed level
    if (level === '+') continue; // covers any single level, '+' included
    if (want === '+' || want !== level) return false;
  }
  return a.length === r.length;
}
