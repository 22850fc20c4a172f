// Liveness probes, one per protocol. Any well-formed answer means alive, a
// refusal included: a broker that says "not authorized" is up. Silence or a
// refused connection means the target is down, and the runner then calls a
// check's verdict inconclusive rather than pass or fail.

import type { Interface } from '../model/index.js';
import type { Io } from '../protocols/common/io.js';
import { connectFor, mqttConnectAttempt } from '../protocols/mqtt/connect-attempt.js';
import { coapExchange } from '../protocols/coap/exchange.js';
import { probeUdp } from '../protocols/common/port-probe.js';
import { httpExchange } from '../protocols/http/exchange.js';

export interface Liveness {
  readonly alive: boolean;
  readonly detail: string;
  /** Why not alive: the port refused or reset (`refused`), or nothing useful came back in time (`silent`). */
  readonly cause?: 'refused' | 'silent';
}

export async function probe(iface: Interface, io: Io): Promise<Liveness> {
  switch (iface.protocol) {
    case 'mqtt':
    case 'mqtts': {
      const o = await mqttConnectAttempt(iface, iface.version, connectFor(iface.version, {}), io, 'CONNECT (liveness probe, anonymous)');
      if (o.kind === 'accepted' || o.kind === 'refused') return { alive: true, detail: `CONNACK ${o.code}` };
      if (o.kind === 'closed') return { alive: true, detail: 'TCP accepted, closed without CONNACK' };
      return o.kind === 'unreachable' ? { alive: false, detail: `connect failed: ${o.error}`, cause: 'refused' } : { alive: false, detail: `no CONNACK (${o.kind})`, cause: 'silent' };
    }
    case 'coaps': {
      // A cookieless ClientHello: a DTLS server answers with a HelloVerifyRequest (or an alert) and keeps no state.
      const o = await probeUdp(iface, io, 'dtls-client-hello');
      if (o.state === 'open' && o.reply) return { alive: true, detail: `answered a DTLS ClientHello (${o.reply.length} bytes)` };
      return o.state === 'closed' ? { alive: false, detail: `unreachable: ${o.error ?? 'port closed'}`, cause: 'refused' } : { alive: false, detail: 'no answer to a DTLS ClientHello', cause: 'silent' };
    }
    case 'coap': {
      const o = await coapExchange(iface, undefined, io);
      if (o.kind === 'reset') return { alive: true, detail: 'RST to CoAP ping' };
      if (o.kind === 'response') return { alive: true, detail: `answered the CoAP ping with ${o.code} (RFC 7252 4.3 expects RST)` };
      // Some stacks ignore pings: a GET of the discovery resource settles it.
      const g = await coapExchange(iface, { method: 'GET', path: '/.well-known/core' }, io);
      if (g.kind === 'response' || g.kind === 'reset') return { alive: true, detail: `ignored the CoAP ping but answered GET /.well-known/core (${g.kind === 'reset' ? 'RST' : g.code})` };
      return o.kind === 'unreachable' ? { alive: false, detail: `unreachable: ${o.error}`, cause: 'refused' } : { alive: false, detail: `no answer to CoAP ping (${o.kind})`, cause: 'silent' };
    }
    case 'http':
    case 'https': {
      const o = await httpExchange(iface, { method: 'GET', path: iface.probePath }, io);
      if (o.kind === 'response') return { alive: true, detail: `GET ${iface.probePath} answered ${o.status}` };
      return o.kind === 'unreachable' ? { alive: false, detail: `unreachable: ${o.error}`, cause: 'refused' } : { alive: false, detail: 'no HTTP reply', cause: 'silent' };
    }
  }
}
