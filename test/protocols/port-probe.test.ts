// Port probes against real sockets on 127.0.0.1: TCP open (with and without
// a banner), closed (RST) and filtered (a listener whose accept queue is full
// drops the SYN); UDP open (a reply), closed (ICMP port unreachable) and
// open|filtered (silence); the probe datagrams; the scope guard before every
// socket; bounded concurrency.

import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GauntletError } from '../../harness/core/errors.js';
import { TranscriptRecorder } from '../../harness/core/transcript.js';
import type { Io } from '../../harness/protocols/common/io.js';
import {
  coapPing,
  describeUdpReply,
  dtlsClientHello,
  mapLimit,
  mdnsServicesQuery,
  probePort,
  probeTcp,
  probeUdp,
  ssdpMSearch,
  udpProbeForPort,
} from '../../harness/protocols/common/port-probe.js';
import { closedPort, closeFakes, coapPingResponder, HOST, tcpServer, udpServer } from '../checks/access/fakes.js';

afterEach(closeFakes);

const calls: { host: string; what: string }[] = [];
const io = (timeoutMs = 400, over: Partial<Io> = {}): Io & { transcript: TranscriptRecorder } =>
  ({
    scope: { assert: (host: string, what: string) => void calls.push({ host, what }) },
    transcript: new TranscriptRecorder(),
    timeoutMs,
    peer: 'probe',
    ...over,
  }) as Io & { transcript: TranscriptRecorder };
const ep = (port: number) => ({ host: HOST, port });

