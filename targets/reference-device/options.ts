// Options of startReferenceDevice and their resolution: defaults, per-unit
// random credentials and identity (as a real production line would assign),
// and validation with USAGE errors naming the bad field.

import { randomBytes, randomInt } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import { GauntletError } from '../../harness/core/errors.js';
import { FLAWS, isFlaw, type Flaw } from './flaws.js';

export interface DeviceOptions {
  /** Address every interface binds to; default '127.0.0.1'. */
  host?: string;
  /**
   * Ports; 0 (the default) picks a free port. `debug` is the debug-port flaw's
   * shell, only opened with that flaw: default 2323 (the port scanners probe).
   */
  ports?: { mqtt?: number; mqtts?: number; coap?: number; coaps?: number; http?: number; https?: number; debug?: number };
  flaws?: readonly Flaw[];
  /** Whether the admin account still has the shipped password; default true. */
  factoryFresh?: boolean;
  /** How long the watchdog waits before restarting a crashed service, ms; default 1500. */
  rebootMs?: number;
  /** How long a wedged service (mqtt-hang-qos2) stays wedged before its watchdog restarts it, ms; default 5000. */
  hangMs?: number;
  /** Default {attempts: 5, windowMs: 1000, durationMs: 1000}. */
  lockout?: { attempts: number; windowMs: number; durationMs: number };
  /** Default: random per unit (passwords 16 base64url characters each; DTLS PSKs 16 random bytes, hex). */
  credentials?: { adminPass?: string; sensorPass?: string; shippedPass?: string; adminPskHex?: string; sensorPskHex?: string };
  /** Default: vendor 'Gauntlet', model 'RD-1', serial 'RD1-' + 6 random digits, a random locally administered MAC. */
  identity?: { vendor?: string; model?: string; serial?: string; mac?: string };
  /**
   * What a robustness fault (robustness-flaws.ts) does. 'watchdog' (the
   * default): the service crashes or wedges and its in-process watchdog brings
   * it back after rebootMs / hangMs (watchdog.ts). 'process': the unit is its
   * own process (child.ts, started by startReferenceDeviceProcess): a crash
   * writes its reason to stderr and ends the whole Node process with exit code
   * 70, and a hang wedges the service for good, until whoever runs the process
   * restarts it. Never use 'process' in a process that must survive the unit.
   */
  faults?: 'watchdog' | 'process';
  /**
   * A directory that keeps the unit's key material across starts (the flash of
   * a real unit): the firmware signing key and vendor images, the update CA,
   * and the device CA with the mqtts/https server certificate and key. A start
   * loads what an earlier start with the same directory wrote, and writes what
   * is missing; close() leaves the directory alone (its owner removes it).
   * Default: none; every start makes fresh material in a temp dir close()
   * removes.
   */
  materialDir?: string;
  /** Event log of the device (logins, lockouts, password changes), one line per event. */
  log?: (line: string) => void;
}

export interface ResolvedOptions {
  readonly host: string;
  readonly ports: {
    readonly mqtt: number;
    readonly mqtts: number;
    readonly coap: number;
    readonly coaps: number;
    readonly http: number;
    readonly https: number;
    readonly debug: number;
  };
  readonly flaws: readonly Flaw[];
  readonly factoryFresh: boolean;
  readonly rebootMs: number;
  readonly hangMs: number;
  readonly lockout: { readonly attempts: number; readonly windowMs: number; readonly durationMs: number };
  readonly credentials: {
    readonly adminPass: string;
    readonly sensorPass: string;
    readonly shippedPass: string;
    readonly adminPskHex: string;
    readonly sensorPskHex: string;
  };
  readonly identity: { readonly vendor: string; readonly model: string; readonly serial: string; readonly mac: string };
  readonly faults: 'watchdog' | 'process';
  /** Absolute path, or undefined for fresh material per start. */
  readonly materialDir: string | undefined;
  readonly log: (line: string) => void;
}

export const DEFAULT_LOCKOUT = Object.freeze({ attempts: 5, windowMs: 1000, durationMs: 1000 });

const MAC = /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i;

function usage(message: string): GauntletError {
  return new GauntletError('USAGE', `reference device: ${message}`);
}

/** A random password of 16 base64url characters. */
export function randomPassword(): string {
  return randomBytes(12).toString('base64url');
}

