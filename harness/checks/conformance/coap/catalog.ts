// The normative statements conformance.coap judges: server-side rules of
// RFC 7252 (CoAP), RFC 6690 (discovery), RFC 7959 (block-wise) and RFC 7641
// (observe) that a client sees on the wire, one entry each.
//
// Id scheme: `RFC<number>:<section>-<slug>`. The section is the one that
// states the rule; the slug names the rule in a few kebab-case words. Ids are
// stable: a statement that is dropped keeps its id retired, a new one gets a
// new slug, never a reused one. ETSI CoAP plugtest test descriptions
// (TD_COAP_CORE_xx, TD_COAP_LINK_xx, TD_COAP_BLOCK_xx, TD_COAP_OBS_xx) that
// exercise the same rule are named in the title as aliases.
//
// `rule` paraphrases what the RFC asks (never its text); it is a finding's
// "declared" side. `feature` is the optional feature the statement needs: a
// target whose declaration.conformance.notImplemented names it (or the id
// itself) gets the statement skipped, not failed.
//
// Reading of "reject" [RFC7252 4.2, 4.3]: a CON with a format error or a
// reserved code is rejected by a Reset, a NON by silence or a Reset. A server
// that drops a malformed CON in silence has not processed it either; these
// statements fail only when the message was processed (answered with a
// response code), and the reason says which of the two the server chose.

export type CoapSpec = 'RFC 7252' | 'RFC 6690' | 'RFC 7959' | 'RFC 7641';
export type CoapFeature = 'coap:observe' | 'coap:block1' | 'coap:block2' | 'coap:separate' | 'coap:discovery';

export interface CoapStatement {
  readonly id: string;
  readonly spec: CoapSpec;
  readonly title: string;
  readonly rule: string;
  /** MUST (a failure is a finding of severity low) or SHOULD (severity info). */
  readonly level: 'MUST' | 'SHOULD';
  readonly feature?: CoapFeature;
}

/** Statements the RFC words as a recommendation (SHOULD), or whose fail case is one. */
const SHOULD: ReadonlySet<string> = new Set([
  'RFC7252:4.5-duplicate-con',
  'RFC7252:4.5-duplicate-non',
  'RFC7252:5.2.3-non-response',
  'RFC7959:2.2-block2-beyond-end',
  'RFC7959:2.9.3-block1-too-large',
  'RFC7959:2.3-block1-final',
]);

const s = (spec: CoapSpec, id: string, title: string, rule: string, feature?: CoapFeature): CoapStatement => ({
  id,
  spec,
  title,
  rule,
  level: SHOULD.has(id) ? 'SHOULD' : 'MUST',
  ...(feature ? { feature } : {}),
});

export const SPECS: readonly CoapSpec[] = ['RFC 7252', 'RFC 6690', 'RFC 7959', 'RFC 7641'];

