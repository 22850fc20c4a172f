// XML 1.0 escaping for the JUnit report. Characters XML 1.0 forbids (most C0
// controls, lone surrogates, U+FFFE/U+FFFF) cannot be escaped at all, so they
// are replaced with a visible `\uXXXX`: device replies are full of them.

const FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function replaceForbidden(s: string): string {
  return s.replace(FORBIDDEN, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

/** Escapes element text. */
export function xmlText(s: string): string {
  return replaceForbidden(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escapes an attribute value (double-quoted); keeps tabs and newlines through attribute normalisation. */
export function xmlAttr(s: string): string {
  return xmlText(s)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}
