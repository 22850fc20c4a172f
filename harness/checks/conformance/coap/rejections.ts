// RFC 7252 rejections: what a server must ignore in silence (an unknown
// version, an unexpected ACK or RST) or reject (a format error, an Empty
// message with a token, a reserved code class, a NON with an unrecognised
// critical option: a Reset, or silence), each on its own socket, side by side
// since each waits out a silence; then one request to see that the silence
// was not a dead server.

import { encodeCoap as encode } from '../../../protocols/coap/arbitraries.js';
import { getRequest, WELL_KNOWN } from './discovery.js';
import { answerText, describeShort, fail, pass, type Probe, type Verdict } from './probe.js';
import { decodedOf, openSession, type CoapSession, type Heard } from './session.js';
import { ACK, CON, codeText, NON, opt, raw, RST } from './wire.js';
import { UNKNOWN_CRITICAL } from './options.js';

// ------------------------------------------------------------------ rejections (silence or RST)

interface Rejection {
  readonly label: string;
  readonly id: string;
  /** What is sent, in order. */
  readonly send: (s: CoapSession, path: string) => { bytes: Buffer; label: string; mid: number }[];
  /** An RST answers it correctly (a CON rejected), or every reply is wrong (an ignored message). */
  readonly rstAllowed: boolean;
}

const rawBytes = (b: number[]) => Buffer.from(b);

function withMid(bytes: Buffer, mid: number): Buffer {
  const b = Buffer.from(bytes);
  b.writeUInt16BE(mid, 2);
  return b;
}

/** A received datagram in one line, its header read even when the rest does not parse. */
function heardText(h: Heard): string {
  const w = decodedOf(h);
  if (w) return describeShort(w);
  const type = h.bytes.length ? (['CON', 'NON', 'ACK', 'RST'] as const)[(h.bytes[0]! >> 4) & 3] : '?';
  const code = h.bytes.length >= 2 ? codeText(h.bytes[1]!) : '?';
  return `${type} ${code} that does not parse (${h.decoded.ok ? '' : h.decoded.error})`;
}

const REJECTIONS: readonly Rejection[] = [
  {
    label: 'version 2',
    id: 'RFC7252:3-version-ignored',
    rstAllowed: false,
    send: (s, path) => {
      const m = getRequest(s, path);
      return [{ bytes: encode({ ...m, version: 2 }), label: `ver=2 CON GET ${path} mid=${m.messageId}`, mid: m.messageId }];
    },
  },
  {
    label: 'token length nibble 9',
    id: 'RFC7252:3-token-length-reserved',
    rstAllowed: true,
    send: (s, path) => {
      const m = getRequest(s, path, [], { token: s.token(9) });
      return [{ bytes: encode({ ...m, tokenLengthNibble: 9 }), label: `CON GET ${path} mid=${m.messageId} tkl=9 (9 token bytes)`, mid: m.messageId }];
    },
  },
  {
    label: 'payload marker, empty payload',
    id: 'RFC7252:3-payload-marker-empty',
    rstAllowed: true,
    send: (s, path) => {
      const m = getRequest(s, path);
      return [{ bytes: encode({ ...m, payloadMarkerWithoutPayload: true }), label: `CON GET ${path} mid=${m.messageId} then 0xFF and no payload`, mid: m.messageId }];
    },
  },
  {
    label: 'option delta nibble 15',
    id: 'RFC7252:3.1-option-delta-15',
    rstAllowed: true,
    send: (s, path) => {
      const m = getRequest(s, path);
      const rawOptions = Buffer.concat([encodeOptions(m.options), rawBytes([0xf1, 0x00])]);
      return [{ bytes: encode({ ...m, rawOptions }), label: `CON GET ${path} mid=${m.messageId} then option byte 0xF1 (delta nibble 15)`, mid: m.messageId }];
    },
  },
  {
    label: 'option length nibble 15',
    id: 'RFC7252:3.1-option-length-15',
    rstAllowed: true,
    send: (s, path) => {
      const m = getRequest(s, path);
      const rawOptions = Buffer.concat([encodeOptions(m.options), rawBytes([0x1f, 0x00, 0x00])]);
      return [{ bytes: encode({ ...m, rawOptions }), label: `CON GET ${path} mid=${m.messageId} then option byte 0x1F (length nibble 15)`, mid: m.messageId }];
    },
  },
  {
    label: 'Empty message with a token',
    id: 'RFC7252:4.1-empty-with-content',
    rstAllowed: true,
    send: (s) => {
      const m = raw(CON, 0, s.mid(), s.token(2), []);
      return [{ bytes: encode(m), label: `CON 0.00 mid=${m.messageId} token=${Buffer.from(m.token).toString('hex')} (Empty with a token)`, mid: m.messageId }];
    },
  },
  {
    label: 'reserved code class 7',
    id: 'RFC7252:4.2-reserved-class',
    rstAllowed: true,
    send: (s, path) => {
      const m = { ...getRequest(s, path), code: (7 << 5) | 1 };
      return [{ bytes: encode(m), label: `CON 7.01 ${path} mid=${m.messageId}`, mid: m.messageId }];
    },
  },
  {
    label: 'unexpected ACKs',
    id: 'RFC7252:4.2-ack-ignored',
    rstAllowed: false,
    send: (s, path) => {
      const a = s.mid();
      const m = { ...getRequest(s, path), type: ACK as 2 };
      return [
        { bytes: withMid(rawBytes([0x60, 0, 0, 0]), a), label: `ACK empty mid=${a} (acknowledges nothing)`, mid: a },
        { bytes: encode(m), label: `ACK GET ${path} mid=${m.messageId} (an ACK carrying a request)`, mid: m.messageId },
      ];
    },
  },
  {
    label: 'unexpected RST',
    id: 'RFC7252:4.2-rst-ignored',
    rstAllowed: false,
    send: (s) => {
      const a = s.mid();
      return [{ bytes: withMid(rawBytes([0x70, 0, 0, 0]), a), label: `RST empty mid=${a} (resets nothing)`, mid: a }];
    },
  },
  {
    label: 'NON with an unrecognised critical option',
    id: 'RFC7252:5.4.1-critical-non-rejected',
    rstAllowed: true,
    send: (s, path) => {
      const m = getRequest(s, path, [opt(UNKNOWN_CRITICAL, 'x')], { type: NON });
      return [{ bytes: encode(m), label: `NON GET ${path} mid=${m.messageId} opt${UNKNOWN_CRITICAL}="x" (critical, unrecognised)`, mid: m.messageId }];
    },
  },
];


