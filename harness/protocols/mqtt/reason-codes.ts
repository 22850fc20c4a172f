// CONNACK codes and what they mean, for transcripts and verdict reasons.
// MQTT 3.1.1 section 3.2.2.3 (return codes) and MQTT 5.0 section 3.2.2.2 (reason codes).

export const CONNACK_V4: Readonly<Record<number, string>> = {
  0: 'connection accepted',
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

export const CONNACK_V5: Readonly<Record<number, string>> = {
  0x00: 'success',
  0x80: 'unspecified error',
  0x81: 'malformed packet',
  0x82: 'protocol error',
  0x83: 'implementation specific error',
  0x84: 'unsupported protocol version',
  0x85: 'client identifier not valid',
  0x86: 'bad user name or password',
  0x87: 'not authorized',
  0x88: 'server unavailable',
  0x89: 'server busy',
  0x8a: 'banned',
  0x8c: 'bad authentication method',
  0x90: 'topic name invalid',
  0x95: 'packet too large',
  0x97: 'quota exceeded',
  0x99: 'payload format invalid',
  0x9a: 'retain not supported',
  0x9b: 'QoS not supported',
  0x9c: 'use another server',
  0x9d: 'server moved',
  0x9f: 'connection rate exceeded',
};

/** Every MQTT 5.0 failure reason code (section 2.4): CONNACK's and those of PUBACK, PUBREC, PUBCOMP, SUBACK and DISCONNECT. */
export const REASON_V5: Readonly<Record<number, string>> = {
  ...CONNACK_V5,
  0x8e: 'session taken over',
  0x91: 'packet identifier in use',
  0x92: 'packet identifier not found',
  0x93: 'receive maximum exceeded',
  0x96: 'message rate too high',
  0x98: 'administrative action',
};

/** A v5 reason code as `0x87 not authorized`. */
export function reasonText(code: number): string {
  return `0x${code.toString(16).padStart(2, '0')}${REASON_V5[code] ? ` ${REASON_V5[code]}` : ''}`;
}

export function connackMeaning(version: 4 | 5, code: number): string {
  const table = version === 5 ? CONNACK_V5 : CONNACK_V4;
  return table[code] ?? `unknown code 0x${code.toString(16)}`;
}
