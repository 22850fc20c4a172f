// access.exposed-surface (C12): the device exposes nothing beyond its
// declared interface list (IXIT 15-Intf "Status"). A bounded TCP/UDP scan of
// every host of the target: the declared ports, the target file's interface
// ports and the usual IoT ports.
//   open and not declared            -> finding (high)
//   open and declared `disabled`     -> finding (high)
//   closed and declared `enabled`    -> declaration mismatch (low)
//   UDP silence                      -> open|filtered: a note, never a finding
// Without declaration.interfaces, the target file's interface ports count as
// the declared, enabled list.

import type { Check, CheckContext, CheckOutcome, DeclaredPort, FindingDraft, Interface, Target } from '../../model/index.js';
import { TranscriptRecorder } from '../../core/transcript.js';
import { hexOf, printable, type Io } from '../../protocols/common/io.js';
import {
  DEFAULT_BANNER_MS,
  describeUdpReply,
  mapLimit,
  normHost,
  peerOf,
  probePort,
  transportOf,
  udpProbeForPort,
  type PortSpec,
  type ProbeResult,
  type Transport,
  type UdpProbeKind,
} from '../../protocols/common/port-probe.js';
import { requirementsOf } from '../requirements.js';

/** Ports IoT devices commonly leave open (management, debug shells, web UIs, brokers, discovery). */
export const USUAL_PORTS: Readonly<Record<Transport, readonly number[]>> = {
  tcp: [22, 23, 80, 443, 1883, 2323, 5683, 8080, 8443, 8883],
  udp: [1900, 5353, 5683, 5684],
};

export interface SurfaceOptions {
  /** Ports probed on every host besides the declared ones. */
  readonly usual: Readonly<Record<Transport, readonly number[]>>;
  /** Bound on the scan: ports per host per transport (declared ports first). */
  readonly maxPortsPerHost: number;
  /** Probes in flight at once. */
  readonly concurrency: number;
  /** How long an open TCP port is given to send a banner, ms. */
  readonly bannerMs: number;
}

export const DEFAULT_SURFACE_OPTIONS: SurfaceOptions = {
  usual: USUAL_PORTS,
  maxPortsPerHost: 64,
  concurrency: 8,
  bannerMs: DEFAULT_BANNER_MS,
};

const keyOf = (t: Transport, port: number) => `${t}/${port}`;
const T = (t: Transport) => t.toUpperCase();
/** Where the device is a client, the endpoint is someone else's server: not scanned. */
const served = (i: Interface) => i.role === 'server';

interface DeclaredEntry extends DeclaredPort {
  /** `declaration`: from declaration.interfaces; `interface`: a target-file interface port. */
  readonly origin: 'declaration' | 'interface';
  /** Interface id(s) served on this port, for summaries. */
  readonly ifaces: readonly string[];
}

interface DeclaredView {
  /** What counts as declared, by `transport/port`. */
  readonly declared: ReadonlyMap<string, DeclaredEntry>;
  /** Interface ports the declaration leaves out (probed, judged as undeclared). */
  readonly extra: ReadonlyMap<string, DeclaredEntry>;
  readonly text: string;
  readonly source: string;
}

/** The declared port list as the check judges it. */
export function declaredView(target: Target): DeclaredView {
  const fromIfaces = new Map<string, DeclaredEntry>();
  for (const i of target.interfaces.filter(served)) {
    const t = transportOf(i.protocol);
    const k = keyOf(t, i.port);
    const prev = fromIfaces.get(k);
    fromIfaces.set(k, { port: i.port, transport: t, status: 'enabled', service: i.protocol, origin: 'interface', ifaces: [...(prev?.ifaces ?? []), i.id] });
  }
  const list = target.declaration.interfaces;
  if (list === undefined) {
    return {
      declared: fromIfaces,
      extra: new Map(),
      text: describePorts([...fromIfaces.values()]),
      source: 'target:interfaces (declaration.interfaces absent: the interface ports count as declared, enabled)',
    };
  }
  const declared = new Map<string, DeclaredEntry>();
  for (const d of list) {
    const k = keyOf(d.transport, d.port);
    declared.set(k, { ...d, origin: 'declaration', ifaces: fromIfaces.get(k)?.ifaces ?? [] });
  }
  const extra = new Map([...fromIfaces].filter(([k]) => !declared.has(k)));
  return { declared, extra, text: describePorts(list) || '(none)', source: 'target:declaration.interfaces' };
}

function describePorts(list: readonly DeclaredPort[]): string {
  return list.map((d) => `${d.transport} ${d.port} ${d.status}${d.service ? ` (${d.service})` : ''}`).join(', ');
}

