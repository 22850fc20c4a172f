// The hand-written DTLS 1.2 codec: bytes built by hand and bytes OpenSSL 3.0
// sent (captured with `openssl s_client -msg` / s_server), round trips of the
// valid arbitraries, and totality: no parser throws on hostile datagrams or
// on random bytes, and the hostile shapes fail on the field they lie about.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientHelloArb, clientHelloDatagramArb, extensionsArb, handshakeFragmentArb, hostileDatagramArb, recordArb } from '../../../harness/protocols/dtls/arbitraries.js';
import {
  CIPHER_SUITES,
  ContentType,
  DTLS1_2,
  ExtensionType,
  HandshakeType,
  MAX_SEQUENCE,
  NamedGroup,
  SUITE_IDS_BY_NAME,
  SUITES_BY_ID,
  alertName,
  describeDatagram,
  encodeAlert,
  encodeClientHello,
  encodeHandshake,
  encodeHelloVerifyRequest,
  encodeRecord,
  encodeServerHello,
  extendedMasterSecret,
  isPskSuite,
  parseAlert,
  parseClientHello,
  parseExtensionList,
  parseHandshake,
  parseHelloVerifyRequest,
  parsePskIdentityHint,
  parseRecord,
  parseRecords,
  parseServerHello,
  parseU16List,
  reassemble,
  renegotiationInfo,
  suiteName,
  supportedGroups,
  weaknessOf,
  type ClientHello,
  type HandshakeFragment,
  type Parsed,
  type ServerHello,
} from '../../../harness/protocols/dtls/codec.js';

/** Pinned for CI; time-boxed so a slow machine runs fewer cases rather than failing. */
const RUN = { seed: 20261121, numRuns: 200, interruptAfterTimeLimit: 4000 } as const;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const value = <T>(p: Parsed<T>): T => {
  if (!p.ok) throw new Error(`expected ok, got ${p.error}`);
  return p.value;
};

