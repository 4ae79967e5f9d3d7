/**
 * The egress policy: which addresses a tenant's recording (and, later, a tenant's webhook) may
 * reach. Pure rules; the worker's forward proxy (`@conveyor/egress`) resolves names, applies
 * `decideEgress` to every address it would connect to, and connects to exactly that address.
 *
 * Order of the decision, first match wins:
 * 1. the scheme: only http(s) (and ws(s) through the proxy) reach the network;
 * 2. the always-denied list (`deny`: cloud metadata, Conveyor's own Postgres/Redis/S3, EGRESS_DENY);
 * 3. `EGRESS_POLICY=off`: everything else is allowed;
 * 4. the operator's allowlist (EGRESS_ALLOW);
 * 5. the project's allowlist, only where EGRESS_PROJECT_MAX also allows it;
 * 6. `public`: a public unicast address is allowed, any other (loopback, private, link-local, …)
 *    denied; `allowlist`: nothing else is allowed.
 */
import {
  type Cidr,
  cidrContains,
  cidrContainsCidr,
  embeddedIpv4,
  formatCidr,
  hostAddress,
  type IpAddress,
  isLocalhostName,
  normalizeHost,
  parseCidr,
  parseIpv4,
} from "./ip.ts";
import { METADATA_DENY, specialRangeOf } from "./ranges.ts";

/**
 * `public` (default): public unicast addresses plus the allowlists. `allowlist`: only the
 * allowlists. `off`: everything but the always-denied list (single-user local use).
 */
export const EGRESS_MODES = ["public", "allowlist", "off"] as const;
export type EgressMode = (typeof EGRESS_MODES)[number];

/** One entry of an allow or deny list: a host (`*.` wildcard allowed) or a CIDR, with an optional port. */
export interface EgressEntry {
  /** As written (normalized), for messages and for storing a project's list. */
  text: string;
  /** A lowercase hostname; `*.example.com` matches its subdomains (not example.com itself). */
  host?: string;
  cidr?: Cidr;
  /** Only this port; absent: every port. */
  port?: number;
  /** What a denial by this entry is reported as. Default: the list's name. */
  label?: string;
}

export class EgressEntryError extends Error {
  readonly entry: string;
  constructor(entry: string, message: string) {
    super(message);
    this.entry = entry;
    this.name = "EgressEntryError";
  }
}

/**
 * Parses one entry: `host`, `host:port`, `*.host`, `CIDR`, `CIDR:port`, an address (a /32 or
 * /128), `[v6]:port` or `[v6/n]:port`. Throws EgressEntryError saying what is accepted.
 */
export function parseEgressEntry(raw: string): EgressEntry {
  const text = raw.trim();
  const fail = (why: string): never => {
    throw new EgressEntryError(
      text,
      `"${text}" ${why}: expected host, host:port, *.domain, CIDR (10.0.0.0/8, fd00::/8) or CIDR:port ([fd00::/8]:443)`,
    );
  };
  if (text === "") fail("is empty");
  let hostPart = text;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    hostPart = bracketed[1] ?? "";
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if ((text.match(/:/g) ?? []).length === 1) {
    const colon = text.lastIndexOf(":");
    const portText = text.slice(colon + 1);
    if (!/^\d{1,5}$/.test(portText)) fail("has a port that is not a number");
    hostPart = text.slice(0, colon);
    port = Number(portText);
  }
  if (port !== undefined && (port < 1 || port > 65_535)) fail("has a port outside 1–65535");
  const portSuffix = port === undefined ? "" : `:${port}`;

  // An address or a block.
  if (/^[0-9.]+(\/\d+)?$/.test(hostPart) || hostPart.includes(":")) {
    const cidr = parseCidr(hostPart);
    if (!cidr) return fail("is not a valid address or CIDR block");
    const cidrText = formatCidr(cidr);
    return {
      text: cidr.address.family === 6 && port !== undefined ? `[${cidrText}]${portSuffix}` : `${cidrText}${portSuffix}`,
      cidr,
      ...(port === undefined ? {} : { port }),
    };
  }
  // A hostname, perhaps with a leading wildcard label.
  const wildcard = hostPart.startsWith("*.");
  const name = normalizeHost(wildcard ? hostPart.slice(2) : hostPart);
  if (name === null || name.includes("*") || name.startsWith("[") || parseIpv4(name) !== null) {
    return fail("is not a valid hostname");
  }
  const host = wildcard ? `*.${name}` : name;
  return { text: `${host}${portSuffix}`, host, ...(port === undefined ? {} : { port }) };
}

/** Parses a comma-separated list (an env variable); blanks are skipped. */
export function parseEgressList(text: string | undefined): EgressEntry[] {
  if (text === undefined) return [];
  return text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map(parseEgressEntry);
}

