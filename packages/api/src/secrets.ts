import {
  ApiError,
  parseSecretsKey,
  type RecordingInput,
  sealRecording,
  sealVariables,
  sensitivePaths,
  sensitiveVariableNames,
} from "@conveyor/core";

/** The API's side of sensitive values: seal before writing, refuse when there is no key. */
export interface Secrets {
  sealRecording<T extends RecordingInput>(recording: T, fieldPrefix?: string): T;
  sealVariables(variables: Record<string, string>, recording: RecordingInput): Record<string, string>;
}

export function createSecrets(secretsKey: string | undefined): Secrets {
  const key = secretsKey ? parseSecretsKey(secretsKey) : undefined;
  const refuse = (field: string) =>
    new ApiError(
      "validation_failed",
      `${field}: is sensitive, and this server has no SECRETS_KEY to store it encrypted; set SECRETS_KEY on the API and workers, or pass the value as a run variable that is not declared sensitive`,
      { fields: [{ field, message: "sensitive value without SECRETS_KEY" }] },
    );
  return {
    sealRecording(recording, fieldPrefix = "body") {
      const paths = sensitivePaths(recording);
      if (paths.length === 0) return recording;
      if (!key) throw refuse(`${fieldPrefix}.${paths[0]}`);
      return sealRecording(recording, key);
    },
    sealVariables(variables, recording) {
      const sensitive = sensitiveVariableNames(recording);
      const name = Object.keys(variables).find((n) => sensitive.has(n));
      if (name !== undefined && !key) throw refuse(`body.variables.${name}`);
      return sealVariables(variables, sensitive, key);
    },
  };
}
