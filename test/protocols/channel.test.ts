// The datagram channel's listeners: every listener subscribed when a datagram
// or a failure comes is called, and only those (one may unsubscribe another,
// or subscribe a new one, meanwhile); a single listener alone. A UDP channel
// passes the peer's datagrams on.

import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelBase, openUdpChannel } from '../../harness/protocols/common/channel.js';

class Loop extends ChannelBase {
  readonly kind = 'udp' as const;
  readonly label = 'loop';
  protected transmit(datagram: Buffer): void {
    this.deliver(datagram);
  }
  protected shutdown(): Promise<void> {
    return Promise.resolve();
  }
  break(why: string): void {
    this.fail(why);
  }
}

const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

describe('ChannelBase listeners', () => {
  it('a single listener is called; one that unsubscribes itself is not called again', () => {
    const ch = new Loop();
    const got: string[] = [];
    const off = ch.onMessage((b) => {
      got.push(b.toString());
      off();
    });
    ch.send(Buffer.from('a'));
    ch.send(Buffer.from('b'));
    expect(got).toEqual(['a']);
  });

  it('listeners subscribed when the datagram comes are called, those subscribed meanwhile are not', () => {
    const ch = new Loop();
    const got: string[] = [];
    let offSecond: () => void = () => undefined;
    ch.onMessage((b) => {
      got.push(`1:${b}`);
      offSecond();
      ch.onMessage((c) => got.push(`3:${c}`));
    });
    offSecond = ch.onMessage((b) => got.push(`2:${b}`));
    ch.send(Buffer.from('x'));
    expect(got).toEqual(['1:x', '2:x']);
  });

  it('a lone listener that subscribes another: the new one waits for the next datagram', () => {
    const ch = new Loop();
    const got: string[] = [];
    let added = false;
    ch.onMessage((b) => {
      got.push(`1:${b}`);
      if (!added) {
        added = true;
        ch.onMessage((c) => got.push(`2:${c}`));
      }
    });
    ch.send(Buffer.from('x'));
    ch.send(Buffer.from('y'));
    expect(got).toEqual(['1:x', '1:y', '2:y']);
  });

  it('a failure is said once, to the listeners then subscribed, and to later ones', async () => {
    const ch = new Loop();
    const got: string[] = [];
    ch.onFailure((w) => got.push(`1:${w}`));
    ch.break('gone');
    ch.break('again');
    ch.onFailure((w) => got.push(`2:${w}`));
    await Promise.resolve();
    expect(got).toEqual(['1:gone', '2:gone']);
  });
});

describe('openUdpChannel', () => {
  it('a datagram from the peer reaches the channel', async () => {
    const s = createSocket('udp4');
    sockets.push(s);
    s.on('message', (m, from) => s.send(m, from.port, from.address));
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const opened = await openUdpChannel({ host: '127.0.0.1', port: s.address().port }, { scope: { assert() {} }, transcript: { record() {}, note() {}, entries: () => [], take: () => [] }, timeoutMs: 500, peer: 'x' });
    if (opened.kind !== 'open') throw new Error(opened.detail);
    const echo = new Promise<Buffer>((r) => opened.channel.onMessage(r));
    opened.channel.send(Buffer.from('ping'));
    expect((await echo).toString()).toBe('ping');
    await opened.channel.close();
  });
});
