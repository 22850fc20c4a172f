// Interop launcher tests: start real Mosquitto and libcoap servers through
// targets/interop/ and prove they behave as configured (auth, ACL, CoAP
// discovery) and that close() leaves no process and no bound port behind.
// Skipped when the Debian packages are missing outside CI (global setup fails
// the run instead when CI=true).
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { generate as coapGenerate, parse as coapParse, type ParsedPacket } from 'coap-packet';
import { generate as mqttGenerate, parser as mqttParser, type Packet as MqttPacket } from 'mqtt-packet';
import { afterEach, describe, expect, inject, it } from 'vitest';

import { freePort, freePortBlock, isPortFree } from '../../targets/interop/free-port.js';
import { coapPing, startLibcoap, type LibcoapHandle } from '../../targets/interop/libcoap.js';
import { mosquittoVersion, startMosquitto, type MosquittoHandle } from '../../targets/interop/mosquitto.js';

const interop = inject('interop');

// ---- tiny raw MQTT 3.1.1 client (so we see the exact CONNACK/SUBACK codes) ----

class RawMqtt {
  private readonly queue: MqttPacket[] = [];
  private waiters: ((p: MqttPacket) => void)[] = [];
  private closed = false;

  private constructor(readonly socket: net.Socket) {
    const parser = mqttParser({ protocolVersion: 4 });
    parser.on('packet', (p: MqttPacket) => {
      const w = this.waiters.shift();
      if (w) w(p);
      else this.queue.push(p);
    });
    socket.on('data', (d) => parser.parse(d));
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static open(port: number): Promise<RawMqtt> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawMqtt(s)));
      s.once('error', reject);
    });
  }

  send(p: MqttPacket): void {
    this.socket.write(mqttGenerate(p, { protocolVersion: 4 }));
  }

  next(timeoutMs = 3000): Promise<MqttPacket> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no MQTT packet within ${timeoutMs} ms (closed=${this.closed})`)), timeoutMs);
      this.waiters.push((p) => {
        clearTimeout(t);
        resolve(p);
      });
    });
  }

  /** CONNECT and return the CONNACK return code (3.1.1: 0 accepted, 4 bad user/password, 5 not authorized). */
  async connect(clientId: string, username?: string, password?: string): Promise<number> {
    this.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      clientId,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password: Buffer.from(password) } : {}),
    });
    const p = await this.next();
    if (p.cmd !== 'connack') throw new Error(`expected CONNACK, got ${p.cmd}`);
    return p.returnCode ?? -1;
  }

  async subscribe(topic: string, messageId: number): Promise<number[]> {
    this.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos: 0 }] });
    const p = await this.next();
    if (p.cmd !== 'suback') throw new Error(`expected SUBACK, got ${p.cmd}`);
    return p.granted as number[];
  }

  end(): void {
    this.socket.destroy();
  }
}

/** Gone, or a zombie nobody reaps (containers whose pid 1 is not an init). */
function processGone(pid: number | undefined): boolean {
  if (pid === undefined) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..." — state after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

const distDir = fileURLToPath(new URL('../../dist/targets/interop/', import.meta.url));

/**
 * Start a server from the built launcher in a separate Node process that is
 * then SIGKILLed (no 'exit' hooks run, as when vitest kills a worker) and
 * return the server's pid.
 */
function startInDoomedProcess(module: string, call: string): { pid: number; dir?: string } {
  const script = `
    const m = await import(${JSON.stringify(pathToFileURL(path.join(distDir, module)).href)});
    const h = await m.${call};
    process.stdout.write(JSON.stringify({ pid: h.pid, dir: h.dir }) + '\\n', () => process.kill(process.pid, 'SIGKILL'));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 15_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`doomed process failed (signal ${r.signal}): ${r.stderr}`);
  return JSON.parse(line) as { pid: number; dir?: string };
}

// ---- CoAP over node:dgram -----------------------------------------------------

