// The target file (gauntlet-target/1) a running unit hands to the harness:
// where its interfaces are, the principals the lab was given, and the
// manufacturer's declaration (with the update mechanism: the HTTPS upload, the
// block-wise PUT over coaps and the MQTT-triggered HTTPS pull, the paths of the
// unit's vendor images and of its test update CA). The declaration always
// describes the HARDENED device, whatever flaws are on: flaws are what the
// checks must find.
//
// Credentials travel over TLS and DTLS only: the interfaces the checks log in
// on are mqtts, https and coaps. The plain MQTT and HTTP ports are declared
// (declaration.interfaces) but are not interfaces of the target file: they
// carry no credentials (MQTT refuses every CONNECT there, HTTP serves
// /api/health and redirects the rest to https), which transport.plaintext
// verifies. Plain CoAP serves the public sensor readings and discovery.

import type { TargetFileInput } from '../../harness/core/target-file.js';
import { COAP_RESOURCES } from './coap-server.js';
import { ADMIN_PSK_IDENTITY, DECLARED_SUITES, FIRMWARE_RESOURCE, SENSOR_PSK_IDENTITY } from './coaps-server.js';
import { MAX_IMAGE_BYTES, NEWER_VERSION, OLDER_VERSION } from './firmware.js';
import type { ResolvedOptions } from './options.js';
import { MANIFEST_BYTES, SIGNATURE_BYTES, FIELD } from './firmware-image.js';
import { UPDATE_TOPIC } from './update-pull.js';

export interface DescribedUnit {
  readonly host: string;
  /** The ports the unit listens on (bound, never 0). */
  readonly ports: ResolvedOptions['ports'];
  readonly identity: { readonly vendor: string; readonly model: string; readonly serial: string; readonly mac: string };
  readonly credentials: { readonly adminPass: string; readonly sensorPass: string; readonly shippedPass: string; readonly adminPskHex: string; readonly sensorPskHex: string };
  readonly lockout: { readonly attempts: number; readonly windowMs: number; readonly durationMs: number };
  /** The first-use state the unit was started in. */
  readonly factoryFresh: boolean;
  /** Absolute paths of the unit's vendor images. */
  readonly images: { readonly newer: string; readonly older: string };
  /** Absolute paths of the unit's test update CA (certificate and key, PEM). */
  readonly updateCa: { readonly cert: string; readonly key: string };
  /** Absolute path of the unit's device CA certificate (the issuer of its mqtts/https certificate). */
  readonly deviceCa: string;
}

