// DTLS 1.2 record and handshake codec, the test tool's side (RFC 6347 on
// RFC 5246). Hand-written because no npm package exposes DTLS messages:
// node-dtls-client keeps its records and handshake internal, and a probe must
// send ClientHellos no conforming stack would build (lying lengths, odd
// versions, overlapping fragments) and read a server's first flight without
// finishing the handshake. No crypto here: epoch 0 is plaintext, later epochs
// are carried as opaque bytes.
//
// One encoder per structure, with optional "lies" (length fields that do not
// match the bytes) for hostile cases; one total parser per structure: parsers
// never throw, they return { ok: false, error } naming the field that is wrong.

// ---------------------------------------------------------------- results

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T = never>(field: string, why: string): Parsed<T> => ({ ok: false, error: `${field}: ${why}` });

// ---------------------------------------------------------------- tables

/** ContentType [RFC5246 6.2.1, RFC6520 heartbeat]. */
export const ContentType = { change_cipher_spec: 20, alert: 21, handshake: 22, application_data: 23, heartbeat: 24 } as const;

/** HandshakeType [RFC5246 7.4, RFC6347 4.3.2 hello_verify_request]. */
export const HandshakeType = {
  hello_request: 0,
  client_hello: 1,
  server_hello: 2,
  hello_verify_request: 3,
  new_session_ticket: 4,
  certificate: 11,
  server_key_exchange: 12,
  certificate_request: 13,
  server_hello_done: 14,
  certificate_verify: 15,
  client_key_exchange: 16,
  finished: 20,
  certificate_url: 21,
  certificate_status: 22,
} as const;

export const AlertLevel = { warning: 1, fatal: 2 } as const;

/** AlertDescription [RFC5246 7.2, RFC4279 unknown_psk_identity, RFC7507, RFC8446 6.2]. */
export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  decryption_failed: 21,
  record_overflow: 22,
  decompression_failure: 30,
  handshake_failure: 40,
  no_certificate: 41,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  export_restriction: 60,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  no_renegotiation: 100,
  missing_extension: 109,
  unsupported_extension: 110,
  certificate_unobtainable: 111,
  unrecognized_name: 112,
  bad_certificate_status_response: 113,
  bad_certificate_hash_value: 114,
  unknown_psk_identity: 115,
  certificate_required: 116,
  no_application_protocol: 120,
} as const;

/** ExtensionType (IANA TLS ExtensionType Values), the ones a DTLS 1.2 probe meets. */
export const ExtensionType = {
  server_name: 0,
  max_fragment_length: 1,
  client_certificate_url: 2,
  trusted_ca_keys: 3,
  truncated_hmac: 4,
  status_request: 5,
  supported_groups: 10,
  ec_point_formats: 11,
  signature_algorithms: 13,
  use_srtp: 14,
  heartbeat: 15,
  application_layer_protocol_negotiation: 16,
  signed_certificate_timestamp: 18,
  client_certificate_type: 19,
  server_certificate_type: 20,
  padding: 21,
  encrypt_then_mac: 22,
  extended_master_secret: 23,
  record_size_limit: 28,
  session_ticket: 35,
  pre_shared_key: 41,
  supported_versions: 43,
  cookie: 44,
  psk_key_exchange_modes: 45,
  key_share: 51,
  connection_id: 54,
  renegotiation_info: 0xff01,
} as const;

/** NamedGroup [RFC8422 5.1.1, RFC7919]. */
export const NamedGroup = { secp256r1: 23, secp384r1: 24, secp521r1: 25, x25519: 29, x448: 30, ffdhe2048: 256 } as const;

/** SignatureScheme [RFC8446 4.2.3]; in TLS 1.2 the two bytes are (hash, signature) [RFC5246 7.4.1.4.1]. */
export const SignatureScheme = {
  rsa_pkcs1_sha1: 0x0201,
  ecdsa_sha1: 0x0203,
  rsa_pkcs1_sha256: 0x0401,
  ecdsa_secp256r1_sha256: 0x0403,
  rsa_pkcs1_sha384: 0x0501,
  ecdsa_secp384r1_sha384: 0x0503,
  rsa_pss_rsae_sha256: 0x0804,
  ed25519: 0x0807,
} as const;

export const DTLS1_0 = 0xfeff;
export const DTLS1_2 = 0xfefd;
/** DTLS 1.3 (RFC 9147): not spoken here, only offered as a hostile version value. */
export const DTLS1_3 = 0xfefc;

const reverse = (table: Readonly<Record<string, number>>): ReadonlyMap<number, string> =>
  new Map(Object.entries(table).map(([name, id]) => [id, name]));

const CONTENT_TYPE_NAMES = reverse(ContentType);
const HANDSHAKE_TYPE_NAMES = reverse(HandshakeType);
const ALERT_NAMES = reverse(AlertDescription);
const EXTENSION_NAMES = reverse(ExtensionType);

const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

export const contentTypeName = (t: number) => CONTENT_TYPE_NAMES.get(t) ?? `content_type(${t})`;
export const handshakeTypeName = (t: number) => HANDSHAKE_TYPE_NAMES.get(t) ?? `handshake_type(${t})`;
export const alertName = (d: number) => ALERT_NAMES.get(d) ?? `alert(${d})`;
export const extensionName = (t: number) => EXTENSION_NAMES.get(t) ?? `extension(${hex4(t)})`;
export const alertLevelName = (l: number) => (l === AlertLevel.warning ? 'warning' : l === AlertLevel.fatal ? 'fatal' : `level(${l})`);

/** `v1.2`, `v1.0`, or the raw value for anything else (`v0x0303`). */
export function versionLabel(v: number): string {
  if (v === DTLS1_2) return 'v1.2';
  if (v === DTLS1_0) return 'v1.0';
  if (v === DTLS1_3) return 'v1.3';
  return `v${hex4(v)}`;
}

