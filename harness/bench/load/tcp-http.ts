// Lean HTTP/1.1 response accounting for the HTTP load generator (http.ts):
// an incremental reader that finds where each response ends (status line,
// Content-Length or chunked transfer coding, or the close of the connection
// [RFC9112 6.3]) and reports its status and whether the server closes after
// it, without building header objects or keeping bodies. Hand-written: the
// load generator must keep up with wrk, and an HTTP client library costs
// more per response than the device does (undici reached ~0.7x of wrk here).

import { printable } from '../../protocols/common/io.js';

/** A response head larger than this is not an answer the generator waits for. */
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 4096;
const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = Buffer.from('content-length');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding');
const CONNECTION = Buffer.from('connection');

const enum State {
  Head,
  Body,
  ChunkSize,
  ChunkData,
  Trailers,
  UntilClose,
}

/** Called once per complete final response (1xx interim responses are skipped). */
export type OnResponse = (status: number, close: boolean) => void;

export class ResponseReader {
  private rest: Buffer | null = null;
  private state = State.Head;
  private remaining = 0;
  private status = 0;
  private close = false;

  /** Consumes a chunk; answers why the bytes are not HTTP/1.x, or undefined. */
  feed(chunk: Buffer, onResponse: OnResponse): string | undefined {
    let buf = chunk;
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    const n = buf.length;
    let pos = 0;
    while (pos < n) {
      switch (this.state) {
        case State.Head: {
          const end = buf.indexOf(CRLFCRLF, pos);
          if (end < 0) {
            if (n - pos > MAX_HEAD_BYTES) return `a response head longer than ${MAX_HEAD_BYTES} bytes`;
            if (n - pos >= 8 && !isStatusLine(buf, pos)) return notHttp(buf, pos);
            this.rest = buf.subarray(pos);
            return undefined;
          }
          const bad = this.head(buf, pos, end);
          if (bad !== undefined) return bad;
          pos = end + 4;
          if (this.status < 200) {
            // 100 Continue and other interim responses: no body, the final response follows [RFC9110 15.2].
            if (this.status === 101) return 'the server switched protocols (101)';
            continue;
          }
          if (this.status === 204 || this.status === 304) {
            onResponse(this.status, this.close);
            continue;
          }
          if ((this.state as State) === State.Body && this.remaining === 0) {
            this.state = State.Head;
            onResponse(this.status, this.close);
          }
          break;
        }
        case State.Body: {
          const take = Math.min(this.remaining, n - pos);
          pos += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.state = State.Head;
            onResponse(this.status, this.close);
          }
          break;
        }
        case State.ChunkSize: {
          const eol = buf.indexOf(CRLF, pos);
          if (eol < 0) {
            if (n - pos > MAX_CHUNK_LINE) return 'a chunk-size line without end';
            this.rest = buf.subarray(pos);
            return undefined;
          }
          let size = 0;
          let digits = 0;
          for (let i = pos; i < eol; i++) {
            const c = buf[i]!;
            const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
            if (d < 0) break; // chunk extensions (;...) or whitespace
            size = size * 16 + d;
            digits++;
          }
          if (digits === 0 || digits > 12) return `a malformed chunk size "${printable(buf.subarray(pos, eol), 24)}"`;
          pos = eol + 2;
          if (size === 0) this.state = State.Trailers;
          else {
            this.remaining = size + 2; // the data and its CRLF
            this.state = State.ChunkData;
          }
          break;
        }
        case State.ChunkData: {
          const take = Math.min(this.remaining, n - pos);
          pos += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.ChunkSize;
          break;
        }
        case State.Trailers: {
          const eol = buf.indexOf(CRLF, pos);
          if (eol < 0) {
            if (n - pos > MAX_HEAD_BYTES) return 'trailers without end';
            this.rest = buf.subarray(pos);
            return undefined;
          }
          const empty = eol === pos;
          pos = eol + 2;
          // Trailer fields are skipped; the empty line ends the message.
          if (empty) {
            this.state = State.Head;
            onResponse(this.status, this.close);
          }
          break;
        }
        case State.UntilClose:
          pos = n;
          break;
      }
    }
    return undefined;
  }

  /** The connection closed: a response delimited by the close is complete now. Answers whether one was. */
  end(onResponse: OnResponse): boolean {
    if (this.state !== State.UntilClose) return false;
    this.state = State.Head;
    onResponse(this.status, true);
    return true;
  }

  /** Mid-response (or holding part of a head): what a close now cuts. */
  get pending(): boolean {
    return this.state !== State.Head || this.rest !== null;
  }

  /** Parses the head at buf[start, end) (end = the blank line's CRLF). */
  private head(buf: Buffer, start: number, end: number): string | undefined {
    if (!isStatusLine(buf, start)) return notHttp(buf, start);
    const s0 = buf[start + 9]! - 0x30;
    const s1 = buf[start + 10]! - 0x30;
    const s2 = buf[start + 11]! - 0x30;
    if (s0 < 1 || s0 > 5 || s1 < 0 || s1 > 9 || s2 < 0 || s2 > 9) return notHttp(buf, start);
    this.status = s0 * 100 + s1 * 10 + s2;
    // HTTP/1.0 closes unless it says keep-alive.
    this.close = buf[start + 7] === 0x30;
    let length = -1;
    let chunked = false;
    let line = buf.indexOf(CRLF, start) + 2;
    while (line > 1 && line < end) {
      let eol = buf.indexOf(CRLF, line);
      if (eol < 0 || eol > end) eol = end;
      const colon = buf.indexOf(0x3a, line);
      if (colon > line && colon < eol) {
        const nameLen = colon - line;
        if (nameIs(buf, line, nameLen, CONTENT_LENGTH)) {
          length = 0;
          for (let i = colon + 1; i < eol; i++) {
            const c = buf[i]!;
            if (c >= 0x30 && c <= 0x39) length = length * 10 + (c - 0x30);
            else if (c !== 0x20 && c !== 0x09) return `a malformed Content-Length "${printable(buf.subarray(colon + 1, eol), 24)}"`;
          }
        } else if (nameIs(buf, line, nameLen, TRANSFER_ENCODING)) {
          chunked = buf.toString('latin1', colon + 1, eol).toLowerCase().includes('chunked');
        } else if (nameIs(buf, line, nameLen, CONNECTION)) {
          const v = buf.toString('latin1', colon + 1, eol).toLowerCase();
          if (v.includes('close')) this.close = true;
          else if (v.includes('keep-alive')) this.close = false;
        }
      }
      line = eol + 2;
    }
    if (this.status < 200 || this.status === 204 || this.status === 304) {
      this.state = State.Head;
    } else if (chunked) {
      this.state = State.ChunkSize;
    } else if (length >= 0) {
      this.state = State.Body;
      this.remaining = length;
    } else {
      this.state = State.UntilClose;
      this.close = true;
    }
    return undefined;
  }
}

/** `HTTP/1.x NNN` at `at` (the first 8 bytes checked, and the space before the status). */
function isStatusLine(buf: Buffer, at: number): boolean {
  return (
    buf[at] === 0x48 &&
    buf[at + 1] === 0x54 &&
    buf[at + 2] === 0x54 &&
    buf[at + 3] === 0x50 &&
    buf[at + 4] === 0x2f &&
    buf[at + 5] === 0x31 &&
    buf[at + 6] === 0x2e &&
    (buf.length <= at + 8 || buf[at + 8] === 0x20)
  );
}

function notHttp(buf: Buffer, at: number): string {
  return `not an HTTP/1.x response: "${printable(buf.subarray(at, at + 32), 32)}"`;
}

/** ASCII case-insensitive: buf[at, at+len) equals `lower` (lower-case letters, digits and '-'). */
function nameIs(buf: Buffer, at: number, len: number, lower: Buffer): boolean {
  if (len !== lower.length) return false;
  for (let i = 0; i < len; i++) if ((buf[at + i]! | 0x20) !== lower[i]) return false;
  return true;
}
