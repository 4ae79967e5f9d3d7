import { cssEscapeIdentifier, cssString } from "../css.ts";
import {
  type Action,
  actionKey,
  type Recording,
  type Selector,
  type SelectorCandidate,
  type SelectorPart,
} from "../recording.ts";
import { REDACTED } from "../secrets.ts";

/** Something an export changed, approximated or left out that the user should know about. */
export interface ExportWarning {
  /** Position of the action in the recording's `actions`; absent for recording-level warnings. */
  index?: number;
  /** The action's id (its own, or `a<position>`). */
  actionId?: string;
  type?: Action["type"];
  message: string;
}

/** `${NAME}`: a letter or underscore, then letters, digits or underscores (as the runner reads them). */
export const VARIABLE_PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** What an exported file reads from its environment for one `${NAME}`. */
export interface ExportVariable {
  name: string;
  /** Never written into an export: read from the environment, with no fallback. */
  sensitive: boolean;
  /** The recording's default (never set when `sensitive`). */
  default?: string;
  description?: string;
}

/** A recording ready to be written out: no sensitive value left in it, and what it reads. */
export interface PreparedRecording {
  recording: Recording;
  /** Every variable it may read, declared or generated, by name. */
  variables: Map<string, ExportVariable>;
}

/**
 * The recording with no sensitive value left in it, whatever the format it is written in:
 * - an input marked `sensitive` whose value is not exactly one `${NAME}` gets a variable of its own
 *   (`SENSITIVE_<ACTION ID>`), declared sensitive, and its value becomes `${SENSITIVE_…}`;
 * - a variable declared sensitive, or used as the value of a sensitive input, loses its default;
 * - a sensitive value the recording holds in plain text (not sealed), found anywhere else in it (a
 *   URL, an expectation, a selector), becomes the same `${NAME}`, so the file still works once the
 *   variable is set; in text that has no variables (the name, descriptions, expressions,
 *   attribute values) it becomes `[redacted]`.
 * Sealed values (`enc:v1:…`) are dropped unopened, like plain ones: an export never holds a secret.
 */
export function prepareForExport(recording: Recording): PreparedRecording {
  const variables = new Map<string, ExportVariable>();
  for (const declared of recording.variables ?? []) {
    variables.set(declared.name, {
      name: declared.name,
      sensitive: declared.sensitive === true,
      ...(declared.sensitive !== true && declared.default !== undefined ? { default: declared.default } : {}),
      ...(declared.description === undefined ? {} : { description: declared.description }),
    });
  }
  /** Plain-text sensitive values and the variable that stands for each. */
  const secrets = new Map<string, string>();
  for (const declared of recording.variables ?? []) {
    if (declared.sensitive === true && declared.default !== undefined && declared.default !== "") {
      secrets.set(declared.default, declared.name);
    }
  }

  const actions = recording.actions.map((action, index): Action => {
    if (action.type !== "input" || action.sensitive !== true) return action;
    const only = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(action.value);
    if (only?.[1] !== undefined) {
      // The variable carries a secret here, whatever its declaration says: no default is written.
      const name = only[1];
      const known = variables.get(name);
      variables.set(name, {
        name,
        sensitive: true,
        ...(known?.description === undefined ? {} : { description: known.description }),
      });
      return action;
    }
    const name = uniqueName(sensitiveInputName(action, index), variables);
    variables.set(name, {
      name,
      sensitive: true,
      description: `The value of action ${actionKey(action, index)}'s sensitive input`,
    });
    if (action.value !== "") secrets.set(action.value, name);
    return { ...action, value: `\${${name}}` };
  });

  // A secret the value of a sensitive input held may also be written elsewhere in plain text.
  const ordered = [...secrets].sort(([a], [b]) => b.length - a.length);
  const withVariables = (text: string): string =>
    ordered.reduce((out, [secret, name]) => out.split(secret).join(`\${${name}}`), text);
  const redacted = (text: string): string => ordered.reduce((out, [secret]) => out.split(secret).join(REDACTED), text);
  const scrubbed =
    ordered.length === 0 ? actions : actions.map((action) => scrubAction(action, withVariables, redacted));

  const declared = [...variables.values()].map((variable) => ({
    name: variable.name,
    ...(variable.sensitive ? { sensitive: true } : {}),
    ...(variable.default === undefined ? {} : { default: variable.default }),
    ...(variable.description === undefined ? {} : { description: redacted(variable.description) }),
  }));
  const { variables: _declared, startUrl, ...rest } = recording;
  return {
    recording: {
      ...rest,
      name: redacted(recording.name),
      ...(startUrl === undefined ? {} : { startUrl: withVariables(startUrl) }),
      ...(declared.length === 0 ? {} : { variables: declared }),
      actions: scrubbed,
    },
    variables,
  };
}

