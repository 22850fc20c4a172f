// One client's DTLS session, from the ServerHello flight on: the rest of the
// PSK handshake (RFC 6347 4.2.4 flights 4-6, RFC 4279), retransmission, then
// application data, alerts and expiry. A session is created only once a
// ClientHello has passed the cookie check (server.ts); everything before that
// is stateless.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  EXTENSION,
  HANDSHAKE_TYPE,
  encodeMessage,
  encodePskServerKeyExchange,
  encodeServerHello,
  fragmentMessage,
  parsePskClientKeyExchange,
  type ClientHello,
  type HandshakeFragment,
} from './handshake.js';
import { finishedVerifyData, keyBlock, masterSecret, pskPremaster, sha256 } from './key-schedule.js';
import { Reassembler } from './reassembly.js';
import { recordProtection, type RecordProtection } from './record-protection.js';
import { CONTENT_TYPE, DTLS_1_2, MAX_SEQUENCE, encodeRecord, packDatagrams, type DtlsRecord } from './records.js';
import { ReplayWindow } from './replay-window.js';
import type { DtlsPeer } from './server.js';
import type { SuiteParams } from './suites.js';

export const ALERT = {
  closeNotify: 0,
  unexpectedMessage: 10,
  handshakeFailure: 40,
  illegalParameter: 47,
  decodeError: 50,
  decryptError: 51,
  protocolVersion: 70,
  internalError: 80,
  noRenegotiation: 100,
  unknownPskIdentity: 115,
} as const;
const LEVEL = { warning: 1, fatal: 2 } as const;

/** Datagrams stay under a typical path MTU; handshake bodies are cut to fit. */
export const MAX_DATAGRAM = 1400;
const MAX_FRAGMENT_BODY = 1100;
/** RFC 5246 6.2.1: at most 2^14 bytes of plaintext per record. */
const MAX_PLAINTEXT = 16384;
/** RFC 6347 4.2.4.1: initial retransmission timer 1 s, doubled each time; at most 3 retransmissions here. */
const RETRANSMIT_INITIAL_MS = 1000;
const RETRANSMIT_MAX = 3;
/** Epoch-1 records that arrive before the ChangeCipherSpec is processed and are kept for it. */
const MAX_EARLY_RECORDS = 4;

/** What a session needs from its server. */
export interface SessionHost {
  readonly pskFor: (identity: string) => Buffer | undefined;
  readonly hint: Buffer | undefined;
  readonly replayWindow: boolean;
  log(line: string): void;
  onData(peer: DtlsPeer, data: Buffer): void;
  send(datagram: Buffer, address: string, port: number): void;
  /** The handshake fragments of a record; undefined = drop the record. May throw (the dtls-crash-fragment flaw). */
  fragments(data: Buffer): readonly HandshakeFragment[] | undefined;
  /** Reports a fragment that contradicts earlier ones; may throw (the dtls-crash-fragment flaw). */
  inconsistent(reason: string): void;
  ended(session: Session): void;
}

export interface SessionStart {
  readonly address: string;
  readonly port: number;
  readonly hello: ClientHello;
  /** The ClientHello as hashed: the whole message with its 12-byte header. */
  readonly helloMessage: Buffer;
  readonly helloSeq: number;
  /** Record sequence number of the ClientHello: the server's epoch-0 numbering continues from it. */
  readonly helloRecordSeq: number;
  readonly suite: SuiteParams;
  readonly secureRenegotiation: boolean;
  readonly extendedMasterSecret: boolean;
  readonly now: number;
}

interface FlightItem {
  readonly epoch: 0 | 1;
  readonly type: number;
  readonly content: Buffer;
}

type State = 'awaiting-client-flight' | 'established' | 'closed';

export class Session {
  readonly address: string;
  readonly port: number;
  readonly clientRandom: Buffer;
  readonly createdAt: number;
  lastActive: number;
  private state: State = 'awaiting-client-flight';
  private readonly suite: SuiteParams;
  private readonly serverRandom = randomBytes(32);
  private readonly helloSeq: number;
  private readonly ems: boolean;
  private readonly secureRenegotiation: boolean;
  /** Handshake messages hashed so far (RFC 6347 4.2.6: unfragmented form); dropped once established. */
  private transcript: Buffer[];
  private readonly reassembler = new Reassembler(1);
  private serverSeq: number;
  private identity: string | undefined;
  private master: Buffer | undefined;
  private clientFinishedHash: Buffer | undefined;
  private writer: RecordProtection | undefined;
  private reader: RecordProtection | undefined;
  private ccsSeen = false;
  private readEpoch: 0 | 1 = 0;
  private writeEpoch: 0 | 1 = 0;
  private readonly writeSeq: [number, number];
  private readonly windows: [ReplayWindow, ReplayWindow] = [new ReplayWindow(), new ReplayWindow()];
  private earlyRecords: DtlsRecord[] = [];
  private lastFlight: FlightItem[] = [];
  private retransmitTimer: NodeJS.Timeout | undefined;
  private retransmits = 0;
  private lastRetransmitDatagram = -1;
  private peer: DtlsPeer | undefined;

