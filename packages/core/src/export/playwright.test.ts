// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recordings spell variables as ${NAME}
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { type RecordingInput, recordingSchema } from "../recording.ts";
import { seal } from "../secrets.ts";
import { exportPlaywright } from "./playwright.ts";

const recording = (input: Partial<RecordingInput>) => recordingSchema.parse({ name: "flow", ...input });

/** The file's syntax errors, as TypeScript reports them (none for a well-formed file). */
function syntaxErrors(code: string): string[] {
  const out = ts.transpileModule(code, { reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.ESNext } });
  return (out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
}

/** Every string literal in the file, as the language reads it. */
function stringLiterals(code: string): string[] {
  const file = ts.createSourceFile("x.spec.ts", code, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) found.push(node.text);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** Comments of the file, each one line. */
function comments(code: string): string[] {
  return code
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("//"));
}

describe("exportPlaywright", () => {
  it("writes one Playwright test with the recording's viewport, start page and dialog answer", () => {
    const { content } = exportPlaywright(
      recording({
        startUrl: "https://shop.test/",
        viewport: { width: 1280, height: 720 },
        dialogs: "dismiss",
        actions: [{ type: "navigate", url: "https://shop.test/cart", waitUntil: "networkidle", timeoutMs: 9000 }],
      }),
    );
    expect(content).toContain('import { test, expect } from "@playwright/test";');
    expect(content).toContain(
      "test.use({ viewport: { width: 1280, height: 720 }, actionTimeout: 15_000, navigationTimeout: 15_000 });",
    );
    expect(content).toContain('test("flow", async ({ page, context }) => {');
    expect(content).toContain('await page.goto("https://shop.test/");');
    expect(content).toContain(
      'await page.goto("https://shop.test/cart", { waitUntil: "networkidle", timeout: 9000 });',
    );
    expect(content).toContain("dialog.dismiss()");
    expect(content.match(/\btest\(/g)).toHaveLength(1);
    expect(syntaxErrors(content)).toEqual([]);
  });

  it("maps every action type", () => {
    const { content } = exportPlaywright(
      recording({
        actions: [
          { type: "navigate", url: "/relative" },
          {
            type: "click",
            selector: "#target",
            button: "right",
            modifiers: ["Shift", "Control"],
            position: { x: 3, y: 4 },
            holdMs: 120,
          },
          { type: "click", selector: "#target", clickCount: 2 },
          { type: "input", selector: "#q", value: "fast" },
          { type: "input", selector: "#q", value: "slow", mode: "type", typingDelayMs: 25 },
          { type: "check", selector: "#terms" },
          { type: "check", selector: "#terms", checked: false },
          { type: "keypress", key: "k", modifiers: ["Control"] },
          { type: "keypress", key: "Enter", selector: "#q" },
          { type: "select", selector: "#color", value: "red" },
          { type: "select", selector: "#color", label: "Green" },
          { type: "select", selector: "#color", index: 2 },
          { type: "hover", selector: "#menu" },
          { type: "scroll", y: 500 },
          { type: "scroll", selector: "#box", x: 10, y: 300 },
          { type: "submit", selector: "#form" },
          { type: "modal", state: "open" },
          { type: "modal", state: "closed", selector: "#modal" },
          { type: "assert", check: "urlMatch", expected: "https://shop.test/done" },
          { type: "assert", check: "urlContains", expected: "/done" },
          { type: "assert", check: "pageTitle", expected: "Done" },
          { type: "assert", check: "pageLoad" },
          { type: "assert", check: "elementVisible", selector: "#ok" },
          { type: "assert", check: "elementText", selector: "#ok", expected: "Saved" },
          { type: "assert", check: "containsText", selector: "#ok", expected: "Sav" },
          { type: "assert", check: "containsText", expected: "Welcome" },
          { type: "assert", check: "elementHasValue", selector: "#q", expected: "slow" },
          { type: "waitForElement", selector: ".item", operator: "==", count: 3 },
          { type: "waitForElement", selector: ".item" },
          { type: "waitForElement", selector: ".item", operator: "<=", count: 2, visible: false },
          { type: "waitForElement", selector: "#q", attributes: { "data-state": "ready" }, properties: { value: "x" } },
          { type: "waitForExpression", expression: "window.ready === true" },
          { type: "close", target: "https://shop.test/popup" },
          { type: "emulateNetwork", offline: true },
          { type: "emulateNetwork", downloadThroughput: 50_000, uploadThroughput: 20_000, latencyMs: 40 },
          { type: "setViewport", width: 375, height: 812 },
        ],
      }),
    );
    const expected = [
      'await page.goto(new URL("/relative", page.url()).href);',
      'await page.locator("#target").first().click({ button: "right", modifiers: ["Shift", "Control"], position: { x: 3, y: 4 }, delay: 120 });',
      'await page.locator("#target").first().dblclick();',
      'await page.locator("#q").first().fill("fast");',
      'await page.locator("#q").first().fill("");',
      'await page.locator("#q").first().pressSequentially("slow", { delay: 25 });',
      'await page.locator("#terms").first().check();',
      'await page.locator("#terms").first().uncheck();',
      'await page.keyboard.press("Control+k");',
      'await page.locator("#q").first().press("Enter");',
      'await page.locator("#color").first().selectOption("red");',
      'await page.locator("#color").first().selectOption({ label: "Green" });',
      'await page.locator("#color").first().selectOption({ index: 2 });',
      'await page.locator("#menu").first().hover();',
      'await page.evaluate(({ x, y }) => window.scrollTo({ left: x, top: y, behavior: "instant" }), { x: 0, y: 500 });',
      'await page.locator("#box").first().evaluate((element, { x, y }) => element.scrollTo({ left: x, top: y, behavior: "instant" }), { x: 10, y: 300 });',
      "form.requestSubmit();",
      ".filter({ visible: true }).first()).toBeVisible({ timeout: 15_000 });",
      'await expect(page.locator("#modal").filter({ visible: true })).toHaveCount(0, { timeout: 15_000 });',
      'await expect(page).toHaveURL("https://shop.test/done", { timeout: 15_000 });',
      'await expect(page).toHaveURL((url) => url.href.includes("/done"), { timeout: 15_000 });',
      'await expect(page).toHaveTitle("Done", { timeout: 15_000 });',
      'await page.waitForLoadState("load", { timeout: 15_000 });',
      'await expect(page.locator("#ok").first()).toBeVisible({ timeout: 15_000 });',
      'await expect(page.locator("#ok").first()).toHaveText("Saved", { timeout: 15_000 });',
      'await expect(page.locator("#ok").first()).toContainText("Sav", { timeout: 15_000 });',
      'await expect(page.locator("body")).toContainText("Welcome", { useInnerText: true, timeout: 15_000 });',
      'await expect(page.locator("#q").first()).toHaveValue("slow", { timeout: 15_000 });',
      'await expect(page.locator(".item")).toHaveCount(3, { timeout: 15_000 });',
      'await expect(page.locator(".item").first()).toBeAttached({ timeout: 15_000 });',
      'await expect.poll(() => page.locator(".item").filter({ visible: false }).count(), { timeout: 15_000 }).toBeLessThanOrEqual(2);',
      '{"attributes":{"data-state":"ready"},"properties":{"value":"x"}}',
      'await page.waitForFunction("window.ready === true", undefined, { timeout: 15_000 });',
      'const page33 = await pageWithUrl(context, "https://shop.test/popup", 15_000);',
      "await page33.close();",
      'await network34.send("Network.emulateNetworkConditions", { offline: true, latency: 0, downloadThroughput: 0, uploadThroughput: 0 });',
      'await network35.send("Network.emulateNetworkConditions", { offline: false, latency: 40, downloadThroughput: 50000, uploadThroughput: 20000 });',
      "await page.setViewportSize({ width: 375, height: 812 });",
    ];
    for (const line of expected) expect(content).toContain(line);
    expect(syntaxErrors(content)).toEqual([]);
  });

  it("uses the first candidate, writes the others as comments, and acts on the first match unless it is sure", () => {
    const { content, warnings } = exportPlaywright(
      recording({
        actions: [
          {
            type: "click",
            selector: [
              { strategy: "testid", value: "buy", confidence: 95 },
              { strategy: "id", value: "a:b.c" },
              { strategy: "text", value: "Buy now" },
              { strategy: "text-contains", value: "Buy" },
              { strategy: "xpath", value: "//button[1]" },
              { strategy: "aria-label", value: 'Say "hi"' },
              { strategy: "name", value: "buy" },
              { strategy: "role", value: "button" },
              { strategy: "placeholder", value: "Email" },
              { strategy: "href", value: "/buy" },
              { strategy: "src", value: "pixel.png" },
              { strategy: "aria", value: 'Buy[role="button"]' },
              { strategy: "aria", value: "Buy" },
              { strategy: "pierce", value: "#shadow-button" },
              {
                strategy: "css",
                value: "button.buy",
                within: [
                  { strategy: "css", value: "my-app" },
                  { strategy: "id", value: "cart" },
                ],
              },
            ],
          },
        ],
      }),
    );
    expect(content).toContain('await page.getByTestId("buy").click();');
    expect(warnings).toEqual([]);
    // Only the candidate acted on is worth a warning; the aria name-only one here is a comment.
    expect(
      exportPlaywright(recording({ actions: [{ type: "click", selector: [{ strategy: "aria", value: "Buy" }] }] }))
        .warnings,
    ).toEqual([
      {
        index: 0,
        actionId: "a1",
        type: "click",
        message: expect.stringMatching(/^finds aria=Buy with byAccessibleName: a control labelled so/),
      },
    ]);
    const also = comments(content).filter((line) => line.startsWith("// also: "));
    expect(also).toEqual([
      '// also: page.locator("#a\\\\:b\\\\.c")',
      '// also: page.getByText("Buy now", { exact: true })',
      '// also: page.getByText("Buy")',
      '// also: page.locator("xpath=//button[1]")',
      '// also: page.locator("[aria-label=\\"Say \\\\\\"hi\\\\\\"\\"]")',
      '// also: page.locator("[name=\\"buy\\"]")',
      '// also: page.getByRole("button")',
      '// also: page.getByPlaceholder("Email", { exact: true })',
      '// also: page.locator("a[href*=\\"/buy\\"]")',
      '// also: page.locator("[src*=\\"pixel.png\\"]")',
      '// also: page.getByRole("button", { name: "Buy", exact: true })',
      '// also: byAccessibleName(page, "Buy")',
      '// also: page.locator("#shadow-button")',
      '// also: page.locator("my-app").locator("#cart").locator("button.buy")',
    ]);
  });

  it("finds elements in CSS frames, frames by index and pages by URL", () => {
    const { content } = exportPlaywright(
      recording({
        actions: [
          { type: "click", selector: "#inner-button", frame: "#outer >>> #frame" },
          { type: "click", selector: "#inner-button", frame: [0, 1], target: "https://shop.test/popup" },
          { type: "waitForExpression", expression: "true", frame: "#frame" },
          { type: "scroll", y: 40, frame: "#frame" },
          // The page's own: the frame they name is not waited for.
          { type: "navigate", url: "https://shop.test/next", frame: [3] },
          { type: "assert", check: "urlContains", expected: "/next", frame: [3] },
        ],
      }),
    );
    expect(content).toContain(
      'await page.frameLocator("#outer").frameLocator("#frame").locator("#inner-button").first().click();',
    );
    expect(content).toContain('const page2 = await pageWithUrl(context, "https://shop.test/popup", 15_000);');
    expect(content).toContain("const frame2 = await frameAt(page2, [0, 1], 15_000);");
    expect(content).toContain('await frame2.locator("#inner-button").first().click();');
    expect(content).toContain('const frame3 = await frameOf(page, ["#frame"], 15_000);');
    expect(content).toContain('await frame3.waitForFunction("true", undefined, { timeout: 15_000 });');
    expect(content).toContain('await page.frameLocator("#frame").locator(":root").evaluate((root, { x, y })');
    expect(content).toContain('await page.goto("https://shop.test/next");');
    expect(content).not.toContain("frame5");
    expect(content).not.toContain("frame6");
    expect(content).toContain("async function pageWithUrl(");
    expect(content).toContain("async function frameAt(");
    expect(syntaxErrors(content)).toEqual([]);
  });

  it("tolerates the failure of optional actions, and uses each action's timeout", () => {
    const { content } = exportPlaywright(
      recording({
        actions: [
          { type: "click", selector: "#cookie-banner", optional: true, timeoutMs: 2000 },
          { type: "assert", check: "elementVisible", selector: "#ok", timeoutMs: 30_000 },
        ],
      }),
      { actionTimeoutMs: 7000, runTimeoutMs: 60_000 },
    );
    expect(content).toContain(
      'await optional("a1 click", async () => {\n    await page.locator("#cookie-banner").first().click({ timeout: 2000 });\n  });',
    );
    expect(content).toContain('await expect(page.locator("#ok").first()).toBeVisible({ timeout: 30_000 });');
    expect(content).toContain("actionTimeout: 7000");
    expect(content).toContain("test.setTimeout(60_000);");
    expect(content).toContain("async function optional(");
  });

  it("reads variables from the environment, with the recording's defaults", () => {
    const { content, variables } = exportPlaywright(
      recording({
        startUrl: "${BASE_URL}/login",
        variables: [
          { name: "BASE_URL", default: "http://127.0.0.1:3000" },
          { name: "USER", description: "who logs in" },
        ],
        actions: [
          { type: "input", selector: "#username", value: "${USER}" },
          {
            type: "assert",
            check: "elementText",
            selector: [{ strategy: "name", value: "${USER}-box" }],
            expected: "Hi ${USER}!",
          },
        ],
      }),
    );
    expect(content).toContain('await page.goto((process.env.BASE_URL ?? "http://127.0.0.1:3000") + "/login");');
    expect(content).toContain('await page.locator("#username").first().fill(env("USER"));');
    expect(content).toContain('page.locator("[name=" + cssString(env("USER") + "-box") + "]")');
    expect(content).toContain('toHaveText("Hi " + env("USER") + "!"');
    expect(content).toContain('//   BASE_URL (optional, default "http://127.0.0.1:3000")');
    expect(content).toContain("//   USER (required) — who logs in");
    expect(variables.map((v) => v.name)).toEqual(["BASE_URL", "USER"]);
    expect(syntaxErrors(content)).toEqual([]);
  });

  it("never writes a sensitive value: inputs and variables are read from the environment, without fallback", () => {
    const key = Buffer.alloc(32, 7);
    const sealed = seal("sealed-secret-value", key);
    const { content, variables } = exportPlaywright(
      recording({
        variables: [
          { name: "PASSWORD", sensitive: true, default: "variable-default-secret" },
          { name: "TOKEN", sensitive: true, default: sealed },
          { name: "PIN", default: "pin-default-1234" },
        ],
        actions: [
          { type: "input", id: "pw", selector: "#password", value: "literal-secret-42", sensitive: true },
          { type: "input", selector: "#password", value: "${PASSWORD}", sensitive: true },
          { type: "input", selector: "#token", value: sealed, sensitive: true },
          { type: "input", selector: "#pin", value: "${PIN}", sensitive: true },
          { type: "assert", check: "elementHasValue", selector: "#password", expected: "literal-secret-42" },
          { type: "navigate", url: "https://shop.test/?t=${TOKEN}" },
          { type: "waitForExpression", expression: "document.body.dataset.pw !== 'literal-secret-42'" },
        ],
      }),
    );
    for (const secret of [
      "literal-secret-42",
      "variable-default-secret",
      "sealed-secret-value",
      sealed,
      "pin-default-1234",
    ]) {
      expect(content).not.toContain(secret);
    }
    expect(content).toContain('await page.locator("#password").first().fill(env("SENSITIVE_PW"));');
    expect(content).toContain('await page.locator("#password").first().fill(env("PASSWORD"));');
    expect(content).toContain('await page.locator("#token").first().fill(env("SENSITIVE_A3"));');
    // A variable typed into a sensitive input is a secret there, whatever its declaration.
    expect(content).toContain('await page.locator("#pin").first().fill(env("PIN"));');
    // The same secret elsewhere is read from the same variable.
    expect(content).toContain('toHaveValue(env("SENSITIVE_PW")');
    expect(content).toContain('await page.goto("https://shop.test/?t=" + env("TOKEN"));');
    expect(content).toContain("document.body.dataset.pw !== '[redacted]'");
    expect(content).toContain("//   SENSITIVE_PW (sensitive: required, its value is never written in this file)");
    expect(variables.filter((v) => v.sensitive).map((v) => v.name)).toEqual([
      "PASSWORD",
      "PIN",
      "SENSITIVE_A3",
      "SENSITIVE_PW",
      "TOKEN",
    ]);
    expect(variables.every((v) => v.default === undefined)).toBe(true);
  });

  it("writes any text a tenant gives as inert string literals and one-line comments", () => {
    const hostile = 'a */ b `c` ${d} "e" \\ f\nimport("x");\r\u2028// g\u2029</script> ${process.exit(1)}';
    const { content } = exportPlaywright(
      recording({
        name: hostile,
        variables: [{ name: "V", default: hostile, description: hostile }],
        actions: [
          {
            type: "input",
            id: hostile.slice(0, 100),
            description: hostile,
            selector: [
              { strategy: "css", value: hostile },
              { strategy: "id", value: hostile },
              { strategy: "aria", value: hostile },
            ],
            value: `${hostile}\${V}`,
          },
          { type: "assert", check: "elementText", selector: [{ strategy: "text", value: hostile }], expected: hostile },
          { type: "waitForExpression", expression: hostile },
          { type: "keypress", key: "`", modifiers: ["Shift"] },
        ],
      }),
    );
    expect(syntaxErrors(content)).toEqual([]);
    const literals = stringLiterals(content);
    expect(literals).toContain(hostile);
    // Nothing of it escaped into code: no `import(…)` call, no `exit` anywhere but in strings.
    const file = ts.createSourceFile("x.spec.ts", content, ts.ScriptTarget.ES2022, true);
    const names: string[] = [];
    const visit = (node: ts.Node) => {
      if (ts.isIdentifier(node)) names.push(node.text);
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) names.push("import()");
      ts.forEachChild(node, visit);
    };
    visit(file);
    expect(names).not.toContain("import()");
    expect(names).not.toContain("exit");
    // Every comment stays on its line.
    for (const line of content.split("\n")) expect(line).not.toMatch(/[\u2028\u2029\r]/);
    expect(content).not.toContain(hostile);
  });
});
