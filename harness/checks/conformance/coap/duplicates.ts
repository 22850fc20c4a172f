// RFC 7252 4.5 deduplication (a CON sent again a second later, when a
// resource that changes with time would show a second processing; a NON sent
// twice) and 5.9.1.3 ETag validation.

import { fetchWhole, getRequest } from './discovery.js';
import { answerText, describeShort, fail, open, pass, skip, type Probe, type Verdict } from './probe.js';
import { decodedOf } from './session.js';
import { ACK, codeClass, codeText, NON, OPT, opt, optionOf } from './wire.js';

/** Wait before a duplicate, so a resource that changes with time (a clock, a sensor) shows a second processing. */
const DUPLICATE_DELAY_MS = 1100;

// ------------------------------------------------------------------ deduplication

export async function duplicateCases(p: Probe): Promise<void> {
  const path = p.resources.observable[0] ?? p.resources.control;
  const ids = ['RFC7252:4.5-duplicate-con', 'RFC7252:4.5-duplicate-non'];
  if (!path) {
    for (const id of ids) p.book.inconclusive(id, 'no readable resource to send duplicates to');
    return;
  }
  await p.run(`duplicate CON and NON GET ${path}`, ids, async (s) => {
    const out: Verdict[] = [];
    const id = 'RFC7252:4.5-duplicate-con';
    const m = getRequest(s, path);
    const first = await s.exchange(m, { retransmit: false });
    const firstAnswer = first.heard.find((h) => decodedOf(h)?.messageId === m.messageId && decodedOf(h)?.type === ACK);
    if (!firstAnswer) out.push(open(id, `CON GET ${path} mid=${m.messageId}: ${answerText(first)} (no ACK to compare a duplicate's with)`));
    else {
      await p.ctx.sleep(DUPLICATE_DELAY_MS);
      const since = s.mark();
      s.send(m, `${`CON GET ${path} mid=${m.messageId}`} again (a duplicate, ${DUPLICATE_DELAY_MS}ms later)`);
      const again = await s.wait((h) => decodedOf(h)?.messageId === m.messageId, p.ctx.ioTimeoutMs, since);
      const fresh = await s.exchange(getRequest(s, path));
      const changed = fresh.response && first.response && !fresh.response.payload.equals(first.response.payload);
      const note = changed ? 'the representation changed meanwhile (a fresh GET differs), so a second processing would show' : 'the representation did not change meanwhile, so a second processing could not show';
      if (!again) out.push(fail(id, `the duplicate of CON mid=${m.messageId} got no answer within ${p.ctx.ioTimeoutMs}ms: a duplicate is to be acknowledged again`));
      else if (again.bytes.equals(firstAnswer.bytes)) out.push(pass(id, `the duplicate of CON mid=${m.messageId} got the same ${again.bytes.length}-byte ACK again; ${note}`));
      else {
        const w = decodedOf(again);
        out.push(fail(id, `the duplicate of CON mid=${m.messageId} got a different answer (${w ? describeShort(w) : 'unparseable'}) than the first (${describeShort(decodedOf(firstAnswer)!)}): the request was processed again`));
      }
    }
    const nid = 'RFC7252:4.5-duplicate-non';
    const n = getRequest(s, path, [], { type: NON });
    const since = s.mark();
    s.send(n);
    await s.wait((h) => !!decodedOf(h)?.token.equals(Buffer.from(n.token)), p.ctx.ioTimeoutMs, since);
    s.send(n, `NON GET ${path} mid=${n.messageId} again (a duplicate)`);
    const heard = await s.collect(p.silenceMs, since);
    const answers = heard.filter((h) => decodedOf(h)?.token.equals(Buffer.from(n.token)) && codeClass(decodedOf(h)!.code) >= 2);
    if (answers.length === 0) out.push(open(nid, `NON GET ${path} mid=${n.messageId}, sent twice: no response at all`));
    else if (answers.length === 1) out.push(pass(nid, `NON GET ${path} mid=${n.messageId}, sent twice: one response`));
    else {
      const same = answers.every((h) => h.bytes.equals(answers[0]!.bytes));
      const how = same ? 'the same response sent again: the duplicate was answered rather than ignored in silence' : 'different responses: the duplicate was processed again';
      out.push(fail(nid, `NON GET ${path} mid=${n.messageId}, sent twice: ${answers.length} responses (${answers.map((h) => `mid=${decodedOf(h)!.messageId}`).join(', ')}), ${how}`));
    }
    return out;
  });
}


// ------------------------------------------------------------------ ETag validation

export async function etagCase(p: Probe): Promise<void> {
  const id = 'RFC7252:5.9.1.3-valid-etag';
  await p.run('ETag validation (GET with the ETag just received)', [id], async (s) => {
    for (const path of p.resources.readable.slice(0, 6)) {
      const w = await fetchWhole(s, path);
      if (!w.ok) continue;
      const etag = optionOf(w.first, OPT.ETag);
      if (!etag) continue;
      const ex = await s.exchange(getRequest(s, path, [opt(OPT.ETag, etag.value)]));
      const r = ex.response;
      const what = `GET ${path} with ETag ${etag.value.toString('hex')} (from its 2.05)`;
      if (!r) return [open(id, `${what}: ${answerText(ex)}`)];
      const code = codeText(r.code);
      if (code !== '2.03') return [skip(id, `${what} -> ${code}: the server sent the representation again rather than 2.03 Valid, which it may`)];
      const tag = optionOf(r, OPT.ETag);
      if (!tag) return [fail(id, `${what} -> 2.03 without an ETag option`)];
      if (r.payload.length) return [fail(id, `${what} -> 2.03 with a ${r.payload.length}-byte payload`)];
      return [pass(id, `${what} -> 2.03 Valid with ETag ${tag.value.toString('hex')}, no payload`)];
    }
    return [skip(id, `no readable resource answered with an ETag (${p.resources.readable.slice(0, 6).join(', ') || 'none readable'})`)];
  });
}
