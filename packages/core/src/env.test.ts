import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ConfigError,
  envBoolean,
  envEnum,
  envInteger,
  envOptionalInteger,
  envOptionalUrl,
  envString,
  envUrl,
  parseEnv,
  redactUrl,
} from "./env.ts";

/** The ConfigError `parseEnv` throws for `env`; fails the test when it does not throw one. */
function configErrorOf(schema: z.ZodType, env: Record<string, string | undefined>): ConfigError {
  try {
    parseEnv(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected parseEnv to throw a ConfigError");
}

describe("envBoolean", () => {
  const schema = z.object({ FLAG: envBoolean(true) });

  it.each([
    ["false", false],
    ["FALSE", false],
    ["0", false],
    ["no", false],
    ["off", false],
    ["true", true],
    ["1", true],
    ["yes", true],
    [" Yes ", true],
    ["on", true],
  ])("reads %j as %s", (raw, expected) => {
    expect(parseEnv(schema, { FLAG: raw }).FLAG).toBe(expected);
  });

  it("falls back to the default when unset or empty", () => {
    expect(parseEnv(schema, {}).FLAG).toBe(true);
    expect(parseEnv(schema, { FLAG: "" }).FLAG).toBe(true);
    expect(parseEnv(z.object({ FLAG: envBoolean(false) }), {}).FLAG).toBe(false);
  });

  it("rejects garbage with a ConfigError naming the variable", () => {
    const error = configErrorOf(schema, { FLAG: "maybe" });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^FLAG: /);
    expect(error.problems[0]).toContain('"maybe"');
    expect(error.message).toContain("FLAG");
  });
});

describe("envInteger", () => {
  const schema = z.object({ PORT: envInteger(3000, 1, 65_535) });

  it("parses whole numbers within bounds, inclusive", () => {
    expect(parseEnv(schema, { PORT: "8080" }).PORT).toBe(8080);
    expect(parseEnv(schema, { PORT: "1" }).PORT).toBe(1);
    expect(parseEnv(schema, { PORT: "65535" }).PORT).toBe(65_535);
    expect(parseEnv(schema, { PORT: " 42 " }).PORT).toBe(42);
  });

  it("uses the default when unset or empty", () => {
    expect(parseEnv(schema, {}).PORT).toBe(3000);
    expect(parseEnv(schema, { PORT: "" }).PORT).toBe(3000);
  });

  it.each(["0", "65536", "-1"])("rejects %s as out of bounds, naming the variable and the range", (raw) => {
    const error = configErrorOf(schema, { PORT: raw });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^PORT: /);
    expect(error.problems[0]).toContain("from 1 to 65535");
  });

  it.each(["abc", "12abc", "1.5", "1e3", "0x10"])("rejects the non-integer %j", (raw) => {
    const error = configErrorOf(schema, { PORT: raw });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^PORT: expected a whole number/);
  });
});

describe("envOptionalInteger", () => {
  const schema = z.object({ METRICS_PORT: envOptionalInteger(0, 65_535) });

  it("is undefined when unset or empty, a number otherwise", () => {
    expect(parseEnv(schema, {}).METRICS_PORT).toBeUndefined();
    expect(parseEnv(schema, { METRICS_PORT: "" }).METRICS_PORT).toBeUndefined();
    expect(parseEnv(schema, { METRICS_PORT: "9464" }).METRICS_PORT).toBe(9464);
  });

  it.each([
    ["65536", "from 0 to 65535"],
    ["nine", "expected a whole number"],
  ])("rejects %j naming the variable", (raw, message) => {
    const error = configErrorOf(schema, { METRICS_PORT: raw });
    expect(error.problems).toEqual([expect.stringMatching(new RegExp(`^METRICS_PORT: .*${message}`))]);
  });
});

describe("envString", () => {
  it("trims and defaults", () => {
    const schema = z.object({ NAME: envString("conveyor") });
    expect(parseEnv(schema, {}).NAME).toBe("conveyor");
    expect(parseEnv(schema, { NAME: "  " }).NAME).toBe("conveyor");
    expect(parseEnv(schema, { NAME: " x " }).NAME).toBe("x");
  });
});

