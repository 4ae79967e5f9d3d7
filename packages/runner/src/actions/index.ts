import { assert } from "./assert.ts";
import { check } from "./check.ts";
import { click } from "./click.ts";
import { hover } from "./hover.ts";
import { input } from "./input.ts";
import { keypress } from "./keypress.ts";
import { modal } from "./modal.ts";
import { navigate } from "./navigate.ts";
import { scroll } from "./scroll.ts";
import { select } from "./select.ts";
import { submit } from "./submit.ts";
import type { ActionExecutors } from "./types.ts";

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
};

export { keyChord } from "./keypress.ts";
export { DEFAULT_MODAL_SELECTOR } from "./modal.ts";
export type { ActionContext, ActionExecutor, ActionExecutors, ResolveOptions, Scope } from "./types.ts";
