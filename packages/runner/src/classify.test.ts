import { RunError } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { classifyError, cleanMessage } from "./classify.ts";

describe("classifyError", () => {
  it("sorts failures into the taxonomy", () => {
    const kind = (message: string, navigating = false) => classifyError(new Error(message), { navigating }).kind;
    expect(kind("locator.click: Target page, context or browser has been closed")).toBe("transient");
    expect(kind("browser.newContext: Browser has been closed")).toBe("transient");
    expect(kind("page.goto: net::ERR_CONNECTION_REFUSED at http://x/", true)).toBe("recoverable");
    expect(kind("page.goto: net::ERR_NAME_NOT_RESOLVED at http://x/", true)).toBe("recoverable");
    expect(kind("page.goto: Protocol error (Page.navigate): Cannot navigate to invalid URL", true)).toBe("permanent");
    expect(kind("locator.click: Timeout 5000ms exceeded.")).toBe("test_failure");
    expect(kind("net::ERR_CONNECTION_REFUSED from a fetch the page made")).toBe("test_failure");
    const own = new RunError("permanent", "bad");
    expect(classifyError(own, { navigating: false })).toBe(own);
  });
});

describe("cleanMessage", () => {
  it("drops colour codes and the browser log dump", () => {
    const esc = String.fromCharCode(27);
    expect(cleanMessage(`a\n${esc}[2m  - waiting${esc}[22m\nBrowser logs:\n<launching> chromium …`)).toBe(
      "a\n  - waiting",
    );
  });
});
