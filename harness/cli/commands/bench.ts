// `gauntlet bench`: the device's throughput and latency on its hot paths
// (performance.bench on every server interface of the target), each path
// bounded in time and ops, with progress; the table goes to the console and
// bench.md, the figures to report.json; declared floors gate the exit code.

import { Command, InvalidArgumentError, Option } from 'commander';
import { BENCH_PATHS, type BenchPath, type Profile } from '../../model/index.js';
import { DEFAULT_BENCH_MS, PATH_DEFAULTS } from '../../checks/performance/hot-paths.js';
import { newRunSeed } from '../../core/seed.js';
import { FLAWS, parseFlaws } from '../../../targets/reference-device/index.js';
import { durationOption, intOption, listOption, useColor } from '../options.js';
import { runSession } from '../session.js';

/** Measured time per path at most: a bench is bounded. */
export const MAX_BENCH_MS = 10 * 60_000;
export const MAX_CONNECTIONS = 1024;
export const MAX_IN_FLIGHT = 1024;

interface BenchFlags {
  target?: string;
  duration: number;
  connections?: number;
  inFlight?: number;
  paths: BenchPath[];
  interface: string[];
  out?: string;
  reportsDir: string;
  flaws?: string;
  ioTimeout: number;
  gate: 'any-fail' | 'none';
  color?: boolean;
  verbose?: boolean;
}

function pathsOf(list: readonly string[]): BenchPath[] {
  const out: BenchPath[] = [];
  for (const item of list) {
    const hits = BENCH_PATHS.filter((p) => p === item || p.startsWith(`${item}.`));
    if (hits.length === 0) throw new InvalidArgumentError(`--paths: unknown path "${item}"; paths: ${BENCH_PATHS.join(', ')} (or a prefix: mqtt, mqtt.publish, coap, dtls, http)`);
    out.push(...hits);
  }
  return [...new Set(out)];
}

const defaultsText = Object.entries(PATH_DEFAULTS)
  .map(([p, d]) => `  ${p.padEnd(18)} ${d.connections} x ${d.inFlight}`)
  .join('\n');

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure the device\'s throughput and latency on its hot paths (MQTT, CoAP, DTLS, HTTP)')
    .option('-t, --target <file>', 'target file (YAML); default: the built-in reference device')
    .addOption(
      new Option('-d, --duration <duration>', 'measured time per path (after connecting and a short warm-up)')
        .argParser((v) => {
          const ms = durationOption('--duration')(v);
          if (ms < 200 || ms > MAX_BENCH_MS) throw new InvalidArgumentError(`--duration: from 200ms to ${MAX_BENCH_MS / 60_000}m`);
          return ms;
        })
        .default(DEFAULT_BENCH_MS, `${DEFAULT_BENCH_MS / 1000}s`),
    )
    .option('-c, --connections <n>', 'connections (sockets, sessions) per path; default: per path (below)', intOption('--connections', 1, MAX_CONNECTIONS))
    .option('--in-flight <n>', 'requests or messages outstanding per connection; default: per path (below)', intOption('--in-flight', 1, MAX_IN_FLIGHT))
    .option('--paths <list>', 'only these paths or families (mqtt.publish, coap.get, dtls, http.upload); comma-separated', (v: string, prev: BenchPath[] = []) => [...new Set([...prev, ...pathsOf(listOption(v))])], [] as BenchPath[])
    .option('-i, --interface <ids>', 'only these interfaces of the target (ids); comma-separated', listOption, [])
    .option('-o, --out <dir>', 'write reports here instead of <reports-dir>/<run-id>/')
    .option('--reports-dir <dir>', 'where run directories and the `latest` link go', 'reports')
    .option('--flaws <list>', `switch weaknesses on in the built-in reference device: ${FLAWS.join(', ')}`)
    .option('--io-timeout <duration>', 'bound on one connect or reply; a reply later than this is counted lost', durationOption('--io-timeout'), 2000)
    .addOption(new Option('--gate <policy>', 'exit 1 when: any-fail = a declared floor is missed; none = never').choices(['any-fail', 'none']).default('any-fail'))
    .option('--no-color', 'plain output (also NO_COLOR=1)')
    .option('-v, --verbose', 'more detail')
    .addHelpText(
      'after',
      `
Paths, per interface protocol:
  mqtt, mqtts   mqtt.publish.qos0/qos1/qos2 (messages/s; latency: QoS 0 end to
                end through an observer subscriber, QoS 1/2 to the last ack),
                mqtt.connect (CONNECT to CONNACK)
  coap          coap.get (confirmable, tokens in flight), coap.non,
                coap.block (block-wise GET of /.well-known/core, MB/s)
  coaps         dtls.handshake (full DTLS 1.2 PSK handshakes/s)
  http, https   http.request (keep-alive GET of the probe route),
                http.upload (the declared upload route, random bytes, MB/s)
Rates count completed ops only (acknowledged, answered, delivered). The
principal, topic, resource and route come from the target file; a path it
gives nothing for is listed as not measured, with the field that is missing.

Defaults, connections x in flight:
${defaultsText}

Floors: the target file may declare minimum rates and maximum p99 latencies,
  declaration:
    performance:
      floors:
        - { interface: mqtts, path: mqtt.publish.qos1, min: 2000 }
        - { interface: https, path: http.request, p99: 50ms }
A missed floor is a finding and exits 1 (gauntlet run checks them too, as
performance.floors). The built-in device runs in a child process, so the
load generator and the device do not share a CPU thread.

Examples:
  gauntlet bench
  gauntlet bench --paths mqtt.publish --duration 10s --connections 4
  gauntlet bench --target dut.yaml --interface broker --out /tmp/bench1

Exit codes: 0 measured and no floor missed, 1 a floor missed, 2 usage,
3 harness error, 130 interrupted.`,
    )
    .action(async (flags: BenchFlags) => {
      const paths = flags.paths.length ? flags.paths : undefined;
      const profile: Profile = {
        name: 'bench',
        source: 'gauntlet bench',
        description: `device benchmark, ${flags.duration / 1000} s per path`,
        checks: ['performance.bench'],
        requirements: [],
      };
      const result = await runSession({
        targetFile: flags.target,
        flaws: flags.flaws ? parseFlaws(flags.flaws) : [],
        profile,
        only: flags.interface.map((i) => `performance.bench@${i}`),
        seed: newRunSeed(),
        out: flags.out,
        reportsBase: flags.reportsDir,
        gate: flags.gate,
        ioTimeoutMs: flags.ioTimeout,
        budget: { numRuns: 1, timeMs: flags.duration },
        deviceProcess: true,
        bench: {
          durationMs: flags.duration,
          ...(flags.connections !== undefined ? { connections: flags.connections } : {}),
          ...(flags.inFlight !== undefined ? { inFlight: flags.inFlight } : {}),
          ...(paths ? { paths } : {}),
        },
        argv: process.argv.slice(2),
        color: useColor(flags.color),
        verbose: Boolean(flags.verbose),
      });
      process.exitCode = result.exitCode;
    });
}
