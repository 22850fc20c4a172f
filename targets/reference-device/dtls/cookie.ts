// Stateless HelloVerifyRequest cookies (RFC 6347 4.2.1): an HMAC, under a
// secret drawn once per server, of the client's address and port and of the
// ClientHello fields that must not change between the two ClientHellos. The
// server keeps nothing per client until a ClientHello returns a valid cookie.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const COOKIE_LENGTH = 32;

export interface CookieJar {
  mint(address: string, port: number, cookieInput: Buffer): Buffer;
  verify(address: string, port: number, cookieInput: Buffer, cookie: Buffer): boolean;
}

export function createCookieJar(): CookieJar {
  const secret = randomBytes(32);
  const mint = (address: string, port: number, cookieInput: Buffer): Buffer =>
    createHmac('sha256', secret).update(`${address}|${port}|`).update(cookieInput).digest().subarray(0, COOKIE_LENGTH);
  return {
    mint,
    verify(address, port, cookieInput, cookie) {
      return cookie.length === COOKIE_LENGTH && timingSafeEqual(cookie, mint(address, port, cookieInput));
    },
  };
}
