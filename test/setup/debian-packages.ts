// debian-packages.ts — detect (and, as root, install) the Debian packages the
// interop suites need: `mosquitto` (Eclipse Mosquitto broker + mosquitto_passwd)
// and `libcoap3-bin` (libcoap's example CoAP client/servers). Used by
// test/setup/global-setup.ts; everything environment-dependent is injectable
// so the decision logic can be unit-tested.
import { spawnSync } from 'node:child_process';

import { which as realWhich } from '../../targets/interop/which.js';

/** What the interop suites get through `inject('interop')`. Paths are absolute; null = not available. */
export interface InteropTools {
  mosquitto: string | null;
  mosquittoPasswd: string | null;
  coapServerNotls: string | null;
  coapServerOpenssl: string | null;
  coapClientNotls: string | null;
  coapClientOpenssl: string | null;
  /** OpenSSL's command line tool: s_client / s_server for DTLS interop. */
  openssl: string | null;
  /** Debian packages that are (still) missing, e.g. ['libcoap3-bin']. */
  missing: string[];
}

type ToolKey = Exclude<keyof InteropTools, 'missing'>;

export interface DebianPackage {
  name: string;
  /** InteropTools field -> executable name. */
  binaries: Partial<Record<ToolKey, string>>;
}

export const DEBIAN_PACKAGES: readonly DebianPackage[] = [
  { name: 'mosquitto', binaries: { mosquitto: 'mosquitto', mosquittoPasswd: 'mosquitto_passwd' } },
  {
    name: 'libcoap3-bin',
    binaries: {
      coapServerNotls: 'coap-server-notls',
      coapServerOpenssl: 'coap-server-openssl',
      coapClientNotls: 'coap-client-notls',
      coapClientOpenssl: 'coap-client-openssl',
    },
  },
  { name: 'openssl', binaries: { openssl: 'openssl' } },
];

export const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive' } as const;

/** The commands a human should run (shown in the non-root notice). */
export function aptCommandFor(packages: readonly string[]): string {
  return `sudo apt-get update && sudo apt-get install -y ${packages.join(' ')}`;
}

export type Which = (name: string) => string | null;

/** Look the binaries up; a package is missing if any of its binaries is. */
export function detectInteropTools(which: Which = realWhich): InteropTools {
  const tools: InteropTools = {
    mosquitto: null,
    mosquittoPasswd: null,
    coapServerNotls: null,
    coapServerOpenssl: null,
    coapClientNotls: null,
    coapClientOpenssl: null,
    openssl: null,
    missing: [],
  };
  for (const pkg of DEBIAN_PACKAGES) {
    let complete = true;
    for (const [key, exe] of Object.entries(pkg.binaries) as [ToolKey, string][]) {
      const found = which(exe);
      tools[key] = found;
      if (!found) complete = false;
    }
    if (!complete) tools.missing.push(pkg.name);
  }
  return tools;
}

export interface CommandResult {
  status: number | null;
  /** Combined output when captured; '' when it went straight to the terminal. */
  output: string;
}
export type RunCommand = (cmd: string, args: readonly string[], env: Record<string, string>) => CommandResult;

/** Runs a command with output on this process's stdout/stderr (so apt-get's progress is visible). */
export const runInherited: RunCommand = (cmd, args, env) => {
  const r = spawnSync(cmd, [...args], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
  if (r.error) return { status: null, output: r.error.message };
  return { status: r.status, output: '' };
};

export interface EnsureOptions {
  which?: Which;
  /** Default: process.getuid?.() === 0. */
  isRoot?: boolean;
  /** Default: process.env.CI is 'true' or '1'. */
  ci?: boolean;
  run?: RunCommand;
  log?: (line: string) => void;
  warn?: (text: string) => void;
}

export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env['CI'] ?? '').toLowerCase();
  return v === 'true' || v === '1';
}

export function loudNotice(missing: readonly string[], ci = false): string {
  const bar = '!'.repeat(78);
  return [
    '',
    bar,
    ci
      ? '!!  CI=true: INTEROP SUITES CANNOT RUN (this fails the run): missing Debian package(s)'
      : '!!  INTEROP SUITES WILL BE SKIPPED: missing Debian package(s)',
    `!!      ${missing.join(', ')}`,
    '!!  Not running as root, so Gauntlet cannot install them itself. Run:',
    `!!      ${aptCommandFor(missing)}`,
    ci ? '!!  (or run the tests as root, which installs them)' : '!!  (With CI=true a missing package fails the run instead of skipping.)',
    bar,
    '',
  ].join('\n');
}

/**
 * Detect the packages; as root, apt-get install whatever is missing; otherwise
 * print a loud notice. With CI=true anything still missing is an error (the
 * interop suites must run in CI, never silently skip).
 */
export function ensureDebianPackages(opts: EnsureOptions = {}): InteropTools {
  const which = opts.which ?? realWhich;
  const isRoot = opts.isRoot ?? process.getuid?.() === 0;
  const ci = opts.ci ?? isCi();
  const run = opts.run ?? runInherited;
  const log = opts.log ?? ((line: string) => console.log(line));
  const warn = opts.warn ?? ((text: string) => console.error(text));

  let tools = detectInteropTools(which);
  if (tools.missing.length > 0) {
    if (isRoot) {
      const missing = [...tools.missing];
      log(`[gauntlet setup] missing Debian package(s): ${missing.join(', ')}; installing with apt-get (running as root)`);
      const steps: [string, string[]][] = [
        ['apt-get', ['-q', 'update']],
        ['apt-get', ['-q', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=120', 'install', ...missing]],
      ];
      for (const [cmd, args] of steps) {
        log(`[gauntlet setup] $ DEBIAN_FRONTEND=noninteractive ${cmd} ${args.join(' ')}`);
        const r = run(cmd, args, { ...APT_ENV });
        if (r.status !== 0) {
          warn(`[gauntlet setup] ${cmd} ${args.join(' ')} failed (status ${r.status})${r.output ? `:\n${r.output}` : ''}`);
          break;
        }
      }
      if (missing.includes('mosquitto')) {
        // The package may start a system broker on :1883. Tests use free ports,
        // but do not leave it running. No systemd in containers: failures are fine.
        run('sh', ['-c', 'service mosquitto stop >/dev/null 2>&1; update-rc.d mosquitto disable >/dev/null 2>&1; true'], {});
      }
      tools = detectInteropTools(which);
      if (tools.missing.length === 0) log(`[gauntlet setup] installed: ${missing.join(', ')}`);
    } else {
      warn(loudNotice(tools.missing, ci));
    }
  }
  if (ci && tools.missing.length > 0) {
    throw new Error(
      `CI=true but Debian package(s) ${tools.missing.join(', ')} are missing` +
        `${isRoot ? ' even after apt-get install' : ' (not root, so not installed)'}; ` +
        `the interop suites must not be skipped in CI. Install with: ${aptCommandFor(tools.missing)}`,
    );
  }
  return tools;
}
