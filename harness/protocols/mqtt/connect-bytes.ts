// Encodes MQTT CONNECT packets byte by byte, including hostile ones.
// Hand-written because mqtt-packet (used for every well-formed packet and
// for parsing replies) refuses to generate what a fuzzer needs: non-UTF-8
// user names, length prefixes that lie, flags that contradict the payload.

export interface ConnectFields {
  /** 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
  readonly version: 4 | 5;
  readonly clientId: Uint8Array;
  readonly username?: Uint8Array;
  readonly password?: Uint8Array;
  readonly keepalive?: number;
  readonly cleanSession?: boolean;
  /** Added to the true length prefix of the user name / password (hostile mode). */
  readonly usernameLengthDelta?: number;
  readonly passwordLengthDelta?: number;
}

/** MQTT variable byte integer [MQTT-1.5.5]. */
export function encodeVarint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0 && out.length < 4);
  return Buffer.from(out);
}

function prefixed(bytes: Uint8Array, delta = 0): Buffer {
  const len = Math.max(0, Math.min(0xffff, bytes.length + delta));
  const head = Buffer.alloc(2);
  head.writeUInt16BE(len);
  return Buffer.concat([head, bytes]);
}

export function encodeConnect(f: ConnectFields): Buffer {
  let flags = 0;
  if (f.cleanSession ?? true) flags |= 0x02;
  if (f.username !== undefined) flags |= 0x80;
  if (f.password !== undefined) flags |= 0x40;
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(f.keepalive ?? 30);
  const parts: Buffer[] = [prefixed(Buffer.from('MQTT')), Buffer.from([f.version, flags]), keepalive];
  if (f.version === 5) parts.push(encodeVarint(0)); // no properties
  parts.push(prefixed(f.clientId));
  if (f.username !== undefined) parts.push(prefixed(f.username, f.usernameLengthDelta));
  if (f.password !== undefined) parts.push(prefixed(f.password, f.passwordLengthDelta));
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x10]), encodeVarint(body.length), body]);
}

export const DISCONNECT = Buffer.from([0xe0, 0x00]);