function sensitiveInputName(action: Action, index: number): string {
  const key = actionKey(action, index)
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, "_");
  return `SENSITIVE_${key}`.slice(0, 60);
}

function uniqueName(base: string, taken: Map<string, unknown>): string {
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}_${n}`)) return `${base}_${n}`;
}

/** Replaces secrets in every string of an action: with `${NAME}` where variables apply, else `[redacted]`. */
function scrubAction(action: Action, withVariables: (text: string) => string, redacted: (text: string) => string) {
  const selector = (value: Selector): Selector =>
    typeof value === "string"
      ? withVariables(value)
      : value.map((candidate) => ({
          ...candidate,
          value: withVariables(candidate.value),
          ...(candidate.within === undefined
            ? {}
            : { within: candidate.within.map((part) => ({ ...part, value: withVariables(part.value) })) }),
        }));
  const base = {
    ...(action.description === undefined ? {} : { description: redacted(action.description) }),
    ...(typeof action.frame === "string" ? { frame: withVariables(action.frame) } : {}),
    ...(action.target === undefined ? {} : { target: withVariables(action.target) }),
  };
  switch (action.type) {
    case "navigate":
      return { ...action, ...base, url: withVariables(action.url) };
    case "click":
    case "check":
    case "hover":
    case "submit":
      return { ...action, ...base, selector: selector(action.selector) };
    case "input":
      return { ...action, ...base, selector: selector(action.selector), value: withVariables(action.value) };
    case "select":
      return {
        ...action,
        ...base,
        selector: selector(action.selector),
        ...(action.value === undefined ? {} : { value: withVariables(action.value) }),
        ...(action.label === undefined ? {} : { label: withVariables(action.label) }),
      };
    case "keypress":
      return {
        ...action,
        ...base,
        key: withVariables(action.key),
        ...(action.selector === undefined ? {} : { selector: selector(action.selector) }),
      };
    case "scroll":
    case "modal":
      return { ...action, ...base, ...(action.selector === undefined ? {} : { selector: selector(action.selector) }) };
    case "assert":
      return {
        ...action,
        ...base,
        ...(action.selector === undefined ? {} : { selector: selector(action.selector) }),
        ...(action.expected === undefined ? {} : { expected: withVariables(action.expected) }),
      };
    case "waitForElement":
      return {
        ...action,
        ...base,
        selector: selector(action.selector),
        ...(action.attributes === undefined
          ? {}
          : {
              attributes: Object.fromEntries(
                Object.entries(action.attributes).map(([name, value]) => [name, redacted(value)]),
              ),
            }),
        ...(action.properties === undefined
          ? {}
          : { properties: JSON.parse(redacted(JSON.stringify(action.properties))) as typeof action.properties }),
      };
    case "waitForExpression":
      return { ...action, ...base, expression: redacted(action.expression) };
    case "close":
    case "emulateNetwork":
    case "setViewport":
      return { ...action, ...base };
    default: {
      const unreachable: never = action;
      return unreachable;
    }
  }
}

/** A piece of text with variables: literal text and `${NAME}` references, in order. */
export type TextPart = { text: string } | { variable: string };

export function textParts(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const match of text.matchAll(VARIABLE_PATTERN)) {
    if (match.index > last) parts.push({ text: text.slice(last, match.index) });
    parts.push({ variable: match[1] ?? "" });
    last = match.index + match[0].length;
  }
  if (last < text.length || parts.length === 0) parts.push({ text: text.slice(last) });
  return parts;
}

export function hasVariables(text: string): boolean {
  return textParts(text).some((part) => "variable" in part);
}

/** A string selector is CSS; candidate lists are used as they are (the runner's reading). */
export function candidatesOf(selector: Selector): SelectorCandidate[] {
  return typeof selector === "string" ? [{ strategy: "css", value: selector }] : selector;
}

/** How results name a candidate (`testid=login-button`), chained parts first. */
export function describeCandidate(candidate: SelectorCandidate): string {
  const own = `${candidate.strategy}=${candidate.value}`;
  return candidate.within === undefined
    ? own
    : [...candidate.within.map((part: SelectorPart) => `${part.strategy}=${part.value}`), own].join(" >> ");
}

/**
 * Chrome DevTools Recorder's aria syntax, as the model keeps it: `Name`, `Name[role="button"]` or
 * `[role="button"]`. The name is absent when empty.
 */
export function parseAria(value: string): { name?: string; role?: string } {
  const match = /^([\s\S]*?)\[role=(?:"([^"]*)"|'([^']*)'|([^\]"']*))\]$/.exec(value);
  if (match === null) return { name: value };
  const name = match[1] ?? "";
  const role = match[2] ?? match[3] ?? match[4] ?? "";
  return { ...(name === "" ? {} : { name }), ...(role === "" ? {} : { role }) };
}

/**
 * The CSS selector the runner uses for a candidate, when there is one: css and pierce as they are,
 * and the attribute strategies (testid, id, aria-label, name, placeholder, href, src). Undefined
 * for text, xpath, role and aria, which CSS cannot express.
 */
export function candidateCss(strategy: SelectorCandidate["strategy"], value: string): string | undefined {
  switch (strategy) {
    case "css":
    case "pierce":
      return value;
    case "testid":
      return `[data-testid=${cssString(value)}]`;
    case "id":
      return `#${cssEscapeIdentifier(value)}`;
    case "aria-label":
      return `[aria-label=${cssString(value)}]`;
    case "name":
      return `[name=${cssString(value)}]`;
    case "placeholder":
      return `[placeholder=${cssString(value)}]`;
    case "href":
      return `a[href*=${cssString(value)}]`;
    case "src":
      return `[src*=${cssString(value)}]`;
    default:
      return undefined;
  }
}

