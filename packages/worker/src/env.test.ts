import { describe, expect, it } from "vitest";
import { parseWorkerEnv } from "./env.ts";

const BASE = { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test" };

describe("WORKER_PREPARE_NEXT_PAGE", () => {
  it("is on by default and can be turned off", () => {
    expect(parseWorkerEnv(BASE).WORKER_PREPARE_NEXT_PAGE).toBe(true);
    expect(parseWorkerEnv({ ...BASE, WORKER_PREPARE_NEXT_PAGE: "false" }).WORKER_PREPARE_NEXT_PAGE).toBe(false);
    expect(parseWorkerEnv({ ...BASE, WORKER_PREPARE_NEXT_PAGE: "0" }).WORKER_PREPARE_NEXT_PAGE).toBe(false);
  });

  it("names the variable when the value is not a boolean", () => {
    expect(() => parseWorkerEnv({ ...BASE, WORKER_PREPARE_NEXT_PAGE: "sometimes" })).toThrow(
      /WORKER_PREPARE_NEXT_PAGE: expected true or false, got "sometimes"/,
    );
  });
});

describe("CHROMIUM_SANDBOX", () => {
  it("is auto by default and accepts required and off", () => {
    expect(parseWorkerEnv(BASE).CHROMIUM_SANDBOX).toBe("auto");
    expect(parseWorkerEnv({ ...BASE, CHROMIUM_SANDBOX: "Required" }).CHROMIUM_SANDBOX).toBe("required");
    expect(parseWorkerEnv({ ...BASE, CHROMIUM_SANDBOX: "off" }).CHROMIUM_SANDBOX).toBe("off");
  });

  it("names the variable and what is accepted", () => {
    expect(() => parseWorkerEnv({ ...BASE, CHROMIUM_SANDBOX: "maybe" })).toThrow(
      /CHROMIUM_SANDBOX: expected one of auto, required, off, got "maybe"/,
    );
  });
});

describe("EGRESS_*", () => {
  it("default to the public policy with no lists: a worker never allows loopback unless told", () => {
    const env = parseWorkerEnv(BASE);
    expect(env.EGRESS_POLICY).toBe("public");
    expect(env.EGRESS_ALLOW).toBeUndefined();
    expect(env.EGRESS_DENY).toBeUndefined();
    expect(env.EGRESS_PROJECT_MAX).toBeUndefined();
  });

  it("parse comma-separated entries, normalized", () => {
    const env = parseWorkerEnv({ ...BASE, EGRESS_ALLOW: " 10.20.0.0/16 , Staging.Internal:8443,[fd00::/8]:443 " });
    expect(env.EGRESS_ALLOW?.map((entry) => entry.text)).toEqual([
      "10.20.0.0/16",
      "staging.internal:8443",
      "[fd00::/8]:443",
    ]);
  });

  it("stop the worker at start naming the variable and the bad entry", () => {
    expect(() => parseWorkerEnv({ ...BASE, EGRESS_ALLOW: "10.0.0.0/8,10.0.0.0/40" })).toThrow(
      /EGRESS_ALLOW: "10\.0\.0\.0\/40" is not a valid address or CIDR block: expected host, host:port/,
    );
    expect(() => parseWorkerEnv({ ...BASE, EGRESS_DENY: "api:http" })).toThrow(/EGRESS_DENY: "api:http" has a port/);
    expect(() => parseWorkerEnv({ ...BASE, EGRESS_POLICY: "closed" })).toThrow(
      /EGRESS_POLICY: expected one of public, allowlist, off/,
    );
  });
});

describe("failure detection settings", () => {
  it("default to a dead worker's runs handed back within about 25 s", () => {
    const env = parseWorkerEnv(BASE);
    expect(env.WORKER_DEAD_AFTER_MS).toBe(20_000);
    expect(env.RECONCILE_INTERVAL_MS).toBe(5000);
    expect(env.RECONCILE_GRACE_MS).toBe(10_000);
    expect(env.WORKER_STALLED_INTERVAL_MS).toBe(5000);
    expect(env.WORKER_LOCK_DURATION_MS).toBe(30_000);
  });

  it("names WORKER_DEAD_AFTER_MS when it is out of range", () => {
    expect(() => parseWorkerEnv({ ...BASE, WORKER_DEAD_AFTER_MS: "500" })).toThrow(/WORKER_DEAD_AFTER_MS/);
  });

  it("no longer ties the grace period to the lock duration", () => {
    expect(parseWorkerEnv({ ...BASE, RECONCILE_GRACE_MS: "5000" }).RECONCILE_GRACE_MS).toBe(5000);
  });
});

describe("notifications (PUBLIC_URL, NOTIFY_*, SMTP_*)", () => {
  it("default to the standard schedule, a 10 s attempt, no SMTP and no public URL", () => {
    const env = parseWorkerEnv(BASE);
    expect(env.NOTIFY_RETRY_SCHEDULE_MS).toBeUndefined();
    expect(env.NOTIFY_TIMEOUT_MS).toBe(10_000);
    expect(env.PUBLIC_URL).toBeUndefined();
    expect(env.SMTP_HOST).toBeUndefined();
    expect(env.SMTP_PORT).toBe(587);
    expect(env.SMTP_SECURE).toBe(false);
  });

  it("read a retry schedule as waits in ms, and name the variable when it is not one", () => {
    expect(parseWorkerEnv({ ...BASE, NOTIFY_RETRY_SCHEDULE_MS: "0, 200,300" }).NOTIFY_RETRY_SCHEDULE_MS).toEqual([
      0, 200, 300,
    ]);
    expect(() => parseWorkerEnv({ ...BASE, NOTIFY_RETRY_SCHEDULE_MS: "0,5s" })).toThrow(
      /NOTIFY_RETRY_SCHEDULE_MS: expected 1-20 comma-separated waits in ms/,
    );
    expect(() => parseWorkerEnv({ ...BASE, PUBLIC_URL: "conveyor.example.com" })).toThrow(/PUBLIC_URL/);
  });

  it("want SMTP_FROM with SMTP_HOST, and SMTP_USER with SMTP_PASSWORD", () => {
    expect(() => parseWorkerEnv({ ...BASE, SMTP_HOST: "smtp.example.com" })).toThrow(
      /SMTP_FROM: is required with SMTP_HOST/,
    );
    const smtp = { ...BASE, SMTP_HOST: "smtp.example.com", SMTP_FROM: "Conveyor <alerts@example.com>" };
    expect(parseWorkerEnv(smtp).SMTP_FROM).toBe("Conveyor <alerts@example.com>");
    expect(() => parseWorkerEnv({ ...smtp, SMTP_USER: "alerts" })).toThrow(
      /SMTP_PASSWORD: SMTP_USER and SMTP_PASSWORD go together/,
    );
  });
});
