import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  EXPORT_FORMATS,
  exportRecording,
  expressionActions,
  type ImportWarning,
  importRecording,
  isExportFormat,
  RecordingImportError,
  type RunOptionsInput,
  runOptionsSchema,
} from "@conveyor/core";
import type { ActionResult } from "@conveyor/runner";

/**
 * `conveyor replay recording.json`: replays a recording (Conveyor, SaveAction or Chrome DevTools
 * Recorder format) locally, without the service, printing each action's result — for authoring
 * and debugging recordings. Exit code: 0 passed, 1 failed, 2 errored or bad usage.
 *
 * `conveyor replay --export FORMAT recording.json`: prints the recording as another tool's file
 * instead (docs/recording-export.md), without launching a browser. Exit code 0, or 2.
 */

const USAGE = `Usage: conveyor replay <recording.json> [options]
       conveyor replay --export ${EXPORT_FORMATS.join("|")} <recording.json> [--timeout MS]

Options:
  --export FORMAT         print the recording as a ${EXPORT_FORMATS.join(", ")} file instead of replaying it
                          (warnings on stderr; no browser is launched)
  --var NAME=VALUE        a value for \${NAME} (repeatable)
  --timing fast|realtime  replay pacing (default fast)
  --speed N               realtime speed multiplier (default 1)
  --screenshots failure|every|off   (default failure)
  --video                 record a video
  --trace                 record a Playwright trace
  --timeout MS            per-action timeout (default 15000)
  --artifacts DIR         where screenshots, video and trace go (default ./conveyor-replay)
  --allow-expressions     let waitForExpression actions run their JavaScript in the page
                          (refused without it, as for a project that does not allow them)
  --headed                show the browser window
  --json                  print the result as JSON instead of lines`;

export interface ReplayIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Directory relative paths are resolved against. */
  cwd: string;
  chromiumPath: string | undefined;
}

function line(result: ActionResult): string {
  const mark = result.status === "passed" ? "✓" : result.status === "skipped" ? "-" : "✗";
  const where = result.selectorUsed ? ` ${result.selectorUsed}` : "";
  const head = `${mark} ${String(result.index + 1).padStart(3)} ${result.type.padEnd(9)} ${String(Math.round(result.durationMs)).padStart(6)} ms${where}`;
  const details = [
    result.error ? `      ${result.error.message}` : undefined,
    result.screenshotKey ? `      screenshot: ${result.screenshotKey}` : undefined,
  ];
  return [head, ...details.filter((d): d is string => d !== undefined)].join("\n");
}

/** `steps[3]: message`, or the message alone for a recording-level warning. */
function describeWarning(warning: ImportWarning): string {
  return warning.path === undefined ? warning.message : `${warning.path}: ${warning.message}`;
}

