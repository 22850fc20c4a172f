// The device's MQTT 3.1.1 broker (aedes over TCP) with authentication against
// the shared account store, the first-use gate, and a per-role ACL.
//
// CONNACK return codes (documented, consistent):
//   5 (not authorized)            anonymous CONNECT (no or empty user name);
//                                 every refused CONNECT while the unit is
//                                 factory-fresh, correct credentials included
//                                 (the shipped password must be changed first);
//   4 (bad user name or password) wrong password, unknown user, or locked user
//                                 on a provisioned unit (the same code for all
//                                 three: no user enumeration, no lock oracle).
//
// The ACL (each principal's topic rules, the ones the target file declares):
//   SUBSCRIBE  granted only if one of the principal's subscribe filters COVERS
//              the requested filter (every topic the request can match is
//              matched by the allowed filter); otherwise SUBACK 128.
//   delivery   a message is only forwarded to a client whose principal may
//              read its topic (defence in depth behind the SUBSCRIBE check).
//   PUBLISH    allowed iff the topic matches one of the principal's publish
//              filters ('$' topics belong to the broker). Refused publishes are
//              acknowledged as the QoS requires and then dropped (MQTT-3.3.5-2),
//              never delivered or retained: aedes would otherwise close the
//              connection, so the packet is renamed to an internal sink topic
//              that is never forwarded.
//   will       published only if its principal may publish to the will topic
//              (aedes runs the will through authorizePublish), else discarded.
// [MQTT-4.7.2-1]: filters starting with a wildcard never match '$' topics.
//
// The unit hears its own command topics (devices/rd1/cmd/update) through
// onPublish: only what got through the ACL above reaches it.
//
// mqtts (listenTls): the same broker (accounts, ACL, retained messages, flaws)
// also served over TLS on a second port; close() closes both.
//
// Credentials only over TLS: on the plain port every CONNECT is answered 5
// (not authorized) before its user name or password is looked at (so a
// password sent there in clear is never checked, and never counts toward the
// lockout). The plaintext-credentials flaw serves the plain port like mqtts.
//
// Both ports take their connections through the unit's connection gate
// (connection-gate.ts) when one is given: a connection counts as
// authenticated once its CONNECT is accepted.

import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { logName, type Accounts, type AccountRole } from './accounts.js';
import type { DeviceState } from './device-state.js';
import type { Flaw } from './flaws.js';
import { filterCovers, isValidFilter, topicMatches } from './topic-match.js';
import { listenTcp, closeTcp } from './sockets.js';
import { handshakeFailure } from './tls.js';
import { MqttFrameScanner, type Fault } from './robustness-flaws.js';
import type { ConnectionGate } from './connection-gate.js';

/** Where refused publishes go: never forwarded to anyone. */
const SINK_TOPIC = '$gauntlet/dropped';

export interface MqttPrincipal {
  /** null for an anonymous client (only with the anonymous-mqtt flaw). */
  readonly user: string | null;
  /** 'anonymous' has full rights (those of admin): that is the flaw. */
  readonly role: AccountRole | 'anonymous';
}