describe('known vectors', () => {
  const random = Uint8Array.from({ length: 32 }, (_, i) => i);
  const hello: ClientHello = { version: DTLS1_2, random, sessionId: new Uint8Array(0), cookie: new Uint8Array(0), suites: [0xc0a8], compression: [0] };

  it('a minimal ClientHello, by hand', () => {
    const body = encodeClientHello(hello);
    const expected =
      'fefd' + // client_version DTLS 1.2
      hex(random) +
      '00' + // session_id<0..32>
      '00' + // cookie<0..2^8-1>
      '0002c0a8' + // cipher_suites: TLS_PSK_WITH_AES_128_CCM_8
      '0100'; // compression_methods: null; no extensions block
    expect(hex(body)).toBe(expected);
    const datagram = encodeRecord({ type: ContentType.handshake, version: DTLS1_2, epoch: 0, sequence: 0, fragment: encodeHandshake({ msgType: HandshakeType.client_hello, messageSeq: 0, body }) });
    expect(hex(datagram)).toBe(
      '16' + 'fefd' + '0000' + '000000000000' + '0036' + // record: handshake, DTLS 1.2, epoch 0, seq 0, 54 bytes
        '01' + '00002a' + '0000' + '000000' + '00002a' + // handshake: client_hello, length 42, message_seq 0, offset 0, fragment 42
        expected,
    );
    expect(describeDatagram(datagram)).toBe('ClientHello v1.2 suites=[TLS_PSK_WITH_AES_128_CCM_8] cookie=0B');
  });

  it('extensions, a cookie and a 48-bit sequence number, by hand', () => {
    const body = encodeClientHello({ ...hello, cookie: unhex('aabbcc'), extensions: [extendedMasterSecret(), supportedGroups([NamedGroup.secp256r1])] });
    expect(hex(body)).toBe('fefd' + hex(random) + '00' + '03aabbcc' + '0002c0a8' + '0100' + '000c' + '00170000' + '000a0004' + '00020017');
    const rec = encodeRecord({ type: ContentType.alert, version: DTLS1_2, epoch: 0xfffe, sequence: MAX_SEQUENCE, fragment: encodeAlert({ level: 2, description: 40 }) });
    expect(hex(rec)).toBe('15fefdfffeffffffffffff00020228');
    expect(value(parseRecord(rec)).record.sequence).toBe(2 ** 48 - 1);
  });

  // s_client's first ClientHello to `s_server -dtls1_2 -psk ... -cipher PSK-AES128-CCM8`.
  const OPENSSL_CLIENT_HELLO = unhex(`16feff000000000000000000 74
    0100006800000000000000 68 fefdbdfe 51e9662c6564547188255829d8eb3dab 2eb767aed02988971da562a0fcb3 0000
    0004c0a800ff 0100 003a 00230000 00160000 00170000 000d002a0028 04030503
    060308070808080908 0a080b08040805 0806040105010601030303010302 0402 0502 0602`);

  it('parses the ClientHello OpenSSL sends, and encodes it back byte for byte', () => {
    const { records, trailing } = parseRecords(OPENSSL_CLIENT_HELLO);
    expect(trailing).toBeUndefined();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ type: 22, version: 0xfeff, epoch: 0, sequence: 0 });
    const [msg] = value(parseHandshake(records[0]!.fragment));
    expect(msg).toMatchObject({ msgType: 1, length: 0x68, messageSeq: 0, fragmentOffset: 0 });
    const ch = value(parseClientHello(msg!.body));
    expect(ch.version).toBe(DTLS1_2);
    expect(ch.suites.map(suiteName)).toEqual(['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV']);
    expect(ch.compression).toEqual([0]);
    expect(ch.extensions?.map((e) => e.type)).toEqual([ExtensionType.session_ticket, ExtensionType.encrypt_then_mac, ExtensionType.extended_master_secret, ExtensionType.signature_algorithms]);
    expect(value(parseU16List(ch.extensions![3]!.data, 'signature_algorithms'))).toHaveLength(20);
    expect(hex(encodeClientHello(ch))).toBe(hex(msg!.body));
  });

  // s_server's answers: the HelloVerifyRequest, then ServerHello, ServerKeyExchange (hint "CoAP"), ServerHelloDone.
  const OPENSSL_HVR = unhex('16feff00000000000000000023 03000017000000000000 0017 feff 14 7a52afa321757e101f05a16ffa52351b6bf9bdb2');
  const OPENSSL_FLIGHT = unhex(
    '16fefd0000000000000001 0041 0200003500010000000000 35 fefd ce0ed85b69a7c41882f88ca2433d8cb4e6fb06611b1ffb6a5137ab37e75b05d3 00 c0a8 00 000d ff01000100 00230000 00170000' +
      '16fefd0000000000000002 0012 0c00000600020000000000 06 0004 436f4150' +
      '16fefd0000000000000003 000c 0e00000000030000000000 00',
  );

  it('parses what OpenSSL 3.0 s_server answers', () => {
    const [hvrRecord] = parseRecords(OPENSSL_HVR).records;
    const [hvrMsg] = value(parseHandshake(hvrRecord!.fragment));
    const hvr = value(parseHelloVerifyRequest(hvrMsg!.body));
    expect(hvr.version).toBe(0xfeff);
    expect(hvr.cookie).toHaveLength(20);
    expect(hex(encodeHelloVerifyRequest(hvr))).toBe(hex(hvrMsg!.body));

    const { records, trailing } = parseRecords(OPENSSL_FLIGHT);
    expect(trailing).toBeUndefined();
    expect(records.map((r) => r.sequence)).toEqual([1, 2, 3]);
    const msgs = records.flatMap((r) => value(parseHandshake(r.fragment)));
    expect(msgs.map((m) => [m.msgType, m.messageSeq])).toEqual([[2, 1], [12, 2], [14, 3]]);
    const sh = value(parseServerHello(msgs[0]!.body));
    expect(sh).toMatchObject({ version: DTLS1_2, suite: 0xc0a8, compression: 0 });
    expect(sh.sessionId).toHaveLength(0);
    expect(sh.extensions?.map((e) => e.type)).toEqual([ExtensionType.renegotiation_info, ExtensionType.session_ticket, ExtensionType.extended_master_secret]);
    expect(hex(sh.extensions![0]!.data)).toBe(hex(renegotiationInfo().data));
    expect(hex(encodeServerHello(sh))).toBe(hex(msgs[0]!.body));
    expect(Buffer.from(value(parsePskIdentityHint(msgs[1]!.body))).toString()).toBe('CoAP');
    expect(describeDatagram(OPENSSL_FLIGHT)).toBe(
      'ServerHello v1.2 suite=TLS_PSK_WITH_AES_128_CCM_8 ext=[renegotiation_info,session_ticket,extended_master_secret] seq=1 | ServerKeyExchange seq=2 6B | ServerHelloDone seq=3 0B',
    );
    expect(describeDatagram(OPENSSL_HVR)).toBe('HelloVerifyRequest v1.0 cookie=20B');
  });

  it('alerts: names, levels, and the wrong sizes', () => {
    expect(value(parseAlert(Uint8Array.of(2, 40)))).toEqual({ level: 2, description: 40, name: 'handshake_failure' });
    expect(value(parseAlert(Uint8Array.of(1, 0))).name).toBe('close_notify');
    expect(alertName(115)).toBe('unknown_psk_identity');
    expect(alertName(222)).toBe('alert(222)');
    expect(parseAlert(Uint8Array.of(3, 40))).toEqual({ ok: false, error: 'alert.level: 3 is neither warning(1) nor fatal(2)' });
    expect(parseAlert(Uint8Array.of(2))).toEqual({ ok: false, error: 'alert: 1 byte(s), an alert is 2' });
  });

  it('errors name the field that is wrong', () => {
    const body = encodeClientHello(hello);
    expect(parseClientHello(body.subarray(0, 20))).toEqual({ ok: false, error: 'client_hello.random: truncated: 18 byte(s) left, needs 32' });
    expect(parseClientHello(encodeClientHello({ ...hello, sessionId: new Uint8Array(33) }))).toEqual({ ok: false, error: 'client_hello.session_id: length 33 outside 0..32' });
    expect(parseClientHello(encodeClientHello({ ...hello, suites: [] }))).toEqual({ ok: false, error: 'client_hello.cipher_suites: length 0 outside 2..65534' });
    expect(parseClientHello(encodeClientHello(hello, { cookieLength: 200 })).ok).toBe(false);
    expect(parseRecords(Uint8Array.of(22, 0xfe, 0xfd))).toMatchObject({ records: [], trailing: { offset: 0, error: 'record.header: 3 byte(s) at offset 0, a header needs 13' } });
    const lying = encodeHandshake({ msgType: 1, messageSeq: 0, body: new Uint8Array(10), length: 8 });
    expect(parseHandshake(lying)).toEqual({ ok: false, error: 'handshake.fragment_offset+fragment_length: 0+10 > length 8' });
    const dup = encodeClientHello({ ...hello, extensions: [extendedMasterSecret(), extendedMasterSecret()] });
    expect(parseClientHello(dup)).toEqual({ ok: false, error: 'client_hello.extensions[1]: extended_master_secret appears twice' });
  });

  it('encoders refuse values no field can hold', () => {
    expect(() => encodeRecord({ type: 22, version: DTLS1_2, epoch: 0, sequence: 2 ** 48, fragment: new Uint8Array(0) })).toThrow(RangeError);
    expect(() => encodeHandshake({ msgType: 1, messageSeq: 0x10000, body: new Uint8Array(0) })).toThrow(/message_seq/);
  });
});