export const STATEMENTS: readonly CoapStatement[] = [
  // ---- RFC 7252: message format [3, 3.1, 3.2]
  s('RFC 7252', 'RFC7252:3-version-ignored', 'A message whose version is not 1 is silently ignored', 'Versions other than 1 are reserved; a message carrying one gets no reply at all [RFC7252 3].'),
  s('RFC 7252', 'RFC7252:3-version-1', 'Every message the server sends has version 1', 'An implementation of RFC 7252 writes 1 in the version field of every message [RFC7252 3].'),
  s('RFC 7252', 'RFC7252:3-token-length-reserved', 'A token length of 9-15 is a message format error: rejected, never processed', 'Token lengths 9 to 15 are reserved; a message carrying one is a format error and is rejected [RFC7252 3, 4.2].'),
  s('RFC 7252', 'RFC7252:3-token-length-sent', 'The server never sends a token length of 9-15', 'Token lengths 9 to 15 must not be sent [RFC7252 3].'),
  s('RFC 7252', 'RFC7252:3-payload-marker-empty', 'A payload marker followed by no payload is a message format error: rejected', 'A payload marker with a zero-length payload after it is a format error; the message is rejected [RFC7252 3, 4.2].'),
  s('RFC 7252', 'RFC7252:3-payload-marker-sent', 'The server never sends a payload marker without a payload', 'A sender writes the payload marker only when a non-empty payload follows [RFC7252 3].'),
  s('RFC 7252', 'RFC7252:3.1-option-delta-15', 'An option delta nibble of 15 outside the payload marker is a format error: rejected', 'Delta nibble 15 is reserved for the payload marker; anywhere else it is a message format error [RFC7252 3.1].'),
  s('RFC 7252', 'RFC7252:3.1-option-length-15', 'An option length nibble of 15 is a format error: rejected', 'Length nibble 15 is reserved; a message carrying it is a format error [RFC7252 3.1].'),
  s('RFC 7252', 'RFC7252:3.1-option-format-sent', 'Every option the server sends is well encoded (no reserved nibbles, no value past the end)', 'Options are encoded as delta and length nibbles with their extended bytes, within the datagram [RFC7252 3.1].'),
  s('RFC 7252', 'RFC7252:3.2-uint-leading-zeros', 'A uint option value with a leading zero byte means the same value', 'A sender should use the fewest bytes for a uint option, and a recipient must accept leading zero bytes [RFC7252 3.2].'),
  // ---- RFC 7252: messaging [4]
  s('RFC 7252', 'RFC7252:4.1-empty-with-content', 'An Empty message (0.00) carrying a token is a format error: rejected, not processed', 'An Empty message has token length 0 and nothing after the message id; anything else is a format error [RFC7252 4.1].'),
  s('RFC 7252', 'RFC7252:4.1-empty-sent', 'Every Empty message the server sends has no token and nothing after the message id', 'An Empty message (code 0.00) carries token length 0 and no bytes after the message id [RFC7252 4.1].'),
  s('RFC 7252', 'RFC7252:4.2-ack-message-id', 'A CON request is acknowledged by an ACK echoing its message id [TD_COAP_CORE_01]', 'A recipient acknowledges a Confirmable message with an Acknowledgement carrying the same message id [RFC7252 4.2].'),
  s('RFC 7252', 'RFC7252:4.2-reserved-class', 'A CON with a code of reserved class 1, 6 or 7 is rejected, never processed', 'A message using a reserved code class lacks context and is rejected: a Reset for a CON [RFC7252 4.2].'),
  s('RFC 7252', 'RFC7252:4.2-ack-ignored', 'An unexpected ACK (empty, or carrying a request) is silently ignored', 'An Acknowledgement that matches nothing, or that carries a request, is rejected by ignoring it in silence [RFC7252 4.2].'),
  s('RFC 7252', 'RFC7252:4.2-rst-ignored', 'An unexpected RST is silently ignored', 'A Reset that matches nothing is rejected by ignoring it in silence [RFC7252 4.2].'),
  s('RFC 7252', 'RFC7252:4.2-con-retransmitted', 'A CON the server sends and gets no ACK for is retransmitted with the same message id', 'A Confirmable message is retransmitted, same message id, with exponential back-off until acknowledged or MAX_RETRANSMIT is reached [RFC7252 4.2].'),
  s('RFC 7252', 'RFC7252:4.3-ping-reset', 'An Empty CON ("CoAP ping") is answered by a Reset echoing its message id [TD_COAP_CORE_31]', 'An Empty Confirmable message lacks context and is rejected with a Reset carrying the same message id; this is the CoAP ping [RFC7252 4.2, 4.3].'),
  s('RFC 7252', 'RFC7252:4.3-non-not-acknowledged', 'A NON request is never acknowledged with an ACK', 'A Non-confirmable message must not be acknowledged [RFC7252 4.3].'),
  s('RFC 7252', 'RFC7252:4.4-message-id-unique', 'The server does not reuse a message id for a different message to the same endpoint', 'A message id is not reused with the same endpoint within EXCHANGE_LIFETIME, except for retransmissions of the same message [RFC7252 4.4].'),
  s('RFC 7252', 'RFC7252:4.5-duplicate-con', 'A duplicate CON gets the same acknowledgement again and is processed once', 'A duplicate Confirmable message (same message id and endpoint) should be acknowledged again with the same Acknowledgement, its request processed only once [RFC7252 4.5].'),
  s('RFC 7252', 'RFC7252:4.5-duplicate-non', 'A duplicate NON request is ignored in silence: one response only', 'A duplicate Non-confirmable message should be silently ignored, its request processed only once [RFC7252 4.5].'),
  // ---- RFC 7252: request/response [5]
  s('RFC 7252', 'RFC7252:5.2.2-separate-response', 'A separate response follows its empty ACK in a new message with the request token [TD_COAP_CORE_09]', 'When the server first sends an empty Acknowledgement, the response comes later in its own CON or NON message carrying the request token [RFC7252 5.2.2].', 'coap:separate'),
  s('RFC 7252', 'RFC7252:5.2.3-non-response', 'A NON request is answered by a NON (or CON) response [TD_COAP_CORE_05]', 'A response to a Non-confirmable request should itself be Non-confirmable; a Confirmable one is allowed [RFC7252 5.2.3].'),
  s('RFC 7252', 'RFC7252:5.3.2-token-echo', 'A response carries the token of its request, empty and 8-byte tokens included [TD_COAP_CORE_10, TD_COAP_CORE_12]', 'The response echoes the request token byte for byte, whatever its length 0-8 [RFC7252 5.3.2].'),
  s('RFC 7252', 'RFC7252:5.4.1-critical-con-4.02', 'An unrecognised critical option in a CON request gets 4.02 Bad Option', 'An unrecognised option of the critical class in a Confirmable request causes a 4.02 Bad Option response [RFC7252 5.4.1].'),
  s('RFC 7252', 'RFC7252:5.4.1-critical-non-rejected', 'An unrecognised critical option in a NON request gets the message rejected (no response)', 'An unrecognised critical option in a Non-confirmable message causes the message to be rejected: silence or a Reset, no response [RFC7252 5.4.1, 4.3].'),
  s('RFC 7252', 'RFC7252:5.4.1-elective-ignored', 'An unrecognised elective option is ignored', 'An unrecognised option of the elective class is silently ignored: the request is answered as without it [RFC7252 5.4.1].'),
  s('RFC 7252', 'RFC7252:5.4.3-length-out-of-range', 'An option value longer than its range is treated as unrecognised (critical: 4.02)', 'An option whose value length is outside the defined range is treated like an unrecognised option [RFC7252 5.4.3].'),
  s('RFC 7252', 'RFC7252:5.4.3-lengths-sent', 'Every option the server sends has a value length within its defined range', 'Option values are sent within the lengths the option definition allows [RFC7252 5.4.3, 5.10].'),
  s('RFC 7252', 'RFC7252:5.4.5-repeated-critical-4.02', 'A repeated non-repeatable critical option gets 4.02 Bad Option', 'Supernumerary occurrences of a non-repeatable option are treated like unrecognised options; for a critical option in a CON request that means 4.02 [RFC7252 5.4.5].'),
  s('RFC 7252', 'RFC7252:5.4.5-repeated-elective-ignored', 'A repeated non-repeatable elective option is ignored', 'Supernumerary occurrences of a non-repeatable elective option are ignored like unrecognised elective options [RFC7252 5.4.5].'),
  s('RFC 7252', 'RFC7252:5.4.5-no-supernumerary-sent', 'The server never repeats a non-repeatable option', 'An option defined as not repeatable occurs at most once in a message [RFC7252 5.4.5].'),
  s('RFC 7252', 'RFC7252:5.8-unknown-method-4.05', 'A request with an unknown method code gets 4.05 Method Not Allowed', 'A request with an unrecognised or unsupported method code generates a 4.05 Method Not Allowed piggybacked response [RFC7252 5.8].'),
  s('RFC 7252', 'RFC7252:5.9-response-codes', 'Every non-empty message the server sends carries a response code (class 2, 4 or 5)', 'Response codes are of class 2 (success), 4 (client error) or 5 (server error) [RFC7252 5.9, 12.1.2].'),
  s('RFC 7252', 'RFC7252:5.9.1.3-valid-etag', 'A 2.03 Valid response carries the ETag and no payload [TD_COAP_CORE_21]', 'A 2.03 Valid response includes an ETag option and no payload [RFC7252 5.9.1.3].'),
  s('RFC 7252', 'RFC7252:5.10.1-uri-host-default', 'A Uri-Host equal to the destination IP literal is the same request as without it', 'The default value of Uri-Host is the IP literal of the destination address; sending it explicitly names the same resource [RFC7252 5.10.1, 6.4].'),
  s('RFC 7252', 'RFC7252:5.10.1-uri-port-default', 'A Uri-Port equal to the destination port is the same request as without it', 'The default value of Uri-Port is the destination UDP port; sending it explicitly names the same resource [RFC7252 5.10.1].'),
  s('RFC 7252', 'RFC7252:5.10.2-proxy-uri-5.05', 'Proxy-Uri to a server that is not a forward proxy gets 5.05 Proxying Not Supported', 'An endpoint unable or unwilling to act as forward proxy for a request carrying Proxy-Uri returns 5.05 Proxying Not Supported [RFC7252 5.7.2, 5.10.2].'),
  s('RFC 7252', 'RFC7252:5.10.2-proxy-scheme-5.05', 'Proxy-Scheme to a server that is not a forward proxy gets 5.05 Proxying Not Supported', 'A request carrying Proxy-Scheme is a forward-proxy request; an endpoint that is no forward proxy returns 5.05 [RFC7252 5.7.2, 5.10.2].'),
  s('RFC 7252', 'RFC7252:5.10.4-accept-4.06', 'An Accept naming a format the resource cannot return gets 4.06 Not Acceptable [TD_COAP_CORE_20]', 'If the Content-Format named by Accept cannot be returned, the response is 4.06 Not Acceptable unless another error takes precedence [RFC7252 5.10.4].'),
  // ---- RFC 6690: discovery
  s('RFC 6690', 'RFC6690:4-well-known-core', 'GET /.well-known/core answers 2.05 with Content-Format 40 (link-format) [TD_COAP_LINK_01]', 'The resource directory of a server is at /.well-known/core and is served as application/link-format, Content-Format 40 [RFC6690 4, 7.2; RFC7252 7.2, 12.3].', 'coap:discovery'),
  s('RFC 6690', 'RFC6690:2-link-format', 'The /.well-known/core payload is valid link-format [TD_COAP_LINK_01]', 'A link-format document is a comma-separated list of <URI-reference> links, each followed by ;-separated attributes [RFC6690 2].', 'coap:discovery'),
  s('RFC 6690', 'RFC6690:4.1-query-filter', 'A filtered discovery returns only matching links, or ignores the filter [TD_COAP_LINK_02]', 'A query on /.well-known/core filters the links by attribute; a server that does not filter returns the whole list, never a partial non-matching one [RFC6690 4.1].', 'coap:discovery'),
  // ---- RFC 7959: block-wise
  s('RFC 7959', 'RFC7959:2.2-block2-num', 'A Block2 response carries the requested block: NUM at its offset [TD_COAP_BLOCK_01]', 'In a Block2 response NUM is the number of the block carried; the payload is the bytes at NUM x size [RFC7959 2.2, 2.4].', 'coap:block2'),
  s('RFC 7959', 'RFC7959:2.2-block2-more', 'Block2 M is set on all blocks but the last; every non-last block is exactly the block size', 'The M bit tells whether more blocks follow; all blocks but the last carry exactly 2^(SZX+4) bytes [RFC7959 2.2].', 'coap:block2'),
  s('RFC 7959', 'RFC7959:2.2-block2-szx', 'The server answers at the requested block size or smaller, never larger [TD_COAP_BLOCK_06]', 'A client asking a block size in Block2 gets that size or a smaller one chosen by the server [RFC7959 2.2, 2.4].', 'coap:block2'),
  s('RFC 7959', 'RFC7959:2.4-block2-random-access', 'Any block at any size returns the representation bytes at its offset (late negotiation) [TD_COAP_BLOCK_02]', 'A client may ask for blocks in any order and change the size; each answer carries the bytes at the requested offset [RFC7959 2.4, 2.3].', 'coap:block2'),
  s('RFC 7959', 'RFC7959:2.2-block2-beyond-end', 'A Block2 request past the end gets an error or an empty last block, never data', 'A block whose offset is past the end of the representation cannot be served: an error such as 4.02, or an empty final block; not data, not M set [RFC7959 2.2].', 'coap:block2'),
  s('RFC 7959', 'RFC7959:2.2-szx-7-4.00', 'A request with a block SZX of 7 (reserved) gets 4.00 Bad Request', 'SZX 7 is reserved, must not be sent, and leads to 4.00 Bad Request when received in a request [RFC7959 2.2].', 'coap:block2'),
  s('RFC 7959', 'RFC7959:4-size2', 'Size2 in a Block2 response, when given, is the size of the representation', 'Size2 in a response gives the size of the resource representation; a request with Size2 0 asks for it [RFC7959 4].', 'coap:block2'),
  s('RFC 7959', 'RFC7959:2.3-block1-continue', 'A non-final Block1 request is answered 2.31 Continue echoing its block number [TD_COAP_BLOCK_03]', 'A server acknowledges a non-final block of an atomic Block1 transfer with 2.31 Continue and a Block1 option echoing the block number [RFC7959 2.3, 2.9.1].', 'coap:block1'),
  s('RFC 7959', 'RFC7959:2.3-block1-final', 'The final Block1 request gets a final response (not 2.31 or 4.08); a 2.xx one carries Block1', 'The response to the last block of a Block1 transfer is the final response; a success carries Block1 naming the block [RFC7959 2.3].', 'coap:block1'),
  s('RFC 7959', 'RFC7959:2.9.2-block1-incomplete-4.08', 'The last Block1 block of a body with a gap gets 4.08 Request Entity Incomplete, never a 2.xx', 'A server that has not received the blocks it needs to proceed answers 4.08 Request Entity Incomplete; it cannot accept a body with a hole [RFC7959 2.5, 2.9.2].', 'coap:block1'),
  s('RFC 7959', 'RFC7959:2.9.3-block1-too-large', 'A Block1 upload announcing a body too large gets 4.13 with Size1', 'A 4.13 Request Entity Too Large to a Block1 request should carry Size1 with the largest body the server accepts [RFC7959 2.9.3, 4; RFC7252 5.9.2.9].', 'coap:block1'),
  // ---- RFC 7641: observe
  s('RFC 7641', 'RFC7641:4.1-register', 'GET with Observe=0 on an observable resource registers: the 2.xx response carries Observe [TD_COAP_OBS_01]', 'A registration adds the client and token to the observers; a response with Observe is a notification, one without means the server declined and the GET fell back to a plain one [RFC7641 2, 4.1].', 'coap:observe'),
  s('RFC 7641', 'RFC7641:4.2-notification-token', 'Every notification carries the token of its registration [TD_COAP_OBS_09]', 'Notifications are responses to the registration: they carry its token [RFC7641 3.2, 4.2].', 'coap:observe'),
  s('RFC 7641', 'RFC7641:4.4-observe-sequence', 'Observe values of successive notifications increase (24-bit serial arithmetic)', 'The Observe value of each notification is the low 24 bits of a strictly increasing sequence number, so a client can detect reordering [RFC7641 3.4, 4.4].', 'coap:observe'),
  s('RFC 7641', 'RFC7641:2-deregister-get', 'GET with Observe=1 and the registration token ends the notifications [TD_COAP_OBS_12]', 'Observe=1 in a GET removes the client/token entry from the observers, if present [RFC7641 2, 3.6].', 'coap:observe'),
  s('RFC 7641', 'RFC7641:4.5-rst-removes-observer', 'A notification answered by a Reset removes the observer [TD_COAP_OBS_06]', 'A client rejecting a notification with a Reset is removed from the list of observers [RFC7641 3.6, 4.5].', 'coap:observe'),
  s('RFC 7641', 'RFC7641:4.1-reregister-replaces', 'A second registration with the same token replaces the first: one notification per change', 'A registration whose endpoint and token are already in the list replaces or updates that entry, never adds a second [RFC7641 4.1].', 'coap:observe'),
  s('RFC 7641', 'RFC7641:2-register-is-get', 'A GET with Observe=0 is answered as the same GET without it (same code)', 'Observe in a GET extends the GET: the registration still retrieves the current representation, or gets the error a plain GET gets [RFC7641 2, 4.1].', 'coap:observe'),
  s('RFC 7641', 'RFC7641:4.2-error-no-observe', 'A non-2.xx response to a registration carries no Observe option', 'Only 2.xx notifications carry Observe; an error response ends the observation and carries none [RFC7641 4.2].', 'coap:observe'),
];

export const STATEMENT_IDS: readonly string[] = STATEMENTS.map((x) => x.id);

const BY_ID: ReadonlyMap<string, CoapStatement> = new Map(STATEMENTS.map((x) => [x.id, x]));

export function statementOf(id: string): CoapStatement {
  const st = BY_ID.get(id);
  if (!st) throw new RangeError(`conformance.coap: no statement ${id}`);
  return st;
}
