import { cssEscapeIdentifier, cssString } from "../css.ts";
import {
  type Action,
  type ActionOf,
  actionKey,
  HIGH_CONFIDENCE,
  type Recording,
  type SelectorCandidate,
} from "../recording.ts";
import {
  candidatesOf,
  DEFAULT_MODAL_SELECTORS,
  describeCandidate,
  type ExportVariable,
  type ExportWarning,
  frameSelectors,
  keyChord,
  parseAria,
  prepareForExport,
  textParts,
} from "./shared.ts";

/**
 * Writes a recording as a Playwright Test file (`.spec.ts`): one `test()` doing what the runner
 * does, action by action. Pure: no I/O. docs/recording-export.md describes the mapping.
 */

export interface PlaywrightExportOptions {
  /**
   * How long each action and check may wait, ms: Conveyor's ACTION_TIMEOUT_MS (an action's own
   * `timeoutMs` overrides it). Default 15000.
   */
  actionTimeoutMs?: number;
  /** How long the whole test may take, ms: Conveyor's DEFAULT_RUN_TIMEOUT_MS. Default 300000. */
  runTimeoutMs?: number;
  /** Where the recording comes from, for the file's first comment (`recording rec_…`). Default: none. */
  source?: string;
}

export interface PlaywrightExport {
  /** The file's text. */
  content: string;
  /** What the file could only approximate. */
  warnings: ExportWarning[];
  /** The environment variables the file reads. */
  variables: ExportVariable[];
}

const DEFAULT_ACTION_TIMEOUT_MS = 15_000;
const DEFAULT_RUN_TIMEOUT_MS = 300_000;

/**
 * A JavaScript string literal for any text. JSON's escaping, plus U+2028 and U+2029 (legal in
 * strings, but line ends in a comment): no text a tenant writes can end the literal or a comment.
 */
