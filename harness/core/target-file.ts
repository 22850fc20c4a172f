// The target file (format gauntlet-target/1): schema, secret substitution and
// resolution into the model's Target. The JSON Schema published in
// reports/schema/ is generated from the zod schema here, so the two never drift.

import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import type {
  ControlDeclaration,
  Declaration,
  Interface,
  LockoutPolicy,
  Principal,
  Target,
  FirstUsePolicy,
  TlsSettings,
  UpdateDeclaration,
  PerformanceDeclaration,
  PerformanceFloor,
} from '../model/index.js';
import { BENCH_PATHS, DEFAULT_FLOOD_LATENCY_MS, benchPathFits } from '../model/index.js';
import { SUITE_IDS_BY_NAME } from '../protocols/dtls/codec.js';
import { GauntletError } from './errors.js';
import { parseDuration } from './duration.js';
import { checkFormat, readYamlFile, validate, type LoadedYaml } from './yaml-file.js';

export const TARGET_FORMAT = 'gauntlet-target';
export const TARGET_FORMAT_VERSION = 1;

const duration = z
  .union([z.string(), z.number()])
  .refine((v) => parseDuration(v) !== undefined, { message: 'expected a duration like 500ms, 30s or 2m' });

const id = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'expected an id of letters, digits, - and _');
const route = z.string().regex(/^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) \/\S*$/, 'expected "METHOD /path", e.g. "GET /api/config"');
const coapMethod = z.enum(['GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'iPATCH']);
/** [start, end) with negative offsets from the end; `[128]` = from 128 to the end. */
const byteRange = z
  .array(z.number().int())
  .min(1)
  .max(2)
  .transform(([start, end]) => ({ start: start!, ...(end === undefined ? {} : { end }) }));
const jsonPath = z.string().regex(/^\$(\.[A-Za-z0-9_-]+)+$/, 'expected a JSON path like $.firmware');
const httpMethod = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** A topic filter [MQTT-4.7.1]: `#` only last and alone in its level, `+` alone in its level. */
const topicFilter = z
  .string()
  .min(1)
  .refine((f) => f.split('/').every((l, i, all) => (l.includes('#') ? l === '#' && i === all.length - 1 : !l.includes('+') || l === '+')), {
    message: 'expected an MQTT topic filter: "#" only as the whole last level, "+" only as a whole level',
  });

const common = { id, role: z.enum(['server', 'client']).default('server') };
/** mqtts/https only: how the device's certificate is verified (the harness connects either way and records the result). */
const tlsBlock = z.strictObject({
  /** CA certificate(s), PEM file, relative to the target file. */
  ca: z.string().min(1).optional(),
  /** The name sent as SNI and verified, when it is not the URL's host. */
  serverName: z.string().regex(/^[A-Za-z0-9._:-]+$/, 'expected a host name or IP address').optional(),
});
const mqttIface = z.strictObject({
  ...common,
  protocol: z.enum(['mqtt', 'mqtts']),
  url: z.string(),
  version: z.union([z.literal(4), z.literal(5)], { error: 'expected 4 (MQTT 3.1.1) or 5 (MQTT 5.0)' }).default(4),
  tls: tlsBlock.optional(),
});
const coapIface = z.strictObject({ ...common, protocol: z.enum(['coap', 'coaps']), url: z.string() });
const httpAuth = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('basic') }),
  z.strictObject({
    kind: z.literal('json'),
    method: z.enum(['POST', 'PUT']).default('POST'),
    path: z.string().startsWith('/'),
    body: z.record(z.string(), z.unknown()),
    token: z.string().regex(/^\$(\.[A-Za-z0-9_-]+)+$/, 'expected a JSON path like $.token'),
    header: z
      .strictObject({ name: z.string().min(1), value: z.string().includes('{token}') })
      .default({ name: 'Authorization', value: 'Bearer {token}' }),
  }),
]);
const httpIface = z.strictObject({
  ...common,
  protocol: z.enum(['http', 'https']),
  url: z.string(),
  auth: httpAuth.optional(),
  protected: z.string().startsWith('/').optional(),
  probe: z.string().startsWith('/').default('/'),
  tls: tlsBlock.optional(),
}).superRefine((v, ctx) => {
  // With Basic auth, "granted" is judged by the protected route alone: without
  // one, a public `/` would count every credential as accepted.
  if (v.auth?.kind === 'basic' && v.protected === undefined) {
    ctx.addIssue({ code: 'custom', path: ['protected'], message: 'required with auth kind basic: a route that answers 2xx only to an authenticated client' });
  }
});

