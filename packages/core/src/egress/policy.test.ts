import { describe, expect, it } from "vitest";
import { egressPolicyFromEnv } from "../config.ts";
import { embeddedIpv4, formatIp, parseCidr, parseIp } from "./ip.ts";
import {
  checkUrl,
  decideEgress,
  type EgressPolicy,
  parseEgressEntry,
  parseEgressList,
  projectEntryProblem,
  withProjectAllow,
} from "./policy.ts";

/** The default policy of a worker whose Postgres, Redis and S3 live at these addresses. */
function policy(overrides: Partial<Record<string, string>> = {}): EgressPolicy {
  const env = {
    EGRESS_POLICY: (overrides.EGRESS_POLICY ?? "public") as EgressPolicy["mode"],
    EGRESS_ALLOW: parseEgressList(overrides.EGRESS_ALLOW),
    EGRESS_DENY: parseEgressList(overrides.EGRESS_DENY),
    EGRESS_PROJECT_MAX: parseEgressList(overrides.EGRESS_PROJECT_MAX),
    DATABASE_URL: "postgres://conveyor:pw@10.20.0.5:5432/conveyor",
    REDIS_URL: "redis://localhost:6379",
    S3_ENDPOINT: "http://minio.internal:9000",
  };
  return egressPolicyFromEnv(env);
}

const base = policy({ EGRESS_ALLOW: "10.20.0.0/16,staging.internal:8443" });

