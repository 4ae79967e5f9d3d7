/**
 * A real S3-protocol server (s3rver: the S3 REST API over a temporary directory) on 127.0.0.1
 * at a random port, in a child process, for tests of S3ArtifactStore. Any package's tests can
 * import it:
 *
 * ```ts
 * import { startS3Server } from "@conveyor/testing/s3-server";
 * const s3 = await startS3Server();          // s3.endpoint = "http://127.0.0.1:PORT"
 * await s3.createBucket("artifacts");
 * const store = new S3ArtifactStore({ bucket: "artifacts", ...s3.connection });
 * await s3.close();
 * ```
 *
 * A child rather than in-process: s3rver signs ListObjectsV2 continuation tokens with DES, which
 * OpenSSL 3 (Node 17+) only offers with `--openssl-legacy-provider`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";

const S3RVER_BIN = createRequire(import.meta.url).resolve("s3rver/bin/s3rver.js");

/** s3rver accepts any signature made with these. */
const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface TestS3Server {
  endpoint: string;
  /** Options of S3ArtifactStore (and S3Client) reaching this server. */
  connection: { endpoint: string; region: string; forcePathStyle: true; credentials: typeof CREDENTIALS };
  /** A client for the test itself (listing, creating buckets). */
  client: S3Client;
  createBucket(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Resolves with the port once the child prints `S3rver listening on 127.0.0.1:PORT`. */
async function waitForPort(child: ChildProcess, timeoutMs = 15_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(
      () => fail(new Error(`s3rver did not start within ${timeoutMs} ms: ${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const port = /listening on [^:\s]+:(\d+)/.exec(output)?.[1];
      if (port !== undefined) {
        cleanup();
        resolve(Number(port));
      }
    };
    const onExit = (code: number | null) => fail(new Error(`s3rver exited (${code}) before listening: ${output}`));
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stderr?.off("data", onData);
      child.off("exit", onExit);
    };
    const fail = (error: Error) => {
      cleanup();
      reject(error);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", onExit);
  });
}

export async function startS3Server(): Promise<TestS3Server> {
  const directory = await mkdtemp(path.join(tmpdir(), "conveyor-s3-"));
  const child = spawn(
    process.execPath,
    [
      "--openssl-legacy-provider",
      S3RVER_BIN,
      "--directory",
      directory,
      "--address",
      "127.0.0.1",
      "--port",
      "0",
      "--silent",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let port: number;
  try {
    port = await waitForPort(child);
  } catch (error) {
    child.kill("SIGKILL");
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  // Keep reading, so a chatty child never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  const endpoint = `http://127.0.0.1:${port}`;
  const connection = { endpoint, region: "us-east-1", forcePathStyle: true as const, credentials: CREDENTIALS };
  const client = new S3Client(connection);
  return {
    endpoint,
    connection,
    client,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async close() {
      client.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}