/** What counts as an open modal when a modal action names none (the runner's list). */
export const DEFAULT_MODAL_SELECTORS = [
  "dialog[open]",
  "[role=dialog]",
  "[role=alertdialog]",
  "[aria-modal=true]",
  ".modal.show",
  ".swal2-popup",
];

/** Separates nested frames in an action's CSS `frame`, outermost first. */
export const FRAME_SEPARATOR = " >>> ";

/** The iframe selectors of a CSS `frame`, outermost first. */
export function frameSelectors(frame: string): string[] {
  return frame
    .split(FRAME_SEPARATOR)
    .map((part) => part.trim())
    .filter((part) => part !== "");
}

/** The Playwright chord for a key with modifiers held (`Control+Shift+K`), as the runner presses it. */
export function keyChord(key: string, modifiers: readonly string[] = []): string {
  return [...new Set(modifiers.filter((modifier) => modifier !== key)), key].join("+");
}

/**
 * A file name for an export: the recording's name in lower-case letters, digits and dashes (at
 * most 80 characters; `recording` when nothing is left), then `suffix`. Safe in a
 * Content-Disposition header and on any file system.
 */
export function exportFileName(name: string, suffix: string): string {
  const slug = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 80)
    .replace(/-+$/g, "");
  return `${slug || "recording"}${suffix}`;
}