// [url, allowed?, a fragment of the rule]
const URL_TABLE: [string, boolean, string][] = [
  // Schemes
  ["http://93.184.216.34/", true, "public"],
  ["https://93.184.216.34/", true, "public"],
  ["HTTP://93.184.216.34/", true, "public"],
  ["https://example.com/login", true, "resolves"],
  ["about:blank", true, "about:blank"],
  ["data:text/html,<h1>hi</h1>", true, "data:"],
  ["file:///etc/passwd", false, "scheme file:"],
  ["FILE:///etc/passwd", false, "scheme file:"],
  ["file://localhost/etc/passwd", false, "scheme file:"],
  ["chrome://version", false, "scheme chrome:"],
  ["chrome-extension://abcdefghijklmnop/page.html", false, "scheme chrome-extension:"],
  ["view-source:http://93.184.216.34/", false, "scheme view-source:"],
  ["javascript:alert(document.cookie)", false, "scheme javascript:"],
  ["ftp://93.184.216.34/pub", false, "scheme ftp:"],
  ["ws://93.184.216.34/socket", false, "scheme ws:"],
  ["wss://127.0.0.1/socket", false, "scheme wss:"],
  ["blob:http://93.184.216.34/uuid", false, "scheme blob:"],
  ["about:config", false, "scheme about:"],
  ["not a url", false, "not a valid absolute URL"],
  // Loopback, in every spelling
  ["http://127.0.0.1/", false, "loopback"],
  ["http://127.0.0.1:5432/", false, "loopback"],
  ["http://127.1/", false, "loopback"],
  ["http://2130706433/", false, "loopback"],
  ["http://0x7f000001/", false, "loopback"],
  ["http://0x7f.1/", false, "loopback"],
  ["http://0177.0.0.1/", false, "loopback"],
  ["http://00000177.0.0.01/", false, "loopback"],
  ["http://127.000.000.001/", false, "loopback"],
  ["http://%31%32%37.0.0.1/", false, "loopback"],
  ["http://127.0.0.1./", false, "loopback"],
  ["http://127.255.255.254/", false, "loopback"],
  ["http://[::1]/", false, "loopback (::1)"],
  ["http://[0:0:0:0:0:0:0:1]/", false, "loopback (::1)"],
  ["http://[::ffff:127.0.0.1]/", false, "loopback (127.0.0.0/8) as IPv6"],
  ["http://[::ffff:7f00:1]/", false, "loopback"],
  ["http://[::127.0.0.1]/", false, "loopback"],
  ["http://[64:ff9b::127.0.0.1]/", false, "loopback"],
  ["http://[2002:7f00:1::]/", false, "loopback"],
  ["http://localhost/", false, "loopback"],
  ["http://LOCALHOST./", false, "loopback"],
  ["http://app.localhost:3000/", false, "loopback"],
  // Userinfo tricks: the host is what counts, and credentials never reach messages
  ["http://allowed.example.com@127.0.0.1/", false, "loopback"],
  ["http://user:pass@127.0.0.1:6379/", false, "always denied (EGRESS_DENY)"],
  ["http://user:pass@127.0.0.1:6380/", false, "loopback"],
  ["http://127.0.0.1@93.184.216.34/", true, "public"],
  // This network, private, CGNAT, link-local, metadata
  ["http://0.0.0.0/", false, "this network"],
  ["http://0/", false, "this network"],
  ["http://[::]/", false, "unspecified"],
  ["http://10.0.0.1/", false, "private (10.0.0.0/8"],
  ["http://0xa000001/", false, "private (10.0.0.0/8"],
  ["http://172.16.0.1/", false, "private (172.16.0.0/12"],
  ["http://172.31.255.255/", false, "private (172.16.0.0/12"],
  ["http://172.32.0.1/", true, "public"],
  ["http://192.168.1.1/", false, "private (192.168.0.0/16"],
  ["http://[::ffff:192.168.1.1]/", false, "private (192.168.0.0/16"],
  ["http://100.64.0.1/", false, "CGNAT"],
  ["http://100.127.255.254/", false, "CGNAT"],
  ["http://100.128.0.1/", true, "public"],
  ["http://169.254.1.1/", false, "link-local"],
  ["http://169.254.169.254/latest/meta-data/iam/security-credentials/", false, "cloud metadata"],
  ["http://2852039166/latest/meta-data/", false, "cloud metadata"],
  ["http://[::ffff:169.254.169.254]/", false, "cloud metadata"],
  ["http://[fd00:ec2::254]/", false, "cloud metadata"],
  ["http://169.254.170.2/v2/credentials", false, "cloud metadata"],
  ["http://100.100.100.200/latest/meta-data/", false, "cloud metadata"],
  // Multicast, broadcast, reserved, documentation, benchmarking
  ["http://224.0.0.1/", false, "multicast"],
  ["http://239.255.255.250/", false, "multicast"],
  ["http://255.255.255.255/", false, "broadcast"],
  ["http://240.0.0.1/", false, "reserved"],
  ["http://192.0.2.1/", false, "documentation"],
  ["http://198.18.0.1/", false, "benchmarking"],
  // IPv6 ranges
  ["http://[fc00::1]/", false, "unique local"],
  ["http://[fd12:3456::1]/", false, "unique local"],
  ["http://[fe80::1]/", false, "link-local (fe80::/10)"],
  ["http://[ff02::1]/", false, "multicast (ff00::/8)"],
  ["http://[2001:db8::1]/", false, "documentation"],
  ["http://[2001:0::1]/", false, "Teredo"],
  ["http://[2606:4700:4700::1111]/", true, "public"],
  ["http://[::ffff:8.8.8.8]/", true, "public"],
  ["http://[64:ff9b::8.8.8.8]/", true, "public"],
  // The operator's allowlist, and the always-denied list that beats it
  ["http://10.20.3.4/", true, "EGRESS_ALLOW 10.20.0.0/16"],
  ["http://10.20.3.4:8080/", true, "EGRESS_ALLOW 10.20.0.0/16"],
  ["http://[::ffff:10.20.3.4]/", true, "EGRESS_ALLOW 10.20.0.0/16"],
  ["http://10.21.0.1/", false, "private (10.0.0.0/8"],
  ["http://10.20.0.5:5432/", false, "always denied (EGRESS_DENY)"],
  ["http://10.20.0.5:80/", true, "EGRESS_ALLOW"],
];

describe("checkUrl over a table of URLs and address spellings", () => {
  it("has at least 60 rows", () => {
    expect(URL_TABLE.length).toBeGreaterThanOrEqual(60);
  });

  it.each(URL_TABLE)("%s → allowed %s (%s)", (url, allowed, rule) => {
    const check = checkUrl(base, url);
    expect(check.allowed).toBe(allowed);
    expect(check.rule).toContain(rule);
    expect(check.url).not.toMatch(/:pass@|allowed\.example\.com@/);
  });
});

