// The robustness flaws' triggers: what a firmware bug would choke on, read
// from the raw bytes before the well-kept parsers (aedes/mqtt-packet, coap,
// node:http) see them, since those parsers refuse the input cleanly. Each
// returns what happens to the service (crash or hang) and why; the device's
// watchdog (watchdog.ts) makes it happen. Hand-written: the point is to
// model a broken embedded parser, which no package does on purpose.
//
//   mqtt-crash-remaining-length  a fixed header whose remaining length takes
//                                a 5th byte (the 4th has its continuation bit)
//   mqtt-hang-qos2               PUBREL for a packet id with no QoS 2 PUBLISH
//                                in flight (a duplicate PUBREL included)
//   coap-crash-option            an extended option delta that takes the option
//                                number past 65535
//   coap-block-leak              Size1 trusted and pre-allocated for a Block1
//                                transfer, never freed: past the unit's 64 MiB
//                                of RAM it dies
//   http-crash-header            a request target or header value over 1 KiB
//                                (a fixed line buffer), or a malformed Host
//                                (two of them, a port past 65535, characters
//                                no host name has): the vhost parser's
//                                unchecked sscanf

import type { Flaw } from './flaws.js';

export type Fault = { readonly kind: 'crash' | 'hang'; readonly reason: string };

/** The emulated unit's RAM for block-wise buffers. */
export const RAM_BYTES = 64 * 1024 * 1024;
/** The flawed firmware's line buffer. */
export const HTTP_LINE_BUFFER = 1024;

/**
 * Walks the MQTT packets of one connection as they arrive (any chunking):
 * fixed header, remaining length, and just enough of the body (packet ids)
 * for the two MQTT flaws. Gives up quietly (null) on a connection it cannot
 * frame: aedes refuses those on its own.
 */
export class MqttFrameScanner {
  private buf: Buffer = Buffer.alloc(0);
  private readonly inflight = new Set<number>();
  private dead = false;

  constructor(private readonly flaws: ReadonlySet<Flaw>) {}

  static needed(flaws: ReadonlySet<Flaw>): boolean {
    return flaws.has('mqtt-crash-remaining-length') || flaws.has('mqtt-hang-qos2');
  }

  feed(chunk: Buffer): Fault | undefined {
    if (this.dead) return undefined;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    // Bound what is kept: a packet body past 64 KiB is skipped, not buffered.
    for (;;) {
      if (this.buf.length < 2) return undefined;
      let len = 0;
      let mult = 1;
      let i = 1;
      for (; ; i++) {
        if (i >= this.buf.length) return undefined;
        const b = this.buf[i]!;
        if (i === 5) {
          if (this.flaws.has('mqtt-crash-remaining-length')) return { kind: 'crash', reason: 'remaining length with a 5th byte: the length decoder overran its 4-byte buffer' };
          this.dead = true;
          return undefined;
        }
        len += (b & 0x7f) * mult;
        mult *= 128;
        if ((b & 0x80) === 0) break;
      }
      const start = i + 1;
      if (len > 64 * 1024) {
        this.dead = true; // aedes will refuse or stream it; nothing to model here
        return undefined;
      }
      if (this.buf.length < start + len) return undefined;
      const type = this.buf[0]! >> 4;
      const flags = this.buf[0]! & 0x0f;
      const body = this.buf.subarray(start, start + len);
      this.buf = this.buf.subarray(start + len);
      const fault = this.packet(type, flags, body);
      if (fault) return fault;
    }
  }

  private packet(type: number, flags: number, body: Buffer): Fault | undefined {
    if (!this.flaws.has('mqtt-hang-qos2')) return undefined;
    if (type === 3 && ((flags >> 1) & 3) === 2 && body.length >= 2) {
      const topicLen = body.readUInt16BE(0);
      if (body.length >= 2 + topicLen + 2) this.inflight.add(body.readUInt16BE(2 + topicLen));
    } else if (type === 6 && body.length >= 2) {
      const id = body.readUInt16BE(0);
      if (!this.inflight.delete(id)) return { kind: 'hang', reason: `PUBREL for packet id ${id} with no QoS 2 PUBLISH in flight: the QoS 2 state machine spins` };
    }
    return undefined;
  }
}

