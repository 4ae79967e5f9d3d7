import { type Recording, type RecordingInput, recordingSchema } from "@conveyor/core";
import { resolveChromium } from "../src/chromium.ts";

/** The Chromium tests launch: CHROMIUM_PATH if set, else the usual search. */
export function testChromiumPath(): string {
  return resolveChromium({ chromiumPath: process.env.CHROMIUM_PATH }).path;
}

/** A recording with defaults filled in, validated like the API would. */
export function recording(input: RecordingInput): Recording {
  return recordingSchema.parse(input);
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
