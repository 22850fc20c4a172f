// Facts about the libcoap the interop suites run (Debian libcoap3-bin 4.3.1,
// coap-server-openssl on OpenSSL 3), measured, shared by its suites.

/** The suites it selects when offered one alone (transport.dtls-handshake's test probes the whole table for this). */
export const LIBCOAP_SUITES: string[] = [
  'TLS_PSK_WITH_AES_128_GCM_SHA256',
  'TLS_PSK_WITH_AES_256_GCM_SHA384',
  'TLS_PSK_WITH_ARIA_128_GCM_SHA256',
  'TLS_PSK_WITH_ARIA_256_GCM_SHA384',
  'TLS_PSK_WITH_AES_128_CCM',
  'TLS_PSK_WITH_AES_256_CCM',
  'TLS_PSK_WITH_AES_128_CCM_8',
  'TLS_PSK_WITH_AES_256_CCM_8',
  'TLS_PSK_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256',
];
