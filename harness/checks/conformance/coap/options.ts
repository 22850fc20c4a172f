// RFC 7252 options and methods on a resource that answers GET with 2.05,
// each compared with that plain GET: unrecognised critical and elective
// options, lengths out of range, repetitions, leading zeros in a uint, Accept,
// Proxy-Uri and Proxy-Scheme on a server that is no proxy, Uri-Host and
// Uri-Port at their defaults, an unknown method code.

import { isIP } from 'node:net';
import { getRequest } from './discovery.js';
import { answerText, codeOf, fail, open, pass, skip, type Probe, type Verdict } from './probe.js';
import type { Exchange } from './session.js';
import { CON, OPT, opt, raw, uintBytes } from './wire.js';

/** Experimental-use option numbers [RFC7252 12.2]: no server recognises them. Odd is critical, even elective [RFC7252 5.4.6]. */
export const UNKNOWN_CRITICAL = 65001;
const UNKNOWN_ELECTIVE = 65002;
/** An experimental-use Content-Format [RFC7252 12.3]: no resource produces it. */
const UNKNOWN_FORMAT = 65000;
/** An unassigned method code, 0.31 [RFC7252 12.1.1]. */
const UNKNOWN_METHOD = 31;

// ------------------------------------------------------------------ options and methods

export async function optionCases(p: Probe): Promise<void> {
  const path = p.resources.control;
  const ids = [
    'RFC7252:5.4.1-critical-con-4.02',
    'RFC7252:5.4.1-elective-ignored',
    'RFC7252:5.4.3-length-out-of-range',
    'RFC7252:3.2-uint-leading-zeros',
    'RFC7252:5.4.5-repeated-critical-4.02',
    'RFC7252:5.4.5-repeated-elective-ignored',
    'RFC7252:5.8-unknown-method-4.05',
    'RFC7252:5.10.2-proxy-uri-5.05',
    'RFC7252:5.10.2-proxy-scheme-5.05',
    'RFC7252:5.10.4-accept-4.06',
    'RFC7252:5.10.1-uri-host-default',
    'RFC7252:5.10.1-uri-port-default',
  ];
  if (!path) {
    for (const id of ids) p.book.inconclusive(id, 'no resource answered GET with 2.05 to compare against');
    return;
  }
  await p.run(`options and methods on GET ${path}`, ids, async (s) => {
    const out: Verdict[] = [];
    const control = await s.exchange(getRequest(s, path));
    const c0 = codeOf(control);
    if (!c0) return ids.map((id) => open(id, `control GET ${path}: ${answerText(control)}`));
    const ask = async (what: string, extra: { number: number; value: Buffer }[], o: { code?: number; noPath?: boolean } = {}) => {
      const m = o.noPath ? raw(CON, o.code ?? 1, s.mid(), s.token(), extra) : getRequest(s, path, extra, o.code !== undefined ? { code: o.code } : {});
      const ex = await s.exchange(m);
      return { what, ex, code: codeOf(ex) };
    };
    const expect = (id: string, r: { what: string; ex: Exchange; code?: string }, want: string, why = '') => {
      if (r.ex.reset) return fail(id, `${r.what} -> RST mid=${r.ex.reset.messageId}: the request was rejected as unprocessable, not answered ${want}${why}`);
      if (!r.code) return open(id, `${r.what}: ${answerText(r.ex)}`);
      return r.code === want ? pass(id, `${r.what} -> ${r.code}`) : fail(id, `${r.what} -> ${r.code}, not ${want}${why}`);
    };
    const same = (id: string, r: { what: string; ex: Exchange; code?: string }) => {
      if (!r.code) return open(id, `${r.what}: ${answerText(r.ex)}`);
      return r.code === c0 ? pass(id, `${r.what} -> ${r.code}, as without it`) : fail(id, `${r.what} -> ${r.code}, while the same GET without it -> ${c0}`);
    };

    out.push(expect('RFC7252:5.4.1-critical-con-4.02', await ask(`CON GET ${path} with opt${UNKNOWN_CRITICAL} (critical, unrecognised)`, [opt(UNKNOWN_CRITICAL, 'x')]), '4.02'));
    out.push(same('RFC7252:5.4.1-elective-ignored', await ask(`CON GET ${path} with opt${UNKNOWN_ELECTIVE} (elective, unrecognised)`, [opt(UNKNOWN_ELECTIVE, 'x')])));
    out.push(expect('RFC7252:5.4.3-length-out-of-range', await ask(`CON GET ${path} with a 3-byte Accept (range 0-2)`, [opt(OPT.Accept, Buffer.from([0, 0, 40]))]), '4.02'));

    const format = p.resources.controlFormat;
    let acceptKnown: boolean | undefined;
    if (format === undefined) {
      out.push(skip('RFC7252:3.2-uint-leading-zeros', `the 2.05 of ${path} carries no Content-Format to ask for with Accept`));
    } else {
      const plain = await ask(`CON GET ${path} with Accept=${format}`, [opt(OPT.Accept, format)]);
      const padded = await ask(`CON GET ${path} with Accept=${format} written with a leading zero byte`, [opt(OPT.Accept, Buffer.concat([Buffer.from([0]), uintBytes(format)]))]);
      acceptKnown = plain.code === '2.05' ? true : plain.code === '4.02' ? false : undefined;
      if (!plain.code || !padded.code) out.push(open('RFC7252:3.2-uint-leading-zeros', `${plain.what}: ${answerText(plain.ex)}; ${padded.what}: ${answerText(padded.ex)}`));
      else if (plain.code === padded.code) out.push(pass('RFC7252:3.2-uint-leading-zeros', `${padded.what} -> ${padded.code}, as with one byte`));
      else out.push(fail('RFC7252:3.2-uint-leading-zeros', `${padded.what} -> ${padded.code}, but with the value in one byte -> ${plain.code}`));
    }
    out.push(expect('RFC7252:5.4.5-repeated-critical-4.02', await ask(`CON GET ${path} with Accept twice`, [opt(OPT.Accept, format ?? 0), opt(OPT.Accept, format ?? 0)]), '4.02'));
    out.push(same('RFC7252:5.4.5-repeated-elective-ignored', await ask(`CON GET ${path} with Max-Age twice`, [opt(OPT.MaxAge, 60), opt(OPT.MaxAge, 60)])));
    out.push(expect('RFC7252:5.8-unknown-method-4.05', await ask(`CON 0.${UNKNOWN_METHOD} (unassigned method) ${path}`, [], { code: UNKNOWN_METHOD }), '4.05'));
    const host = p.iface.host.includes(':') ? `[${p.iface.host}]` : p.iface.host;
    const proxyUri = `coap://${host}:${p.iface.port}${path}`;
    out.push(expect('RFC7252:5.10.2-proxy-uri-5.05', await ask(`CON GET with Proxy-Uri ${proxyUri}`, [opt(OPT.ProxyUri, proxyUri)], { noPath: true }), '5.05', ' (a server that is a forward proxy lists this statement in declaration.conformance.notImplemented)'));
    out.push(expect('RFC7252:5.10.2-proxy-scheme-5.05', await ask(`CON GET ${path} with Proxy-Scheme coap`, [opt(OPT.ProxyScheme, 'coap')]), '5.05', ' (a server that is a forward proxy lists this statement in declaration.conformance.notImplemented)'));

    const acc = await ask(`CON GET ${path} with Accept=${UNKNOWN_FORMAT} (experimental, unproducible)`, [opt(OPT.Accept, UNKNOWN_FORMAT)]);
    if (acc.code === '4.02' && acceptKnown === false) out.push(pass('RFC7252:5.10.4-accept-4.06', `${acc.what} -> 4.02: the server does not recognise Accept at all (4.02 takes precedence)`));
    else out.push(expect('RFC7252:5.10.4-accept-4.06', acc, '4.06'));

    if (isIP(p.iface.host) === 0) {
      out.push(skip('RFC7252:5.10.1-uri-host-default', `the interface names a host (${p.iface.host}), not an IP literal to compare with`));
    } else {
      out.push(same('RFC7252:5.10.1-uri-host-default', await ask(`CON GET ${path} with Uri-Host "${host}" (the destination address)`, [opt(OPT.UriHost, host)])));
    }
    out.push(same('RFC7252:5.10.1-uri-port-default', await ask(`CON GET ${path} with Uri-Port ${p.iface.port} (the destination port)`, [opt(OPT.UriPort, p.iface.port)])));
    return out;
  });
}