export function jsString(text: string): string {
  return JSON.stringify(text)
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Text for a `//` comment: its line breaks escaped, so it cannot end the comment. */
function commentText(text: string): string {
  return text.replace(/[\r\n\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Numbers as the code shows them: `15_000`. */
function num(value: number): string {
  return Number.isInteger(value) && Math.abs(value) >= 10_000
    ? String(value).replace(/\B(?=(\d{3})+(?!\d))/g, "_")
    : String(value);
}

/** Helpers the file defines at its end, only those it uses. */
const HELPERS = {
  env: `/** An environment variable this test needs (listed at the top of the file). */
function env(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(\`Set the environment variable \${name}: this test reads it\`);
  return value;
}`,
  cssString: String.raw`/** A value as a double-quoted CSS string, for attribute selectors. */
function cssString(value: string): string {
  const escaped = value.replace(/["\\]/g, "\\$&").replace(/[\u0000-\u001f\u007f]/g, (c) => "\\" + c.charCodeAt(0).toString(16) + " ");
  return '"' + escaped + '"';
}`,
  byAccessibleName: `/** Roles whose accessible name comes from their content. */
const NAMED_BY_CONTENT = ["button", "link", "menuitem", "tab", "option", "heading", "cell", "treeitem"] as const;

/**
 * An element by its accessible name, whatever its role (Chrome DevTools Recorder's \`aria/Name\`):
 * a labelled control, or an element of a role named by its content.
 */
function byAccessibleName(scope: Page | FrameLocator | Frame | Locator, name: string): Locator {
  return NAMED_BY_CONTENT.reduce(
    (found, role) => found.or(scope.getByRole(role, { name, exact: true })),
    scope.getByLabel(name, { exact: true }),
  );
}`,
  pageWithUrl: `/**
 * The page a recording's action names by URL (a popup, a link opened in a new tab): the newest open
 * page whose URL is \`url\`, else starts with it, waited for.
 */
async function pageWithUrl(context: BrowserContext, url: string, timeout: number): Promise<Page> {
  let found: Page | undefined;
  await expect
    .poll(
      () => {
        const pages = context.pages().filter((page) => !page.isClosed()).reverse();
        found = pages.find((page) => page.url() === url) ?? pages.find((page) => page.url().startsWith(url));
        return found !== undefined;
      },
      { message: \`a page at \${url}\`, timeout },
    )
    .toBe(true);
  return found as Page;
}`,
  frameAt: `/** The frame at child-frame indexes from the top (\`[0, 1]\`: the 2nd child of the 1st child), waited for. */
async function frameAt(page: Page, path: number[], timeout: number): Promise<Frame> {
  let found: Frame | undefined;
  await expect
    .poll(
      () => {
        found = path.reduce<Frame | undefined>((frame, index) => frame?.childFrames()[index], page.mainFrame());
        return found !== undefined;
      },
      { message: \`the frame at [\${path.join(", ")}]\`, timeout },
    )
    .toBe(true);
  return found as Frame;
}`,
  frameOf: `/** The frame of nested iframes, by their CSS selectors (outermost first). */
async function frameOf(page: Page, iframes: string[], timeout: number): Promise<Frame> {
  let frame = page.mainFrame();
  for (const selector of iframes) {
    const element = await frame.locator(selector).first().elementHandle({ timeout });
    const child = await element?.contentFrame();
    if (!child) throw new Error(\`\${selector} is not an iframe\`);
    frame = child;
  }
  return frame;
}`,
  optional: `/** An action the recording marks optional: a failure is noted on the test, and it goes on. */
async function optional(action: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\\n")[0] : String(error);
    test.info().annotations.push({ type: "skipped", description: \`\${action}: \${message}\` });
  }
}`,
} as const;
type Helper = keyof typeof HELPERS;

/** Playwright types each helper needs imported. */
const HELPER_TYPES: Record<Helper, string[]> = {
  env: [],
  cssString: [],
  byAccessibleName: ["Frame", "FrameLocator", "Locator", "Page"],
  pageWithUrl: ["BrowserContext", "Page"],
  frameAt: ["Frame", "Page"],
  frameOf: ["Frame", "Page"],
  optional: [],
};

/** Where an action happens, as code: its page, and the page or frame its elements are found in. */
interface Scope {
  /** A Page expression. */
  page: string;
  /** A Page, FrameLocator or Frame expression. */
  elements: string;
  /** The CSS iframe selectors, when the frame is given so (elements is then a FrameLocator). */
  cssFrames?: string[];
}

class PlaywrightWriter {
  readonly helpers = new Set<Helper>();
  readonly usedVariables = new Map<string, ExportVariable>();
  readonly warnings: ExportWarning[] = [];
  /** The action being written, for warnings. */
  current: { action: Action; index: number } | undefined;
  private readonly lines: string[] = [];
  private indent = "  ";

  private readonly variables: Map<string, ExportVariable>;
  private readonly actionTimeoutMs: number;

  constructor(variables: Map<string, ExportVariable>, actionTimeoutMs: number) {
    this.variables = variables;
    this.actionTimeoutMs = actionTimeoutMs;
  }

  line(text = ""): void {
    this.lines.push(text === "" ? "" : `${this.indent}${text}`);
  }

  comment(text: string): void {
    this.line(`// ${commentText(text)}`);
  }

  body(): string[] {
    return this.lines;
  }

  nested(run: () => void): void {
    const saved = this.indent;
    this.indent += "  ";
    run();
    this.indent = saved;
  }

  /** A string expression for text that may hold `${NAME}` variables (read from the environment). */
  str(text: string): string {
    const parts = textParts(text).map((part) => ("text" in part ? jsString(part.text) : this.variable(part.variable)));
    if (parts.length === 1) return parts[0] ?? '""';
    return parts.map((part) => (part.includes("??") ? `(${part})` : part)).join(" + ");
  }

  private variable(name: string): string {
    const known = this.variables.get(name) ?? { name, sensitive: false };
    this.usedVariables.set(name, known);
    if (!known.sensitive && known.default !== undefined) return `process.env.${name} ?? ${jsString(known.default)}`;
    this.helpers.add("env");
    return `env(${jsString(name)})`;
  }

  /**
   * An attribute selector, `[name=${cssString(value)}]` (`op` `*=` for contains), as a string
   * expression: escaped now, or at run time when the value has variables.
   */
  attribute(name: string, op: "=" | "*=", value: string, element = ""): string {
    const prefix = `${element}[${name}${op}`;
    if (textParts(value).every((part) => "text" in part)) return jsString(`${prefix}${cssString(value)}]`);
    this.helpers.add("cssString");
    return `${jsString(prefix)} + cssString(${this.str(value)}) + "]"`;
  }

  /** The Playwright locator for one candidate (or chained part) inside `scope`. */
  locator(scope: string, strategy: SelectorCandidate["strategy"], value: string): string {
    switch (strategy) {
      case "css":
      case "pierce":
        // Playwright's CSS already pierces open shadow roots.
        return `${scope}.locator(${this.str(value)})`;
      case "testid":
        return `${scope}.getByTestId(${this.str(value)})`;
      case "id":
        return textParts(value).every((part) => "text" in part)
          ? `${scope}.locator(${jsString(`#${cssEscapeIdentifier(value)}`)})`
          : `${scope}.locator(${this.attribute("id", "=", value)})`;
      case "text":
        return `${scope}.getByText(${this.str(value)}, { exact: true })`;
      case "text-contains":
        return `${scope}.getByText(${this.str(value)})`;
      case "xpath":
        return `${scope}.locator(${this.str(`xpath=${value}`)})`;
      case "aria-label":
        return `${scope}.locator(${this.attribute("aria-label", "=", value)})`;
      case "name":
        return `${scope}.locator(${this.attribute("name", "=", value)})`;
      case "role":
        return `${scope}.getByRole(${this.str(value)})`;
      case "placeholder":
        return `${scope}.getByPlaceholder(${this.str(value)}, { exact: true })`;
      case "href":
        return `${scope}.locator(${this.attribute("href", "*=", value, "a")})`;
      case "src":
        return `${scope}.locator(${this.attribute("src", "*=", value)})`;
      case "aria": {
        const { name, role } = parseAria(value);
        if (role !== undefined) {
          const named = name === undefined ? "" : `, { name: ${this.str(name)}, exact: true }`;
          return `${scope}.getByRole(${this.str(role)}${named})`;
        }
        this.helpers.add("byAccessibleName");
        return `byAccessibleName(${scope}, ${this.str(name ?? "")})`;
      }
      default: {
        const unreachable: never = strategy;
        return unreachable;
      }
    }
  }

  /** A candidate's locator, its chain (`within`) first. */
  candidate(scope: string, candidate: SelectorCandidate): string {
    let inside = scope;
    for (const part of candidate.within ?? []) inside = this.locator(inside, part.strategy, part.value);
    return this.locator(inside, candidate.strategy, candidate.value);
  }

  /**
   * The element an action acts on: the best (first) candidate, as the runner tries it first. A
   * candidate below HIGH_CONFIDENCE acts on its first match, as the runner does; a sure one must
   * match exactly one element (Playwright's strictness). The other candidates become comments.
   */
  element(scope: Scope, selector: ActionOf<"click">["selector"], options: { all?: boolean } = {}): string {
    const [best, ...others] = candidatesOf(selector);
    if (best === undefined) return `${scope.elements}.locator(":root")`;
    const locator = this.candidate(scope.elements, best);
    if (best.strategy === "aria" && parseAria(best.value).role === undefined && this.current !== undefined) {
      const { action, index } = this.current;
      this.warnings.push({
        index,
        actionId: actionKey(action, index),
        type: action.type,
        message: `finds aria=${best.value} with byAccessibleName: a control labelled so, or a button, link, menu item, tab, option, heading, cell or tree item named so (Playwright has no query by accessible name alone)`,
      });
    }
    // Candidates the recorder wrote twice (an id as id and as css) are shown once.
    const shown = new Set([locator]);
    for (const other of others) {
      const alternative = this.candidate(scope.elements, other);
      if (!shown.has(alternative)) this.comment(`also: ${alternative}`);
      shown.add(alternative);
    }
    const sure = best.confidence !== undefined && best.confidence >= HIGH_CONFIDENCE;
    return options.all || sure ? locator : `${locator}.first()`;
  }

  timeout(action: Action): number {
    return action.timeoutMs ?? this.actionTimeoutMs;
  }

  /** `, { timeout: N }`-style options for a Playwright call: only what differs from the defaults. */
  options(entries: [string, string | undefined][]): string {
    const present = entries.filter((entry): entry is [string, string] => entry[1] !== undefined);
    return present.length === 0 ? "" : `{ ${present.map(([key, value]) => `${key}: ${value}`).join(", ")} }`;
  }
}

/** Writes a recording as a Playwright Test file. Sensitive values are never written: see prepareForExport. */
export function exportPlaywright(input: Recording, options: PlaywrightExportOptions = {}): PlaywrightExport {
  const { recording, variables } = prepareForExport(input);
  const actionTimeoutMs = options.actionTimeoutMs ?? DEFAULT_ACTION_TIMEOUT_MS;
  const w = new PlaywrightWriter(variables, actionTimeoutMs);

  const dialogs = recording.dialogs ?? "accept";
  w.line(`test.setTimeout(${num(options.runTimeoutMs ?? DEFAULT_RUN_TIMEOUT_MS)});`);
  w.comment(
    dialogs === "accept"
      ? "Browser dialogs (alert, confirm, prompt) are accepted, as the recording says; a prompt gets its default text."
      : "Browser dialogs (alert, confirm, prompt) are dismissed, as the recording says.",
  );
  w.line(
    dialogs === "accept"
      ? `context.on("dialog", (dialog) => void dialog.accept(dialog.type() === "prompt" ? dialog.defaultValue() : undefined).catch(() => {}));`
      : `context.on("dialog", (dialog) => void dialog.dismiss().catch(() => {}));`,
  );
  if (recording.startUrl !== undefined) {
    w.line();
    w.comment("The recording's start page.");
    w.line(`await page.goto(${w.str(recording.startUrl)});`);
  }
  recording.actions.forEach((action, index) => {
    w.line();
    writeAction(w, action, index);
  });

  const used = [...w.usedVariables.values()].sort((a, b) => a.name.localeCompare(b.name));
  const types = [...new Set([...w.helpers].flatMap((helper) => HELPER_TYPES[helper]))].sort();
  const header = [
    `// ${commentText(`Conveyor recording ${jsString(recording.name)}${options.source ? ` (${options.source})` : ""}, exported as a Playwright test.`)}`,
    `// ${recording.actions.length} action${recording.actions.length === 1 ? "" : "s"}; each waits up to ${num(actionTimeoutMs)} ms unless it says otherwise.`,
  ];
  if (used.length > 0) {
    header.push("//", "// Environment variables it reads:");
    for (const variable of used) {
      const how = variable.sensitive
        ? "sensitive: required, its value is never written in this file"
        : variable.default === undefined
          ? "required"
          : `optional, default ${jsString(variable.default)}`;
      const about = variable.description === undefined ? "" : ` — ${variable.description}`;
      header.push(`// ${commentText(`  ${variable.name} (${how})${about}`)}`);
    }
  }
  const file = [
    ...header,
    `import { test, expect } from "@playwright/test";`,
    ...(types.length === 0 ? [] : [`import type { ${types.join(", ")} } from "@playwright/test";`]),
    "",
    `test.use({ ${[
      ...(recording.viewport === undefined
        ? []
        : [`viewport: { width: ${recording.viewport.width}, height: ${recording.viewport.height} }`]),
      `actionTimeout: ${num(actionTimeoutMs)}`,
      `navigationTimeout: ${num(actionTimeoutMs)}`,
    ].join(", ")} });`,
    "",
    `test(${jsString(recording.name)}, async ({ page, context }) => {`,
    ...w.body(),
    "});",
    ...(Object.keys(HELPERS) as Helper[]).filter((helper) => w.helpers.has(helper)).flatMap((h) => ["", HELPERS[h]]),
    "",
  ];
  return { content: file.join("\n"), warnings: w.warnings, variables: used };
}

function describeAction(action: Action, index: number): string {
  const parts = [`${index + 1}. ${action.type}`];
  if (action.type === "assert") parts.push(action.check);
  if (action.type === "modal") parts.push(action.state);
  if (action.id !== undefined) parts.push(`(${action.id})`);
  if (action.description !== undefined && action.description !== "") parts.push(`— ${action.description}`);
  if ("selector" in action && action.selector !== undefined) {
    const [best] = candidatesOf(action.selector);
    if (best !== undefined) parts.push(`[${describeCandidate(best)}]`);
  }
  return parts.join(" ");
}

function writeAction(w: PlaywrightWriter, action: Action, index: number): void {
  w.current = { action, index };
  const label = describeAction(action, index);
  w.comment(action.optional ? `${label} (optional: a failure is tolerated)` : label);
  if (action.optional) {
    w.helpers.add("optional");
    w.line(`await optional(${jsString(`${actionKey(action, index)} ${action.type}`)}, async () => {`);
    w.nested(() => writeSteps(w, action, index));
    w.line("});");
    return;
  }
  writeSteps(w, action, index);
}

/**
 * Whether an action acts on the page as a whole, whatever frame it names (the runner ignores it):
 * opening a URL, closing, emulation, a key sent to whatever has focus, URL and title checks.
 */
function isPageLevel(action: Action): boolean {
  switch (action.type) {
    case "navigate":
    case "close":
    case "emulateNetwork":
    case "setViewport":
      return true;
    case "keypress":
      return action.selector === undefined;
    case "assert":
      return action.check === "urlMatch" || action.check === "urlContains" || action.check === "pageTitle";
    default:
      return false;
  }
}

/** Declares the action's page and frame when it names them, and says how to reach them. */
function scopeOf(w: PlaywrightWriter, action: Action, index: number): Scope {
  const n = index + 1;
  const timeout = num(w.timeout(action));
  let page = "page";
  if (action.target !== undefined && action.target !== "main") {
    w.helpers.add("pageWithUrl");
    page = `page${n}`;
    w.line(`const ${page} = await pageWithUrl(context, ${w.str(action.target)}, ${timeout});`);
  }
  const frame = isPageLevel(action) ? undefined : action.frame;
  if (typeof frame === "string") {
    const iframes = frameSelectors(frame);
    const elements = iframes.reduce((scope, selector) => `${scope}.frameLocator(${w.str(selector)})`, page);
    return { page, elements, cssFrames: iframes };
  }
  if (Array.isArray(frame) && frame.length > 0) {
    w.helpers.add("frameAt");
    w.line(`const frame${n} = await frameAt(${page}, [${frame.join(", ")}], ${timeout});`);
    return { page, elements: `frame${n}` };
  }
  return { page, elements: page };
}

function writeSteps(w: PlaywrightWriter, action: Action, index: number): void {
  const scope = scopeOf(w, action, index);
  const own = action.timeoutMs === undefined ? undefined : num(action.timeoutMs);
  const expectTimeout = `{ timeout: ${num(w.timeout(action))} }`;
  switch (action.type) {
    case "navigate": {
      const url =
        URL.canParse(action.url) || action.url.startsWith("${") ? w.str(action.url) : relativeUrl(w, scope, action.url);
      const opts = w.options([
        ["waitUntil", action.waitUntil === undefined ? undefined : jsString(action.waitUntil)],
        ["timeout", own],
      ]);
      w.line(`await ${scope.page}.goto(${url}${opts === "" ? "" : `, ${opts}`});`);
      return;
    }
    case "click": {
      const element = w.element(scope, action.selector);
      const button = action.button === undefined || action.button === "left" ? undefined : jsString(action.button);
      const opts = w.options([
        ["button", button],
        ["clickCount", action.clickCount === 3 ? "3" : undefined],
        ["modifiers", action.modifiers?.length ? `[${action.modifiers.map(jsString).join(", ")}]` : undefined],
        ["position", action.position ? `{ x: ${action.position.x}, y: ${action.position.y} }` : undefined],
        ["delay", action.holdMs ? num(action.holdMs) : undefined],
        ["timeout", own],
      ]);
      w.line(`await ${element}.${action.clickCount === 2 ? "dblclick" : "click"}(${opts});`);
      return;
    }
    case "input": {
      const element = w.element(scope, action.selector);
      const value = w.str(action.value);
      const timeout = w.options([["timeout", own]]);
      if (action.mode === "type") {
        // Typing appends: start from an empty field, as the runner does.
        w.line(`await ${element}.fill(""${timeout === "" ? "" : `, ${timeout}`});`);
        const opts = w.options([
          ["delay", action.typingDelayMs ? num(action.typingDelayMs) : undefined],
          ["timeout", own],
        ]);
        w.line(`await ${element}.pressSequentially(${value}${opts === "" ? "" : `, ${opts}`});`);
      } else {
        w.line(`await ${element}.fill(${value}${timeout === "" ? "" : `, ${timeout}`});`);
      }
      return;
    }
    case "check": {
      const element = w.element(scope, action.selector);
      w.line(`await ${element}.${action.checked === false ? "uncheck" : "check"}(${w.options([["timeout", own]])});`);
      return;
    }
    case "keypress": {
      const chord = w.str(keyChord(action.key, action.modifiers));
      if (action.selector === undefined) {
        w.line(`await ${scope.page}.keyboard.press(${chord});`);
      } else {
        const element = w.element(scope, action.selector);
        const opts = w.options([["timeout", own]]);
        w.line(`await ${element}.press(${chord}${opts === "" ? "" : `, ${opts}`});`);
      }
      return;
    }
    case "select": {
      const element = w.element(scope, action.selector);
      // Playwright matches a string by value or label; the runner tries value, label, then index.
      const option =
        action.value !== undefined
          ? w.str(action.value)
          : action.label !== undefined
            ? `{ label: ${w.str(action.label)} }`
            : `{ index: ${action.index ?? 0} }`;
      if (action.value !== undefined && (action.label !== undefined || action.index !== undefined)) {
        w.comment(
          `recorded too: ${[action.label === undefined ? "" : `label ${jsString(action.label)}`, action.index === undefined ? "" : `index ${action.index}`].filter(Boolean).join(", ")}`,
        );
      }
      const opts = w.options([["timeout", own]]);
      w.line(`await ${element}.selectOption(${option}${opts === "" ? "" : `, ${opts}`});`);
      return;
    }
    case "hover": {
      const element = w.element(scope, action.selector);
      w.line(`await ${element}.hover(${w.options([["timeout", own]])});`);
      return;
    }
    case "scroll": {
      const position = `{ x: ${action.x}, y: ${action.y} }`;
      if (action.selector === undefined) {
        if (scope.elements === scope.page) {
          w.line(
            `await ${scope.page}.evaluate(({ x, y }) => window.scrollTo({ left: x, top: y, behavior: "instant" }), ${position});`,
          );
        } else {
          w.line(
            `await ${scope.elements}.locator(":root").evaluate((root, { x, y }) => root.ownerDocument.defaultView?.scrollTo({ left: x, top: y, behavior: "instant" }), ${position});`,
          );
        }
        return;
      }
      const element = w.element(scope, action.selector);
      const opts = w.options([["timeout", own]]);
      w.line(
        `await ${element}.evaluate((element, { x, y }) => element.scrollTo({ left: x, top: y, behavior: "instant" }), ${position}${opts === "" ? "" : `, ${opts}`});`,
      );
      return;
    }
    case "submit": {
      const element = w.element(scope, action.selector);
      const opts = w.options([["timeout", own]]);
      w.comment("Submits as a submit button would: validation and submit handlers run.");
      w.line(`await ${element}.evaluate((element) => {`);
      w.nested(() => {
        w.line(
          'const form = element instanceof HTMLFormElement ? element : (element.closest("form") ?? (element as HTMLInputElement).form);',
        );
        w.line('if (!form) throw new Error("not a form, nor inside one");');
        w.line("form.requestSubmit();");
      });
      w.line(`}${opts === "" ? "" : `, undefined, ${opts}`});`);
      return;
    }
    case "modal": {
      const dialogs =
        action.selector === undefined
          ? `${scope.elements}.locator(${jsString(DEFAULT_MODAL_SELECTORS.join(", "))})`
          : w.element(scope, action.selector, { all: true });
      // Only visible dialogs count: frameworks keep a closed one in the page, hidden.
      if (action.state === "open") {
        w.line(`await expect(${dialogs}.filter({ visible: true }).first()).toBeVisible(${expectTimeout});`);
      } else {
        w.line(`await expect(${dialogs}.filter({ visible: true })).toHaveCount(0, ${expectTimeout});`);
      }
      return;
    }
    case "assert":
      writeAssert(w, action, scope, w.timeout(action));
      return;
    case "waitForElement": {
      const all = w.element(scope, action.selector, { all: true });
      const counted = action.visible === undefined ? all : `${all}.filter({ visible: ${action.visible} })`;
      const operator = action.operator ?? ">=";
      const count = action.count ?? 1;
      const checksValues = action.attributes !== undefined || action.properties !== undefined;
      if (!checksValues) {
        if (operator === "==") w.line(`await expect(${counted}).toHaveCount(${count}, ${expectTimeout});`);
        else if (operator === ">=" && count === 1)
          w.line(`await expect(${counted}.first()).toBeAttached(${expectTimeout});`);
        else {
          const matcher = operator === ">=" ? "toBeGreaterThanOrEqual" : "toBeLessThanOrEqual";
          w.line(`await expect.poll(() => ${counted}.count(), ${expectTimeout}).${matcher}(${count});`);
        }
        return;
      }
      // Only elements with these attribute values and DOM properties (compared as JSON) count.
      const wanted = JSON.stringify({ attributes: action.attributes ?? {}, properties: action.properties ?? {} });
      const matcher = operator === "==" ? "toBe" : operator === ">=" ? "toBeGreaterThanOrEqual" : "toBeLessThanOrEqual";
      w.line("await expect");
      w.nested(() => {
        w.line(".poll(() =>");
        w.nested(() => {
          w.line(`${counted}.evaluateAll(`);
          w.nested(() => {
            w.line("(elements, { attributes, properties }) =>");
            w.nested(() => {
              w.line("elements.filter(");
              w.nested(() => {
                w.line("(element) =>");
                w.nested(() => {
                  w.line(
                    "Object.entries(attributes).every(([name, value]) => element.getAttribute(name) === value) &&",
                  );
                  w.line(
                    "Object.entries(properties).every(([name, value]) => JSON.stringify((element as unknown as Record<string, unknown>)[name]) === JSON.stringify(value)),",
                  );
                });
              });
              w.line(").length,");
            });
            w.line(`${wanted} as { attributes: Record<string, string>; properties: Record<string, unknown> },`);
          });
          w.line("),");
        });
        w.line(`${expectTimeout},`);
      });
      w.line(`).${matcher}(${count});`);
      return;
    }
    case "waitForExpression": {
      const expression = jsString(action.expression);
      const timeout = `{ timeout: ${num(w.timeout(action))} }`;
      if (scope.cssFrames !== undefined) {
        w.helpers.add("frameOf");
        const n = index + 1;
        const iframes = `[${scope.cssFrames.map((selector) => w.str(selector)).join(", ")}]`;
        w.line(`const frame${n} = await frameOf(${scope.page}, ${iframes}, ${num(w.timeout(action))});`);
        w.line(`await frame${n}.waitForFunction(${expression}, undefined, ${timeout});`);
      } else {
        w.line(`await ${scope.elements}.waitForFunction(${expression}, undefined, ${timeout});`);
      }
      return;
    }
    case "close":
      w.line(`await ${scope.page}.close();`);
      return;
    case "emulateNetwork": {
      const conditions = [
        `offline: ${action.offline === true}`,
        `latency: ${action.latencyMs ?? 0}`,
        `downloadThroughput: ${action.offline ? 0 : (action.downloadThroughput ?? -1)}`,
        `uploadThroughput: ${action.offline ? 0 : (action.uploadThroughput ?? -1)}`,
      ].join(", ");
      // Chromium's own throttling, through the DevTools protocol (Playwright has no API for it).
      w.line(`const network${index + 1} = await context.newCDPSession(${scope.page});`);
      w.line(`await network${index + 1}.send("Network.enable");`);
      w.line(`await network${index + 1}.send("Network.emulateNetworkConditions", { ${conditions} });`);
      return;
    }
    case "setViewport":
      w.line(`await ${scope.page}.setViewportSize({ width: ${action.width}, height: ${action.height} });`);
      return;
    default: {
      const unreachable: never = action;
      throw new Error(`Unknown action type ${JSON.stringify(unreachable)}`);
    }
  }
}

/** A relative URL resolves against the page's current URL, as the runner resolves it. */
function relativeUrl(w: PlaywrightWriter, scope: Scope, url: string): string {
  return `new URL(${w.str(url)}, ${scope.page}.url()).href`;
}

function writeAssert(w: PlaywrightWriter, action: ActionOf<"assert">, scope: Scope, timeoutMs: number): void {
  const timeout = `{ timeout: ${num(timeoutMs)} }`;
  const expected = w.str(action.expected ?? "");
  switch (action.check) {
    case "urlMatch":
      w.line(`await expect(${scope.page}).toHaveURL(${expected}, ${timeout});`);
      return;
    case "urlContains":
      w.line(`await expect(${scope.page}).toHaveURL((url) => url.href.includes(${expected}), ${timeout});`);
      return;
    case "pageTitle":
      w.line(`await expect(${scope.page}).toHaveTitle(${expected}, ${timeout});`);
      return;
    case "pageLoad":
      if (scope.elements === scope.page) {
        w.line(`await ${scope.page}.waitForLoadState("load", ${timeout});`);
      } else {
        w.line(
          `await expect.poll(() => ${scope.elements}.locator(":root").evaluate((root) => root.ownerDocument.readyState), ${timeout}).toBe("complete");`,
        );
      }
      return;
    case "elementVisible":
      w.line(`await expect(${elementOf(w, action, scope)}).toBeVisible(${timeout});`);
      return;
    case "elementText":
      // toHaveText compares with whitespace collapsed, as the runner does.
      w.line(`await expect(${elementOf(w, action, scope)}).toHaveText(${expected}, ${timeout});`);
      return;
    case "containsText":
      if (action.selector === undefined) {
        w.line(
          `await expect(${scope.elements}.locator("body")).toContainText(${expected}, { useInnerText: true, timeout: ${num(timeoutMs)} });`,
        );
      } else {
        w.line(`await expect(${elementOf(w, action, scope)}).toContainText(${expected}, ${timeout});`);
      }
      return;
    case "elementHasValue":
      w.line(`await expect(${elementOf(w, action, scope)}).toHaveValue(${expected}, ${timeout});`);
      return;
    default: {
      const unreachable: never = action.check;
      throw new Error(`Unknown assert check ${String(unreachable)}`);
    }
  }
}

function elementOf(w: PlaywrightWriter, action: ActionOf<"assert">, scope: Scope): string {
  return action.selector === undefined ? `${scope.elements}.locator(":root")` : w.element(scope, action.selector);
}
