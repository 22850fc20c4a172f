// Every check Gauntlet has, by id. Profiles name checks from this table.

import type { Check } from '../model/index.js';
import { coapResources } from './access/coap-resources.js';
import { conformanceCoap } from './conformance/coap.js';
import { conformanceMqtt } from './conformance/mqtt.js';
import { exposedSurface } from './access/exposed-surface.js';
import { unauthenticatedDisclosure } from './access/unauthenticated-disclosure.js';
import { httpRoutes } from './access/http-routes.js';
import { mqttTopics } from './access/mqtt-topics.js';
import { anonymousAccess } from './authentication/anonymous-access.js';
import { bruteForce } from './authentication/brute-force.js';
import { credentialRobustness } from './authentication/credential-robustness.js';
import { defaultCredentials } from './authentication/default-credentials.js';
import { firstUseChange } from './authentication/first-use-change.js';
import { dtlsHandshake } from './transport/dtls-handshake.js';
import { dtlsReplay } from './transport/dtls-replay.js';
import { dtlsRobustness } from './transport/dtls-robustness.js';
import { performanceBench, performanceFloors } from './performance/hot-paths.js';
import { robustnessFlood } from './robustness/flood.js';
import { robustnessFuzz } from './robustness/fuzz.js';
import { transportPlaintext } from './transport/plaintext.js';
import { transportTls } from './transport/tls.js';
import { updateAuthorization } from './update/authorization.js';
import { updateChannel } from './update/channel.js';
import { updateInterrupted } from './update/interrupted.js';
import { updateRollback } from './update/rollback.js';
import { updateTamper } from './update/tamper.js';
import { updateTruncatedOversized } from './update/truncated-oversized.js';
import { updateUnsigned } from './update/unsigned.js';
import { updateWrongSigner } from './update/wrong-signer.js';

export const CHECKS: readonly Check[] = [
  firstUseChange, defaultCredentials, anonymousAccess, bruteForce, credentialRobustness, mqttTopics, httpRoutes, coapResources, exposedSurface, unauthenticatedDisclosure,
  dtlsHandshake, dtlsReplay, dtlsRobustness, transportTls, transportPlaintext, robustnessFuzz, robustnessFlood,
  performanceFloors, performanceBench,
  updateTamper, updateUnsigned, updateWrongSigner, updateRollback, updateTruncatedOversized, updateInterrupted, updateAuthorization, updateChannel,
  conformanceCoap, conformanceMqtt,
];

export function checkById(id: string): Check | undefined {
  return CHECKS.find((c) => c.id === id);
}
