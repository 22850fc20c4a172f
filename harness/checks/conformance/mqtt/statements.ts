// The server-side normative statements of MQTT 3.1.1 (OASIS Standard, 29
// October 2014, Appendix B) and MQTT 5.0 (OASIS Standard, 7 March 2019,
// Appendix B) that conformance.mqtt judges, by each spec's own numbering,
// with a one-line paraphrase (never the spec's text) and the optional
// features a statement needs. A requirement id is `<spec>:<statement>`:
// `MQTT-3.1.1:MQTT-3.1.0-2`, `MQTT-5.0:MQTT-3.1.0-2`.
//
// Two 3.1.1 ids are misprinted in the standard ([MQTT-3.1.2.7],
// [MQTT-3-8.3-4]); they are written here as MQTT-3.1.2-7 and MQTT-3.8.3-4.
//
// Features a target can declare not implemented
// (declaration.conformance.notImplemented), so their statements are skipped:
// mqtt:qos1, mqtt:qos2, mqtt:retain, mqtt:will, mqtt:persistent-session,
// mqtt:wildcards, mqtt:topic-alias, mqtt:subscription-identifiers,
// mqtt:shared-subscriptions, mqtt:will-delay, mqtt:message-expiry; and
// mqtt:3.1.1 or mqtt:5.0 for a
// whole protocol version.

import type { Version } from './frames.js';

export type Feature =
  | 'mqtt:qos1'
  | 'mqtt:qos2'
  | 'mqtt:retain'
  | 'mqtt:will'
  | 'mqtt:persistent-session'
  | 'mqtt:wildcards'
  | 'mqtt:topic-alias'
  | 'mqtt:subscription-identifiers'
  | 'mqtt:shared-subscriptions'
  | 'mqtt:will-delay'
  | 'mqtt:message-expiry';

export interface Statement {
  readonly version: Version;
  /** The spec's own id, e.g. `MQTT-3.1.0-2`. */
  readonly id: string;
  /** Paraphrase, one line. */
  readonly text: string;
  readonly features?: readonly Feature[];
}

export const SPEC: Readonly<Record<Version, string>> = { 4: 'MQTT-3.1.1', 5: 'MQTT-5.0' };
export const SPEC_NAME: Readonly<Record<Version, string>> = { 4: 'MQTT 3.1.1', 5: 'MQTT 5.0' };
/** The declaration feature that switches a whole protocol version off. */
export const VERSION_FEATURE: Readonly<Record<Version, string>> = { 4: 'mqtt:3.1.1', 5: 'mqtt:5.0' };

export const requirementId = (version: Version, id: string): string => `${SPEC[version]}:${id}`;

type Row = readonly [id: string, text: string, features?: readonly Feature[]];

const W: readonly Feature[] = ['mqtt:will'];
const R: readonly Feature[] = ['mqtt:retain'];
const S: readonly Feature[] = ['mqtt:persistent-session'];
const Q1: readonly Feature[] = ['mqtt:qos1'];
const Q2: readonly Feature[] = ['mqtt:qos2'];
const WC: readonly Feature[] = ['mqtt:wildcards'];

