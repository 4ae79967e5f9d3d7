import type { Action, ActionOf, ActionType, EgressPolicy, Selector } from "@conveyor/core";
import type { Page } from "playwright-core";
import type { RunPages } from "../pages.ts";
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
   * The page (tab) the action happens in (its `target`: the run's first page, or one it opened),
   * for what belongs to the whole tab whatever frame the action is in: keyboard, mouse, URL,
   * title, navigation.
   */
  page: Page;
  /**
   * Where to locate elements: `page`, or the action's `frame` (nested frames resolved; an index
   * path already found).
   */
  scope: Scope;
  /**
   * The action's `frame` as written (variables substituted), for messages (`describeFrame`);
   * undefined on the top frame (an empty index path included).
   */
  frame: Action["frame"];
  /** The run's pages: the first one, those it opened, their DevTools sessions. */
  pages: RunPages;
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
   * Records which candidate was used and which were tried, for an executor that looks elements
   * up itself rather than through `resolve` (waitForElement counts them).
   */
  recordSelectors(trace: { selectorUsed?: string; selectorsTried: string[] }): void;
  /**
   * Waits a recorded duration (ms) the way the run's timing says: nothing with `fast`, scaled by
   * `speed` and capped by `maxDelayMs` with `realtime`. Returns early when the run stops.
   */
  pace(recordedMs: number): Promise<void>;
  /** Aborted when the run is stopped; polling loops wake up on it. */
  signal: AbortSignal;
  /** The run's egress policy: a navigation to a URL it refuses by scheme or address is never started. */
  egressPolicy: EgressPolicy;
  /**
   * Whether the recording may run its own JavaScript in the page (waitForExpression): the
   * caller's `allowExpressions`.
   */
  allowExpressions: boolean;
}

/** Carries out one action; throws when it cannot. */
export type ActionExecutor<T extends ActionType> = (ctx: ActionContext<T>) => Promise<void>;

/** One executor per action type; a new type in core fails to compile until it has one. */
export type ActionExecutors = { readonly [T in ActionType]: ActionExecutor<T> };