function encodeOptions(options: readonly { number: number; value: Uint8Array }[]): Buffer {
  // The encoder's own option encoding, without header and token.
  const m = encode(raw(CON, 1, 0, new Uint8Array(0), options));
  return m.subarray(4);
}

/** Every rejection case side by side (each waits out the silence), then a liveness check. */
export async function rejectionCases(p: Probe): Promise<void> {
  const path = p.resources.control ?? WELL_KNOWN;
  const results: { r: Rejection; verdicts: readonly Verdict[] }[] = [];
  await Promise.all(
    REJECTIONS.filter((r) => p.book.wants(r.id)).map(async (r) => {
      const verdicts = await p.run(`rejection: ${r.label}`, [r.id], async (s) => {
        const sent = r.send(s, path);
        const since = s.mark();
        for (const x of sent) s.send(x.bytes, x.label);
        const heard = await s.collect(p.silenceMs, since);
        const mids = new Set(sent.map((x) => x.mid));
        const what = sent.map((x) => x.label).join('; ');
        if (heard.length === 0) return [pass(r.id, `${what}: no reply within ${p.silenceMs}ms${r.rstAllowed ? ' (ignored; a Reset would also do)' : ''}`)];
        const should = r.rstAllowed ? 'it should have been rejected (a Reset, or silence)' : 'it should have been ignored in silence';
        const answered = heard.find((h) => h.bytes.length >= 2 && h.bytes[1] !== 0);
        if (answered) return [fail(r.id, `${what}: answered with a response, ${heardText(answered)}: ${should}`)];
        const rst = heard.map((h) => decodedOf(h)).find((w) => w && w.type === RST && mids.has(w.messageId));
        if (rst && r.rstAllowed) return [pass(r.id, `${what}: rejected with RST mid=${rst.messageId}`)];
        return [fail(r.id, `${what}: answered ${heardText(heard[0]!)}: ${should}`)];
      });
      results.push({ r, verdicts });
    }),
  );
  // Silence counts only if the server still answers.
  const silent = results.filter((x) => x.verdicts.some((v) => v.verdict === 'pass' && v.reason.includes(': no reply within')));
  if (silent.length > 0 && !p.aborted) {
    const s = await openSession(p.iface, p.io(p.trail), p.log).catch(() => undefined);
    if (!s) return;
    try {
      const ex = await s.exchange(getRequest(s, path));
      if (!ex.response && !ex.reset && !ex.ack) {
        for (const { r } of silent) p.book.inconclusive(r.id, `the server answered nothing afterwards either (GET ${path}: ${answerText(ex)}): silence proves nothing`);
      }
    } finally {
      await s.close();
    }
  }
}
