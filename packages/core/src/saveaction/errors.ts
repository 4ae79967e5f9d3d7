import type { z } from "zod";

/** One thing wrong with an uploaded recording: where (`actions[3].selector`) and what. */
export interface ImportIssue {
  /** Dotted path into the uploaded body, array indexes in brackets; `(root)` for the body itself. */
  path: string;
  message: string;
}

/**
 * The uploaded body is not a recording we can import. `issues` lists every problem found (capped
 * at {@link MAX_REPORTED_ISSUES}); the message names the first ones, so a log line alone says
 * what to fix. The API answers it with `validation_failed` and the issues as details.
 */
export class RecordingImportError extends Error {
  readonly issues: ImportIssue[];
  /**
   * The body is in no format the importers recognise: the message says what it looks like and
   * what is accepted, and is worth more than any field path (the API leads with it).
   */
  readonly unknownFormat: boolean;

  constructor(summary: string, issues: ImportIssue[], options: { unknownFormat?: boolean } = {}) {
    super(describeIssues(summary, issues));
    this.name = "RecordingImportError";
    this.issues = issues;
    this.unknownFormat = options.unknownFormat ?? false;
  }
}

/** More issues than this are not worth reading: the file is probably not what it claims to be. */
export const MAX_REPORTED_ISSUES = 20;
/** How many issues the error message itself names. */
const ISSUES_IN_MESSAGE = 3;

function describeIssues(summary: string, issues: ImportIssue[]): string {
  if (issues.length === 0) return summary;
  const named = issues.slice(0, ISSUES_IN_MESSAGE).map((issue) => `${issue.path}: ${issue.message}`);
  const more = issues.length - named.length;
  return `${summary}: ${named.join("; ")}${more > 0 ? ` (and ${more} more)` : ""}`;
}

/** `["actions", 3, "selector"]` → `actions[3].selector`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(root)" : out;
}

/** What a JSON value is, with its article: "a string", "an array", "null". */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  return type === "object" || type === "undefined" ? `an ${type}` : `a ${type}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

const ARTICLE_AN = new Set(["object", "array", "integer"]);

/**
 * Zod issues as {@link ImportIssue}s, paths prefixed with `prefix` and type errors phrased for
 * people who edit JSON ("expected an object, got a string") rather than zod's defaults.
 */
export function zodIssues(error: z.ZodError, input: unknown, prefix: readonly PropertyKey[] = []): ImportIssue[] {
  return error.issues.slice(0, MAX_REPORTED_ISSUES).map((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_type") {
      const actual = valueAt(input, issue.path);
      if (actual === undefined) return { path: formatPath(path), message: "is required" };
      const expected = String(issue.expected);
      const article = ARTICLE_AN.has(expected) ? "an" : "a";
      return { path: formatPath(path), message: `expected ${article} ${expected}, got ${describeValue(actual)}` };
    }
    return { path: formatPath(path), message: issue.message };
  });
}