/** Which datagram fits a UDP port: the protocol of an interface or declared service there, else by number. */
function udpProbeOf(port: number, entry: DeclaredEntry | undefined): UdpProbeKind {
  const service = `${entry?.service ?? ''}`.toLowerCase();
  if (/coaps|dtls/.test(service)) return 'dtls-client-hello';
  if (/ssdp|upnp/.test(service)) return 'ssdp-m-search';
  if (/mdns|dns-sd|bonjour/.test(service)) return 'mdns-query';
  if (/coap/.test(service)) return 'coap-ping';
  return udpProbeForPort(port);
}

/** Ports to probe on one host, per transport: declared first, then interface ports, then the usual ones; capped. */
export function scanList(view: DeclaredView, opts: SurfaceOptions): { specs: PortSpec[]; dropped: number } {
  const specs: PortSpec[] = [];
  let dropped = 0;
  for (const t of ['tcp', 'udp'] as const) {
    const ports: number[] = [];
    const add = (p: number) => {
      if (!ports.includes(p)) ports.push(p);
    };
    for (const d of view.declared.values()) if (d.transport === t) add(d.port);
    for (const d of view.extra.values()) if (d.transport === t) add(d.port);
    for (const p of opts.usual[t]) add(p);
    dropped += Math.max(0, ports.length - opts.maxPortsPerHost);
    for (const port of ports.slice(0, opts.maxPortsPerHost)) {
      const entry = view.declared.get(keyOf(t, port)) ?? view.extra.get(keyOf(t, port));
      specs.push(t === 'udp' ? { transport: t, port, udpProbe: udpProbeOf(port, entry) } : { transport: t, port });
    }
  }
  return { specs, dropped };
}

function firstLine(reply: Buffer): string {
  const line = reply.toString('latin1').split(/\r?\n/).map((l) => l.trim()).find((l) => l.length > 0) ?? '';
  return printable(line, 60);
}

/** " and answers ..." for a summary, from what the probe got back. */
function answers(r: ProbeResult): string {
  if (r.transport === 'tcp') return r.reply?.length ? ` and answers "${firstLine(r.reply)}"` : '';
  return r.reply ? ` and answers a ${r.probe ?? 'UDP'} probe (${describeUdpReply(r.reply, r.probe)})` : '';
}

function observedOf(r: ProbeResult): string {
  const at = `${T(r.transport)} ${peerOf(r.host, r.port)}`;
  if (r.state !== 'open') return `${at} ${r.state}${r.error ? ` (${r.error})` : ''}`;
  if (!r.reply?.length) return `${at} open (no banner)`;
  const text = r.transport === 'tcp' ? `banner "${printable(r.reply, 120)}"` : `reply ${describeUdpReply(r.reply, r.probe)} "${printable(r.reply, 80)}"`;
  return `${at} open, ${text}; hex ${hexOf(r.reply, 64).hex}`;
}

export function exposedSurfaceWith(over: Partial<SurfaceOptions> = {}): Check {
  const opts: SurfaceOptions = { ...DEFAULT_SURFACE_OPTIONS, ...over };
  return {
    id: 'access.exposed-surface',
    title: 'Only declared ports are reachable; declared-disabled ports are closed',
    catalog: ['C12'],
    requirements: requirementsOf('C12'),
    protocols: ['mqtt', 'mqtts', 'coap', 'coaps', 'http', 'https'],
    per: 'target',
    phase: 'main',
    severity: 'high',
    remedy: 'Close every listener that is not in the declared interface list (debug shells, telnet, factory services), keep ports declared disabled closed, and keep the declaration (IXIT 15-Intf) in step with the firmware.',
    timeoutMs: 240_000,
    applies: (target) => (target.interfaces.some(served) ? undefined : 'no interface where the device is a server: no host of its own to scan'),
    run: (ctx) => scanSurface(ctx, opts),
  };
}

export const exposedSurface: Check = exposedSurfaceWith();

