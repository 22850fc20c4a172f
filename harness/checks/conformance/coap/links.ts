// RFC 6690 link-format, strictly enough to judge a server's /.well-known/core
// [RFC6690 2]: `<URI-reference>` links separated by commas, each followed by
// `;name` or `;name=value` parameters (a token or a quoted string). Whitespace
// between the pieces is tolerated (some stacks break lines) and noted.

export interface Link {
  readonly target: string;
  /** Parameter name (lower case) -> value (quotes removed), or true for a bare name (`obs`). */
  readonly attrs: ReadonlyMap<string, string | true>;
}

export type LinkParse = { readonly ok: true; readonly links: readonly Link[]; readonly whitespace: boolean } | { readonly ok: false; readonly error: string; readonly at: number };

const PARMNAME = /[A-Za-z0-9!#$&+\-.^_`|~*]/;

export function parseLinks(text: string): LinkParse {
  const links: Link[] = [];
  let i = 0;
  let whitespace = false;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) {
      i++;
      whitespace = true;
    }
  };
  const fail = (error: string): LinkParse => ({ ok: false, error: `${error} at offset ${i}`, at: i });
  ws();
  if (i >= text.length) return { ok: true, links, whitespace };
  for (;;) {
    ws();
    if (text[i] !== '<') return fail(`expected "<" opening a link`);
    const close = text.indexOf('>', i + 1);
    if (close < 0) return fail('a link target without its closing ">"');
    const target = text.slice(i + 1, close);
    if (/[\s<"]/.test(target)) return fail(`link target ${JSON.stringify(target)} holds a character a URI-reference cannot`);
    i = close + 1;
    const attrs = new Map<string, string | true>();
    ws();
    while (text[i] === ';') {
      i++;
      ws();
      const start = i;
      while (i < text.length && PARMNAME.test(text[i]!)) i++;
      if (i === start) return fail('a ";" not followed by a parameter name');
      const name = text.slice(start, i).toLowerCase();
      ws();
      if (text[i] === '=') {
        i++;
        ws();
        if (text[i] === '"') {
          let v = '';
          i++;
          while (i < text.length && text[i] !== '"') {
            if (text[i] === '\\' && i + 1 < text.length) i++;
            v += text[i];
            i++;
          }
          if (text[i] !== '"') return fail('an unterminated quoted parameter value');
          i++;
          attrs.set(name, v);
        } else {
          const vs = i;
          while (i < text.length && !/[,;"\s]/.test(text[i]!)) i++;
          if (i === vs) return fail(`parameter ${name}= without a value`);
          attrs.set(name, text.slice(vs, i));
        }
      } else attrs.set(name, true);
      ws();
    }
    links.push({ target, attrs });
    ws();
    if (i >= text.length) return { ok: true, links, whitespace };
    if (text[i] !== ',') return fail('expected "," or ";" after a link');
    i++;
  }
}

/** Whether a link matches the filter `name=value` (a trailing `*` matches a prefix; rt/if/rel are space-separated lists) [RFC6690 4.1]. */
export function linkMatches(l: Link, name: string, value: string): boolean {
  const prefix = value.endsWith('*');
  const want = prefix ? value.slice(0, -1) : value;
  const eq = (v: string) => (prefix ? v.startsWith(want) : v === want);
  if (name === 'href') return eq(l.target);
  const v = l.attrs.get(name);
  if (v === undefined) return false;
  if (v === true) return want === '';
  return ['rt', 'if', 'rel'].includes(name) ? v.split(/\s+/).some(eq) : eq(v);
}
