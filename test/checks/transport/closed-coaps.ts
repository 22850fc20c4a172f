// A check context on a reference unit whose coaps interface points at a UDP
// port nothing listens on: the "no DTLS peer" error path the coaps checks share.

import { targetFromObject, type TargetFileInput } from '../../../harness/core/target-file.js';
import type { CheckContext } from '../../../harness/model/index.js';
import type { RunningDevice } from '../../../targets/reference-device/index.js';
import { closedPort, contextFor } from '../access/fakes.js';

export async function contextOnClosedCoaps(d: RunningDevice, ioTimeoutMs = 500): Promise<CheckContext> {
  const input = d.targetFile();
  const port = await closedPort('udp');
  const interfaces = (input.interfaces ?? []).map((i) => (i.id === 'coaps' ? { ...i, url: `coaps://127.0.0.1:${port}` } : i));
  const target = targetFromObject({ ...input, interfaces } as TargetFileInput, 'test-target');
  return { ...contextFor(target, { ioTimeoutMs }), iface: target.interfaces.find((i) => i.id === 'coaps')! };
}
