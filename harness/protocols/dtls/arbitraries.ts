// fast-check arbitraries for DTLS 1.2, built with the codec's one encoder.
// Valid mode: records, handshake fragments and ClientHellos a conforming
// server accepts structurally (the round-trip properties use them). Hostile
// mode: whole datagrams that lie about lengths, fragment, overlap, and sit on
// the edges of every field; each carries a short label so a shrunk
// counterexample says what kind of input it is.

import fc from 'fast-check';
import {
  CIPHER_SUITES,
  ContentType,
  DTLS1_0,
  DTLS1_2,
  DTLS1_3,
  ExtensionType,
  HandshakeType,
  MAX_COOKIE,
  MAX_SEQUENCE,
  MAX_SESSION_ID,
  NamedGroup,
  SignatureScheme,
  ecPointFormats,
  encodeClientHello,
  encodeHandshake,
  encodeRecord,
  encryptThenMac,
  extendedMasterSecret,
  renegotiationInfo,
  signatureAlgorithms,
  supportedGroups,
  type ClientHello,
  type ClientHelloLies,
  type DtlsRecord,
  type Extension,
  type ExtensionInput,
  type HandshakeFragment,
  type HandshakeInput,
} from './codec.js';

/** One hostile datagram and what is wrong with it. */
export interface HostileCase {
  readonly bytes: Uint8Array;
  readonly label: string;
}

const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength });
const u16 = fc.integer({ min: 0, max: 0xffff });
const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

/** 48-bit record sequence numbers, biased to the edges. */
export const sequenceArb = (): fc.Arbitrary<number> =>
  fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 47, MAX_SEQUENCE - 1, MAX_SEQUENCE), fc.integer({ min: 0, max: MAX_SEQUENCE }));

// ---------------------------------------------------------------- valid mode

export const recordArb = (): fc.Arbitrary<DtlsRecord> =>
  fc.record({
    type: fc.constantFrom<number>(...Object.values(ContentType)),
    version: fc.constantFrom(DTLS1_0, DTLS1_2),
    epoch: u16,
    sequence: sequenceArb(),
    fragment: bytes(0, 64),
  });

/** A whole message (offset 0) or a well-formed fragment of one. */
export const handshakeFragmentArb = (): fc.Arbitrary<HandshakeFragment> =>
  fc
    .record({
      msgType: fc.constantFrom<number>(...Object.values(HandshakeType)),
      messageSeq: u16,
      body: bytes(0, 64),
      before: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 })),
      after: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 })),
    })
    .map(({ msgType, messageSeq, body, before, after }) => ({ msgType, messageSeq, body, fragmentOffset: before, length: before + body.length + after }));

const KNOWN_SUITES = CIPHER_SUITES.map((s) => s.id);

/** Extensions a DTLS 1.2 server parses, each type at most once. */
export const extensionsArb = (): fc.Arbitrary<Extension[]> =>
  fc.uniqueArray(
    fc.oneof(
      fc.subarray<number>(Object.values(NamedGroup), { minLength: 1 }).map(supportedGroups),
      fc.subarray<number>(Object.values(SignatureScheme), { minLength: 1 }).map(signatureAlgorithms),
      fc.constant(ecPointFormats()),
      fc.constant(extendedMasterSecret()),
      fc.constant(encryptThenMac()),
      fc.constant(renegotiationInfo()),
      // an unassigned type: a server must ignore it [RFC5246 7.4.1.4]
      fc.record({ type: fc.integer({ min: 0x1000, max: 0xfe00 }), data: bytes(0, 16) }),
    ),
    { selector: (e) => e.type, maxLength: 7 },
  );

/** ClientHellos that parse: session id ≤ 32, cookie ≤ 255, ≥ 1 suite, null compression offered, unique extensions. */
export const clientHelloArb = (): fc.Arbitrary<ClientHello> =>
  fc
    .record({
      version: fc.constantFrom(DTLS1_2, DTLS1_0),
      random: bytes(32, 32),
      sessionId: bytes(0, MAX_SESSION_ID),
      cookie: fc.oneof(fc.constant(new Uint8Array(0)), bytes(1, 32), bytes(0, MAX_COOKIE)),
      suites: fc.uniqueArray(fc.oneof(fc.constantFrom(...KNOWN_SUITES), u16), { minLength: 1, maxLength: 24 }),
      compression: fc.constantFrom([0], [1, 0]),
      extensions: fc.option(extensionsArb(), { nil: undefined }),
    })
    .map(({ extensions, ...h }) => (extensions === undefined ? h : { ...h, extensions }));