describe('cipher suite table', () => {
  it('ids and names are unique, and every PSK family suite is there', () => {
    expect(SUITES_BY_ID.size).toBe(CIPHER_SUITES.length);
    expect(SUITE_IDS_BY_NAME.size).toBe(CIPHER_SUITES.length);
    const psk = CIPHER_SUITES.filter((s) => isPskSuite(s.id));
    const count = (re: RegExp) => psk.filter((s) => re.test(s.name)).length;
    // IANA registry: 26 TLS_PSK_* (incl. the two TLS_PSK_DHE_*_CCM_8), 22 TLS_DHE_PSK_*, 18 TLS_ECDHE_PSK_*, 20 TLS_RSA_PSK_*
    expect(count(/^TLS_PSK_/)).toBe(26);
    expect(count(/^TLS_DHE_PSK_/)).toBe(22);
    expect(count(/^TLS_ECDHE_PSK_/)).toBe(18);
    expect(count(/^TLS_RSA_PSK_/)).toBe(20);
    expect(psk).toHaveLength(86);
    expect(SUITE_IDS_BY_NAME.get('TLS_PSK_WITH_AES_128_CCM_8')).toBe(0xc0a8);
    expect(SUITE_IDS_BY_NAME.get('TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256')).toBe(0xc037);
    expect(SUITE_IDS_BY_NAME.get('TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256')).toBe(0xd003);
    expect(suiteName(0xbeef)).toBe('0xbeef');
  });

  it('classifies weaknesses, the worst first', () => {
    const w = (name: string) => SUITES_BY_ID.get(SUITE_IDS_BY_NAME.get(name)!)!.weakness;
    expect(w('TLS_NULL_WITH_NULL_NULL')).toBe('null');
    expect(w('TLS_PSK_WITH_NULL_SHA256')).toBe('null');
    expect(w('TLS_ECDH_anon_WITH_NULL_SHA')).toBe('null');
    expect(w('TLS_DH_anon_EXPORT_WITH_RC4_40_MD5')).toBe('anon');
    expect(w('TLS_RSA_EXPORT_WITH_DES40_CBC_SHA')).toBe('export');
    expect(w('TLS_ECDHE_PSK_WITH_RC4_128_SHA')).toBe('rc4');
    expect(w('TLS_PSK_WITH_3DES_EDE_CBC_SHA')).toBe('3des');
    expect(w('TLS_KRB5_WITH_IDEA_CBC_MD5')).toBe('md5');
    expect(w('TLS_PSK_WITH_AES_128_CBC_SHA')).toBe('cbc-sha1');
    expect(w('TLS_PSK_WITH_AES_128_CBC_SHA256')).toBeUndefined();
    expect(w('TLS_PSK_WITH_AES_128_CCM_8')).toBeUndefined();
    expect(w('TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256')).toBeUndefined();
    expect(weaknessOf('TLS_RSA_WITH_AES_128_GCM_SHA256')).toBeUndefined();
    const classes = new Set(CIPHER_SUITES.map((s) => s.weakness));
    for (const c of ['null', 'anon', 'export', 'rc4', '3des', 'md5', 'cbc-sha1', undefined]) expect(classes.has(c as never)).toBe(true);
  });
});

