import { cssString } from "../css.ts";
import { type Action, type ActionOf, actionKey, type Recording, type SelectorCandidate } from "../recording.ts";
import {
  candidateCss,
  candidatesOf,
  DEFAULT_MODAL_SELECTORS,
  type ExportVariable,
  type ExportWarning,
  prepareForExport,
  textParts,
} from "./shared.ts";

/**
 * Writes a recording as a Chrome DevTools Recorder recording: the JSON that the Recorder panel
 * imports and @puppeteer/replay replays (its schema: github.com/puppeteer/replay, src/Schema.ts).
 * What the Recorder cannot express is written as its closest equivalent or left out, and each
 * such case is a warning. Pure: no I/O. docs/recording-export.md describes the mapping.
 */

/** One step of a Recorder recording (the fields this export writes). */
export type RecorderStep = { type: string } & Record<string, unknown>;

/** A Chrome DevTools Recorder recording (@puppeteer/replay's UserFlow). */
export interface RecorderFlow {
  title: string;
  steps: RecorderStep[];
}

export interface ChromeRecorderExport {
  flow: RecorderFlow;
  /** The flow as a file: pretty JSON. */
  content: string;
  warnings: ExportWarning[];
}

/** The Recorder refuses a step timeout outside 1–30000 ms (@puppeteer/replay's validTimeout). */
const MAX_STEP_TIMEOUT_MS = 30_000;

/** Where a click lands when the recording gives no position: the Recorder needs an offset. */
const DEFAULT_OFFSET = 1;

const BUTTONS = { left: "primary", middle: "auxiliary", right: "secondary" } as const;

class RecorderWriter {
  readonly steps: RecorderStep[] = [];
  readonly warnings: ExportWarning[] = [];
  /** Variables left as `${NAME}` in the file, each warned about once. */
  private readonly unresolved = new Set<string>();
  private readonly variables: Map<string, ExportVariable>;
  clicksWithoutPosition = 0;
  /** The navigate step the checks being written follow directly, for their assertedEvents. */
  navigation: RecorderStep | undefined;

  constructor(variables: Map<string, ExportVariable>) {
    this.variables = variables;
  }

  warn(message: string, action?: Action, index?: number): void {
    this.warnings.push(
      action === undefined || index === undefined
        ? { message }
        : { index, actionId: actionKey(action, index), type: action.type, message },
    );
  }

  /**
   * Text with its variables replaced by their defaults: the Recorder has no variables. One without
   * a default, or sensitive, stays `${NAME}`, with a warning.
   */
  text(value: string): string {
    return textParts(value)
      .map((part) => {
        if ("text" in part) return part.text;
        const variable = this.variables.get(part.variable);
        if (variable !== undefined && !variable.sensitive && variable.default !== undefined) return variable.default;
        if (!this.unresolved.has(part.variable)) {
          this.unresolved.add(part.variable);
          this.warn(
            `\${${part.variable}} is left as written: the Recorder has no variables${variable?.sensitive ? " and this one is sensitive" : ", and it has no default"}; replace it before replaying`,
          );
        }
        return `\${${part.variable}}`;
      })
      .join("");
  }

  /** A candidate as the Recorder writes selectors: CSS, or `aria/`, `text/`, `xpath/`, `pierce/`. */
  selectorPart(strategy: SelectorCandidate["strategy"], value: string): string {
    const text = this.text(value);
    switch (strategy) {
      case "text":
      case "text-contains":
        return `text/${text}`;
      case "xpath":
        return `xpath/${text}`;
      case "role":
        return `aria/[role=${cssString(text)}]`;
      case "aria":
        return `aria/${text}`;
      case "pierce":
        return `pierce/${text}`;
      default:
        return candidateCss(strategy, text) ?? text;
    }
  }