const psk = z
  .strictObject({
    identity: z.string().min(1).max(128),
    /** The key as text (as libcoap's -k takes it). */
    key: z.string().min(1).optional(),
    /** Or as hex bytes. */
    keyHex: z
      .string()
      .regex(/^(([0-9a-f]{2})+|.*\$\{[A-Za-z_][A-Za-z0-9_]*\}.*)$/i, 'expected hex bytes, e.g. 0a1b2c (or a ${VARIABLE})')
      .optional(),
  })
  .refine((v) => (v.key === undefined) !== (v.keyHex === undefined), { message: 'give exactly one of key (text) and keyHex' });
const principal = z.strictObject({ user: z.string(), pass: z.string(), role: z.string().default('user'), psk: psk.optional() });

const declaration = z.strictObject({
  lockout: z
    .strictObject({ attempts: z.number().int().min(1).max(1000), window: duration, duration: duration.optional() })
    .optional(),
  firstUse: z
    .strictObject({
      state: z.enum(['factory-fresh', 'provisioned']),
      shipped: z.strictObject({ user: z.string(), pass: z.string() }),
      change: z
        .strictObject({
          via: id,
          method: z.enum(['POST', 'PUT']).default('POST'),
          path: z.string().startsWith('/'),
          body: z.record(z.string(), z.unknown()),
          provisionAs: id,
        })
        .optional(),
    })
    .optional(),
  access: z
    .strictObject({
      mqtt: z
        .strictObject({
          anonymous: z.boolean().default(false),
          rules: z
            .record(
              z.string(),
              z.strictObject({ publish: z.array(topicFilter).default([]), subscribe: z.array(topicFilter).default([]) }),
            )
            .default({}),
        })
        .default({ anonymous: false, rules: {} }),
      coap: z
        .strictObject({
          anonymous: z.record(z.string().startsWith('/'), z.array(coapMethod)).default({}),
          resources: z.array(z.string().startsWith('/')).default([]),
        })
        .default({ anonymous: {}, resources: [] }),
      http: z
        .strictObject({
          public: z.array(route).default([]),
          routes: z
            .array(
              z.strictObject({
                route: z.string().regex(/^\/\S*$/, 'expected a path template like /api/users/{user}'),
                methods: z.array(httpMethod).min(1),
                roles: z.array(z.string()).default([]),
                owner: z.string().regex(/^[a-z][a-z0-9_]*$/i, 'expected the name of a {parameter} in the route').optional(),
              }),
            )
            .default([]),
        })
        .default({ public: [], routes: [] }),
    })
    .default({ mqtt: { anonymous: false, rules: {} }, coap: { anonymous: {}, resources: [] }, http: { public: [], routes: [] } }),
  update: z
    .strictObject({
      version: z.strictObject({ via: id, path: z.string().startsWith('/'), json: jsonPath, as: id.optional() }),
      installTimeout: duration.default('5s'),
      images: z.strictObject({
        newer: z.strictObject({ file: z.string().min(1), version: z.string().min(1) }),
        older: z.strictObject({ file: z.string().min(1), version: z.string().min(1) }).optional(),
      }),
      layout: z
        .strictObject({
          payload: byteRange.optional(),
          version: z.strictObject({ at: z.number().int(), length: z.number().int().min(1).max(8) }).optional(),
          signature: z
            .strictObject({
              at: z.number().int(),
              length: z.number().int().min(1).max(1024),
              algorithm: z.literal('ed25519').optional(),
              covers: byteRange.optional(),
            })
            .optional(),
          digests: z.array(z.strictObject({ kind: z.enum(['sha256', 'crc32']), at: z.number().int(), covers: byteRange })).default([]),
        })
        .optional(),
      maxImageBytes: z.number().int().min(1).optional(),
      paths: z
        .array(
          z.discriminatedUnion('kind', [
            z.strictObject({
              id,
              kind: z.literal('http-upload'),
              via: id,
              method: z.enum(['POST', 'PUT']).default('POST'),
              path: z.string().startsWith('/'),
              as: id.optional(),
              contentType: z.string().default('application/octet-stream'),
            }),
            z.strictObject({
              id,
              kind: z.literal('coap-block'),
              via: id,
              method: z.enum(['PUT', 'POST']).default('PUT'),
              path: z.string().startsWith('/'),
              blockSize: z
                .number()
                .int()
                .refine((n) => [16, 32, 64, 128, 256, 512, 1024].includes(n), { message: 'expected a block size of 16, 32, 64, 128, 256, 512 or 1024 bytes' })
                .default(512),
              contentFormat: z.number().int().min(0).max(65535).optional(),
              as: id.optional(),
              plain: id.optional(),
            }),
            z.strictObject({
              id,
              kind: z.literal('pull'),
              via: id,
              trigger: z.strictObject({
                topic: z.string().min(1),
                payload: z.string().includes('{url}', { message: 'expected a payload template containing {url}' }),
                as: id.optional(),
              }),
              serve: z.strictObject({
                host: z.string().min(1),
                ca: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
              }),
            }),
          ]),
        )
        .min(1),
      reset: z.strictObject({ via: id, method: z.enum(['POST', 'PUT']).default('POST'), path: z.string().startsWith('/'), as: id.optional() }).optional(),
    })
    .optional(),
  dtls: z
    .record(
      id,
      z.strictObject({
        versions: z.array(z.literal('1.2', { error: 'only DTLS 1.2 can be declared ("1.2")' })).min(1).default(['1.2']),
        suites: z.array(z.string().regex(/^TLS_[A-Z0-9_]+$/, 'expected an IANA cipher suite name like TLS_PSK_WITH_AES_128_CCM_8')).min(1),
        cookie: z.boolean().default(true),
      }),
    )
    .default({}),
  interfaces: z
    .array(
      z.strictObject({
        port: z.number().int().min(1).max(65535),
        transport: z.enum(['tcp', 'udp']),
        status: z.enum(['enabled', 'disabled']).default('enabled'),
        service: z.string().optional(),
      }),
    )
    .optional(),
  disclosure: z
    .strictObject({ mqttSys: z.boolean().default(false), banners: z.array(z.string()).default([]) })
    .default({ mqttSys: false, banners: [] }),
  /** true: the device serves nothing in clear (no MQTT on 1883, no CoAP on 5683, no HTTP on 80, ...). */
  secureOnly: z.boolean().default(false),
  /** Hot-path floors (gauntlet bench and gauntlet run gate on them) and the probe latency allowed under a flood. */
  performance: z
    .strictObject({
      floodLatency: duration.default(`${DEFAULT_FLOOD_LATENCY_MS}ms`),
      floors: z
        .array(
          z
            .strictObject({
              interface: id,
              path: z.enum(BENCH_PATHS, { error: `expected one of ${BENCH_PATHS.join(', ')}` }),
              /** Ops per second at least. */
              min: z.number().positive().optional(),
              /** p99 latency at most. */
              p99: duration.optional(),
            })
            .refine((f) => f.min !== undefined || f.p99 !== undefined, { message: 'expected min (ops/s at least) or p99 (a latency at most), or both' }),
        )
        .default([]),
    })
    .optional(),
  /**
   * ICS answers (EN 303 645 Annex B) for provisions no network test evidences,
   * keyed by requirement id as profiles write it. TS 103 701 test case 4-1-1
   * asks a justification for every provision not fulfilled or not applicable.
   */
  ics: z
    .record(
      z.string().regex(/^[A-Z0-9][A-Za-z0-9-]*:\S+$/),
      z
        .strictObject({
          support: z.enum(['Y', 'N', 'N/A'], { error: 'expected Y, N or N/A (the ICS "Support" column; quote "N/A")' }),
          detail: z.string().trim().min(1, 'expected a detail or justification, not an empty text').optional(),
          evidence: z.string().trim().min(1, 'expected a document reference or URL, not an empty text').optional(),
        })
        .superRefine((a, ctx) => {
          if (a.support !== 'Y' && a.detail === undefined) {
            ctx.addIssue({ code: 'custom', path: ['detail'], message: `required with support ${a.support}: the justification TS 103 701 test case 4-1-1 asks for a provision ${a.support === 'N' ? 'not fulfilled' : 'marked not applicable'}` });
          }
        }),
      { error: (issue) => (issue.code === 'invalid_key' ? 'expected a requirement id as profiles write it, e.g. "ETSI-EN-303-645:5.2-1"' : undefined) },
    )
    .optional(),
  /**
   * Conformance: statements or optional features the device does not
   * implement (`MQTT-5.0:MQTT-3.3.2-7`, or a feature name such as
   * `mqtt:retain`, `mqtt:will`, `coap:observe`, `coap:block2`); the
   * conformance checks skip them with this reason instead of failing them.
   */
  conformance: z
    .strictObject({
      notImplemented: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.-]*:\S+$/, 'expected a statement id (MQTT-3.1.1:MQTT-3.3.1-4) or a feature (mqtt:will)')).default([]),
    })
    .optional(),
});

