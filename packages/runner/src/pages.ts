import { RunError } from "@conveyor/core";
import type { BrowserContext, CDPSession, Page } from "playwright-core";
import { sleep } from "./sleep.ts";

/** An action's `target` meaning the page the run started with (as is no target at all). */
export const MAIN_TARGET = "main";

/** Pause between looks for a page that has not opened yet, in milliseconds. */
const POLL_INTERVALS_MS = [0, 50, 100, 250];
/** How many open pages a "no such page" message lists. */
const MAX_LISTED_PAGES = 10;

/**
 * The pages (tabs) of one run: the one it started with, and those it opened since (popups, links
 * with target=_blank), which an action's `target` picks by URL. Also keeps each page's DevTools
 * session for what only Chromium's protocol can do (network emulation), open for the whole run:
 * Chromium drops a session's emulation when the session is detached.
 */
export class RunPages {
  readonly #context: BrowserContext;
  readonly main: Page;
  readonly #sessions = new Map<Page, Promise<CDPSession>>();
  readonly #offline = new WeakSet<Page>();

  constructor(context: BrowserContext, main: Page) {
    this.#context = context;
    this.main = main;
  }

  /**
   * The page an action with this `target` happens in. Absent or "main": the run's first page
   * (a test_failure once it was closed). A URL: the newest open page, other than the first, whose
   * URL equals it, else whose URL starts with it; one that has not opened yet (or not yet reached
   * that URL) is waited for until `deadline`, then a test_failure lists the open pages.
   */
  async find(
    target: string | undefined,
    options: { timeoutMs: number; deadline: number; signal?: AbortSignal },
  ): Promise<Page> {
    if (target === undefined || target === MAIN_TARGET) {
      if (this.main.isClosed()) {
        throw new RunError("test_failure", "The run's first page (target main) was closed before this action");
      }
      return this.main;
    }
    for (let round = 0; ; round++) {
      const found = this.#byUrl(target);
      if (found !== null) return found;
      const remaining = options.deadline - Date.now();
      if (remaining <= 0 || options.signal?.aborted) break;
      const interval = POLL_INTERVALS_MS[Math.min(round + 1, POLL_INTERVALS_MS.length - 1)] ?? 250;
      await sleep(Math.min(interval, remaining), options.signal);
    }
    throw new RunError(
      "test_failure",
      `No page with URL ${JSON.stringify(target)} (or starting with it) opened within ${options.timeoutMs} ms; open pages: ${this.#describeOpen()}`,
    );
  }

  /** A page to show in a screenshot: `preferred` while it is open, else the first page, else null. */
  visible(preferred: Page | null): Page | null {
    if (preferred !== null && !preferred.isClosed()) return preferred;
    return this.main.isClosed() ? null : this.main;
  }

  /** The page's DevTools session, opened on first use and kept for the run. */
  cdpSession(page: Page): Promise<CDPSession> {
    let session = this.#sessions.get(page);
    if (session === undefined) {
      session = this.#context.newCDPSession(page);
      // A failed attach is not kept: the next action may try again.
      session.catch(() => this.#sessions.delete(page));
      this.#sessions.set(page, session);
    }
    return session;
  }

  /** Records that the recording took `page` offline (or back online) itself. */
  setOffline(page: Page, offline: boolean): void {
    if (offline) this.#offline.add(page);
    else this.#offline.delete(page);
  }

  /**
   * Whether the recording took `page` offline: a navigation failing there is then what the
   * recording asked for, not the site being unreachable.
   */
  isOffline(page: Page): boolean {
    return this.#offline.has(page);
  }

  #byUrl(target: string): Page | null {
    const open = this.#context.pages().filter((page) => page !== this.main && !page.isClosed());
    const newestFirst = open.reverse();
    return (
      newestFirst.find((page) => page.url() === target) ??
      newestFirst.find((page) => page.url().startsWith(target)) ??
      null
    );
  }

  #describeOpen(): string {
    const pages = this.#context.pages().filter((page) => !page.isClosed());
    if (pages.length === 0) return "none";
    const listed = pages
      .slice(0, MAX_LISTED_PAGES)
      .map((page) => (page === this.main ? `main (${page.url()})` : page.url()))
      .join(", ");
    const more = pages.length - MAX_LISTED_PAGES;
    return more > 0 ? `${listed}, … and ${more} more` : listed;
  }
}
