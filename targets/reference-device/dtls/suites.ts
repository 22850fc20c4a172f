// The PSK cipher suites the device's DTLS server can speak, and what each one
// needs from the key block and the record layer. All use the TLS 1.2 PRF with
// SHA-256 (RFC 5246 5; RFC 4279 suites keep their SHA-1 MAC but not the PRF).

export const SUITES = {
  TLS_PSK_WITH_AES_128_CCM_8: 0xc0a8, // RFC 6655
  TLS_PSK_WITH_AES_128_GCM_SHA256: 0x00a8, // RFC 5487
  TLS_PSK_WITH_AES_128_CBC_SHA: 0x008c, // RFC 4279
  TLS_PSK_WITH_NULL_SHA256: 0x00b0, // RFC 5487
} as const;

export type SuiteName = keyof typeof SUITES;

/** How records are protected: AEAD with an 8- or 16-byte tag, MAC-then-encrypt CBC, or MAC only. */
export type RecordCipher = 'aes-128-ccm-8' | 'aes-128-gcm' | 'aes-128-cbc' | 'null';

export interface SuiteParams {
  readonly id: number;
  readonly name: SuiteName;
  readonly cipher: RecordCipher;
  /** HMAC hash of MAC-based suites; undefined for AEAD. */
  readonly macHash: 'sha1' | 'sha256' | undefined;
  readonly macKeyLength: number;
  readonly encKeyLength: number;
  /** The implicit part of the AEAD nonce (RFC 5288 3, RFC 6655 3); 0 for CBC (explicit IV per record) and NULL. */
  readonly fixedIvLength: number;
}

const PARAMS: readonly SuiteParams[] = [
  { id: SUITES.TLS_PSK_WITH_AES_128_CCM_8, name: 'TLS_PSK_WITH_AES_128_CCM_8', cipher: 'aes-128-ccm-8', macHash: undefined, macKeyLength: 0, encKeyLength: 16, fixedIvLength: 4 },
  { id: SUITES.TLS_PSK_WITH_AES_128_GCM_SHA256, name: 'TLS_PSK_WITH_AES_128_GCM_SHA256', cipher: 'aes-128-gcm', macHash: undefined, macKeyLength: 0, encKeyLength: 16, fixedIvLength: 4 },
  { id: SUITES.TLS_PSK_WITH_AES_128_CBC_SHA, name: 'TLS_PSK_WITH_AES_128_CBC_SHA', cipher: 'aes-128-cbc', macHash: 'sha1', macKeyLength: 20, encKeyLength: 16, fixedIvLength: 0 },
  { id: SUITES.TLS_PSK_WITH_NULL_SHA256, name: 'TLS_PSK_WITH_NULL_SHA256', cipher: 'null', macHash: 'sha256', macKeyLength: 32, encKeyLength: 0, fixedIvLength: 0 },
];

export const SUITE_PARAMS: ReadonlyMap<number, SuiteParams> = new Map(PARAMS.map((p) => [p.id, p]));

/** The suite's name, or its number in hex for one this server does not know. */
export function suiteName(id: number): string {
  return SUITE_PARAMS.get(id)?.name ?? `0x${id.toString(16).padStart(4, '0')}`;
}
