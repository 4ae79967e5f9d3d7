// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recordings spell variables as ${NAME}
import { RunError, recordingSchema } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { applyVariables, sensitiveVariableValues } from "./variables.ts";

const recording = recordingSchema.parse({
  name: "vars",
  startUrl: "${BASE}/login",
  actions: [
    { type: "navigate", url: "${BASE}/x?q=${Q}" },
    { type: "input", selector: [{ strategy: "testid", value: "${FIELD}" }], value: "$${NOT_A_VAR" },
    { type: "keypress", key: "${KEY}" },
    { type: "assert", check: "elementText", selector: "#${FIELD}", expected: "Hi ${NAME}" },
  ],
});

describe("applyVariables", () => {
  it("substitutes every string field and leaves the original alone", () => {
    const applied = applyVariables(recording, {
      BASE: "http://h",
      Q: "1",
      FIELD: "user",
      KEY: "Enter",
      NAME: "Al",
    });
    expect(applied.startUrl).toBe("http://h/login");
    expect(applied.actions).toEqual([
      { type: "navigate", url: "http://h/x?q=1" },
      { type: "input", selector: [{ strategy: "testid", value: "user" }], value: "$${NOT_A_VAR" },
      { type: "keypress", key: "Enter" },
      { type: "assert", check: "elementText", selector: "#user", expected: "Hi Al" },
    ]);
    expect(recording.startUrl).toBe("${BASE}/login");
  });

  it("substitutes chained parts, targets, frames given by selector, and a waitForElement's expectations, not expressions", () => {
    const chrome = recordingSchema.parse({
      name: "chrome",
      actions: [
        {
          type: "click",
          target: "${BASE}/popup",
          frame: "#${FRAME}",
          selector: [{ strategy: "aria", value: "${NAME}", within: [{ strategy: "css", value: "#${FRAME}" }] }],
        },
        {
          type: "waitForElement",
          frame: [0, 1],
          selector: ".${NAME}",
          attributes: { "data-${NAME}": "${NAME}" },
          properties: { value: "${NAME}", dataset: { state: "${NAME}" }, length: 2, list: ["${NAME}", null] },
        },
        { type: "waitForExpression", expression: "window.x === '${NAME}'" },
      ],
    });
    const applied = applyVariables(chrome, { BASE: "http://h", FRAME: "f", NAME: "n" });
    expect(applied.actions).toEqual([
      {
        type: "click",
        target: "http://h/popup",
        frame: "#f",
        selector: [{ strategy: "aria", value: "n", within: [{ strategy: "css", value: "#f" }] }],
      },
      {
        type: "waitForElement",
        frame: [0, 1],
        selector: ".n",
        // Attribute names are not substituted: only values are.
        attributes: { "data-${NAME}": "n" },
        properties: { value: "n", dataset: { state: "n" }, length: 2, list: ["n", null] },
      },
      { type: "waitForExpression", expression: "window.x === '${NAME}'" },
    ]);
  });

  it("names every missing variable and where it is used, as a permanent error", () => {
    let caught: unknown;
    try {
      applyVariables(recording, { BASE: "http://h", toString: "x" });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RunError);
    expect(caught).toMatchObject({ kind: "permanent" });
    expect((caught as Error).message).toBe(
      "Missing variable(s): Q (used by action 1), FIELD (used by action 2, action 4), KEY (used by action 3), NAME (used by action 4). Pass a value for each in the run's variables, or declare a default in the recording's variables.",
    );
  });
});

describe("declared variables", () => {
  const declared = recordingSchema.parse({
    name: "declared",
    variables: [
      { name: "BASE", default: "http://default" },
      { name: "PASSWORD", sensitive: true },
      { name: "TOKEN", sensitive: true, default: "t0k" },
    ],
    startUrl: "${BASE}/login",
    actions: [
      { type: "input", frame: "#${FRAME}", selector: "#p", value: "${PASSWORD}" },
      { type: "select", selector: "#s", label: "${LABEL}" },
      { type: "hover", selector: "[title='${TOKEN}']" },
      { type: "scroll", y: 10 },
      { type: "modal", state: "open", selector: [{ strategy: "text", value: "${TOKEN}" }] },
    ],
  });

  it("fills from the run, else the declared default, in every new field", () => {
    const applied = applyVariables(declared, { PASSWORD: "pw", FRAME: "f", LABEL: "L" });
    expect(applied.startUrl).toBe("http://default/login");
    expect(applied.actions).toEqual([
      { type: "input", frame: "#f", selector: "#p", value: "pw" },
      { type: "select", selector: "#s", label: "L" },
      { type: "hover", selector: "[title='t0k']" },
      { type: "scroll", x: 0, y: 10 },
      { type: "modal", state: "open", selector: [{ strategy: "text", value: "t0k" }] },
    ]);
    expect(applyVariables(declared, { BASE: "http://run", PASSWORD: "pw", FRAME: "f", LABEL: "L" }).startUrl).toBe(
      "http://run/login",
    );
  });

  it("names a variable with neither a value nor a default", () => {
    expect(() => applyVariables(declared, { FRAME: "f", LABEL: "L" })).toThrow(
      "Missing variable(s): PASSWORD (used by action 1).",
    );
  });

  it("lists the values of sensitive variables as the run uses them", () => {
    expect(sensitiveVariableValues(declared, { PASSWORD: "pw" })).toEqual(["pw", "t0k"]);
    expect(sensitiveVariableValues(declared, { TOKEN: "run-token", PASSWORD: "" })).toEqual(["run-token"]);
  });
});