describe('round trips (valid arbitraries)', () => {
  it('records: encode, parse, equal; several in one datagram', () => {
    fc.assert(
      fc.property(fc.array(recordArb(), { minLength: 1, maxLength: 4 }), (recs) => {
        const datagram = Buffer.concat(recs.map((r) => encodeRecord(r)));
        expect(parseRecords(datagram)).toEqual({ records: recs });
      }),
      RUN,
    );
  });

  it('handshake fragments: encode, parse, equal', () => {
    fc.assert(
      fc.property(fc.array(handshakeFragmentArb(), { minLength: 1, maxLength: 3 }), (frags) => {
        const bytes = Buffer.concat(frags.map((f) => encodeHandshake(f)));
        expect(value(parseHandshake(bytes))).toEqual(frags);
      }),
      RUN,
    );
  });

  it('ClientHello datagrams: record, handshake and hello all come back', () => {
    fc.assert(
      fc.property(clientHelloDatagramArb(), ({ hello, messageSeq, sequence, bytes }) => {
        const { records, trailing } = parseRecords(bytes);
        expect(trailing).toBeUndefined();
        expect(records).toHaveLength(1);
        expect(records[0]).toMatchObject({ type: ContentType.handshake, epoch: 0, sequence });
        const [msg, ...rest] = value(parseHandshake(records[0]!.fragment));
        expect(rest).toEqual([]);
        expect(msg).toMatchObject({ msgType: HandshakeType.client_hello, messageSeq, fragmentOffset: 0, length: msg!.body.length });
        expect(value(parseClientHello(msg!.body))).toEqual(hello);
      }),
      RUN,
    );
  });

  it('ServerHello and HelloVerifyRequest: encode, parse, equal', () => {
    const serverHello: fc.Arbitrary<ServerHello> = fc
      .record({
        version: fc.constantFrom(DTLS1_2, 0xfeff),
        random: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        sessionId: fc.uint8Array({ maxLength: 32 }),
        suite: fc.integer({ min: 0, max: 0xffff }),
        compression: fc.constantFrom(0, 1),
        extensions: fc.option(extensionsArb(), { nil: undefined }),
      })
      .map(({ extensions, ...h }) => (extensions === undefined ? h : { ...h, extensions }));
    fc.assert(
      fc.property(serverHello, (h) => {
        expect(value(parseServerHello(encodeServerHello(h)))).toEqual(h);
      }),
      RUN,
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 255 }), (version, cookie) => {
        expect(value(parseHelloVerifyRequest(encodeHelloVerifyRequest({ version, cookie })))).toEqual({ version, cookie });
      }),
      RUN,
    );
  });

  it('extension lists and u16 lists', () => {
    fc.assert(
      fc.property(clientHelloArb(), extensionsArb(), (h, exts) => {
        const body = encodeClientHello({ ...h, extensions: exts });
        expect(value(parseClientHello(body)).extensions).toEqual(exts);
        const list = Buffer.concat(exts.map((e) => Buffer.concat([Buffer.from([e.type >> 8, e.type & 0xff, e.data.length >> 8, e.data.length & 0xff]), e.data])));
        expect(value(parseExtensionList(list))).toEqual(exts);
      }),
      RUN,
    );
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 }), (groups) => {
        expect(value(parseU16List(supportedGroups(groups).data, 'supported_groups'))).toEqual(groups);
      }),
      RUN,
    );
  });

  it('reassembly: any cover of a message by fragments, in any order, overlapping, gives the message back', () => {
    const cover = fc.uint8Array({ minLength: 1, maxLength: 300 }).chain((body) =>
      fc
        .array(fc.tuple(fc.nat(body.length), fc.nat(body.length)), { maxLength: 8 })
        .map((cuts) => {
          // fragments [a, b) from random cut pairs, plus the pieces that make sure every byte is covered
          const spans = cuts.map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const).filter(([a, b]) => b > a);
          const points = [...new Set([0, body.length, ...cuts.flat()])].sort((x, y) => x - y);
          for (let i = 0; i + 1 < points.length; i++) spans.push([points[i]!, points[i + 1]!]);
          return spans.map(([a, b]): HandshakeFragment => ({ msgType: 2, length: body.length, messageSeq: 1, fragmentOffset: a, body: body.slice(a, b) }));
        })
        .chain((frags) => fc.shuffledSubarray(frags, { minLength: frags.length }))
        .map((frags) => ({ body, frags })),
    );
    fc.assert(
      fc.property(cover, ({ body, frags }) => {
        expect(value(reassemble(frags))).toEqual({ msgType: 2, length: body.length, messageSeq: 1, fragmentOffset: 0, body });
        // and without the fragment that starts the message, there is a gap
        const rest = frags.filter((f) => f.fragmentOffset !== 0);
        if (rest.length) expect(reassemble(rest)).toMatchObject({ ok: false, error: expect.stringMatching(/^fragments: gap at byte 0/) });
      }),
      RUN,
    );
  });
});

