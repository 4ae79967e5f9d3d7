import { ApiError } from "@conveyor/core";
import type { FastifyInstance } from "fastify";

/**
 * Refuses, before schema validation, input no route can store or walk safely: a string (key or
 * value) holding U+0000 (Postgres text and jsonb cannot hold it), a string that is not
 * well-formed UTF-16 (a lone surrogate: jsonb refuses it, text silently turns it into U+FFFD), and
 * nesting deeper than {@link MAX_INPUT_DEPTH} (recursive walkers — validation, JSON.stringify —
 * would overflow the stack). Refused, never stripped: a stored value is the value that was sent,
 * or nothing. The walk is iterative, so the guard itself cannot overflow.
 */

/** Deepest nesting of objects and arrays accepted in a body, query string or path parameters. */
export const MAX_INPUT_DEPTH = 64;

/** Headers a route reads and stores (the rest are never used as data). */
const CHECKED_HEADERS = ["idempotency-key"] as const;

/** Longest object key quoted in a field path; longer ones are cut (the path is for humans). */
const MAX_KEY_IN_PATH = 64;

export interface InputProblem {
  field: string;
  message: string;
}

// String.prototype.isWellFormed is ES2024 (Node 20+); the shared tsconfig's lib is ES2023.
const isWellFormedUtf16 = (value: string): boolean => (value as string & { isWellFormed(): boolean }).isWellFormed();

/** What is wrong with a string, or null. */
function stringProblem(value: string): string | null {
  if (value.includes("\u0000")) return "contains a NUL character";
  if (!isWellFormedUtf16(value)) return "contains a lone surrogate (not well-formed UTF-16)";
  return null;
}

interface Visit {
  value: unknown;
  /** The container holding it, null at the root: the path is built only when it is needed. */
  parent: Visit | null;
  key: string | number;
  depth: number;
}

function pathOf(visit: Visit, root: string): string {
  const parts: string[] = [];
  for (let at: Visit | null = visit; at?.parent; at = at.parent) {
    const { key } = at;
    if (typeof key === "number") parts.push(`[${key}]`);
    else parts.push(`.${key.length > MAX_KEY_IN_PATH ? `${key.slice(0, MAX_KEY_IN_PATH)}…` : key}`);
  }
  return root + parts.reverse().join("");
}

/**
 * The first problem in `value`, named by its path from `root` (`body.recording.actions[2].name`),
 * or null. Iterative: an explicit stack, so any depth of input is safe to inspect. `maxDepth`:
 * levels of objects and arrays allowed, default {@link MAX_INPUT_DEPTH}.
 */
export function findInputProblem(
  value: unknown,
  root: string,
  maxDepth: number = MAX_INPUT_DEPTH,
): InputProblem | null {
  const stack: Visit[] = [{ value, parent: null, key: root, depth: 0 }];
  for (let visit = stack.pop(); visit !== undefined; visit = stack.pop()) {
    const current = visit.value;
    if (typeof current === "string") {
      const problem = stringProblem(current);
      if (problem) return { field: pathOf(visit, root), message: problem };
      continue;
    }
    if (current === null || typeof current !== "object") continue;
    const depth = visit.depth + 1;
    if (depth > maxDepth) return { field: root, message: `nested deeper than ${maxDepth} levels` };
    if (Array.isArray(current)) {
      // Pushed last to first, so that the first bad element is the one reported.
      for (let index = current.length - 1; index >= 0; index--) {
        stack.push({ value: current[index], parent: visit, key: index, depth });
      }
      continue;
    }
    const keys = Object.keys(current);
    for (const key of keys) {
      // A bad key is not put in the path: the path names the object holding it.
      const problem = stringProblem(key);
      if (problem) return { field: pathOf(visit, root), message: `has a key that ${problem}` };
    }
    for (let index = keys.length - 1; index >= 0; index--) {
      const key = keys[index] as string;
      stack.push({ value: (current as Record<string, unknown>)[key], parent: visit, key, depth });
    }
  }
  return null;
}

/** Registers the guard on every route (call before routes are added). */
export function registerInputGuard(app: FastifyInstance): void {
  app.addHook("preValidation", async (request) => {
    const problem =
      findInputProblem(request.params, "params") ??
      findInputProblem(request.query, "querystring") ??
      findHeaderProblem(request.headers) ??
      findInputProblem(request.body, "body");
    if (problem) {
      throw new ApiError("validation_failed", `${problem.field}: ${problem.message}`, { fields: [problem] });
    }
  });
}

function findHeaderProblem(headers: Record<string, string | string[] | undefined>): InputProblem | null {
  for (const name of CHECKED_HEADERS) {
    const problem = findInputProblem(headers[name], `headers.${name}`);
    if (problem) return problem;
  }
  return null;
}
