import { describe, expect, it } from "vitest";
import { z } from "zod";
import { checkCommonEnv, commonEnvShape } from "./config.ts";
import { ConfigError, parseEnv } from "./env.ts";

const schema = z.object(commonEnvShape).superRefine(checkCommonEnv);

function problems(env: Record<string, string>): string[] {
  try {
    parseEnv(schema, env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("artifact store variables", () => {
  it("default to a local store kept 30 days", () => {
    const env = parseEnv(schema, {});
    expect(env.ARTIFACT_STORE).toBe("local");
    expect(env.ARTIFACT_RETENTION_DAYS).toBe(30);
    expect(env.S3_REGION).toBe("us-east-1");
    expect(env.S3_FORCE_PATH_STYLE).toBeUndefined();
  });

  it("parse an S3 store", () => {
    const env = parseEnv(schema, {
      ARTIFACT_STORE: "S3",
      S3_BUCKET: "artifacts",
      S3_ENDPOINT: "http://minio:9000",
      S3_FORCE_PATH_STYLE: "false",
      S3_ACCESS_KEY_ID: "id",
      S3_SECRET_ACCESS_KEY: "secret",
      ARTIFACT_RETENTION_DAYS: "0",
    });
    expect(env).toMatchObject({ ARTIFACT_STORE: "s3", S3_FORCE_PATH_STYLE: false, ARTIFACT_RETENTION_DAYS: 0 });
  });

  it("require S3_BUCKET with ARTIFACT_STORE=s3, and both S3 keys or neither", () => {
    expect(problems({ ARTIFACT_STORE: "s3" })).toEqual(["S3_BUCKET: is required when ARTIFACT_STORE=s3"]);
    expect(problems({ S3_ACCESS_KEY_ID: "id" })).toEqual([
      "S3_SECRET_ACCESS_KEY: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY together (or neither, to use the SDK's credential chain)",
    ]);
  });

  it("refuse bad values, naming the variable and never echoing the secret", () => {
    const found = problems({
      ARTIFACT_STORE: "gcs",
      S3_ENDPOINT: "minio:9000",
      ARTIFACT_RETENTION_DAYS: "-1",
      S3_FORCE_PATH_STYLE: "maybe",
      S3_ACCESS_KEY_ID: "id",
      S3_SECRET_ACCESS_KEY: "very-secret-value",
    });
    expect(found.map((line) => line.split(":")[0]).sort()).toEqual([
      "ARTIFACT_RETENTION_DAYS",
      "ARTIFACT_STORE",
      "S3_ENDPOINT",
      "S3_FORCE_PATH_STYLE",
    ]);
    expect(found.join("\n")).not.toContain("very-secret-value");
  });
});
