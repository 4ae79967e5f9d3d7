/** Recordings in the canonical format, written for the fixture site (`@conveyor/testing/fixture-site`). */

export function loginRecording(siteUrl: string, password = "secret") {
  return {
    name: password === "secret" ? "login passes" : "login with a wrong password",
    actions: [
      { type: "navigate", url: `${siteUrl}/login` },
      { type: "input", selector: "#username", value: "alice" },
      { type: "input", selector: [{ strategy: "testid", value: "password" }], value: password, sensitive: true },
      { type: "click", selector: [{ strategy: "testid", value: "login-button" }] },
      { type: "assert", check: "urlContains", expected: "/welcome", timeoutMs: 3000 },
      { type: "assert", check: "elementText", selector: "#greeting", expected: "Welcome, alice", timeoutMs: 2000 },
    ],
  };
}

/** A run that lasts about `ms` milliseconds: it waits for content the page adds after that long. */
export function slowRecording(siteUrl: string, ms: number) {
  return {
    name: `slow ${ms} ms`,
    actions: [
      { type: "navigate", url: `${siteUrl}/slow?ms=${ms}` },
      { type: "assert", check: "elementVisible", selector: "#done", timeoutMs: ms + 20_000 },
      { type: "assert", check: "elementText", selector: "#done", expected: "done" },
    ],
  };
}

/**
 * Fails its first `fails` runs and passes after (the fixture site's `/flaky`, counted per `key`):
 * the failing action is the assert (index 1).
 */
export function flakyRecording(siteUrl: string, key: string, fails = 1) {
  return {
    name: `flaky ${key}`,
    actions: [
      { type: "navigate", url: `${siteUrl}/flaky?key=${encodeURIComponent(key)}&fails=${fails}` },
      { type: "assert", check: "elementVisible", selector: "#ok", timeoutMs: 1500 },
    ],
  };
}
