import { checkUrl, type EgressPolicy, RunError } from "@conveyor/core";
import type { Page } from "playwright-core";
import { blockedError } from "../egress-watch.ts";
import type { ActionExecutor } from "./types.ts";

export type WaitUntil = "load" | "domcontentloaded" | "networkidle" | "commit";

/**
 * The absolute URL to open. A relative one (`/login`) resolves against the current page, so
 * recordings can stay host-independent once a startUrl is open.
 */
export function resolveUrl(url: string, currentUrl: string): string {
  if (URL.canParse(url)) return url;
  if (/^https?:/.test(currentUrl) && URL.canParse(url, currentUrl)) return new URL(url, currentUrl).href;
  throw new RunError(
    "permanent",
    `Cannot navigate to ${JSON.stringify(url)}: not an absolute URL, and no page is open to resolve it against`,
  );
}

/**
 * Opens `url` in `page`, unless `policy` refuses it by its scheme (only http:, https:, data: and
 * about:blank) or by an address written in it: then nothing is loaded and the action fails with
 * `blocked_by_policy`. Names are checked by the egress proxy once they resolve.
 */
export async function gotoUrl(
  page: Page,
  url: string,
  waitUntil: WaitUntil,
  timeoutMs: number,
  policy: EgressPolicy,
): Promise<void> {
  const target = resolveUrl(url, page.url());
  const check = checkUrl(policy, target);
  if (!check.allowed) throw blockedError(check.url, check.rule);
  await page.goto(target, { waitUntil, timeout: timeoutMs });
}

export const navigate: ActionExecutor<"navigate"> = async ({ page, action, remainingMs, egressPolicy }) => {
  await gotoUrl(page, action.url, action.waitUntil ?? "load", remainingMs(), egressPolicy);
};
