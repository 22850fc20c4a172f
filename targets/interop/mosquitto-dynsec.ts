// A configuration for Mosquitto's dynamic-security plugin, written as the
// JSON file the plugin loads at start (the format `mosquitto_ctrl dynsec
// init` writes): clients with PBKDF2-SHA512 password hashes, roles with
// ACLs. Writing it directly avoids a second broker round trip per setting.

import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type DynsecAclType = 'publishClientSend' | 'publishClientReceive' | 'subscribePattern' | 'subscribeLiteral' | 'unsubscribePattern';

export interface DynsecRole {
  readonly rolename: string;
  readonly acls: readonly { readonly acltype: DynsecAclType; readonly topic: string; readonly allow: boolean }[];
}

export interface DynsecClient {
  readonly username: string;
  readonly password: string;
  readonly roles: readonly string[];
}

const PLUGIN_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib/arm-linux-gnueabihf', '/usr/lib', '/usr/local/lib'];

/** The plugin's shared object, or null when the installed Mosquitto has none. */
export function dynsecPlugin(): string | null {
  for (const d of PLUGIN_DIRS) {
    const p = path.join(d, 'mosquitto_dynamic_security.so');
    if (existsSync(p)) return p;
  }
  return null;
}

/** Writes the plugin's JSON file into `dir` and returns the mosquitto.conf lines that load it. */
export function writeDynsecConfig(dir: string, clients: readonly DynsecClient[], roles: readonly DynsecRole[], plugin: string): string {
  const file = path.join(dir, 'dynamic-security.json');
  const config = {
    clients: clients.map((c) => {
      const salt = randomBytes(12);
      return {
        username: c.username,
        password: pbkdf2Sync(c.password, salt, 101, 64, 'sha512').toString('base64'),
        salt: salt.toString('base64'),
        iterations: 101,
        roles: c.roles.map((rolename) => ({ rolename })),
      };
    }),
    roles,
    groups: [],
    defaultACLAccess: { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true },
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return `plugin ${plugin}\nplugin_opt_config_file ${file}\n`;
}
