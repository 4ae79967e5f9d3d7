/**
 * `@conveyor/artifacts`: every artifact store, and the one factory that picks one from
 * configuration. The API (which serves artifacts), the worker (whose runs write them and whose
 * sweeper deletes old ones) and the runner (which takes a store) all use it; it is free of
 * Playwright, so the API does not depend on the browser package.
 */
import { type ArtifactStoreKind, redactUrl } from "@conveyor/core";
import { S3ArtifactStore } from "./s3.ts";
import { type ArtifactStore, LocalArtifactStore } from "./store.ts";

export * from "./s3.ts";
export * from "./store.ts";

/** The variables that choose and configure the store (the parsed env of any process). */
export interface ArtifactStoreConfig {
  ARTIFACT_STORE: ArtifactStoreKind;
  ARTIFACT_DIR: string;
  S3_BUCKET?: string | undefined;
  S3_ENDPOINT?: string | undefined;
  S3_REGION: string;
  S3_ACCESS_KEY_ID?: string | undefined;
  S3_SECRET_ACCESS_KEY?: string | undefined;
  S3_FORCE_PATH_STYLE?: boolean | undefined;
  S3_PREFIX?: string | undefined;
}

/** The store ARTIFACT_STORE names. API and workers call this with the same env, so they meet. */
export function createArtifactStore(config: ArtifactStoreConfig): ArtifactStore {
  switch (config.ARTIFACT_STORE) {
    case "local":
      return new LocalArtifactStore(config.ARTIFACT_DIR);
    case "s3": {
      if (config.S3_BUCKET === undefined) throw new Error("S3_BUCKET is required when ARTIFACT_STORE=s3");
      return new S3ArtifactStore({
        bucket: config.S3_BUCKET,
        endpoint: config.S3_ENDPOINT,
        region: config.S3_REGION,
        forcePathStyle: config.S3_FORCE_PATH_STYLE,
        prefix: config.S3_PREFIX,
        credentials:
          config.S3_ACCESS_KEY_ID !== undefined && config.S3_SECRET_ACCESS_KEY !== undefined
            ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
            : undefined,
      });
    }
    default: {
      const unknown: never = config.ARTIFACT_STORE;
      throw new Error(`unknown ARTIFACT_STORE ${JSON.stringify(unknown)}`);
    }
  }
}

/** What to log about the store at startup: where it is, never a credential. */
export function describeArtifactStore(config: ArtifactStoreConfig): Record<string, string | boolean> {
  if (config.ARTIFACT_STORE === "local") return { store: "local", dir: config.ARTIFACT_DIR };
  return {
    store: "s3",
    bucket: config.S3_BUCKET ?? "",
    endpoint: config.S3_ENDPOINT ? redactUrl(config.S3_ENDPOINT) : `(AWS S3, ${config.S3_REGION})`,
    prefix: config.S3_PREFIX ?? "",
    credentials: config.S3_ACCESS_KEY_ID !== undefined ? "static (S3_ACCESS_KEY_ID)" : "SDK credential chain",
  };
}
