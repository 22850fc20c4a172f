import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JunitReporter } from '../../harness/report/junit-reporter.js';
import { xmlAttr, xmlText } from '../../harness/report/xml.js';
import { FINDING, PLAN, feed, syntheticRun } from './synthetic-run.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gauntlet-junit-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function junitOf(events: Parameters<typeof feed>[0]): Promise<string> {
  const path = join(dir, 'junit.xml');
  const reporter = new JunitReporter(path);
  await feed(events, reporter);
  reporter.flush();
  return readFileSync(path, 'utf8');
}

const count = (xml: string, re: RegExp): number => (xml.match(re) ?? []).length;

/** A tag-balance check: every element opened is closed in order (enough for well-formedness here). */
function balanced(xml: string): boolean {
  const stack: string[] = [];
  for (const m of xml.replace(/^<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([A-Za-z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m;
    if (selfClose) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name!);
  }
  return stack.length === 0;
}

describe('JunitReporter', () => {
  it('writes one testsuite with one testcase per instance', async () => {
    const xml = await junitOf(syntheticRun());
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')).toBe(true);
    expect(balanced(xml)).toBe(true);
    expect(count(xml, /<testsuites /g)).toBe(1);
    expect(count(xml, /<testsuite /g)).toBe(1);
    expect(xml).toContain('<testsuite name="gauntlet: thermo-x200 / ci-smoke" tests="5" failures="1" errors="1" skipped="2"');
    expect(count(xml, /<testcase /g)).toBe(5);
    expect(count(xml, /<failure /g)).toBe(1);
    expect(count(xml, /<error /g)).toBe(1);
    expect(count(xml, /<skipped /g)).toBe(2);
    expect(xml).toContain('<testcase classname="auth.brute-force" name="auth.brute-force@broker" time="1.234">');
  });

  it('puts findings and replay commands in the failure, the code in the error, reasons in skipped', async () => {
    const xml = await junitOf(syntheticRun());
    const failure = /<failure message="([^"]*)" type="fail">([^<]*)<\/failure>/.exec(xml)!;
    expect(failure[1]).toBe('lockout not enforced: 6 failed logins accepted');
    expect(failure[2]).toContain(`[high] ${FINDING.summary}`);
    expect(failure[2]).toContain(`replay: ${FINDING.replay}`);
    expect(xml).toContain('<error message="check ran past its 20s bound" type="CHECK_TIMEOUT">');
    expect(xml).toContain('<skipped message="interface is plain mqtt"/>');
    expect(xml).toContain('<skipped message="inconclusive: device stopped answering after case 7"/>');
  });

  it('lists each requirement and the instance seed as properties', async () => {
    const xml = await junitOf(syntheticRun());
    const brute = xml.slice(xml.indexOf('name="auth.brute-force@broker"'), xml.indexOf('</testcase>', xml.indexOf('name="auth.brute-force@broker"')));
    expect(count(brute, /<property name="requirement" value="[^"]+"\/>/g)).toBe(PLAN[1]!.requirements.length);
    expect(brute).toContain('<property name="seed" value="22"/>');
    expect(xml).toContain('<property name="seed" value="424242"/>');
  });

  it('escapes markup and replaces characters XML 1.0 forbids', async () => {
    const nasty = 'bad <tag> & "quote" \'apos\' \u0001ctl\u001b[31m \uFFFE end';
    const xml = await junitOf(syntheticRun({ failText: nasty }));
    expect(balanced(xml)).toBe(true);
    // eslint-disable-next-line no-control-regex
    expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\uFFFE\uFFFF]/);
    expect(xml).toContain('message="bad &lt;tag&gt; &amp; &quot;quote&quot; &apos;apos&apos; \\u0001ctl\\u001b[31m \\ufffe end"');
    expect(xml).toContain('bad &lt;tag&gt; &amp; "quote"');
    expect(xml).not.toContain('<tag>');
  });

  it('counts an interrupted run: unfinished instances are skipped as inconclusive', async () => {
    const xml = await junitOf(syntheticRun({ killedAfter: 2 }));
    expect(count(xml, /<testcase /g)).toBe(5);
    expect(xml).toContain('<skipped message="inconclusive: not run: the run was interrupted"/>');
    expect(xml).toContain('<property name="interrupted" value="true"/>');
  });
});

describe('xml escaping', () => {
  it('keeps tabs/newlines in text and encodes them in attributes; handles lone surrogates', () => {
    expect(xmlText('a\tb\nc')).toBe('a\tb\nc');
    expect(xmlAttr('a\tb\nc\r')).toBe('a&#9;b&#10;c&#13;');
    expect(xmlText('x\uD800y')).toBe('x\\ud800y');
    expect(xmlText('emoji \u{1F600}')).toBe('emoji \u{1F600}');
  });
});
