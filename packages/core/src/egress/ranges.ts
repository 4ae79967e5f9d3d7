import { type Cidr, cidrContains, embeddedIpv4, type IpAddress, parseCidr } from "./ip.ts";

/**
 * Address ranges that are not public unicast (IANA's IPv4 and IPv6 special-purpose registries,
 * plus multicast and the reserved blocks). Under `EGRESS_POLICY=public` a recording may reach an
 * address only when it is in none of these, or an allowlist opens it.
 */
const SPECIAL_RANGES: readonly { cidr: string; label: string }[] = [
  { cidr: "0.0.0.0/8", label: "'this network' (0.0.0.0/8)" },
  { cidr: "10.0.0.0/8", label: "private (10.0.0.0/8, RFC 1918)" },
  { cidr: "100.64.0.0/10", label: "shared address space (100.64.0.0/10, CGNAT)" },
  { cidr: "127.0.0.0/8", label: "loopback (127.0.0.0/8)" },
  { cidr: "169.254.0.0/16", label: "link-local (169.254.0.0/16)" },
  { cidr: "172.16.0.0/12", label: "private (172.16.0.0/12, RFC 1918)" },
  { cidr: "192.0.0.0/24", label: "IETF protocol assignments (192.0.0.0/24)" },
  { cidr: "192.0.2.0/24", label: "documentation (192.0.2.0/24)" },
  { cidr: "192.88.99.0/24", label: "6to4 relay anycast (192.88.99.0/24)" },
  { cidr: "192.168.0.0/16", label: "private (192.168.0.0/16, RFC 1918)" },
  { cidr: "198.18.0.0/15", label: "benchmarking (198.18.0.0/15)" },
  { cidr: "198.51.100.0/24", label: "documentation (198.51.100.0/24)" },
  { cidr: "203.0.113.0/24", label: "documentation (203.0.113.0/24)" },
  { cidr: "224.0.0.0/4", label: "multicast (224.0.0.0/4)" },
  { cidr: "255.255.255.255/32", label: "broadcast (255.255.255.255)" },
  { cidr: "240.0.0.0/4", label: "reserved (240.0.0.0/4)" },
  { cidr: "::/128", label: "unspecified (::)" },
  { cidr: "::1/128", label: "loopback (::1)" },
  { cidr: "::ffff:0:0/96", label: "IPv4-mapped (::ffff:0:0/96)" },
  { cidr: "64:ff9b:1::/48", label: "local-use NAT64 (64:ff9b:1::/48)" },
  { cidr: "100::/64", label: "discard-only (100::/64)" },
  { cidr: "2001::/23", label: "IETF protocol assignments (2001::/23, incl. Teredo)" },
  { cidr: "2001:db8::/32", label: "documentation (2001:db8::/32)" },
  { cidr: "3fff::/20", label: "documentation (3fff::/20)" },
  { cidr: "5f00::/16", label: "segment routing (5f00::/16)" },
  { cidr: "fc00::/7", label: "unique local (fc00::/7)" },
  { cidr: "fe80::/10", label: "link-local (fe80::/10)" },
  { cidr: "fec0::/10", label: "site-local (fec0::/10)" },
  { cidr: "ff00::/8", label: "multicast (ff00::/8)" },
];

const PARSED: readonly { cidr: Cidr; label: string }[] = SPECIAL_RANGES.map((range) => {
  const cidr = parseCidr(range.cidr);
  if (!cidr) throw new Error(`bad special range ${range.cidr}`);
  return { cidr, label: range.label };
});

/**
 * Why `ip` is not public unicast (the range's label), or null when it is. An IPv6 form of an
 * IPv4 address (mapped, compatible, NAT64, 6to4) is judged by that IPv4 address: `::ffff:127.0.0.1`
 * is loopback, and `::ffff:8.8.8.8` public.
 */
export function specialRangeOf(ip: IpAddress): string | null {
  const v4 = embeddedIpv4(ip);
  if (v4 !== null) {
    const inner = specialRangeOf(v4);
    return inner === null ? null : `${inner} as IPv6`;
  }
  for (const range of PARSED) if (cidrContains(range.cidr, ip)) return range.label;
  return null;
}

/**
 * Cloud metadata services: always denied, whatever the allowlists say (they hand out the
 * machine's credentials). AWS, GCP, Azure, OpenStack, DigitalOcean and Oracle use
 * 169.254.169.254 (AWS also `fd00:ec2::254` over IPv6); ECS task metadata 169.254.170.2;
 * Alibaba 100.100.100.200; GCP's name for it `metadata.google.internal`.
 */
export const METADATA_DENY: readonly string[] = [
  "169.254.169.254",
  "169.254.170.2",
  "fd00:ec2::254",
  "100.100.100.200",
  "metadata.google.internal",
];