const V4: readonly Row[] = [
  ['MQTT-1.5.3-1', 'A packet with ill-formed UTF-8 in a string makes the server close the connection'],
  ['MQTT-1.5.3-2', 'A packet with U+0000 in a string makes the server close the connection'],
  ['MQTT-1.5.3-3', 'A U+FEFF (BOM) sequence in a string is kept, never skipped or stripped'],
  ['MQTT-2.2.2-1', "Reserved fixed-header flag bits in the server's packets have the table's values"],
  ['MQTT-2.2.2-2', 'A packet with invalid fixed-header flags makes the server close the connection'],
  ['MQTT-2.3.1-1', 'A QoS > 0 PUBLISH the server sends carries a non-zero packet identifier', Q1],
  ['MQTT-2.3.1-4', 'The server re-sends a QoS > 0 PUBLISH with its original packet identifier', [...Q1, ...S]],
  ['MQTT-2.3.1-5', 'A QoS 0 PUBLISH the server sends carries no packet identifier'],
  ['MQTT-2.3.1-6', 'PUBACK and PUBREC carry the packet identifier of the PUBLISH they answer', Q1],
  ['MQTT-2.3.1-7', 'SUBACK and UNSUBACK carry the packet identifier of their SUBSCRIBE / UNSUBSCRIBE'],
  ['MQTT-3.1.0-2', 'A second CONNECT on a connection is a protocol violation: the server disconnects'],
  ['MQTT-3.1.2-1', 'A CONNECT with a wrong protocol name is not accepted under this specification'],
  ['MQTT-3.1.2-2', 'An unsupported protocol level gets CONNACK return code 1, then the server disconnects'],
  ['MQTT-3.1.2-3', 'A CONNECT with the reserved flag set makes the server disconnect'],
  ['MQTT-3.1.2-4', 'CleanSession 0 resumes the stored session of the client identifier', S],
  ['MQTT-3.1.2-5', 'A disconnected CleanSession 0 session stores QoS 1 and 2 messages of its subscriptions', [...S, ...Q1]],
  ['MQTT-3.1.2-6', 'CleanSession 1 discards any previous session and its state is not reused', S],
  ['MQTT-3.1.2-7', 'Retained messages are not session state: they survive the end of the session', R],
  ['MQTT-3.1.2-8', 'The will message is published when the connection closes without DISCONNECT', W],
  ['MQTT-3.1.2-10', 'The will is removed once published or once DISCONNECT is received', W],
  ['MQTT-3.1.2-12', 'Without the will flag no will message is published when the connection ends', W],
  ['MQTT-3.1.2-16', 'A will with Will Retain 0 is published as a non-retained message', [...W, ...R]],
  ['MQTT-3.1.2-17', 'A will with Will Retain 1 is published as a retained message', [...W, ...R]],
  ['MQTT-3.1.2-24', 'No packet within 1.5 x Keep Alive makes the server disconnect the client'],
  ['MQTT-3.1.3-5', 'Client identifiers of 1 to 23 alphanumeric characters are allowed'],
  ['MQTT-3.1.3-6', 'A zero-byte client identifier, if allowed, gets a unique identifier assigned'],
  ['MQTT-3.1.3-8', 'A zero-byte client identifier with CleanSession 0 gets CONNACK 2, then close', S],
  ['MQTT-3.1.4-1', 'A CONNECT that does not conform to section 3.1 is closed without a CONNACK'],
  ['MQTT-3.1.4-2', 'A CONNECT with the client identifier of a connected client disconnects that client'],
  ['MQTT-3.1.4-4', 'A valid CONNECT is acknowledged with CONNACK return code 0'],
  ['MQTT-3.1.4-5', 'After refusing a CONNECT the server processes nothing else the client sent'],
  ['MQTT-3.2.0-1', 'The first packet the server sends is CONNACK'],
  ['MQTT-3.2.2-1', 'CleanSession 1 accepted: Session Present is 0'],
  ['MQTT-3.2.2-2', 'CleanSession 0 with a stored session: Session Present is 1', S],
  ['MQTT-3.2.2-3', 'CleanSession 0 without a stored session: Session Present is 0', S],
  ['MQTT-3.2.2-4', 'A CONNACK with a non-zero return code has Session Present 0'],
  ['MQTT-3.2.2-5', 'After a CONNACK with a non-zero return code the server closes the connection'],
  ['MQTT-3.3.1-1', 'A re-delivered PUBLISH has DUP 1', [...Q1, ...S]],
  ['MQTT-3.3.1-2', 'A QoS 0 PUBLISH has DUP 0'],
  ['MQTT-3.3.1-3', "The outgoing DUP flag reflects only the server's own retransmission, not the incoming DUP", Q1],
  ['MQTT-3.3.1-4', 'A PUBLISH with both QoS bits set makes the server close the connection'],
  ['MQTT-3.3.1-5', 'A retained PUBLISH is stored with its QoS for future subscribers', R],
  ['MQTT-3.3.1-6', 'A new subscription gets the last retained message of each matching topic', R],
  ['MQTT-3.3.1-7', 'A retained QoS 0 PUBLISH discards the message previously retained on the topic', R],
  ['MQTT-3.3.1-8', 'A message sent because of a new subscription has RETAIN 1', R],
  ['MQTT-3.3.1-9', 'A message sent to an established subscription has RETAIN 0', R],
  ['MQTT-3.3.1-10', 'A retained zero-byte PUBLISH is delivered normally and removes the retained message', R],
  ['MQTT-3.3.1-11', 'A zero-byte retained message is never stored as a retained message', R],
  ['MQTT-3.3.1-12', 'A PUBLISH with RETAIN 0 neither stores nor removes a retained message', R],
  ['MQTT-3.3.2-2', 'A topic name with wildcard characters is refused, never delivered'],
  ['MQTT-3.3.2-3', "A delivered PUBLISH's topic matches the subscription's topic filter", WC],
  ['MQTT-3.3.4-1', 'PUBLISH is answered by QoS: nothing at 0, PUBACK at 1, PUBREC at 2'],
  ['MQTT-3.3.5-1', 'With overlapping subscriptions the message is delivered at their highest QoS', [...Q1, ...WC]],
  ['MQTT-3.3.5-2', 'An unauthorised PUBLISH is acknowledged by the normal QoS rules or the connection closed', Q1],
  ['MQTT-3.6.1-1', 'A PUBREL with fixed-header flags other than 0010 makes the server close the connection', Q2],
  ['MQTT-3.8.1-1', 'A SUBSCRIBE with fixed-header flags other than 0010 makes the server close the connection'],
  ['MQTT-3.8.3-3', 'A SUBSCRIBE without any topic filter is a protocol violation (closed)'],
  ['MQTT-3.8.3-4', 'A SUBSCRIBE with reserved option bits or QoS 3 makes the server close the connection'],
  ['MQTT-3.8.4-1', 'A SUBSCRIBE is answered with a SUBACK'],
  ['MQTT-3.8.4-2', 'The SUBACK has the packet identifier of the SUBSCRIBE'],
  ['MQTT-3.8.4-3', 'A SUBSCRIBE to an existing filter replaces it, re-sends retained, loses nothing', R],
  ['MQTT-3.8.4-4', 'A SUBSCRIBE with several filters acts as several SUBSCRIBEs with one SUBACK'],
  ['MQTT-3.8.4-5', 'The SUBACK has one return code per filter: the granted QoS or failure'],
  ['MQTT-3.8.4-6', 'Messages are delivered at the lower of the published QoS and the granted QoS', Q1],
  ['MQTT-3.9.3-1', "The SUBACK's return codes are in the order of the SUBSCRIBE's filters"],
  ['MQTT-3.9.3-2', 'SUBACK return codes are only 0x00, 0x01, 0x02 and 0x80'],
  ['MQTT-3.10.1-1', 'An UNSUBSCRIBE with fixed-header flags other than 0010 makes the server close the connection'],
  ['MQTT-3.10.3-2', 'An UNSUBSCRIBE without any topic filter is a protocol violation (closed)'],
  ['MQTT-3.10.4-1', 'UNSUBSCRIBE deletes only a subscription whose filter is character-for-character equal', WC],
  ['MQTT-3.10.4-2', 'After UNSUBSCRIBE no new messages are sent for the deleted subscription'],
  ['MQTT-3.10.4-4', 'UNSUBSCRIBE is answered with an UNSUBACK with its packet identifier'],
  ['MQTT-3.10.4-5', 'UNSUBACK is sent even when no subscription was deleted'],
  ['MQTT-3.10.4-6', 'An UNSUBSCRIBE with several filters acts as several, with a single UNSUBACK'],
  ['MQTT-3.12.4-1', 'PINGREQ is answered with PINGRESP'],
  ['MQTT-3.14.1-1', 'A DISCONNECT with non-zero reserved bits is not a DISCONNECT: the will is kept', W],
  ['MQTT-3.14.4-3', 'On DISCONNECT the will is discarded without being published', W],
  ['MQTT-4.3.1-1', 'A QoS 0 message is sent as a PUBLISH with QoS 0 and DUP 0'],
  ['MQTT-4.3.2-1', 'A QoS 1 delivery uses an unused packet identifier, QoS 1, DUP 0, and waits for PUBACK', Q1],
  ['MQTT-4.3.2-2', 'A QoS 1 PUBLISH is answered with its identifier; after PUBACK the identifier is new', Q1],
  ['MQTT-4.3.3-1', 'A QoS 2 sender answers PUBREC with PUBREL of the same id and never re-sends the PUBLISH after it', [...Q2, ...S]],
  ['MQTT-4.3.3-2', 'A QoS 2 receiver answers PUBREC / PUBCOMP with the id and never delivers a duplicate onward', Q2],
  ['MQTT-4.4.0-1', 'On a CleanSession 0 reconnect unacknowledged PUBLISH and PUBREL are re-sent with their ids', [...Q1, ...S]],
  ['MQTT-4.5.0-1', 'An accepted message is added to the session of every client with a matching subscription', Q1],
  ['MQTT-4.6.0-1', 'Re-sent PUBLISH packets go out in their original order', [...Q1, ...S]],
  ['MQTT-4.6.0-6', 'Messages on one topic at one QoS are delivered in the order they were received', Q1],
  ['MQTT-4.7.1-2', "A filter with '#' other than alone as the last level is refused", WC],
  ['MQTT-4.7.1-3', "A filter with '+' not occupying a whole level is refused", WC],
  ['MQTT-4.7.2-1', "Filters starting with a wildcard do not match topic names starting with '$'", WC],
  ['MQTT-4.7.3-1', 'Empty topic names and topic filters are refused'],
  ['MQTT-4.7.3-2', 'A topic name with U+0000 is refused (the connection closed)'],
  ['MQTT-4.7.3-4', 'Subscription matching applies no normalisation or substitution of characters'],
  ['MQTT-4.8.0-1', 'A protocol violation makes the server close the connection'],
];