/** The CoAP flaws, on one datagram. `leaked` is the running total of block buffers never freed (coap-block-leak). */
export function coapFault(datagram: Buffer, flaws: ReadonlySet<Flaw>, leak: { bytes: number }): Fault | undefined {
  if (!flaws.has('coap-crash-option') && !flaws.has('coap-block-leak')) return undefined;
  if (datagram.length < 4 || datagram[0]! >> 6 !== 1) return undefined;
  const tkl = datagram[0]! & 0x0f;
  if (tkl > 8) return undefined;
  let at = 4 + tkl;
  let number = 0;
  let size1: number | undefined;
  let block1More = false;
  while (at < datagram.length && datagram[at] !== 0xff) {
    const head = datagram[at++]!;
    if (head >> 4 === 15 || (head & 0x0f) === 15) return undefined;
    // Nibbles 13 and 14 take one or two extended bytes [RFC7252 3.1].
    const extended = (nibble: number): number | undefined => {
      if (nibble < 13) return nibble;
      const width = nibble === 13 ? 1 : 2;
      if (at + width > datagram.length) return undefined;
      const v = width === 1 ? datagram[at]! + 13 : datagram.readUInt16BE(at) + 269;
      at += width;
      return v;
    };
    const delta = extended(head >> 4);
    const length = delta === undefined ? undefined : extended(head & 0x0f);
    if (delta === undefined || length === undefined) return undefined;
    number += delta;
    if (number > 0xffff && flaws.has('coap-crash-option')) {
      return { kind: 'crash', reason: `option number ${number} past 65535: the 16-bit option table index wrapped` };
    }
    if (at + length > datagram.length) return undefined;
    const value = datagram.subarray(at, at + length);
    at += length;
    const uint = value.length <= 4 ? value.reduce((n, b) => n * 256 + b, 0) : undefined;
    if (number === 60) size1 = uint;
    if (number === 27 && uint !== undefined) block1More = (uint & 0x08) !== 0;
  }
  if (flaws.has('coap-block-leak') && block1More && size1 !== undefined) {
    leak.bytes += size1;
    if (leak.bytes > RAM_BYTES) {
      return { kind: 'crash', reason: `out of memory: ${leak.bytes} bytes of block-wise buffers pre-allocated from Size1 and never freed (RAM ${RAM_BYTES})` };
    }
  }
  return undefined;
}

const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/;

/** http-crash-header: a request target or header value longer than the firmware's line buffer, or a malformed Host. */
export function httpFault(rawUrl: string, rawHeaders: readonly string[], flaws: ReadonlySet<Flaw>): Fault | undefined {
  if (!flaws.has('http-crash-header')) return undefined;
  if (rawUrl.length > HTTP_LINE_BUFFER) return { kind: 'crash', reason: `request target of ${rawUrl.length} bytes overflowed the ${HTTP_LINE_BUFFER}-byte line buffer` };
  let hosts = 0;
  for (let i = 1; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i - 1]!;
    const value = rawHeaders[i]!;
    if (value.length > HTTP_LINE_BUFFER) return { kind: 'crash', reason: `header ${name.slice(0, 40)} of ${value.length} bytes overflowed the ${HTTP_LINE_BUFFER}-byte line buffer` };
    if (name.toLowerCase() !== 'host') continue;
    hosts++;
    const m = HOST.exec(value);
    if (hosts > 1 || !m || (m[1] !== undefined && Number(m[1]) > 65535)) {
      return { kind: 'crash', reason: `malformed Host ${JSON.stringify(value.slice(0, 60))}${hosts > 1 ? ' (a second Host header)' : ''}: the vhost parser wrote past its buffer` };
    }
  }
  return undefined;
}
