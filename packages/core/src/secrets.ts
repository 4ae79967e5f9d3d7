import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { randomBytesFast } from "./random.ts";
import type { Recording, RecordingInput } from "./recording.ts";

/**
 * Sealing of sensitive values at rest: values of inputs marked `sensitive` and of variables a
 * recording declares sensitive are stored as `enc:v1:<base64url(iv | tag | ciphertext)>`,
 * AES-256-GCM under SECRETS_KEY. The API seals before it writes; the worker opens just before it
 * executes; nothing else ever sees the plaintext, and the API never returns it.
 */

const PREFIX = "enc:v1:";
export const REDACTED = "[redacted]";

export class SecretsKeyError extends Error {}

/** Parses SECRETS_KEY: 32 bytes as 64 hex characters or base64/base64url. */
export function parseSecretsKey(raw: string): Buffer {
  const trimmed = raw.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64url");
  if (key.length !== 32) {
    throw new SecretsKeyError("SECRETS_KEY must be 32 bytes: 64 hex characters or 43 base64url characters");
  }
  return key;
}

export function generateSecretsKey(): string {
  return randomBytes(32).toString("base64url");
}

export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

export function seal(value: string, key: Buffer): string {
  const iv = randomBytesFast(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
}

/** Opens a sealed value (plain values pass through). Throws SecretsKeyError without a key. */
export function unseal(value: string, key: Buffer | undefined): string {
  if (!isSealed(value)) return value;
  if (!key)
    throw new SecretsKeyError("a sensitive value is sealed and SECRETS_KEY is not set (it must equal the API's)");
  const raw = Buffer.from(value.slice(PREFIX.length), "base64url");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
}

/** Names of the variables a recording declares sensitive. */
export function sensitiveVariableNames(recording: RecordingInput): Set<string> {
  return new Set((recording.variables ?? []).filter((v) => v.sensitive).map((v) => v.name));
}

/** Paths (for error messages) of sensitive literal values in a recording: input values and sensitive defaults. */
export function sensitivePaths(recording: RecordingInput): string[] {
  const paths: string[] = [];
  recording.actions.forEach((action, index) => {
    if (action.type === "input" && action.sensitive && !isPlaceholderOnly(action.value) && !isSealed(action.value)) {
      paths.push(`actions[${index}].value`);
    }
  });
  (recording.variables ?? []).forEach((variable, index) => {
    if (variable.sensitive && variable.default !== undefined && !isSealed(variable.default)) {
      paths.push(`variables[${index}].default`);
    }
  });
  return paths;
}

function isPlaceholderOnly(value: string): boolean {
  return /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(value);
}

function mapSensitive<T extends RecordingInput>(recording: T, transform: (value: string) => string): T {
  return {
    ...recording,
    ...(recording.variables
      ? {
          variables: recording.variables.map((v) =>
            v.sensitive && v.default !== undefined ? { ...v, default: transform(v.default) } : v,
          ),
        }
      : {}),
    actions: recording.actions.map((action) =>
      action.type === "input" && action.sensitive && !isPlaceholderOnly(action.value)
        ? { ...action, value: transform(action.value) }
        : action,
    ),
  };
}

/** Seals every sensitive literal in a recording (idempotent). */
export function sealRecording<T extends RecordingInput>(recording: T, key: Buffer): T {
  return mapSensitive(recording, (value) => (isSealed(value) ? value : seal(value, key)));
}

/** Opens a sealed recording for execution. */
export function unsealRecording(recording: Recording, key: Buffer | undefined): Recording {
  return mapSensitive(recording, (value) => unseal(value, key));
}

/** The recording as the API shows it: sensitive literals replaced by "[redacted]". */
export function redactRecording<T extends RecordingInput>(recording: T): T {
  return mapSensitive(recording, () => REDACTED);
}

/** Seals the values of variables the recording declares sensitive. */
export function sealVariables(
  variables: Record<string, string>,
  sensitive: Set<string>,
  key: Buffer | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) {
    if (!sensitive.has(name)) out[name] = value;
    else if (!key) throw new SecretsKeyError(`variables.${name} is sensitive and SECRETS_KEY is not set`);
    else out[name] = isSealed(value) ? value : seal(value, key);
  }
  return out;
}

export function unsealVariables(variables: Record<string, string>, key: Buffer | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, unseal(value, key)]));
}
