// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recordings spell variables as ${NAME}
import { describe, expect, it } from "vitest";
import { type RecordingInput, recordingSchema } from "../recording.ts";
import { importRecording } from "../saveaction/detect.ts";
import { sealRecording } from "../secrets.ts";
import { EXPORT_FORMATS, exportFileName, exportRecording, prepareForExport } from "./index.ts";

const recording = (input: Partial<RecordingInput>) => recordingSchema.parse({ name: "flow", ...input });

const withSecrets = recording({
  name: "Log in",
  variables: [
    { name: "PASSWORD", sensitive: true, default: "variable-secret" },
    { name: "USER", default: "alice" },
  ],
  actions: [
    { type: "navigate", url: "https://shop.test/login" },
    { type: "input", selector: "#username", value: "${USER}" },
    { type: "input", selector: "#password", value: "${PASSWORD}", sensitive: true },
    { type: "input", id: "otp", selector: "#otp", value: "literal-secret", sensitive: true },
    { type: "assert", check: "containsText", expected: "code literal-secret" },
  ],
});

describe("exportRecording", () => {
  it.each(EXPORT_FORMATS)("%s: writes no sensitive value, plain or sealed", (format) => {
    const plain = exportRecording(withSecrets, format).content;
    for (const secret of ["variable-secret", "literal-secret"]) expect(plain).not.toContain(secret);
    // As the API stores it: sealed values are dropped unopened.
    const sealed = exportRecording(sealRecording(withSecrets, Buffer.alloc(32, 1)), format).content;
    expect(sealed).not.toContain("enc:v1:");
    expect(sealed).not.toContain("variable-secret");
  });

  it("names the file after the recording, with each format's type", () => {
    expect(exportRecording(withSecrets, "playwright")).toMatchObject({
      fileName: "log-in.spec.ts",
      contentType: "text/plain; charset=utf-8",
      variables: ["PASSWORD", "SENSITIVE_OTP", "USER"],
    });
    expect(exportRecording(withSecrets, "chrome-recorder")).toMatchObject({
      fileName: "log-in.recorder.json",
      contentType: "application/json; charset=utf-8",
    });
    expect(exportRecording(withSecrets, "conveyor")).toMatchObject({
      fileName: "log-in.conveyor.json",
      contentType: "application/json; charset=utf-8",
    });
  });

  it("conveyor: the canonical recording, importable again, with sensitive values as variables to pass", () => {
    const out = exportRecording(withSecrets, "conveyor");
    const again = importRecording(JSON.parse(out.content));
    expect(again.format).toBe("conveyor");
    expect(again.recording.actions.map((a) => a.type)).toEqual(withSecrets.actions.map((a) => a.type));
    expect(again.recording.variables).toEqual([
      { name: "PASSWORD", sensitive: true },
      { name: "USER", default: "alice" },
      { name: "SENSITIVE_OTP", sensitive: true, description: "The value of action otp's sensitive input" },
    ]);
    expect(again.recording.actions[3]).toMatchObject({ value: "${SENSITIVE_OTP}", sensitive: true });
    expect(again.recording.actions[4]).toMatchObject({ expected: "code ${SENSITIVE_OTP}" });
    expect(out.variables).toEqual(["PASSWORD", "USER", "SENSITIVE_OTP"]);
  });
});

describe("prepareForExport", () => {
  it("gives each sensitive literal a variable of its own, unique among the declared ones", () => {
    const { recording: prepared, variables } = prepareForExport(
      recording({
        variables: [{ name: "SENSITIVE_A1" }],
        actions: [
          { type: "input", selector: "#a", value: "one", sensitive: true },
          { type: "input", id: "weird id/é", selector: "#b", value: "two", sensitive: true },
          { type: "input", selector: "#c", value: "", sensitive: true },
        ],
      }),
    );
    expect(prepared.actions.map((a) => (a.type === "input" ? a.value : ""))).toEqual([
      "${SENSITIVE_A1_2}",
      "${SENSITIVE_WEIRD_ID__}",
      "${SENSITIVE_A3}",
    ]);
    expect([...variables.keys()]).toEqual(["SENSITIVE_A1", "SENSITIVE_A1_2", "SENSITIVE_WEIRD_ID__", "SENSITIVE_A3"]);
    // The names are valid variable names: the canonical schema accepts the result.
    expect(recordingSchema.safeParse(prepared).success).toBe(true);
  });
});

describe("exportFileName", () => {
  it("keeps letters and digits, in lower case, and nothing a header or a file system could trip on", () => {
    expect(exportFileName("Checkout: Guest → Paid!", ".spec.ts")).toBe("checkout-guest-paid.spec.ts");
    expect(exportFileName('a"b\r\nContent-Type: x/../../etc', ".json")).toBe("a-b-content-type-x-etc.json");
    expect(exportFileName("Écrire à l'équipe", ".json")).toBe("ecrire-a-l-equipe.json");
    expect(exportFileName("日本語", ".spec.ts")).toBe("recording.spec.ts");
    expect(exportFileName("x".repeat(300), ".json")).toBe(`${"x".repeat(80)}.json`);
  });
});
