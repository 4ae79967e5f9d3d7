import type { ActionOf, ActionType, Selector } from "@conveyor/core";
import type { Page } from "playwright-core";
import type { ResolvedSelector } from "../selectors.ts";

/** What an executor gets to carry out one action. */
export interface ActionContext<T extends ActionType = ActionType> {
  page: Page;
  /** The action, variables already substituted. */
  action: ActionOf<T>;
  /** This action's whole budget, in milliseconds. */
  timeoutMs: number;
  /** When the budget runs out, as epoch milliseconds. */
  deadline: number;
  /** Milliseconds left of the budget, at least 1 (Playwright reads 0 as "no timeout"). */
  remainingMs(): number;
  /** Finds the element, waiting for it within the budget; records which candidate matched. */
  resolve(selector: Selector): Promise<ResolvedSelector>;
  /** Aborted when the run is stopped; polling loops wake up on it. */
  signal: AbortSignal;
}

/** Carries out one action; throws when it cannot. */
export type ActionExecutor<T extends ActionType> = (ctx: ActionContext<T>) => Promise<void>;

/** One executor per action type; a new type in core fails to compile until it has one. */
export type ActionExecutors = { readonly [T in ActionType]: ActionExecutor<T> };
