// The named flaws of the reference device: each switches on exactly one
// weakness a Gauntlet check looks for, so the flaw-matrix tests can prove
// every check fails on its flaw and passes on the hardened device.

import { GauntletError } from '../../harness/core/errors.js';

export const FLAWS = [
  'default-credentials',
  'derived-credentials',
  'anonymous-mqtt',
  'anonymous-http',
  'anonymous-coap-config',
  'no-lockout',
  'no-forced-change',
  'password-prefix-match',
  'acl-wildcard-leak',
  'acl-prefix-match',
  'will-bypass',
  'retained-bypass',
  'coap-hidden-resource',
  'coap-method-confusion',
  'http-idor',
  'http-path-normalisation',
  'debug-port',
  'verbose-errors',
  'unsigned-accepted',
  'digest-only',
  'manifest-only-signature',
  'rollback-allowed',
  'update-no-auth',
  'brick-on-interrupt',
  'pull-any-certificate',
  'dtls-no-cookie',
  'dtls-weak-suite',
  'dtls-default-psk',
  'dtls-no-replay-window',
  'dtls-crash-fragment',
  'plaintext-credentials',
  'tls-legacy-version',
  'mqtt-crash-remaining-length',
  'mqtt-hang-qos2',
  'coap-crash-option',
  'coap-block-leak',
  'http-crash-header',
  'no-connection-limit',
  'slow-request-starvation',
] as const;

export type Flaw = (typeof FLAWS)[number];

