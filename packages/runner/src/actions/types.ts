import type { ActionOf, ActionType, EgressPolicy, Selector } from "@conveyor/core";
import type { Page } from "playwright-core";
import type { ResolvedSelector, Scope } from "../selectors.ts";

export type { Scope } from "../selectors.ts";

/** Options for {@link ActionContext.resolve}. */
export interface ResolveOptions {
  /**
   * Count only visible elements, so a candidate whose matches are all hidden does not win.
   * Default: false (any attached element counts).
   */
  visible?: boolean;
}

/** What an executor gets to carry out one action. */
export interface ActionContext<T extends ActionType = ActionType> {
  /**
   * The top-level page, for what belongs to the whole tab whatever frame the action is in:
   * keyboard, mouse, URL, title, navigation.
   */
  page: Page;
  /** Where to locate elements: `page`, or the action's `frame` (nested frames resolved). */
  scope: Scope;
  /** The action's `frame` as written (variables substituted), for messages; undefined on the top page. */
  frame: string | undefined;
  /** The action, variables already substituted. */
  action: ActionOf<T>;
  /** This action's whole budget, in milliseconds. */
  timeoutMs: number;
  /** When the budget runs out, as epoch milliseconds. */
  deadline: number;
  /** Milliseconds left of the budget, at least 1 (Playwright reads 0 as "no timeout"). */
  remainingMs(): number;
  /**
   * Finds the element in `scope`, waiting for it within the budget; records which candidate
   * matched and which were tried.
   */
  resolve(selector: Selector, options?: ResolveOptions): Promise<ResolvedSelector>;
  /**
   * Waits a recorded duration (ms) the way the run's timing says: nothing with `fast`, scaled by
   * `speed` and capped by `maxDelayMs` with `realtime`. Returns early when the run stops.
   */
  pace(recordedMs: number): Promise<void>;
  /** Aborted when the run is stopped; polling loops wake up on it. */
  signal: AbortSignal;
  /** The run's egress policy: a navigation to a URL it refuses by scheme or address is never started. */
  egressPolicy: EgressPolicy;
}

/** Carries out one action; throws when it cannot. */
export type ActionExecutor<T extends ActionType> = (ctx: ActionContext<T>) => Promise<void>;

/** One executor per action type; a new type in core fails to compile until it has one. */
export type ActionExecutors = { readonly [T in ActionType]: ActionExecutor<T> };
