import { MemoryArtifactStore } from "@conveyor/artifacts";
import { type Recording, type RecordingInput, recordingSchema } from "@conveyor/core";
import { resolveChromium } from "../src/chromium.ts";
import { type ExecuteOptions, executeRecording, type RunResult } from "../src/execute.ts";
import type { BrowserPool } from "../src/pool.ts";

/** The Chromium tests launch: CHROMIUM_PATH if set, else the usual search. */
export function testChromiumPath(): string {
  return resolveChromium({ chromiumPath: process.env.CHROMIUM_PATH }).path;
}

/** A recording with defaults filled in, validated like the API would. */
export function recording(input: RecordingInput): Recording {
  return recordingSchema.parse(input);
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Runs a recording given as plain input, with a 5 s action timeout and a fresh in-memory artifact
 * store (returned with the result, to inspect what was stored).
 */
export async function runRecording(
  pool: BrowserPool,
  input: RecordingInput,
  overrides: Partial<ExecuteOptions> = {},
): Promise<RunResult & { store: MemoryArtifactStore }> {
  const store = new MemoryArtifactStore();
  const result = await executeRecording(pool, {
    recording: recording(input),
    actionTimeoutMs: 5_000,
    artifacts: store,
    artifactPrefix: "run_test/1",
    ...overrides,
  });
  return { ...result, store };
}