  /** Every candidate, in order (the Recorder tries them in order too); a chain is an array, outermost first. */
  selectors(selector: ActionOf<"click">["selector"]): (string | string[])[] {
    return candidatesOf(selector).map((candidate) =>
      candidate.within === undefined
        ? this.selectorPart(candidate.strategy, candidate.value)
        : [
            ...candidate.within.map((part) => this.selectorPart(part.strategy, part.value)),
            this.selectorPart(candidate.strategy, candidate.value),
          ],
    );
  }

  /**
   * A JavaScript expression that finds the element in the page, for steps the Recorder only has as
   * waitForExpression: the first candidate CSS or XPath can express. Undefined when none can.
   */
  elementExpression(selector: ActionOf<"click">["selector"]): string | undefined {
    for (const candidate of candidatesOf(selector)) {
      if (candidate.within !== undefined) continue;
      const value = this.text(candidate.value);
      const css = candidate.strategy === "pierce" ? undefined : candidateCss(candidate.strategy, value);
      if (css !== undefined) return `document.querySelector(${JSON.stringify(css)})`;
      if (candidate.strategy === "xpath") {
        return `document.evaluate(${JSON.stringify(value)}, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue`;
      }
    }
    return undefined;
  }

  /** Like elementExpression, for every element the candidate matches: an array expression. */
  elementsExpression(selectors: string[]): string {
    return `[...document.querySelectorAll(${JSON.stringify(selectors.join(", "))})]`;
  }

  /** The CSS selectors of a selector's candidates, when every one has one (for visibility checks). */
  cssOf(selector: ActionOf<"click">["selector"]): string[] | undefined {
    const css: string[] = [];
    for (const candidate of candidatesOf(selector)) {
      if (candidate.within !== undefined || candidate.strategy === "pierce") return undefined;
      const one = candidateCss(candidate.strategy, this.text(candidate.value));
      if (one === undefined) return undefined;
      css.push(one);
    }
    return css;
  }

  /** The fields every step of this action has: frame, target, timeout. */
  base(action: Action, index: number, options: { frame?: boolean } = { frame: true }): Record<string, unknown> {
    const fields: Record<string, unknown> = {};
    if (options.frame !== false) {
      if (Array.isArray(action.frame) && action.frame.length > 0) fields.frame = [...action.frame];
      else if (typeof action.frame === "string") {
        this.warn(
          `happens in the iframe ${JSON.stringify(action.frame)}, given by CSS selector; the Recorder names frames by child-frame indexes only: written for the top frame`,
          action,
          index,
        );
      }
    }
    if (action.target !== undefined && action.target !== "main") fields.target = this.text(action.target);
    if (action.timeoutMs !== undefined) {
      if (action.timeoutMs > MAX_STEP_TIMEOUT_MS) {
        this.warn(`timeout ${action.timeoutMs} ms is over the Recorder's 30000 ms: written as 30000`, action, index);
      }
      fields.timeout = Math.min(action.timeoutMs, MAX_STEP_TIMEOUT_MS);
    }
    return fields;
  }
}

/** Writes a recording as a Chrome DevTools Recorder recording. Sensitive values are never written. */
export function exportChromeRecorder(input: Recording): ChromeRecorderExport {
  const { recording, variables } = prepareForExport(input);
  const w = new RecorderWriter(variables);
  if (recording.viewport !== undefined) {
    w.steps.push(viewportStep(recording.viewport.width, recording.viewport.height));
  }
  if (recording.startUrl !== undefined) {
    w.steps.push({ type: "navigate", url: w.text(recording.startUrl) });
  }
  if (recording.dialogs !== undefined) {
    w.warn(
      `browser dialogs are to be ${recording.dialogs === "accept" ? "accepted" : "dismissed"}: the Recorder has no such setting`,
    );
  }
  recording.actions.forEach((action, index) => {
    if (action.optional) {
      w.warn("is optional: the Recorder has no optional steps, so its failure stops the replay", action, index);
    }
    if (action.type !== "assert") w.navigation = undefined;
    writeAction(w, action, index);
    if (action.type === "navigate") w.navigation = w.steps.at(-1);
  });
  if (w.clicksWithoutPosition > 0) {
    w.warn(
      `${w.clicksWithoutPosition} click${w.clicksWithoutPosition === 1 ? " has" : "s have"} no recorded position: the Recorder needs one, so ${w.clicksWithoutPosition === 1 ? "it lands" : "they land"} ${DEFAULT_OFFSET} px inside the element's top-left corner instead of its centre`,
    );
  }
  const flow: RecorderFlow = { title: recording.name, steps: w.steps };
  return { flow, content: `${JSON.stringify(flow, null, 2)}\n`, warnings: w.warnings };
}

