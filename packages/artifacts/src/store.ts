import type { Dirent } from "node:fs";
import { mkdir, readdir, readFile, rename, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * Where run artifacts (failure screenshots, …) live. The runner writes, the API reads; both see
 * only this interface: a local directory (LocalArtifactStore) or an S3-compatible bucket
 * (S3ArtifactStore, in s3.ts), chosen by `createArtifactStore` (index.ts).
 *
 * This package must stay free of Playwright: the API imports it.
 */
export interface ArtifactStore {
  /** Stores `body` under `key`, replacing what was there. Rejects an invalid key. */
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** The artifact stored under `key`, or null when there is none. Rejects an invalid key. */
  get(key: string): Promise<{ body: Buffer; contentType: string } | null>;
  /**
   * Deletes every artifact stored before `olderThan` (retention, ARTIFACT_RETENTION_DAYS);
   * returns how many it deleted. Safe to run while artifacts are being written, and to repeat.
   */
  sweep(olderThan: Date, options?: SweepOptions): Promise<number>;
}

export interface SweepOptions {
  /** Stops the sweep between deletions (shutdown); it then rejects with the signal's reason. Default: none. */
  signal?: AbortSignal;
}

export class InvalidArtifactKeyError extends Error {
  readonly key: string;
  constructor(key: string, reason: string) {
    super(`Invalid artifact key ${JSON.stringify(key.slice(0, 200))}: ${reason}`);
    this.key = key;
    this.name = "InvalidArtifactKeyError";
  }
}

/** Longest key accepted, in characters. */
export const MAX_ARTIFACT_KEY_LENGTH = 1024;

const KEY_CHARACTERS = /^[A-Za-z0-9._/-]+$/;
const META_SUFFIX = ".meta.json";

/**
 * Throws InvalidArtifactKeyError unless `key` is a relative path of `[A-Za-z0-9._/-]` with no
 * empty, `.` or `..` segment. Keys come from URLs, so this is the path-traversal guard.
 */
export function assertValidArtifactKey(key: string): void {
  if (key.length === 0) throw new InvalidArtifactKeyError(key, "it is empty");
  if (key.length > MAX_ARTIFACT_KEY_LENGTH) {
    throw new InvalidArtifactKeyError(key, `it is longer than ${MAX_ARTIFACT_KEY_LENGTH} characters`);
  }
  if (!KEY_CHARACTERS.test(key)) {
    throw new InvalidArtifactKeyError(key, "only letters, digits, '.', '_', '-' and '/' are allowed");
  }
  if (key.startsWith("/")) throw new InvalidArtifactKeyError(key, "it must be relative");
  for (const segment of key.split("/")) {
    if (segment === "" || segment === "." || segment === "..") {
      throw new InvalidArtifactKeyError(key, "empty, '.' and '..' path segments are not allowed");
    }
  }
  if (key.endsWith(META_SUFFIX)) {
    throw new InvalidArtifactKeyError(key, `keys ending in "${META_SUFFIX}" are reserved`);
  }
}

const CONTENT_TYPES_BY_EXTENSION: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webm": "video/webm",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".log": "text/plain; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".zip": "application/zip",
};

/** The content type implied by a key's extension; `application/octet-stream` when unknown. */
export function contentTypeForKey(key: string): string {
  return CONTENT_TYPES_BY_EXTENSION[path.extname(key).toLowerCase()] ?? "application/octet-stream";
}

function hasCode(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && "code" in error && typeof error.code === "string" && codes.includes(error.code);
}

function isNotFound(error: unknown): boolean {
  return hasCode(error, "ENOENT", "ENOTDIR");
}

/** Temporary files of writeAtomically: `<file>.<pid>.<counter>.tmp`. */
const TEMP_FILE = /\.\d+\.\d+\.tmp$/;

/**
 * Artifacts as files under one directory: `<dir>/<key>`, with its content type beside it in
 * `<dir>/<key>.meta.json`. Writes go through a temporary file and a rename, so a reader never
 * sees half a screenshot.
 */
export class LocalArtifactStore implements ArtifactStore {
  readonly dir: string;

