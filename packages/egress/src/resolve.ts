import { lookup as dnsLookup } from "node:dns/promises";
import {
  decideEgress,
  type EgressPolicy,
  formatIp,
  type IpAddress,
  literalAddress,
  normalizeHost,
  parseIp,
} from "@conveyor/core";

/** A DNS lookup returning every address of a name (`dns.lookup` with `all: true`). */
export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

/** The system resolver (getaddrinfo: /etc/hosts, then DNS), every address, in its order. */
export const systemLookup: LookupAll = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Where a connection may go: the address to connect to (and nothing else), or why not.
 * `unreachable` carries Chromium's name for the failure, so a tenant sees the error it would see
 * without the proxy — and only for destinations the policy allows.
 */
export type ResolvedTarget =
  | { ok: true; host: string; address: string; family: 4 | 6; port: number; rule: string }
  | { ok: false; kind: "blocked"; host: string; port: number; rule: string }
  | { ok: false; kind: "unreachable"; host: string; port: number; code: string };

/**
 * Resolves `rawHost` and checks every address it resolves to against `policy`: one denied
 * address refuses the request (a name that answers with a public and a private address is not a
 * way in), and the caller must connect to exactly the returned `address`, so a DNS answer that
 * changes between check and connect (rebinding) cannot move the connection elsewhere.
 * `localhost` names resolve to loopback without DNS, as browsers do.
 */
export async function resolveTarget(
  policy: EgressPolicy,
  rawHost: string,
  port: number,
  lookup: LookupAll = systemLookup,
): Promise<ResolvedTarget> {
  const host = normalizeHost(rawHost);
  if (host === null) return { ok: false, kind: "blocked", host: rawHost, port, rule: "not a valid host" };
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    return { ok: false, kind: "blocked", host, port, rule: "not a valid port" };
  }
  let addresses: IpAddress[];
  const literal = literalAddress(host);
  if (literal !== null) {
    addresses = [literal];
  } else {
    try {
      const answers = await lookup(host);
      addresses = answers.map((answer) => parseIp(answer.address)).filter((ip): ip is IpAddress => ip !== null);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return {
        ok: false,
        kind: "unreachable",
        host,
        port,
        code: code === "ETIMEOUT" || code === "EAI_AGAIN" ? "ERR_NAME_RESOLUTION_FAILED" : "ERR_NAME_NOT_RESOLVED",
      };
    }
    if (addresses.length === 0) return { ok: false, kind: "unreachable", host, port, code: "ERR_NAME_NOT_RESOLVED" };
  }
  let chosen: { address: IpAddress; rule: string } | null = null;
  for (const address of addresses) {
    const decision = decideEgress(policy, { host, address, port });
    if (!decision.allowed) return { ok: false, kind: "blocked", host, port, rule: decision.rule };
    chosen ??= { address, rule: decision.rule };
  }
  if (chosen === null) return { ok: false, kind: "unreachable", host, port, code: "ERR_NAME_NOT_RESOLVED" };
  return { ok: true, host, address: formatIp(chosen.address), family: chosen.address.family, port, rule: chosen.rule };
}

/** Chromium's name for a failed connect (what a page would have seen without the proxy). */
export function connectErrorCode(error: unknown): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case "ECONNREFUSED":
      return "ERR_CONNECTION_REFUSED";
    case "ECONNRESET":
      return "ERR_CONNECTION_RESET";
    case "ETIMEDOUT":
      return "ERR_CONNECTION_TIMED_OUT";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "ERR_ADDRESS_UNREACHABLE";
    default:
      return "ERR_CONNECTION_FAILED";
  }
}
