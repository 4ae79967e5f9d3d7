import { z } from "zod";

/**
 * Helpers for the one `env.ts` each process has. Every variable is parsed once at start; a bad
 * value produces one line naming the variable, what was wrong and what is accepted.
 */

/** A boolean variable: accepts true/false, 1/0, yes/no, on/off (any case). "false" is false. */
export function envBoolean(defaultValue: boolean) {
  return envOptionalBoolean().transform((value) => value ?? defaultValue);
}

/** A boolean variable without a default: `undefined` when unset or empty (the caller derives one). */
export function envOptionalBoolean() {
  return z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === "") return undefined;
      if (["true", "1", "yes", "on"].includes(value)) return true;
      if (["false", "0", "no", "off"].includes(value)) return false;
      ctx.addIssue({ code: "custom", message: `expected true or false, got "${value}"` });
      return z.NEVER;
    });
}

/** An integer variable within [min, max], with a default when unset or empty. */
export function envInteger(defaultValue: number, min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return envOptionalInteger(min, max).transform((value) => value ?? defaultValue);
}

/** An integer variable within [min, max]: `undefined` when unset or empty (e.g. an optional port). */
export function envOptionalInteger(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === "") return undefined;
      if (!/^-?\d+$/.test(value)) {
        ctx.addIssue({ code: "custom", message: `expected a whole number, got "${value}"` });
        return z.NEVER;
      }
      const parsed = Number(value);
      if (parsed < min || parsed > max) {
        ctx.addIssue({ code: "custom", message: `expected a number from ${min} to ${max}, got ${parsed}` });
        return z.NEVER;
      }
      return parsed;
    });
}

/** A string variable with a default when unset or empty. */
export function envString(defaultValue: string) {
  return z
    .string()
    .trim()
    .optional()
    .transform((value) => (value === undefined || value === "" ? defaultValue : value));
}

/** An optional string variable: `undefined` when unset or empty. */
export function envOptionalString() {
  return z
    .string()
    .trim()
    .optional()
    .transform((value) => (value === undefined || value === "" ? undefined : value));
}

/** A URL variable with a default, whose scheme must be one of `protocols` (e.g. ["redis:", "rediss:"]). */
export function envUrl(protocols: string[], defaultValue: string) {
  return envOptionalUrl(protocols, defaultValue).transform((value) => value ?? defaultValue);
}

/** An optional URL variable whose scheme must be one of `protocols`. */
export function envOptionalUrl(protocols: string[], defaultValue?: string) {
  return z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      const raw = value === undefined || value === "" ? defaultValue : value;
      if (raw === undefined) return undefined;
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        ctx.addIssue({
          code: "custom",
          message: `expected a URL like ${protocols[0]}//host:port, got "${redactUrl(raw)}"`,
        });
        return z.NEVER;
      }
      if (!protocols.includes(url.protocol)) {
        ctx.addIssue({
          code: "custom",
          message: `expected a ${protocols.join(" or ")} URL, got "${redactUrl(raw)}"`,
        });
        return z.NEVER;
      }
      return raw;
    });
}

/** One of a fixed set of values (case-insensitive), with a default. */
export function envEnum<const T extends readonly [string, ...string[]]>(values: T, defaultValue: T[number]) {
  return z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((value, ctx): T[number] => {
      if (value === undefined || value === "") return defaultValue;
      if ((values as readonly string[]).includes(value)) return value as T[number];
      ctx.addIssue({ code: "custom", message: `expected one of ${values.join(", ")}, got "${value}"` });
      return z.NEVER;
    });
}

/** Hides the password of a connection URL before it reaches a message or a log. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return raw.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
  }
}

/** Thrown by {@link parseEnv}: `problems` has one line per bad variable. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
    this.name = "ConfigError";
  }
}

/**
 * Parses `env` with `schema` (an object of variable name → parser). Cross-field rules go in the
 * schema's own `superRefine`, with the variable name as the issue path.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join(".") || "environment";
    return `${name}: ${issue.message}`;
  });
  throw new ConfigError(problems);
}
