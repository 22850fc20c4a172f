// Which TS 103 701 IXIT table (and field) each part of a target file stands
// for, so a report can put `IXIT 1-AuthMech "Brute Force Prevention"` next to
// evidence whose oracle was `target:declaration.lockout`. Data only, no I/O.
//
// Table names follow TS 103 701 V1.1.1 as STANDARDS.md section 3 lists them.
// Access policy (who may publish, subscribe, GET, PUT what) is 13-SoftServ:
// TS 103 701 judges 5.5-4/5.5-5 against the network services listed there and
// the authentication mechanisms of 1-AuthMech. 18-AccCtrl is hardware-level
// access control for memory (provision 5.6-8), which no network test sees.
// Field names are given only where STANDARDS.md names them; elsewhere the
// reference is the table alone.

/** The IXIT tables a target file's declaration answers (a subset of the 29). */
export type IxitTable = '1-AuthMech' | '7-UpdMech' | '11-ComMech' | '13-SoftServ' | '15-Intf' | '28-ExtAPI';

export interface IxitEntry {
  /** Dotted path in the target file; `*` stands for one name (an interface id, a principal). */
  readonly declarationKey: string;
  /** Absent: Gauntlet's own oracle, or a test hook, that no IXIT table holds (`why` says which). */
  readonly ixitTable?: IxitTable;
  readonly ixitField?: string;
  /** What the checks compare the device's behaviour with. */
  readonly compares: string;
  /** Gauntlet-own entries: why no IXIT table fits. */
  readonly why?: string;
}

/** Most specific first is not required: lookups take the longest matching key. */
export const IXIT_MAP: readonly IxitEntry[] = [
  {
    declarationKey: 'declaration.lockout',
    ixitTable: '1-AuthMech',
    ixitField: 'Brute Force Prevention',
    compares: 'how many failed logins the device allows within the window before it refuses the user, and for how long; a valid login once the lock ends',
  },
  {
    declarationKey: 'declaration.firstUse',
    ixitTable: '1-AuthMech',
    ixitField: 'Password Generation Mechanism',
    compares: 'a factory-fresh unit refuses every function until the shipped credential is replaced; afterwards the shipped one is dead and the new one works',
  },
  {
    declarationKey: 'declaration.access',
    ixitTable: '13-SoftServ',
    compares: 'which subjects (anonymous, each principal, each role) each network service lets do what: MQTT topics to publish and subscribe, CoAP methods per resource, HTTP routes per role and owner',
  },
  {
    declarationKey: 'declaration.access.mqtt.anonymous',
    ixitTable: '1-AuthMech',
    ixitField: 'Authentication Factor',
    compares: 'whether the broker takes a CONNECT that presents no credential at all',
  },
  {
    declarationKey: 'declaration.access.coap.resources',
    ixitTable: '28-ExtAPI',
    compares: 'the CoAP resources the device serves against the ones /.well-known/core lists: an undocumented remote API is a finding',
  },
  {
    declarationKey: 'declaration.update',
    ixitTable: '7-UpdMech',
    ixitField: 'Security Guarantees',
    compares: 'the device installs only an authentic, intact, newer image from an authorised installer over each declared path: unsigned, re-signed, tampered, older, truncated and unauthenticated images are refused and the running version stays',
  },
  {
    declarationKey: 'declaration.update.version',
    compares: 'how the lab reads the running version after each attempt',
    why: 'a test hook: where to read the version, not a property the manufacturer guarantees',
  },
  {
    declarationKey: 'declaration.update.images',
    compares: 'the vendor images the positive control installs and the negatives are built from',
    why: 'test material the manufacturer supplies, not a declared property',
  },
  {
    declarationKey: 'declaration.update.reset',
    compares: 'how the lab puts the device back on its baseline image between update checks',
    why: 'a test hook for the lab',
  },
  {
    declarationKey: 'declaration.update.installTimeout',
    compares: 'how long an install may take before the version must show it',
    why: 'a bound on the test, not a declared property',
  },
  {
    declarationKey: 'declaration.dtls',
    ixitTable: '11-ComMech',
    ixitField: 'Cryptographic Details',
    compares: 'the DTLS versions and cipher suites a coaps interface accepts, and whether it demands a cookie before keeping state',
  },
  {
    declarationKey: 'declaration.secureOnly',
    ixitTable: '11-ComMech',
    ixitField: 'Security Guarantees',
    compares: 'no MQTT, CoAP or HTTP listener in clear when every channel is declared protected; credentials never accepted in clear',
  },
  {
    declarationKey: 'declaration.interfaces',
    ixitTable: '15-Intf',
    ixitField: 'Status',
    compares: 'the ports a scan finds open against the declared list: nothing undeclared open, nothing declared disabled reachable, nothing declared enabled closed',
  },
  {
    declarationKey: 'interfaces',
    ixitTable: '15-Intf',
    ixitField: 'Status',
    compares: 'without declaration.interfaces, the target file\'s own interface ports count as the declared, enabled list',
  },
  {
    declarationKey: 'interfaces.tls',
    ixitTable: '11-ComMech',
    ixitField: 'Cryptographic Details',
    compares: 'the CA an mqtts/https certificate must chain to and the name it must carry (the versions, suites and key sizes are judged against policy C06)',
  },
  {
    declarationKey: 'declaration.disclosure',
    ixitTable: '15-Intf',
    ixitField: 'Disclosed Information',
    compares: 'what unauthenticated clients can read ($SYS topics, Server headers, banners, error texts, discovery records) against what is declared disclosable',
  },
  {
    declarationKey: 'principals',
    ixitTable: '1-AuthMech',
    ixitField: 'Authentication Factor',
    compares: 'the credentials (passwords, DTLS PSKs) the lab was given for the declared mechanisms: the positive control that tells a refusal from a broken setup',
  },
  {
    declarationKey: 'declaration.performance',
    compares: 'hot-path throughput floors and p99 ceilings, and the probe latency allowed under a flood',
    why: 'Gauntlet\'s own oracle; TS 103 701 has no table for performance',
  },
  {
    declarationKey: 'identity',
    compares: 'label facts (serial, MAC) that label-derived default passwords are built from',
    why: 'facts printed on the unit, used to guess credentials, not a declared property',
  },
  {
    declarationKey: 'declaration.ics',
    compares: 'the manufacturer\'s ICS answer (support Y, N or N/A, with a detail) for provisions no network test evidences',
    why: 'the ICS (EN 303 645 Annex B pro forma), not an IXIT table: see icsRef',
  },
  {
    declarationKey: 'declaration.conformance',
    compares: 'the protocol statements and optional features (MQTT will, retain; CoAP observe, block-wise) the device does not implement: skipped, not failed',
    why: 'a protocol implementation conformance statement (PICS) for the MQTT and CoAP catalogs, not an EN 303 645 table',
  },
];

