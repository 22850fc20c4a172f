// A realistic report.json for the HTML and Markdown report tests: passing,
// failing (findings with a transcript, a shrunk counterexample, a fuzz input),
// skipped, inconclusive and error instances, two bench checks, the requirement
// matrix from requirementMatrix() and a gate decision from evaluateGate().
// Not a test file: the report tests import it.

import {
  evaluateGate,
  fingerprintOf,
  requirementMatrix,
  type Baseline,
  type PathResult,
  type ProfileSummary,
  type Report,
  type ReportCheck,
  type ReportFinding,
  type TranscriptEntry,
  type VerdictCounts,
} from '../../harness/model/index.js';
import { findingFilePath } from '../../harness/report/paths.js';

/** What a hostile device could put in a banner, a reason or a summary. */
export const HOSTILE = [
  '<script>window.__pwned = 1; alert(1)</script>',
  '"><img src="http://evil.example/x.png" onerror="window.__pwned=2">',
  '| pipe | `tick` ``double`` @everyone [link](https://evil.example/) ![img](http://evil.example/i.png)',
  '<style>@import url(http://evil.example/a.css);</style>\u0000\u001b[31m',
].join(' ');

export interface FixtureOptions {
  /**
   * true: HOSTILE text in reasons, summaries, titles, the target name and the
   * device's banner in the transcript; 'banner': in the banner only (the
   * realistic case: a device's reply).
   */
  readonly hostile?: boolean | 'banner';
  /** Transcript entries of the brute-force check (default 6). */
  readonly transcriptEntries?: number;
  /** Extra failing checks (for size limits). */
  readonly extraFailing?: number;
  /** Leave out the gate decision. */
  readonly noGate?: boolean;
}

export const PROFILE: ProfileSummary = {
  name: 'etsi-en-303-645',
  description: 'ETSI EN 303 645 v2.1.1 provisions with TS 103 701 test units',
  requirements: [
    { id: 'EN303645:5.1-1', title: 'No universal default passwords', checks: ['auth.default-credentials'], status: 'covered' },
    { id: 'EN303645:5.1-5', title: 'Brute-force protection for authentication', checks: ['auth.brute-force'], status: 'covered' },
    { id: 'EN303645:5.5-1', title: 'Communicate securely: best-practice cryptography', checks: ['transport.tls-version'], status: 'covered' },
    { id: 'EN303645:5.5-7', title: 'Access to security parameters is controlled', checks: ['access.acl'], status: 'covered' },
    { id: 'EN303645:5.7-1', title: 'Verified software updates', checks: ['update.signature'], status: 'covered' },
    { id: 'EN303645:5.13-1', title: 'Validate input data', checks: ['robustness.malformed-mqtt', 'robustness.malformed-coap'], status: 'covered' },
    { id: 'EN303645:5.9-1', title: 'Resilience to outages', checks: ['performance.bench'], status: 'covered' },
    { id: 'EN303645:5.2-1', title: 'Vulnerability disclosure policy is published', checks: [], status: 'declared', reason: 'answered from the declaration (ICS: disclosure URL)' },
    { id: 'EN303645:5.11-1', title: 'User can erase personal data', checks: [], status: 'not-covered', reason: 'needs a person at the device' },
    { id: 'EN303645:6-1', title: 'Personal data processed is documented', checks: ['privacy.inventory'], status: 'covered' },
  ],
};

const REPORT_DIR = 'reports/20250102-030405-abcd';

function finding(instance: string, n: number, severity: ReportFinding['severity'], summary: string): ReportFinding {
  const fileId = `${instance}-${n}`;
  const file = findingFilePath(fileId);
  return { id: `${instance}#${n}`, summary, severity, replay: `gauntlet replay ${REPORT_DIR}/${file}`, file };
}

