// A target as the harness uses it, after the target file was validated and
// secrets were resolved. The YAML schema that produces it lives in core/.

import type { PerformanceDeclaration } from './bench.js';

export type Protocol = 'mqtt' | 'mqtts' | 'coap' | 'coaps' | 'http' | 'https';
export type Role = 'server' | 'client';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/**
 * How the harness checks the certificate of an mqtts/https interface. It
 * connects whatever the verification says (it judges the device, it does not
 * trust it); the result is recorded for the transport checks.
 */
export interface TlsSettings {
  /** The CA certificate(s) to verify the device's certificate against, PEM (read from the target file's `tls.ca`). */
  readonly caPem?: string;
  /** The name to send as SNI and verify the certificate for, when it is not the URL's host. */
  readonly serverName?: string;
}

interface InterfaceBase extends Endpoint {
  /** Stable id used in check instance ids: `auth.brute-force@<id>`. */
  readonly id: string;
  readonly role: Role;
}

export interface MqttInterface extends InterfaceBase {
  readonly protocol: 'mqtt' | 'mqtts';
  /** 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
  readonly version: 4 | 5;
  /** mqtts only. */
  readonly tls?: TlsSettings;
}

export interface CoapInterface extends InterfaceBase {
  readonly protocol: 'coap' | 'coaps';
}

/** How a principal's credential is presented over HTTP. */
export type HttpAuth =
  | { readonly kind: 'basic' }
  | {
      readonly kind: 'json';
      readonly method: 'POST' | 'PUT';
      readonly path: string;
      /** JSON body template: `{user}` and `{pass}` are substituted in string values. */
      readonly body: Readonly<Record<string, unknown>>;
      /** Where the session token is in the reply: `$.token` style path. */
      readonly token: string;
      /** Header that carries the token; `{token}` is substituted. */
      readonly header: { readonly name: string; readonly value: string };
    };

export interface HttpInterface extends InterfaceBase {
  readonly protocol: 'http' | 'https';
  readonly auth?: HttpAuth;
  /** A route that only an authenticated principal may GET: the oracle for "this credential was granted". */
  readonly protectedPath?: string;
  /** A route the liveness monitor may GET without credentials (any HTTP reply counts as alive). */
  readonly probePath: string;
  /** https only. */
  readonly tls?: TlsSettings;
}

export type Interface = MqttInterface | CoapInterface | HttpInterface;

export interface Principal {
  readonly name: string;
  readonly user: string;
  readonly pass: string;
  readonly role: string;
  /** The principal's DTLS pre-shared key (coaps): its identity and the key bytes, hex. */
  readonly psk?: { readonly identity: string; readonly keyHex: string };
}

export interface DeviceIdentity {
  readonly vendor?: string;
  readonly model?: string;
  readonly serial?: string;
  readonly mac?: string;
}

/** Brute-force protection as the manufacturer declares it (IXIT 1-AuthMech "Brute Force Prevention"). */
export interface LockoutPolicy {
  /** Failed attempts (per user name) after which the device refuses that user. */
  readonly attempts: number;
  /** Sliding window in which failures are counted, in ms. */
  readonly windowMs: number;
  /** How long the refusal lasts after the limit was hit, in ms. */
  readonly durationMs: number;
}

/** The SB-327 (b)(2) route: a factory-fresh unit must demand a new credential before any function. */
export interface FirstUsePolicy {
  /** The credential the unit ships with (printed on a label, or in the manual). */
  readonly shipped: { readonly user: string; readonly pass: string };
  /** Whether the unit handed to the lab is factory-fresh; if not, the first-use check is skipped. */
  readonly state: 'factory-fresh' | 'provisioned';
  /** The HTTP route that changes the shipped credential; `{user}`, `{pass}`, `{new}` substituted in the body. */
  readonly change?: {
    readonly via: string;
    readonly method: 'POST' | 'PUT';
    readonly path: string;
    readonly body: Readonly<Record<string, unknown>>;
    /** The principal whose credential the change sets, so the rest of the run can log in. */
    readonly provisionAs: string;
  };
}

