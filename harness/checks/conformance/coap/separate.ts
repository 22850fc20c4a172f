// RFC 7252 5.2.2 separate responses (an empty ACK, then the response in its
// own message with the request token) on a resource named for it (/separate,
// libcoap's /async), and 4.2 retransmission of a CON response left
// unacknowledged.

import { getRequest } from './discovery.js';
import { describeShort, fail, open, pass, skip, type Probe, type Verdict } from './probe.js';
import { decodedOf } from './session.js';
import { ACK, CON, codeText } from './wire.js';

// ------------------------------------------------------------------ separate responses

const RETRANSMIT_WAIT_MS = 4500;

export async function separateCases(p: Probe): Promise<void> {
  const ids = ['RFC7252:5.2.2-separate-response', 'RFC7252:4.2-con-retransmitted'];
  const candidates = p.resources.separate;
  if (candidates.length === 0) {
    p.book.skipRest(ids, 'no resource listed as /separate or /async to provoke a separate response (so no CON response to leave unacknowledged); every response seen was piggybacked');
    return;
  }
  await p.run(`separate response (${candidates.map((c) => c.path).join(', ')})`, ids, async (s) => {
    const out: Verdict[] = [];
    for (const c of candidates) {
      const q = c.query.length ? `?${c.query.join('&')}` : '';
      const ex = await s.exchange(getRequest(s, c.path, [], { query: c.query }), { separateMs: 5000 });
      if (!ex.ack || ex.ack.code !== 0) {
        if (ex.response) out.push(skip('RFC7252:5.2.2-separate-response', `GET ${c.path}${q} -> ${describeShort(ex.response)}: piggybacked, no separate response to judge`));
        continue;
      }
      const r = ex.response;
      if (!r) {
        out.push(fail('RFC7252:5.2.2-separate-response', `GET ${c.path}${q} -> empty ACK mid=${ex.ack.messageId}, and no response with the token within 5000ms`));
        continue;
      }
      if (r.type === ACK) out.push(fail('RFC7252:5.2.2-separate-response', `GET ${c.path}${q} -> empty ACK, then the response in another ACK (mid=${r.messageId})`));
      else out.push(pass('RFC7252:5.2.2-separate-response', `GET ${c.path}${q} -> empty ACK mid=${ex.ack.messageId}, then ${r.type === CON ? 'CON' : 'NON'} ${codeText(r.code)} mid=${r.messageId} with the request token`));
      if (r.type !== CON) continue;
      // The same again, leaving the CON response unacknowledged.
      s.conPolicy = 'none';
      const ex2 = await s.exchange(getRequest(s, c.path, [], { query: c.query }), { separateMs: 5000 });
      const r2 = ex2.response;
      if (r2 && r2.type === CON) {
        const at = s.received().find((h) => decodedOf(h)?.messageId === r2.messageId)!;
        const since = s.mark();
        const again = await s.wait((h) => decodedOf(h)?.messageId === r2.messageId && decodedOf(h)?.type === CON, RETRANSMIT_WAIT_MS, since);
        s.send(Buffer.from([0x60, 0, r2.messageId >> 8, r2.messageId & 0xff]), `ACK empty mid=${r2.messageId}`);
        if (again) out.push(pass('RFC7252:4.2-con-retransmitted', `the unacknowledged CON response mid=${r2.messageId} came again ${Math.round(again.at - at.at)}ms later, same message id`));
        else out.push(open('RFC7252:4.2-con-retransmitted', `the unacknowledged CON response mid=${r2.messageId} did not come again within ${RETRANSMIT_WAIT_MS}ms (the default ACK_TIMEOUT x ACK_RANDOM_FACTOR is at most 3s; the server may use other transmission parameters)`));
      }
      s.conPolicy = 'ack';
      break;
    }
    return out;
  });
  p.book.skipRest(['RFC7252:4.2-con-retransmitted'], 'the server sent no separate response as a CON to leave unacknowledged');
}
