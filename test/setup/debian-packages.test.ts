// Unit tests for the Debian package detection/installation decisions in
// test/setup/debian-packages.ts, with a fake `which` and a fake command runner
// (nothing is installed or looked up for real).
import { describe, expect, it } from 'vitest';

import {
  DEBIAN_PACKAGES,
  detectInteropTools,
  ensureDebianPackages,
  isCi,
  type CommandResult,
} from './debian-packages.js';

const ALL = new Map([
  ['mosquitto', '/usr/sbin/mosquitto'],
  ['mosquitto_passwd', '/usr/bin/mosquitto_passwd'],
  ['coap-server-notls', '/usr/bin/coap-server-notls'],
  ['coap-server-openssl', '/usr/bin/coap-server-openssl'],
  ['coap-client-notls', '/usr/bin/coap-client-notls'],
  ['coap-client-openssl', '/usr/bin/coap-client-openssl'],
  ['openssl', '/usr/bin/openssl'],
]);

function fakeWhich(present: Map<string, string>) {
  return (name: string) => present.get(name) ?? null;
}

function without(...names: string[]): Map<string, string> {
  const m = new Map(ALL);
  for (const n of names) m.delete(n);
  return m;
}

function recorder(onRun?: (cmd: string, args: readonly string[]) => void) {
  const calls: string[] = [];
  const run = (cmd: string, args: readonly string[], env: Record<string, string>): CommandResult => {
    calls.push(`${Object.keys(env).length ? 'env ' : ''}${cmd} ${args.join(' ')}`);
    onRun?.(cmd, args);
    return { status: 0, output: '' };
  };
  return { calls, run };
}

describe('detectInteropTools', () => {
  it('finds everything', () => {
    const t = detectInteropTools(fakeWhich(ALL));
    expect(t).toEqual({
      mosquitto: '/usr/sbin/mosquitto',
      mosquittoPasswd: '/usr/bin/mosquitto_passwd',
      coapServerNotls: '/usr/bin/coap-server-notls',
      coapServerOpenssl: '/usr/bin/coap-server-openssl',
      coapClientNotls: '/usr/bin/coap-client-notls',
      coapClientOpenssl: '/usr/bin/coap-client-openssl',
      openssl: '/usr/bin/openssl',
      missing: [],
    });
  });

  it('a package is missing when any one of its binaries is', () => {
    const t = detectInteropTools(fakeWhich(without('mosquitto_passwd', 'coap-client-notls')));
    expect(t.missing).toEqual(['mosquitto', 'libcoap3-bin']);
    expect(t.mosquitto).toBe('/usr/sbin/mosquitto');
    expect(t.mosquittoPasswd).toBeNull();
  });

  it('covers exactly the three packages', () => {
    expect(DEBIAN_PACKAGES.map((p) => p.name)).toEqual(['mosquitto', 'libcoap3-bin', 'openssl']);
  });
});

describe('ensureDebianPackages', () => {
  it('non-root + missing: loud notice naming packages and apt-get command, no install, no throw', () => {
    const warnings: string[] = [];
    const { calls, run } = recorder();
    const t = ensureDebianPackages({
      which: fakeWhich(without('coap-server-notls')),
      isRoot: false,
      ci: false,
      run,
      log: () => {},
      warn: (w) => warnings.push(w),
    });
    expect(calls).toEqual([]);
    expect(t.missing).toEqual(['libcoap3-bin']);
    expect(t.coapServerNotls).toBeNull();
    expect(warnings.join('\n')).toMatch(/SKIPPED[\s\S]*libcoap3-bin[\s\S]*apt-get install -y libcoap3-bin/);
  });

  it('non-root + missing + CI: throws', () => {
    expect(() =>
      ensureDebianPackages({ which: fakeWhich(without('mosquitto')), isRoot: false, ci: true, run: recorder().run, log: () => {}, warn: () => {} }),
    ).toThrow(/CI=true.*mosquitto/);
  });

  it('root + missing: apt-get update, install, stop the service, re-detect', () => {
    const present = without('mosquitto', 'mosquitto_passwd');
    const { calls, run } = recorder((cmd, args) => {
      if (cmd === 'apt-get' && args.includes('install')) {
        present.set('mosquitto', '/usr/sbin/mosquitto');
        present.set('mosquitto_passwd', '/usr/bin/mosquitto_passwd');
      }
    });
    const t = ensureDebianPackages({ which: fakeWhich(present), isRoot: true, ci: true, run, log: () => {}, warn: () => {} });
    expect(t.missing).toEqual([]);
    expect(t.mosquitto).toBe('/usr/sbin/mosquitto');
    expect(calls[0]).toBe('env apt-get -q update');
    expect(calls[1]).toMatch(/^env apt-get .*-y .*install mosquitto$/);
    expect(calls[2]).toMatch(/service mosquitto stop/);
  });

  it('root + install does not help + CI: throws', () => {
    expect(() =>
      ensureDebianPackages({ which: fakeWhich(without('coap-server-openssl')), isRoot: true, ci: true, run: recorder().run, log: () => {}, warn: () => {} }),
    ).toThrow(/libcoap3-bin.*even after apt-get install/);
  });

  it('nothing missing: runs nothing', () => {
    const { calls, run } = recorder();
    expect(ensureDebianPackages({ which: fakeWhich(ALL), isRoot: true, ci: true, run }).missing).toEqual([]);
    expect(calls).toEqual([]);
  });

  it('isCi', () => {
    expect(isCi({ CI: 'true' })).toBe(true);
    expect(isCi({ CI: '1' })).toBe(true);
    expect(isCi({})).toBe(false);
    expect(isCi({ CI: 'false' })).toBe(false);
  });
});