describe("envUrl", () => {
  const schema = z.object({ REDIS_URL: envUrl(["redis:", "rediss:"], "redis://127.0.0.1:6379") });

  it("accepts the allowed schemes and defaults when unset", () => {
    expect(parseEnv(schema, {}).REDIS_URL).toBe("redis://127.0.0.1:6379");
    expect(parseEnv(schema, { REDIS_URL: "rediss://cache:6380/2" }).REDIS_URL).toBe("rediss://cache:6380/2");
  });

  it("rejects a wrong scheme, naming the variable and never printing the password", () => {
    const error = configErrorOf(schema, { REDIS_URL: "http://admin:hunter2secret@cache:6379" });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^REDIS_URL: /);
    expect(error.problems[0]).toContain("redis: or rediss:");
    expect(error.problems[0]).toContain("admin:***@cache");
    expect(error.message).not.toContain("hunter2secret");
  });

  it("rejects something that is not a URL, still redacting a password", () => {
    const error = configErrorOf(schema, { REDIS_URL: "redis//admin:hunter2secret@cache" });
    expect(error.problems[0]).toMatch(/^REDIS_URL: expected a URL/);
    expect(error.message).not.toContain("hunter2secret");
  });

  it("envOptionalUrl is undefined when unset", () => {
    const optional = z.object({ DATABASE_URL: envOptionalUrl(["postgres:"]) });
    expect(parseEnv(optional, {}).DATABASE_URL).toBeUndefined();
    expect(parseEnv(optional, { DATABASE_URL: "postgres://u@h/db" }).DATABASE_URL).toBe("postgres://u@h/db");
  });

  it("redactUrl hides only the password", () => {
    expect(redactUrl("postgres://user:pa55@db:5432/x")).toBe("postgres://user:***@db:5432/x");
    expect(redactUrl("postgres://user@db:5432/x")).toBe("postgres://user@db:5432/x");
  });
});

describe("envEnum", () => {
  const schema = z.object({ LOG_LEVEL: envEnum(["debug", "info", "warn"] as const, "info") });

  it("accepts a listed value in any case and defaults when unset", () => {
    expect(parseEnv(schema, { LOG_LEVEL: "WARN" }).LOG_LEVEL).toBe("warn");
    expect(parseEnv(schema, {}).LOG_LEVEL).toBe("info");
  });

  it("rejects another value, listing what is accepted", () => {
    const error = configErrorOf(schema, { LOG_LEVEL: "loud" });
    expect(error.problems).toEqual(['LOG_LEVEL: expected one of debug, info, warn, got "loud"']);
  });
});

describe("parseEnv", () => {
  const schema = z
    .object({
      PORT: envInteger(3000, 1, 65_535),
      DEBUG: envBoolean(false),
      REDIS_URL: envUrl(["redis:"], "redis://127.0.0.1:6379"),
      TOKEN: envString(""),
    })
    .superRefine((env, ctx) => {
      if (env.TOKEN !== "" && env.TOKEN.length < 8) {
        ctx.addIssue({ code: "custom", path: ["TOKEN"], message: "must be at least 8 characters" });
      }
    });

  it("returns typed values", () => {
    expect(parseEnv(schema, { PORT: "80", DEBUG: "false" })).toEqual({
      PORT: 80,
      DEBUG: false,
      REDIS_URL: "redis://127.0.0.1:6379",
      TOKEN: "",
    });
  });

  it("lists one line per bad variable when several are bad", () => {
    const error = configErrorOf(schema, { PORT: "nope", DEBUG: "perhaps", REDIS_URL: "ftp://x" });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("ConfigError");
    expect(error.problems).toHaveLength(3);
    expect(error.problems.map((p) => p.split(":")[0]).sort()).toEqual(["DEBUG", "PORT", "REDIS_URL"]);
    const lines = error.message.split("\n");
    expect(lines[0]).toBe("Invalid configuration:");
    expect(lines.slice(1)).toHaveLength(3);
    for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}- (PORT|DEBUG|REDIS_URL): /);
  });

  it("reports cross-field rules under the variable's name", () => {
    const error = configErrorOf(schema, { TOKEN: "short" });
    expect(error.problems).toEqual(["TOKEN: must be at least 8 characters"]);
  });
});