/** `target:declaration.performance.floors[2]` -> `declaration.performance.floors`; undefined when not a target-file source. */
export function declarationPathOf(source: string): string | undefined {
  const m = /^target:([A-Za-z0-9_$.[\]*-]+)/.exec(source.trim());
  if (!m) return undefined;
  return m[1]!.replace(/\[[^\]]*\]/g, '').replace(/\.+$/, '');
}

const matches = (key: string, path: string): boolean => {
  const k = key.split('.');
  const p = path.split('.');
  return k.length <= p.length && k.every((seg, i) => seg === '*' || seg === p[i]);
};

/**
 * The entry for a target-file path: the longest key it falls under, `*`
 * matching one name. `principals.admin.psk` falls under `principals`.
 */
export function ixitEntryOfPath(path: string): IxitEntry | undefined {
  let best: IxitEntry | undefined;
  for (const e of IXIT_MAP) {
    if (matches(e.declarationKey, path) && (!best || e.declarationKey.split('.').length > best.declarationKey.split('.').length)) best = e;
  }
  return best;
}

/**
 * The entry behind an evidence source. A source may name several parts
 * (`target:declaration.secureOnly, target:principals`): the first that has an
 * entry answers. Sources that are not the target file (`policy:C06`,
 * `dictionary:...`, `property: ...`) have none.
 */
export function ixitEntryOf(source: string): IxitEntry | undefined {
  for (const part of source.split(/,\s*/)) {
    const path = declarationPathOf(part);
    if (path === undefined) continue;
    const e = ixitEntryOfPath(path);
    if (e) return e;
  }
  return undefined;
}

/** `IXIT 1-AuthMech "Brute Force Prevention"`, or `IXIT 13-SoftServ` where no field is named. */
export function formatIxit(e: Pick<IxitEntry, 'ixitTable' | 'ixitField'>): string | undefined {
  if (!e.ixitTable) return undefined;
  return `IXIT ${e.ixitTable}${e.ixitField ? ` "${e.ixitField}"` : ''}`;
}

/**
 * The IXIT reference of an evidence source, for reporters to print beside it:
 * `target:declaration.lockout` -> `IXIT 1-AuthMech "Brute Force Prevention"`.
 * `target:declaration.ics.<requirement>` -> `ICS <requirement>`. Undefined for
 * Gauntlet's own oracles (policy, dictionaries, properties, performance floors).
 */
export function ixitRef(source: string): string | undefined {
  for (const part of source.split(/,\s*/)) {
    const path = declarationPathOf(part);
    if (path === undefined) continue;
    const ics = icsRefOfPath(path, part);
    if (ics) return ics;
    const e = ixitEntryOfPath(path);
    const ref = e && formatIxit(e);
    if (ref) return ref;
  }
  return undefined;
}

function icsRefOfPath(path: string, source: string): string | undefined {
  if (path !== 'declaration.ics' && !path.startsWith('declaration.ics.')) return undefined;
  // A requirement id holds dots and colons (`ETSI-EN-303-645:5.2-1`): take the rest of the source as written.
  const rest = source.trim().slice('target:declaration.ics'.length).replace(/^\./, '');
  return rest ? `ICS ${rest}` : 'ICS';
}

/** The IXIT comment for a target-file block, as `gauntlet init` writes it: `IXIT 15-Intf "Status"` or the reason it has none. */
export function ixitLabel(declarationKey: string): string {
  const e = ixitEntryOfPath(declarationKey);
  if (!e) return 'no IXIT table';
  return formatIxit(e) ?? `no IXIT table: ${e.why ?? 'Gauntlet\'s own'}`;
}
