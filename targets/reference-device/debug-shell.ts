// The debug-port flaw: a forgotten factory debug shell on TCP port 2323 (a
// telnet-alternative port IoT scanners probe), undeclared. It greets with a
// banner and a prompt and echoes every line; it executes nothing.

import { createServer, type Server, type Socket } from 'node:net';
import { closeTcp, listenTcp } from './sockets.js';

export const DEBUG_PORT = 2323;
export const DEBUG_BANNER = 'RD-1 debug shell\r\n# ';
/** A line longer than this ends the connection (bounded memory). */
const MAX_LINE = 4096;

export interface RunningDebugShell {
  readonly port: number;
  close(): Promise<void>;
}

export async function startDebugShell(opts: { host: string; port: number; log: (line: string) => void }): Promise<RunningDebugShell> {
  const server: Server = createServer((socket: Socket) => {
    opts.log(`debug shell: connection from ${socket.remoteAddress ?? '?'}`);
    socket.on('error', () => {});
    socket.setEncoding('latin1');
    let pending = '';
    socket.write(DEBUG_BANNER);
    socket.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).replace(/\r$/, '');
        pending = pending.slice(nl + 1);
        socket.write(`${line}\r\n# `);
      }
      if (pending.length > MAX_LINE) socket.destroy();
    });
  });
  const port = await listenTcp(server, opts.port, opts.host);
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= closeTcp(server);
      return closing;
    },
  };
}
