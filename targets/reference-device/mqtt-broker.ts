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
// Unauthorized SUBSCRIBE filters get SUBACK 128; unauthorized PUBLISHes are
// acknowledged as the QoS requires and then dropped (MQTT-3.3.5-2), never
// delivered or retained: aedes would otherwise close the connection, so the
// packet is renamed to an internal sink topic that is never forwarded.

import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { logName, type Accounts, type AccountRole } from './accounts.js';
import type { DeviceState } from './device-state.js';
import type { Flaw } from './flaws.js';
import { filterCovers, topicMatches } from './topic-match.js';
import { listenTcp, closeTcp } from './sockets.js';

/** Where refused publishes go: never forwarded to anyone. */
const SINK_TOPIC = '$gauntlet/dropped';

interface MqttPrincipal {
  /** null for an anonymous client (only with the anonymous-mqtt flaw). */
  readonly user: string | null;
  /** 'anonymous' has full rights: that is the flaw. */
  readonly role: AccountRole | 'anonymous';
}

/** What a device-role account may do: its own telemetry subtree and its own config topic. */
export function deviceAcl(user: string): { publish: string[]; subscribe: string[] } {
  return { publish: [`devices/${user}/#`], subscribe: [`config/${user}`, `devices/${user}/#`] };
}

export function mayPublish(who: MqttPrincipal | undefined, topic: string): boolean {
  if (!who || topic.startsWith('$')) return false; // '$' topics belong to the broker
  if (who.role === 'admin' || who.role === 'anonymous') return true;
  return who.user !== null && deviceAcl(who.user).publish.some((f) => topicMatches(f, topic));
}

export function maySubscribe(who: MqttPrincipal | undefined, filter: string): boolean {
  if (!who) return false;
  if (who.role === 'admin' || who.role === 'anonymous') return true;
  return who.user !== null && deviceAcl(who.user).subscribe.some((f) => filterCovers(f, filter));
}

export interface MqttBrokerOptions {
  readonly host: string;
  readonly port: number;
  readonly accounts: Accounts;
  readonly flaws: ReadonlySet<Flaw>;
  readonly state: DeviceState;
  readonly log: (line: string) => void;
}

export interface RunningMqtt {
  readonly port: number;
  close(): Promise<void>;
}

function refusal(returnCode: 4 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export async function startMqttBroker(opts: MqttBrokerOptions): Promise<RunningMqtt> {
  const { accounts, flaws, log } = opts;
  const principals = new WeakMap<Client, MqttPrincipal>();

  const broker = await Aedes.createBroker({
    connectTimeout: 10_000,
    authenticate(client, username, password, done) {
      if (username === undefined || username === '') {
        if (flaws.has('anonymous-mqtt')) {
          principals.set(client, { user: null, role: 'anonymous' });
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
      done(null, true);
    },
    authorizePublish(client, packet, done) {
      const who = client ? principals.get(client) : undefined;
      if (!mayPublish(who, packet.topic)) {
        log(`mqtt: publish dropped user=${who?.user == null ? '(anonymous)' : logName(who.user)} topic=${logName(packet.topic)}`);
        packet.topic = SINK_TOPIC;
        packet.retain = false;
      }
      done(null);
    },
    authorizeSubscribe(client, sub, done) {
      const who = principals.get(client);
      if (!maySubscribe(who, sub.topic)) {
        log(`mqtt: subscribe refused user=${who?.user == null ? '(anonymous)' : logName(who.user)} filter=${logName(sub.topic)}`);
        return done(null, null);
      }
      done(null, sub);
    },
    authorizeForward(_client, packet) {
      return packet.topic === SINK_TOPIC ? null : packet;
    },
  });
  (broker as NodeJS.EventEmitter).on('error', (err: Error) => log(`mqtt: broker error: ${err.message}`));

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

  const server: Server = createServer((socket: Socket) => {
    broker.handle(socket);
  });
  let port: number;
  try {
    port = await listenTcp(server, opts.port, opts.host);
  } catch (e) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw e;
  }

  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        await closeTcp(server);
      })();
      return closing;
    },
  };
}