function coapRequest(port: number, packet: Parameters<typeof coapGenerate>[0], timeoutMs = 3000): Promise<ParsedPacket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      socket.close();
      reject(new Error(`no CoAP response within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('message', (msg) => {
      clearTimeout(t);
      socket.close();
      resolve(coapParse(msg));
    });
    socket.send(coapGenerate(packet), port, '127.0.0.1');
  });
}

// ---- always available -----------------------------------------------------------

describe('free ports', () => {
  it('freePort returns a bindable loopback port for tcp and udp', async () => {
    for (const kind of ['tcp', 'udp'] as const) {
      const port = await freePort(kind);
      expect(port).toBeGreaterThan(0);
      expect(port).toBeLessThan(65536);
      expect(await isPortFree(kind, port)).toBe(true);
    }
  });

  it('isPortFree sees a bound port; freePortBlock skips it', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      expect(await isPortFree('tcp', port)).toBe(false);
      const base = await freePortBlock(['udp', 'tcp'], 2);
      for (const p of [base, base + 1]) {
        expect(await isPortFree('tcp', p)).toBe(true);
        expect(await isPortFree('udp', p)).toBe(true);
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

// ---- Mosquitto ----------------------------------------------------------------------

describe.skipIf(!interop.mosquitto)('startMosquitto (Debian mosquitto)', () => {
  const binary = interop.mosquitto as string;
  const passwdBinary = interop.mosquittoPasswd ?? undefined;
  let brokers: MosquittoHandle[] = [];
  let clients: RawMqtt[] = [];

  afterEach(async () => {
    for (const c of clients) c.end();
    clients = [];
    await Promise.all(brokers.map((b) => b.close()));
    brokers = [];
  });

  async function client(port: number): Promise<RawMqtt> {
    const c = await RawMqtt.open(port);
    clients.push(c);
    return c;
  }

  it('reports its version', async () => {
    expect(await mosquittoVersion(binary)).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('(a) anonymous broker accepts an anonymous CONNECT', async () => {
    const broker = await startMosquitto({ binary, anonymous: true });
    brokers.push(broker);
    expect(broker.host).toBe('127.0.0.1');
    expect(existsSync(`${broker.dir}/mosquitto.conf`)).toBe(true);
    const c = await client(broker.port);
    expect(await c.connect('anon-a')).toBe(0);
    expect(await c.subscribe('anything/#', 1)).toEqual([0]);
    // The log arrives through a pipe: poll rather than race it.
    await expect.poll(() => broker.logs()).toMatch(/New client connected .* as anon-a/);
  });

  it('(b) password file + ACL: anonymous refused (5), wrong password refused, right password accepted, ACL enforced', async () => {
    const broker = await startMosquitto({
      binary,
      passwdBinary,
      anonymous: false,
      users: { alice: 's3cret', bob: 'hunter2' },
      acl: ['user alice', 'topic readwrite devices/alice/#', '', 'user bob', 'topic read devices/#'].join('\n'),
    });
    brokers.push(broker);

    expect(await (await client(broker.port)).connect('anon-b')).toBe(5);
    // Mosquitto answers a wrong password with 5 too (not 4, "bad user name or password").
    expect(await (await client(broker.port)).connect('alice-wrong', 'alice', 'nope')).toBe(5);

    const alice = await client(broker.port);
    expect(await alice.connect('alice-ok', 'alice', 's3cret')).toBe(0);
    const bob = await client(broker.port);
    expect(await bob.connect('bob-ok', 'bob', 'hunter2')).toBe(0);

    // Mosquitto 2.0's acl_file does not check SUBSCRIBE (SUBACK grants 0 even
    // for a denied topic); the ACL shows in what gets delivered.
    expect(await bob.subscribe('devices/#', 1)).toEqual([0]);
    alice.send({ cmd: 'publish', topic: 'devices/alice/temp', payload: 'allowed', qos: 0, dup: false, retain: false });
    alice.send({ cmd: 'publish', topic: 'devices/bob/temp', payload: 'denied', qos: 0, dup: false, retain: false });
    alice.send({ cmd: 'publish', topic: 'devices/alice/done', payload: 'end', qos: 0, dup: false, retain: false });
    const delivered: string[] = [];
    for (;;) {
      const p = await bob.next();
      if (p.cmd !== 'publish') continue;
      delivered.push(`${p.topic}=${p.payload.toString()}`);
      if (p.topic === 'devices/alice/done') break;
    }
    expect(delivered).toEqual(['devices/alice/temp=allowed', 'devices/alice/done=end']);
    await expect.poll(() => broker.logs()).toMatch(/Denied PUBLISH from alice-ok/);
  });

  it('close() stops the process, frees the port and removes the temp dir', async () => {
    const broker = await startMosquitto({ binary, anonymous: true });
    brokers.push(broker);
    expect(await isPortFree('tcp', broker.port)).toBe(false);
    await broker.close();
    await broker.close(); // idempotent
    expect(processGone(broker.pid)).toBe(true);
    expect(await isPortFree('tcp', broker.port)).toBe(true);
    expect(existsSync(broker.dir)).toBe(false);
  });

  it.skipIf(process.platform !== 'linux')('the broker dies with its owner even when the owner is SIGKILLed', async () => {
    const { pid, dir } = startInDoomedProcess('mosquitto.js', `startMosquitto({ binary: ${JSON.stringify(binary)}, anonymous: true })`);
    await expect.poll(() => processGone(pid), { timeout: 3000 }).toBe(true);
    // Its temp dir is left behind, and swept by the next start in another process.
    expect(dir && existsSync(dir)).toBe(true);
    brokers.push(await startMosquitto({ binary, anonymous: true }));
    expect(existsSync(dir as string)).toBe(false);
  });

  it('a broker that cannot start fails fast with its log in the error', async () => {
    await expect(
      startMosquitto({ binary, anonymous: true, extraConfig: 'this_is_not_an_option 1' }),
    ).rejects.toThrow(/exited before it was ready[\s\S]*this_is_not_an_option/);
  });

  it('a taken port fails (no retry when the port was given explicitly)', async () => {
    const first = await startMosquitto({ binary, anonymous: true });
    brokers.push(first);
    await expect(startMosquitto({ binary, anonymous: true, port: first.port })).rejects.toThrow(/in use/i);
  });

  it('a listener that cannot bind fails with mosquitto\'s own error, not a false "ready"', async () => {
    // The extra listener collides with the first broker, which still answers
    // TCP on that port; readiness also waits for this broker's "running" line.
    const first = await startMosquitto({ binary, anonymous: true });
    brokers.push(first);
    await expect(
      startMosquitto({ binary, anonymous: true, extraConfig: `listener ${first.port} 127.0.0.1` }),
    ).rejects.toThrow(/Address already in use/);
  });
});

// ---- libcoap --------------------------------------------------------------------------

describe.skipIf(!interop.coapServerNotls)('startLibcoap (Debian libcoap3-bin)', () => {
  let servers: LibcoapHandle[] = [];

  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
  });

  it('coap-server-notls answers a ping and GET /.well-known/core with 2.05 link-format', async () => {
    const server = await startLibcoap({ binary: interop.coapServerNotls as string });
    servers.push(server);
    expect(server.dtlsPort).toBeUndefined();
    expect(await coapPing(server.port)).toBe(true);

    const res = await coapRequest(server.port, {
      code: 'GET',
      confirmable: true,
      messageId: 0x1234,
      token: Buffer.from([0xca, 0xfe]),
      options: [
        { name: 'Uri-Path', value: Buffer.from('.well-known') },
        { name: 'Uri-Path', value: Buffer.from('core') },
      ],
    });
    expect(res.code).toBe('2.05');
    expect(res.ack).toBe(true);
    expect(res.messageId).toBe(0x1234);
    expect(res.token.toString('hex')).toBe('cafe');
    const cf = res.options.find((o) => o.name === 'Content-Format');
    expect(cf?.value.readUIntBE(0, cf.value.length) ?? 0).toBe(40); // application/link-format
    expect(res.payload.toString()).toContain('</time>');
  });

  it('close() stops the process and frees the UDP and TCP port', async () => {
    const server = await startLibcoap({ binary: interop.coapServerNotls as string });
    servers.push(server);
    expect(await isPortFree('udp', server.port)).toBe(false);
    await server.close();
    expect(processGone(server.pid)).toBe(true);
    expect(await isPortFree('udp', server.port)).toBe(true);
    expect(await isPortFree('tcp', server.port)).toBe(true);
    expect(await coapPing(server.port)).toBe(false);
  });

  it.skipIf(process.platform !== 'linux')('the server dies with its owner even when the owner is SIGKILLed', async () => {
    const { pid } = startInDoomedProcess('libcoap.js', `startLibcoap({ binary: ${JSON.stringify(interop.coapServerNotls)} })`);
    await expect.poll(() => processGone(pid), { timeout: 3000 }).toBe(true);
  });

  it('refuses psk with a -notls binary', async () => {
    await expect(startLibcoap({ binary: interop.coapServerNotls as string, psk: { key: 'k' } })).rejects.toThrow(/no DTLS/);
  });

  it.skipIf(!interop.coapServerOpenssl)('coap-server-openssl with psk also binds the DTLS port (port+1)', async () => {
    const server = await startLibcoap({
      binary: interop.coapServerOpenssl as string,
      psk: { key: 'gauntlet-psk', hint: 'gauntlet' },
    });
    servers.push(server);
    expect(server.dtlsPort).toBe(server.port + 1);
    expect(await isPortFree('udp', server.dtlsPort as number)).toBe(false);
    expect(await coapPing(server.port)).toBe(true);
    await server.close();
    expect(await isPortFree('udp', server.port + 1)).toBe(true);
  });
});