export const targetFileSchema = z.strictObject({
  format: z.literal(`${TARGET_FORMAT}/${TARGET_FORMAT_VERSION}`),
  name: z.string().min(1),
  scope: z.strictObject({
    hosts: z.array(z.string().min(1)).min(1),
    allowNonLoopback: z.boolean().default(false),
    /** Extra ports for access.exposed-surface, e.g. the device's whole service range. */
    probe: z
      .strictObject({
        tcp: z.array(z.number().int().min(1).max(65535)).max(1024).default([]),
        udp: z.array(z.number().int().min(1).max(65535)).max(1024).default([]),
        usual: z.boolean().default(true),
      })
      .default({ tcp: [], udp: [], usual: true }),
  }),
  identity: z
    .strictObject({
      vendor: z.string().optional(),
      model: z.string().optional(),
      serial: z.string().optional(),
      mac: z.string().regex(/^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i, 'expected a MAC like 02:00:5e:10:00:01').optional(),
    })
    .default({}),
  interfaces: z.array(z.discriminatedUnion('protocol', [mqttIface, coapIface, httpIface])).min(1),
  principals: z.record(id, principal).default({}),
  /** How the device comes back after a crash or hang found by fuzzing. */
  control: z
    .strictObject({
      /** How long it may take to answer again on its own (a watchdog reboot); default 15s. */
      rebootWait: duration.optional(),
      /** Run (argv, no shell) when it has not come back within rebootWait. */
      restart: z
        .strictObject({
          command: z.array(z.string().min(1)).min(1, 'expected the command and its arguments, e.g. ["systemctl", "restart", "mosquitto"]'),
          timeout: duration.default('30s'),
        })
        .optional(),
    })
    .optional(),
  declaration: declaration.default({
    secureOnly: false,
    dtls: {},
    access: { mqtt: { anonymous: false, rules: {} }, coap: { anonymous: {}, resources: [] }, http: { public: [], routes: [] } },
    disclosure: { mqttSys: false, banners: [] },
  }),
});

