import { RunError } from "@conveyor/core";
import type { Page } from "playwright-core";
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

export async function gotoUrl(page: Page, url: string, waitUntil: WaitUntil, timeoutMs: number): Promise<void> {
  await page.goto(resolveUrl(url, page.url()), { waitUntil, timeout: timeoutMs });
}

export const navigate: ActionExecutor<"navigate"> = async ({ page, action, remainingMs }) => {
  await gotoUrl(page, action.url, action.waitUntil ?? "load", remainingMs());
};