// Names are checked by the address they resolve to (the proxy's job): [host, address, port, allowed, rule]
const RESOLVED_TABLE: [string, string, number, boolean, string][] = [
  ["example.com", "93.184.216.34", 443, true, "public"],
  ["rebind.example.com", "127.0.0.1", 80, false, "loopback"],
  ["rebind.example.com", "::ffff:127.0.0.1", 80, false, "loopback"],
  ["internal.example.com", "10.0.0.8", 80, false, "private"],
  ["metadata.google.internal", "169.254.169.254", 80, false, "cloud metadata"],
  ["metadata.google.internal", "8.8.8.8", 80, false, "cloud metadata"],
  ["staging.internal", "10.99.0.1", 8443, true, "EGRESS_ALLOW staging.internal:8443"],
  ["staging.internal", "10.99.0.1", 443, false, "private"],
  ["localhost", "127.0.0.1", 6379, false, "always denied"],
  ["minio.internal", "10.20.0.9", 9000, false, "always denied"],
  ["minio.internal", "10.20.0.9", 9001, true, "EGRESS_ALLOW 10.20.0.0/16"],
];

describe("decideEgress on resolved addresses", () => {
  it.each(RESOLVED_TABLE)("%s at %s:%i → allowed %s", (host, address, port, allowed, rule) => {
    const ip = parseIp(address);
    if (ip === null) throw new Error(`bad address ${address}`);
    const decision = decideEgress(base, { host, address: ip, port });
    expect(decision.allowed).toBe(allowed);
    expect(decision.rule).toContain(rule);
  });
});

describe("modes", () => {
  it("off allows private addresses but never the always-denied ones", () => {
    const off = policy({ EGRESS_POLICY: "off" });
    expect(checkUrl(off, "http://10.1.2.3/").allowed).toBe(true);
    expect(checkUrl(off, "http://127.0.0.1:3000/").allowed).toBe(true);
    expect(checkUrl(off, "http://169.254.169.254/").allowed).toBe(false);
    expect(checkUrl(off, "http://127.0.0.1:6379/").allowed).toBe(false);
    expect(checkUrl(off, "file:///etc/passwd").allowed).toBe(false);
  });

  it("allowlist refuses public addresses outside the lists", () => {
    const strict = policy({ EGRESS_POLICY: "allowlist", EGRESS_ALLOW: "93.184.216.0/24" });
    expect(checkUrl(strict, "http://93.184.216.34/").allowed).toBe(true);
    const other = checkUrl(strict, "http://8.8.8.8/");
    expect(other).toMatchObject({ allowed: false, rule: expect.stringContaining("allowlist") });
  });

  it("EGRESS_DENY adds to the built-in entries and beats EGRESS_ALLOW", () => {
    const p = policy({ EGRESS_ALLOW: "10.0.0.0/8", EGRESS_DENY: "10.9.0.0/16,api.internal" });
    expect(checkUrl(p, "http://10.8.0.1/").allowed).toBe(true);
    expect(checkUrl(p, "http://10.9.0.1/").rule).toBe("always denied (EGRESS_DENY)");
    const ip = parseIp("10.8.0.1");
    if (ip === null) throw new Error("bad address");
    expect(decideEgress(p, { host: "api.internal", address: ip, port: 3000 }).allowed).toBe(false);
    expect(checkUrl(p, "http://169.254.169.254/").rule).toBe("always denied (cloud metadata)");
  });
});