async function scanSurface(ctx: CheckContext, opts: SurfaceOptions): Promise<CheckOutcome> {
  const view = declaredView(ctx.target);
  const hosts = [...new Set(ctx.target.interfaces.filter(served).map((i) => normHost(i.host)))];
  // The lab's own additions (scope.probe) come before the usual IoT ports.
  const probe = ctx.target.scope.probe;
  const usual = probe.usual ? opts.usual : { tcp: [], udp: [] };
  const { specs, dropped } = scanList(view, { ...opts, usual: { tcp: [...probe.tcp, ...usual.tcp], udp: [...probe.udp, ...usual.udp] } });
  if (dropped > 0) ctx.transcript.note(`scan bounded to ${opts.maxPortsPerHost} ports per host per transport: ${dropped} declared/interface ports not probed`);
  const jobs = hosts.flatMap((host) => specs.map((spec) => ({ host, spec })));
  const probed = await mapLimit(jobs, opts.concurrency, async ({ host, spec }) => {
    const transcript = new TranscriptRecorder();
    const io: Io = { scope: ctx.scope, transcript, timeoutMs: ctx.ioTimeoutMs, signal: ctx.signal, peer: peerOf(host, spec.port) };
    const r = await probePort(host, spec, io, { bannerMs: opts.bannerMs });
    const line = observedOf(r);
    ctx.transcript.record({ dir: r.state === 'open' ? 'received' : 'note', peer: peerOf(host, spec.port), decoded: line, ...(r.reply?.length ? hexOf(r.reply, 64) : {}) });
    ctx.caseDone(line);
    return { r, transcript: transcript.take() };
  });
  if (ctx.signal.aborted || probed.some((p) => p.r.aborted)) {
    return { verdict: 'inconclusive', reason: 'interrupted before the scan finished', findings: [], evidence: { observed: 'scan interrupted', transcript: ctx.transcript.take() } };
  }

  const findings: FindingDraft[] = [];
  const notes: string[] = [];
  let open = 0;
  let disabledUnknown = 0;
  const multiHost = hosts.length > 1;
  for (const { r, transcript } of probed) {
    const k = keyOf(r.transport, r.port);
    const d = view.declared.get(k);
    const extra = view.extra.get(k);
    const where = `${T(r.transport)} ${r.port}${multiHost ? ` on ${r.host}` : ''}`;
    const evidence = (observed: string) => ({ observed, declared: view.text, source: view.source, transcript });
    if (r.state === 'open') {
      open++;
      if (!d && extra) {
        findings.push({
          summary: `declaration mismatch: ${where} serves interface ${extra.ifaces.join(', ')} but is not in declaration.interfaces (IXIT 15-Intf)`,
          severity: 'low',
          evidence: evidence(`${observedOf(r)}; the target file names it as interface ${extra.ifaces.join(', ')}`),
        });
      } else if (!d) {
        findings.push({ summary: `${where} is open${answers(r)} but is not in the declaration (IXIT 15-Intf)`, evidence: evidence(observedOf(r)) });
      } else if (d.status === 'disabled') {
        findings.push({
          summary: `${where} is declared disabled${d.service ? ` (${d.service})` : ''} but is open${answers(r)}`,
          evidence: evidence(`${observedOf(r)}; declared ${d.transport} ${d.port} disabled`),
        });
      }
    } else if (r.state === 'closed') {
      if (d?.status === 'enabled') {
        findings.push({
          summary: `declaration mismatch: ${where} is declared enabled${d.service ? ` (${d.service})` : ''} but is closed (${r.error ?? 'refused'})`,
          severity: 'low',
          evidence: evidence(`${observedOf(r)}; declared ${d.transport} ${d.port} enabled`),
        });
      }
    } else if (r.state === 'filtered') {
      if (d?.status === 'enabled') notes.push(`${where} declared enabled, no answer (filtered)`);
    } else if (d?.status === 'disabled') {
      disabledUnknown++;
      notes.push(`${where} declared disabled: no reply and no ICMP unreachable, cannot tell whether it is closed`);
    } else if (!d) {
      notes.push(`${where}: no reply to a ${r.probe ?? 'UDP'} probe (open|filtered)`);
    }
  }
  for (const n of notes) ctx.transcript.note(n);
  const summaryLine = `${jobs.length} probes on ${hosts.join(', ')}: ${open} open; declared: ${view.text || '(none)'}`;
  const evidence = { observed: summaryLine, declared: view.text, source: view.source, transcript: ctx.transcript.take() };
  if (findings.length) {
    return { verdict: 'fail', reason: `${findings.length} port(s) contradict the declared interface list; ${summaryLine}`, findings, cases: jobs.length };
  }
  if (disabledUnknown > 0) {
    return { verdict: 'inconclusive', reason: `${disabledUnknown} UDP port(s) declared disabled neither answered nor were reported unreachable`, findings: [], evidence, cases: jobs.length };
  }
  return { verdict: 'pass', reason: `every open port is declared and no declared-disabled port answers (${summaryLine})`, findings: [], evidence, cases: jobs.length };
}