export interface ClientHelloDatagram {
  readonly hello: ClientHello;
  readonly messageSeq: number;
  readonly sequence: number;
  readonly bytes: Uint8Array;
}

/** A ClientHello in one handshake message in one epoch-0 record. */
export const clientHelloDatagramArb = (): fc.Arbitrary<ClientHelloDatagram> =>
  fc.record({ hello: clientHelloArb(), messageSeq: fc.constantFrom(0, 1), sequence: sequenceArb() }).map(({ hello, messageSeq, sequence }) => ({
    hello,
    messageSeq,
    sequence,
    bytes: helloDatagram(encodeClientHello(hello), { messageSeq, sequence }),
  }));

// ---------------------------------------------------------------- hostile mode

interface Wrap {
  readonly recordVersion?: number;
  readonly epoch?: number;
  readonly sequence?: number;
  readonly recordLength?: number;
  readonly type?: number;
  readonly messageSeq?: number;
  readonly handshake?: Partial<HandshakeInput>;
}

function helloDatagram(body: Uint8Array, w: Wrap = {}): Uint8Array {
  const fragment = encodeHandshake({ msgType: HandshakeType.client_hello, messageSeq: w.messageSeq ?? 0, body, ...w.handshake });
  return encodeRecord({
    type: w.type ?? ContentType.handshake,
    version: w.recordVersion ?? DTLS1_2,
    epoch: w.epoch ?? 0,
    sequence: w.sequence ?? 0,
    fragment,
    ...(w.recordLength === undefined ? {} : { length: w.recordLength }),
  });
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** Small and valid, so the hostile part is what a shrunk case shows. */
const baseHello = (): fc.Arbitrary<ClientHello> =>
  fc.record({
    version: fc.constant(DTLS1_2),
    random: bytes(32, 32),
    sessionId: fc.constant(new Uint8Array(0)),
    cookie: bytes(0, 8),
    suites: fc.uniqueArray(fc.constantFrom(0xc0a8, 0x00a8, 0xc0a4, 0xc0ae, 0x008c), { minLength: 1, maxLength: 3 }),
    compression: fc.constant([0]),
    extensions: fc.constant([extendedMasterSecret()] as readonly Extension[]),
  });

const hello = (lies: ClientHelloLies = {}, w: Wrap = {}) => (h: ClientHello) => helloDatagram(encodeClientHello(h, lies), w);
const labelled = (label: string) => (b: Uint8Array): HostileCase => ({ bytes: b, label });
const VERSIONS = [0x0000, DTLS1_0, DTLS1_2, DTLS1_3, 0x0303];
const versionArb = fc.oneof(fc.constantFrom(...VERSIONS), u16);
const EPOCH_EDGES = [1, 2, 0x7fff, 0x8000, 0xfffe, 0xffff];
const SEQUENCE_EDGES = [2 ** 32 - 1, 2 ** 32, 2 ** 47, MAX_SEQUENCE - 1, MAX_SEQUENCE];

const lyingRecords = (): fc.Arbitrary<HostileCase>[] => [
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 600 }))
    .map(([h, k]) => {
      const body = encodeClientHello(h);
      return helloDatagram(body, { recordLength: Math.min(0xffff, body.length + 12 + k) });
    })
    .map(labelled('record.length > bytes left')),
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 40 }))
    .map(([h, k]) => {
      const body = encodeClientHello(h);
      return helloDatagram(body, { recordLength: Math.max(0, body.length + 12 - k) });
    })
    .map(labelled('record.length < fragment')),
  bytes(1, 12).map(labelled('truncated record header')),
  fc.tuple(baseHello(), bytes(1, 24)).map(([h, junk]) => concat(hello()(h), junk)).map(labelled('trailing bytes after a record')),
  fc
    .tuple(baseHello(), fc.integer({ min: 2, max: 40 }))
    .map(([h, n]) => concat(hello()(h), ...Array.from({ length: n }, (_, i) => encodeRecord({ type: ContentType.handshake, version: DTLS1_2, epoch: 0, sequence: i + 1, fragment: new Uint8Array(0) }))))
    .map(labelled('many empty records')),
  fc
    .tuple(baseHello(), fc.integer({ min: 0, max: 255 }).filter((t) => t < 20 || t > 24))
    .map(([h, type]) => hello({}, { type })(h))
    .map(labelled('unknown content type')),
  fc.tuple(baseHello(), fc.constantFrom(...EPOCH_EDGES)).map(([h, epoch]) => hello({}, { epoch })(h)).map(labelled('plaintext ClientHello at a non-zero epoch')),
  fc.tuple(baseHello(), fc.constantFrom(...SEQUENCE_EDGES)).map(([h, sequence]) => hello({}, { sequence })(h)).map(labelled('record sequence at the 48-bit edge')),
  fc.tuple(baseHello(), versionArb).map(([h, recordVersion]) => ({ bytes: hello({}, { recordVersion })(h), label: `record.version ${hex4(recordVersion)}` })),
];

