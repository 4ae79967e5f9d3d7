import { describe, expect, it } from "vitest";
import { parseStartEnv } from "./env.ts";

describe("the quick start's environment", () => {
  it("listens on loopback and lets recordings open loopback unless told otherwise", () => {
    const env = parseStartEnv({});
    expect(env.HOST).toBe("127.0.0.1");
    expect(env.EGRESS_ALLOW?.map((entry) => entry.text)).toEqual(["127.0.0.0/8", "::1"]);
  });

  it("takes HOST and EGRESS_ALLOW as set", () => {
    const env = parseStartEnv({ HOST: "0.0.0.0", EGRESS_ALLOW: "93.184.216.0/24" });
    expect(env.HOST).toBe("0.0.0.0");
    expect(env.EGRESS_ALLOW?.map((entry) => entry.text)).toEqual(["93.184.216.0/24"]);
  });

  it("has the API's HTTP timeouts and their rule", () => {
    expect(parseStartEnv({}).HTTP_REQUEST_TIMEOUT_MS).toBe(30_000);
    expect(() => parseStartEnv({ HTTP_REQUEST_TIMEOUT_MS: "5000", HTTP_HEADERS_TIMEOUT_MS: "10000" })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS: must be at most HTTP_REQUEST_TIMEOUT_MS/,
    );
  });
});
