// The target file of a small fake HTTP device on loopback: one interface
// `web` with a JSON login that returns a bearer token (`$.token`), as the
// auth and access check tests' fake devices serve it.

import type { TargetFileInput } from '../../harness/core/target-file.js';

export const JSON_LOGIN = { kind: 'json', method: 'POST', path: '/api/login', body: { username: '{user}', password: '{pass}' }, token: '$.token' } as const;

export function httpTarget(
  port: number,
  opts: { probe: string; protectedPath: string; principals: TargetFileInput['principals']; declaration?: TargetFileInput['declaration'] },
): TargetFileInput {
  return {
    format: 'gauntlet-target/1',
    name: 'fake-http',
    scope: { hosts: ['127.0.0.1'] },
    interfaces: [{ id: 'web', protocol: 'http', url: `http://127.0.0.1:${port}`, probe: opts.probe, protected: opts.protectedPath, auth: JSON_LOGIN }],
    principals: opts.principals,
    ...(opts.declaration ? { declaration: opts.declaration } : {}),
  };
}
