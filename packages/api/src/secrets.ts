import {
  ApiError,
  isSealed,
  parseSecretsKey,
  type RecordingInput,
  seal,
  sealRecording,
  sealVariables,
  sensitivePaths,
  sensitiveVariableNames,
} from "@conveyor/core";

/** The API's side of sensitive values: seal before writing, refuse when there is no key. */
export interface Secrets {
  sealRecording<T extends RecordingInput>(recording: T, fieldPrefix?: string): T;
  /**
   * Seals the values of the variables `recording` declares sensitive (values already sealed stay
   * as they are). `field` names a variable in the refusal (default `body.variables.<name>`).
   */
  sealVariables(
    variables: Record<string, string>,
    recording: RecordingInput,
    field?: (name: string) => string,
  ): Record<string, string>;
  /**
   * A suite's default variables, to store: with a key every value is sealed (the suite does not know
   * yet which recordings a later suite run will give them to); without one, a variable any of
   * `recordings` declares sensitive is refused. `field` names it in the refusal.
   */
  sealStoredVariables(
    variables: Record<string, string>,
    recordings: readonly RecordingInput[],
    field: (name: string) => string,
  ): Record<string, string>;
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
    sealVariables(variables, recording, field = (name) => `body.variables.${name}`) {
      const sensitive = sensitiveVariableNames(recording);
      const name = Object.keys(variables).find((n) => sensitive.has(n));
      if (name !== undefined && !key) throw refuse(field(name));
      return sealVariables(variables, sensitive, key);
    },
    sealStoredVariables(variables, recordings, field) {
      if (key) {
        return Object.fromEntries(
          Object.entries(variables).map(([name, value]) => [name, isSealed(value) ? value : seal(value, key)]),
        );
      }
      const sensitive = new Set(recordings.flatMap((recording) => [...sensitiveVariableNames(recording)]));
      const name = Object.keys(variables).find((n) => sensitive.has(n));
      if (name !== undefined) throw refuse(field(name));
      return variables;
    },
  };
}
