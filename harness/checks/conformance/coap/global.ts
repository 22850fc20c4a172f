// Statements judged over every datagram the server sent during the run:
// header, token, option and payload-marker encoding, Empty messages, option
// lengths and repetitions, response code classes. The evidence of a failure
// is the offending datagram itself.

import type { TranscriptEntry } from '../../../model/index.js';
import { hexOf } from '../../../protocols/common/io.js';
import type { Probe } from './probe.js';
import type { Heard } from './session.js';
import { codeClass, codeText, optionFaults, type FormatFault, type WireMessage } from './wire.js';

interface Rule {
  readonly id: string;
  /** What is wrong with this datagram for the statement, or undefined. */
  readonly fault: (h: Heard) => string | undefined;
  readonly good: string;
}

const formatFault = (kinds: readonly FormatFault[]) => (h: Heard) => (!h.decoded.ok && kinds.includes(h.decoded.fault) ? h.decoded.error : undefined);
const msgOf = (h: Heard): WireMessage | undefined => (h.decoded.ok ? h.decoded.msg : undefined);

const RULES: readonly Rule[] = [
  {
    id: 'RFC7252:3-version-1',
    good: 'version 1',
    fault: (h) => {
      const v = h.decoded.ok ? h.decoded.msg.version : h.decoded.version;
      return v !== undefined && v !== 1 ? `version ${v}` : undefined;
    },
  },
  { id: 'RFC7252:3-token-length-sent', good: 'a token length of 0-8 within the datagram', fault: formatFault(['token-length']) },
  { id: 'RFC7252:3-payload-marker-sent', good: 'no payload marker without a payload', fault: formatFault(['payload-marker']) },
  { id: 'RFC7252:3.1-option-format-sent', good: 'well-encoded options', fault: formatFault(['option', 'short']) },
  {
    id: 'RFC7252:4.1-empty-sent',
    good: 'Empty messages without token, options or payload',
    fault: (h) => {
      const m = msgOf(h);
      if (!m || m.code !== 0) return undefined;
      const extra = [m.token.length ? `a ${m.token.length}-byte token` : '', m.options.length ? `${m.options.length} options` : '', m.payload.length ? `a ${m.payload.length}-byte payload` : ''].filter(Boolean);
      return extra.length ? `an Empty message (0.00) with ${extra.join(' and ')}` : undefined;
    },
  },
  {
    id: 'RFC7252:5.4.3-lengths-sent',
    good: 'option lengths within their ranges',
    fault: (h) => {
      const m = msgOf(h);
      const f = m ? optionFaults(m).lengths : [];
      return f.length ? f.join(', ') : undefined;
    },
  },
  {
    id: 'RFC7252:5.4.5-no-supernumerary-sent',
    good: 'no repeated non-repeatable option',
    fault: (h) => {
      const m = msgOf(h);
      const f = m ? optionFaults(m).repeats : [];
      return f.length ? f.join(', ') : undefined;
    },
  },
  {
    id: 'RFC7252:5.9-response-codes',
    good: 'a response code of class 2, 4 or 5 in every non-empty message',
    fault: (h) => {
      const m = msgOf(h);
      if (!m || m.code === 0) return undefined;
      const c = codeClass(m.code);
      return c === 2 || c === 4 || c === 5 ? undefined : `code ${codeText(m.code)}${c === 0 ? ' (a request code)' : ' (a reserved class)'}`;
    },
  },
];

export const GLOBAL_IDS: readonly string[] = RULES.map((r) => r.id);

export function judgeServerDatagrams(p: Probe): void {
  const heard = p.log.heard;
  for (const rule of RULES) {
    if (!p.book.wants(rule.id)) continue;
    if (heard.length === 0) {
      p.book.inconclusive(rule.id, 'the server sent no datagram during the run');
      continue;
    }
    const bad = heard.map((h) => ({ h, why: rule.fault(h) })).filter((x) => x.why !== undefined);
    if (bad.length === 0) {
      p.book.pass(rule.id, `all ${heard.length} datagrams the server sent had ${rule.good}`);
      continue;
    }
    const first = bad[0]!;
    const transcript: TranscriptEntry[] = bad.slice(0, 5).map((x) => ({ t: 0, dir: 'received', peer: p.iface.id, decoded: p.log.lines.get(x.h) ?? '', ...hexOf(x.h.bytes) }));
    p.book.fail(rule.id, `${bad.length} of ${heard.length} datagrams from the server broke it; the first: ${first.why} (${p.log.lines.get(first.h) ?? ''})`, transcript);
  }
}
