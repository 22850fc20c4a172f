// The default-credential dictionary: parsing, templates from the declared
// identity, and the round-robin order the pacer relies on.

import { describe, expect, it } from 'vitest';
import { loadDictionary, parseDictionary, templateValues, type DictionaryEntry } from '../../harness/checks/authentication/dictionary.js';
import { forEachUserConcurrently } from '../../harness/checks/authentication/default-credentials.js';

const ID = { serial: 'X200-004711', model: 'X200', mac: '02:00:5E:AB:cd:EF' };
const pairs = (es: readonly DictionaryEntry[]) => es.map((e) => `${e.user}:${e.pass}`);

describe('templateValues', () => {
  it('derives the MAC forms from any separator and case', () => {
    expect(templateValues(ID)).toEqual({ serial: 'X200-004711', model: 'X200', mac: '02005eabcdef', mac6: 'abcdef', MAC6: 'ABCDEF' });
    expect(templateValues({ mac: '02-00-5e-10-00-42' })).toMatchObject({ mac: '02005e100042', mac6: '100042' });
    expect(templateValues({})).toEqual({ serial: undefined, model: undefined, mac: undefined, mac6: undefined, MAC6: undefined });
  });
});

describe('parseDictionary', () => {
  it('fills {serial} {mac6} {MAC6} {mac} {model}, in user and password', () => {
    const text = ['admin:{serial}', 'admin:{mac6}', 'admin:{MAC6}', 'root:{mac}', '{model}:{model}-{mac6}'].join('\n');
    expect(pairs(parseDictionary(text, ID))).toEqual(['admin:X200-004711', 'admin:abcdef', 'admin:ABCDEF', 'root:02005eabcdef', 'X200:X200-abcdef']);
  });

  it('keeps the line as written for evidence', () => {
    expect(parseDictionary('admin:{mac6}\n', ID)).toEqual([{ user: 'admin', pass: 'abcdef', source: 'admin:{mac6}' }]);
  });

  it('leaves out lines whose template has no value, and keeps the others', () => {
    const text = 'admin:{serial}\nadmin:{mac6}\nuser:{model}\nadmin:admin\n';
    expect(pairs(parseDictionary(text, { serial: 'S1' }))).toEqual(['admin:S1', 'admin:admin']);
    expect(pairs(parseDictionary('{model}:x\n', {}))).toEqual([]);
  });

  it('leaves unknown braces as text', () => {
    expect(pairs(parseDictionary('admin:{pin}\nadmin:{Serial}\n', ID))).toEqual(['admin:{pin}', 'admin:{Serial}']);
  });

  it('drops duplicates, also those a template produces', () => {
    const text = 'admin:admin\nadmin:admin\nadmin:abcdef\nadmin:{mac6}\nroot:admin\n';
    expect(pairs(parseDictionary(text, ID))).toEqual(['admin:admin', 'admin:abcdef', 'root:admin']);
  });

  it('`user:` is an empty password; the first colon splits; no colon is no entry', () => {
    const text = 'admin:\nsupport:pa:ss:word\nnocolon\n:onlypass\n';
    expect(parseDictionary(text, ID).map((e) => [e.user, e.pass])).toEqual([
      ['admin', ''],
      ['support', 'pa:ss:word'],
      ['', 'onlypass'],
    ]);
  });

  it('skips comments and blank lines, and copes with CRLF and trailing blanks', () => {
    const text = '# header: not an entry\r\n\r\nadmin:1234  \r\n#root:root\r\n   \r\nguest:guest';
    expect(pairs(parseDictionary(text, ID))).toEqual(['admin:1234', 'guest:guest']);
  });

  it('the shipped dictionary loads, in interleaved order, with templates filled', () => {
    const all = loadDictionary(ID);
    expect(all.length).toBeGreaterThan(20);
    expect(all.every((e) => !/\{(serial|model|mac|mac6|MAC6)\}/.test(`${e.user}:${e.pass}`))).toBe(true);
    expect(new Set(pairs(all)).size).toBe(all.length);
    expect(pairs(all)).toContain('admin:admin');
    // without an identity, the template lines are left out
    expect(loadDictionary({}).length).toBeLessThan(all.length);
  });
});

describe('forEachUserConcurrently (auth.default-credentials)', () => {
  const e = (user: string, pass: string): DictionaryEntry => ({ user, pass, source: `${user}:${pass}` });

  it('visits every entry once, each user\'s entries in order, several users at a time but never more than the width', async () => {
    const input = [e('admin', '1'), e('admin', '2'), e('admin', '3'), e('root', 'a'), e('guest', 'x'), e('root', 'b'), e('ubnt', 'u')];
    const seen: string[] = [];
    const inFlight = new Set<string>();
    let peak = 0;
    await forEachUserConcurrently(input, 2, async (x) => {
      expect(inFlight.has(x.user)).toBe(false); // one attempt per user at a time
      inFlight.add(x.user);
      peak = Math.max(peak, inFlight.size);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(`${x.user}:${x.pass}`);
      inFlight.delete(x.user);
    });
    expect([...seen].sort()).toEqual(pairs(input).sort());
    expect(seen.filter((s) => s.startsWith('admin:'))).toEqual(['admin:1', 'admin:2', 'admin:3']);
    expect(seen.filter((s) => s.startsWith('root:'))).toEqual(['root:a', 'root:b']);
    expect(peak).toBe(2);
  });

  it('empty in, nothing called', async () => {
    let calls = 0;
    await forEachUserConcurrently([], 4, async () => {
      calls++;
    });
    expect(calls).toBe(0);
  });
});
