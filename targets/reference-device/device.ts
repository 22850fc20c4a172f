// startReferenceDevice: wires one unit together (shared account store and
// lockout, device state, HTTP sessions, firmware slot and its vendor images,
// update CA and device CA, MQTT broker also over TLS, CoAP server, HTTP API
// also over TLS, and the debug-port flaw's shell) on free ports, and the
// RunningDevice handle the harness and tests drive it through. The MQTT and
// HTTP services share one connection gate (connection-gate.ts): the unit's
// TCP connection slots and the HTTP API's request readers.
//
// With options.materialDir the unit's key material (firmware signing key and
// images, update CA, device CA and server certificate) lives in that
// directory and a later start loads it: what a unit restarted in its own
// process (process.ts) needs so its target file stays true. Everything else
// is RAM and gone with the unit: a restarted unit boots fresh (MQTT and HTTP
// sessions, lockout counters, a changed password, the installed firmware
// version), as a real unit without persistent settings would.

import { mkdirSync } from 'node:fs';
import { GauntletError } from '../../harness/core/errors.js';
import type { TargetFileInput } from '../../harness/core/target-file.js';
import { Accounts } from './accounts.js';
import { ConnectionGate } from './connection-gate.js';
import { startCoapServer } from './coap-server.js';
import { ADMIN_PSK_IDENTITY, SENSOR_PSK_IDENTITY, startCoapsServer, type PskAccount } from './coaps-server.js';
import { startDebugShell } from './debug-shell.js';
import { freeTcpPort } from './sockets.js';
import { DeviceState } from './device-state.js';
import { Firmware, loadOrCreateSigningKey, removeImages, type VendorImages } from './firmware.js';
import type { Flaw } from './flaws.js';
import { startHttpApi } from './http-api.js';
import { Lockout } from './lockout.js';
import { startMqttBroker } from './mqtt-broker.js';
import { resolveOptions, type DeviceOptions, type ResolvedOptions } from './options.js';
import { Sessions } from './sessions.js';
import type { Fault } from './robustness-flaws.js';
import { Supervised, crashProcess, type Service } from './watchdog.js';
import type { RunningCoap } from './coap-server.js';
import { describeUnit } from './target-description.js';
import { loadOrWriteDeviceTls, serverTlsOptions, writeDeviceTls, type DeviceTls } from './tls.js';
import { PullUpdater, UPDATE_TOPIC, loadOrWriteUpdateCa, writeUpdateCa, type UpdateCa } from './update-pull.js';

/** A service with a plain and a TLS port (MQTT, HTTP). */
interface DualService extends Service {
  readonly port: number;
  readonly tlsPort: number;
}

export interface RunningDevice {
  readonly endpoints: {
    /** The plain MQTT port: every CONNECT refused (5), unless the plaintext-credentials flaw is on. */
    readonly mqtt: { readonly host: string; readonly port: number };
    /** The same broker over TLS (server certificate issued by deviceCa); the only port that accepts credentials. */
    readonly mqtts: { readonly host: string; readonly port: number; readonly tls: true };
    readonly coap: { readonly host: string; readonly port: number };
    readonly coaps: { readonly host: string; readonly port: number };
    /** The plain HTTP port: GET /api/health, everything else 308 to https, unless the plaintext-credentials flaw is on. */
    readonly http: { readonly host: string; readonly port: number };
    /** The same HTTP API over TLS (server certificate issued by deviceCa); the only port that accepts credentials. */
    readonly https: { readonly host: string; readonly port: number; readonly tls: true };
  };
  readonly flaws: readonly Flaw[];
  readonly credentials: {
    readonly admin: { readonly user: 'admin'; readonly pass: string };
    readonly sensor: { readonly user: 'sensor-1'; readonly pass: string };
    readonly shipped: { readonly user: 'admin'; readonly pass: string };
    /** DTLS PSK identities of coaps (keys as hex). */
    readonly psk: { readonly admin: { readonly identity: string; readonly keyHex: string }; readonly sensor: { readonly identity: string; readonly keyHex: string } };
  };
  readonly identity: { readonly vendor: string; readonly model: string; readonly serial: string; readonly mac: string };
  readonly lockout: { readonly attempts: number; readonly windowMs: number; readonly durationMs: number };
  /**
   * The unit's two vendor firmware images (absolute paths, in a temp dir that
   * close() removes, or in options.materialDir, which it keeps): `newer` is
   * 2.0.0, `older` 0.9.0, both validly signed with the unit's own test key
   * (the unit runs 1.0.0 at start).
   */
  readonly images: { readonly newer: string; readonly older: string; readonly dir: string };
  /**
   * The unit's test update CA (absolute paths of ca.pem and ca-key.pem, PEM,
   * in the images dir): the only CA it trusts when it pulls an update.
   */
  readonly updateCa: { readonly cert: string; readonly key: string };
  /**
   * The unit's device CA (absolute path of device-ca.pem, in the images dir):
   * the issuer of the server certificate of mqtts and https (EC P-256, for the
   * unit's host), what a client trusts to verify them. Its key is not kept.
   */
  readonly deviceCa: { readonly cert: string };
  /** Whether the admin account still has the shipped password and must change it. */
  isFactoryFresh(): boolean;
  /** The target file (gauntlet-target/1) describing this unit, as a plain object. */
  targetFile(): TargetFileInput;
  /** Closes every socket and server; idempotent. */
  close(): Promise<void>;
}