  constructor(
    private readonly host: SessionHost,
    s: SessionStart,
  ) {
    this.address = s.address;
    this.port = s.port;
    this.clientRandom = Buffer.from(s.hello.random);
    this.createdAt = s.now;
    this.lastActive = s.now;
    this.suite = s.suite;
    this.helloSeq = s.helloSeq;
    this.ems = s.extendedMasterSecret;
    this.secureRenegotiation = s.secureRenegotiation;
    this.transcript = [s.helloMessage];
    this.serverSeq = s.helloSeq;
    this.writeSeq = [s.helloRecordSeq, 0];
    this.windows[0].mark(s.helloRecordSeq);
  }

  get established(): boolean {
    return this.state === 'established';
  }

  get peerName(): string {
    return `${this.address}:${this.port}`;
  }

  /** Flight 4: ServerHello, ServerKeyExchange (with a hint), ServerHelloDone. */
  start(): void {
    const extensions: [number, Buffer][] = [];
    // RFC 5746 3.6: an initial handshake answers the SCSV or an empty renegotiation_info with an empty one.
    if (this.secureRenegotiation) extensions.push([EXTENSION.renegotiationInfo, Buffer.from([0])]);
    if (this.ems) extensions.push([EXTENSION.extendedMasterSecret, Buffer.alloc(0)]);
    const messages: [number, Buffer][] = [
      [HANDSHAKE_TYPE.serverHello, encodeServerHello({ version: DTLS_1_2, random: this.serverRandom, suite: this.suite.id, extensions })],
    ];
    if (this.host.hint !== undefined) messages.push([HANDSHAKE_TYPE.serverKeyExchange, encodePskServerKeyExchange(this.host.hint)]);
    messages.push([HANDSHAKE_TYPE.serverHelloDone, Buffer.alloc(0)]);
    const flight: FlightItem[] = [];
    for (const [type, body] of messages) {
      const seq = this.serverSeq++;
      this.transcript.push(encodeMessage(type, seq, body));
      for (const part of fragmentMessage(type, seq, body, MAX_FRAGMENT_BODY)) flight.push({ epoch: 0, type: CONTENT_TYPE.handshake, content: part });
    }
    this.sendFlight(flight);
    this.armRetransmit();
  }

  /** The same ClientHello again: the client lost our flight (RFC 6347 4.2.4). */
  helloRetransmitted(datagramId: number): void {
    if (this.state === 'awaiting-client-flight' && this.master === undefined) this.retransmit(datagramId);
  }

  /** A handshake record of epoch 0 whose fragments the server has already read. */
  handlePlainHandshake(record: DtlsRecord, fragments: readonly HandshakeFragment[], datagramId: number, now: number): void {
    if (!this.acceptRecord(record)) return;
    this.windows[0].mark(record.seq);
    for (const f of fragments) {
      if (this.state === 'closed') return;
      const ckeSeq = this.helloSeq + 1;
      if (this.state === 'established') {
        // Our Finished was lost and the client sends its final flight again.
        if (f.seq === ckeSeq && f.type === HANDSHAKE_TYPE.clientKeyExchange) this.retransmit(datagramId);
        continue;
      }
      if (this.master !== undefined || f.seq !== ckeSeq) continue;
      this.lastActive = now;
      this.stopRetransmit();
      this.feed(f, ckeSeq);
      const message = this.reassembler.take(ckeSeq);
      if (message !== undefined) this.onClientKeyExchange(message.type, message.body);
    }
  }

  /** Any other record of this peer. */
  handleRecord(record: DtlsRecord, datagramId: number, now: number): void {
    if (this.state === 'closed') return;
    if (record.epoch === 0) return this.handlePlainRecord(record, now);
    if (record.epoch !== 1 || record.version !== DTLS_1_2) return;
    if (this.readEpoch === 0) {
      // RFC 6347 4.1: records of the next epoch may arrive before the ChangeCipherSpec.
      if (this.state === 'awaiting-client-flight' && this.earlyRecords.length < MAX_EARLY_RECORDS) this.earlyRecords.push(copyRecord(record));
      return;
    }
    this.handleProtectedRecord(record, datagramId, now);
  }

