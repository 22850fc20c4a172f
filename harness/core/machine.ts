// The machine a run's figures are read against (report.json run.machine,
// bench.md, npm run bench's results file).

import { cpus, totalmem } from 'node:os';

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
}

export function machineOf(): MachineInfo {
  const all = cpus();
  return { cpu: all[0]?.model.trim() || 'unknown', cores: all.length, memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10 };
}