/** Runs every parser on what a datagram holds; returns the first error, or undefined. Throws only if a parser does. */
function parseEverything(bytes: Uint8Array): string | undefined {
  describeDatagram(bytes);
  const { records, trailing } = parseRecords(bytes);
  let first = trailing?.error;
  const note = (p: Parsed<unknown>) => {
    if (!p.ok) first ??= p.error;
  };
  for (const r of records) {
    parseAlert(r.fragment);
    const h = parseHandshake(r.fragment);
    if (r.epoch === 0 && r.type === ContentType.handshake) note(h);
    if (!h.ok) continue;
    reassemble(h.value);
    for (const m of h.value) {
      parseServerHello(m.body);
      parseHelloVerifyRequest(m.body);
      parsePskIdentityHint(m.body);
      parseExtensionList(m.body);
      const ch = parseClientHello(m.body);
      if (m.msgType === HandshakeType.client_hello && m.fragmentOffset === 0 && m.body.length === m.length) note(ch);
    }
  }
  return first;
}

const isParsed = (p: Parsed<unknown>) => (p.ok ? 'value' in p : typeof p.error === 'string' && /^[\w.[\]+ ()-]+: /.test(p.error));

describe('totality', () => {
  it('no parser throws on random bytes, and each answers ok or an error naming a field', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        parseEverything(b);
        for (const p of [parseRecord(b), parseHandshake(b), parseClientHello(b), parseServerHello(b), parseHelloVerifyRequest(b), parseAlert(b), parseExtensionList(b), parseU16List(b, 'x')])
          expect(isParsed(p)).toBe(true);
      }),
      { ...RUN, numRuns: 1000 },
    );
  });

  it('no parser throws on hostile datagrams', () => {
    fc.assert(
      fc.property(hostileDatagramArb(), ({ bytes, label }) => {
        expect(label.length).toBeGreaterThan(0);
        parseEverything(bytes);
      }),
      RUN,
    );
  });

  // The hostile shapes whose outcome is certain fail on the field they lie about.
  const EXPECTED_ERROR: Readonly<Record<string, RegExp>> = {
    'record.length > bytes left': /^record\.length: /,
    'truncated record header': /^record\.header: /,
    'many empty records': /^handshake: empty record/, // "MUST NOT send zero-length fragments of Handshake" [RFC5246 6.2.1]
    'fragment_offset+fragment_length > length': /^handshake\.fragment_offset\+fragment_length: /,
    'fragment_offset past the message end': /^handshake\.fragment_offset\+fragment_length: /,
    'fragment_length > bytes in the record': /^handshake\.fragment_length: /,
    'session_id > 32 bytes': /^client_hello\.session_id: length \d+ outside 0\.\.32/,
    'empty cipher_suites': /^client_hello\.cipher_suites: /,
    'odd cipher_suites length': /^client_hello\.cipher_suites: /,
    'cipher_suites length > bytes': /^client_hello\./, // when the lie is small, a later field runs out first
    'empty compression_methods': /^client_hello\.compression_methods: /,
    'duplicate extensions': /^client_hello\.extensions\[1\]: .* appears twice/,
    'extension length > bytes': /^client_hello\.extensions\[0\] \(supported_groups\) data: /,
    'bytes after the extensions': /^client_hello\.extensions: \d+ byte\(s\) after the extensions/,
  };
  const VALID = ['record sequence at the 48-bit edge', 'cookie ', 'client_version ', 'record.version ', 'no null compression', 'oversized extension', 'hundreds of extensions', 'thousands of cipher suites', 'overlapping fragments that disagree'];

  it('hostile shapes fail on the field they lie about; edge values that are legal parse', () => {
    const seen = new Set<string>();
    for (const { bytes, label } of fc.sample(hostileDatagramArb(), { seed: 20261121, numRuns: 4000 })) {
      const shape = label.replace(/ (0x[0-9a-f]{4}|\d+B)$/, ' ');
      seen.add(shape);
      const error = parseEverything(bytes);
      const want = EXPECTED_ERROR[label];
      if (want) expect(error, `${label}: ${Buffer.from(bytes).toString('hex')}`).toMatch(want);
      if (VALID.includes(shape)) expect(error, label).toBeUndefined();
    }
    // every shape is drawn
    for (const shape of [...Object.keys(EXPECTED_ERROR), ...VALID]) expect(seen.has(shape), shape).toBe(true);
    expect(seen.size).toBeGreaterThanOrEqual(35);
  });
});