describe("project allowlists", () => {
  const max = policy({ EGRESS_PROJECT_MAX: "10.50.0.0/16,*.staging.example" });

  it("open only what EGRESS_PROJECT_MAX also allows", () => {
    const project = withProjectAllow(max, ["10.50.1.0/24", "app.staging.example"]);
    expect(checkUrl(project, "http://10.50.1.7/")).toMatchObject({
      allowed: true,
      rule: "project allowlist 10.50.1.0/24",
    });
    expect(checkUrl(project, "http://10.50.2.7/").allowed).toBe(false);
    // A project host entry under a CIDR maximum opens the name only where it resolves inside it.
    const byBlock = withProjectAllow(policy({ EGRESS_PROJECT_MAX: "10.50.0.0/16" }), ["app.staging.example"]);
    const outside = parseIp("10.60.0.1");
    const inside = parseIp("10.50.0.3");
    if (outside === null || inside === null) throw new Error("bad address");
    expect(decideEgress(byBlock, { host: "app.staging.example", address: outside, port: 443 }).allowed).toBe(false);
    expect(decideEgress(byBlock, { host: "app.staging.example", address: inside, port: 443 }).allowed).toBe(true);
    // Stored entries from before EGRESS_PROJECT_MAX shrank open nothing either.
    const shrunk = withProjectAllow(policy(), ["10.50.1.0/24"]);
    expect(checkUrl(shrunk, "http://10.50.1.7/").allowed).toBe(false);
  });

  it("another project's policy does not have them", () => {
    expect(checkUrl(withProjectAllow(max, []), "http://10.50.1.7/").allowed).toBe(false);
  });

  it("are refused when set beyond EGRESS_PROJECT_MAX", () => {
    const limits = parseEgressList("10.50.0.0/16,*.staging.example,db.internal:5432");
    expect(projectEntryProblem(parseEgressEntry("10.50.3.0/24"), limits)).toBeNull();
    expect(projectEntryProblem(parseEgressEntry("10.50.3.0/24:8080"), limits)).toBeNull();
    expect(projectEntryProblem(parseEgressEntry("api.staging.example"), limits)).toBeNull();
    expect(projectEntryProblem(parseEgressEntry("db.internal:5432"), limits)).toBeNull();
    expect(projectEntryProblem(parseEgressEntry("10.0.0.0/8"), limits)).toMatch(/outside/);
    expect(projectEntryProblem(parseEgressEntry("127.0.0.1"), limits)).toMatch(/outside/);
    const hostsOnly = parseEgressList("db.internal:5432");
    expect(projectEntryProblem(parseEgressEntry("db.internal:6379"), hostsOnly)).toMatch(/outside/);
    expect(projectEntryProblem(parseEgressEntry("cache.internal"), hostsOnly)).toMatch(/outside/);
    expect(projectEntryProblem(parseEgressEntry("10.50.3.0/24"), [])).toMatch(/EGRESS_PROJECT_MAX is empty/);
  });
});

describe("entries", () => {
  it.each([
    ["10.20.0.0/16", "10.20.0.0/16"],
    ["10.20.1.1/16", "10.20.0.0/16"],
    ["10.20.0.0/16:5432", "10.20.0.0/16:5432"],
    ["Staging.Internal.:8443", "staging.internal:8443"],
    ["*.Example.com", "*.example.com"],
    ["fd00::/8", "fd00::/8"],
    ["[fd00::/8]:443", "[fd00::/8]:443"],
    ["[::1]:3000", "[::1]:3000"],
    ["::1", "::1"],
    ["192.168.0.7", "192.168.0.7"],
  ])("%s parses as %s", (text, normalized) => {
    expect(parseEgressEntry(text).text).toBe(normalized);
  });

  it.each(["", "10.0.0.0/33", "host:0", "host:99999", "host:abc", "a b", "http://x/", "1.2.3.4.5", "*", "user@host"])(
    "%j is refused with what is accepted",
    (text) => {
      expect(() => parseEgressEntry(text)).toThrow(/expected host, host:port/);
    },
  );
});

describe("addresses", () => {
  it.each([
    ["::ffff:127.0.0.1", "127.0.0.1"],
    ["::127.0.0.1", "127.0.0.1"],
    ["64:ff9b::a00:1", "10.0.0.1"],
    ["2002:a9fe:a9fe::1", "169.254.169.254"],
  ])("%s carries %s", (v6, v4) => {
    const ip = parseIp(v6);
    if (ip === null) throw new Error("bad address");
    const inner = embeddedIpv4(ip);
    expect(inner && formatIp(inner)).toBe(v4);
  });

  it("formats IPv6 compressed, and masks CIDRs", () => {
    const ip = parseIp("fd00:0:0:0:0:0:0:1");
    expect(ip && formatIp(ip)).toBe("fd00::1");
    const cidr = parseCidr("10.1.2.3/8");
    expect(cidr && formatIp(cidr.address)).toBe("10.0.0.0");
    expect(parseIp("1.2.3")).toBeNull();
    expect(parseIp("1:2:3:4:5:6:7:8:9")).toBeNull();
    expect(parseIp("::1::")).toBeNull();
  });
});
