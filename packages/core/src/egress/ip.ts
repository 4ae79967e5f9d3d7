/**
 * IP addresses and CIDR blocks as bytes, for the egress policy. Pure: no DNS, no sockets.
 *
 * Hostnames reach these functions after WHATWG URL parsing (`new URL`), which is what Chromium
 * does too: decimal (`2130706433`), octal (`0177.0.0.1`), hex (`0x7f.1`) and short (`127.1`)
 * IPv4 spellings all come out as a dotted quad, and IPv6 in its compressed form. So the parser
 * here only has to accept canonical text; `normalizeHost` does the rest.
 */

export interface IpAddress {
  family: 4 | 6;
  /** 4 bytes for IPv4, 16 for IPv6, network order. */
  bytes: Uint8Array;
}

export interface Cidr {
  address: IpAddress;
  /** Prefix length: 0–32 for IPv4, 0–128 for IPv6. */
  prefix: number;
}

/** A dotted-quad IPv4 address (four decimal parts 0–255), or null. */
export function parseIpv4(text: string): IpAddress | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes[i] = value;
  }
  return { family: 4, bytes };
}

/** An IPv6 address (brackets and a `%zone` allowed, an embedded dotted quad too), or null. */
export function parseIpv6(text: string): IpAddress | null {
  let body = text;
  if (body.startsWith("[") && body.endsWith("]")) body = body.slice(1, -1);
  const zone = body.indexOf("%");
  if (zone !== -1) body = body.slice(0, zone);
  if (!body.includes(":") || !/^[0-9a-fA-F:.]+$/.test(body)) return null;

  // A trailing dotted quad stands for the last two groups.
  let tail: number[] = [];
  const lastColon = body.lastIndexOf(":");
  const last = body.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = parseIpv4(last);
    if (!v4) return null;
    tail = [((v4.bytes[0] ?? 0) << 8) | (v4.bytes[1] ?? 0), ((v4.bytes[2] ?? 0) << 8) | (v4.bytes[3] ?? 0)];
    // Two placeholder groups, overwritten with the dotted quad's once the groups are parsed.
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (half: string): number[] | null => {
    if (half === "") return [];
    const groups: number[] = [];
    for (const group of half.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
      groups.push(Number.parseInt(group, 16));
    }
    return groups;
  };
  const head = groupsOf(halves[0] ?? "");
  const rest = halves.length === 2 ? groupsOf(halves[1] ?? "") : [];
  if (head === null || rest === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  if (tail.length === 2) {
    groups[6] = tail[0] ?? 0;
    groups[7] = tail[1] ?? 0;
  }
  const bytes = new Uint8Array(16);
  for (const [i, group] of groups.entries()) {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  }
  return { family: 6, bytes };
}

/** An IPv4 or IPv6 address in canonical text (IPv6 may be bracketed), or null. */
export function parseIp(text: string): IpAddress | null {
  return parseIpv4(text) ?? parseIpv6(text);
}

/** Text form: dotted quad, or compressed IPv6 (RFC 5952). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return Array.from(ip.bytes).join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i] ?? 0) << 8) | (ip.bytes[i + 1] ?? 0));
  // The longest run of two or more zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/**
 * The IPv4 address an IPv6 address carries, where the IPv6 form is only a way of writing (or
 * reaching) that IPv4 address: IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`
 * (deprecated, but still routed by some stacks), NAT64 `64:ff9b::a.b.c.d`, and 6to4
 * `2002:aabb:ccdd::/48`. Null otherwise.
 */
export function embeddedIpv4(ip: IpAddress): IpAddress | null {
  if (ip.family !== 6) return null;
  const b = ip.bytes;
  const zeros = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  const last4 = (): IpAddress => ({ family: 4, bytes: b.slice(12, 16) });
  // ::ffff:a.b.c.d
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return last4();
  // ::a.b.c.d, except :: and ::1, which are IPv6's own unspecified and loopback addresses.
  if (zeros(0, 12) && !(zeros(12, 15) && (b[15] === 0 || b[15] === 1))) return last4();
  // 64:ff9b::a.b.c.d (NAT64, RFC 6052)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return last4();
  // 2002:AABB:CCDD::/48 (6to4, RFC 3056)
  if (b[0] === 0x20 && b[1] === 0x02) return { family: 4, bytes: b.slice(2, 6) };
  return null;
}

/** Parses `a.b.c.d/n` or `v6/n` (a bare address is a /32 or /128). The address is masked to the prefix. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const address = parseIp(addressText);
  if (!address) return null;
  const max = address.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) return null;
    prefix = Number(prefixText);
    if (prefix > max) return null;
  }
  return { address: { family: address.family, bytes: maskBytes(address.bytes, prefix) }, prefix };
}

/** `a.b.c.d/n`; a single address (a /32 or /128) without its prefix. */
export function formatCidr(cidr: Cidr): string {
  const full = cidr.address.family === 4 ? 32 : 128;
  return cidr.prefix === full ? formatIp(cidr.address) : `${formatIp(cidr.address)}/${cidr.prefix}`;
}

/** Whether `ip` lies in `cidr` (same family only: map IPv6 forms to IPv4 first). */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.address.family !== ip.family) return false;
  const masked = maskBytes(ip.bytes, cidr.prefix);
  return masked.every((byte, i) => byte === cidr.address.bytes[i]);
}

/** Whether every address of `inner` lies in `outer`. */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, inner.address);
}

function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = bits === 0 ? 0 : (bytes[i] ?? 0) & (0xff << (8 - bits));
  }
  return out;
}

/**
 * A host as Chromium will use it: lowercased, IDNA-mapped, IPv4 spellings made dotted quads,
 * IPv6 compressed and bracketed, a trailing dot dropped. Null when it is not a valid host.
 */
export function normalizeHost(host: string): string | null {
  if (host === "") return null;
  let parsed: URL;
  try {
    parsed = new URL(`http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}/`);
  } catch {
    return null;
  }
  // Userinfo, a port or a path slipped in with the host: not a host.
  if (parsed.username || parsed.password || parsed.port || parsed.pathname !== "/") return null;
  const hostname = parsed.hostname;
  return hostname.endsWith(".") ? hostname.slice(0, -1) : hostname;
}

/** Whether a (normalized) hostname is `localhost` or under `.localhost`, which browsers resolve to loopback themselves. */
export function isLocalhostName(host: string): boolean {
  return host === "localhost" || host.endsWith(".localhost");
}

/** The address a normalized host is written as (`1.2.3.4`, `[::1]`), or null for a name. */
export function hostAddress(host: string): IpAddress | null {
  if (host.startsWith("[")) return parseIpv6(host);
  return parseIpv4(host);
}