// ---------------------------------------------------------------- cipher suites

/** Why a suite is weak, the worst reason first: null, anon, export, rc4, 3des, md5, cbc-sha1. */
export type SuiteWeakness = 'null' | 'anon' | 'export' | 'rc4' | '3des' | 'md5' | 'cbc-sha1';

export interface CipherSuite {
  readonly id: number;
  /** IANA name (TLS Cipher Suites registry). */
  readonly name: string;
  /** undefined: no weakness this table knows of (AEAD, or CBC with SHA-2). */
  readonly weakness: SuiteWeakness | undefined;
}

/**
 * The weakness a suite's IANA name shows. NULL: no encryption; anon: no
 * authentication; EXPORT: 40/56-bit keys; RC4 is forbidden in DTLS
 * [RFC6347 4.1.2.2, RFC7465]; 3DES: 64-bit blocks (Sweet32); MD5 MAC; CBC
 * with a SHA-1 MAC (Lucky13-prone, not recommended by RFC 9325).
 */
export function weaknessOf(name: string): SuiteWeakness | undefined {
  if (/_WITH_NULL_|^TLS_NULL_/.test(name)) return 'null';
  if (/_anon_/.test(name)) return 'anon';
  if (/EXPORT/.test(name)) return 'export';
  if (/_RC4_/.test(name)) return 'rc4';
  if (/3DES/.test(name)) return '3des';
  if (/_MD5$/.test(name)) return 'md5';
  if (/_CBC_SHA$/.test(name)) return 'cbc-sha1';
  return undefined;
}

