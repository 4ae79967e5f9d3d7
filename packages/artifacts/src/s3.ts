import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import {
  type ArtifactStore,
  assertValidArtifactKey,
  contentTypeForKey,
  InvalidArtifactKeyError,
  type SweepOptions,
} from "./store.ts";

/**
 * Artifacts as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, …), so that what a
 * worker on one host writes is served by an API replica on another. Like the other stores it
 * stays free of Playwright (see index.ts).
 */
export interface S3ArtifactStoreOptions {
  /** Bucket holding the artifacts. It must exist; the store never creates it. */
  bucket: string;
  /** http(s) URL of an S3-compatible server, e.g. `http://minio:9000`. Default: AWS S3 of `region`. */
  endpoint?: string | undefined;
  /** Region signed into requests. Default `us-east-1`. */
  region?: string | undefined;
  /** Static credentials. Default: the SDK's credential chain (IAM role, `AWS_*` variables, …). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /**
   * Path-style URLs (`endpoint/bucket/key`), which MinIO and most S3-compatible servers need.
   * Default: true when `endpoint` is set, false otherwise.
   */
  forcePathStyle?: boolean | undefined;
  /** Prepended to every key (a `/` is added when missing), e.g. `conveyor/`. Default: none. */
  prefix?: string | undefined;
  /** Keys listed per ListObjectsV2 request while sweeping, 1–1000. Default 1000. */
  listPageSize?: number | undefined;
  /** A ready client, used instead of one built from the connection options above. Default: none. */
  client?: S3Client | undefined;
}

/** Most keys one DeleteObjects request accepts. */
const DELETE_BATCH = 1000;

/** Thrown by {@link S3ArtifactStore.sweep} when the server refused to delete some objects. */
export class ArtifactSweepError extends Error {
  readonly failed: number;
  constructor(failed: number, firstProblem: string) {
    super(`the store refused to delete ${failed} object(s); first: ${firstProblem}`);
    this.failed = failed;
    this.name = "ArtifactSweepError";
  }
}

function isMissingObject(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "NoSuchKey" || error.name === "NotFound") return true;
  const metadata = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return metadata?.httpStatusCode === 404 && error.name !== "NoSuchBucket";
}

export class S3ArtifactStore implements ArtifactStore {
  readonly bucket: string;
  /** The key prefix, empty or ending in `/`. */
  readonly prefix: string;
  readonly #client: S3Client;
  readonly #listPageSize: number;

  constructor(options: S3ArtifactStoreOptions) {
    this.bucket = options.bucket;
    const prefix = options.prefix ?? "";
    this.prefix = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
    this.#listPageSize = Math.min(Math.max(options.listPageSize ?? 1000, 1), 1000);
    if (options.client) {
      this.#client = options.client;
    } else {
      const config: S3ClientConfig = {
        region: options.region ?? "us-east-1",
        forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
        // Checksums only where S3 demands them: MinIO and other S3-compatible servers reject
        // or mishandle the SDK's newer default (CRC32 on every request).
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      };
      if (options.endpoint !== undefined) config.endpoint = options.endpoint;
      if (options.credentials !== undefined) config.credentials = options.credentials;
      this.#client = new S3Client(config);
    }
  }

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.#client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: this.#objectKey(key), Body: body, ContentType: contentType }),
    );
  }

  async get(key: string): Promise<{ body: Buffer; contentType: string } | null> {
    const objectKey = this.#objectKey(key);
    try {
      const object = await this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      if (!object.Body) return null;
      const body = Buffer.from(await object.Body.transformToByteArray());
      return { body, contentType: object.ContentType ?? contentTypeForKey(key) };
    } catch (error) {
      if (isMissingObject(error)) return null;
      throw error;
    }
  }

  /**
   * Lists the prefix (ListObjectsV2) and deletes objects last modified before `olderThan`
   * (DeleteObjects, a page at a time). Only keys that are valid artifact keys below the prefix
   * are touched, yet give Conveyor a bucket or a prefix of its own. A bucket lifecycle rule
   * (expire after ARTIFACT_RETENTION_DAYS) does the same server-side and can replace this.
   */
  async sweep(olderThan: Date, options: SweepOptions = {}): Promise<number> {
    const cutoff = olderThan.getTime();
    let deleted = 0;
    let failed = 0;
    let firstProblem = "";
    let continuationToken: string | undefined;
    do {
      options.signal?.throwIfAborted();
      const page = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          ...(this.prefix ? { Prefix: this.prefix } : {}),
          MaxKeys: this.#listPageSize,
          ...(continuationToken ? { ContinuationToken: continuationToken } : {}),
        }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      const expired: string[] = [];
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || object.LastModified === undefined) continue;
        if (object.LastModified.getTime() >= cutoff || !this.#isArtifactKey(object.Key)) continue;
        expired.push(object.Key);
      }
      for (let start = 0; start < expired.length; start += DELETE_BATCH) {
        options.signal?.throwIfAborted();
        const batch = expired.slice(start, start + DELETE_BATCH);
        const result = await this.#client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        const errors = result.Errors ?? [];
        // Quiet mode lists failures only.
        deleted += batch.length - errors.length;
        failed += errors.length;
        const first = errors[0];
        if (first && !firstProblem) firstProblem = `${first.Key ?? "?"}: ${first.Code ?? ""} ${first.Message ?? ""}`;
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
    if (failed > 0) throw new ArtifactSweepError(failed, firstProblem.trim());
    return deleted;
  }

  /** Closes the client's connections. */
  destroy(): void {
    this.#client.destroy();
  }

  #objectKey(key: string): string {
    assertValidArtifactKey(key);
    return `${this.prefix}${key}`;
  }

  #isArtifactKey(objectKey: string): boolean {
    if (!objectKey.startsWith(this.prefix)) return false;
    try {
      assertValidArtifactKey(objectKey.slice(this.prefix.length));
      return true;
    } catch (error) {
      if (error instanceof InvalidArtifactKeyError) return false;
      throw error;
    }
  }
}