/** A host as it appears in a URL: IPv6 literals in brackets. */
export function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function describeUnit(u: DescribedUnit): TargetFileInput {
  const h = urlHost(u.host);
  return {
    format: 'gauntlet-target/1',
    name: 'reference-device',
    // The lab scans the device's diagnostics port too (free, so units never collide).
    // The device shares 127.0.0.1 with its host, so the lab scans the device's own
    // ports (and its diagnostics port), not the host's usual IoT ports.
    scope: { hosts: [u.host], probe: { tcp: [u.ports.debug], udp: [], usual: false } },
    identity: { ...u.identity },
    interfaces: [
      { id: 'mqtts', protocol: 'mqtts', role: 'server', url: `mqtts://${h}:${u.ports.mqtts}`, version: 4, tls: { ca: u.deviceCa } },
      { id: 'coap', protocol: 'coap', role: 'server', url: `coap://${h}:${u.ports.coap}` },
      { id: 'coaps', protocol: 'coaps', role: 'server', url: `coaps://${h}:${u.ports.coaps}` },
      {
        id: 'https',
        protocol: 'https',
        role: 'server',
        url: `https://${h}:${u.ports.https}`,
        tls: { ca: u.deviceCa },
        probe: '/api/health',
        protected: '/api/config',
        auth: {
          kind: 'json',
          method: 'POST',
          path: '/api/login',
          body: { username: '{user}', password: '{pass}' },
          token: '$.token',
          header: { name: 'Authorization', value: 'Bearer {token}' },
        },
      },
    ],
    principals: {
      admin: { user: 'admin', pass: u.credentials.adminPass, role: 'admin', psk: { identity: ADMIN_PSK_IDENTITY, keyHex: u.credentials.adminPskHex } },
      sensor: { user: 'sensor-1', pass: u.credentials.sensorPass, role: 'device', psk: { identity: SENSOR_PSK_IDENTITY, keyHex: u.credentials.sensorPskHex } },
    },
    declaration: {
      lockout: { attempts: u.lockout.attempts, window: `${u.lockout.windowMs}ms`, duration: `${u.lockout.durationMs}ms` },
      firstUse: {
        state: u.factoryFresh ? 'factory-fresh' : 'provisioned',
        shipped: { user: 'admin', pass: u.credentials.shippedPass },
        change: {
          via: 'https',
          method: 'POST',
          path: '/api/password',
          body: { username: '{user}', password: '{pass}', newPassword: '{new}' },
          provisionAs: 'admin',
        },
      },
      access: {
        mqtt: {
          anonymous: false,
          rules: {
            admin: { publish: ['#'], subscribe: ['#', '$SYS/#'] },
            sensor: { publish: ['devices/sensor-1/#'], subscribe: ['config/sensor-1', 'devices/sensor-1/#'] },
          },
        },
        coap: {
          anonymous: { '/.well-known/core': ['GET'], '/sensors/temperature': ['GET'], '/sensors/humidity': ['GET'] },
          resources: [...COAP_RESOURCES],
        },
        http: {
          public: ['GET /api/health', 'POST /api/login', 'POST /api/password'],
          routes: [
            { route: '/api/status', methods: ['GET'], roles: ['admin', 'device'] },
            { route: '/api/config', methods: ['GET', 'PUT'], roles: ['admin'] },
            { route: '/api/users', methods: ['GET'], roles: ['admin'] },
            { route: '/api/users/{user}', methods: ['GET'], roles: ['admin'], owner: 'user' },
            { route: '/api/logout', methods: ['POST'], roles: ['admin', 'device'] },
            { route: '/api/firmware', methods: ['POST'], roles: ['admin'] },
            { route: '/api/firmware/restore', methods: ['POST'], roles: ['admin'] },
          ],
        },
      },
      interfaces: [
        { port: u.ports.mqtt, transport: 'tcp', service: 'mqtt' },
        { port: u.ports.mqtts, transport: 'tcp', service: 'mqtts' },
        { port: u.ports.coap, transport: 'udp', service: 'coap' },
        { port: u.ports.coaps, transport: 'udp', service: 'coaps' },
        { port: u.ports.http, transport: 'tcp', service: 'http' },
        { port: u.ports.https, transport: 'tcp', service: 'https' },
      ],
      // Plain listeners exist (public CoAP readings, the HTTP redirect), so not secure-only.
      secureOnly: false,
      disclosure: { mqttSys: false, banners: [] },
      dtls: { coaps: { versions: ['1.2'], suites: [...DECLARED_SUITES], cookie: true } },
      update: {
        version: { via: 'https', path: '/api/status', json: '$.firmware', as: 'admin' },
        installTimeout: '500ms',
        images: {
          newer: { file: u.images.newer, version: NEWER_VERSION },
          older: { file: u.images.older, version: OLDER_VERSION },
        },
        maxImageBytes: MAX_IMAGE_BYTES,
        layout: {
          payload: [MANIFEST_BYTES, -SIGNATURE_BYTES],
          version: { at: FIELD.version.at, length: FIELD.version.length },
          signature: { at: -SIGNATURE_BYTES, length: SIGNATURE_BYTES, algorithm: 'ed25519', covers: [0, -SIGNATURE_BYTES] },
          digests: [{ kind: 'sha256', at: FIELD.digest.at, covers: [MANIFEST_BYTES, -SIGNATURE_BYTES] }],
        },
        paths: [
          { id: 'upload', kind: 'http-upload', via: 'https', method: 'POST', path: '/api/firmware', as: 'admin', contentType: 'application/octet-stream' },
          { id: 'coap-block', kind: 'coap-block', via: 'coaps', method: 'PUT', path: FIRMWARE_RESOURCE, blockSize: 1024, contentFormat: 42, as: 'admin', plain: 'coap' },
          {
            id: 'pull',
            kind: 'pull',
            via: 'mqtts',
            trigger: { topic: UPDATE_TOPIC, payload: '{"url":"{url}"}', as: 'admin' },
            serve: { host: u.host, ca: { cert: u.updateCa.cert, key: u.updateCa.key } },
          },
        ],
        reset: { via: 'https', method: 'POST', path: '/api/firmware/restore', as: 'admin' },
      },
    },
  };
}
