// A fuzz finding record built by hand for the replay tests: the CoAP datagram
// whose option delta takes the option number past 65535 [RFC7252 3.1]
// (coap-crash-option's trigger), optionally after a conforming GET.

import { FUZZ_RECORD_FORMAT, type FuzzFindingRecord, type FuzzRecordStep } from '../../harness/fuzz/store.js';
import { encodeCoap } from '../../harness/protocols/coap/arbitraries.js';

/** A conforming GET of the discovery resource. */
export const GET = encodeCoap({ type: 0, code: 1, messageId: 0x1234, token: Buffer.from([0xa1]), options: [{ number: 11, value: Buffer.from('.well-known') }, { number: 11, value: Buffer.from('core') }] });
/** An option delta to 65535 + 269. */
export const CRASH = encodeCoap({ type: 0, code: 1, messageId: 0x1235, token: Buffer.from([0xa2]), options: [], rawOptions: Buffer.from([0xe0, 0xff, 0xff]) });

/** The record of a crash on the built-in device's coap interface; `steps` default: the crashing datagram alone. */
export function crashRecord(flaws: readonly string[], steps: readonly FuzzRecordStep[] = [{ label: 'CON GET, option delta to 65804', hex: CRASH.toString('hex') }], over: Partial<FuzzFindingRecord> = {}): FuzzFindingRecord {
  return {
    format: FUZZ_RECORD_FORMAT,
    id: 'coap-crash-0123456789ab',
    createdAt: '2025-01-02T03:04:05.000Z',
    harnessVersion: '0.1.0',
    target: { name: 'reference-device', source: 'builtin:reference-device', flaws: [...flaws] },
    interface: { id: 'coap', protocol: 'coap', url: 'coap://127.0.0.1:5683' },
    instance: 'robustness.fuzz@coap',
    seed: 42,
    path: '0:3',
    oracle: 'crash',
    observed: 'probe: unreachable: ECONNREFUSED',
    summary: 'COAP stopped answering (crash) after "hostile: option number past 65535 [RFC7252 3.1]"',
    severity: 'high',
    requirements: ['EN303645:5.13-1'],
    confirmed: true,
    connections: [{ label: 'hostile: option number past 65535 [RFC7252 3.1]', steps: [...steps] }],
    ...over,
  };
}