function transcript(n: number, hostile: string | undefined): TranscriptEntry[] {
  const out: TranscriptEntry[] = [];
  for (let i = 0; i < n; i++) {
    const attempt = Math.floor(i / 2) + 1;
    out.push(
      i % 2 === 0
        ? { t: i * 12, dir: 'sent', peer: 'broker', hex: `102400044d5154540402003c0005${(i % 256).toString(16).padStart(2, '0')}61646d696e`, decoded: `CONNECT clientId=g${attempt} user=admin pass=guess-${attempt}` }
        : {
            t: i * 12 + 3,
            dir: 'received',
            peer: 'broker',
            hex: i === 1 ? '20020005' : '20020000',
            decoded: i === 1 && hostile ? `CONNACK banner=${hostile}` : i === 1 ? 'CONNACK returnCode=5 (not authorized)' : 'CONNACK returnCode=0 (accepted)',
          },
    );
  }
  out.push({ t: n * 12, dir: 'note', peer: 'broker', decoded: 'lockout window 30 s not honoured' });
  out.push({ t: n * 12 + 1, dir: 'received', peer: 'broker', hex: 'ab'.repeat(64), truncated: 1984, decoded: 'PUBLISH topic=$SYS/banner (2048 B)' });
  return out;
}

function bench(iface: string): PathResult[] {
  const settings = { connections: 4, inFlight: 8, durationMs: 5000, maxOps: 200_000 };
  if (iface === 'coap') {
    return [
      { path: 'coap.get', interface: 'coap', ops: 9000, elapsedMs: 5000, rate: 1800, latency: { samples: 9000, p50Ms: 1.9, p90Ms: 3.1, p99Ms: 7.4, maxMs: 21, meanMs: 2.2 }, errors: 3, errorDetail: ['coap 127.0.0.1:5683: 3 requests timed out'], settings: { ...settings, resource: '/sensors/temp' }, notes: [] },
      { path: 'coap.block', interface: 'coap', ops: 0, elapsedMs: 0, rate: 0, errors: 0, skipped: 'no block-wise resource declared', settings, notes: [] },
    ];
  }
  return [
    { path: 'mqtt.publish.qos0', interface: 'broker', ops: 120_000, elapsedMs: 5000, rate: 24_000, latency: { samples: 1000, p50Ms: 0.8, p90Ms: 1.4, p99Ms: 3.9, maxMs: 12.5, meanMs: 0.95 }, errors: 0, settings: { ...settings, payloadBytes: 64, resource: 'devices/sensor-1/t' }, notes: ['observer saw 99.8% of published messages'] },
    { path: 'mqtt.publish.qos1', interface: 'broker', ops: 41_000, elapsedMs: 5000, rate: 8200, latency: { samples: 41_000, p50Ms: 2.4, p90Ms: 4.0, p99Ms: 11.2, maxMs: 40, meanMs: 2.9 }, errors: 0, settings: { ...settings, payloadBytes: 64 }, notes: [] },
    { path: 'mqtt.connect', interface: 'broker', ops: 900, elapsedMs: 5000, rate: 180, latency: { samples: 900, p50Ms: 18, p90Ms: 30, p99Ms: 95, maxMs: 140, meanMs: 21 }, errors: 0, settings: { ...settings, inFlight: 1 }, notes: [] },
  ];
}

