import { assert } from "./assert.ts";
import { check } from "./check.ts";
import { click } from "./click.ts";
import { close } from "./close.ts";
import { emulateNetwork } from "./emulate-network.ts";
import { hover } from "./hover.ts";
import { input } from "./input.ts";
import { keypress } from "./keypress.ts";
import { modal } from "./modal.ts";
import { navigate } from "./navigate.ts";
import { scroll } from "./scroll.ts";
import { select } from "./select.ts";
import { setViewport } from "./set-viewport.ts";
import { submit } from "./submit.ts";
import type { ActionExecutors } from "./types.ts";
import { waitForElement } from "./wait-for-element.ts";
import { waitForExpression } from "./wait-for-expression.ts";

export const ACTION_EXECUTORS: ActionExecutors = {
  navigate,
  click,
  input,
  check,
  keypress,
  select,
  hover,
  scroll,
  submit,
  modal,
  assert,
  waitForElement,
  waitForExpression,
  close,
  emulateNetwork,
  setViewport,
};

export { keyChord } from "./keypress.ts";
export { DEFAULT_MODAL_SELECTOR } from "./modal.ts";
export type { ActionContext, ActionExecutor, ActionExecutors, ResolveOptions, Scope } from "./types.ts";
export { EXPRESSIONS_DISABLED_MESSAGE } from "./wait-for-expression.ts";
