import { checkUrl, type EgressPolicy, normalizeHost, RunError } from "@conveyor/core";
import { type EgressSession, REFUSAL_HEADER, type RefusalSummary } from "@conveyor/egress";
import type { Frame, Page, Request, Response } from "playwright-core";

/** What a run reports of the requests the egress policy blocked during one action. */
export interface BlockedRequests {
  /** How many requests were blocked. */
  count: number;
  /** The first few (URL without credentials, and the rule that blocked it). */
  first: { url: string; rule: string }[];
}

/** Schemes that show the machine's files or the browser's internals: never in a run's page. */
const LOCAL_SCHEMES = new Set([
  "file:",
  "chrome:",
  "chrome-extension:",
  "chrome-untrusted:",
  "devtools:",
  "view-source:",
]);

const DEFAULT_PORTS: Record<string, number> = { "http:": 80, "ws:": 80, "https:": 443, "wss:": 443 };

/** The error of an action whose page was sent somewhere the policy refuses. */
export function blockedError(url: string, rule: string): RunError {
  return new RunError("test_failure", `Blocked by the egress policy: ${url} (${rule})`, { code: "blocked_by_policy" });
}

/**
 * Watches a run's page for what the egress proxy refused: a main-frame navigation that was
 * blocked (a `navigate`, a redirect, a link, a form — the action fails with `blocked_by_policy`),
 * one whose allowed destination did not answer (reported as the network error it is), and the
 * subresources blocked meanwhile (counted in the action's result; they do not fail it). The
 * session is the source of truth: a response only counts as refused when the session holds the
 * refusal it names, so a site cannot fake one.
 */
export class EgressWatch {
  readonly #page: Page;
  readonly #session: EgressSession | undefined;
  readonly #policy: EgressPolicy;
  #blocked: { url: string; rule: string } | null = null;
  #unreachable: { url: string; code: string } | null = null;

  constructor(page: Page, session: EgressSession | undefined, policy: EgressPolicy) {
    this.#page = page;
    this.#session = session;
    this.#policy = policy;
    page.on("response", (response) => this.#onResponse(response));
    page.on("requestfailed", (request) => this.#onRequestFailed(request));
    page.on("framenavigated", (frame) => this.#onFrameNavigated(frame));
  }

  /** A main-frame navigation the policy blocked since the last call, as the action's error. */
  takeBlockedNavigation(): RunError | null {
    const blocked = this.#blocked;
    this.#blocked = null;
    return blocked === null ? null : blockedError(blocked.url, blocked.rule);
  }

  /** A main-frame navigation to an allowed destination that did not answer, as Chromium would have put it. */
  takeUnreachableNavigation(): Error | null {
    const unreachable = this.#unreachable;
    this.#unreachable = null;
    return unreachable === null ? null : new Error(`net::${unreachable.code} at ${unreachable.url}`);
  }

  /** The requests blocked since the last call, or undefined when there were none. */
  takeBlockedRequests(): BlockedRequests | undefined {
    const summary: RefusalSummary | undefined = this.#session?.takeRefusals();
    if (summary === undefined || summary.count === 0) return undefined;
    return {
      count: summary.count,
      first: summary.first.map((refusal) => ({ url: refusal.url, rule: refusal.rule ?? "" })),
    };
  }

  #isMainNavigation(request: Request): boolean {
    try {
      return request.isNavigationRequest() && request.frame() === this.#page.mainFrame();
    } catch {
      return false; // a service worker's request has no frame
    }
  }

  #onResponse(response: Response): void {
    if (this.#session === undefined || !this.#isMainNavigation(response.request())) return;
    const id = response.headers()[REFUSAL_HEADER];
    if (id === undefined) return;
    const refusal = this.#session.refusal(id);
    if (refusal?.kind === "blocked") this.#blocked ??= { url: refusal.url, rule: refusal.rule ?? "" };
    else if (refusal?.kind === "unreachable")
      this.#unreachable ??= { url: refusal.url, code: refusal.code ?? "ERR_FAILED" };
  }

  #onRequestFailed(request: Request): void {
    if (this.#session === undefined || !this.#isMainNavigation(request)) return;
    if (!request.failure()?.errorText.includes("ERR_TUNNEL_CONNECTION_FAILED")) return;
    let url: URL;
    try {
      url = new URL(request.url());
    } catch {
      return;
    }
    const host = normalizeHost(url.hostname) ?? url.hostname;
    const port = url.port === "" ? (DEFAULT_PORTS[url.protocol] ?? 443) : Number(url.port);
    const refusal = this.#session.latestRefusalFor(host, port);
    if (refusal?.kind === "blocked") this.#blocked ??= { url: url.origin, rule: refusal.rule ?? "" };
    else if (refusal?.kind === "unreachable")
      this.#unreachable ??= { url: url.origin, code: refusal.code ?? "ERR_FAILED" };
  }

  /**
   * Defence in depth: Chromium itself refuses to let a web page open `file:`, `chrome:` or
   * `view-source:` URLs, and the runner never navigates to one; should the main frame show one
   * anyway, the page is emptied at once and the action fails.
   */
  #onFrameNavigated(frame: Frame): void {
    if (frame !== this.#page.mainFrame()) return;
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(frame.url())?.[0]?.toLowerCase();
    if (scheme === undefined || !LOCAL_SCHEMES.has(scheme)) return;
    const check = checkUrl(this.#policy, frame.url());
    this.#blocked ??= { url: check.url, rule: check.rule };
    void this.#page.goto("about:blank").catch(() => undefined);
  }
}