const lyingHandshakes = (): fc.Arbitrary<HostileCase>[] => [
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 100 }))
    .map(([h, over, offset]) => {
      const body = encodeClientHello(h);
      return hello({}, { handshake: { fragmentOffset: offset, length: Math.max(0, offset + body.length - over) } })(h);
    })
    .map(labelled('fragment_offset+fragment_length > length')),
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 300 }))
    .map(([h, k]) => {
      const body = encodeClientHello(h);
      return hello({}, { handshake: { fragmentLength: body.length + k, length: body.length + k } })(h);
    })
    .map(labelled('fragment_length > bytes in the record')),
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 40 }))
    .map(([h, k]) => {
      const body = encodeClientHello(h);
      return hello({}, { handshake: { fragmentLength: Math.max(0, body.length - k) } })(h);
    })
    .map(labelled('fragment_length < bytes in the record')),
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 0xffff }))
    .map(([h, k]) => {
      const body = encodeClientHello(h);
      return hello({}, { handshake: { length: body.length + k } })(h);
    })
    .map(labelled('message length > its only fragment')),
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 0xffff }))
    .map(([h, k]) => {
      const body = encodeClientHello(h);
      return hello({}, { handshake: { fragmentOffset: body.length + k, fragmentLength: 0, length: body.length } })(h);
    })
    .map(labelled('fragment_offset past the message end')),
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 30 }))
    .map(([h, cut, overlap]) => {
      const body = encodeClientHello(h);
      const at = Math.min(cut, body.length - 1);
      const back = Math.min(overlap, at);
      const first = body.slice(0, at);
      const second = body.slice(at - back).map((b, i) => (i < back ? b ^ 0xff : b)); // the overlap disagrees
      const rec = (fragment: Uint8Array, sequence: number) => encodeRecord({ type: ContentType.handshake, version: DTLS1_2, epoch: 0, sequence, fragment });
      return concat(
        rec(encodeHandshake({ msgType: HandshakeType.client_hello, messageSeq: 0, body: first, length: body.length }), 0),
        rec(encodeHandshake({ msgType: HandshakeType.client_hello, messageSeq: 0, body: second, fragmentOffset: at - back, length: body.length }), 1),
      );
    })
    .map(labelled('overlapping fragments that disagree')),
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 60 }))
    .map(([h, cut]) => {
      const body = encodeClientHello(h);
      const at = Math.min(cut, body.length);
      return helloDatagram(body.slice(0, at), { handshake: { length: at } });
    })
    .map(labelled('ClientHello body cut short')),
  fc
    .tuple(baseHello(), fc.constantFrom(1, 2, 0x7fff, 0xffff))
    .map(([h, messageSeq]) => hello({}, { messageSeq })(h))
    .map(labelled('first ClientHello with message_seq ≠ 0')),
  fc
    .tuple(baseHello(), fc.integer({ min: 0, max: 255 }), bytes(0, 24))
    .map(([h, msgType, body]) => {
      const first = encodeHandshake({ msgType: HandshakeType.client_hello, messageSeq: 0, body: encodeClientHello(h) });
      const second = encodeHandshake({ msgType, messageSeq: 1, body });
      return encodeRecord({ type: ContentType.handshake, version: DTLS1_2, epoch: 0, sequence: 0, fragment: concat(first, second) });
    })
    .map(labelled('a second handshake message in the record')),
];

