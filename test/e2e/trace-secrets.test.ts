// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recordings spell variables as ${NAME}
/**
 * A run asking for a trace with sensitive values, through API and worker: the trace served by the
 * API holds none of them in any encoding, and the run ends as it would without a trace.
 */

import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { findSecrets } from "@conveyor/testing/secret-encodings";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let site: FixtureSite;

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("trace-secrets");
  await Promise.all([stack.startApi(), stack.startWorker("w-trace-secrets")]);
  await stack.createProject("trace-secrets");
});

afterAll(async () => {
  await stack?.stop();
  await site?.close();
});

describe("a traced run with sensitive values", () => {
  const PASSWORD = "Pw d&<\"'>+/é%x\\9";
  const TOKEN = "T0k3n <ü>\"/x'9+z";

  it("serves a trace without them", async () => {
    const submitted = await stack.request("POST", "/api/runs", {
      recording: {
        name: "traced login with secrets",
        variables: [{ name: "TOKEN", sensitive: true }],
        actions: [
          { type: "navigate", url: `${site.url}/login?token=\${TOKEN}` },
          { type: "input", selector: "#username", value: "alice-visible" },
          { type: "input", selector: "#password", value: PASSWORD, sensitive: true },
          { type: "click", selector: [{ strategy: "testid", value: "login-button" }] },
          { type: "assert", check: "elementVisible", selector: "#error" },
          { type: "input", selector: "#password", value: "${TOKEN}" },
          { type: "submit", selector: "#password" },
          { type: "assert", check: "elementText", selector: "#error", expected: "Invalid password" },
        ],
      },
      variables: { TOKEN },
      options: { trace: true },
    });
    expect(submitted.status).toBe(202);
    const run = await stack.waitForRun(submitted.body.id, ["passed", "failed", "errored", "cancelled"]);
    expect(run.status).toBe("passed");
    expect(run.artifacts.trace).toMatch(new RegExp(`^/api/runs/${run.id}/artifacts/.+\\.zip$`));

    const response = await fetch(`${stack.apiUrl}${run.artifacts.trace}`, {
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    expect(response.status).toBe(200);
    const zip = new Uint8Array(await response.arrayBuffer());
    expect(findSecrets(zip, [PASSWORD, TOKEN])).toEqual([]);
    // The search finds what is there: the username that was not sensitive.
    expect(findSecrets(zip, ["alice-visible"]).length).toBeGreaterThan(0);
  });
});