const V5: readonly Row[] = [
  ['MQTT-1.5.4-1', 'A string with ill-formed UTF-8 is a malformed packet: the connection is closed'],
  ['MQTT-1.5.4-2', 'A string with U+0000 is a malformed packet: the connection is closed'],
  ['MQTT-1.5.4-3', 'A U+FEFF (BOM) sequence in a string is kept, never skipped or stripped'],
  ['MQTT-1.5.5-1', "The server's Variable Byte Integers use the fewest bytes"],
  ['MQTT-2.1.3-1', 'Reserved fixed-header flags are set as the table says; invalid ones make the server close'],
  ['MQTT-2.2.1-2', 'A QoS 0 PUBLISH the server sends carries no packet identifier'],
  ['MQTT-2.2.1-4', 'A QoS > 0 PUBLISH the server sends carries a non-zero, currently unused identifier', Q1],
  ['MQTT-2.2.1-5', 'PUBACK, PUBREC, PUBREL, PUBCOMP carry the identifier of the PUBLISH they answer', Q1],
  ['MQTT-2.2.1-6', 'SUBACK and UNSUBACK carry the identifier of their SUBSCRIBE / UNSUBSCRIBE'],
  ['MQTT-3.1.0-2', 'A second CONNECT is a protocol error: the server closes the connection'],
  ['MQTT-3.1.2-1', 'A wrong protocol name is not accepted (CONNACK 0x84 at most), then the connection closed'],
  ['MQTT-3.1.2-2', 'An unsupported protocol version is not accepted (CONNACK 0x84 at most), then closed'],
  ['MQTT-3.1.2-3', 'A CONNECT with the reserved flag set is malformed: the connection is closed'],
  ['MQTT-3.1.2-4', 'Clean Start 1 discards an existing session and starts a new one', S],
  ['MQTT-3.1.2-5', 'Clean Start 0 with an existing session resumes it', S],
  ['MQTT-3.1.2-6', 'Clean Start 0 without an existing session creates a new one', S],
  ['MQTT-3.1.2-8', 'The will is published after the will delay once the connection closes without DISCONNECT 0x00', W],
  ['MQTT-3.1.2-10', 'The will is removed once published or on DISCONNECT 0x00', W],
  ['MQTT-3.1.2-14', 'A will with Will Retain 0 is published as a non-retained message', [...W, ...R]],
  ['MQTT-3.1.2-15', 'A will with Will Retain 1 is published as a retained message', [...W, ...R]],
  ['MQTT-3.1.2-22', 'No packet within 1.5 x Keep Alive makes the server close the connection'],
  ['MQTT-3.1.2-23', 'Session state is kept after the connection closes when Session Expiry Interval > 0', S],
  ['MQTT-3.1.2-24', "The server sends no packet larger than the client's Maximum Packet Size"],
  ['MQTT-3.1.2-25', 'A message too large for the client is dropped as if sent; later ones still flow'],
  ['MQTT-3.1.2-26', "The server sends no Topic Alias above the client's Topic Alias Maximum"],
  ['MQTT-3.1.2-27', 'Without a client Topic Alias Maximum the server sends no Topic Alias'],
  ['MQTT-3.1.2-28', 'Request Response Information 0: the server returns no Response Information'],
  ['MQTT-3.1.2-29', 'Request Problem Information 0: no Reason String or User Property except on PUBLISH, CONNACK, DISCONNECT'],
  ['MQTT-3.1.3-5', 'Client identifiers of 1 to 23 alphanumeric characters are allowed'],
  ['MQTT-3.1.3-6', 'A zero-length client identifier, if allowed, gets a unique identifier assigned'],
  ['MQTT-3.1.3-7', 'The assigned client identifier is returned in the CONNACK'],
  ['MQTT-3.1.3-9', 'A will is not sent when the session is resumed before the Will Delay Interval ends', [...W, 'mqtt:will-delay', ...S]],
  ['MQTT-3.1.3-10', 'The order of the will message User Properties is kept', W],
  ['MQTT-3.1.4-1', 'A CONNECT not in the format of section 3.1 makes the server close the connection'],
  ['MQTT-3.1.4-3', 'A CONNECT with the client identifier of a connected client closes that connection'],
  ['MQTT-3.1.4-5', 'A valid CONNECT is acknowledged with CONNACK reason code 0x00'],
  ['MQTT-3.1.4-6', 'After refusing a CONNECT the server processes nothing else the client sent (but AUTH)'],
  ['MQTT-3.2.0-1', 'The server sends CONNACK 0x00 before any packet other than AUTH'],
  ['MQTT-3.2.0-2', 'The server sends at most one CONNACK on a connection'],
  ['MQTT-3.2.2-1', 'CONNACK acknowledge-flags bits 7-1 are 0'],
  ['MQTT-3.2.2-2', 'Clean Start 1 accepted: Session Present is 0'],
  ['MQTT-3.2.2-3', 'Clean Start 0 accepted: Session Present says whether session state was found', S],
  ['MQTT-3.2.2-6', 'A CONNACK with a non-zero reason code has Session Present 0'],
  ['MQTT-3.2.2-7', 'After a CONNACK with a reason code of 0x80 or more the server closes the connection'],
  ['MQTT-3.2.2-8', 'CONNACK uses only the Connect Reason Code values'],
  ['MQTT-3.2.2-9', 'A server that does not support QoS 1 or 2 says its Maximum QoS in CONNACK'],
  ['MQTT-3.2.2-10', 'A server with Maximum QoS below 2 still accepts SUBSCRIBE with QoS 0, 1 or 2'],
  ['MQTT-3.2.2-16', 'A zero-length client identifier gets an Assigned Client Identifier no other session uses'],
  ['MQTT-3.2.2-22', "Without Server Keep Alive in CONNACK the server uses the client's Keep Alive"],
  ['MQTT-3.3.1-1', 'A re-delivered PUBLISH has DUP 1', [...Q1, ...S]],
  ['MQTT-3.3.1-2', 'A QoS 0 PUBLISH has DUP 0'],
  ['MQTT-3.3.1-3', "The outgoing DUP flag reflects only the server's own retransmission", Q1],
  ['MQTT-3.3.1-4', 'A PUBLISH with both QoS bits set is malformed: the connection is closed'],
  ['MQTT-3.3.1-5', 'A retained PUBLISH replaces the retained message of the topic and is stored', R],
  ['MQTT-3.3.1-6', 'A retained zero-byte PUBLISH is delivered normally and removes the retained message', R],
  ['MQTT-3.3.1-7', 'A zero-byte retained message is never stored as a retained message', R],
  ['MQTT-3.3.1-8', 'A PUBLISH with RETAIN 0 neither stores nor replaces a retained message', R],
  ['MQTT-3.3.1-9', 'Retain Handling 0: retained messages are sent on subscribe', R],
  ['MQTT-3.3.1-10', 'Retain Handling 1: retained messages only for a subscription that did not exist', R],
  ['MQTT-3.3.1-11', 'Retain Handling 2: no retained messages on subscribe', R],
  ['MQTT-3.3.1-12', 'Retain As Published 0: forwarded messages have RETAIN 0', R],
  ['MQTT-3.3.1-13', 'Retain As Published 1: forwarded messages keep the RETAIN flag they were published with', R],
  ['MQTT-3.3.2-2', 'A topic name with wildcard characters is refused, never delivered'],
  ['MQTT-3.3.2-3', "A delivered PUBLISH's topic name matches the subscription's topic filter", WC],
  ['MQTT-3.3.2-4', 'The Payload Format Indicator is forwarded unaltered'],
  ['MQTT-3.3.2-5', 'A message whose expiry passed before delivery started is not delivered', ['mqtt:message-expiry', ...S, ...Q1]],
  ['MQTT-3.3.2-6', 'A forwarded Message Expiry Interval is reduced by the time the message waited', ['mqtt:message-expiry', ...S, ...Q1]],
  ['MQTT-3.3.2-7', 'Topic Alias mappings do not carry over to another connection', ['mqtt:topic-alias']],
  ['MQTT-3.3.2-8', 'The server never sends a Topic Alias of 0'],
  ['MQTT-3.3.2-11', "The server sends no Topic Alias above the client's Topic Alias Maximum"],
  ['MQTT-3.3.2-12', 'The server accepts every Topic Alias from 1 to the maximum it announced', ['mqtt:topic-alias']],
  ['MQTT-3.3.2-15', 'The Response Topic is forwarded unaltered'],
  ['MQTT-3.3.2-16', 'The Correlation Data is forwarded unaltered'],
  ['MQTT-3.3.2-17', 'Every User Property is forwarded unaltered'],
  ['MQTT-3.3.2-18', 'User Properties are forwarded in their order'],
  ['MQTT-3.3.2-20', 'The Content Type is forwarded unaltered'],
  ['MQTT-3.3.4-1', 'PUBLISH is answered by QoS: nothing at 0, PUBACK at 1, PUBREC at 2'],
  ['MQTT-3.3.4-2', 'With overlapping subscriptions the message goes out at their highest QoS', [...Q1, ...WC]],
  ['MQTT-3.3.4-3', 'Subscription Identifiers of the matching subscriptions are sent with the message', ['mqtt:subscription-identifiers', ...WC]],
  ['MQTT-3.3.4-4', 'A single copy for overlapping subscriptions carries all their Subscription Identifiers', ['mqtt:subscription-identifiers', ...WC]],
  ['MQTT-3.3.4-5', 'With one copy per subscription each copy carries its own Subscription Identifier', ['mqtt:subscription-identifiers', ...WC]],
  ['MQTT-3.3.4-6', 'A PUBLISH from the client with a Subscription Identifier is a protocol error (closed)'],
  ['MQTT-3.3.4-9', "The server keeps no more unacknowledged QoS > 0 PUBLISH than the client's Receive Maximum", Q1],
  ['MQTT-3.3.4-10', 'A full receive window does not delay packets other than PUBLISH', Q1],
  ['MQTT-3.4.2-1', 'PUBACK uses only PUBACK reason codes', Q1],
  ['MQTT-3.5.2-1', 'PUBREC uses only PUBREC reason codes', Q2],
  ['MQTT-3.6.1-1', 'A PUBREL with fixed-header flags other than 0010 is malformed: the connection is closed', Q2],
  ['MQTT-3.6.2-1', 'PUBREL uses only PUBREL reason codes', Q2],
  ['MQTT-3.7.2-1', 'PUBCOMP uses only PUBCOMP reason codes', Q2],
  ['MQTT-3.8.1-1', 'A SUBSCRIBE with fixed-header flags other than 0010 is malformed: the connection is closed'],
  ['MQTT-3.8.3-3', 'No Local 1: messages are not forwarded to the connection that published them'],
  ['MQTT-3.8.3-5', 'A SUBSCRIBE with reserved option bits set is malformed: the connection is closed'],
  ['MQTT-3.8.4-1', 'A SUBSCRIBE is answered with a SUBACK'],
  ['MQTT-3.8.4-2', 'The SUBACK has the packet identifier of the SUBSCRIBE'],
  ['MQTT-3.8.4-3', 'A SUBSCRIBE to an existing filter replaces the subscription', R],
  ['MQTT-3.8.4-4', 'Replacing a subscription with Retain Handling 0 re-sends retained messages, loses nothing', R],
  ['MQTT-3.8.4-5', 'A SUBSCRIBE with several filters acts as several SUBSCRIBEs with one SUBACK'],
  ['MQTT-3.8.4-6', 'The SUBACK has one reason code per filter'],
  ['MQTT-3.8.4-7', 'Each SUBACK reason code is the granted QoS or a failure'],
  ['MQTT-3.8.4-8', 'Messages are delivered at the lower of the published QoS and the granted QoS', Q1],
  ['MQTT-3.9.3-1', "The SUBACK's reason codes are in the order of the SUBSCRIBE's filters"],
  ['MQTT-3.9.3-2', 'SUBACK uses only Subscribe Reason Codes'],
  ['MQTT-3.10.1-1', 'An UNSUBSCRIBE with fixed-header flags other than 0010 is malformed: the connection is closed'],
  ['MQTT-3.10.4-1', 'UNSUBSCRIBE deletes only a subscription whose filter is character-for-character equal', WC],
  ['MQTT-3.10.4-2', 'After UNSUBSCRIBE no new messages are sent for the deleted subscription'],
  ['MQTT-3.10.4-4', 'UNSUBSCRIBE is answered with an UNSUBACK'],
  ['MQTT-3.10.4-5', 'The UNSUBACK has the packet identifier of the UNSUBSCRIBE, even when nothing was deleted'],
  ['MQTT-3.10.4-6', 'An UNSUBSCRIBE with several filters acts as several, with a single UNSUBACK'],
  ['MQTT-3.11.3-1', "The UNSUBACK's reason codes are in the order of the UNSUBSCRIBE's filters"],
  ['MQTT-3.11.3-2', 'UNSUBACK uses only Unsubscribe Reason Codes'],
  ['MQTT-3.12.4-1', 'PINGREQ is answered with PINGRESP'],
  ['MQTT-3.14.0-1', 'The server sends no DISCONNECT before a CONNACK with a reason code below 0x80'],
  ['MQTT-3.14.1-1', 'A DISCONNECT with non-zero reserved bits is malformed: the will is not discarded', W],
  ['MQTT-3.14.2-1', 'A server DISCONNECT uses only DISCONNECT reason codes'],
  ['MQTT-3.14.2-2', 'A server DISCONNECT carries no Session Expiry Interval'],
  ['MQTT-3.14.4-1', 'After sending DISCONNECT the server sends nothing more'],
  ['MQTT-3.14.4-2', 'After sending DISCONNECT the server closes the connection'],
  ['MQTT-3.14.4-3', 'On DISCONNECT 0x00 the will is discarded without being published', W],
  ['MQTT-4.1.0-2', 'Session state is discarded once the connection is closed and the Session Expiry Interval passed', S],
  ['MQTT-4.3.1-1', 'A QoS 0 message is sent as a PUBLISH with QoS 0 and DUP 0'],
  ['MQTT-4.3.2-1', 'A QoS 1 delivery uses an unused packet identifier', Q1],
  ['MQTT-4.3.2-2', 'A QoS 1 delivery is sent with QoS 1 and DUP 0', Q1],
  ['MQTT-4.3.2-3', 'A QoS 1 delivery stays unacknowledged (re-sent on resume) until PUBACK', [...Q1, ...S]],
  ['MQTT-4.3.2-4', 'A received QoS 1 PUBLISH is answered with PUBACK of its identifier', Q1],
  ['MQTT-4.3.2-5', 'After PUBACK a PUBLISH with the same identifier is a new message', Q1],
  ['MQTT-4.3.3-3', 'A QoS 2 delivery stays unacknowledged (re-sent on resume) until PUBREC', [...Q2, ...S]],
  ['MQTT-4.3.3-4', 'PUBREC (below 0x80) is answered with PUBREL of the same identifier', Q2],
  ['MQTT-4.3.3-5', 'A PUBREL stays unacknowledged (re-sent on resume) until PUBCOMP', [...Q2, ...S]],
  ['MQTT-4.3.3-6', 'The PUBLISH is never re-sent once its PUBREL was sent', [...Q2, ...S]],
  ['MQTT-4.3.3-8', 'A received QoS 2 PUBLISH is answered with PUBREC of its identifier', Q2],
  ['MQTT-4.3.3-10', 'Before PUBREL a repeated QoS 2 PUBLISH gets PUBREC and is not delivered twice', Q2],
  ['MQTT-4.3.3-11', 'PUBREL is answered with PUBCOMP of the same identifier', Q2],
  ['MQTT-4.3.3-12', 'After PUBCOMP a PUBLISH with the same identifier is a new message', Q2],
  ['MQTT-4.4.0-1', 'On a resumed session unacknowledged PUBLISH and PUBREL are re-sent with their ids', [...Q1, ...S]],
  ['MQTT-4.4.0-2', 'A PUBLISH answered by PUBACK 0x80 or more is not retransmitted', [...Q1, ...S]],
  ['MQTT-4.5.0-1', 'An accepted message is added to the session of every client with a matching subscription', Q1],
  ['MQTT-4.6.0-6', 'Messages on one topic at one QoS are delivered in the order they were received', Q1],
  ['MQTT-4.7.1-1', "A filter with '#' other than alone as the last level is refused", WC],
  ['MQTT-4.7.1-2', "A filter with '+' not occupying a whole level is refused", WC],
  ['MQTT-4.7.2-1', "Filters starting with a wildcard do not match topic names starting with '$'", WC],
  ['MQTT-4.7.3-1', 'Empty topic names (without an alias) and empty topic filters are refused'],
  ['MQTT-4.7.3-2', 'A topic name with U+0000 is refused (the connection closed)'],
  ['MQTT-4.7.3-4', 'Subscription matching applies no normalisation or substitution of characters'],
  ['MQTT-4.8.2-1', 'A shared subscription with an empty ShareName is refused', ['mqtt:shared-subscriptions']],
  ['MQTT-4.8.2-2', "A ShareName with '+' or '#' is refused", ['mqtt:shared-subscriptions']],
  ['MQTT-4.8.2-3', "Shared subscription deliveries respect the member's granted QoS", ['mqtt:shared-subscriptions', ...Q1]],
  ['MQTT-4.9.0-1', 'The initial send quota is non-zero and not above the Receive Maximum', Q1],
  ['MQTT-4.9.0-2', 'With the send quota at zero no further QoS > 0 PUBLISH is sent', Q1],
  ['MQTT-4.9.0-3', 'With the send quota at zero other packets are still processed and answered', Q1],
  ['MQTT-4.12.0-1', 'An unsupported Authentication Method is not accepted: the connection is closed'],
  ['MQTT-4.12.0-6', 'Without an Authentication Method from the client the server sends no AUTH and none in CONNACK'],
  ['MQTT-4.13.1-1', 'A malformed packet or protocol error makes the server close the connection'],
];

