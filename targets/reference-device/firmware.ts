// The unit's firmware slot: the running version (baseline 1.0.0), the unit's
// own Ed25519 vendor TEST key pair (generated at start, kept in memory only;
// or kept in the unit's material dir, options.materialDir, so a restarted
// unit process signs and verifies with the same key), the two vendor images
// it writes at start (newer 2.0.0, older 0.9.0; to a fresh temp dir, or to
// the material dir) for the lab's target file, and installs: synchronous, verified
// by verifyImage under the unit's flaws; a refused image leaves the running
// one untouched. The brick-on-interrupt flaw: an upload (or a pulled
// download, see update-pull.ts) cut before its end leaves the unit with no
// bootable image until a valid one installs.

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Flaw } from './flaws.js';
import { buildImage, verifyImage, type RejectReason } from './firmware-image.js';

/** What every unit runs when it starts. */
export const BASELINE_VERSION = '1.0.0';
export const NEWER_VERSION = '2.0.0';
export const OLDER_VERSION = '0.9.0';
/** Largest image POST /api/firmware accepts (declared as maxImageBytes). */
export const MAX_IMAGE_BYTES = 1024 * 1024;
/** Payload size of the vendor images. */
export const VENDOR_PAYLOAD_BYTES = 16 * 1024;
/** The firmware signing key's file in a material dir (PKCS#8 PEM, mode 0600). */
export const SIGNING_KEY_FILE = 'firmware-signing-key.pem';

/**
 * The unit's Ed25519 firmware signing key kept in `dir`: the one an earlier
 * start wrote, or a new one written there (a file that is not an Ed25519
 * private key is replaced).
 */
export function loadOrCreateSigningKey(dir: string): KeyObject {
  const file = join(dir, SIGNING_KEY_FILE);
  if (existsSync(file)) {
    try {
      const key = createPrivateKey(readFileSync(file));
      if (key.asymmetricKeyType === 'ed25519') return key;
    } catch {
      // unreadable or cut short (a start killed while writing it): make a new one
    }
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return privateKey;
}

export interface VendorImages {
  readonly newer: string;
  readonly older: string;
  readonly dir: string;
}

export type InstallResult = { readonly ok: true; readonly version: string } | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

/** `length` deterministic pseudo-random bytes: SHA-256 in counter mode over a seed. */
export function pseudoRandomBytes(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0, at = 0; at < length; i++, at += 32) {
    createHash('sha256').update(`${seed}\u0000${i}`).digest().copy(out, at);
  }
  return out;
}

export interface FirmwareOptions {
  readonly flaws: ReadonlySet<Flaw>;
  /** The product the images are for (the unit's identity; 1 to 16 ASCII characters each). */
  readonly vendor: string;
  readonly model: string;
  readonly log: (line: string) => void;
  /** The Ed25519 signing key (loadOrCreateSigningKey); default: a new one, in memory only. */
  readonly signingKey?: KeyObject;
}

export class Firmware {
  private readonly publicKey: KeyObject;
  private readonly privateKey: KeyObject;
  /** The last installed version: what runs, and the anti-rollback floor even while no image is bootable. */
  private installed = BASELINE_VERSION;
  private bootable = true;

  constructor(private readonly opts: FirmwareOptions) {
    if (opts.signingKey) {
      this.privateKey = opts.signingKey;
      this.publicKey = createPublicKey(opts.signingKey);
      return;
    }
    // A per-unit test key: never written anywhere, gone with the unit.
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    this.publicKey = publicKey;
    this.privateKey = privateKey;
  }

  /** The running version, or undefined when the unit has no bootable image (brick-on-interrupt). */
  running(): string | undefined {
    return this.bootable ? this.installed : undefined;
  }

  /** The last installed version, bootable or not (what a version banner names). */
  lastInstalled(): string {
    return this.installed;
  }

  /** A vendor image of this unit (signed with its key; signed over the manifest only with manifest-only-signature). */
  vendorImage(version: string, payload: Buffer = pseudoRandomBytes(`rd1-firmware-${version}`, VENDOR_PAYLOAD_BYTES)): Buffer {
    const coverage = this.opts.flaws.has('manifest-only-signature') ? 'manifest' : 'image';
    return buildImage({ version, payload, vendor: this.opts.vendor, model: this.opts.model }, this.privateKey, { coverage });
  }

  /**
   * Writes rd1-2.0.0.bin and rd1-0.9.0.bin to a fresh temp dir (removeImages
   * deletes it), or into `into` (a material dir its owner removes), where an
   * image already there with the same bytes is left as it is (Ed25519
   * signatures are deterministic: same key, same flaws, same bytes).
   */
  writeImages(into?: string): VendorImages {
    const dir = into ?? mkdtempSync(join(tmpdir(), 'gauntlet-rd1-fw-'));
    try {
      const newer = join(dir, `rd1-${NEWER_VERSION}.bin`);
      const older = join(dir, `rd1-${OLDER_VERSION}.bin`);
      for (const [file, version] of [[newer, NEWER_VERSION], [older, OLDER_VERSION]] as const) {
        const image = this.vendorImage(version);
        if (into === undefined || !existsSync(file) || !readFileSync(file).equals(image)) writeFileSync(file, image);
      }
      return { newer, older, dir };
    } catch (e) {
      if (into === undefined) rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Verifies and installs an image (synchronously); a refused one changes nothing. */
  install(image: Buffer, who: string): InstallResult {
    const v = verifyImage(image, this.publicKey, {
      flaws: this.opts.flaws,
      currentVersion: this.installed,
      vendor: this.opts.vendor,
      model: this.opts.model,
    });
    if (!v.ok) {
      this.opts.log(`firmware: image refused (${v.reason}: ${v.detail}) from ${who}; running ${this.running() ?? 'no bootable image'}`);
      return v;
    }
    const from = this.running() ?? 'no bootable image';
    this.installed = v.version;
    this.bootable = true;
    this.opts.log(`firmware: installed ${v.version} (was ${from}) from ${who}`);
    return { ok: true, version: v.version };
  }

  /** The recovery partition: back to the baseline image, bootable (a lab's reflash between update tests). */
  restore(who: string): void {
    this.installed = BASELINE_VERSION;
    this.bootable = true;
    this.opts.log(`firmware: restored to the baseline ${BASELINE_VERSION} by ${who}`);
  }

  /**
   * An accepted upload (or a pulled download) that ended before its body did:
   * discarded; with brick-on-interrupt the slot was already erased.
   */
  uploadCut(who: string, what: 'upload' | 'download' = 'upload'): void {
    if (this.opts.flaws.has('brick-on-interrupt')) {
      this.bootable = false;
      this.opts.log(`firmware: ${what} from ${who} cut; the running image was erased: no bootable image`);
    } else {
      this.opts.log(`firmware: ${what} from ${who} cut; discarded, still running ${this.running() ?? 'no bootable image'}`);
    }
  }
}

export function removeImages(images: VendorImages): void {
  rmSync(images.dir, { recursive: true, force: true });
}
