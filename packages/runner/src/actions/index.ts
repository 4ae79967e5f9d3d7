import { assert } from "./assert.ts";
import { click } from "./click.ts";
import { input } from "./input.ts";
import { keypress } from "./keypress.ts";
import { navigate } from "./navigate.ts";
import { select } from "./select.ts";
import type { ActionExecutors } from "./types.ts";

export const ACTION_EXECUTORS: ActionExecutors = { navigate, click, input, keypress, select, assert };

export type { ActionContext, ActionExecutor, ActionExecutors } from "./types.ts";
