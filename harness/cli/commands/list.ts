// `gauntlet list checks|profiles|flaws`: what Gauntlet can do, with the
// requirement ids each check evidences and each profile's coverage figures.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Argument } from 'commander';
import { CHECKS } from '../../checks/registry.js';
import { packageRoot } from '../../core/paths.js';
import { loadProfile } from '../../core/profile-file.js';
import { requirementMatrix } from '../../model/requirements.js';
import { FLAWS, FLAW_INFO } from '../../../targets/reference-device/index.js';

export function registerList(program: Command): void {
  program
    .command('list')
    .description('list checks (with requirement ids), profiles or reference-device flaws')
    .addArgument(new Argument('<what>', 'what to list').choices(['checks', 'profiles', 'flaws']))
    .action((what: 'checks' | 'profiles' | 'flaws') => {
      const out: string[] = [];
      if (what === 'checks') {
        for (const c of CHECKS) {
          out.push(`${c.id}  ${c.catalog.length ? `[${c.catalog.join(', ')}]` : c.id.startsWith('conformance.') ? `[protocol conformance: ${c.requirements.length} statements]` : '[no catalog id: a measurement]'}  ${c.protocols.join(', ')}${c.phase === 'fresh' ? '  (factory-fresh phase)' : ''}`);
          out.push(`    ${c.title}`);
          out.push(`    requirements: ${c.requirements.join(', ')}`);
        }
      } else if (what === 'profiles') {
        const dir = join(packageRoot(), 'profiles');
        for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml')).sort()) {
          const p = loadProfile(join(dir, f), CHECKS);
          out.push(`${p.name.padEnd(20)}${p.description}`);
          const c = requirementMatrix(p, []).coverage;
          out.push(
            `${''.padEnd(20)}${c.total ? `${c.total} requirements: ${c.tested} tested, ${c.declared} declared, ${c.notCovered} not covered` : 'no requirement table (a selection of checks)'}`,
          );
        }
      } else {
        for (const f of FLAWS) out.push(`${f.padEnd(24)}${FLAW_INFO[f]}`);
      }
      process.stdout.write(`${out.join('\n')}\n`);
    });
}