export interface TopicAcl {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/** What an admin may do (and an anonymous client, with the anonymous-mqtt flaw): everything but the broker's own '$' topics, plus reading $SYS. */
export const ADMIN_ACL: TopicAcl = Object.freeze({ publish: Object.freeze(['#']), subscribe: Object.freeze(['#', '$SYS/#']) });

/** What a device-role account may do: its own telemetry subtree and its own config topic. */
export function deviceAcl(user: string): { publish: string[]; subscribe: string[] } {
  return { publish: [`devices/${user}/#`], subscribe: [`config/${user}`, `devices/${user}/#`] };
}

export function aclOf(who: MqttPrincipal | undefined): TopicAcl | undefined {
  if (!who) return undefined;
  if (who.role === 'admin' || who.role === 'anonymous') return ADMIN_ACL;
  return who.user === null ? undefined : deviceAcl(who.user);
}

const NO_FLAWS: ReadonlySet<Flaw> = new Set();

/** A filter made only of wildcards ('#', '+', '+/#', '+/+/#', ...): what the acl-wildcard-leak flaw lets anyone subscribe to. */
export function isWildcardOnly(filter: string): boolean {
  return isValidFilter(filter) && filter.split('/').every((level) => level === '+' || level === '#');
}

/**
 * The acl-prefix-match flaw: an allowed filter `a/b/#` (or `a/b`) allows every
 * topic or filter whose string starts with `a/b` (strcmp with the rule's
 * length). Rules whose prefix is empty or holds a wildcard ('#') are compared
 * properly.
 */
export function prefixAllows(allowed: string, requested: string): boolean {
  const prefix = allowed.endsWith('/#') ? allowed.slice(0, -2) : allowed;
  if (prefix === '' || /[+#]/.test(prefix)) return false;
  return requested.startsWith(prefix);
}

export function mayPublish(who: MqttPrincipal | undefined, topic: string, flaws: ReadonlySet<Flaw> = NO_FLAWS): boolean {
  const acl = aclOf(who);
  if (!acl || topic.startsWith('$')) return false; // '$' topics belong to the broker
  const prefix = flaws.has('acl-prefix-match');
  return acl.publish.some((f) => topicMatches(f, topic) || (prefix && prefixAllows(f, topic)));
}

export function maySubscribe(who: MqttPrincipal | undefined, filter: string, flaws: ReadonlySet<Flaw> = NO_FLAWS): boolean {
  const acl = aclOf(who);
  if (!acl) return false;
  if (flaws.has('acl-wildcard-leak') && isWildcardOnly(filter)) return true;
  const prefix = flaws.has('acl-prefix-match');
  return acl.subscribe.some((f) => filterCovers(f, filter) || (prefix && isValidFilter(filter) && prefixAllows(f, filter)));
}

/** Whether a message on `topic` may be delivered to this principal (whatever it subscribed to). */
export function mayRead(who: MqttPrincipal | undefined, topic: string, flaws: ReadonlySet<Flaw> = NO_FLAWS): boolean {
  const acl = aclOf(who);
  if (!acl) return false;
  const prefix = flaws.has('acl-prefix-match');
  return acl.subscribe.some((f) => topicMatches(f, topic) || (prefix && prefixAllows(f, topic)));
}

export interface MqttBrokerOptions {
  readonly host: string;
  readonly port: number;
  readonly accounts: Accounts;
  readonly flaws: ReadonlySet<Flaw>;
  readonly state: DeviceState;
  readonly log: (line: string) => void;
  /**
   * Called for every client PUBLISH the broker really published (after the
   * ACL: refused ones went to the sink topic and never arrive here), with the
   * publisher's log name: how the unit itself hears its command topics.
   */
  readonly onPublish?: (topic: string, payload: Buffer, who: string) => void;
  /** A robustness flaw fired on a connection's raw bytes: the device's watchdog crashes or wedges the service. */
  readonly onFault?: (fault: Fault) => void;
  /** While true (a wedged service), new connections are accepted and never answered. */
  readonly isHung?: () => boolean;
  /** The unit's connection slots (connection-gate.ts); without one every connection is admitted at once. */
  readonly gate?: ConnectionGate;
}

export interface RunningMqtt {
  readonly port: number;
  /** Also serves this broker over TLS on `port` (0 = free); rejects when it cannot listen. Closed with the broker. */
  listenTls(port: number, options: TlsOptions): Promise<RunningListener>;
  close(): Promise<void>;
}

export interface RunningListener {
  readonly port: number;
  close(): Promise<void>;
}

/** aedes' persistence (untyped in its declarations): only what the retained-bypass flaw uses. */
function persistenceOf(broker: Aedes): { storeRetained(packet: PublishPacket): Promise<void> } {
  return (broker as unknown as { persistence: { storeRetained(packet: PublishPacket): Promise<void> } }).persistence;
}

function refusal(returnCode: 4 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export async function startMqttBroker(opts: MqttBrokerOptions): Promise<RunningMqtt> {
  const { accounts, flaws, log } = opts;
  const principals = new WeakMap<Client, MqttPrincipal>();
  /** acl-wildcard-leak: each client's granted all-wildcard filters, delivered unfiltered. */
  const leaks = new WeakMap<Client, Set<string>>();
  /** Connections that came in on the plain port. */
  const plain = new WeakSet<object>();
  const plainLogins = flaws.has('plaintext-credentials');

  const broker = await Aedes.createBroker({
    connectTimeout: 10_000,
    authenticate(client, username, password, done) {
      if (!plainLogins && plain.has(client.conn)) {
        log(`mqtt: CONNECT on the plaintext port refused${username ? ` user=${logName(username)}` : ''} (credentials are accepted over mqtts only)`);
        return done(refusal(5, 'not authorized: use mqtts'), null);
      }
      if (username === undefined || username === '') {
        if (flaws.has('anonymous-mqtt')) {
          principals.set(client, { user: null, role: 'anonymous' });
          opts.gate?.activate(client.conn);
          log('mqtt: anonymous client accepted');
          return done(null, true);
        }
        log('mqtt: anonymous CONNECT refused');
        return done(refusal(5, 'not authorized'), null);
      }
      const gate = accounts.isFactoryFresh() && !flaws.has('no-forced-change');
      const result = accounts.authenticate(username, password?.toString('utf8') ?? '', 'mqtt');
      if (!result.ok) return done(refusal(gate ? 5 : 4, gate ? 'not authorized' : 'bad user name or password'), null);
      if (accounts.blockedByFirstUse(result.account)) {
        log(`mqtt: CONNECT refused user=${logName(username)} (factory-fresh: the shipped password must be changed first)`);
        return done(refusal(5, 'not authorized'), null);
      }
      principals.set(client, { user: result.account.user, role: result.account.role });
      opts.gate?.activate(client.conn);
      done(null, true);
    },
    authorizePublish(client, packet, done) {
      const who = client ? principals.get(client) : undefined;
      const isWill = client !== null && (client as Client & { will?: unknown }).will === packet;
      if (isWill && flaws.has('will-bypass')) {
        log(`mqtt: will published unchecked user=${who?.user == null ? '(anonymous)' : logName(who.user)} topic=${logName(packet.topic)}`);
        return done(null);
      }
      if (mayPublish(who, packet.topic, flaws)) return done(null);
      log(
        `mqtt: ${isWill ? 'will discarded' : 'publish dropped'} user=${who?.user == null ? '(anonymous)' : logName(who.user)} topic=${logName(packet.topic)}`,
      );
      const original = { topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain };
      packet.topic = SINK_TOPIC;
      packet.retain = false;
      if (original.retain && !isWill && flaws.has('retained-bypass')) {
        // The flaw: not delivered live, but stored as the topic's retained message.
        const retained: PublishPacket = { cmd: 'publish', topic: original.topic, payload: original.payload, qos: original.qos, retain: true, dup: false };
        persistenceOf(broker)
          .storeRetained(retained)
          .then(
            () => done(null),
            () => done(null),
          );
        return;
      }
      done(null);
    },
    authorizeSubscribe(client, sub, done) {
      const who = principals.get(client);
      if (!maySubscribe(who, sub.topic, flaws)) {
        log(`mqtt: subscribe refused user=${who?.user == null ? '(anonymous)' : logName(who.user)} filter=${logName(sub.topic)}`);
        return done(null, null);
      }
      if (flaws.has('acl-wildcard-leak') && isWildcardOnly(sub.topic)) {
        let set = leaks.get(client);
        if (!set) leaks.set(client, (set = new Set()));
        set.add(sub.topic);
      }
      done(null, sub);
    },
    authorizeForward(client, packet) {
      if (packet.topic === SINK_TOPIC) return null;
      if (mayRead(principals.get(client), packet.topic, flaws)) return packet;
      // acl-wildcard-leak: delivery is not filtered for the all-wildcard subscriptions.
      for (const f of leaks.get(client) ?? []) if (topicMatches(f, packet.topic)) return packet;
      return null;
    },
  });
  (broker as NodeJS.EventEmitter).on('error', (err: Error) => log(`mqtt: broker error: ${err.message}`));
  broker.on('publish', (packet, client) => {
    if (!client || !opts.onPublish || packet.topic === SINK_TOPIC || packet.topic.startsWith('$')) return;
    const who = principals.get(client);
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : Buffer.from(packet.payload);
    try {
      opts.onPublish(packet.topic, payload, who?.user == null ? '(anonymous)' : logName(who.user));
    } catch (e) {
      log(`mqtt: command handler failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  broker.on('unsubscribe', (filters, client) => {
    const set = leaks.get(client);
    if (set) for (const f of filters) set.delete(f);
  });

  // The unit's configuration, retained for the sensor on config/sensor-1.
  const publishConfig = (): void => {
    broker.publish(
      { cmd: 'publish', topic: 'config/sensor-1', payload: Buffer.from(JSON.stringify(opts.state.config())), qos: 0, retain: true, dup: false },
      () => {},
    );
  };
  publishConfig();
  opts.state.onConfigChange(() => {
    if (!broker.closed) publishConfig();
  });

  // No Nagle: small MQTT packets go out at once, as on a tuned embedded stack
  // (otherwise every delivery waits ~40 ms on delayed ACKs).
  /** Every connection, plain or TLS: a wedged service never answers; the robustness flaws read the raw bytes first. */
  const accept = (socket: Socket): void => {
    if (opts.isHung?.()) {
      socket.on('error', () => {});
      socket.setTimeout(30_000, () => socket.destroy());
      return;
    }
    if (MqttFrameScanner.needed(flaws)) {
      const scanner = new MqttFrameScanner(flaws);
      socket.on('data', (chunk: Buffer) => {
        const fault = scanner.feed(chunk);
        if (fault) opts.onFault?.(fault);
      });
    }
    broker.handle(socket);
  };
  const server: Server = createServer({ noDelay: true }, (socket: Socket) => {
    plain.add(socket);
    accept(socket);
  });
  opts.gate?.guard(server, 'mqtt', 'mqtt');
  let port: number;
  try {
    port = await listenTcp(server, opts.port, opts.host);
  } catch (e) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw e;
  }

  const tlsListeners: RunningListener[] = [];
  let closing: Promise<void> | undefined;
  return {
    port,
    async listenTls(tlsPort, options) {
      if (closing) throw new Error('the broker is closed');
      const tlsServer = createTlsServer({ ...options, noDelay: true }, (socket: TLSSocket) => accept(socket));
      tlsServer.on('tlsClientError', (err: Error, socket: TLSSocket) => {
        if (opts.gate?.dropped(socket)) return; // the gate closed it (idle, evicted): logged there
        log(`mqtts: TLS handshake failed from ${socket.remoteAddress ?? '?'}: ${handshakeFailure(err)}`);
      });
      opts.gate?.guard(tlsServer, 'mqtts', 'mqtt');
      const bound = await listenTcp(tlsServer, tlsPort, opts.host);
      let closingTls: Promise<void> | undefined;
      const listener: RunningListener = {
        port: bound,
        close() {
          closingTls ??= closeTcp(tlsServer);
          return closingTls;
        },
      };
      tlsListeners.push(listener);
      return listener;
    },
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        await Promise.all([closeTcp(server), ...tlsListeners.map((l) => l.close())]);
      })();
      return closing;
    },
  };
}
