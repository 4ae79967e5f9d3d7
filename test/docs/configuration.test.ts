/**
 * Keeps docs/configuration.md in step with the env schemas: every variable a process parses is
 * documented, every documented variable is parsed, and each documented default is what the
 * parser produces when the variable is unset.
 */
import { readFileSync } from "node:fs";
import { commonEnvShape } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { apiEnvShape } from "../../packages/api/src/env.ts";
import { startEnvSchema } from "../../packages/cli/src/env.ts";
import { workerEnvShape } from "../../packages/worker/src/env.ts";

const DOC_PATH = new URL("../../docs/configuration.md", import.meta.url);
const TABLE_START = "<!-- env-table:start -->";
const TABLE_END = "<!-- env-table:end -->";

/** A variable's parser: a zod schema, of which only `parse` is used here. */
interface EnvParser {
  parse(input: unknown): unknown;
}

/** Every variable any process parses, with its parser (the first shape that defines it wins). */
function parsedVariables(): Map<string, EnvParser> {
  const shapes: Record<string, EnvParser>[] = [commonEnvShape, apiEnvShape, workerEnvShape, startEnvSchema.shape];
  const variables = new Map<string, EnvParser>();
  for (const shape of shapes) {
    for (const [name, schema] of Object.entries(shape)) {
      if (!variables.has(name)) variables.set(name, schema);
    }
  }
  return variables;
}

interface DocumentedVariable {
  name: string;
  /** The Default cell as written, e.g. "`3000`", "(none)", "(hostname-pid)". */
  defaultCell: string;
}

/** Rows of the main table, between the env-table markers. */
function documentedVariables(): DocumentedVariable[] {
  const text = readFileSync(DOC_PATH, "utf8");
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`docs/configuration.md must hold the main table between ${TABLE_START} and ${TABLE_END}`);
  }
  const rows: DocumentedVariable[] = [];
  for (const line of text.slice(start + TABLE_START.length, end).split("\n")) {
    const cells = line
      .trim()
      .replace(/^\||\|$/g, "")
      .split("|")
      .map((cell) => cell.trim());
    const match = /^`([A-Z][A-Z0-9_]*)`$/.exec(cells[0] ?? "");
    if (!match?.[1]) continue; // header, separator or blank line
    rows.push({ name: match[1], defaultCell: cells[1] ?? "" });
  }
  return rows;
}

describe("docs/configuration.md", () => {
  const parsed = parsedVariables();
  const documented = documentedVariables();
  const documentedNames = new Set(documented.map((row) => row.name));

  it("has a main table", () => {
    expect(documented.length).toBeGreaterThan(0);
  });

  it("documents every parsed variable", () => {
    const missing = [...parsed.keys()].filter((name) => !documentedNames.has(name));
    expect(missing, `parsed but not documented in docs/configuration.md: ${missing.join(", ")}`).toEqual([]);
  });

  it("documents only parsed variables", () => {
    const unknown = [...documentedNames].filter((name) => !parsed.has(name));
    expect(unknown, `documented but parsed by no env schema: ${unknown.join(", ")}`).toEqual([]);
  });

  it("documents each variable once", () => {
    const names = documented.map((row) => row.name);
    const twice = names.filter((name, index) => names.indexOf(name) !== index);
    expect(twice, `documented more than once: ${twice.join(", ")}`).toEqual([]);
  });

  it("documents the default the parser produces when a variable is unset", () => {
    const problems: string[] = [];
    for (const { name, defaultCell } of documented) {
      const schema = parsed.get(name);
      if (!schema) continue; // reported by "documents only parsed variables"
      const actual: unknown = schema.parse(undefined);
      if (defaultCell === "(none)") {
        if (actual !== undefined) problems.push(`${name}: documented (none), parser gives ${JSON.stringify(actual)}`);
        continue;
      }
      // Computed at runtime, e.g. (hostname-pid): described, not compared.
      if (/^\(.+\)$/.test(defaultCell)) continue;
      const literal = /^`([^`]*)`$/.exec(defaultCell)?.[1];
      if (literal === undefined) {
        problems.push(`${name}: Default must be a value in backticks or a (parenthesized) note, got "${defaultCell}"`);
      } else if (actual === undefined) {
        problems.push(`${name}: documented \`${literal}\`, parser gives no value (document it as (none))`);
      } else if (String(actual) !== literal) {
        problems.push(`${name}: documented \`${literal}\`, parser gives ${JSON.stringify(actual)}`);
      }
    }
    expect(problems, problems.join("\n")).toEqual([]);
  });
});