/** MQTT topic filters a principal may publish to and subscribe to (MQTT matching rules, `+` and `#`). */
export interface TopicRules {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/** An HTTP route (path template with `{param}`s), the methods on it and the roles that may use them. */
export interface HttpRoute {
  readonly route: string;
  readonly methods: readonly string[];
  readonly roles: readonly string[];
  /**
   * Object ownership (IDOR oracle): the name of the path parameter that holds a
   * principal's user name. That principal may use the route on its own object
   * even without one of `roles`; nobody else may.
   */
  readonly owner?: string;
}

/** Who may do what on each interface, as declared (IXIT 18-AccCtrl). */
export interface AccessDeclaration {
  readonly mqtt: {
    /** Whether an anonymous CONNECT is accepted at all. */
    readonly anonymous: boolean;
    /** Principal name (or `anonymous`) -> topic rules. A principal not listed may do nothing. */
    readonly rules: Readonly<Record<string, TopicRules>>;
  };
  readonly coap: {
    /** Resource path -> methods an unauthenticated client may use. Everything else must be refused. */
    readonly anonymous: Readonly<Record<string, readonly string[]>>;
    /** Resources the device is declared to serve; discovery finds the rest, and the rest is a finding. */
    readonly resources: readonly string[];
  };
  readonly http: {
    /** "METHOD /path" routes reachable without a session. */
    readonly public: readonly string[];
    /** Routes that need a session, by role. */
    readonly routes: readonly HttpRoute[];
  };
}

/** A port the manufacturer declares (IXIT 15-Intf "Status"). */
export interface DeclaredPort {
  readonly port: number;
  readonly transport: 'tcp' | 'udp';
  readonly status: 'enabled' | 'disabled';
  readonly service?: string;
}

/** What the device may disclose without authentication (IXIT 15-Intf "Disclosed Information"). */
export interface DisclosureDeclaration {
  /** Whether `$SYS/#` may be read by an unauthenticated client. */
  readonly mqttSys: boolean;
  /** Product or version strings that may appear in unauthenticated replies (Server headers, banners). */
  readonly banners: readonly string[];
}

/** A byte range of an image: [start, end); negative offsets count from the end; no end = to the end. */
export interface ByteRange {
  readonly start: number;
  readonly end?: number;
}

/** Where the fields of an image are (optional): it aims mutations and enables unsigned / wrong-signer. */
export interface ImageLayout {
  readonly payload?: ByteRange;
  /** The version field (big-endian unsigned integer). */
  readonly version?: { readonly at: number; readonly length: number };
  readonly signature?: {
    readonly at: number;
    readonly length: number;
    /** Known algorithm: the harness can re-sign with a key of its own (update.wrong-signer). */
    readonly algorithm?: 'ed25519';
    /** What the signature covers. */
    readonly covers?: ByteRange;
  };
  /** Checksums and digests the harness recomputes after a mutation, so the mutation reaches the signature check. */
  readonly digests: readonly { readonly kind: 'sha256' | 'crc32'; readonly at: number; readonly covers: ByteRange }[];
}

/**
 * Pull: the device is told (an MQTT publish by `trigger.as`) to fetch the
 * image from a URL; Gauntlet plays the update server on `serve.host` over
 * HTTPS. `serve.ca` is the manufacturer's test CA (cert and key files) that
 * the device trusts, so Gauntlet can issue a trusted certificate for the
 * positive control and untrusted ones for update.channel.
 */
export interface PullPath {
  readonly id: string;
  readonly kind: 'pull';
  /** The MQTT interface that carries the trigger. */
  readonly via: string;
  readonly trigger: { readonly topic: string; readonly payload: string; readonly as?: string };
  readonly serve: { readonly host: string; readonly ca?: { readonly cert: string; readonly key: string } };
  /** The principal that may trigger an install (= trigger.as). */
  readonly as?: string;
}

/**
 * CoAP block-wise push (RFC 7959 Block1): the image goes to a resource in
 * blocks of `blockSize` bytes over one CoAP or CoAP-over-DTLS session. Over
 * coaps the principal (`as`) is a DTLS PSK identity; "without a session" is the
 * same upload over the plain CoAP interface on the same host when one is
 * declared (`plain`), else a DTLS handshake with an identity the device cannot know.
 */
export interface CoapBlockPath {
  readonly id: string;
  readonly kind: 'coap-block';
  /** Interface id (coap/coaps). */
  readonly via: string;
  readonly method: 'PUT' | 'POST';
  readonly path: string;
  /** Block size in bytes: 16, 32, ... 1024 [RFC7959 2.2]. */
  readonly blockSize: number;
  readonly contentFormat?: number;
  readonly as?: string;
  /** The plain CoAP interface an unauthenticated client would use (coaps paths). */
  readonly plain?: string;
}

/** One way an image reaches the device: pushed over HTTP or CoAP, or pulled by the device from Gauntlet. */
export type UpdatePath = HttpUploadPath | PullPath | CoapBlockPath;

export interface HttpUploadPath {
  readonly id: string;
  readonly kind: 'http-upload';
  /** Interface id (http/https). */
  readonly via: string;
  readonly method: 'POST' | 'PUT';
  readonly path: string;
  /** Principal that may install (its session is used for the positive control). */
  readonly as?: string;
  readonly contentType: string;
}

export interface UpdateDeclaration {
  /** How the running version is read, after every attempt. */
  readonly version: { readonly via: string; readonly path: string; readonly json: string; readonly as?: string };
  /** How long an install may take before the version must show it. */
  readonly installTimeoutMs: number;
  /** Images the manufacturer supplies (files resolved against the target file's folder). */
  readonly images: {
    readonly newer: { readonly file: string; readonly version: string };
    readonly older?: { readonly file: string; readonly version: string };
  };
  readonly layout?: ImageLayout;
  /** Largest image the device is declared to accept, bytes (update.truncated-oversized). */
  readonly maxImageBytes?: number;
  readonly paths: readonly UpdatePath[];
  /**
   * How the lab puts the device back on its baseline image (a recovery
   * partition, a reflash route). With it, every update check starts on the
   * baseline whatever the one before installed; without, a check that finds
   * an image installed reports the rest as inconclusive.
   */
  readonly reset?: { readonly via: string; readonly method: 'POST' | 'PUT'; readonly path: string; readonly as?: string };
}

/** What the manufacturer declares about one DTLS (coaps) interface (IXIT crypto details). */
export interface DtlsDeclaration {
  /** Protocol versions offered: only DTLS 1.2 today. */
  readonly versions: readonly ('1.2')[];
  /** Cipher suites the device accepts, IANA names. */
  readonly suites: readonly string[];
  /** Whether a ClientHello without a cookie is answered with a HelloVerifyRequest before any state [RFC6347 4.2.1]. */
  readonly cookie: boolean;
}

/** An ICS "Support" answer (EN 303 645 Annex B): Y, N, or N/A (only where the provision's condition does not hold). */
export type IcsSupport = 'Y' | 'N' | 'N/A';

/** The manufacturer's ICS answer for one provision a network test cannot evidence (`declared` in a profile). */
export interface IcsAnswer {
  readonly support: IcsSupport;
  /** Detail, or the justification TS 103 701 test case 4-1-1 asks for an N or N/A. */
  readonly detail?: string;
  /** Where the lab finds the proof: a document and section, a URL. */
  readonly evidence?: string;
}

export interface Declaration {
  readonly identity: DeviceIdentity;
  /** DTLS details per coaps interface id. */
  readonly dtls: Readonly<Record<string, DtlsDeclaration>>;
  /** The update mechanism (IXIT 7-UpdMech), when the device has one. */
  readonly update?: UpdateDeclaration;
  readonly lockout?: LockoutPolicy;
  readonly firstUse?: FirstUsePolicy;
  readonly access: AccessDeclaration;
  /** Declared ports; undefined when the file declares none (the surface check then only reports). */
  readonly interfaces?: readonly DeclaredPort[];
  readonly disclosure: DisclosureDeclaration;
  /** Declared secure-only: no plaintext listener (MQTT, CoAP, HTTP in clear) at all. */
  readonly secureOnly: boolean;
  /** Throughput floors and latency ceilings per hot path, and the latency allowed under a flood; absent: none declared. */
  readonly performance?: PerformanceDeclaration;
  /** ICS answers keyed by requirement id as profiles write it (`ETSI-EN-303-645:5.2-1`); absent: none given. */
  readonly ics?: Readonly<Record<string, IcsAnswer>>;
  /** Statements or optional features (`mqtt:will`, `coap:observe`) the device does not implement: conformance checks skip them. */
  readonly conformance?: { readonly notImplemented: readonly string[] };
}

export interface Scope {
  readonly hosts: readonly string[];
  /**
   * Ports the lab adds to the surface scan, beyond the declared ones; `usual`
   * false leaves out the usual IoT ports (a device that shares its host, such
   * as an emulator on loopback, is scanned on its own ports only).
   */
  readonly probe: { readonly tcp: readonly number[]; readonly udp: readonly number[]; readonly usual: boolean };
  /** Hosts outside 127.0.0.0/8 and ::1 are refused unless this is set in the target file. */
  readonly allowNonLoopback: boolean;
}

/**
 * How the lab brings the device back after a crash or a hang (target file
 * `control`): wait for it to reboot on its own, then run the restart command.
 */
export interface ControlDeclaration {
  /** How long the device may take to answer again on its own after a crash or hang, ms. */
  readonly rebootWaitMs?: number;
  /** Run when it has not come back within rebootWaitMs: argv (no shell), bounded by timeoutMs. */
  readonly restart?: { readonly command: readonly string[]; readonly timeoutMs: number };
}

export interface Target {
  readonly name: string;
  /** Where the target came from: a file path, or `builtin:reference-device`. */
  readonly source: string;
  readonly scope: Scope;
  readonly control?: ControlDeclaration;
  readonly interfaces: readonly Interface[];
  readonly principals: readonly Principal[];
  readonly declaration: Declaration;
}