  /** Ends the session without a word to the peer (expiry, eviction, server shutdown). */
  destroy(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopRetransmit();
    this.transcript = [];
    this.earlyRecords = [];
    this.host.ended(this);
  }

  /** Handshake timeout or idle timeout reached at `now`: logs, ends the session and returns true. */
  expire(now: number, handshakeTimeoutMs: number, idleTimeoutMs: number): boolean {
    if (this.state === 'awaiting-client-flight' && now - this.createdAt >= handshakeTimeoutMs) {
      this.fail('timed out waiting for the client flight', undefined);
      return true;
    }
    if (this.state === 'established' && now - this.lastActive >= idleTimeoutMs) {
      this.host.log(`dtls session ended: peer ${this.peerName} identity ${quote(this.identity)} idle for ${idleTimeoutMs} ms`);
      this.destroy();
      return true;
    }
    return false;
  }

  /** A half-open handshake or session pushed out to make room for a new one. */
  evict(): void {
    if (this.state === 'awaiting-client-flight') this.fail('evicted: too many sessions', undefined);
    else {
      this.host.log(`dtls session ended: peer ${this.peerName} identity ${quote(this.identity)} evicted (too many sessions)`);
      this.destroy();
    }
  }

  /** Handshake abandoned because the client started a new one from the same address and port. */
  superseded(): void {
    if (this.state === 'awaiting-client-flight') this.fail('superseded by a new ClientHello', undefined);
    else {
      this.host.log(`dtls session ended: peer ${this.peerName} identity ${quote(this.identity)} replaced by a new handshake (client restarted)`);
      this.destroy();
    }
  }

  private handlePlainRecord(record: DtlsRecord, now: number): void {
    if (!this.acceptRecord(record)) return;
    if (record.type === CONTENT_TYPE.changeCipherSpec) {
      this.windows[0].mark(record.seq);
      if (this.state !== 'awaiting-client-flight' || record.fragment.length !== 1 || record.fragment[0] !== 1) return;
      this.lastActive = now;
      this.ccsSeen = true;
      if (this.master !== undefined) this.enterReadEpoch1(now);
      return;
    }
    if (record.type === CONTENT_TYPE.alert && this.state === 'awaiting-client-flight') {
      // Unauthenticated alerts can end a handshake but never an established session.
      this.windows[0].mark(record.seq);
      const [level, description] = record.fragment;
      if (level === LEVEL.fatal || description === ALERT.closeNotify) this.fail(`client sent alert ${description ?? '?'}`, undefined);
    }
  }

  private handleProtectedRecord(record: DtlsRecord, datagramId: number, now: number): void {
    const window = this.windows[1];
    if (this.host.replayWindow && !window.accepts(record.seq)) return; // RFC 6347 4.1.2.6
    const plaintext = this.reader?.open(record, record.fragment);
    if (plaintext === undefined) {
      // RFC 6347 4.1.2.7: invalid records are silently discarded - except the
      // client's Finished, which cannot be read with a wrong PSK (RFC 4279 2: decrypt_error).
      if (this.state === 'awaiting-client-flight' && record.type === CONTENT_TYPE.handshake) {
        this.fail('client Finished does not authenticate (wrong PSK?)', ALERT.decryptError);
      }
      return;
    }
    window.mark(record.seq);
    this.lastActive = now;
    switch (record.type) {
      case CONTENT_TYPE.applicationData:
        if (this.state === 'established' && plaintext.length > 0 && this.peer !== undefined) this.host.onData(this.peer, plaintext);
        return;
      case CONTENT_TYPE.alert:
        return this.onAlert(plaintext);
      case CONTENT_TYPE.handshake:
        return this.onProtectedHandshake(plaintext, datagramId);
      default:
        return;
    }
  }

