// `gauntlet init`: probe a device's ports, say what answers on each, and write
// a commented target-file skeleton (core/init-skeleton.ts) for the lab and the
// manufacturer to complete. The host given is the only host contacted.

import { existsSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { basename, extname, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CHECKS } from '../../checks/registry.js';
import { GauntletError } from '../../core/errors.js';
import { loadProfile } from '../../core/profile-file.js';
import { isLoopback } from '../../core/target-file.js';
import { DEFAULT_INIT_PORTS, discover, parsePortList, PORTS_USAGE, renderSkeleton, type PortFinding, type PortSpec } from '../../core/init-skeleton.js';
import { durationOption } from '../options.js';

interface InitFlags {
  host: string;
  ports: readonly PortSpec[];
  name?: string;
  out: string;
  force?: boolean;
  timeout: number;
  allowNonLoopback?: boolean;
  profile?: string;
}

function portsOption(value: string): readonly PortSpec[] {
  const r = parsePortList(value);
  if (!r.ok) throw new InvalidArgumentError(`--ports takes ${r.error.replace(/^expected /, '')}`);
  return r.ports;
}

function hostOption(value: string): string {
  const h = value.replace(/^\[|\]$/g, '');
  if (isIP(h) || /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(h)) return h;
  throw new InvalidArgumentError('--host takes one IP address or host name, e.g. 127.0.0.1 or ::1');
}

const portText = (ports: readonly PortSpec[]) => ports.map((p) => `${p.port}/${p.transport}`).join(', ');

function line(f: PortFinding): string {
  const what = f.service ? (f.service.protocol === 'unknown' ? `${f.detail}   <- declare it or close it` : f.detail) : f.detail;
  return `  ${f.transport} ${String(f.port).padEnd(5)}  ${what}`;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('probe a device and write a commented target-file skeleton for it')
    .requiredOption('--host <host>', 'the device: the only host contacted (loopback unless --allow-non-loopback)', hostOption)
    .addOption(new Option('--ports <list>', PORTS_USAGE).argParser(portsOption).default(DEFAULT_INIT_PORTS, portText(DEFAULT_INIT_PORTS)))
    .option('--name <name>', 'the target\'s name (default: the --out file name without its extension)')
    .option('-o, --out <file>', 'where to write the skeleton', 'device.yaml')
    .option('--force', 'overwrite --out if it exists')
    .option('--timeout <duration>', 'bound on each step of a probe (connect, handshake, reply)', durationOption('--timeout'), 1500)
    .option('--allow-non-loopback', 'probe a host that is not loopback (a device on the lab network); the skeleton then allows it too')
    .option('-p, --profile <name|file>', 'list this profile\'s declared-only requirements as ICS entries to answer')
    .addHelpText(
      'after',
      `
What it recognises on an open port: MQTT (an anonymous CONNECT gets a CONNACK),
MQTT over TLS, HTTP (GET / gets a status line), HTTPS, CoAP (a ping gets RST;
/.well-known/core is listed), CoAP over DTLS (a ClientHello gets a
HelloVerifyRequest, a ServerHello or an alert); anything else open is an
"unknown service": a candidate finding for the declared interface list.

The skeleton names the IXIT table of each declaration block and marks with TODO
what the manufacturer must answer. Secrets are \${VARIABLES}: set them, answer
the TODOs, then \`gauntlet run --target FILE\`.

Exit codes: 0 written; 1 nothing recognised (no file written); 2 usage error,
or --out exists without --force.

Examples:
  gauntlet init --host 127.0.0.1 --out thermo.yaml
  gauntlet init --host 127.0.0.1 --ports 1883,8883,5683,5684,8080 --profile etsi-en-303-645
  gauntlet init --host 192.0.2.10 --allow-non-loopback --timeout 3s`,
    )
    .action(async (flags: InitFlags) => {
      const out = resolve(flags.out);
      if (existsSync(out) && !flags.force) throw new GauntletError('USAGE', `${flags.out} exists; pass --force to overwrite it`);
      if (!isLoopback(flags.host) && !flags.allowNonLoopback) {
        throw new GauntletError('SCOPE_VIOLATION', `--host ${flags.host} is not a loopback address; pass --allow-non-loopback to probe a device on the network`);
      }
      const name = flags.name ?? (basename(out, extname(out)) || 'device');
      // The profile first: a bad name is a usage error before any packet is sent.
      const ics = flags.profile ? loadProfile(flags.profile, CHECKS).requirements.filter((r) => r.status === 'declared').map((r) => ({ id: r.id, title: r.title })) : undefined;

      process.stdout.write(`gauntlet init: probing ${flags.host} on ${flags.ports.length} port(s) (${portText(flags.ports)}), ${flags.timeout} ms per step\n`);
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      let d;
      try {
        d = await discover({ host: flags.host, ports: flags.ports, timeoutMs: flags.timeout, allowNonLoopback: flags.allowNonLoopback ?? false, signal: controller.signal });
      } finally {
        process.off('SIGINT', onSignal);
      }
      if (controller.signal.aborted) throw new GauntletError('ABORTED', 'interrupted: nothing written');
      for (const f of d.ports) process.stdout.write(`${line(f)}\n`);

      const skeleton = renderSkeleton(d, { name, ...(ics ? { ics } : {}), command: `\`gauntlet init --host ${flags.host} --ports ${d.ports.map((p) => `${p.port}/${p.transport}`).join(',')}\`` });
      if (skeleton.interfaces === 0) {
        const open = d.ports.filter((p) => p.state === 'open').length;
        process.stderr.write(
          `gauntlet init: no MQTT, CoAP or HTTP service answered on ${flags.host} (${open ? `${open} open port(s), none recognised` : 'no open port'} among ${d.ports.length} probed): nothing written\n`,
        );
        process.exitCode = 1;
        return;
      }
      try {
        writeFileSync(out, skeleton.text, { encoding: 'utf8', flag: flags.force ? 'w' : 'wx' });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw new GauntletError('USAGE', `${flags.out} exists; pass --force to overwrite it`);
        throw new GauntletError('REPORT_WRITE', `cannot write ${flags.out}: ${code ?? (e as Error).message}`, { cause: e });
      }
      const unknown = skeleton.unknown ? `, ${skeleton.unknown} unknown service(s) left out of declaration.interfaces (access.exposed-surface will report them)` : '';
      process.stdout.write(`wrote ${flags.out}: ${skeleton.interfaces} interface(s)${unknown}, ${skeleton.todos} TODO(s) for the manufacturer\n`);
      process.stdout.write(`next: set ${skeleton.envVars.join(', ')}; answer the TODOs; then gauntlet run --target ${flags.out}\n`);
    });
}
