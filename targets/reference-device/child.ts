// The reference device's own process: the entry startReferenceDeviceProcess
// (process.ts) forks, from its built form dist/targets/reference-device/child.js.
// It waits for one `start` message over IPC (the fully resolved options:
// ports, credentials, identity, a material dir), runs the unit with faults
// 'process' (a crash fault ends this process with exit code 70, a hang wedges
// the service until the parent restarts the process), forwards the unit's
// log lines and reports `ready` with the bound ports, or `failed` with the
// reason. It ends as soon as the parent goes away (the IPC channel closes),
// so a dead parent never leaves a unit listening.

import { startReferenceDevice } from './device.js';
import type { ChildMessage, ChildStart } from './process.js';

/** A child that is given nothing to run within this long ends (the parent is broken). */
const START_WAIT_MS = 10_000;

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Sends one message to the parent (nothing if it is gone); `then` runs once it is written or cannot be. */
function send(message: ChildMessage, then?: () => void): void {
  if (!process.send || !process.connected) {
    then?.();
    return;
  }
  try {
    process.send(message, undefined, {}, () => then?.());
  } catch {
    then?.();
  }
}

/** The system error under a start failure (EADDRINUSE and the port it names), for the parent's retry decision. */
function systemCause(e: unknown): { errno?: string; port?: number } {
  let c: unknown = e;
  for (let depth = 0; depth < 8 && c instanceof Error; depth++, c = c.cause) {
    const x = c as Error & { code?: unknown; port?: unknown };
    if (typeof x.code === 'string' && /^E[A-Z0-9]+$/.test(x.code)) {
      return { errno: x.code, ...(typeof x.port === 'number' ? { port: x.port } : {}) };
    }
  }
  return {};
}

function isStart(m: unknown): m is ChildStart {
  return m !== null && typeof m === 'object' && (m as { type?: unknown }).type === 'start' && typeof (m as { options?: unknown }).options === 'object';
}

async function run(message: unknown): Promise<void> {
  if (!isStart(message)) {
    say(`reference device process: expected a start message from the parent, got ${JSON.stringify(message)?.slice(0, 200)}`);
    process.exit(2);
  }
  const o = message.options;
  try {
    const device = await startReferenceDevice({ ...o, log: (line) => send({ type: 'log', line }) });
    const e = device.endpoints;
    send({
      type: 'ready',
      ports: { mqtt: e.mqtt.port, mqtts: e.mqtts.port, coap: e.coap.port, coaps: e.coaps.port, http: e.http.port, https: e.https.port, debug: o.ports.debug },
      images: { ...device.images },
      updateCa: { ...device.updateCa },
      deviceCa: { ...device.deviceCa },
    });
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    const code = e !== null && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'DEVICE_START';
    say(text);
    send({ type: 'failed', code, message: text, ...systemCause(e) }, () => process.exit(1));
    setTimeout(() => process.exit(1), 2000); // a channel that never drains must not keep a failed unit around
  }
}

if (!process.send) {
  say('reference device process: this is the child of startReferenceDeviceProcess and needs its IPC channel; start the unit through that');
  process.exit(2);
}
// The parent closed the channel or died: a unit nobody drives must not keep listening.
process.on('disconnect', () => process.exit(0));
const waiting = setTimeout(() => {
  say(`reference device process: no start message from the parent within ${START_WAIT_MS} ms`);
  process.exit(2);
}, START_WAIT_MS);
process.once('message', (m: unknown) => {
  clearTimeout(waiting);
  void run(m);
});