/** What an egress check is about: the host as requested, the address it resolved to, the port. */
export interface EgressTarget {
  /** Normalized host (`normalizeHost`): a name, a dotted quad or a bracketed IPv6 address. */
  host: string;
  /** The address that would be connected to. */
  address: IpAddress;
  port: number;
}

export type EgressDecision = { allowed: true; rule: string } | { allowed: false; rule: string };

export interface EgressPolicy {
  mode: EgressMode;
  /** Always denied (metadata, Conveyor's own services, EGRESS_DENY), whatever the other lists say. */
  deny: readonly EgressEntry[];
  /** The operator's allowlist (EGRESS_ALLOW). */
  allow: readonly EgressEntry[];
  /** This project's allowlist (empty outside a project's run). */
  projectAllow: readonly EgressEntry[];
  /** How far a project's allowlist may reach (EGRESS_PROJECT_MAX). */
  projectMax: readonly EgressEntry[];
}

function entryMatches(entry: EgressEntry, target: EgressTarget): boolean {
  if (entry.port !== undefined && entry.port !== target.port) return false;
  if (entry.host !== undefined) {
    if (entry.host.startsWith("*.")) return target.host.endsWith(entry.host.slice(1));
    return target.host === entry.host;
  }
  if (entry.cidr !== undefined) {
    if (cidrContains(entry.cidr, target.address)) return true;
    // An IPv4 block also covers the IPv6 spellings of its addresses (and the other way round
    // the address is unwrapped the same way), so ::ffff:10.0.0.1 cannot slip past 10.0.0.0/8.
    const v4 = embeddedIpv4(target.address);
    return v4 !== null && cidrContains(entry.cidr, v4);
  }
  return false;
}

/** Decides whether `target` may be connected to under `policy` (the scheme is checked elsewhere). */
export function decideEgress(policy: EgressPolicy, target: EgressTarget): EgressDecision {
  for (const entry of policy.deny) {
    if (entryMatches(entry, target)) return { allowed: false, rule: `always denied (${entry.label ?? "EGRESS_DENY"})` };
  }
  if (policy.mode === "off") return { allowed: true, rule: "EGRESS_POLICY=off" };
  for (const entry of policy.allow) {
    if (entryMatches(entry, target)) return { allowed: true, rule: `EGRESS_ALLOW ${entry.text}` };
  }
  for (const entry of policy.projectAllow) {
    if (entryMatches(entry, target) && policy.projectMax.some((max) => entryMatches(max, target))) {
      return { allowed: true, rule: `project allowlist ${entry.text}` };
    }
  }
  if (policy.mode === "allowlist") return { allowed: false, rule: "not in an allowlist (EGRESS_POLICY=allowlist)" };
  const special = specialRangeOf(target.address);
  if (special !== null) return { allowed: false, rule: `${special} address` };
  return { allowed: true, rule: "public address" };
}

/** Schemes a page may be navigated to that never reach the network. */
const LOCAL_PAGE_SCHEMES = new Set(["data:"]);
/** Schemes whose requests go to the network, through the egress proxy. */
const NETWORK_SCHEMES = new Set(["http:", "https:"]);

export interface UrlCheck {
  /** Refused by the scheme, or by an address the URL names literally. */
  allowed: boolean;
  /** The rule that decided (for a refusal: what to tell the user). */
  rule: string;
  /** The URL without credentials, for messages. */
  url: string;
}

/**
 * The part of the policy that can be decided from a URL alone, before any DNS: its scheme, and
 * its host when that is an address literal (in any spelling) or a `localhost` name. Used by the
 * API to refuse a recording up front (422) and by the runner before every navigation; the proxy
 * then checks the addresses names resolve to.
 */
export function checkUrl(policy: EgressPolicy, rawUrl: string): UrlCheck {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { allowed: false, rule: "not a valid absolute URL", url: rawUrl.slice(0, 200) };
  }
  const shown = stripCredentials(url);
  if (url.protocol === "about:" && url.pathname === "blank") return { allowed: true, rule: "about:blank", url: shown };
  if (LOCAL_PAGE_SCHEMES.has(url.protocol)) return { allowed: true, rule: `${url.protocol} page`, url: shown };
  if (!NETWORK_SCHEMES.has(url.protocol)) {
    return {
      allowed: false,
      rule: `scheme ${url.protocol} is not allowed (only http:, https:, data: and about:blank)`,
      url: shown,
    };
  }
  const host = url.hostname.endsWith(".") ? url.hostname.slice(0, -1) : url.hostname;
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  const address = literalAddress(host);
  if (address === null) return { allowed: true, rule: "a name: checked when it resolves", url: shown };
  const decision = decideEgress(policy, { host, address, port });
  return { allowed: decision.allowed, rule: decision.rule, url: shown };
}

