// auth.credential-robustness (C01, C15): property-based. For any credential
// that is not a principal's exact credential, access is never granted.
// fast-check draws known user names with near-miss passwords (prefixes,
// suffixes, case flips, embedded NUL, huge, non-UTF-8) and, on MQTT, CONNECT
// packets whose length prefixes lie. Finds comparison bugs a dictionary
// never will (memcmp with the attacker's length, C-string truncation).
// A counterexample shrinks to the smallest credential and replays from
// (seed, path).

import fc from 'fast-check';
import type { Check, CheckContext, CheckOutcome, Principal } from '../../model/index.js';
import { printable } from '../../protocols/common/io.js';
import { propertyBounds } from '../io.js';
import { requirementsOf } from '../requirements.js';
import { credentialLabel, credentialsApply, protocolLabel, tryCredential, type AttemptCredential } from './credential-attempt.js';

interface Case {
  readonly cred: AttemptCredential;
  readonly label: string;
}

const bytes = (s: string) => Buffer.from(s, 'utf8');

/** Near-miss passwords for a known password: all differ from it. Exported for the benchmark. */
export function nearMiss(pass: string): fc.Arbitrary<{ pass: Uint8Array; how: string }> {
  const p = bytes(pass);
  type Arm = { arbitrary: fc.Arbitrary<{ pass: Uint8Array; how: string }>; weight: number };
  const arms: Arm[] = [
    { weight: 1, arbitrary: fc.string({ maxLength: 24 }).map((s) => ({ pass: bytes(s), how: 'random' })) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 24 }).map((b) => ({ pass: b, how: 'random bytes (maybe not UTF-8)' })) },
    { weight: 1, arbitrary: fc.constant({ pass: new Uint8Array(0), how: 'empty' }) },
    { weight: 1, arbitrary: fc.constant({ pass: bytes('x'.repeat(4096)), how: 'huge (4096 bytes)' }) },
  ];
  if (p.length > 1) {
    // Comparison bugs live here: weigh them above random noise.
    arms.push({ weight: 4, arbitrary: fc.integer({ min: 1, max: p.length - 1 }).map((n) => ({ pass: p.subarray(0, n), how: `prefix of length ${n}` })) });
  }
  if (p.length > 0) {
    arms.push(
      { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 8 }).map((s) => ({ pass: Buffer.concat([p, bytes(s)]), how: 'the real one + suffix' })) },
      { weight: 2, arbitrary: fc.string({ maxLength: 8 }).map((s) => ({ pass: Buffer.concat([p, Buffer.from([0]), bytes(s)]), how: 'the real one + NUL + junk' })) },
      { weight: 2, arbitrary: fc.nat({ max: p.length - 1 }).map((n) => ({ pass: Buffer.concat([p.subarray(0, n), Buffer.from([0]), p.subarray(n)]), how: `the real one with NUL inserted at ${n}` })) },
    );
    if (pass.toUpperCase() !== pass) arms.push({ weight: 1, arbitrary: fc.constant({ pass: bytes(pass.toUpperCase()), how: 'the real one upper-cased' }) });
  }
  return fc.oneof(...arms);
}

/** The classic near misses, run first on every run (fast-check `examples`), then random exploration. */
function classicCases(principals: readonly Principal[]): Case[] {
  const out: Case[] = [];
  for (const pr of principals) {
    const p = bytes(pr.pass);
    const add = (pass: Uint8Array, how: string) => out.push({ cred: { user: pr.user, pass }, label: `user "${pr.user}", password: ${how} "${printable(pass, 24)}"` });
    add(new Uint8Array(0), 'empty');
    if (p.length > 1) {
      add(p.subarray(0, 1), 'prefix of length 1');
      add(p.subarray(0, p.length - 1), `prefix of length ${p.length - 1}`);
    }
    if (p.length > 0) {
      add(Buffer.concat([p, bytes('x')]), 'the real one + suffix');
      add(Buffer.concat([p, Buffer.from([0])]), 'the real one + NUL');
    }
    if (pr.pass.toUpperCase() !== pr.pass) add(bytes(pr.pass.toUpperCase()), 'the real one upper-cased');
  }
  return out;
}