function viewportStep(width: number, height: number): RecorderStep {
  return {
    type: "setViewport",
    width,
    height,
    deviceScaleFactor: 1,
    isMobile: false,
    hasTouch: false,
    isLandscape: false,
  };
}

/** The Recorder writes a modifier held during a click or key as keyDown … keyUp around it. */
function withModifiers(
  w: RecorderWriter,
  modifiers: readonly string[],
  base: Record<string, unknown>,
  run: () => void,
) {
  for (const key of modifiers) w.steps.push({ type: "keyDown", ...base, key });
  run();
  for (const key of [...modifiers].reverse()) w.steps.push({ type: "keyUp", ...base, key });
}

function writeAction(w: RecorderWriter, action: Action, index: number): void {
  switch (action.type) {
    case "navigate":
      if (action.waitUntil !== undefined && action.waitUntil !== "load") {
        w.warn(`waits for "${action.waitUntil}": the Recorder always waits for the load event`, action, index);
      }
      w.steps.push({ type: "navigate", ...w.base(action, index, { frame: false }), url: w.text(action.url) });
      return;
    case "click": {
      const base = w.base(action, index);
      if (action.clickCount === 3) w.warn("is a triple click: the Recorder has double clicks at most", action, index);
      if (action.position === undefined) w.clicksWithoutPosition++;
      const step: RecorderStep = {
        type: action.clickCount !== undefined && action.clickCount >= 2 ? "doubleClick" : "click",
        ...base,
        selectors: w.selectors(action.selector),
        offsetX: action.position?.x ?? DEFAULT_OFFSET,
        offsetY: action.position?.y ?? DEFAULT_OFFSET,
        ...(action.button === undefined || action.button === "left" ? {} : { button: BUTTONS[action.button] }),
        ...(action.holdMs === undefined ? {} : { duration: action.holdMs }),
      };
      const keyBase = { ...(base.target === undefined ? {} : { target: base.target }) };
      withModifiers(w, action.modifiers ?? [], keyBase, () => w.steps.push(step));
      return;
    }
    case "input":
      // The Recorder's change step types into text fields and sets other fields' value.
      w.steps.push({
        type: "change",
        ...w.base(action, index),
        selectors: w.selectors(action.selector),
        value: w.text(action.value),
      });
      return;
    case "check":
      w.warn(
        `${action.checked === false ? "unchecks" : "checks"} a checkbox: written as a click, which toggles it whatever its state`,
        action,
        index,
      );
      w.clicksWithoutPosition++;
      w.steps.push({
        type: "click",
        ...w.base(action, index),
        selectors: w.selectors(action.selector),
        offsetX: DEFAULT_OFFSET,
        offsetY: DEFAULT_OFFSET,
      });
      return;
    case "keypress": {
      const base = w.base(action, index);
      if (action.selector !== undefined) {
        const element = w.elementExpression(action.selector);
        if (element === undefined) {
          w.warn(
            "focuses an element only text, role or ARIA can find: the key goes to whatever has focus",
            action,
            index,
          );
        } else {
          // The Recorder has no focus step: focusing is a waitForExpression that also finds the element.
          w.steps.push({
            type: "waitForExpression",
            ...base,
            expression: `(() => { const element = ${element}; if (!element) return false; element.focus(); return true; })()`,
          });
        }
      }
      const keyBase = { ...(base.target === undefined ? {} : { target: base.target }) };
      const modifiers = [...new Set((action.modifiers ?? []).filter((modifier) => modifier !== action.key))];
      const key = w.text(action.key);
      withModifiers(w, modifiers, keyBase, () => {
        w.steps.push({ type: "keyDown", ...keyBase, key });
        w.steps.push({ type: "keyUp", ...keyBase, key });
      });
      return;
    }
    case "select":
      if (action.value === undefined) {
        w.warn(
          `picks its option by ${action.label !== undefined ? "label" : "index"}: the Recorder selects by value only; left out`,
          action,
          index,
        );
        return;
      }
      if (action.label !== undefined || action.index !== undefined) {
        w.warn(
          "falls back to the option's label or index in Conveyor: the Recorder selects by value only",
          action,
          index,
        );
      }
      w.steps.push({
        type: "change",
        ...w.base(action, index),
        selectors: w.selectors(action.selector),
        value: w.text(action.value),
      });
      return;
    case "hover":
      w.steps.push({ type: "hover", ...w.base(action, index), selectors: w.selectors(action.selector) });
      return;
    case "scroll":
      w.steps.push({
        type: "scroll",
        ...w.base(action, index),
        ...(action.selector === undefined ? {} : { selectors: w.selectors(action.selector) }),
        x: action.x,
        y: action.y,
      });
      return;
    case "submit": {
      const element = w.elementExpression(action.selector);
      if (element === undefined) {
        w.warn(
          "submits a form only text, role or ARIA can find: the Recorder has no submit step; left out",
          action,
          index,
        );
        return;
      }
      w.warn("the Recorder has no submit step: written as a waitForExpression that submits the form", action, index);
      w.steps.push({
        type: "waitForExpression",
        ...w.base(action, index),
        expression: `(() => { const element = ${element}; const form = element instanceof HTMLFormElement ? element : element?.closest("form"); if (!form) return false; form.requestSubmit(); return true; })()`,
      });
      return;
    }
    case "modal": {
      // Only visible dialogs count, as in Conveyor: a closed one may stay in the page, hidden.
      // @puppeteer/replay counts hidden elements too (its `visible` inverts the whole check), so the
      // check is an expression wherever CSS can name the dialog.
      const css = action.selector === undefined ? DEFAULT_MODAL_SELECTORS : w.cssOf(action.selector);
      if (css !== undefined) {
        const open = `${w.elementsExpression(css)}.some((element) => element.checkVisibility())`;
        w.steps.push({
          type: "waitForExpression",
          ...w.base(action, index),
          expression: action.state === "open" ? open : `!${open}`,
        });
        return;
      }
      w.warn(
        "waits for a dialog only text, role or ARIA can find: written as a waitForElement, which @puppeteer/replay also satisfies with a hidden one",
        action,
        index,
      );
      w.steps.push({
        type: "waitForElement",
        ...w.base(action, index),
        selectors: w.selectors(action.selector ?? DEFAULT_MODAL_SELECTORS.join(", ")),
        operator: action.state === "open" ? ">=" : "==",
        count: action.state === "open" ? 1 : 0,
        visible: true,
      });
      return;
    }
    case "assert":
      writeAssert(w, action, index);
      return;
    case "waitForElement":
      if (action.visible === false) {
        w.warn(
          "counts hidden elements: @puppeteer/replay reads visible: false as waiting until the count no longer holds",
          action,
          index,
        );
      }
      // Operator and count always written: the Recorder's documented default operator is "==", Conveyor's ">=".
      w.steps.push({
        type: "waitForElement",
        ...w.base(action, index),
        selectors: w.selectors(action.selector),
        operator: action.operator ?? ">=",
        count: action.count ?? 1,
        ...(action.visible === undefined ? {} : { visible: action.visible }),
        ...(action.properties === undefined ? {} : { properties: action.properties }),
        ...(action.attributes === undefined ? {} : { attributes: action.attributes }),
      });
      return;
    case "waitForExpression":
      w.steps.push({ type: "waitForExpression", ...w.base(action, index), expression: action.expression });
      return;
    case "close":
      w.steps.push({ type: "close", ...w.base(action, index, { frame: false }) });
      return;
    case "emulateNetwork":
      // The Recorder emulates offline as no throughput either way.
      w.steps.push({
        type: "emulateNetworkConditions",
        ...w.base(action, index, { frame: false }),
        download: action.offline ? 0 : (action.downloadThroughput ?? -1),
        upload: action.offline ? 0 : (action.uploadThroughput ?? -1),
        latency: action.latencyMs ?? 0,
      });
      return;
    case "setViewport":
      w.steps.push({ ...viewportStep(action.width, action.height), ...w.base(action, index, { frame: false }) });
      return;
    default: {
      const unreachable: never = action;
      throw new Error(`Unknown action type ${JSON.stringify(unreachable)}`);
    }
  }
}

