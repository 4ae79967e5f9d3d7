#!/usr/bin/env node
// The `conveyor` command: `conveyor start` (the quick start), `conveyor replay <file>`.
import { replay } from "../replay.ts";
import { reportStartupError, runQuickStart } from "../start.ts";

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case "start":
  case undefined:
    runQuickStart(process.env).catch(reportStartupError);
    break;
  case "replay":
    replay(rest, {
      out: (line) => console.log(line),
      err: (line) => console.error(line),
      // `pnpm replay` runs from the repository root; resolve paths where the user typed them.
      cwd: process.env.INIT_CWD ?? process.cwd(),
      chromiumPath: process.env.CHROMIUM_PATH || undefined,
    }).then((code) => process.exit(code));
    break;
  default:
    console.error(`Unknown command "${command}". Usage: conveyor start | conveyor replay <recording.json>`);
    process.exit(2);
}