const build = (version: Version, rows: readonly Row[]): Statement[] => rows.map(([id, text, features]) => ({ version, id, text, ...(features ? { features } : {}) }));

export const STATEMENTS: readonly Statement[] = [...build(4, V4), ...build(5, V5)];

const index = new Map(STATEMENTS.map((s) => [requirementId(s.version, s.id), s]));
export const statementOf = (version: Version, id: string): Statement | undefined => index.get(requirementId(version, id));

/**
 * Server-side statements a client cannot judge on the wire, for the profile's
 * not-covered rows: what the server stores, decides internally, or does only
 * with a transport or a feature the catalog does not drive.
 */
export const NOT_OBSERVABLE: readonly { readonly version: Version; readonly id: string; readonly title: string; readonly reason: string }[] = [
  { version: 4, id: 'MQTT-3.1.3-9', title: 'A rejected client identifier gets CONNACK 2, then close', reason: 'which identifiers a server rejects is its own choice: no identifier is known to be rejected' },
  { version: 4, id: 'MQTT-3.2.2-6', title: 'Close without CONNACK when no return code applies', reason: 'whether a return code "applies" is the server\'s judgement, not visible on the wire' },
  { version: 4, id: 'MQTT-3.10.4-3', title: 'QoS 1/2 deliveries started before UNSUBSCRIBE are completed', reason: 'needs a delivery in flight at the instant the UNSUBSCRIBE is processed: a race the client cannot arrange reliably' },
  { version: 4, id: 'MQTT-4.1.0-1', title: 'Session state is stored for the whole session', reason: 'storage is internal; what it shows on the wire is judged by MQTT-3.1.2-4 and MQTT-3.1.2-5' },
  { version: 4, id: 'MQTT-4.1.0-2', title: 'A session lasts at least as long as its connection', reason: 'an internal lifetime; no packet tells it apart from MQTT-3.1.2-4' },
  { version: 4, id: 'MQTT-4.6.0-5', title: 'Every topic is an Ordered Topic by default', reason: 'a configuration default; its wire effect is judged by MQTT-4.6.0-6' },
  { version: 4, id: 'MQTT-4.8.0-2', title: 'A transient error closes the connection', reason: 'a transient error inside the server cannot be caused from outside' },
  { version: 4, id: 'MQTT-6.0.0-1', title: 'WebSocket: non-binary frames close the connection', reason: 'MQTT over WebSocket is not a transport the harness speaks' },
  { version: 4, id: 'MQTT-6.0.0-2', title: 'WebSocket: packets need not align with frames', reason: 'MQTT over WebSocket is not a transport the harness speaks' },
  { version: 4, id: 'MQTT-6.0.0-4', title: 'WebSocket: the selected sub-protocol is "mqtt"', reason: 'MQTT over WebSocket is not a transport the harness speaks' },
  { version: 4, id: 'MQTT-7.0.0-1', title: 'A bridging server conforms as client and server', reason: 'bridging to other servers is not visible to a client' },
  { version: 4, id: 'MQTT-7.0.0-2', title: 'No extension is required to interoperate', reason: 'a property of the whole implementation, shown by every other statement passing with plain packets' },
  { version: 4, id: 'MQTT-7.1.1-1', title: 'An ordered, lossless byte-stream transport is supported', reason: 'the transport is TCP or TLS by construction' },
  { version: 5, id: 'MQTT-3.1.2-7', title: 'A will is stored with the session', reason: 'storage is internal; its wire effect is judged by MQTT-3.1.2-8' },
  { version: 5, id: 'MQTT-3.1.3-2', title: 'The ClientID identifies the session state', reason: 'internal bookkeeping; its wire effect is judged by the session statements' },
  { version: 5, id: 'MQTT-3.1.3-8', title: 'A rejected ClientID is answered with 0x85 at most, then close', reason: 'which identifiers a server rejects is its own choice' },
  { version: 5, id: 'MQTT-3.1.4-2', title: 'Failed further checks (authentication) close the connection', reason: 'covered by the authentication checks (auth.*), not by the protocol catalog' },
  { version: 5, id: 'MQTT-3.1.4-4', title: 'Clean Start is processed as section 3.1.2.4 says', reason: 'the same observations as MQTT-3.1.2-4 to -6' },
  { version: 5, id: 'MQTT-3.2.2-12', title: 'A will QoS beyond the server\'s capabilities is refused', reason: 'needs a server with Maximum QoS below 2' },
  { version: 5, id: 'MQTT-3.2.2-13', title: 'A retained will is refused when retain is not supported', reason: 'needs a server without retained messages' },
  { version: 5, id: 'MQTT-3.2.2-19', title: 'No Reason String that would exceed the client\'s Maximum Packet Size', reason: 'needs a server that sends Reason Strings on CONNACK' },
  { version: 5, id: 'MQTT-3.2.2-20', title: 'No User Property that would exceed the client\'s Maximum Packet Size', reason: 'needs a server that sends User Properties on CONNACK' },
  { version: 5, id: 'MQTT-3.10.4-3', title: 'QoS 1/2 deliveries started before UNSUBSCRIBE are completed', reason: 'needs a delivery in flight at the instant the UNSUBSCRIBE is processed: a race the client cannot arrange reliably' },
  { version: 5, id: 'MQTT-4.1.0-1', title: 'Session state is kept while the connection is open', reason: 'storage is internal; its wire effect is judged by the session statements' },
  { version: 5, id: 'MQTT-4.3.3-7', title: 'No message expiry once a QoS 2 PUBLISH was sent', reason: 'needs a QoS 2 delivery held unacknowledged across its expiry on a resumed session' },
  { version: 5, id: 'MQTT-4.3.3-9', title: 'After PUBREC 0x80 or more the identifier is new', reason: 'no PUBLISH is known to make a server answer PUBREC with a failure' },
  { version: 5, id: 'MQTT-4.3.3-13', title: 'The QoS 2 handshake continues after message expiry', reason: 'needs an expiry inside the server between PUBREC and PUBREL' },
  { version: 5, id: 'MQTT-4.6.0-5', title: 'Non-shared topics are Ordered Topics by default', reason: 'a configuration default; its wire effect is judged by MQTT-4.6.0-6' },
  { version: 5, id: 'MQTT-4.8.2-6', title: 'Shared subscription messages are not re-sent to another member on PUBACK 0x80+', reason: 'needs a member that refuses a delivery with PUBACK 0x80 while another member is connected: not arranged yet' },
  { version: 5, id: 'MQTT-4.12.0-2', title: 'Enhanced authentication: AUTH 0x18 with the same method', reason: 'enhanced authentication needs a method both sides know' },
  { version: 5, id: 'MQTT-4.12.0-4', title: 'Enhanced authentication failure closes the connection', reason: 'enhanced authentication needs a method both sides know' },
  { version: 5, id: 'MQTT-4.12.1-2', title: 'A failed re-authentication closes the connection', reason: 'enhanced authentication needs a method both sides know' },
  { version: 5, id: 'MQTT-6.0.0-1', title: 'WebSocket: non-binary frames close the connection', reason: 'MQTT over WebSocket is not a transport the harness speaks' },
  { version: 5, id: 'MQTT-6.0.0-4', title: 'WebSocket: the selected sub-protocol is "mqtt"', reason: 'MQTT over WebSocket is not a transport the harness speaks' },
];
