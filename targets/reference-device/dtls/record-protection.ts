// Protecting and checking the fragment of one record with a suite's keys:
// AEAD (RFC 5246 6.2.3.3; CCM_8 per RFC 6655, GCM per RFC 5288), AES-CBC
// MAC-then-encrypt with an explicit IV (RFC 5246 6.2.3.2), or NULL with HMAC
// only (6.2.3.1). In DTLS the 64-bit seq_num is epoch || sequence number
// (RFC 6347 4.1.2.1).

import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DirectionKeys } from './key-schedule.js';
import { sequenceBytes } from './records.js';
import type { SuiteParams } from './suites.js';

export interface RecordHeaderFields {
  readonly type: number;
  readonly version: number;
  readonly epoch: number;
  readonly seq: number;
}

export interface RecordProtection {
  /** The protected fragment of a record carrying `plaintext`. */
  seal(h: RecordHeaderFields, plaintext: Buffer): Buffer;
  /** The plaintext, or undefined when the fragment does not authenticate (or cannot be one). */
  open(h: RecordHeaderFields, fragment: Buffer): Buffer | undefined;
}

const EXPLICIT_NONCE_LENGTH = 8;
const CBC_BLOCK = 16;

/** seq_num + type + version + length: the AEAD additional data and the MAC prefix. */
function pseudoHeader(h: RecordHeaderFields, length: number): Buffer {
  const out = Buffer.allocUnsafe(13);
  sequenceBytes(h.epoch, h.seq).copy(out, 0);
  out.writeUInt8(h.type, 8);
  out.writeUInt16BE(h.version, 9);
  out.writeUInt16BE(length, 11);
  return out;
}

export function recordProtection(suite: SuiteParams, keys: DirectionKeys): RecordProtection {
  switch (suite.cipher) {
    case 'aes-128-ccm-8':
      return aead(keys, 'aes-128-ccm', 8);
    case 'aes-128-gcm':
      return aead(keys, 'aes-128-gcm', 16);
    case 'aes-128-cbc':
      return cbc(keys, suite.macHash ?? 'sha1');
    case 'null':
      return macOnly(keys, suite.macHash ?? 'sha256');
  }
}

function aead(keys: DirectionKeys, algorithm: 'aes-128-ccm' | 'aes-128-gcm', tagLength: number): RecordProtection {
  const cipherFor = (nonce: Buffer) =>
    algorithm === 'aes-128-ccm'
      ? createCipheriv('aes-128-ccm', keys.encKey, nonce, { authTagLength: tagLength })
      : createCipheriv('aes-128-gcm', keys.encKey, nonce, { authTagLength: tagLength });
  const decipherFor = (nonce: Buffer) =>
    algorithm === 'aes-128-ccm'
      ? createDecipheriv('aes-128-ccm', keys.encKey, nonce, { authTagLength: tagLength })
      : createDecipheriv('aes-128-gcm', keys.encKey, nonce, { authTagLength: tagLength });
  return {
    seal(h, plaintext) {
      // The explicit nonce is epoch || seq: unique per key without a random source (RFC 5288 3 allows it).
      const explicit = sequenceBytes(h.epoch, h.seq);
      const cipher = cipherFor(Buffer.concat([keys.fixedIv, explicit]));
      cipher.setAAD(pseudoHeader(h, plaintext.length), { plaintextLength: plaintext.length });
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([explicit, body, cipher.getAuthTag()]);
    },
    open(h, fragment) {
      const length = fragment.length - EXPLICIT_NONCE_LENGTH - tagLength;
      if (length < 0) return undefined;
      const nonce = Buffer.concat([keys.fixedIv, fragment.subarray(0, EXPLICIT_NONCE_LENGTH)]);
      const body = fragment.subarray(EXPLICIT_NONCE_LENGTH, EXPLICIT_NONCE_LENGTH + length);
      const tag = fragment.subarray(EXPLICIT_NONCE_LENGTH + length);
      try {
        const decipher = decipherFor(nonce);
        decipher.setAuthTag(tag);
        decipher.setAAD(pseudoHeader(h, length), { plaintextLength: length });
        const plain = decipher.update(body);
        decipher.final();
        return plain;
      } catch {
        return undefined;
      }
    },
  };
}

function mac(hash: 'sha1' | 'sha256', key: Buffer, h: RecordHeaderFields, content: Buffer): Buffer {
  return createHmac(hash, key).update(pseudoHeader(h, content.length)).update(content).digest();
}

function cbc(keys: DirectionKeys, hash: 'sha1' | 'sha256'): RecordProtection {
  const macLength = hash === 'sha1' ? 20 : 32;
  return {
    seal(h, plaintext) {
      const tag = mac(hash, keys.macKey, h, plaintext);
      const padLength = CBC_BLOCK - 1 - ((plaintext.length + macLength) % CBC_BLOCK);
      const padding = Buffer.alloc(padLength + 1, padLength);
      const iv = randomBytes(CBC_BLOCK);
      const cipher = createCipheriv('aes-128-cbc', keys.encKey, iv);
      cipher.setAutoPadding(false);
      return Buffer.concat([iv, cipher.update(plaintext), cipher.update(tag), cipher.update(padding), cipher.final()]);
    },
    open(h, fragment) {
      const encrypted = fragment.length - CBC_BLOCK;
      // At least one block holding MAC + padding_length, and whole blocks only.
      if (encrypted < Math.ceil((macLength + 1) / CBC_BLOCK) * CBC_BLOCK || encrypted % CBC_BLOCK !== 0) return undefined;
      let plain: Buffer;
      try {
        const decipher = createDecipheriv('aes-128-cbc', keys.encKey, fragment.subarray(0, CBC_BLOCK));
        decipher.setAutoPadding(false);
        plain = Buffer.concat([decipher.update(fragment.subarray(CBC_BLOCK)), decipher.final()]);
      } catch {
        return undefined;
      }
      // Padding and MAC are both checked before deciding, and the MAC is always
      // computed, so a bad padding takes about as long as a bad MAC (Lucky 13 is
      // not fully closed; a device emulator need not be).
      const n = plain.length;
      const padLength = plain[n - 1] ?? 0;
      let good = padLength + 1 + macLength <= n ? 1 : 0;
      const checked = Math.min(255, n - 1);
      for (let i = 1; i <= checked; i++) {
        const inPadding = i <= padLength ? 1 : 0;
        good &= 1 - (inPadding & ((plain[n - 1 - i] ?? 0) !== padLength ? 1 : 0));
      }
      const contentLength = good === 1 ? n - 1 - padLength - macLength : n - 1 - macLength;
      const content = plain.subarray(0, contentLength);
      const expected = mac(hash, keys.macKey, h, content);
      const received = plain.subarray(contentLength, contentLength + macLength);
      const macOk = received.length === macLength && timingSafeEqual(expected, received);
      return good === 1 && macOk ? content : undefined;
    },
  };
}

function macOnly(keys: DirectionKeys, hash: 'sha1' | 'sha256'): RecordProtection {
  const macLength = hash === 'sha1' ? 20 : 32;
  return {
    seal(h, plaintext) {
      return Buffer.concat([plaintext, mac(hash, keys.macKey, h, plaintext)]);
    },
    open(h, fragment) {
      if (fragment.length < macLength) return undefined;
      const content = fragment.subarray(0, fragment.length - macLength);
      const expected = mac(hash, keys.macKey, h, content);
      return timingSafeEqual(expected, fragment.subarray(content.length)) ? content : undefined;
    },
  };
}
