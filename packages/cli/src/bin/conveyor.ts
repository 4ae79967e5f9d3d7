#!/usr/bin/env -S node --import tsx
// The `conveyor` command: `conveyor start` (the quick start).
import { reportStartupError, runQuickStart } from "../start.ts";

const [command] = process.argv.slice(2);
switch (command) {
  case "start":
  case undefined:
    runQuickStart(process.env).catch(reportStartupError);
    break;
  default:
    console.error(`Unknown command "${command}". Usage: conveyor start`);
    process.exit(2);
}
