import { ApiError } from "@conveyor/core";
import type { ProjectLimits } from "./project-limits.ts";

/** Refuses a priority more urgent than the project may ask for (400 naming the field). */
export function assertPriorityAllowed(priority: number, limits: ProjectLimits, field: string): void {
  if (priority >= limits.maxPriority) return;
  const message = `must be ${limits.maxPriority} or more for this project (its maxPriority; 1 is the most urgent), got ${priority}`;
  throw new ApiError("validation_failed", `${field}: ${message}`, { fields: [{ field, message }] });
}

/** Refuses a recording larger than the project may submit (413 naming the field and the limit). */
export function assertRecordingSize(recording: unknown, limits: ProjectLimits, field: string): void {
  const bytes = Buffer.byteLength(JSON.stringify(recording) ?? "");
  if (bytes <= limits.maxRecordingBytes) return;
  const message = `is ${bytes} bytes, more than this project's maxRecordingBytes (${limits.maxRecordingBytes})`;
  throw new ApiError("payload_too_large", `${field}: ${message}`, { fields: [{ field, message }] });
}
