// The device load generators by path: one per protocol family.

import type { BenchPath } from '../../model/index.js';
import { coapLoad } from './coap.js';
import { dtlsLoad } from './dtls.js';
import { httpLoad } from './http.js';
import { mqttLoad } from './mqtt.js';
import type { LoadGenerator } from './types.js';

export type { LoadGenerator, LoadOptions } from './types.js';

export function generatorFor(path: BenchPath): LoadGenerator {
  if (path.startsWith('mqtt.')) return mqttLoad;
  if (path.startsWith('coap.')) return coapLoad;
  if (path === 'dtls.handshake') return dtlsLoad;
  return httpLoad;
}
