// Requirement ids each catalog check (STANDARDS.md section 0) evidences, from
// the cross-walk in STANDARDS.md section 2. Form: `<standard>:<id>`.
// Checks take their `requirements` from here so one table stays the truth.

export const STD = {
  nistir: 'NISTIR-8259A',
  en303645: 'ETSI-EN-303-645',
  ts103701: 'ETSI-TS-103-701',
  en18031: 'EN-18031-1',
  sb327: 'CA-SB-327',
  cta2088: 'CTA-2088-A',
} as const;

const ids = (std: string, list: string[]) => list.map((x) => `${std}:${x}`);

export const CATALOG: Readonly<Record<string, readonly string[]>> = {
  // Default and known credentials refused.
  C01: [
    ...ids(STD.nistir, ['LAI-2']),
    ...ids(STD.en303645, ['5.1-1', '5.1-2']),
    ...ids(STD.ts103701, ['5.1-1-2c']),
    ...ids(STD.en18031, ['AUM-5-1']),
    ...ids(STD.sb327, ['1798.91.04(b)(1)']),
    ...ids(STD.cta2088, ['SA-006']),
  ],
  // A factory-fresh unit demands a new credential before any function.
  C02: [
    ...ids(STD.nistir, ['LAI-2']),
    ...ids(STD.en303645, ['5.1-1']),
    ...ids(STD.ts103701, ['5.1-1-2b']),
    ...ids(STD.en18031, ['AUM-5-1']),
    ...ids(STD.sb327, ['1798.91.04(b)(2)']),
    ...ids(STD.cta2088, ['SA-005']),
  ],
  // Brute force throttled to the declared limit.
  C03: [
    ...ids(STD.nistir, ['LAI-3']),
    ...ids(STD.en303645, ['5.1-5']),
    ...ids(STD.ts103701, ['5.1-5-2b']),
    ...ids(STD.en18031, ['AUM-6']),
    ...ids(STD.cta2088, ['SA-003']),
  ],
  // Unauthenticated subjects denied (authorization matrix, anonymous row).
  C04: [
    ...ids(STD.nistir, ['LAI-2', 'Conf-2', 'SWU-4']),
    ...ids(STD.en303645, ['5.5-4', '5.5-5']),
    ...ids(STD.ts103701, ['5.5-4-2', '5.5-5-2']),
    ...ids(STD.en18031, ['ACM-1', 'ACM-2', 'AUM-1-1', 'AUM-3', 'GEC-3']),
    ...ids(STD.sb327, ['1798.91.04(a)']),
    ...ids(STD.cta2088, ['SA-002']),
  ],
  // Updates fetched only over an authenticated channel: untrusted, wrong-host and expired certificates refused.
  C07: [
    ...ids(STD.nistir, ['DP-1']),
    ...ids(STD.en303645, ['5.3-10', '5.5-1']),
    ...ids(STD.ts103701, ['5.3-2-2']),
    ...ids(STD.en18031, ['AUM-3', 'SCM-2', 'SUM-2']),
    ...ids(STD.sb327, ['1798.91.04(a)']),
    ...ids(STD.cta2088, ['SA-031']),
  ],
  // TLS/DTLS scan: versions, suites, the declared crypto; no DTLS 1.0, no NULL/export/anon/RC4/3DES/MD5.
  C06: [
    ...ids(STD.nistir, ['DP-1']),
    ...ids(STD.en303645, ['5.1-3', '5.3-7', '5.5-1', '5.5-6', '5.5-7']),
    ...ids(STD.ts103701, ['5.1-3-2', '5.5-1-2']),
    ...ids(STD.en18031, ['SCM-2', 'SCM-3', 'CRY-1', 'AUM-2', 'CCK-1']),
    ...ids(STD.sb327, ['1798.91.04(a)']),
    ...ids(STD.cta2088, ['DIT-005', 'DIT-006', 'DIT-007', 'DIT-008', 'CRY-001']),
  ],
  // No credentials, keys, tokens or personal data in clear.
  C08: [
    ...ids(STD.nistir, ['DP-1']),
    ...ids(STD.en303645, ['5.1-3', '5.5-6', '5.5-7', '5.8-1', '5.8-2']),
    ...ids(STD.ts103701, ['5.5-6-2', '5.5-7-2', '5.8-1-2', '5.8-2-2']),
    ...ids(STD.en18031, ['SCM-3']),
    ...ids(STD.sb327, ['1798.91.04(a)']),
    ...ids(STD.cta2088, ['DIT-009']),
  ],
  // A captured authenticated message replayed is rejected.
  C09: [...ids(STD.nistir, ['DP-1']), ...ids(STD.en303645, ['5.5-1']), ...ids(STD.en18031, ['SCM-4']), ...ids(STD.cta2088, ['DIT-010'])],
  // Floods: ClientHellos answered statelessly (the DTLS cookie), the device degrades gracefully and recovers.
  // EN 303 645 has no resilience-to-load provision (5.9-1 is about outages: weak at best), so only RLM-1.
  C16: [...ids(STD.en18031, ['RLM-1'])],
  // Firmware negatives on every update path: all refused, old version still running.
  C10: [
    ...ids(STD.nistir, ['SWU-2', 'SWU-4']),
    ...ids(STD.en303645, ['5.3-2', '5.3-9', '5.3-10']),
    ...ids(STD.ts103701, ['5.3-2-2']),
    ...ids(STD.en18031, ['SUM-2']),
    ...ids(STD.cta2088, ['PAT-001', 'PAT-002', 'PAT-003']),
  ],
  // Nothing undeclared or debug-only reachable; nothing declared disabled reachable.
  C12: [
    ...ids(STD.nistir, ['LAI-1']),
    ...ids(STD.en303645, ['5.6-1', '5.6-5']),
    ...ids(STD.ts103701, ['5.6-1-2', '5.1-1-2a', '5.1-5-2a', '5.3-10-1c', '5.13-1-2c']),
    ...ids(STD.en18031, ['GEC-2', 'GEC-4', 'GEC-5']),
    ...ids(STD.cta2088, ['SA-035', 'SA-036']),
  ],
  // Only the declared information disclosed without authentication.
  C13: [...ids(STD.nistir, ['LAI-2']), ...ids(STD.en303645, ['5.6-2']), ...ids(STD.ts103701, ['5.6-2-2']), ...ids(STD.en18031, ['GEC-2'])],
  // Bad input is not accepted (here: malformed authenticators).
  C15: [
    ...ids(STD.en303645, ['5.13-1']),
    ...ids(STD.ts103701, ['5.13-1-2a']),
    ...ids(STD.en18031, ['GEC-6']),
    ...ids(STD.sb327, ['1798.91.04(a)']),
    ...ids(STD.cta2088, ['DV-001']),
  ],
};

export function requirementsOf(...catalog: string[]): string[] {
  const out = new Set<string>();
  for (const c of catalog) for (const r of CATALOG[c] ?? []) out.add(r);
  return [...out];
}
