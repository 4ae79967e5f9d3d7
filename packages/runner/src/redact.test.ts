import { describe, expect, it } from "vitest";
import { createRedactor } from "./redact.ts";

describe("createRedactor", () => {
  it("replaces secrets as written, URL-encoded and JSON-escaped, longest first", () => {
    const redact = createRedactor(['p@ss "w', "p@ss", ""]);
    expect(redact('value p@ss "w here')).toBe("value [redacted] here");
    expect(redact("?u=p%40ss%20%22w&v=p%40ss+%22w")).toBe("?u=[redacted]&v=[redacted]");
    expect(redact('expected "p@ss \\"w"')).toBe('expected "[redacted]"');
    expect(redact("just p@ss")).toBe("just [redacted]");
  });

  it("leaves text alone without secrets", () => {
    expect(createRedactor([])("anything")).toBe("anything");
  });
});
