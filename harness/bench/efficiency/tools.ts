// The Debian packages the load-generator comparisons run beside Gauntlet
// (wrk, Mosquitto and its clients, libcoap's server): found on PATH, or
// installed with apt-get when `npm run bench` runs as root (as CI does);
// otherwise one loud notice names the packages and the rows that need them
// say they were skipped.

import { spawnSync } from 'node:child_process';
import { which } from '../../../targets/interop/which.js';
import { createScopeGuard } from '../../core/scope.js';
import { DISCARD_TRANSCRIPT } from '../../core/transcript.js';
import type { Io } from '../../protocols/common/io.js';

/** The Io a comparison drives its local server with: only `host` in scope, nothing transcribed. */
export function localIo(host: string, peer: string, timeoutMs: number): Io {
  return { scope: createScopeGuard({ source: 'bench efficiency', scope: { hosts: [host], allowNonLoopback: false } }), transcript: DISCARD_TRANSCRIPT, timeoutMs, peer };
}

export const BENCH_PACKAGES: readonly { readonly name: string; readonly binaries: readonly string[] }[] = [
  { name: 'wrk', binaries: ['wrk'] },
  { name: 'mosquitto', binaries: ['mosquitto'] },
  { name: 'mosquitto-clients', binaries: ['mosquitto_pub'] },
  { name: 'libcoap3-bin', binaries: ['coap-server-notls'] },
];

export function missingBenchPackages(): string[] {
  return BENCH_PACKAGES.filter((p) => p.binaries.some((b) => !which(b))).map((p) => p.name);
}

/** Installs what is missing when root; returns what is still missing, after saying so. */
export function ensureBenchPackages(log: (line: string) => void): string[] {
  let missing = missingBenchPackages();
  if (missing.length === 0) return missing;
  if (process.getuid?.() === 0) {
    log(`installing Debian packages for the comparisons: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env, timeout: 300_000 });
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env, timeout: 600_000 });
    missing = missingBenchPackages();
  }
  if (missing.length) {
    log(`!!! missing Debian packages: ${missing.join(' ')}. The rows that need them are skipped.`);
    log(`!!! install them with: sudo apt-get install -y ${missing.join(' ')}`);
  }
  return missing;
}