/**
 * Checks become waitForExpression steps, which @puppeteer/replay evaluates for real. The URL and
 * title checks right after a navigate also become that step's assertedEvents, as the Recorder
 * records them (the replay only waits for the navigation there, hence the expression as well).
 */
function writeAssert(w: RecorderWriter, action: ActionOf<"assert">, index: number): void {
  const base = w.base(action, index);
  const expected = w.text(action.expected ?? "");
  const wait = (expression: string) => w.steps.push({ type: "waitForExpression", ...base, expression });
  const assertNavigation = (field: "url" | "title") => {
    const navigation = w.navigation;
    if (navigation === undefined) return;
    const events = (navigation.assertedEvents as Record<string, unknown>[] | undefined) ?? [{ type: "navigation" }];
    const [event] = events;
    if (event !== undefined) event[field] = expected;
    navigation.assertedEvents = events;
  };
  const normalize = (text: string) => `${text}.replace(/\\s+/g, " ").trim()`;
  const quoted = JSON.stringify(expected);
  switch (action.check) {
    case "urlMatch":
      assertNavigation("url");
      wait(`location.href === ${quoted}`);
      return;
    case "urlContains":
      wait(`location.href.includes(${quoted})`);
      return;
    case "pageTitle":
      assertNavigation("title");
      wait(`${normalize("document.title")} === ${JSON.stringify(expected.replace(/\s+/g, " ").trim())}`);
      return;
    case "pageLoad":
      wait(`document.readyState === "complete"`);
      return;
    case "elementVisible": {
      if (action.selector === undefined) return;
      // As for modals: @puppeteer/replay's waitForElement would also pass for a hidden element.
      const element = w.elementExpression(action.selector);
      if (element !== undefined) {
        wait(`${element}?.checkVisibility() === true`);
        return;
      }
      w.warn(
        "checks an element only text, role or ARIA can find: written as a waitForElement, which @puppeteer/replay also satisfies with a hidden one",
        action,
        index,
      );
      w.steps.push({
        type: "waitForElement",
        ...base,
        selectors: w.selectors(action.selector),
        operator: ">=",
        count: 1,
        visible: true,
      });
      return;
    }
    case "elementHasValue":
      if (action.selector === undefined) return;
      w.steps.push({
        type: "waitForElement",
        ...base,
        selectors: w.selectors(action.selector),
        operator: ">=",
        count: 1,
        properties: { value: expected },
      });
      return;
    case "elementText":
    case "containsText": {
      const want = JSON.stringify(expected.replace(/\s+/g, " ").trim());
      if (action.selector === undefined) {
        wait(`${normalize("document.body.innerText")}.includes(${want})`);
        return;
      }
      const element = w.elementExpression(action.selector);
      if (element === undefined) {
        w.warn(
          `checks the text of an element only text, role or ARIA can find: the Recorder cannot read it; left out`,
          action,
          index,
        );
        return;
      }
      const text = normalize(`(${element}?.textContent ?? "")`);
      wait(action.check === "elementText" ? `${text} === ${want}` : `${text}.includes(${want})`);
      return;
    }
    default: {
      const unreachable: never = action.check;
      throw new Error(`Unknown assert check ${String(unreachable)}`);
    }
  }
}
