/**
 * The forward proxy with real sockets: what a session lets through reaches its destination, what
 * it refuses never opens a connection there (a canary counts connections), and the address
 * connected to is the one that was checked.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type Canary, connectViaProxy, getViaProxy, startCanary, testPolicy } from "@conveyor/testing/egress";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EgressProxy, type EgressSession, REFUSAL_HEADER } from "../src/proxy.ts";
import { EgressBlockedError, EgressUnreachableError, egressRequest } from "../src/request.ts";
import type { LookupAll } from "../src/resolve.ts";

let canary: Canary;
let site: http.Server;
let sitePort: number;
let proxy: EgressProxy;
let lookups: string[] = [];
/** Names the test resolver knows; anything else does not resolve. */
const names: Record<string, string[]> = {};
const lookup: LookupAll = async (hostname) => {
  lookups.push(hostname);
  const addresses = names[hostname];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
  return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
};

beforeAll(async () => {
  canary = await startCanary();
  site = http.createServer((req, res) => {
    if (req.url === "/redirect") {
      res.writeHead(302, { location: `${canary.url}/` });
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": "text/plain", "x-seen-host": req.headers.host ?? "" });
    res.end(`site says hello from ${req.url}`);
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  sitePort = (site.address() as AddressInfo).port;
  proxy = await EgressProxy.start({ policy: testPolicy(`127.0.0.1:${sitePort}`), lookup });
});

afterAll(async () => {
  await proxy?.close();
  await canary?.close();
  await new Promise<void>((resolve) => (site ? site.close(() => resolve()) : resolve()));
});

async function withSession<T>(bind: boolean, use: (session: EgressSession) => Promise<T>): Promise<T> {
  const session = await proxy.openSession();
  if (bind) session.bind();
  try {
    return await use(session);
  } finally {
    await session.close();
  }
}

describe("plain HTTP through a session", () => {
  it("forwards an allowed request to the checked address with the original Host", async () => {
    await withSession(true, async (session) => {
      const response = await getViaProxy(session.server, `http://127.0.0.1:${sitePort}/page?x=1`);
      expect(response.status).toBe(200);
      expect(response.body).toBe("site says hello from /page?x=1");
      expect(response.headers["x-seen-host"]).toBe(`127.0.0.1:${sitePort}`);
      expect(session.takeRefusals().count).toBe(0);
    });
  });

  it("refuses a denied address with 403 and the rule, and never connects to it", async () => {
    const before = canary.hits;
    await withSession(true, async (session) => {
      const response = await getViaProxy(session.server, `http://user:pw@127.0.0.1:${canary.port}/x`);
      expect(response.status).toBe(403);
      expect(response.body).toContain("loopback (127.0.0.0/8) address");
      expect(response.body).not.toContain("pw");
      const id = response.headers[REFUSAL_HEADER];
      expect(typeof id).toBe("string");
      expect(session.refusal(String(id))).toMatchObject({ kind: "blocked", port: canary.port });
      const taken = session.takeRefusals();
      expect(taken.count).toBe(1);
      expect(taken.first[0]?.url).toBe(`http://127.0.0.1:${canary.port}/x`);
      expect(session.takeRefusals().count).toBe(0);
    });
    expect(canary.hits).toBe(before);
  });

  it("returns a redirect as it is: the next hop is a request of its own, checked again", async () => {
    const before = canary.hits;
    await withSession(true, async (session) => {
      const redirect = await getViaProxy(session.server, `http://127.0.0.1:${sitePort}/redirect`);
      expect(redirect.status).toBe(302);
      const next = await getViaProxy(session.server, String(redirect.headers.location));
      expect(next.status).toBe(403);
    });
    expect(canary.hits).toBe(before);
  });

  it("refuses everything in a session no run is bound to", async () => {
    await withSession(false, async (session) => {
      const response = await getViaProxy(session.server, `http://127.0.0.1:${sitePort}/`);
      expect(response.status).toBe(403);
      expect(response.body).toContain("no run is using this browser context");
    });
    const browserWide = await getViaProxy(proxy.browserProxyUrl, `http://127.0.0.1:${sitePort}/`);
    expect(browserWide.status).toBe(403);
  });

  it("answers 502 with Chromium's error name when an allowed destination does not answer", async () => {
    const closed = await freeClosedPort();
    const wide = await EgressProxy.start({ policy: testPolicy(`127.0.0.1:${closed}`), lookup });
    try {
      const session = await wide.openSession();
      session.bind();
      const response = await getViaProxy(session.server, `http://127.0.0.1:${closed}/`);
      expect(response.status).toBe(502);
      expect(session.refusal(String(response.headers[REFUSAL_HEADER]))).toMatchObject({
        kind: "unreachable",
        code: "ERR_CONNECTION_REFUSED",
      });
      // Unreachable is not blocked: not counted as a blocked request.
      expect(session.takeRefusals().count).toBe(0);
    } finally {
      await wide.close();
    }
  });
});

describe("tunnels (HTTPS, WebSocket)", () => {
  it("opens a tunnel to an allowed address", async () => {
    await withSession(true, async (session) => {
      const tunnel = await connectViaProxy(session.server, `127.0.0.1:${sitePort}`);
      expect(tunnel.statusLine).toBe("HTTP/1.1 200 Connection Established");
      const reply = await new Promise<string>((resolve) => {
        let text = "";
        tunnel.socket.on("data", (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes("hello")) resolve(text);
        });
        tunnel.socket.write(`GET /tunnelled HTTP/1.1\r\nHost: 127.0.0.1:${sitePort}\r\nConnection: close\r\n\r\n`);
      });
      expect(reply).toContain("site says hello from /tunnelled");
      tunnel.socket.destroy();
    });
  });

  it("refuses a tunnel to a denied address before it opens", async () => {
    const before = canary.hits;
    await withSession(true, async (session) => {
      for (const authority of [`127.0.0.1:${canary.port}`, `localhost:${canary.port}`, `[::1]:${canary.port}`]) {
        const tunnel = await connectViaProxy(session.server, authority);
        expect(tunnel.statusLine).toBe("HTTP/1.1 403 Forbidden");
        tunnel.socket.destroy();
      }
      expect(session.latestRefusalFor("[::1]", canary.port)).toMatchObject({ kind: "blocked" });
    });
    expect(canary.hits).toBe(before);
  });

  it("never lets a connection reach the proxy's own listeners, even where loopback is allowed", async () => {
    const open = await EgressProxy.start({ policy: testPolicy("127.0.0.0/8"), lookup });
    try {
      const session = await open.openSession();
      session.bind();
      const other = await open.openSession();
      const tunnel = await connectViaProxy(session.server, `127.0.0.1:${other.port}`);
      expect(tunnel.statusLine).toBe("HTTP/1.1 403 Forbidden");
      expect(session.latestRefusalFor("127.0.0.1", other.port)?.rule).toBe("the egress proxy itself");
      tunnel.socket.destroy();
    } finally {
      await open.close();
    }
  });
});

describe("names", () => {
  it("resolves once and connects to exactly the address it checked", async () => {
    names["site.test"] = ["127.0.0.1"];
    lookups = [];
    await withSession(true, async (session) => {
      const response = await getViaProxy(session.server, `http://site.test:${sitePort}/named`);
      expect(response.status).toBe(200);
      expect(response.headers["x-seen-host"]).toBe(`site.test:${sitePort}`);
    });
    expect(lookups).toEqual(["site.test"]);
  });

  it("refuses a name when any of its addresses is denied (rebinding to loopback, mixed answers)", async () => {
    names["rebind.test"] = ["93.184.216.34", "127.0.0.1"];
    const before = canary.hits;
    await withSession(true, async (session) => {
      const response = await getViaProxy(session.server, `http://rebind.test:${canary.port}/`);
      expect(response.status).toBe(403);
      expect(response.body).toContain("loopback");
    });
    expect(canary.hits).toBe(before);
  });

  it("treats *.localhost as loopback without asking DNS", async () => {
    lookups = [];
    await withSession(true, async (session) => {
      const response = await getViaProxy(session.server, `http://app.localhost:${canary.port}/`);
      expect(response.status).toBe(403);
    });
    expect(lookups).toEqual([]);
  });

  it("reports a name that does not resolve as ERR_NAME_NOT_RESOLVED", async () => {
    await withSession(true, async (session) => {
      const response = await getViaProxy(session.server, "http://nowhere.test/");
      expect(response.status).toBe(502);
      expect(response.body).toContain("ERR_NAME_NOT_RESOLVED");
    });
  });

  it("denies the addresses of always-denied hostnames on their ports", async () => {
    names["cache.internal"] = ["127.0.0.1"];
    const denying = await EgressProxy.start({
      policy: testPolicy("127.0.0.0/8", { EGRESS_DENY: `cache.internal:${canary.port}` }),
      lookup,
    });
    const before = canary.hits;
    try {
      const session = await denying.openSession();
      session.bind();
      const direct = await getViaProxy(session.server, `http://127.0.0.1:${canary.port}/`);
      expect(direct.status).toBe(403);
      expect(direct.body).toContain("always denied (EGRESS_DENY)");
      const other = await getViaProxy(session.server, `http://127.0.0.1:${sitePort}/`);
      expect(other.status).toBe(200);
    } finally {
      await denying.close();
    }
    expect(canary.hits).toBe(before);
  });
});

describe("egressRequest (webhook-style requests)", () => {
  it("refuses a denied destination without sending anything", async () => {
    const before = canary.hits;
    await expect(
      egressRequest(`${canary.url}/hook`, { policy: testPolicy(), method: "POST", body: "{}" }),
    ).rejects.toBeInstanceOf(EgressBlockedError);
    await expect(egressRequest("file:///etc/passwd", { policy: testPolicy() })).rejects.toThrow(/scheme file:/);
    await expect(egressRequest(`http://rebind.test:${canary.port}/`, { policy: testPolicy(), lookup })).rejects.toThrow(
      /loopback/,
    );
    expect(canary.hits).toBe(before);
  });

  it("sends to an allowed destination, keeps the first bytes, and does not follow redirects", async () => {
    const policy = testPolicy(`127.0.0.1:${sitePort}`);
    const response = await egressRequest(`http://127.0.0.1:${sitePort}/hook`, { policy, maxResponseBytes: 10 });
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe("site says ");
    expect(response.truncated).toBe(true);
    const redirect = await egressRequest(`http://127.0.0.1:${sitePort}/redirect`, { policy });
    expect(redirect.status).toBe(302);
  });

  it("reports an allowed destination that does not answer", async () => {
    const closed = await freeClosedPort();
    await expect(
      egressRequest(`http://127.0.0.1:${closed}/`, { policy: testPolicy(`127.0.0.1:${closed}`) }),
    ).rejects.toBeInstanceOf(EgressUnreachableError);
  });
});

/** A loopback port nothing listens on (bound, then released). */
async function freeClosedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