/** The address a host stands for without DNS: an IP literal, or loopback for `localhost` names. */
export function literalAddress(host: string): IpAddress | null {
  const address = hostAddress(host);
  if (address !== null) return address;
  return isLocalhostName(host) ? { family: 4, bytes: new Uint8Array([127, 0, 0, 1]) } : null;
}

/** A URL for messages and logs: no username or password, no fragment. */
export function stripCredentials(url: URL | string): string {
  let parsed: URL;
  try {
    parsed = typeof url === "string" ? new URL(url) : new URL(url.href);
  } catch {
    return String(url).replace(/\/\/[^/@]*@/, "//");
  }
  parsed.username = "";
  parsed.password = "";
  parsed.hash = "";
  return parsed.href;
}

/** The policy of one project's runs: the operator's, plus the project's allowlist. */
export function withProjectAllow(policy: EgressPolicy, projectAllow: readonly string[]): EgressPolicy {
  const entries: EgressEntry[] = [];
  for (const text of projectAllow) {
    try {
      entries.push(parseEgressEntry(text));
    } catch {
      // Stored entries were validated when they were set; one that no longer parses opens nothing.
    }
  }
  return { ...policy, projectAllow: entries };
}

/**
 * Why a project may not have `entry` in its allowlist (null when it may): it must lie inside an
 * EGRESS_PROJECT_MAX entry — a CIDR inside one of its blocks (on its port, if it names one), a
 * host equal to (or under the wildcard of) one of its hosts. A project can never open what the
 * operator did not.
 */
export function projectEntryProblem(entry: EgressEntry, projectMax: readonly EgressEntry[]): string | null {
  if (projectMax.length === 0) {
    return "EGRESS_PROJECT_MAX is empty: projects may not add entries (the operator can allow more with EGRESS_PROJECT_MAX)";
  }
  const portFits = (max: EgressEntry) => max.port === undefined || max.port === entry.port;
  const fits = projectMax.some((max) => {
    if (!portFits(max)) return false;
    if (entry.cidr !== undefined && max.cidr !== undefined) return cidrContainsCidr(max.cidr, entry.cidr);
    if (entry.host !== undefined && max.host !== undefined) {
      if (max.host.startsWith("*.")) return entry.host.endsWith(max.host.slice(1));
      return entry.host === max.host;
    }
    // A host inside a block: allowed to be stored; the proxy allows it only where the address it
    // resolves to is inside the block too.
    return entry.host !== undefined && max.cidr !== undefined;
  });
  return fits ? null : `is outside what EGRESS_PROJECT_MAX allows (${projectMax.map((m) => m.text).join(", ")})`;
}

/**
 * The always-denied entries every policy starts with: cloud metadata, and the hosts and ports of
 * Conveyor's own Postgres, Redis and S3 endpoint (so an allowlist that opens their network still
 * never opens them).
 */
export function builtInDenyEntries(services: {
  databaseUrl?: string;
  redisUrl?: string;
  s3Endpoint?: string;
}): EgressEntry[] {
  const entries: EgressEntry[] = METADATA_DENY.map((text) => ({ ...parseEgressEntry(text), label: "cloud metadata" }));
  const defaults: Record<string, number> = {
    "postgres:": 5432,
    "postgresql:": 5432,
    "redis:": 6379,
    "rediss:": 6379,
    "http:": 80,
    "https:": 443,
  };
  for (const raw of [services.databaseUrl, services.redisUrl, services.s3Endpoint]) {
    if (raw === undefined) continue;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    const host = url.hostname.endsWith(".") ? url.hostname.slice(0, -1) : url.hostname;
    if (host === "") continue;
    const port = url.port === "" ? defaults[url.protocol] : Number(url.port);
    const text = port === undefined ? host : `${host}:${port}`;
    entries.push({ ...parseEgressEntry(text), label: "EGRESS_DENY" });
    // `localhost` as written also stands for its addresses.
    if (isLocalhostName(host)) {
      for (const loopback of ["127.0.0.1", "[::1]"]) {
        entries.push({
          ...parseEgressEntry(port === undefined ? loopback : `${loopback}:${port}`),
          label: "EGRESS_DENY",
        });
      }
    }
  }
  return entries;
}

/** Entries that open loopback: what the quick start adds to EGRESS_ALLOW when it is unset. */
export const LOOPBACK_ALLOW: readonly string[] = ["127.0.0.0/8", "::1"];

/**
 * No address restrictions, only the scheme rule: what a runner without an egress proxy applies
 * (local replay with `pnpm replay`, where the user is the only tenant).
 */
export const UNRESTRICTED_EGRESS: EgressPolicy = { mode: "off", deny: [], allow: [], projectAllow: [], projectMax: [] };
