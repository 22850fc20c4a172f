// Public API of the reference device: a real network device emulator (MQTT,
// CoAP, HTTP on loopback) whose every weakness is a named flaw; the default
// target of `gauntlet run` and the subject of the flaw-matrix tests; also in
// a child process of its own (startReferenceDeviceProcess) for fuzz campaigns.

export { FLAWS, FLAW_INFO, parseFlaws, type Flaw } from './flaws.js';
export type { DeviceOptions } from './options.js';
export { startReferenceDevice, type RunningDevice } from './device.js';
export { buildImage, parseImage, verifyImage, versionCounter, versionString } from './firmware-image.js';
export { startReferenceDeviceProcess, childEntryPath, START_TIMEOUT_MS, type DeviceProcess, type ProcessSeams } from './process.js';
export { CRASH_EXIT_CODE } from './watchdog.js';