  private onAlert(body: Buffer): void {
    const [level, description] = body;
    if (description === ALERT.closeNotify) {
      // RFC 5246 7.2.1: answer close_notify with close_notify.
      if (this.state === 'established') this.sendAlert(LEVEL.warning, ALERT.closeNotify);
      this.host.log(`dtls session ended: peer ${this.peerName} identity ${quote(this.identity)} close_notify`);
      this.destroy();
      return;
    }
    if (level === LEVEL.fatal) {
      if (this.state === 'awaiting-client-flight') this.fail(`client sent fatal alert ${description ?? '?'}`, undefined);
      else {
        this.host.log(`dtls session ended: peer ${this.peerName} identity ${quote(this.identity)} fatal alert ${description ?? '?'}`);
        this.destroy();
      }
    }
  }

  private onProtectedHandshake(plaintext: Buffer, datagramId: number): void {
    const fragments = this.host.fragments(plaintext);
    if (fragments === undefined || this.state === 'closed') return;
    const finishedSeq = this.helloSeq + 2;
    for (const f of fragments) {
      if (this.state === 'established') {
        if (f.seq === finishedSeq && f.type === HANDSHAKE_TYPE.finished) this.retransmit(datagramId);
        // RFC 5746 / RFC 5246 7.4.1.2: renegotiation is not offered.
        else if (f.type === HANDSHAKE_TYPE.clientHello) this.sendAlert(LEVEL.warning, ALERT.noRenegotiation);
        continue;
      }
      if (this.state !== 'awaiting-client-flight' || f.seq !== finishedSeq) continue;
      this.feed(f, finishedSeq);
      const message = this.reassembler.take(finishedSeq);
      if (message !== undefined) this.onClientFinished(message.type, message.body);
    }
  }

  private feed(f: HandshakeFragment, next: number): void {
    const added = this.reassembler.add(f, next);
    if (typeof added === 'object') this.host.inconsistent(added.inconsistent);
  }

  private onClientKeyExchange(type: number, body: Buffer): void {
    if (type !== HANDSHAKE_TYPE.clientKeyExchange) return this.fail(`expected ClientKeyExchange, got handshake type ${type}`, ALERT.unexpectedMessage);
    const identityBytes = parsePskClientKeyExchange(body);
    if (identityBytes === undefined) return this.fail('malformed ClientKeyExchange', ALERT.decodeError);
    // RFC 4279 5.1: identities are UTF-8; bytes that are not do not name anyone.
    const identity = identityBytes.toString('utf8');
    this.identity = identity;
    let psk: Buffer | undefined;
    if (Buffer.from(identity, 'utf8').equals(identityBytes)) {
      try {
        psk = this.host.pskFor(identity);
      } catch (e) {
        return this.fail(`PSK lookup failed: ${e instanceof Error ? e.message : String(e)}`, ALERT.internalError);
      }
    }
    if (psk === undefined || psk.length === 0) return this.fail('unknown PSK identity', ALERT.unknownPskIdentity);
    this.transcript.push(encodeMessage(type, this.helloSeq + 1, body));
    const transcriptHash = sha256(Buffer.concat(this.transcript));
    this.clientFinishedHash = transcriptHash;
    this.master = masterSecret({
      premaster: pskPremaster(psk),
      clientRandom: this.clientRandom,
      serverRandom: this.serverRandom,
      sessionHash: this.ems ? transcriptHash : undefined, // RFC 7627 3: hash through ClientKeyExchange
    });
    const keys = keyBlock(this.suite, this.master, this.clientRandom, this.serverRandom);
    this.writer = recordProtection(this.suite, keys.server);
    this.reader = recordProtection(this.suite, keys.client);
    if (this.ccsSeen) this.enterReadEpoch1(this.lastActive);
  }

  private enterReadEpoch1(now: number): void {
    this.readEpoch = 1;
    const early = this.earlyRecords;
    this.earlyRecords = [];
    for (const r of early) {
      if (this.state !== 'awaiting-client-flight') return;
      this.handleProtectedRecord(r, -1, now);
    }
  }

  private onClientFinished(type: number, body: Buffer): void {
    if (type !== HANDSHAKE_TYPE.finished) return this.fail(`expected Finished, got handshake type ${type}`, ALERT.unexpectedMessage);
    const master = this.master;
    const hash = this.clientFinishedHash;
    if (master === undefined || hash === undefined) return;
    const expected = finishedVerifyData(master, 'client', hash);
    if (body.length !== expected.length || !timingSafeEqual(body, expected)) return this.fail('client Finished verify_data is wrong', ALERT.decryptError);
    this.transcript.push(encodeMessage(type, this.helloSeq + 2, body));
    const serverVerify = finishedVerifyData(master, 'server', sha256(Buffer.concat(this.transcript)));
    this.transcript = [];
    const finished = encodeMessage(HANDSHAKE_TYPE.finished, this.serverSeq++, serverVerify);
    this.state = 'established';
    this.sendFlight([
      { epoch: 0, type: CONTENT_TYPE.changeCipherSpec, content: Buffer.from([1]) },
      { epoch: 1, type: CONTENT_TYPE.handshake, content: finished },
    ]);
    const identity = this.identity ?? '';
    this.peer = {
      address: this.address,
      port: this.port,
      identity,
      send: (data: Buffer) => this.sendApplicationData(data),
    };
    this.host.log(`dtls handshake completed: peer ${this.peerName} identity ${quote(identity)} suite ${this.suite.name}${this.ems ? ' (extended master secret)' : ''}`);
  }

