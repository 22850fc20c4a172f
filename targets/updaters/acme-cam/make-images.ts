// Writes the Acme camera's image set into a folder: an RSA-2048 test key pair
// (generated per call unless one is passed; never written to disk) and two
// images it signs,
// a newer one (5.3) and an older one (5.1) than the baseline (5.2). Used by
// the emulator, its CLI and the tests; the camera trusts the public key.

import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildImage } from './image.js';

export const BASELINE_VERSION = '5.2';
export const NEWER_VERSION = '5.3';
export const OLDER_VERSION = '5.1';
/** File names inside the image folder (targets/acme-cam.yaml names them under acme-images/). */
export const NEWER_FILE = 'acme-5.3.bin';
export const OLDER_FILE = 'acme-5.1.bin';

export interface ImageRef {
  readonly file: string;
  readonly version: string;
}

export interface AcmeImageSet {
  /** Absolute path of the folder. */
  readonly dir: string;
  readonly newer: ImageRef;
  readonly older: ImageRef;
  /** The key the camera verifies with. */
  readonly publicKey: KeyObject;
  /** The test signing key, for tests that build images of their own. */
  readonly privateKey: KeyObject;
}

/** A payload that looks like a firmware: a banner, then filler. */
export function firmwarePayload(version: string, bytes = 48 * 1024): Buffer {
  const banner = Buffer.from(`ACME IPC-5 firmware ${version}\n`, 'latin1');
  return Buffer.concat([banner, randomBytes(Math.max(0, bytes - banner.length))]);
}

export interface SigningKeys {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

/** A fresh RSA-2048 test key pair (a few hundred ms). */
export function generateSigningKeys(): SigningKeys {
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

/**
 * Writes the newer and older images into `dir` (created if missing), signed
 * with `keys`, or with a key pair generated here when none is given (a test
 * suite may generate one per run and share it between cameras).
 */
export function makeImages(dir: string, opts: { payloadBytes?: number; keys?: SigningKeys } = {}): AcmeImageSet {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  const { publicKey, privateKey } = opts.keys ?? generateSigningKeys();
  const write = (name: string, version: string): ImageRef => {
    const file = join(abs, name);
    writeFileSync(file, buildImage({ version, payload: firmwarePayload(version, opts.payloadBytes), privateKey }));
    return { file, version };
  };
  return { dir: abs, newer: write(NEWER_FILE, NEWER_VERSION), older: write(OLDER_FILE, OLDER_VERSION), publicKey, privateKey };
}
