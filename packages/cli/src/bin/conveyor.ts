#!/usr/bin/env node
// The `conveyor` command: `conveyor start` (the quick start), `conveyor replay <file>` (also
// `--export FORMAT`). Each loads only its own code: `replay --export` starts in a fraction of
// the time the quick start's API, worker and database code take to load.

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case "start":
  case undefined: {
    const { reportStartupError, runQuickStart } = await import("../start.ts");
    runQuickStart(process.env).catch(reportStartupError);
    break;
  }
  case "replay": {
    const { replay } = await import("../replay.ts");
    const code = await replay(rest, {
      out: (line) => console.log(line),
      err: (line) => console.error(line),
      // `pnpm replay` runs from the repository root; resolve paths where the user typed them.
      cwd: process.env.INIT_CWD ?? process.cwd(),
      chromiumPath: process.env.CHROMIUM_PATH || undefined,
    });
    // Once stdout is flushed: an export piped to a file or another process arrives whole.
    process.stdout.write("", () => process.exit(code));
    break;
  }
  default:
    console.error(`Unknown command "${command}". Usage: conveyor start | conveyor replay <recording.json>`);
    process.exit(2);
}