export async function startReferenceDevice(options: DeviceOptions = {}): Promise<RunningDevice> {
  const o = resolveOptions(options);
  const flaws: ReadonlySet<Flaw> = new Set(o.flaws);
  const log = (line: string): void => {
    try {
      o.log(line);
    } catch {
      // a broken log sink must not take the device down
    }
  };
  const lockout = new Lockout(o.lockout, !flaws.has('no-lockout'));
  const accounts = new Accounts({ ...o.credentials, factoryFresh: o.factoryFresh, flaws, mac: o.identity.mac, lockout, log });
  const state = new DeviceState();
  const sessions = new Sessions();
  const materialDir = o.materialDir;
  let firmware: Firmware;
  try {
    if (materialDir !== undefined) mkdirSync(materialDir, { recursive: true, mode: 0o700 });
    const signingKey = materialDir === undefined ? undefined : loadOrCreateSigningKey(materialDir);
    firmware = new Firmware({ flaws, vendor: o.identity.vendor, model: o.identity.model, log, ...(signingKey ? { signingKey } : {}) });
  } catch (e) {
    throw new GauntletError('DEVICE_START', `reference device: could not load or write the firmware signing key in ${materialDir}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }

  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled(closers.map((c) => c()));
  };
  const start = async <T extends { close(): Promise<void> }>(what: string, port: number, run: () => Promise<T>): Promise<T> => {
    try {
      const s = await run();
      closers.push(() => s.close());
      return s;
    } catch (e) {
      await closeAll();
      const why = e instanceof Error ? e.message : String(e);
      throw new GauntletError('DEVICE_START', `reference device: ${what} could not listen on ${o.host}:${port}: ${why}`, { cause: e });
    }
  };

  let images: VendorImages;
  try {
    images = firmware.writeImages(materialDir);
  } catch (e) {
    throw new GauntletError('DEVICE_START', `reference device: could not write the firmware images: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  // A material dir belongs to whoever named it (it outlives this start).
  if (materialDir === undefined) closers.push(async () => removeImages(images));
  const material = <T>(what: string, making: Promise<T>): Promise<T> =>
    making.catch((e: unknown) => {
      throw new GauntletError('DEVICE_START', `reference device: could not write the ${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    });
  // Both settle before the images dir may be removed again.
  const subject = { host: o.host, vendor: o.identity.vendor, model: o.identity.model, serial: o.identity.serial };
  const [caMade, tlsMade] = await Promise.allSettled([
    material('update CA', materialDir === undefined ? writeUpdateCa(images.dir) : loadOrWriteUpdateCa(materialDir)),
    material('device CA', materialDir === undefined ? writeDeviceTls(images.dir, subject) : loadOrWriteDeviceTls(materialDir, subject)),
  ]);
  if (caMade.status === 'rejected' || tlsMade.status === 'rejected') {
    await closeAll();
    throw caMade.status === 'rejected' ? caMade.reason : (tlsMade as PromiseRejectedResult).reason;
  }
  const ca: UpdateCa = caMade.value;
  const deviceTls: DeviceTls = tlsMade.value;
  const legacyTls = flaws.has('tls-legacy-version');
  const tlsOptions = serverTlsOptions(deviceTls, legacyTls);
  const puller = new PullUpdater({ host: o.host, flaws, firmware, caPem: ca.certPem, log });
  closers.push(async () => puller.close());
  // One budget of TCP connections for the whole unit, across service restarts.
  const gate = new ConnectionGate({ flaws, log });
  closers.push(async () => gate.close());

  // MQTT (plain and TLS), plain CoAP and HTTP (plain and TLS) run supervised: a
  // robustness flaw crashes or wedges the service and the watchdog restarts it
  // on the same ports (watchdog.ts). With faults 'process' there is no
  // watchdog: a crash ends the process, a hang lasts until it is restarted.
  const faultTo = (svc: () => Supervised<Service> | undefined) => (f: Fault) => {
    const s = svc();
    if (o.faults === 'process') {
      if (f.kind === 'crash') {
        log(`${s?.name ?? 'service'}: crashed (${f.reason}); the unit process ends`);
        crashProcess(s?.name ?? 'service', f.reason);
      }
      return s?.hang(f.reason, undefined);
    }
    return f.kind === 'crash' ? s?.crash(f.reason) : s?.hang(f.reason, o.hangMs);
  };
  let mqttSvc: Supervised<DualService> | undefined;
  const startMqtt = async (ports: { mqtt: number; mqtts: number }): Promise<DualService> => {
    const broker = await startMqttBroker({
      host: o.host,
      port: ports.mqtt,
      accounts,
      flaws,
      state,
      log,
      onPublish: (topic, payload, who) => {
        if (topic === UPDATE_TOPIC) puller.command(payload, who);
      },
      onFault: faultTo(() => mqttSvc),
      isHung: () => mqttSvc?.state === 'hung',
      gate,
    });
    try {
      const tls = await broker.listenTls(ports.mqtts, tlsOptions);
      return { port: broker.port, tlsPort: tls.port, close: () => broker.close() };
    } catch (e) {
      await broker.close();
      throw new Error(`MQTT over TLS on port ${ports.mqtts}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  };
  mqttSvc = await start('MQTT', o.ports.mqtt, () =>
    Supervised.start('mqtt', () => startMqtt(o.ports), (first) => () => startMqtt({ mqtt: first.port, mqtts: first.tlsPort }), o.rebootMs, log),
  );
  const mqtt = mqttSvc.service;
  const mqtts = { port: mqtt.tlsPort };
  let coapSvc: Supervised<RunningCoap> | undefined;
  const startCoap = (port: number) =>
    startCoapServer({ host: o.host, port, flaws, state, log, sessions, firmware, firmwareVersion: () => firmware.lastInstalled(), onFault: faultTo(() => coapSvc) });
  coapSvc = await start('CoAP', o.ports.coap, () => Supervised.start('coap', () => startCoap(o.ports.coap), (first) => () => startCoap(first.port), o.rebootMs, log));
  const coap = coapSvc.service;
  const identities = new Map<string, PskAccount>([
    [ADMIN_PSK_IDENTITY, { key: Buffer.from(o.credentials.adminPskHex, 'hex'), role: 'admin' }],
    [SENSOR_PSK_IDENTITY, { key: Buffer.from(o.credentials.sensorPskHex, 'hex'), role: 'device' }],
  ]);
  const coaps = await start('CoAP over DTLS', o.ports.coaps, () => startCoapsServer({ host: o.host, port: o.ports.coaps, flaws, state, firmware, identities, log, ...(o.faults === 'process' ? { onCrash: (r: string) => crashProcess('coaps', r) } : {}) }));
  let httpSvc: Supervised<DualService> | undefined;
  const startHttp = async (ports: { http: number; https: number }): Promise<DualService> => {
    const api = await startHttpApi({ host: o.host, port: ports.http, accounts, flaws, state, serial: o.identity.serial, log, sessions, firmware, onFault: faultTo(() => httpSvc), gate });
    try {
      const tls = await api.listenTls(ports.https, tlsOptions);
      return { port: api.port, tlsPort: tls.port, close: () => api.close() };
    } catch (e) {
      await api.close();
      throw new Error(`HTTPS on port ${ports.https}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  };
  httpSvc = await start('HTTP', o.ports.http, () =>
    Supervised.start('http', () => startHttp(o.ports), (first) => () => startHttp({ http: first.port, https: first.tlsPort }), o.rebootMs, log),
  );
  const http = httpSvc.service;
  const https = { port: http.tlsPort };
  // The debug-port flaw: the shell must really be there, so a taken port fails the start (never skipped).
  const debug = flaws.has('debug-port')
    ? await start('debug shell', o.ports.debug, () => startDebugShell({ host: o.host, port: o.ports.debug, log }))
    : undefined;
  // Every unit names a diagnostics port in its scan list (scope.probe), flawed or not:
  // only the flawed one listens there. A free number, so parallel units never collide.
  const debugPort = debug?.port ?? (o.ports.debug || (await freeTcpPort(o.host)));
  log(
    `started ${o.identity.model} ${o.identity.serial} (${o.factoryFresh ? 'factory-fresh' : 'provisioned'}) ` +
      `mqtt ${mqtt.port} mqtts ${mqtts.port} coap ${coap.port} coaps ${coaps.port} http ${http.port} https ${https.port}${debug ? ` debug ${debug.port}` : ''}` +
      `; flaws: ${o.flaws.length ? o.flaws.join(', ') : 'none'}`,
  );

  const ports = { mqtt: mqtt.port, mqtts: mqtts.port, coap: coap.port, coaps: coaps.port, http: http.port, https: https.port, debug: debugPort };
  let closing: Promise<void> | undefined;
  return {
    ...unitFacts(o, ports, { images, updateCa: { cert: ca.cert, key: ca.key }, deviceCa: { cert: deviceTls.caCert } }),
    isFactoryFresh: () => accounts.isFactoryFresh(),
    close() {
      closing ??= closeAll().then(() => log('stopped'));
      return closing;
    },
  };
}

/** What a unit's handle says about it: the same for an in-process unit and a child process (process.ts). */
export type UnitFacts = Pick<RunningDevice, 'endpoints' | 'flaws' | 'credentials' | 'identity' | 'lockout' | 'images' | 'updateCa' | 'deviceCa' | 'targetFile'>;

/** A unit's facts from its resolved options, the ports it listens on and its key material. */
export function unitFacts(o: ResolvedOptions, ports: ResolvedOptions['ports'], m: Pick<RunningDevice, 'images' | 'updateCa' | 'deviceCa'>): UnitFacts {
  return {
    endpoints: {
      mqtt: { host: o.host, port: ports.mqtt },
      mqtts: { host: o.host, port: ports.mqtts, tls: true },
      coap: { host: o.host, port: ports.coap },
      coaps: { host: o.host, port: ports.coaps },
      http: { host: o.host, port: ports.http },
      https: { host: o.host, port: ports.https, tls: true },
    },
    flaws: Object.freeze([...o.flaws]),
    credentials: {
      admin: { user: 'admin', pass: o.credentials.adminPass },
      sensor: { user: 'sensor-1', pass: o.credentials.sensorPass },
      shipped: { user: 'admin', pass: o.credentials.shippedPass },
      psk: {
        admin: { identity: ADMIN_PSK_IDENTITY, keyHex: o.credentials.adminPskHex },
        sensor: { identity: SENSOR_PSK_IDENTITY, keyHex: o.credentials.sensorPskHex },
      },
    },
    identity: { ...o.identity },
    lockout: { ...o.lockout },
    images: { ...m.images },
    updateCa: { ...m.updateCa },
    deviceCa: { ...m.deviceCa },
    targetFile: () =>
      describeUnit({
        host: o.host,
        ports,
        identity: o.identity,
        credentials: o.credentials,
        lockout: o.lockout,
        factoryFresh: o.factoryFresh,
        images: { newer: m.images.newer, older: m.images.older },
        updateCa: { cert: m.updateCa.cert, key: m.updateCa.key },
        deviceCa: m.deviceCa.cert,
      }),
  };
}