// [id, IANA name]. All PSK, DHE_PSK, ECDHE_PSK and RSA_PSK suites of the
// registry (RFC 4279, 4785, 5487, 5489, 6209, 6367, 6655, 7905, 8442), the
// common RSA/ECDHE ones, and examples of every weakness class.
const SUITE_ROWS: readonly (readonly [number, string])[] = [
  // weak examples: NULL, EXPORT, anon, RC4, 3DES, MD5
  [0x0000, 'TLS_NULL_WITH_NULL_NULL'],
  [0x0001, 'TLS_RSA_WITH_NULL_MD5'],
  [0x0002, 'TLS_RSA_WITH_NULL_SHA'],
  [0x0003, 'TLS_RSA_EXPORT_WITH_RC4_40_MD5'],
  [0x0004, 'TLS_RSA_WITH_RC4_128_MD5'],
  [0x0005, 'TLS_RSA_WITH_RC4_128_SHA'],
  [0x0006, 'TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5'],
  [0x0008, 'TLS_RSA_EXPORT_WITH_DES40_CBC_SHA'],
  [0x000a, 'TLS_RSA_WITH_3DES_EDE_CBC_SHA'],
  [0x0014, 'TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA'],
  [0x0016, 'TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA'],
  [0x0017, 'TLS_DH_anon_EXPORT_WITH_RC4_40_MD5'],
  [0x0018, 'TLS_DH_anon_WITH_RC4_128_MD5'],
  [0x001b, 'TLS_DH_anon_WITH_3DES_EDE_CBC_SHA'],
  [0x0025, 'TLS_KRB5_WITH_IDEA_CBC_MD5'],
  [0x0034, 'TLS_DH_anon_WITH_AES_128_CBC_SHA'],
  [0x003a, 'TLS_DH_anon_WITH_AES_256_CBC_SHA'],
  [0x00a6, 'TLS_DH_anon_WITH_AES_128_GCM_SHA256'],
  [0xc006, 'TLS_ECDHE_ECDSA_WITH_NULL_SHA'],
  [0xc007, 'TLS_ECDHE_ECDSA_WITH_RC4_128_SHA'],
  [0xc008, 'TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA'],
  [0xc010, 'TLS_ECDHE_RSA_WITH_NULL_SHA'],
  [0xc011, 'TLS_ECDHE_RSA_WITH_RC4_128_SHA'],
  [0xc012, 'TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA'],
  [0xc015, 'TLS_ECDH_anon_WITH_NULL_SHA'],
  [0xc018, 'TLS_ECDH_anon_WITH_AES_128_CBC_SHA'],
  // RSA key transport
  [0x002f, 'TLS_RSA_WITH_AES_128_CBC_SHA'],
  [0x0035, 'TLS_RSA_WITH_AES_256_CBC_SHA'],
  [0x003b, 'TLS_RSA_WITH_NULL_SHA256'],
  [0x003c, 'TLS_RSA_WITH_AES_128_CBC_SHA256'],
  [0x003d, 'TLS_RSA_WITH_AES_256_CBC_SHA256'],
  [0x009c, 'TLS_RSA_WITH_AES_128_GCM_SHA256'],
  [0x009d, 'TLS_RSA_WITH_AES_256_GCM_SHA384'],
  [0xc09c, 'TLS_RSA_WITH_AES_128_CCM'],
  [0xc09d, 'TLS_RSA_WITH_AES_256_CCM'],
  [0xc0a0, 'TLS_RSA_WITH_AES_128_CCM_8'],
  [0xc0a1, 'TLS_RSA_WITH_AES_256_CCM_8'],
  // DHE / ECDHE with certificates
  [0x0033, 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA'],
  [0x009e, 'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256'],
  [0x009f, 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384'],
  [0xc009, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA'],
  [0xc00a, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA'],
  [0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'],
  [0xc014, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA'],
  [0xc023, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256'],
  [0xc024, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384'],
  [0xc027, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256'],
  [0xc028, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384'],
  [0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
  [0xc02c, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'],
  [0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
  [0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'],
  [0xc0ac, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM'],
  [0xc0ad, 'TLS_ECDHE_ECDSA_WITH_AES_256_CCM'],
  [0xc0ae, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
  [0xc0af, 'TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8'],
  [0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
  [0xcca9, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256'],
  // PSK family [RFC4279, RFC4785, RFC5487, RFC5489, RFC6209, RFC6367, RFC6655, RFC7905, RFC8442]
  [0x002c, 'TLS_PSK_WITH_NULL_SHA'],
  [0x002d, 'TLS_DHE_PSK_WITH_NULL_SHA'],
  [0x002e, 'TLS_RSA_PSK_WITH_NULL_SHA'],
  [0x008a, 'TLS_PSK_WITH_RC4_128_SHA'],
  [0x008b, 'TLS_PSK_WITH_3DES_EDE_CBC_SHA'],
  [0x008c, 'TLS_PSK_WITH_AES_128_CBC_SHA'],
  [0x008d, 'TLS_PSK_WITH_AES_256_CBC_SHA'],
  [0x008e, 'TLS_DHE_PSK_WITH_RC4_128_SHA'],
  [0x008f, 'TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA'],
  [0x0090, 'TLS_DHE_PSK_WITH_AES_128_CBC_SHA'],
  [0x0091, 'TLS_DHE_PSK_WITH_AES_256_CBC_SHA'],
  [0x0092, 'TLS_RSA_PSK_WITH_RC4_128_SHA'],
  [0x0093, 'TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA'],
  [0x0094, 'TLS_RSA_PSK_WITH_AES_128_CBC_SHA'],
  [0x0095, 'TLS_RSA_PSK_WITH_AES_256_CBC_SHA'],
  [0x00a8, 'TLS_PSK_WITH_AES_128_GCM_SHA256'],
  [0x00a9, 'TLS_PSK_WITH_AES_256_GCM_SHA384'],
  [0x00aa, 'TLS_DHE_PSK_WITH_AES_128_GCM_SHA256'],
  [0x00ab, 'TLS_DHE_PSK_WITH_AES_256_GCM_SHA384'],
  [0x00ac, 'TLS_RSA_PSK_WITH_AES_128_GCM_SHA256'],
  [0x00ad, 'TLS_RSA_PSK_WITH_AES_256_GCM_SHA384'],
  [0x00ae, 'TLS_PSK_WITH_AES_128_CBC_SHA256'],
  [0x00af, 'TLS_PSK_WITH_AES_256_CBC_SHA384'],
  [0x00b0, 'TLS_PSK_WITH_NULL_SHA256'],
  [0x00b1, 'TLS_PSK_WITH_NULL_SHA384'],
  [0x00b2, 'TLS_DHE_PSK_WITH_AES_128_CBC_SHA256'],
  [0x00b3, 'TLS_DHE_PSK_WITH_AES_256_CBC_SHA384'],
  [0x00b4, 'TLS_DHE_PSK_WITH_NULL_SHA256'],
  [0x00b5, 'TLS_DHE_PSK_WITH_NULL_SHA384'],
  [0x00b6, 'TLS_RSA_PSK_WITH_AES_128_CBC_SHA256'],
  [0x00b7, 'TLS_RSA_PSK_WITH_AES_256_CBC_SHA384'],
  [0x00b8, 'TLS_RSA_PSK_WITH_NULL_SHA256'],
  [0x00b9, 'TLS_RSA_PSK_WITH_NULL_SHA384'],
  [0xc033, 'TLS_ECDHE_PSK_WITH_RC4_128_SHA'],
  [0xc034, 'TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA'],
  [0xc035, 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA'],
  [0xc036, 'TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA'],
  [0xc037, 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256'],
  [0xc038, 'TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384'],
  [0xc039, 'TLS_ECDHE_PSK_WITH_NULL_SHA'],
  [0xc03a, 'TLS_ECDHE_PSK_WITH_NULL_SHA256'],
  [0xc03b, 'TLS_ECDHE_PSK_WITH_NULL_SHA384'],
  [0xc064, 'TLS_PSK_WITH_ARIA_128_CBC_SHA256'],
  [0xc065, 'TLS_PSK_WITH_ARIA_256_CBC_SHA384'],
  [0xc066, 'TLS_DHE_PSK_WITH_ARIA_128_CBC_SHA256'],
  [0xc067, 'TLS_DHE_PSK_WITH_ARIA_256_CBC_SHA384'],
  [0xc068, 'TLS_RSA_PSK_WITH_ARIA_128_CBC_SHA256'],
  [0xc069, 'TLS_RSA_PSK_WITH_ARIA_256_CBC_SHA384'],
  [0xc06a, 'TLS_PSK_WITH_ARIA_128_GCM_SHA256'],
  [0xc06b, 'TLS_PSK_WITH_ARIA_256_GCM_SHA384'],
  [0xc06c, 'TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256'],
  [0xc06d, 'TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384'],
  [0xc06e, 'TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256'],
  [0xc06f, 'TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384'],
  [0xc070, 'TLS_ECDHE_PSK_WITH_ARIA_128_CBC_SHA256'],
  [0xc071, 'TLS_ECDHE_PSK_WITH_ARIA_256_CBC_SHA384'],
  [0xc08e, 'TLS_PSK_WITH_CAMELLIA_128_GCM_SHA256'],
  [0xc08f, 'TLS_PSK_WITH_CAMELLIA_256_GCM_SHA384'],
  [0xc090, 'TLS_DHE_PSK_WITH_CAMELLIA_128_GCM_SHA256'],
  [0xc091, 'TLS_DHE_PSK_WITH_CAMELLIA_256_GCM_SHA384'],
  [0xc092, 'TLS_RSA_PSK_WITH_CAMELLIA_128_GCM_SHA256'],
  [0xc093, 'TLS_RSA_PSK_WITH_CAMELLIA_256_GCM_SHA384'],
  [0xc094, 'TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256'],
  [0xc095, 'TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384'],
  [0xc096, 'TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256'],
  [0xc097, 'TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384'],
  [0xc098, 'TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256'],
  [0xc099, 'TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384'],
  [0xc09a, 'TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256'],
  [0xc09b, 'TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384'],
  [0xc0a4, 'TLS_PSK_WITH_AES_128_CCM'],
  [0xc0a5, 'TLS_PSK_WITH_AES_256_CCM'],
  [0xc0a6, 'TLS_DHE_PSK_WITH_AES_128_CCM'],
  [0xc0a7, 'TLS_DHE_PSK_WITH_AES_256_CCM'],
  [0xc0a8, 'TLS_PSK_WITH_AES_128_CCM_8'],
  [0xc0a9, 'TLS_PSK_WITH_AES_256_CCM_8'],
  [0xc0aa, 'TLS_PSK_DHE_WITH_AES_128_CCM_8'],
  [0xc0ab, 'TLS_PSK_DHE_WITH_AES_256_CCM_8'],
  [0xccab, 'TLS_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  [0xccac, 'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  [0xccad, 'TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  [0xccae, 'TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  [0xd001, 'TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256'],
  [0xd002, 'TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384'],
  [0xd003, 'TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256'],
  [0xd005, 'TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256'],
  // signalling values, never selected by a server
  [0x00ff, 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV'],
  [0x5600, 'TLS_FALLBACK_SCSV'],
];

export const CIPHER_SUITES: readonly CipherSuite[] = SUITE_ROWS.map(([id, name]) => ({ id, name, weakness: weaknessOf(name) }));
export const SUITES_BY_ID: ReadonlyMap<number, CipherSuite> = new Map(CIPHER_SUITES.map((s) => [s.id, s]));
export const SUITE_IDS_BY_NAME: ReadonlyMap<string, number> = new Map(CIPHER_SUITES.map((s) => [s.name, s.id]));

export const suiteName = (id: number) => SUITES_BY_ID.get(id)?.name ?? hex4(id);

/** True for suites whose key exchange is (EC)DHE_PSK, RSA_PSK or plain PSK. */
export const isPskSuite = (id: number) => /^TLS_(?:(?:EC)?DHE_|RSA_)?PSK_/.test(SUITES_BY_ID.get(id)?.name ?? '');

// ---------------------------------------------------------------- bytes

function range(field: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${field}: ${v} is not an integer in 0..${max}`);
  return v;
}

/** Builds bytes front to back; encoders throw RangeError only for values no wire field can hold. */
class Writer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;
  private push(b: Uint8Array) {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }
  u8(field: string, v: number) {
    return this.push(Uint8Array.of(range(field, v, 0xff)));
  }
  u16(field: string, v: number) {
    range(field, v, 0xffff);
    return this.push(Uint8Array.of(v >>> 8, v & 0xff));
  }
  u24(field: string, v: number) {
    range(field, v, 0xffffff);
    return this.push(Uint8Array.of(v >>> 16, (v >>> 8) & 0xff, v & 0xff));
  }
  u48(field: string, v: number) {
    range(field, v, 2 ** 48 - 1);
    const hi = Math.floor(v / 2 ** 24);
    const lo = v % 2 ** 24;
    return this.push(Uint8Array.of(hi >>> 16, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 16, (lo >>> 8) & 0xff, lo & 0xff));
  }
  bytes(b: Uint8Array) {
    return this.push(b);
  }
  done(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** Reads front to back; every read returns undefined when the bytes run out. */
class Reader {
  constructor(
    readonly b: Uint8Array,
    public pos = 0,
    readonly end = b.length,
  ) {}
  left() {
    return this.end - this.pos;
  }
  u8(): number | undefined {
    if (this.left() < 1) return undefined;
    return this.b[this.pos++]!;
  }
  u16(): number | undefined {
    if (this.left() < 2) return undefined;
    const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  u24(): number | undefined {
    if (this.left() < 3) return undefined;
    const v = (this.b[this.pos]! << 16) | (this.b[this.pos + 1]! << 8) | this.b[this.pos + 2]!;
    this.pos += 3;
    return v;
  }
  u48(): number | undefined {
    if (this.left() < 6) return undefined;
    const hi = (this.b[this.pos]! << 16) | (this.b[this.pos + 1]! << 8) | this.b[this.pos + 2]!;
    const lo = (this.b[this.pos + 3]! << 16) | (this.b[this.pos + 4]! << 8) | this.b[this.pos + 5]!;
    this.pos += 6;
    return hi * 2 ** 24 + lo;
  }
  bytes(n: number): Uint8Array | undefined {
    if (this.left() < n) return undefined;
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** A plain Uint8Array view (a Buffer's subarray stays a Buffer, which compares unequal to Uint8Array). */
const view = (b: Uint8Array) => (Object.getPrototypeOf(b) === Uint8Array.prototype ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength));

const short = (field: string, r: Reader, need: number) => fail(field, `truncated: ${r.left()} byte(s) left, needs ${need}`);

function readU16(r: Reader, field: string): Parsed<number> {
  const v = r.u16();
  return v === undefined ? short(field, r, 2) : ok(v);
}

/** opaque field<min..max> with a `lenBytes`-byte length prefix. */
function readVector(r: Reader, field: string, lenBytes: 1 | 2, min: number, max: number): Parsed<Uint8Array> {
  const n = lenBytes === 1 ? r.u8() : r.u16();
  if (n === undefined) return short(`${field} length`, r, lenBytes);
  if (n < min || n > max) return fail(field, `length ${n} outside ${min}..${max}`);
  const b = r.bytes(n);
  if (b === undefined) return fail(field, `length says ${n}, ${r.left()} byte(s) follow`);
  return ok(b);
}

// ---------------------------------------------------------------- records [RFC6347 4.1]

export const RECORD_HEADER_LENGTH = 13;
export const MAX_SEQUENCE = 2 ** 48 - 1;

export interface DtlsRecord {
  readonly type: number;
  readonly version: number;
  readonly epoch: number;
  /** 48-bit record sequence number; exact in a double (< 2^53). */
  readonly sequence: number;
  readonly fragment: Uint8Array;
}

/** `length` overrides the length field (a hostile record that lies about its size). */
export function encodeRecord(r: DtlsRecord & { readonly length?: number }): Uint8Array {
  return new Writer()
    .u8('record.type', r.type)
    .u16('record.version', r.version)
    .u16('record.epoch', r.epoch)
    .u48('record.sequence', r.sequence)
    .u16('record.length', r.length ?? r.fragment.length)
    .bytes(r.fragment)
    .done();
}

/** One record at `offset`; `next` is where the following record starts. */
export function parseRecord(datagram: Uint8Array, offset = 0): Parsed<{ readonly record: DtlsRecord; readonly next: number }> {
  const r = new Reader(view(datagram), offset);
  if (r.left() < RECORD_HEADER_LENGTH) return fail('record.header', `${r.left()} byte(s) at offset ${offset}, a header needs ${RECORD_HEADER_LENGTH}`);
  const type = r.u8()!;
  const version = r.u16()!;
  const epoch = r.u16()!;
  const sequence = r.u48()!;
  const length = r.u16()!;
  const fragment = r.bytes(length);
  if (fragment === undefined) return fail('record.length', `says ${length}, ${r.left()} byte(s) follow at offset ${offset}`);
  return ok({ record: { type, version, epoch, sequence, fragment }, next: r.pos });
}

export interface RecordsParse {
  /** Every whole record, in datagram order. */
  readonly records: readonly DtlsRecord[];
  /** Bytes after the last whole record, and why they are not a record. */
  readonly trailing?: { readonly offset: number; readonly bytes: Uint8Array; readonly error: string };
}

/**
 * All records of one datagram [RFC6347 4.1.1: a datagram may hold several].
 * Record by record, never throwing: what parses is kept, the rest is
 * reported as trailing bytes with the reason.
 */
export function parseRecords(datagram: Uint8Array): RecordsParse {
  const b = view(datagram);
  const records: DtlsRecord[] = [];
  let at = 0;
  while (at < b.length) {
    const p = parseRecord(b, at);
    if (!p.ok) return { records, trailing: { offset: at, bytes: b.subarray(at), error: p.error } };
    records.push(p.value.record);
    at = p.value.next;
  }
  return { records };
}

// ---------------------------------------------------------------- handshake [RFC6347 4.2.2]

export const HANDSHAKE_HEADER_LENGTH = 12;

/** One handshake message or fragment of one. */
export interface HandshakeFragment {
  readonly msgType: number;
  /** Length of the whole message. */
  readonly length: number;
  readonly messageSeq: number;
  readonly fragmentOffset: number;
  /** The fragment's bytes; fragment_length is body.length. */
  readonly body: Uint8Array;
}

export interface HandshakeInput {
  readonly msgType: number;
  readonly messageSeq: number;
  readonly body: Uint8Array;
  /** Defaults to fragmentOffset + body.length (a whole message, or the last fragment). */
  readonly length?: number;
  readonly fragmentOffset?: number;
  /** Overrides the fragment_length field (a lie when it differs from body.length). */
  readonly fragmentLength?: number;
}

export function encodeHandshake(m: HandshakeInput): Uint8Array {
  const offset = m.fragmentOffset ?? 0;
  return new Writer()
    .u8('handshake.msg_type', m.msgType)
    .u24('handshake.length', m.length ?? offset + m.body.length)
    .u16('handshake.message_seq', m.messageSeq)
    .u24('handshake.fragment_offset', offset)
    .u24('handshake.fragment_length', m.fragmentLength ?? m.body.length)
    .bytes(m.body)
    .done();
}

/** One handshake header and fragment at `offset` of a record's fragment. */
export function parseHandshakeMessage(bytes: Uint8Array, offset = 0): Parsed<{ readonly message: HandshakeFragment; readonly next: number }> {
  const r = new Reader(view(bytes), offset);
  if (r.left() < HANDSHAKE_HEADER_LENGTH) return fail('handshake.header', `${r.left()} byte(s) at offset ${offset}, a header needs ${HANDSHAKE_HEADER_LENGTH}`);
  const msgType = r.u8()!;
  const length = r.u24()!;
  const messageSeq = r.u16()!;
  const fragmentOffset = r.u24()!;
  const fragmentLength = r.u24()!;
  if (fragmentOffset + fragmentLength > length)
    return fail('handshake.fragment_offset+fragment_length', `${fragmentOffset}+${fragmentLength} > length ${length}`);
  const body = r.bytes(fragmentLength);
  if (body === undefined) return fail('handshake.fragment_length', `says ${fragmentLength}, ${r.left()} byte(s) follow`);
  return ok({ message: { msgType, length, messageSeq, fragmentOffset, body }, next: r.pos });
}

/** Every handshake message in one record's fragment [RFC6347 4.2.3: a record may carry several]. */
export function parseHandshake(bytes: Uint8Array): Parsed<readonly HandshakeFragment[]> {
  const b = view(bytes);
  if (b.length === 0) return fail('handshake', 'empty record');
  const out: HandshakeFragment[] = [];
  let at = 0;
  while (at < b.length) {
    const p = parseHandshakeMessage(b, at);
    if (!p.ok) return p;
    out.push(p.value.message);
    at = p.value.next;
  }
  return ok(out);
}

/** True when the fragment is a whole message. */
export const isComplete = (f: HandshakeFragment) => f.fragmentOffset === 0 && f.body.length === f.length;

/**
 * Joins the fragments of one message [RFC6347 4.2.3]; overlaps are allowed
 * (later bytes win). Refuses fragments of different messages and gaps, and
 * allocates only once the fragments cover the message.
 */
export function reassemble(fragments: readonly HandshakeFragment[]): Parsed<HandshakeFragment> {
  const first = fragments[0];
  if (first === undefined) return fail('fragments', 'none');
  for (const f of fragments) {
    if (f.msgType !== first.msgType) return fail('fragments.msg_type', `${f.msgType} and ${first.msgType} in one message`);
    if (f.messageSeq !== first.messageSeq) return fail('fragments.message_seq', `${f.messageSeq} and ${first.messageSeq} in one message`);
    if (f.length !== first.length) return fail('fragments.length', `${f.length} and ${first.length} in one message`);
  }
  const sorted = [...fragments].sort((a, b) => a.fragmentOffset - b.fragmentOffset);
  let covered = 0;
  for (const f of sorted) {
    if (f.fragmentOffset > covered) return fail('fragments', `gap at byte ${covered} of ${first.length}`);
    covered = Math.max(covered, f.fragmentOffset + f.body.length);
  }
  if (covered < first.length) return fail('fragments', `gap at byte ${covered} of ${first.length}`);
  const body = new Uint8Array(first.length);
  for (const f of fragments) body.set(f.body, f.fragmentOffset);
  return ok({ msgType: first.msgType, length: first.length, messageSeq: first.messageSeq, fragmentOffset: 0, body });
}

// ---------------------------------------------------------------- extensions [RFC5246 7.4.1.4]

export interface Extension {
  readonly type: number;
  readonly data: Uint8Array;
}

/** For encoding only: `length` overrides extension_data's length field. */
export type ExtensionInput = Extension & { readonly length?: number };

function writeExtensions(w: Writer, exts: readonly ExtensionInput[], listLength: number | undefined) {
  const inner = new Writer();
  for (const e of exts) inner.u16('extension.type', e.type).u16('extension.length', e.length ?? e.data.length).bytes(e.data);
  const bytes = inner.done();
  w.u16('extensions length', listLength ?? bytes.length).bytes(bytes);
}

/** The extension list inside `extensions<0..2^16-1>` (without its length prefix). One of each type. */
export function parseExtensionList(bytes: Uint8Array, field = 'extensions'): Parsed<readonly Extension[]> {
  const r = new Reader(view(bytes));
  const out: Extension[] = [];
  const seen = new Set<number>();
  while (r.left() > 0) {
    const i = out.length;
    const type = r.u16();
    if (type === undefined) return short(`${field}[${i}].type`, r, 2);
    // (the field name is built only on error: this loop is on the hot path)
    const n = r.u16();
    if (n === undefined) return short(`${field}[${i}] (${extensionName(type)}) data length`, r, 2);
    const data = r.bytes(n);
    if (data === undefined) return fail(`${field}[${i}] (${extensionName(type)}) data`, `length says ${n}, ${r.left()} byte(s) follow`);
    // "There MUST NOT be more than one extension of the same type." [RFC5246 7.4.1.4]
    if (seen.has(type)) return fail(`${field}[${i}]`, `${extensionName(type)} appears twice`);
    seen.add(type);
    out.push({ type, data });
  }
  return ok(out);
}

const u16List = (field: string, values: readonly number[]) => {
  const w = new Writer();
  for (const v of values) w.u16(field, v);
  return w.done();
};
const vector16 = (field: string, items: Uint8Array) => new Writer().u16(`${field} length`, items.length).bytes(items).done();

export function supportedGroups(groups: readonly number[]): Extension {
  return { type: ExtensionType.supported_groups, data: vector16('supported_groups', u16List('named_group', groups)) };
}

export function signatureAlgorithms(schemes: readonly number[]): Extension {
  return { type: ExtensionType.signature_algorithms, data: vector16('signature_algorithms', u16List('signature_scheme', schemes)) };
}

/** ec_point_formats, uncompressed only by default [RFC8422 5.1.2]. */
export function ecPointFormats(formats: readonly number[] = [0]): Extension {
  return { type: ExtensionType.ec_point_formats, data: new Writer().u8('ec_point_formats length', formats.length).bytes(Uint8Array.from(formats)).done() };
}

/** Empty extension_data [RFC7627 5.1]. */
export const extendedMasterSecret = (): Extension => ({ type: ExtensionType.extended_master_secret, data: new Uint8Array(0) });

/** Empty extension_data [RFC7366 2]. */
export const encryptThenMac = (): Extension => ({ type: ExtensionType.encrypt_then_mac, data: new Uint8Array(0) });

/** renegotiated_connection<0..255>; empty on an initial handshake [RFC5746 3.2]. */
export function renegotiationInfo(verifyData: Uint8Array = new Uint8Array(0)): Extension {
  return { type: ExtensionType.renegotiation_info, data: new Writer().u8('renegotiated_connection length', verifyData.length).bytes(verifyData).done() };
}

/** The u16 list of supported_groups or signature_algorithms extension_data. */
export function parseU16List(data: Uint8Array, field: string): Parsed<readonly number[]> {
  const r = new Reader(view(data));
  const list = readVector(r, field, 2, 0, 0xfffe);
  if (!list.ok) return list;
  if (list.value.length % 2 !== 0) return fail(field, `odd length ${list.value.length}`);
  if (r.left() !== 0) return fail(field, `${r.left()} trailing byte(s)`);
  const out: number[] = [];
  for (let i = 0; i < list.value.length; i += 2) out.push((list.value[i]! << 8) | list.value[i + 1]!);
  return ok(out);
}

// ---------------------------------------------------------------- hellos [RFC5246 7.4.1.2, RFC6347 4.2.1]

export const RANDOM_LENGTH = 32;
export const MAX_SESSION_ID = 32;
export const MAX_COOKIE = 255;

export interface ClientHello {
  readonly version: number;
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly cookie: Uint8Array;
  readonly suites: readonly number[];
  readonly compression: readonly number[];
  /** undefined: no extensions block at all; []: an empty block. */
  readonly extensions?: readonly Extension[];
}

/** Length fields to write instead of the true ones. */
export interface ClientHelloLies {
  readonly sessionIdLength?: number;
  readonly cookieLength?: number;
  readonly suitesLength?: number;
  readonly compressionLength?: number;
  readonly extensionsLength?: number;
}

/** The ClientHello body (what goes after the handshake header). */
export function encodeClientHello(h: ClientHello & { readonly extensions?: readonly ExtensionInput[] }, lies: ClientHelloLies = {}): Uint8Array {
  const w = new Writer()
    .u16('client_hello.version', h.version)
    .bytes(h.random)
    .u8('client_hello.session_id length', lies.sessionIdLength ?? h.sessionId.length)
    .bytes(h.sessionId)
    .u8('client_hello.cookie length', lies.cookieLength ?? h.cookie.length)
    .bytes(h.cookie)
    .u16('client_hello.cipher_suites length', lies.suitesLength ?? h.suites.length * 2)
    .bytes(u16List('cipher_suite', h.suites))
    .u8('client_hello.compression_methods length', lies.compressionLength ?? h.compression.length)
    .bytes(Uint8Array.from(h.compression, (c) => range('compression_method', c, 0xff)));
  if (h.extensions !== undefined) writeExtensions(w, h.extensions, lies.extensionsLength);
  return w.done();
}

function readExtensionsBlock(r: Reader, field: string): Parsed<readonly Extension[] | undefined> {
  if (r.left() === 0) return ok(undefined); // extensions are optional [RFC5246 7.4.1.2]
  const block = readVector(r, field, 2, 0, 0xffff);
  if (!block.ok) return block;
  if (r.left() !== 0) return fail(field, `${r.left()} byte(s) after the extensions`);
  return parseExtensionList(block.value, field);
}

export function parseClientHello(body: Uint8Array): Parsed<ClientHello> {
  const r = new Reader(view(body));
  const version = readU16(r, 'client_hello.version');
  if (!version.ok) return version;
  const random = r.bytes(RANDOM_LENGTH);
  if (random === undefined) return short('client_hello.random', r, RANDOM_LENGTH);
  const sessionId = readVector(r, 'client_hello.session_id', 1, 0, MAX_SESSION_ID);
  if (!sessionId.ok) return sessionId;
  const cookie = readVector(r, 'client_hello.cookie', 1, 0, MAX_COOKIE);
  if (!cookie.ok) return cookie;
  // cipher_suites<2..2^16-2>, compression_methods<1..2^8-1> [RFC5246 7.4.1.2]
  const suitesLength = r.u16();
  if (suitesLength === undefined) return short('client_hello.cipher_suites length', r, 2);
  if (suitesLength < 2 || suitesLength > 0xfffe) return fail('client_hello.cipher_suites', `length ${suitesLength} outside 2..65534`);
  if (suitesLength % 2 !== 0) return fail('client_hello.cipher_suites', `odd length ${suitesLength}`);
  if (r.left() < suitesLength) return fail('client_hello.cipher_suites', `length says ${suitesLength}, ${r.left()} byte(s) follow`);
  const suites: number[] = [];
  for (let i = 0; i < suitesLength; i += 2) suites.push(r.u16()!);
  const compressionLength = r.u8();
  if (compressionLength === undefined) return short('client_hello.compression_methods length', r, 1);
  if (compressionLength < 1) return fail('client_hello.compression_methods', `length ${compressionLength} outside 1..255`);
  if (r.left() < compressionLength) return fail('client_hello.compression_methods', `length says ${compressionLength}, ${r.left()} byte(s) follow`);
  const compression: number[] = [];
  for (let i = 0; i < compressionLength; i++) compression.push(r.u8()!);
  const extensions = readExtensionsBlock(r, 'client_hello.extensions');
  if (!extensions.ok) return extensions;
  // two literals, not a spread: the spread cost more than the rest of the parse
  const hello = { version: version.value, random, sessionId: sessionId.value, cookie: cookie.value, suites, compression };
  if (extensions.value === undefined) return ok(hello);
  return ok({ version: hello.version, random, sessionId: hello.sessionId, cookie: hello.cookie, suites, compression, extensions: extensions.value });
}

export interface ServerHello {
  readonly version: number;
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly suite: number;
  readonly compression: number;
  readonly extensions?: readonly Extension[];
}

export function encodeServerHello(h: ServerHello): Uint8Array {
  const w = new Writer()
    .u16('server_hello.version', h.version)
    .bytes(h.random)
    .u8('server_hello.session_id length', h.sessionId.length)
    .bytes(h.sessionId)
    .u16('server_hello.cipher_suite', h.suite)
    .u8('server_hello.compression_method', h.compression);
  if (h.extensions !== undefined) writeExtensions(w, h.extensions, undefined);
  return w.done();
}

export function parseServerHello(body: Uint8Array): Parsed<ServerHello> {
  const r = new Reader(view(body));
  const version = readU16(r, 'server_hello.version');
  if (!version.ok) return version;
  const random = r.bytes(RANDOM_LENGTH);
  if (random === undefined) return short('server_hello.random', r, RANDOM_LENGTH);
  const sessionId = readVector(r, 'server_hello.session_id', 1, 0, MAX_SESSION_ID);
  if (!sessionId.ok) return sessionId;
  const suite = readU16(r, 'server_hello.cipher_suite');
  if (!suite.ok) return suite;
  const compression = r.u8();
  if (compression === undefined) return short('server_hello.compression_method', r, 1);
  const extensions = readExtensionsBlock(r, 'server_hello.extensions');
  if (!extensions.ok) return extensions;
  if (extensions.value === undefined) return ok({ version: version.value, random, sessionId: sessionId.value, suite: suite.value, compression });
  return ok({ version: version.value, random, sessionId: sessionId.value, suite: suite.value, compression, extensions: extensions.value });
}

export interface HelloVerifyRequest {
  /** RFC 6347 4.2.1: SHOULD be DTLS 1.0 (0xfeff) whatever version is negotiated. */
  readonly version: number;
  readonly cookie: Uint8Array;
}

export function encodeHelloVerifyRequest(h: HelloVerifyRequest): Uint8Array {
  return new Writer().u16('hello_verify_request.server_version', h.version).u8('hello_verify_request.cookie length', h.cookie.length).bytes(h.cookie).done();
}

export function parseHelloVerifyRequest(body: Uint8Array): Parsed<HelloVerifyRequest> {
  const r = new Reader(view(body));
  const version = readU16(r, 'hello_verify_request.server_version');
  if (!version.ok) return version;
  const cookie = readVector(r, 'hello_verify_request.cookie', 1, 0, MAX_COOKIE);
  if (!cookie.ok) return cookie;
  if (r.left() !== 0) return fail('hello_verify_request', `${r.left()} trailing byte(s)`);
  return ok({ version: version.value, cookie: cookie.value });
}

/** psk_identity_hint<0..2^16-1>, the first field of a PSK ServerKeyExchange [RFC4279 2, RFC5489 2]. */
export function parsePskIdentityHint(body: Uint8Array): Parsed<Uint8Array> {
  return readVector(new Reader(view(body)), 'server_key_exchange.psk_identity_hint', 2, 0, 0xffff);
}

// ---------------------------------------------------------------- alerts [RFC5246 7.2]

export interface Alert {
  readonly level: number;
  readonly description: number;
}

export const encodeAlert = (a: Alert): Uint8Array => new Writer().u8('alert.level', a.level).u8('alert.description', a.description).done();

export function parseAlert(bytes: Uint8Array): Parsed<Alert & { readonly name: string }> {
  if (bytes.length !== 2) return fail('alert', `${bytes.length} byte(s), an alert is 2`);
  const level = bytes[0]!;
  const description = bytes[1]!;
  if (level !== AlertLevel.warning && level !== AlertLevel.fatal) return fail('alert.level', `${level} is neither warning(1) nor fatal(2)`);
  return ok({ level, description, name: alertName(description) });
}

// ---------------------------------------------------------------- transcript text

const HANDSHAKE_LABELS: Readonly<Record<number, string>> = {
  0: 'HelloRequest',
  1: 'ClientHello',
  2: 'ServerHello',
  3: 'HelloVerifyRequest',
  4: 'NewSessionTicket',
  11: 'Certificate',
  12: 'ServerKeyExchange',
  13: 'CertificateRequest',
  14: 'ServerHelloDone',
  15: 'CertificateVerify',
  16: 'ClientKeyExchange',
  20: 'Finished',
};
export const handshakeLabel = (t: number) => HANDSHAKE_LABELS[t] ?? handshakeTypeName(t);

const extList = (exts: readonly Extension[] | undefined) => (exts === undefined ? '' : ` ext=[${exts.map((e) => extensionName(e.type)).join(',')}]`);

/** `ClientHello v1.2 suites=[TLS_PSK_WITH_AES_128_CCM_8] cookie=0B ext=[extended_master_secret]` */
export function describeClientHello(h: ClientHello): string {
  const sid = h.sessionId.length ? ` sid=${h.sessionId.length}B` : '';
  return `ClientHello ${versionLabel(h.version)} suites=[${h.suites.map(suiteName).join(',')}] cookie=${h.cookie.length}B${sid}${extList(h.extensions)}`;
}

export function describeServerHello(h: ServerHello): string {
  return `ServerHello ${versionLabel(h.version)} suite=${suiteName(h.suite)}${h.compression ? ` compression=${h.compression}` : ''}${extList(h.extensions)}`;
}

function describeHandshake(f: HandshakeFragment): string {
  const frag = isComplete(f) ? '' : ` [fragment ${f.fragmentOffset}+${f.body.length}/${f.length}]`;
  const seq = f.messageSeq ? ` seq=${f.messageSeq}` : '';
  if (isComplete(f)) {
    if (f.msgType === HandshakeType.client_hello) {
      const p = parseClientHello(f.body);
      return p.ok ? describeClientHello(p.value) + seq : `ClientHello (${p.error})`;
    }
    if (f.msgType === HandshakeType.server_hello) {
      const p = parseServerHello(f.body);
      return p.ok ? describeServerHello(p.value) + seq : `ServerHello (${p.error})`;
    }
    if (f.msgType === HandshakeType.hello_verify_request) {
      const p = parseHelloVerifyRequest(f.body);
      return p.ok ? `HelloVerifyRequest ${versionLabel(p.value.version)} cookie=${p.value.cookie.length}B` : `HelloVerifyRequest (${p.error})`;
    }
  }
  return `${handshakeLabel(f.msgType)}${seq} ${f.length}B${frag}`;
}

/** One line for a transcript: every record of the datagram, then any trailing bytes. */
export function describeDatagram(datagram: Uint8Array): string {
  const { records, trailing } = parseRecords(datagram);
  const parts = records.map((rec) => {
    const epoch = rec.epoch ? ` epoch=${rec.epoch}` : '';
    if (rec.epoch !== 0) return `${contentTypeName(rec.type)}${epoch} ${rec.fragment.length}B`;
    if (rec.type === ContentType.alert) {
      const a = parseAlert(rec.fragment);
      return a.ok ? `Alert ${alertLevelName(a.value.level)} ${a.value.name}(${a.value.description})` : `Alert (${a.error})`;
    }
    if (rec.type === ContentType.handshake) {
      const h = parseHandshake(rec.fragment);
      return h.ok ? h.value.map(describeHandshake).join(' | ') : `Handshake (${h.error})`;
    }
    if (rec.type === ContentType.change_cipher_spec) return 'ChangeCipherSpec';
    return `${contentTypeName(rec.type)} ${rec.fragment.length}B`;
  });
  if (trailing) parts.push(`${trailing.bytes.length}B not a record (${trailing.error})`);
  return parts.join(' | ') || 'empty datagram';
}