/** A random locally administered, unicast MAC: 02:xx:xx:xx:xx:xx. */
export function randomMac(): string {
  return ['02', ...[...randomBytes(5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

export function randomSerial(): string {
  return `RD1-${String(randomInt(0, 1_000_000)).padStart(6, '0')}`;
}

function pskHex(name: string, value: string | undefined): string {
  if (value === undefined) return randomBytes(16).toString('hex');
  if (typeof value !== 'string' || !/^([0-9a-f]{2}){1,64}$/i.test(value)) throw usage(`credentials.${name}: expected 1 to 64 bytes as hex`);
  return value.toLowerCase();
}

function millis(name: string, value: number | undefined, fallback: number): number {
  const ms = value ?? fallback;
  if (!Number.isInteger(ms) || ms < 0 || ms > 60_000) throw usage(`${name}: expected an integer from 0 to 60000 (got ${String(value)})`);
  return ms;
}

function port(name: string, value: number | undefined): number {
  const p = value ?? 0;
  if (!Number.isInteger(p) || p < 0 || p > 65_535) throw usage(`ports.${name}: expected an integer from 0 to 65535 (got ${String(value)})`);
  return p;
}

function password(name: string, value: string | undefined): string {
  if (value === undefined) return randomPassword();
  if (typeof value !== 'string' || value.length === 0) throw usage(`credentials.${name}: expected a non-empty string`);
  return value;
}

export function resolveOptions(opts: DeviceOptions = {}): ResolvedOptions {
  const flaws: Flaw[] = [];
  for (const f of opts.flaws ?? []) {
    if (!isFlaw(f)) throw new GauntletError('USAGE', `unknown flaw "${String(f)}"; known: ${FLAWS.join(', ')}`);
    if (!flaws.includes(f)) flaws.push(f);
  }
  const lockout = { ...DEFAULT_LOCKOUT, ...opts.lockout };
  if (!Number.isInteger(lockout.attempts) || lockout.attempts < 1) throw usage('lockout.attempts: expected an integer of at least 1');
  if (!Number.isFinite(lockout.windowMs) || lockout.windowMs <= 0) throw usage('lockout.windowMs: expected a positive number of ms');
  if (!Number.isFinite(lockout.durationMs) || lockout.durationMs <= 0) throw usage('lockout.durationMs: expected a positive number of ms');

  const mac = opts.identity?.mac ?? randomMac();
  if (!MAC.test(mac)) throw usage(`identity.mac: expected a MAC like 02:00:5e:10:00:01 (got "${mac}")`);

  // The firmware image names the product in two 16-byte ASCII fields.
  const vendor = opts.identity?.vendor ?? 'Gauntlet';
  const model = opts.identity?.model ?? 'RD-1';
  for (const [name, value] of [['vendor', vendor], ['model', model]] as const) {
    if (typeof value !== 'string' || !/^[\x20-\x7e]{1,16}$/.test(value)) {
      throw usage(`identity.${name}: expected 1 to 16 printable ASCII characters (the firmware image field; got ${JSON.stringify(value)})`);
    }
  }

  const host = opts.host ?? '127.0.0.1';
  if (host.length === 0) throw usage('host: expected an address');

  const faults = opts.faults ?? 'watchdog';
  if (faults !== 'watchdog' && faults !== 'process') throw usage(`faults: expected "watchdog" or "process" (got ${JSON.stringify(faults)})`);
  if (opts.materialDir !== undefined && (typeof opts.materialDir !== 'string' || opts.materialDir.length === 0)) {
    throw usage(`materialDir: expected a directory path (got ${JSON.stringify(opts.materialDir)})`);
  }

  return {
    host,
    ports: {
      mqtt: port('mqtt', opts.ports?.mqtt),
      mqtts: port('mqtts', opts.ports?.mqtts),
      coap: port('coap', opts.ports?.coap),
      coaps: port('coaps', opts.ports?.coaps),
      http: port('http', opts.ports?.http),
      https: port('https', opts.ports?.https),
      debug: port('debug', opts.ports?.debug ?? 0),
    },
    flaws,
    factoryFresh: opts.factoryFresh ?? true,
    rebootMs: millis('rebootMs', opts.rebootMs, 1500),
    hangMs: millis('hangMs', opts.hangMs, 5000),
    lockout,
    credentials: {
      adminPass: password('adminPass', opts.credentials?.adminPass),
      sensorPass: password('sensorPass', opts.credentials?.sensorPass),
      shippedPass: password('shippedPass', opts.credentials?.shippedPass),
      adminPskHex: pskHex('adminPskHex', opts.credentials?.adminPskHex),
      sensorPskHex: pskHex('sensorPskHex', opts.credentials?.sensorPskHex),
    },
    identity: {
      vendor,
      model,
      serial: opts.identity?.serial ?? randomSerial(),
      mac: mac.toLowerCase().replace(/-/g, ':'),
    },
    faults,
    materialDir: opts.materialDir === undefined ? undefined : resolvePath(opts.materialDir),
    log: opts.log ?? (() => {}),
  };
}