  /** @param dir Root directory; created on first write. Relative paths resolve against the cwd. */
  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    const file = this.#fileFor(key);
    await mkdir(path.dirname(file), { recursive: true });
    await writeAtomically(`${file}${META_SUFFIX}`, JSON.stringify({ contentType }));
    await writeAtomically(file, body);
  }

  async get(key: string): Promise<{ body: Buffer; contentType: string } | null> {
    const file = this.#fileFor(key);
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
    return { body, contentType: await this.#readContentType(file, key) };
  }

  /**
   * Deletes files last modified before `olderThan` (an artifact with its `.meta.json`, and
   * temporary files a crash left behind), then directories left empty that were not touched since
   * `olderThan` either (so a directory a worker just created is never removed under it).
   */
  async sweep(olderThan: Date, options: SweepOptions = {}): Promise<number> {
    const cutoff = olderThan.getTime();
    let deleted = 0;
    const removeIfOld = async (file: string): Promise<boolean> => {
      try {
        if ((await stat(file)).mtimeMs >= cutoff) return false;
        await unlink(file);
        return true;
      } catch (error) {
        if (isNotFound(error)) return false; // deleted meanwhile (another sweeper, a rewrite)
        throw error;
      }
    };
    // Returns whether `dir` is empty afterwards.
    const visit = async (dir: string): Promise<boolean> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isNotFound(error)) return true;
        throw error;
      }
      for (const entry of entries) {
        options.signal?.throwIfAborted();
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          const untouchedSinceCutoff = await stat(full).then(
            (stats) => stats.mtimeMs < cutoff,
            () => false,
          );
          if ((await visit(full)) && untouchedSinceCutoff) {
            try {
              await rmdir(full);
            } catch (error) {
              // Written into meanwhile, or removed by someone else: either way, not ours to remove.
              if (!isNotFound(error) && !hasCode(error, "ENOTEMPTY", "EEXIST")) throw error;
            }
          }
        } else if (entry.name.endsWith(META_SUFFIX)) {
          // Goes with its artifact (below); alone, it is an orphan and goes by its own age.
          if (!(await exists(full.slice(0, -META_SUFFIX.length)))) await removeIfOld(full);
        } else if (TEMP_FILE.test(entry.name)) {
          await removeIfOld(full);
        } else if (await removeIfOld(full)) {
          deleted += 1;
          await unlink(`${full}${META_SUFFIX}`).catch((error: unknown) => {
            if (!isNotFound(error)) throw error;
          });
        }
      }
      try {
        return (await readdir(dir)).length === 0;
      } catch (error) {
        if (isNotFound(error)) return true;
        throw error;
      }
    };
    await visit(this.dir);
    return deleted;
  }

  async #readContentType(file: string, key: string): Promise<string> {
    try {
      const meta: unknown = JSON.parse(await readFile(`${file}${META_SUFFIX}`, "utf8"));
      if (typeof meta === "object" && meta !== null && "contentType" in meta && typeof meta.contentType === "string") {
        return meta.contentType;
      }
    } catch (error) {
      if (!isNotFound(error) && !(error instanceof SyntaxError)) throw error;
    }
    return contentTypeForKey(key);
  }

  #fileFor(key: string): string {
    assertValidArtifactKey(key);
    const file = path.resolve(this.dir, key);
    // Belt and braces: the key check above already rules out leaving the directory.
    if (!file.startsWith(this.dir + path.sep)) throw new InvalidArtifactKeyError(key, "it leaves the store directory");
    return file;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

let tempCounter = 0;

async function writeAtomically(file: string, body: Buffer | string): Promise<void> {
  tempCounter += 1;
  const temp = `${file}.${process.pid}.${tempCounter}.tmp`;
  await writeFile(temp, body);
  await rename(temp, file);
}

/** Keeps artifacts in memory. For tests and for callers that only inspect what a run stored. */
export class MemoryArtifactStore implements ArtifactStore {
  readonly entries = new Map<string, { body: Buffer; contentType: string }>();
  readonly #storedAt = new Map<string, number>();

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    assertValidArtifactKey(key);
    this.entries.set(key, { body: Buffer.from(body), contentType });
    this.#storedAt.set(key, Date.now());
  }

  async get(key: string): Promise<{ body: Buffer; contentType: string } | null> {
    assertValidArtifactKey(key);
    return this.entries.get(key) ?? null;
  }

  async sweep(olderThan: Date, options: SweepOptions = {}): Promise<number> {
    let deleted = 0;
    for (const [key, storedAt] of this.#storedAt) {
      options.signal?.throwIfAborted();
      if (storedAt >= olderThan.getTime()) continue;
      this.entries.delete(key);
      this.#storedAt.delete(key);
      deleted += 1;
    }
    return deleted;
  }
}