const lyingHellos = (): fc.Arbitrary<HostileCase>[] => [
  fc.tuple(baseHello(), versionArb).map(([h, version]) => ({ bytes: hello()({ ...h, version }), label: `client_version ${hex4(version)}` })),
  fc
    .tuple(baseHello(), fc.integer({ min: 0, max: MAX_COOKIE }))
    .chain(([h, n]) => bytes(n, n).map((cookie) => ({ bytes: hello()({ ...h, cookie }), label: `cookie ${n}B` }))),
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 255 }))
    .map(([h, k]) => hello({ cookieLength: Math.min(255, h.cookie.length + k) })(h))
    .map(labelled('cookie length > bytes')),
  fc
    .tuple(baseHello(), bytes(MAX_SESSION_ID + 1, 255))
    .map(([h, sessionId]) => hello()({ ...h, sessionId }))
    .map(labelled('session_id > 32 bytes')),
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 255 }))
    .map(([h, sessionIdLength]) => hello({ sessionIdLength })(h))
    .map(labelled('session_id length > bytes')),
  baseHello()
    .map((h) => hello()({ ...h, suites: [] }))
    .map(labelled('empty cipher_suites')),
  fc
    .tuple(baseHello(), fc.constantFrom(-1, 1))
    .map(([h, d]) => hello({ suitesLength: h.suites.length * 2 + d })(h))
    .map(labelled('odd cipher_suites length')),
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 0xffff }))
    .map(([h, k]) => hello({ suitesLength: Math.min(0xffff, h.suites.length * 2 + 2 * k) })(h))
    .map(labelled('cipher_suites length > bytes')),
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 2000 }))
    .map(([h, n]) => hello()({ ...h, suites: Array.from({ length: n }, (_, i) => (i * 7919) & 0xffff) }))
    .map(labelled('thousands of cipher suites')),
  baseHello()
    .map((h) => hello()({ ...h, compression: [] }))
    .map(labelled('empty compression_methods')),
  fc
    .tuple(baseHello(), fc.uint8Array({ minLength: 1, maxLength: 4 }).map((a) => [...a].map((x) => x | 1)))
    .map(([h, compression]) => hello()({ ...h, compression }))
    .map(labelled('no null compression')),
  fc
    .tuple(baseHello(), fc.constantFrom<number>(ExtensionType.extended_master_secret, ExtensionType.supported_groups, ExtensionType.renegotiation_info, 0x1234))
    .map(([h, type]) => hello()({ ...h, extensions: [{ type, data: new Uint8Array(0) }, { type, data: new Uint8Array(0) }] }))
    .map(labelled('duplicate extensions')),
  fc
    .tuple(baseHello(), fc.integer({ min: 1, max: 0xffff }))
    .map(([h, k]) => hello()({ ...h, extensions: [{ type: ExtensionType.supported_groups, data: Uint8Array.of(0, 2, 0, 23), length: Math.min(0xffff, 4 + k) } as ExtensionInput] }))
    .map(labelled('extension length > bytes')),
  fc
    .tuple(baseHello(), fc.integer({ min: -8, max: 300 }).filter((d) => d !== 0))
    .map(([h, d]) => hello({ extensionsLength: Math.max(0, 4 + d) })(h)) // baseHello's block is 4 bytes (extended_master_secret)
    .map(labelled('extensions length lies')),
  fc
    .tuple(baseHello(), fc.integer({ min: 1000, max: 8000 }))
    .map(([h, n]) => hello()({ ...h, extensions: [{ type: ExtensionType.padding, data: new Uint8Array(n) }] }))
    .map(labelled('oversized extension')),
  fc
    .tuple(baseHello(), fc.integer({ min: 50, max: 400 }))
    .map(([h, n]) => hello()({ ...h, extensions: Array.from({ length: n }, (_, i) => ({ type: 0x2000 + i, data: new Uint8Array(0) })) }))
    .map(labelled('hundreds of extensions')),
  fc
    .tuple(baseHello(), bytes(1, 6))
    .map(([h, junk]) => helloDatagram(concat(encodeClientHello(h), junk)))
    .map(labelled('bytes after the extensions')),
  fc
    .tuple(baseHello(), fc.integer({ min: 0, max: 31 }))
    .map(([h, n]) => hello()({ ...h, random: h.random.slice(0, n) }))
    .map(labelled('random shorter than 32 bytes')),
];

/** Every hostile shape, plus plain random bytes. */
export const hostileDatagramArb = (): fc.Arbitrary<HostileCase> =>
  fc.oneof(...lyingRecords(), ...lyingHandshakes(), ...lyingHellos(), bytes(0, 200).map(labelled('random bytes')));