export const FLAW_INFO: Readonly<Record<Flaw, string>> = Object.freeze({
  'default-credentials': 'a hard-coded extra account support/support (role admin) exists on MQTT and HTTP',
  'derived-credentials': 'a hard-coded extra account "service" whose password is the last 6 hex digits of the MAC (role admin)',
  'anonymous-mqtt': 'the MQTT broker accepts a CONNECT without user name, with full rights',
  'anonymous-http': 'GET /api/status, /api/config and /api/users answer without a session',
  'anonymous-coap-config': 'plain CoAP GET and PUT /config work without authentication',
  'no-lockout': 'failed logins are never throttled: unlimited password guessing',
  'no-forced-change': 'a factory-fresh unit grants access with the shipped password without demanding a change',
  'password-prefix-match': 'the password check refuses an empty password but accepts any non-empty prefix of the stored one (memcmp with the caller\'s length)',
  'acl-wildcard-leak': 'any authenticated MQTT client may subscribe to "#" (or any filter made only of wildcards) and receives every message on every non-$ topic',
  'acl-prefix-match': 'the MQTT ACL compares by string prefix: sensor-1\'s "devices/sensor-1/#" also allows "devices/sensor-10/..." for publish, subscribe and delivery',
  'will-bypass': 'the will message is published without checking the publish ACL of its topic',
  'retained-bypass': 'an unauthorised PUBLISH with retain=1 is not delivered live but is stored as the retained message of its topic',
  'coap-hidden-resource': 'an undeclared CoAP resource /debug, missing from /.well-known/core, serves internal state (uptime, heap, admin session)',
  'coap-method-confusion': 'CoAP DELETE /sensors/temperature answers 2.02 Deleted and resets the reading although only GET is declared',
  'http-idor': 'GET /api/users/{user} returns any user\'s record to any authenticated principal',
  'http-path-normalisation': 'HTTP authorization is checked on the raw path while the router normalises it: //api/config, /api/./config, /api/%63onfig need no session',
  'debug-port': 'an undeclared TCP debug shell listens on port 2323 (banner "RD-1 debug shell", echoes lines)',
  'verbose-errors': 'HTTP replies carry Server/X-Powered-By with product and version, error bodies a firmware version and a stack trace; CoAP 4.xx replies a version diagnostic',
  'unsigned-accepted': 'a firmware image whose 64 signature bytes are all zero (a "development build") installs without signature verification; other signatures are still verified',
  'digest-only': 'firmware installs check the payload SHA-256 but never the signature: anyone can build an image that installs',
  'manifest-only-signature': 'the firmware signature covers the 128-byte manifest only (so do the vendor images) and the payload digest is not checked: any payload behind a genuine manifest installs',
  'rollback-allowed': 'the firmware version is not compared: an older (or the same) validly signed image installs',
  'update-no-auth': 'POST /api/firmware installs images without a session and for any role',
  'brick-on-interrupt': 'an upload to POST /api/firmware that is cut before its end erases the running image: GET /api/status answers 503 "no bootable image" until a valid image installs',
  'pull-any-certificate':
    'the pull update (an admin MQTT publish of {"url": ...} to devices/rd1/cmd/update) fetches without verifying the server certificate: a self-signed, expired or wrong-host certificate is accepted',
  'dtls-no-cookie': 'the coaps DTLS server answers a ClientHello without a cookie with a full ServerHello flight and keeps handshake state: no HelloVerifyRequest (an amplification and state-exhaustion vector)',
  'dtls-weak-suite': 'the coaps DTLS server also accepts TLS_PSK_WITH_AES_128_CBC_SHA and TLS_PSK_WITH_NULL_SHA256 (no encryption), neither declared, when a client offers only those',
  'dtls-default-psk': 'coaps accepts the PSK identity "Client_identity" with key "secretPSK" (OpenSSL\'s and libcoap\'s example credentials), the same on every unit',
  'dtls-no-replay-window': 'the coaps DTLS server has no replay window: a captured application record sent again is decrypted and processed again',
  'dtls-crash-fragment': 'a DTLS handshake fragment whose fragment_offset + fragment_length exceeds its message length throws in the coaps server and kills it: coaps answers nothing afterwards',
  'plaintext-credentials':
    'the plaintext listeners serve what the TLS ones do: MQTT CONNECT with a user name and password is accepted on the plain MQTT port, and POST /api/login (and the whole API) on the plain HTTP port, so credentials and session tokens travel in clear',
  'tls-legacy-version': 'mqtts and https also accept TLS 1.0 and TLS 1.1 (OpenSSL security level 0, so SHA-1 MAC suites too)',
  'mqtt-crash-remaining-length': 'an MQTT fixed header whose remaining length takes a 5th byte kills the MQTT service (plain and TLS); the watchdog restarts it, sessions lost',
  'mqtt-hang-qos2': 'PUBREL for a packet id with no QoS 2 PUBLISH in flight (a duplicate PUBREL too) wedges the MQTT service: no new connection is answered until the watchdog restarts it (5 s)',
  'coap-crash-option': 'a CoAP option whose extended delta takes the option number past 65535 kills the plain CoAP service; the watchdog restarts it',
  'coap-block-leak': 'plain CoAP trusts Size1 of a Block1 transfer, pre-allocates it and never frees abandoned transfers: past 64 MiB the CoAP service dies (out of memory)',
  'http-crash-header':
    'an HTTP request target or header value over 1 KiB, or a malformed Host header (two of them, a port past 65535, characters no host has), kills the HTTP service (plain and TLS); the watchdog restarts it, sessions lost',
  'no-connection-limit':
    'the unit\'s 64 TCP connection slots (MQTT, MQTTS, HTTP and HTTPS together) have no per-service cap, no idle timeout and no eviction: connections that send nothing are kept for ever, and once the slots are taken every new connection waits unanswered in the backlog',
  'slow-request-starvation':
    'the HTTP API reads at most 8 request heads at once and sets no header deadline: 8 connections that send a request head a byte at a time (slowloris) hold every reader, and every other client waits unanswered until they finish',
});

export function isFlaw(name: string): name is Flaw {
  return (FLAWS as readonly string[]).includes(name);
}

/** Parses a comma-separated flaw list ("a,b"); blanks are ignored, duplicates collapsed. */
export function parseFlaws(list: string): Flaw[] {
  const out: Flaw[] = [];
  for (const raw of list.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    if (!isFlaw(name)) {
      throw new GauntletError('USAGE', `unknown flaw "${name}"; known: ${FLAWS.join(', ')}`);
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}
