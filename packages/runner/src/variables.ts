import { type Action, type Recording, RunError, type Selector } from "@conveyor/core";

/** A JSON value, as a waitForElement's `properties` hold them. */
type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** `${NAME}`: a letter or underscore, then letters, digits or underscores. */
const VARIABLE_PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * The value `${name}` stands for: the run's, else the default the recording declares, else
 * undefined.
 */
function valueFor(recording: Recording, variables: Readonly<Record<string, string>>, name: string): string | undefined {
  if (Object.hasOwn(variables, name)) return variables[name];
  return recording.variables?.find((declared) => declared.name === name)?.default;
}

/**
 * A copy of `recording` with every `${NAME}` in its URLs, values, labels, expectations, keys,
 * frames (selectors, not index paths), targets, selector values (chained parts too), and a
 * waitForElement's attribute values and the strings inside its expected properties replaced by
 * the run's value for NAME, else the default the recording declares for it. A waitForExpression's
 * expression is code and is left as written. All names without either are reported together, as
 * a `permanent` RunError: no retry can supply them.
 */
export function applyVariables(recording: Recording, variables: Readonly<Record<string, string>>): Recording {
  const missing = new Map<string, string[]>();

  const substitute = (text: string, where: string): string =>
    text.replace(VARIABLE_PATTERN, (match, name: string) => {
      const value = valueFor(recording, variables, name);
      if (value !== undefined) return value;
      const places = missing.get(name) ?? [];
      if (!places.includes(where)) places.push(where);
      missing.set(name, places);
      return match;
    });
  const optional = (text: string | undefined, where: string): string | undefined =>
    text === undefined ? undefined : substitute(text, where);

  const substituteSelector = (selector: Selector, where: string): Selector =>
    typeof selector === "string"
      ? substitute(selector, where)
      : selector.map((candidate) => ({
          ...candidate,
          value: substitute(candidate.value, where),
          ...(candidate.within === undefined
            ? {}
            : { within: candidate.within.map((part) => ({ ...part, value: substitute(part.value, where) })) }),
        }));
  const substituteJson = (value: JsonValue, where: string): JsonValue => {
    if (typeof value === "string") return substitute(value, where);
    if (Array.isArray(value)) return value.map((item) => substituteJson(item, where));
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substituteJson(item, where)]));
    }
    return value;
  };
  const substituteRecord = <V extends JsonValue>(record: Record<string, V> | undefined, where: string) =>
    record === undefined
      ? undefined
      : (Object.fromEntries(Object.entries(record).map(([key, item]) => [key, substituteJson(item, where)])) as Record<
          string,
          V
        >);
  const optionalSelector = (selector: Selector | undefined, where: string): Selector | undefined =>
    selector === undefined ? undefined : substituteSelector(selector, where);

  const substituteAction = (original: Action, index: number): Action => {
    const where = `action ${index + 1}`;
    const action = {
      ...original,
      ...(typeof original.frame === "string" ? { frame: substitute(original.frame, where) } : {}),
      ...(original.target === undefined ? {} : { target: substitute(original.target, where) }),
    };
    switch (action.type) {
      case "navigate":
        return { ...action, url: substitute(action.url, where) };
      case "click":
      case "check":
      case "hover":
      case "submit":
        return { ...action, selector: substituteSelector(action.selector, where) };
      case "input":
        return {
          ...action,
          selector: substituteSelector(action.selector, where),
          value: substitute(action.value, where),
        };
      case "select":
        return withDefined({
          ...action,
          selector: substituteSelector(action.selector, where),
          value: optional(action.value, where),
          label: optional(action.label, where),
        });
      case "keypress":
        return withDefined({
          ...action,
          key: substitute(action.key, where),
          selector: optionalSelector(action.selector, where),
        });
      case "scroll":
      case "modal":
        return withDefined({ ...action, selector: optionalSelector(action.selector, where) });
      case "assert":
        return withDefined({
          ...action,
          selector: optionalSelector(action.selector, where),
          expected: optional(action.expected, where),
        });
      case "waitForElement":
        return withDefined({
          ...action,
          selector: substituteSelector(action.selector, where),
          properties: substituteRecord(action.properties, where),
          attributes: substituteRecord(action.attributes, where),
        });
      case "waitForExpression":
      case "close":
      case "emulateNetwork":
      case "setViewport":
        return action;
      default: {
        const unreachable: never = action;
        throw new RunError("permanent", `Unknown action type ${JSON.stringify(unreachable)}`);
      }
    }
  };

  const result: Recording = {
    ...recording,
    ...(recording.startUrl === undefined ? {} : { startUrl: substitute(recording.startUrl, "startUrl") }),
    actions: recording.actions.map(substituteAction),
  };

  if (missing.size > 0) {
    const list = [...missing].map(([name, places]) => `${name} (used by ${places.join(", ")})`).join(", ");
    throw new RunError(
      "permanent",
      `Missing variable(s): ${list}. Pass a value for each in the run's variables, or declare a default in the recording's variables.`,
    );
  }
  return result;
}

/**
 * The values of the variables `recording` declares `sensitive`, as this run uses them (the run's
 * value, else the default). Empty values are left out: there is nothing to hide.
 */
export function sensitiveVariableValues(recording: Recording, variables: Readonly<Record<string, string>>): string[] {
  return (recording.variables ?? []).flatMap((declared) => {
    if (declared.sensitive !== true) return [];
    const value = valueFor(recording, variables, declared.name);
    return value === undefined || value === "" ? [] : [value];
  });
}

/**
 * `object` without its undefined properties: optional fields stay absent rather than present and
 * undefined, so results compare equal to what the recording said.
 */
function withDefined<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
}