function caseArbitrary(ctx: CheckContext, principals: readonly Principal[]): fc.Arbitrary<Case> {
  const mqtt = ctx.iface.protocol === 'mqtt' || ctx.iface.protocol === 'mqtts';
  const known = principals.map((p) => ({
    weight: 3,
    arbitrary: nearMiss(p.pass).map(({ pass, how }) => ({ cred: { user: p.user, pass }, label: `user "${p.user}", password: ${how} "${printable(pass, 24)}"` })),
  }));
  const strangeUser = fc
    .oneof(
      fc.string({ minLength: 1, maxLength: 16 }).map((s) => bytes(s)),
      fc.uint8Array({ minLength: 1, maxLength: 16 }),
      fc.constant(bytes('a'.repeat(4096))),
      ...principals.map((p) => fc.constant(Buffer.concat([bytes(p.user), Buffer.from([0]), bytes('x')]))),
    )
    .chain((user) => fc.string({ maxLength: 16 }).map((pass) => ({ cred: { user, pass: bytes(pass) }, label: `user "${printable(user, 24)}", password "${printable(pass, 16)}"` })));
  const arms: { arbitrary: fc.Arbitrary<Case>; weight: number }[] = [...known, { weight: 1, arbitrary: strangeUser }];
  if (mqtt && principals.length > 0) {
    // Length prefixes that lie [MQTT-1.5.3]: the broker must close, not grant.
    arms.push({
      weight: 1,
      arbitrary: fc
        .record({
          p: fc.constantFrom(...principals),
          field: fc.constantFrom('usernameLengthDelta' as const, 'passwordLengthDelta' as const),
          delta: fc.oneof(fc.integer({ min: -4, max: -1 }), fc.integer({ min: 1, max: 4 }), fc.constant(1000)),
        })
        .map(({ p, field, delta }) => ({
          cred: { user: p.user, pass: p.pass, mqtt: { [field]: delta } },
          label: `user "${p.user}" with its real password, ${field === 'usernameLengthDelta' ? 'user name' : 'password'} length prefix off by ${delta}`,
        })),
    });
  }
  return fc.oneof(...arms);
}

function isExactCredential(c: AttemptCredential, principals: readonly Principal[]): boolean {
  if (c.mqtt && Object.values(c.mqtt).some((v) => v !== 0)) return false;
  const u = c.user === undefined ? undefined : Buffer.from(typeof c.user === 'string' ? bytes(c.user) : c.user);
  const p = c.pass === undefined ? undefined : Buffer.from(typeof c.pass === 'string' ? bytes(c.pass) : c.pass);
  return principals.some((x) => u?.equals(bytes(x.user)) && p?.equals(bytes(x.pass)));
}

export const credentialRobustness: Check = {
  id: 'auth.credential-robustness',
  title: 'Malformed and near-miss credentials are never granted (property)',
  catalog: ['C01', 'C15'],
  requirements: requirementsOf('C01', 'C15'),
  protocols: ['mqtt', 'mqtts', 'http', 'https'],
  phase: 'main',
  severity: 'critical',
  remedy: 'Compare the whole credential in constant time over its full stored length; reject malformed length fields and embedded NUL bytes.',
  timeoutMs: 120_000,
  applies: (_t, iface) => credentialsApply(iface),
  async run(ctx: CheckContext): Promise<CheckOutcome> {
    const principals = ctx.target.principals;
    let silent = 0;
    let ran = 0;
    let harnessError: unknown;
    const property = fc.asyncProperty(caseArbitrary(ctx, principals), async (c) => {
      fc.pre(!isExactCredential(c.cred, principals));
      if (harnessError !== undefined) return true;
      ctx.transcript.take();
      let a;
      try {
        a = await tryCredential(ctx, c.cred);
      } catch (e) {
        // A harness failure (scope, abort) is not a counterexample: stop and rethrow below.
        harnessError = e;
        return true;
      }
      ran++;
      ctx.caseDone(c.label);
      if (a.kind === 'no-answer') silent++;
      return a.kind !== 'granted';
    });
    const details = await fc.check(property, {
      ...propertyBounds(ctx),
      endOnFailure: false,
      // Examples come first in the case stream, so a replay path counts them too.
      examples: classicCases(principals).map((c) => [c] as [Case]),
    });
    if (harnessError !== undefined) throw harnessError;
    if (details.failed && details.counterexample) {
      const [c] = details.counterexample as [Case];
      // Re-run the shrunk case alone so the evidence is its transcript.
      ctx.transcript.take();
      const again = await tryCredential(ctx, c.cred);
      const observed = `granted: ${again.kind === 'granted' ? again.detail : `(on re-run: ${again.detail})`}`;
      return {
        verdict: 'fail',
        reason: `a credential that is not the principal's was granted: ${c.label}`,
        cases: details.numRuns,
        findings: [
          {
            summary: `${protocolLabel(ctx)} grants access to a near-miss credential: ${c.label}`,
            evidence: {
              observed,
              declared: 'only the exact credential of a principal is granted',
              source: 'property: auth.credential-robustness',
              transcript: ctx.transcript.take(),
              counterexample: {
                seed: details.seed,
                path: details.counterexamplePath ?? '',
                value: `${c.label} (${credentialLabel(c.cred)})`,
                numRuns: details.numRuns,
                shrinks: details.numShrinks,
              },
            },
          },
        ],
      };
    }
    if (ran === 0) return { verdict: 'inconclusive', reason: 'no case ran within the budget', findings: [], cases: 0 };
    if (silent > ran / 2) return { verdict: 'inconclusive', reason: `${silent} of ${ran} cases got no answer`, findings: [], cases: ran };
    return {
      verdict: 'pass',
      reason: `${ran} malformed or near-miss credentials refused${details.interrupted ? ' (time budget reached)' : ''}; seed ${details.seed}`,
      findings: [],
      cases: ran,
    };
  },
};