export async function replay(argv: string[], io: ReplayIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        var: { type: "string", multiple: true },
        timing: { type: "string" },
        speed: { type: "string" },
        screenshots: { type: "string" },
        video: { type: "boolean" },
        trace: { type: "boolean" },
        timeout: { type: "string" },
        artifacts: { type: "string" },
        "allow-expressions": { type: "boolean" },
        headed: { type: "boolean" },
        json: { type: "boolean" },
        export: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length !== 1) {
    (values.help ? io.out : io.err)(USAGE);
    return values.help ? 0 : 2;
  }
  const file = resolve(io.cwd, String(positionals[0]));
  const exportFormat = values.export === undefined ? undefined : String(values.export);
  if (exportFormat !== undefined && !isExportFormat(exportFormat)) {
    io.err(`--export expects one of ${EXPORT_FORMATS.join(", ")}, got "${exportFormat}"`);
    return 2;
  }

  const variables: Record<string, string> = {};
  for (const pair of (values.var as string[] | undefined) ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      io.err(`--var expects NAME=VALUE, got "${pair}"`);
      return 2;
    }
    variables[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const optionsInput: RunOptionsInput = {
    ...(values.timing ? { timing: values.timing as "fast" | "realtime" } : {}),
    ...(values.speed ? { speed: Number(values.speed) } : {}),
    ...(values.screenshots ? { screenshots: values.screenshots as "failure" | "every" | "off" } : {}),
    ...(values.video ? { video: true } : {}),
    ...(values.trace ? { trace: true } : {}),
  };
  const options = runOptionsSchema.safeParse(optionsInput);
  if (!options.success) {
    io.err(`Invalid option: ${options.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("; ")}`);
    return 2;
  }
  const actionTimeoutMs = values.timeout ? Number(values.timeout) : 15_000;
  if (!Number.isInteger(actionTimeoutMs) || actionTimeoutMs < 1) {
    io.err(`--timeout expects a positive number of milliseconds, got "${String(values.timeout)}"`);
    return 2;
  }

  let recording: ReturnType<typeof importRecording>;
  try {
    recording = importRecording(JSON.parse(await readFile(file, "utf8")));
  } catch (error) {
    if (error instanceof RecordingImportError) io.err(`${file}: ${error.message}`);
    else if (error instanceof SyntaxError) io.err(`${file} is not valid JSON: ${error.message}`);
    else io.err(`Cannot read ${file}: ${(error as Error).message}`);
    return 2;
  }
  for (const warning of recording.warnings) io.err(`warning: ${describeWarning(warning)}`);
  if (exportFormat !== undefined) {
    const exported = exportRecording(recording.recording, exportFormat, { actionTimeoutMs });
    for (const warning of exported.warnings) {
      const where = warning.index === undefined ? "" : `action ${warning.index + 1} (${warning.type}): `;
      io.err(`warning: ${where}${warning.message}`);
    }
    io.out(exported.content.replace(/\n$/, ""));
    return 0;
  }

  const allowExpressions = values["allow-expressions"] === true;
  const expression = expressionActions(recording)[0];
  if (expression !== undefined && !allowExpressions) {
    // The service asks the project's allowExpressions; locally, the person replaying decides.
    io.err(
      `${file}: ${expression.path}: waitForExpression runs the recording's own JavaScript in the page; pass --allow-expressions to replay it`,
    );
    return 2;
  }

  // Loaded only to replay (Playwright is most of the start-up time): an export needs none of it.
  const [{ BrowserPool, ChromiumNotFoundError, executeRecording, resolveChromium }, { LocalArtifactStore }] =
    await Promise.all([import("@conveyor/runner"), import("@conveyor/artifacts")]);
  let chromium: ReturnType<typeof resolveChromium>;
  try {
    chromium = resolveChromium(io.chromiumPath ? { chromiumPath: io.chromiumPath } : {});
  } catch (error) {
    io.err(error instanceof ChromiumNotFoundError ? error.message : String(error));
    return 2;
  }
  const artifactDir = values.artifacts ? String(values.artifacts) : "conveyor-replay";
  const artifactRoot = isAbsolute(artifactDir) ? artifactDir : resolve(io.cwd, artifactDir);
  const pool = new BrowserPool({ executablePath: chromium.path, headless: !values.headed });
  try {
    if (!values.json)
      io.out(
        `Replaying "${recording.recording.name}" (${recording.recording.actions.length} actions, ${recording.format} format)`,
      );
    const result = await executeRecording(pool, {
      recording: recording.recording,
      variables,
      actionTimeoutMs,
      options: options.data,
      // The runner evaluates waitForExpression only when told to (ExecuteOptions.allowExpressions).
      allowExpressions,
      artifacts: new LocalArtifactStore(artifactRoot),
      artifactPrefix: "replay",
      onActionResult: (action: ActionResult) => {
        if (!values.json) io.out(line(action));
      },
    });
    if (values.json) {
      io.out(JSON.stringify(result, null, 2));
    } else {
      const { counts } = result;
      io.out(
        `\nResult: ${result.outcome} — ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped of ${counts.total} (${(result.durationMs / 1000).toFixed(1)} s)`,
      );
      if (result.error && result.outcome !== "failed") io.out(`Error: ${result.error.message}`);
      if (result.actions.some((a) => a.screenshotKey) || options.data.video || options.data.trace) {
        io.out(`Artifacts in ${artifactRoot}/replay`);
      }
    }
    return result.outcome === "passed" ? 0 : result.outcome === "failed" ? 1 : 2;
  } catch (error) {
    io.err(`Replay errored: ${(error as Error).message}`);
    return 2;
  } finally {
    await pool.close();
  }
}
