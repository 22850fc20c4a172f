// The planner: profile x target -> check instances in a stable order.

import { describe, expect, it } from 'vitest';
import { GauntletError } from '../../harness/core/errors.js';
import { plan, selectChecks } from '../../harness/core/planner.js';
import { deriveSeed } from '../../harness/core/seed.js';
import { targetFromObject } from '../../harness/core/target-file.js';
import type { Check, Profile, Protocol } from '../../harness/model/index.js';

function fake(id: string, phase: 'fresh' | 'main', protocols: Protocol[], applies: Check['applies'] = () => undefined): Check {
  return {
    id,
    title: `title ${id}`,
    catalog: [],
    requirements: [`REQ:${id}`],
    protocols,
    phase,
    severity: 'medium',
    remedy: 'fix',
    timeoutMs: 1000,
    applies,
    run: () => Promise.reject(new Error('the planner never runs a check')),
  };
}

const alpha = fake('auth.alpha', 'main', ['mqtt', 'http']);
const beta = fake('auth.beta', 'fresh', ['http']);
const gamma = fake('net.gamma', 'main', ['coap', 'http'], (_t, iface) => (iface.protocol === 'coap' ? 'no coap here' : undefined));
const author = fake('author.x', 'main', ['mqtt']);
const CHECKS = [alpha, beta, gamma, author];

const target = targetFromObject(
  {
    format: 'gauntlet-target/1',
    name: 't',
    scope: { hosts: ['127.0.0.1'] },
    interfaces: [
      { id: 'broker', protocol: 'mqtt', url: 'mqtt://127.0.0.1:1883' },
      { id: 'sensors', protocol: 'coap', url: 'coap://127.0.0.1:5683' },
      { id: 'web', protocol: 'http', url: 'http://127.0.0.1:8080' },
    ],
  },
  'test',
  {},
);

const profile = (...checks: string[]): Profile => ({ name: 'p', source: 'p.yaml', description: '', checks, requirements: [] });

function usage(fn: () => unknown): GauntletError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GauntletError) return e;
    throw e;
  }
  throw new Error('expected USAGE');
}

describe('selectChecks', () => {
  it('expands `prefix.*` groups in profile order, each check once', () => {
    expect(selectChecks(profile('auth.*'), CHECKS)).toEqual([alpha, beta]);
    expect(selectChecks(profile('net.gamma', 'auth.*', 'auth.alpha'), CHECKS)).toEqual([gamma, alpha, beta]);
    // `auth.*` is the auth. group: neither `author.x` nor a bare `auth`
    expect(selectChecks(profile('auth.*'), CHECKS)).not.toContain(author);
    expect(selectChecks(profile('author.*'), CHECKS)).toEqual([author]);
    expect(selectChecks(profile('nope'), CHECKS)).toEqual([]);
  });
});

describe('plan', () => {
  it('puts the fresh phase first, then profile order, then interface order', () => {
    const p = plan(target, profile('net.gamma', 'auth.*'), CHECKS, { runSeed: 7 });
    expect(p.map((x) => x.id)).toEqual(['auth.beta@web', 'net.gamma@sensors', 'net.gamma@web', 'auth.alpha@broker', 'auth.alpha@web']);
  });

  it('one instance per matching interface, carrying check fields, seed and applies() as skipReason', () => {
    const p = plan(target, profile('auth.*', 'net.gamma'), CHECKS, { runSeed: 99 });
    const sensors = p.find((x) => x.id === 'net.gamma@sensors')!;
    expect(sensors).toMatchObject({ checkId: 'net.gamma', interfaceId: 'sensors', title: 'title net.gamma', requirements: ['REQ:net.gamma'], skipReason: 'no coap here', check: gamma });
    expect(sensors.seed).toBe(deriveSeed(99, 'net.gamma@sensors'));
    expect(p.find((x) => x.id === 'net.gamma@web')!.skipReason).toBeUndefined();
    expect(p.filter((x) => x.checkId === 'auth.alpha').map((x) => x.interfaceId)).toEqual(['broker', 'web']);
  });

  it('plans nothing on an interface the check calls irrelevant (relevant() false), unlike a skip', () => {
    const picky: Check = { ...fake('net.picky', 'main', ['mqtt', 'coap', 'http']), relevant: (_t, iface) => iface.id !== 'sensors' };
    const p = plan(target, profile('net.picky'), [picky], { runSeed: 1 });
    expect(p.map((x) => x.id)).toEqual(['net.picky@broker', 'net.picky@web']);
  });

  it('is pure: same inputs, same plan; another seed changes only the seeds', () => {
    const a = plan(target, profile('auth.*', 'net.gamma'), CHECKS, { runSeed: 5 });
    expect(plan(target, profile('auth.*', 'net.gamma'), CHECKS, { runSeed: 5 })).toEqual(a);
    const b = plan(target, profile('auth.*', 'net.gamma'), CHECKS, { runSeed: 6 });
    expect(b.map((x) => x.id)).toEqual(a.map((x) => x.id));
    expect(b.map((x) => x.seed)).not.toEqual(a.map((x) => x.seed));
  });

  it('--only by instance id and by check id; the seed does not depend on what else is planned', () => {
    const all = plan(target, profile('auth.*', 'net.gamma'), CHECKS, { runSeed: 3 });
    const one = plan(target, profile('auth.*', 'net.gamma'), CHECKS, { runSeed: 3, only: ['auth.alpha@web'] });
    expect(one.map((x) => x.id)).toEqual(['auth.alpha@web']);
    expect(one[0]!.seed).toBe(all.find((x) => x.id === 'auth.alpha@web')!.seed);
    expect(plan(target, profile('auth.*', 'net.gamma'), CHECKS, { runSeed: 3, only: ['auth.alpha'] }).map((x) => x.id)).toEqual(['auth.alpha@broker', 'auth.alpha@web']);
    // several, kept in plan order; empty strings ignored
    expect(plan(target, profile('auth.*', 'net.gamma'), CHECKS, { runSeed: 3, only: ['net.gamma@web', '', 'auth.beta'] }).map((x) => x.id)).toEqual([
      'auth.beta@web',
      'net.gamma@web',
    ]);
    expect(plan(target, profile('auth.*'), CHECKS, { runSeed: 3, only: [''] })).toHaveLength(3);
  });

  it('an unknown --only is USAGE listing the known instance ids', () => {
    const e = usage(() => plan(target, profile('auth.*'), CHECKS, { runSeed: 3, only: ['auth.alpha@sensors'] }));
    expect(e.code).toBe('USAGE');
    expect(e.message).toBe('--only auth.alpha@sensors: no such check instance in this plan; known: auth.beta@web, auth.alpha@broker, auth.alpha@web');
    // a check that exists but is not in the profile is not in the plan either
    expect(usage(() => plan(target, profile('auth.*'), CHECKS, { runSeed: 3, only: ['net.gamma'] })).code).toBe('USAGE');
    expect(usage(() => plan(target, profile('nothing'), CHECKS, { runSeed: 3, only: ['x'] })).message).toContain('known: (none)');
  });

  it('a profile matching nothing plans nothing', () => {
    expect(plan(target, profile('nothing.*'), CHECKS, { runSeed: 1 })).toEqual([]);
  });
});
