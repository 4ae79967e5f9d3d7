/**
 * JSON with object keys sorted at every level: two requests that differ only in key order have
 * the same canonical form (and so the same Idempotency-Key hash). Otherwise the same as
 * `JSON.stringify` (`toJSON` is honoured, so a Date becomes its ISO string; a cycle throws a
 * TypeError).
 *
 * Iterative, with an explicit stack: any nesting depth a client can send is serialized without
 * overflowing the call stack (`JSON.stringify` itself recurses, and overflows near 10,000 levels).
 */
export function canonicalJson(value: unknown): string {
  const root = toJsonValue(value, "");
  // A primitive (or nothing: undefined, a function) is what JSON.stringify makes of it.
  if (!isContainer(root)) return JSON.stringify(root);

  const out: string[] = [];
  /** Containers being written: meeting one again is a cycle. */
  const open = new Set<object>();
  /** Work, last first: text to append, a container to write, or a container finished. */
  const stack: Task[] = [{ kind: "write", value: root }];
  for (let task = stack.pop(); task !== undefined; task = stack.pop()) {
    if (task.kind === "text") {
      out.push(task.text);
      continue;
    }
    if (task.kind === "close") {
      open.delete(task.value);
      continue;
    }
    const container = task.value;
    if (open.has(container)) throw new TypeError("Converting circular structure to JSON");
    open.add(container);
    const todo: Task[] = [];
    if (Array.isArray(container)) {
      out.push("[");
      for (let index = 0; index < container.length; index++) {
        if (index > 0) todo.push({ kind: "text", text: "," });
        const element = toJsonValue(container[index], String(index));
        // An element JSON cannot hold (undefined, a function) is written as null, as JSON.stringify does.
        todo.push(
          isContainer(element)
            ? { kind: "write", value: element }
            : { kind: "text", text: primitive(element) ?? "null" },
        );
      }
      todo.push({ kind: "text", text: "]" });
    } else {
      out.push("{");
      let first = true;
      for (const key of Object.keys(container).sort()) {
        const member = toJsonValue((container as Record<string, unknown>)[key], key);
        const text = isContainer(member) ? undefined : primitive(member);
        // A member JSON cannot hold is left out, as JSON.stringify does.
        if (!isContainer(member) && text === undefined) continue;
        todo.push({ kind: "text", text: `${first ? "" : ","}${JSON.stringify(key)}:` });
        todo.push(text === undefined ? { kind: "write", value: member as object } : { kind: "text", text });
        first = false;
      }
      todo.push({ kind: "text", text: "}" });
    }
    todo.push({ kind: "close", value: container });
    for (let index = todo.length - 1; index >= 0; index--) stack.push(todo[index] as Task);
  }
  return out.join("");
}

type Task = { kind: "text"; text: string } | { kind: "write"; value: object } | { kind: "close"; value: object };

function isContainer(value: unknown): value is object {
  return value !== null && typeof value === "object";
}

/** JSON text of a primitive, or undefined for what JSON cannot hold (undefined, functions, symbols). */
function primitive(value: unknown): string | undefined {
  // Not recursive for a primitive; throws for a BigInt, as JSON.stringify does.
  return JSON.stringify(value) as string | undefined;
}

/** What JSON.stringify serializes in place of `value` held under `key`: its toJSON, unboxed primitives. */
function toJsonValue(value: unknown, key: string): unknown {
  let current = value;
  if ((current !== null && typeof current === "object") || typeof current === "bigint") {
    const toJSON = (current as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") current = toJSON.call(current, key);
  }
  if (current instanceof Number) return Number(current);
  if (current instanceof String) return String(current);
  if (current instanceof Boolean || current instanceof BigInt) return current.valueOf();
  return current;
}