/** Builds the fixture report. */
export function reportFixture(options: FixtureOptions = {}): Report {
  const hostile = options.hostile === true ? HOSTILE : undefined;
  const banner = options.hostile ? HOSTILE : undefined;
  const h = (plain: string) => (hostile ? `${plain} ${hostile}` : plain);

  const brute = 'auth.brute-force@broker';
  const acl = 'access.acl@broker';
  const fuzz = 'robustness.malformed-mqtt@broker';
  const bruteFindings = [
    finding(brute, 1, 'high', h('login accepted after 6 failures; declared lockout is 5 per 30 s')),
    finding(brute, 2, 'medium', 'lockout counter reset by a successful login of another principal'),
  ];
  const checks: ReportCheck[] = [
    {
      id: 'auth.default-credentials@broker',
      check: 'auth.default-credentials',
      interface: 'broker',
      title: 'No default or dictionary credential is accepted',
      verdict: 'pass',
      requirements: ['EN303645:5.1-1', 'NISTIR8259A:LAI-2'],
      reason: 'no default credential accepted (48 tried)',
      durationMs: 812,
      cases: 48,
      findings: [],
      evidence: { observed: '48 credentials from corpora/credentials/mqtt.txt refused with CONNACK 5', source: 'dictionary:corpora/credentials/mqtt.txt', transcript: [] },
    },
    {
      id: brute,
      check: 'auth.brute-force',
      interface: 'broker',
      title: h('Repeated failed logins are limited as declared'),
      verdict: 'fail',
      requirements: ['EN303645:5.1-5', 'NISTIR8259A:LAI-2', 'SB327:b'],
      reason: h('lockout not enforced: 6 failed logins accepted'),
      durationMs: 31_234,
      cases: 41,
      findings: bruteFindings,
      evidence: {
        observed: h('declared lockout 5/30000ms; observed: login accepted after 6 failures'),
        declared: 'lockout 5 attempts / 30 s',
        source: 'target:declaration.lockout',
        transcript: transcript(options.transcriptEntries ?? 6, banner),
      },
    },
    {
      id: acl,
      check: 'access.acl',
      interface: 'broker',
      title: 'MQTT topics obey the declared access policy',
      verdict: 'fail',
      requirements: ['EN303645:5.5-7', 'EN18031-1:ACM-1'],
      reason: 'sensor may subscribe to config/# (declared: config/sensor-1 only)',
      durationMs: 4200,
      cases: 100,
      findings: [finding(acl, 1, 'critical', 'sensor subscribed to config/# and received config/sensor-2')],
      evidence: {
        observed: 'SUBACK granted QoS 0 for config/#; PUBLISH config/sensor-2 delivered',
        declared: 'sensor: subscribe [config/sensor-1]',
        source: 'target:declaration.access.mqtt.sensor',
        transcript: [
          { t: 0, dir: 'sent', peer: 'broker', hex: '8207000100032300', decoded: 'SUBSCRIBE id=1 config/# qos=0' },
          { t: 4, dir: 'received', peer: 'broker', hex: '9003000100', decoded: 'SUBACK id=1 granted=[0]' },
        ],
        counterexample: { seed: 1_938_475_001, path: '17:2:0', value: '{ principal: "sensor", op: "subscribe", topic: "config/#" }', numRuns: 18, shrinks: 4 },
      },
    },
    {
      id: fuzz,
      check: 'robustness.malformed-mqtt',
      interface: 'broker',
      title: 'Malformed MQTT packets do not crash the broker',
      verdict: 'fail',
      requirements: ['EN303645:5.13-1'],
      reason: 'broker stopped answering after a CONNECT with a 4-byte remaining length overflow',
      durationMs: 60_000,
      cases: 5321,
      findings: [finding(fuzz, 1, 'high', 'crash: CONNECT with remaining length 0xFFFFFFFF')],
      evidence: {
        observed: 'no PINGRESP for 3 s after case 5321; device restarted by the lab hook',
        transcript: [{ t: 59_990, dir: 'sent', peer: 'broker', hex: '10ffffffff7f', decoded: 'CONNECT remainingLength=268435455 (malformed)' }],
        fuzz: {
          protocol: 'mqtt',
          oracle: 'crash',
          confirmed: true,
          connections: [{ label: 'CONNECT: remaining length overflow [MQTT-2.2.3]', steps: [{ label: 'fixed header', hex: '10ffffffff7f' }, { label: h('payload'), hex: '00044d515454' }] }],
        },
      },
      stats: { cases: 5321, 'cases/s': 88.7, probes: 532, restarts: 1, end: 'finding' },
    },
    {
      id: 'transport.tls-version@broker',
      check: 'transport.tls-version',
      interface: 'broker',
      title: 'Only TLS 1.2+ is offered',
      verdict: 'skipped',
      requirements: ['EN303645:5.5-1'],
      reason: 'interface is plain mqtt',
      durationMs: 0,
      cases: 0,
      findings: [],
    },
    {
      id: 'robustness.malformed-coap@coap',
      check: 'robustness.malformed-coap',
      interface: 'coap',
      title: 'Malformed CoAP messages do not crash the server',
      verdict: 'inconclusive',
      requirements: ['EN303645:5.13-1'],
      reason: h('device stopped answering after case 7'),
      durationMs: 4500,
      cases: 7,
      findings: [],
      evidence: { observed: 'no CoAP ping reply for 3 s', transcript: [{ t: 4400, dir: 'note', peer: 'coap', decoded: 'empty CON ping: no RST' }] },
    },
    {
      id: 'update.signature@web',
      check: 'update.signature',
      interface: 'web',
      title: 'Unsigned firmware is refused',
      verdict: 'error',
      requirements: ['EN303645:5.7-1'],
      reason: 'check ran past its 20s bound',
      durationMs: 20_000,
      cases: 3,
      errorCode: 'CHECK_TIMEOUT',
      findings: [],
    },
    {
      id: 'performance.bench@broker',
      check: 'performance.bench',
      interface: 'broker',
      title: 'Hot paths meet the declared floors',
      verdict: 'pass',
      requirements: ['EN303645:5.9-1'],
      reason: 'mqtt.publish.qos1@broker: at least 5,000/s; measured 8,200/s, p99 11.2 ms',
      durationMs: 16_500,
      cases: 3,
      findings: [],
      bench: bench('broker'),
    },
    {
      id: 'performance.bench@coap',
      check: 'performance.bench',
      interface: 'coap',
      title: 'Hot paths meet the declared floors',
      verdict: 'pass',
      requirements: ['EN303645:5.9-1'],
      reason: 'no floor declared for coap',
      durationMs: 5600,
      cases: 2,
      findings: [],
      bench: bench('coap'),
    },
  ];
  for (let i = 0; i < (options.extraFailing ?? 0); i++) {
    const id = `robustness.extra-${i}@broker`;
    checks.push({
      id,
      check: `robustness.extra-${i}`,
      interface: 'broker',
      title: `Extra failing check ${i}`,
      verdict: 'fail',
      requirements: ['EN303645:5.13-1'],
      reason: h(`extra failure ${i}: ${'the device answered something it should not have; '.repeat(4)}`),
      durationMs: 10,
      cases: 1,
      findings: [finding(id, 1, 'low', h(`extra finding ${i}`))],
    });
  }

  const summary: VerdictCounts = { pass: 0, fail: 0, inconclusive: 0, error: 0, skipped: 0 };
  for (const c of checks) summary[c.verdict]++;
  const requirements = requirementMatrix(
    hostile ? { ...PROFILE, requirements: PROFILE.requirements.map((r, i) => (i === 1 ? { ...r, title: h(r.title) } : r)) } : PROFILE,
    checks.map((c) => ({ id: c.id, check: c.check, verdict: c.verdict, requirements: c.requirements, findings: c.findings.length })),
  );

  const gateFindings = checks.flatMap((c) => c.findings.map((f) => ({ id: f.id, instanceId: c.id, summary: f.summary })));
  const accepted = gateFindings[1]!;
  const baseline: Baseline = {
    format: 'gauntlet-baseline/1',
    accepted: [
      { fingerprint: fingerprintOf(accepted), instance: accepted.instanceId, summary: accepted.summary, justification: 'TICKET-42: fixed in 2.2', expires: '2025-06-30' },
      { fingerprint: 'update.signature@web:0123456789abcdef', instance: 'update.signature@web', summary: 'old', justification: 'TICKET-7', expires: '2024-12-31' },
    ],
  };
  const gate = evaluateGate(
    'new-findings',
    checks.filter((c) => c.verdict === 'fail').map((c) => c.id),
    gateFindings,
    baseline,
    '2025-01-02',
  );

  return {
    format: 'gauntlet-report/1',
    run: {
      id: '20250102-030405-abcd',
      seed: 424242,
      startedAt: '2025-01-02T03:04:05.000Z',
      finishedAt: '2025-01-02T03:06:29.000Z',
      durationMs: 143_987,
      interrupted: false,
      target: hostile ? h('thermo-x200') : 'thermo-x200',
      targetSource: 'targets/thermo-x200.yaml',
      profile: PROFILE.name,
      harnessVersion: '0.1.0',
      flaws: ['weak-lockout', 'acl-wildcard'],
      argv: ['run', '--target', 'targets/thermo-x200.yaml', '--profile', 'etsi-en-303-645', '--seed', '424242'],
      node: 'v20.20.2',
      platform: 'linux-x64',
      machine: { cpu: 'AMD EPYC 7B13', cores: 2, memoryGiB: 7.8 },
      shard: { index: 1, total: 2 },
    },
    checks,
    summary,
    requirements,
    ...(options.noGate ? {} : { gate }),
  };
}
