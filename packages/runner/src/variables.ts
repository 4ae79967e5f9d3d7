import { type Action, type Recording, RunError, type Selector } from "@conveyor/core";

/** `${NAME}`: a letter or underscore, then letters, digits or underscores. */
const VARIABLE_PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * A copy of `recording` with every `${NAME}` in its URLs, values, expectations, keys and
 * selector values replaced by `variables[NAME]`. All missing names are reported together, as a
 * `permanent` RunError: no retry can supply them.
 */
export function applyVariables(recording: Recording, variables: Readonly<Record<string, string>>): Recording {
  const missing = new Map<string, string[]>();

  const substitute = (text: string, where: string): string =>
    text.replace(VARIABLE_PATTERN, (match, name: string) => {
      const value = Object.hasOwn(variables, name) ? variables[name] : undefined;
      if (value !== undefined) return value;
      const places = missing.get(name) ?? [];
      if (!places.includes(where)) places.push(where);
      missing.set(name, places);
      return match;
    });

  const substituteSelector = (selector: Selector, where: string): Selector =>
    typeof selector === "string"
      ? substitute(selector, where)
      : selector.map((candidate) => ({ ...candidate, value: substitute(candidate.value, where) }));

  const substituteAction = (action: Action, index: number): Action => {
    const where = `action ${index + 1}`;
    switch (action.type) {
      case "navigate":
        return { ...action, url: substitute(action.url, where) };
      case "click":
        return { ...action, selector: substituteSelector(action.selector, where) };
      case "input":
      case "select":
        return {
          ...action,
          selector: substituteSelector(action.selector, where),
          value: substitute(action.value, where),
        };
      case "keypress":
        return {
          ...action,
          key: substitute(action.key, where),
          ...(action.selector === undefined ? {} : { selector: substituteSelector(action.selector, where) }),
        };
      case "assert":
        return {
          ...action,
          ...(action.selector === undefined ? {} : { selector: substituteSelector(action.selector, where) }),
          ...(action.expected === undefined ? {} : { expected: substitute(action.expected, where) }),
        };
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
    throw new RunError("permanent", `Missing variable(s): ${list}. Pass a value for each in the run's variables.`);
  }
  return result;
}