  private sendApplicationData(data: Buffer): void {
    if (this.state !== 'established') return;
    for (let at = 0; at === 0 || at < data.length; at += MAX_PLAINTEXT) {
      const record = this.protectedRecord(1, CONTENT_TYPE.applicationData, data.subarray(at, at + MAX_PLAINTEXT));
      if (record === undefined) return;
      this.host.send(record, this.address, this.port);
    }
  }

  private acceptRecord(record: DtlsRecord): boolean {
    return !this.host.replayWindow || this.windows[0].accepts(record.seq);
  }

  /** Encodes (and in epoch 1 protects) one record with the next write sequence number. */
  private protectedRecord(epoch: 0 | 1, type: number, content: Buffer): Buffer | undefined {
    const seq = this.writeSeq[epoch];
    if (seq > MAX_SEQUENCE) {
      // RFC 6347 4.1: a sequence number must never wrap.
      this.destroy();
      return undefined;
    }
    this.writeSeq[epoch] = seq + 1;
    const header = { type, version: DTLS_1_2, epoch, seq };
    if (epoch === 0) return encodeRecord({ ...header, fragment: content });
    const writer = this.writer;
    if (writer === undefined) return undefined;
    return encodeRecord({ ...header, fragment: writer.seal(header, content) });
  }

  private sendFlight(flight: FlightItem[]): void {
    this.lastFlight = flight;
    const records: Buffer[] = [];
    for (const item of flight) {
      const r = this.protectedRecord(item.epoch, item.type, item.content);
      if (r === undefined) return;
      records.push(r);
      if (item.type === CONTENT_TYPE.changeCipherSpec) this.writeEpoch = 1;
    }
    for (const d of packDatagrams(records, MAX_DATAGRAM)) this.host.send(d, this.address, this.port);
  }

  /** The last flight again, with fresh record sequence numbers; at most once per received datagram. */
  private retransmit(datagramId: number): void {
    if (datagramId === this.lastRetransmitDatagram) return;
    this.lastRetransmitDatagram = datagramId;
    this.sendFlight(this.lastFlight);
  }

  private armRetransmit(): void {
    const delay = RETRANSMIT_INITIAL_MS * 2 ** this.retransmits;
    this.retransmitTimer = setTimeout(() => {
      this.retransmitTimer = undefined;
      if (this.state !== 'awaiting-client-flight' || this.retransmits >= RETRANSMIT_MAX) return;
      this.retransmits++;
      this.sendFlight(this.lastFlight);
      this.armRetransmit();
    }, delay);
    this.retransmitTimer.unref();
  }

  private stopRetransmit(): void {
    if (this.retransmitTimer !== undefined) clearTimeout(this.retransmitTimer);
    this.retransmitTimer = undefined;
  }

  private sendAlert(level: number, description: number): void {
    const record = this.protectedRecord(this.writeEpoch, CONTENT_TYPE.alert, Buffer.from([level, description]));
    if (record !== undefined) this.host.send(record, this.address, this.port);
  }

  private fail(reason: string, alert: number | undefined): void {
    if (this.state === 'closed') return;
    if (alert !== undefined) this.sendAlert(LEVEL.fatal, alert);
    this.host.log(`dtls handshake failed: peer ${this.peerName} identity ${quote(this.identity)} suite ${this.suite.name}: ${reason}`);
    this.destroy();
  }
}

function copyRecord(r: DtlsRecord): DtlsRecord {
  return { ...r, fragment: Buffer.from(r.fragment) };
}

/** A peer-chosen identity, quoted and cut short for a log line. */
export function quote(identity: string | undefined): string {
  if (identity === undefined) return '-';
  const shown = identity.length > 64 ? `${identity.slice(0, 64)}...` : identity;
  return JSON.stringify(shown);
}