/** The target file as written (before defaults): what the reference device emits. */
export type TargetFileInput = z.input<typeof targetFileSchema>;
export type TargetFile = z.output<typeof targetFileSchema>;

const DEFAULT_PORTS: Readonly<Record<string, number>> = { mqtt: 1883, mqtts: 8883, coap: 5683, coaps: 5684, http: 80, https: 443 };

function controlOf(c: NonNullable<TargetFile['control']>): ControlDeclaration {
  return {
    ...(c.rebootWait !== undefined ? { rebootWaitMs: parseDuration(c.rebootWait)! } : {}),
    ...(c.restart ? { restart: { command: c.restart.command, timeoutMs: parseDuration(c.restart.timeout)! } } : {}),
  };
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Loads, validates and resolves a target file. Errors name the file, line and field. */
export function loadTargetFile(path: string, env: NodeJS.ProcessEnv = process.env): Target {
  const loaded = readYamlFile(path, 'target file');
  checkFormat(loaded, TARGET_FORMAT, TARGET_FORMAT_VERSION);
  return resolveTarget(loaded, env);
}

/** Validates an in-memory target description (the reference device's) through the same schema. */
export function targetFromObject(data: TargetFileInput, source: string, env: NodeJS.ProcessEnv = process.env): Target {
  const loaded: LoadedYaml = { path: source, data, lineOf: () => undefined };
  return resolveTarget(loaded, env);
}

function resolveTarget(loaded: LoadedYaml, env: NodeJS.ProcessEnv): Target {
  const file = validate(loaded, targetFileSchema, 'a target file');
  const where = (path: PropertyKey[]) => {
    const line = loaded.lineOf(path);
    return line ? `${loaded.path}:${line}` : loaded.path;
  };
  const invalid = (path: PropertyKey[], field: string, message: string) =>
    new GauntletError('CONFIG_INVALID', `${where(path)}: ${field}: ${message}`);

  const secret = (value: string, path: PropertyKey[], field: string): string =>
    value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) {
        throw new GauntletError('SECRET_MISSING', `${where(path)}: ${field}: environment variable ${name} is not set`);
      }
      return v;
    });

  const hexSecret = (value: string, path: PropertyKey[], field: string): string => {
    const v = secret(value, path, field);
    if (!/^([0-9a-f]{2})+$/i.test(v)) throw invalid(path, field, 'expected hex bytes, e.g. 0a1b2c (after substituting the environment)');
    return v.toLowerCase();
  };

  // Scope: every host named must be loopback unless the file says otherwise.
  for (const [i, host] of file.scope.hosts.entries()) {
    if (!isLoopback(host) && !file.scope.allowNonLoopback) {
      throw invalid(['scope', 'hosts', i], `scope.hosts[${i}]`, `${host} is not a loopback address; set scope.allowNonLoopback: true to test a device on the network`);
    }
  }

  // An interface's tls block: only over TLS; its CA file (relative to the target file) read and checked now.
  const tlsOf = (raw: { protocol: string; tls?: { ca?: string; serverName?: string } | undefined }, i: number): { tls?: TlsSettings } => {
    if (!raw.tls) return {};
    const at = ['interfaces', i, 'tls'];
    if (raw.protocol !== 'mqtts' && raw.protocol !== 'https') {
      throw invalid(at, `interfaces[${i}].tls`, `only mqtts and https interfaces take a tls block (this one is ${raw.protocol})`);
    }
    let caPem: string | undefined;
    if (raw.tls.ca !== undefined) {
      const dir = loaded.path.startsWith('builtin:') || loaded.path === 'test-target' ? process.cwd() : dirname(resolvePath(loaded.path));
      const file = resolvePath(dir, raw.tls.ca);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw invalid([...at, 'ca'], `interfaces[${i}].tls.ca`, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      if (blocks.length === 0) throw invalid([...at, 'ca'], `interfaces[${i}].tls.ca`, `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
      for (const [k, pem] of blocks.entries()) {
        try {
          new X509Certificate(pem);
        } catch (e) {
          throw invalid([...at, 'ca'], `interfaces[${i}].tls.ca`, `${file}: certificate ${k + 1} of ${blocks.length} is not a valid PEM certificate (${(e as Error).message})`);
        }
      }
      caPem = `${blocks.join('\n')}\n`;
    }
    return { tls: { ...(caPem !== undefined ? { caPem } : {}), ...(raw.tls.serverName !== undefined ? { serverName: raw.tls.serverName } : {}) } };
  };

  const ids = new Set<string>();
  const interfaces: Interface[] = file.interfaces.map((raw, i) => {
    const path = ['interfaces', i];
    if (ids.has(raw.id)) throw invalid([...path, 'id'], `interfaces[${i}].id`, `duplicate interface id "${raw.id}"`);
    if (raw.id === 'target') throw invalid([...path, 'id'], `interfaces[${i}].id`, '"target" is reserved for whole-device checks (check@target)');
    ids.add(raw.id);
    let url: URL;
    try {
      url = new URL(raw.url);
    } catch {
      throw invalid([...path, 'url'], `interfaces[${i}].url`, `expected a URL like ${raw.protocol}://127.0.0.1:${DEFAULT_PORTS[raw.protocol]} (got "${raw.url}")`);
    }
    if (url.protocol !== `${raw.protocol}:`) {
      throw invalid([...path, 'url'], `interfaces[${i}].url`, `scheme ${url.protocol.replace(':', '')} does not match protocol ${raw.protocol}`);
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!file.scope.hosts.some((h) => h.toLowerCase() === host.toLowerCase())) {
      throw invalid([...path, 'url'], `interfaces[${i}].url`, `host ${host} is not in scope.hosts (${file.scope.hosts.join(', ')})`);
    }
    const port = url.port ? Number(url.port) : DEFAULT_PORTS[raw.protocol]!;
    const base = { id: raw.id, role: raw.role, host, port };
    switch (raw.protocol) {
      case 'mqtt':
      case 'mqtts':
        return { ...base, protocol: raw.protocol, version: raw.version, ...tlsOf(raw, i) };
      case 'coap':
      case 'coaps':
        return { ...base, protocol: raw.protocol };
      case 'http':
      case 'https':
        return { ...base, protocol: raw.protocol, auth: raw.auth, protectedPath: raw.protected, probePath: raw.probe, ...tlsOf(raw, i) };
    }
  });

  const principals: Principal[] = Object.entries(file.principals).map(([name, p]) => {
    const at = ['principals', name, 'psk'];
    const psk = p.psk
      ? {
          identity: secret(p.psk.identity, [...at, 'identity'], `principals.${name}.psk.identity`),
          keyHex: p.psk.keyHex !== undefined ? hexSecret(p.psk.keyHex, [...at, 'keyHex'], `principals.${name}.psk.keyHex`) : Buffer.from(secret(p.psk.key!, [...at, 'key'], `principals.${name}.psk.key`), 'utf8').toString('hex'),
        }
      : undefined;
    return {
      name,
      user: secret(p.user, ['principals', name, 'user'], `principals.${name}.user`),
      pass: secret(p.pass, ['principals', name, 'pass'], `principals.${name}.pass`),
      role: p.role,
      ...(psk ? { psk } : {}),
    };
  });

  const d = file.declaration;
  let lockout: LockoutPolicy | undefined;
  if (d.lockout) {
    const windowMs = parseDuration(d.lockout.window)!;
    lockout = { attempts: d.lockout.attempts, windowMs, durationMs: d.lockout.duration === undefined ? windowMs : parseDuration(d.lockout.duration)! };
  }
  let firstUse: FirstUsePolicy | undefined;
  if (d.firstUse) {
    const fu = d.firstUse;
    if (fu.change) {
      const via = interfaces.find((x) => x.id === fu.change!.via);
      if (!via || (via.protocol !== 'http' && via.protocol !== 'https')) {
        throw invalid(['declaration', 'firstUse', 'change', 'via'], 'declaration.firstUse.change.via', `expected the id of an http interface (got "${fu.change.via}")`);
      }
      if (!principals.some((p) => p.name === fu.change!.provisionAs)) {
        throw invalid(['declaration', 'firstUse', 'change', 'provisionAs'], 'declaration.firstUse.change.provisionAs', `no principal named "${fu.change.provisionAs}"`);
      }
    }
    firstUse = {
      state: fu.state,
      shipped: {
        user: secret(fu.shipped.user, ['declaration', 'firstUse', 'shipped', 'user'], 'declaration.firstUse.shipped.user'),
        pass: secret(fu.shipped.pass, ['declaration', 'firstUse', 'shipped', 'pass'], 'declaration.firstUse.shipped.pass'),
      },
      change: fu.change,
    };
  }
  for (const name of Object.keys(d.access.mqtt.rules)) {
    if (name !== 'anonymous' && !principals.some((p) => p.name === name)) {
      throw invalid(['declaration', 'access', 'mqtt', 'rules', name], `declaration.access.mqtt.rules.${name}`, `no principal named "${name}" (use a principal name, or "anonymous")`);
    }
  }
  for (const [i, r] of d.access.http.routes.entries()) {
    if (r.owner && !r.route.includes(`{${r.owner}}`)) {
      throw invalid(['declaration', 'access', 'http', 'routes', i, 'owner'], `declaration.access.http.routes[${i}].owner`, `the route ${r.route} has no {${r.owner}} parameter`);
    }
  }
  let update: UpdateDeclaration | undefined;
  if (d.update) {
    const u = d.update;
    const httpIface = (name: string, field: PropertyKey[], label: string) => {
      const i = interfaces.find((x) => x.id === name);
      if (!i || (i.protocol !== 'http' && i.protocol !== 'https')) throw invalid(field, label, `expected the id of an http interface (got "${name}")`);
    };
    const principal = (name: string | undefined, field: PropertyKey[], label: string) => {
      if (name !== undefined && !principals.some((p) => p.name === name)) throw invalid(field, label, `no principal named "${name}"`);
    };
    httpIface(u.version.via, ['declaration', 'update', 'version', 'via'], 'declaration.update.version.via');
    principal(u.version.as, ['declaration', 'update', 'version', 'as'], 'declaration.update.version.as');
    if (u.reset) {
      httpIface(u.reset.via, ['declaration', 'update', 'reset', 'via'], 'declaration.update.reset.via');
      principal(u.reset.as, ['declaration', 'update', 'reset', 'as'], 'declaration.update.reset.as');
    }
    for (const [i, p] of u.paths.entries()) {
      const at = ['declaration', 'update', 'paths', i];
      if (p.kind === 'http-upload') {
        httpIface(p.via, [...at, 'via'], `declaration.update.paths[${i}].via`);
        principal(p.as, [...at, 'as'], `declaration.update.paths[${i}].as`);
      } else if (p.kind === 'coap-block') {
        const c = interfaces.find((x) => x.id === p.via);
        if (!c || (c.protocol !== 'coap' && c.protocol !== 'coaps')) throw invalid([...at, 'via'], `declaration.update.paths[${i}].via`, `expected the id of a coap or coaps interface (got "${p.via}")`);
        principal(p.as, [...at, 'as'], `declaration.update.paths[${i}].as`);
        if (c.protocol === 'coaps' && p.as !== undefined && !principals.find((x) => x.name === p.as)!.psk) {
          throw invalid([...at, 'as'], `declaration.update.paths[${i}].as`, `${p.as} has no psk: over coaps the installer is a DTLS PSK identity (principals.${p.as}.psk)`);
        }
        if (p.plain !== undefined) {
          const q = interfaces.find((x) => x.id === p.plain);
          if (!q || q.protocol !== 'coap') throw invalid([...at, 'plain'], `declaration.update.paths[${i}].plain`, `expected the id of a plain coap interface (got "${p.plain}")`);
        }
      } else {
        const m = interfaces.find((x) => x.id === p.via);
        if (!m || (m.protocol !== 'mqtt' && m.protocol !== 'mqtts')) throw invalid([...at, 'via'], `declaration.update.paths[${i}].via`, `expected the id of an mqtt interface (got "${p.via}")`);
        principal(p.trigger.as, [...at, 'trigger', 'as'], `declaration.update.paths[${i}].trigger.as`);
        if (!isLoopback(p.serve.host) && !file.scope.allowNonLoopback) {
          throw invalid([...at, 'serve', 'host'], `declaration.update.paths[${i}].serve.host`, `${p.serve.host} is not a loopback address; set scope.allowNonLoopback: true to serve updates on the network`);
        }
      }
    }
    // Image files are relative to the target file's folder (absolute ones as they are).
    const base = loaded.path.startsWith('builtin:') || loaded.path === 'test-target' ? process.cwd() : dirname(resolvePath(loaded.path));
    const image = (ref: { file: string; version: string }, key: 'newer' | 'older') => {
      const file = resolvePath(base, ref.file);
      if (!existsSync(file)) throw invalid(['declaration', 'update', 'images', key, 'file'], `declaration.update.images.${key}.file`, `no such file: ${file}`);
      return { file, version: ref.version };
    };
    update = {
      version: u.version,
      installTimeoutMs: parseDuration(u.installTimeout)!,
      images: { newer: image(u.images.newer, 'newer'), ...(u.images.older ? { older: image(u.images.older, 'older') } : {}) },
      layout: u.layout,
      maxImageBytes: u.maxImageBytes,
      paths: u.paths.map((p) => {
        if (p.kind === 'http-upload') return p;
        if (p.kind === 'coap-block') {
          const { contentFormat, as, plain, ...rest } = p;
          return { ...rest, ...(contentFormat !== undefined ? { contentFormat } : {}), ...(as !== undefined ? { as } : {}), ...(plain !== undefined ? { plain } : {}) };
        }
        const file = (f: string, key: 'cert' | 'key') => {
          const abs = resolvePath(base, f);
          if (!existsSync(abs)) throw invalid(['declaration', 'update', 'paths'], `declaration.update.paths.${p.id}.serve.ca.${key}`, `no such file: ${abs}`);
          return abs;
        };
        return { ...p, as: p.trigger.as, serve: { host: p.serve.host, ...(p.serve.ca ? { ca: { cert: file(p.serve.ca.cert, 'cert'), key: file(p.serve.ca.key, 'key') } } : {}) } };
      }),
      reset: u.reset,
    };
  }
  for (const [name, dd] of Object.entries(d.dtls)) {
    const i = interfaces.find((x) => x.id === name);
    if (!i || i.protocol !== 'coaps') throw invalid(['declaration', 'dtls', name], `declaration.dtls.${name}`, `expected the id of a coaps interface (got "${name}")`);
    for (const [k, suite] of dd.suites.entries()) {
      if (!SUITE_IDS_BY_NAME.has(suite)) throw invalid(['declaration', 'dtls', name, 'suites', k], `declaration.dtls.${name}.suites[${k}]`, `unknown cipher suite ${suite} (IANA names, e.g. TLS_PSK_WITH_AES_128_CCM_8)`);
    }
  }
  let performance: PerformanceDeclaration | undefined;
  if (d.performance) {
    const floors = d.performance.floors.map((f, k): PerformanceFloor => {
      const i = interfaces.find((x) => x.id === f.interface);
      const at = ['declaration', 'performance', 'floors', k];
      if (!i) throw invalid([...at, 'interface'], `declaration.performance.floors[${k}].interface`, `expected the id of an interface (got "${f.interface}"; interfaces: ${interfaces.map((x) => x.id).join(', ')})`);
      if (!benchPathFits(f.path, i.protocol)) throw invalid([...at, 'path'], `declaration.performance.floors[${k}].path`, `${f.path} cannot be measured on ${i.id} (${i.protocol}); ${i.protocol} has ${BENCH_PATHS.filter((b) => benchPathFits(b, i.protocol)).join(', ')}`);
      return { interface: f.interface, path: f.path, ...(f.min !== undefined ? { minRate: f.min } : {}), ...(f.p99 !== undefined ? { maxP99Ms: parseDuration(f.p99)! } : {}) };
    });
    performance = { floors, floodLatencyMs: parseDuration(d.performance.floodLatency)! };
  }
  const declarationOut: Declaration = {
    identity: file.identity,
    dtls: d.dtls,
    update,
    lockout,
    firstUse,
    access: d.access,
    interfaces: d.interfaces,
    disclosure: d.disclosure,
    secureOnly: d.secureOnly,
    ...(performance ? { performance } : {}),
    ...(d.ics ? { ics: d.ics } : {}),
    ...(d.conformance ? { conformance: { notImplemented: d.conformance.notImplemented } } : {}),
  };
  return {
    name: file.name,
    source: loaded.path,
    scope: { hosts: file.scope.hosts, allowNonLoopback: file.scope.allowNonLoopback, probe: file.scope.probe },
    ...(file.control ? { control: controlOf(file.control) } : {}),
    interfaces,
    principals,
    declaration: declarationOut,
  };
}
