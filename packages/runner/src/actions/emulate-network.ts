import type { ActionExecutor } from "./types.ts";

/** Chromium's value for "no throttling" of a throughput. */
const UNLIMITED = -1;

/**
 * Emulates network conditions for the action's page (its `target`) from here on, with Chromium's
 * `Network.emulateNetworkConditions`: offline, or throughput (bytes per second, -1 unlimited) and
 * added latency (ms). Fields left out take no emulation: online, unlimited, no latency — so
 * `{ "type": "emulateNetwork" }` ends an earlier emulation. The page's DevTools session stays open
 * for the rest of the run: Chromium ends the emulation when it is detached.
 */
export const emulateNetwork: ActionExecutor<"emulateNetwork"> = async ({ page, pages, action }) => {
  const session = await pages.cdpSession(page);
  const offline = action.offline ?? false;
  await session.send("Network.emulateNetworkConditions", {
    offline,
    latency: action.latencyMs ?? 0,
    downloadThroughput: action.downloadThroughput ?? UNLIMITED,
    uploadThroughput: action.uploadThroughput ?? UNLIMITED,
  });
  pages.setOffline(page, offline);
};