describe('probeTcp', () => {
  it('open with a banner: the banner is kept and its hex is in the transcript; nothing is sent', async () => {
    const s = await tcpServer('RD-1 debug shell\r\n# ');
    const i = io();
    const r = await probeTcp(ep(s.port), i, { bannerMs: 200 });
    expect(r.state).toBe('open');
    expect(r.reply?.toString()).toBe('RD-1 debug shell\r\n# ');
    const got = i.transcript.entries().find((e) => e.dir === 'received')!;
    expect(got.hex).toBe(Buffer.from('RD-1 debug shell\r\n# ').toString('hex'));
    expect(got.decoded).toContain('RD-1 debug shell');
    expect(i.transcript.entries().filter((e) => e.dir === 'sent').map((e) => e.hex)).toEqual([undefined]);
  });

  it('open without a banner: open, empty reply, after the banner wait', async () => {
    const s = await tcpServer();
    const t0 = Date.now();
    const r = await probeTcp(ep(s.port), io(), { bannerMs: 150 });
    expect(r.state).toBe('open');
    expect(r.reply?.length).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(s.connections()).toBe(1);
  });

  it('closed: ECONNREFUSED, at once', async () => {
    const port = await closedPort('tcp');
    const t0 = Date.now();
    const r = await probeTcp(ep(port), io(2000));
    expect(r).toMatchObject({ state: 'closed', error: 'ECONNREFUSED' });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  describe.skipIf(process.platform !== 'linux')('filtered', () => {
    let child: ChildProcess | undefined;
    const fillers: Socket[] = [];
    afterEach(() => {
      fillers.splice(0).forEach((s) => s.destroy());
      if (child?.pid) child.kill('SIGKILL');
      child = undefined;
    });

    it('a SYN nobody answers: filtered after the timeout', async () => {
      // A listener in a stopped process with a full accept queue: Linux drops further SYNs.
      child = spawn(process.execPath, ['-e', `require('net').createServer().listen({ port: 0, host: '${HOST}', backlog: 1 }, function () { console.log(this.address().port); })`], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const port = await new Promise<number>((resolve) => child!.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
      child.kill('SIGSTOP');
      for (let k = 0; k < 4; k++) {
        const f = connect(port, HOST);
        f.on('error', () => {});
        fillers.push(f);
      }
      await new Promise((r) => setTimeout(r, 150));
      const t0 = Date.now();
      const r = await probeTcp(ep(port), io(300));
      expect(r).toMatchObject({ state: 'filtered', error: 'timeout' });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    });
  });

  it('an aborted run: no verdict about the port', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await probeTcp(ep(1), io(400, { signal: ac.signal }));
    expect(r.aborted).toBe(true);
  });
});

describe('probeUdp', () => {
  it('open: a CoAP ping answered with RST', async () => {
    const s = await udpServer(coapPingResponder);
    const i = io();
    const r = await probeUdp(ep(s.port), i, 'coap-ping');
    expect(r.state).toBe('open');
    expect(describeUdpReply(r.reply!)).toBe('CoAP RST empty');
    expect(i.transcript.entries().map((e) => e.dir)).toEqual(['sent', 'received']);
  });

  it('closed: ICMP port unreachable reads as ECONNREFUSED, well before the timeout', async () => {
    const port = await closedPort('udp');
    const t0 = Date.now();
    const r = await probeUdp(ep(port), io(2000));
    expect(r).toMatchObject({ state: 'closed', error: 'ECONNREFUSED' });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('silent: open|filtered after the timeout, with one retry', async () => {
    const s = await udpServer();
    const t0 = Date.now();
    const r = await probeUdp(ep(s.port), io(300));
    expect(r.state).toBe('open|filtered');
    expect(r.error).toBeUndefined();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(s.seen.length).toBe(2);
  });

  it('sends the probe that fits the port: SSDP, mDNS, DTLS, CoAP', async () => {
    expect([1900, 5353, 5684, 5683, 9999].map(udpProbeForPort)).toEqual(['ssdp-m-search', 'mdns-query', 'dtls-client-hello', 'coap-ping', 'coap-ping']);
    const s = await udpServer((msg, from, sock) => sock.send(Buffer.from('HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n\r\n'), from.port, from.address));
    const r = await probePort(HOST, { transport: 'udp', port: s.port, udpProbe: 'ssdp-m-search' }, io());
    expect(r.state).toBe('open');
    expect(s.seen[0]!.toString()).toMatch(/^M-SEARCH \* HTTP\/1\.1\r\nHOST: 127\.0\.0\.1:\d+\r\nMAN: "ssdp:discover"\r\n/);
    expect(describeUdpReply(r.reply!)).toBe('SSDP "HTTP/1.1 200 OK"');
  });

  it('probe datagrams are well-formed', () => {
    const ping = coapPing(0x1234);
    expect([...ping]).toEqual([0x40, 0x00, 0x12, 0x34]);
    const q = mdnsServicesQuery(7);
    expect(q.readUInt16BE(0)).toBe(7);
    expect(q.readUInt16BE(4)).toBe(1); // QDCOUNT
    expect(q.subarray(12, q.length - 4).toString('latin1')).toBe('\x09_services\x07_dns-sd\x04_udp\x05local\x00');
    expect(q.readUInt16BE(q.length - 4)).toBe(12); // PTR
    const hello = dtlsClientHello(Buffer.alloc(32, 1));
    expect([...hello.subarray(0, 3)]).toEqual([22, 0xfe, 0xfd]);
    expect(hello.readUInt16BE(11)).toBe(hello.length - 13); // record length
    expect(hello[13]).toBe(1); // ClientHello
    expect(hello.readUIntBE(14, 3)).toBe(hello.length - 25); // handshake length = fragment length
    expect(hello.readUIntBE(22, 3)).toBe(hello.length - 25);
    expect(describeUdpReply(Buffer.from([22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 3]))).toBe('DTLS HelloVerifyRequest');
    expect(ssdpMSearch('::1').toString()).toContain('HOST: [::1]:1900');
  });
});

describe('scope guard', () => {
  it('is asked before every TCP and UDP socket', async () => {
    calls.length = 0;
    const t = await tcpServer('x');
    const u = await udpServer(coapPingResponder);
    await probeTcp(ep(t.port), io(), { bannerMs: 50 });
    await probeUdp(ep(u.port), io());
    expect(calls).toEqual([
      { host: HOST, what: `tcp probe ${HOST}:${t.port}` },
      { host: HOST, what: `udp probe ${HOST}:${u.port}` },
    ]);
  });

  it('a refusing guard stops the probe before any socket opens', async () => {
    const t = await tcpServer('x');
    const u = await udpServer(coapPingResponder);
    const deny = {
      assert(host: string, what: string) {
        throw new GauntletError('SCOPE_VIOLATION', `${what}: ${host} not in scope`);
      },
    };
    await expect(probeTcp(ep(t.port), io(400, { scope: deny }))).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
    await expect(probeUdp(ep(u.port), io(400, { scope: deny }))).rejects.toMatchObject({ code: 'SCOPE_VIOLATION' });
    await new Promise((r) => setTimeout(r, 50));
    expect(t.connections()).toBe(0);
    expect(u.seen).toEqual([]);
  });
});

describe('mapLimit', () => {
  it('keeps at most `limit` calls in flight and results in input order', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([...Array(20).keys()], 8, async (n) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 5 + (n % 3) * 5));
      inFlight--;
      return n * 2;
    });
    expect(peak).toBe(8);
    expect(out).toEqual([...Array(20).keys()].map((n) => n * 2));
    expect(await mapLimit([], 8, async () => 1)).toEqual([]);
  });
});
