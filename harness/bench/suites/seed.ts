// deriveSeed: one call per check instance when a run is planned.

import { CHECKS } from '../../checks/registry.js';
import { deriveSeed } from '../../core/seed.js';
import type { Suite } from '../hot-paths.js';

export function seeds(): Suite {
  // Instance ids as the planner builds them: every check on a target with a few interfaces.
  const ids = CHECKS.flatMap((c) => ['broker', 'broker-tls', 'sensors', 'web', 'web-admin'].map((iface) => `${c.id}@${iface}`));
  const runSeed = 1_234_567;
  return {
    id: 'derive-seed',
    title: `deriveSeed per instance id (${ids.length} ids like "${ids[0]}")`,
    unit: 'instance id',
    tasks: [
      {
        name: 'deriveSeed(runSeed, id)',
        batch: ids.length * 64,
        fn: () => {
          let x = 0;
          for (let r = 0; r < 64; r++) for (const id of ids) x ^= deriveSeed(runSeed + r, id);
          return x;
        },
      },
    ],
  };
}
