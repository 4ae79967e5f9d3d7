import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ArtifactStore } from "@conveyor/artifacts";
import type { BrowserContext, Page } from "playwright-core";
import type { RunnerLogger } from "./pool.ts";
import { createSecretScrubber, scrubTraceZip } from "./trace-scrub.ts";

/** Artifact keys of what a run recorded as a whole. */
export interface RunArtifacts {
  /** The run's video, WebM (`<prefix>/video.webm`). */
  video?: string;
  /** The run's Playwright trace, zip (`<prefix>/trace.zip`): `npx playwright show-trace`. */
  trace?: string;
}

/** Whether an error means Playwright's ffmpeg (needed to encode video) is not installed. */
export function isFfmpegMissingError(error: unknown): boolean {
  return /ffmpeg/i.test(error instanceof Error ? error.message : String(error));
}

/**
 * A run's video and trace. Playwright writes both to files, so they are recorded into a private
 * temporary directory, stored in the artifact store once the browser context has closed (a
 * video is only complete then), and the directory is removed. Recording evidence never fails a
 * run: a problem is logged and that artifact is left out.
 *
 * A run with sensitive values gets its trace scrubbed of them before it is stored (see
 * trace-scrub.ts), and recorded without screenshots, whose pixels could show a typed value no
 * scrubbing can reach; a trace that cannot be scrubbed is not stored.
 */
export class RunEvidence {
  readonly #dir: string | null;
  #video: boolean;
  readonly #trace: boolean;
  readonly #sensitiveValues: readonly string[];
  #tracedContext: BrowserContext | null = null;
  #traceStopped: Promise<boolean> | null = null;

  private constructor(dir: string | null, video: boolean, trace: boolean, sensitiveValues: readonly string[]) {
    this.#dir = dir;
    this.#video = video;
    this.#trace = trace;
    this.#sensitiveValues = sensitiveValues;
  }

  /**
   * @param options.sensitiveValues The run's sensitive values (sensitive inputs, sensitive
   *   variables' values), to scrub from the trace. Default: none, and the trace is stored as
   *   Playwright wrote it.
   * @param tempRoot Where the private temporary directory is made. Default: the OS temp directory.
   */
  static async create(
    options: { video: boolean; trace: boolean; sensitiveValues?: readonly string[] },
    tempRoot?: string,
  ): Promise<RunEvidence> {
    const wanted = options.video || options.trace;
    const dir = wanted ? await mkdtemp(path.join(tempRoot ?? tmpdir(), "conveyor-evidence-")) : null;
    const sensitiveValues = (options.sensitiveValues ?? []).filter((value) => value !== "");
    return new RunEvidence(dir, options.video, options.trace, sensitiveValues);
  }

  /** The context's `recordVideo` option, when video is wanted. */
  get recordVideo(): { dir: string } | undefined {
    return this.#video && this.#dir !== null ? { dir: path.join(this.#dir, "video") } : undefined;
  }

  /** Gives up on video for this run (e.g. ffmpeg is missing); the run goes on without it. */
  disableVideo(): void {
    this.#video = false;
  }

  /**
   * Starts the trace, with DOM snapshots, when one is wanted; with screenshots too unless the run
   * has sensitive values.
   */
  async startTrace(context: BrowserContext, logger?: RunnerLogger): Promise<void> {
    if (!this.#trace) return;
    try {
      await context.tracing.start({ screenshots: this.#sensitiveValues.length === 0, snapshots: true });
      this.#tracedContext = context;
    } catch (error) {
      logger?.warn({ err: error }, "could not start the trace; the run goes on without one");
    }
  }

  /**
   * Writes the trace file; must run before the context closes. Safe to call more than once (the
   * run's timeout and its normal end may both try): the first call does the work.
   */
  stopTrace(logger?: RunnerLogger): Promise<boolean> {
    this.#traceStopped ??= (async () => {
      const context = this.#tracedContext;
      if (context === null || this.#dir === null) return false;
      try {
        await context.tracing.stop({ path: this.#traceFile(this.#dir) });
        return true;
      } catch (error) {
        logger?.warn({ err: error }, "could not save the trace");
        return false;
      }
    })();
    return this.#traceStopped;
  }

  /** Stores what was recorded under `<prefix>/video.webm` and `<prefix>/trace.zip`. Call after the context closed. */
  async store(
    page: Page | null,
    artifacts: ArtifactStore,
    prefix: string,
    logger?: RunnerLogger,
  ): Promise<RunArtifacts> {
    const stored: RunArtifacts = {};
    if (this.#dir === null) return stored;
    if (await this.stopTrace(logger)) {
      const key = `${prefix}/trace.zip`;
      const prepare = this.#sensitiveValues.length === 0 ? undefined : (body: Buffer) => this.#scrubTrace(body, logger);
      if (await storeFile(this.#traceFile(this.#dir), key, "application/zip", artifacts, logger, prepare)) {
        stored.trace = key;
      }
    }
    const video = this.#video ? page?.video() : null;
    if (video) {
      const key = `${prefix}/video.webm`;
      try {
        if (await storeFile(await video.path(), key, "video/webm", artifacts, logger)) stored.video = key;
      } catch (error) {
        logger?.warn({ err: error }, "could not find the run's video");
      }
    }
    return stored;
  }

  /** Removes the temporary files. */
  async dispose(): Promise<void> {
    if (this.#dir !== null) await rm(this.#dir, { recursive: true, force: true }).catch(() => undefined);
  }

  #traceFile(dir: string): string {
    return path.join(dir, "trace.zip");
  }

  /** The trace without the run's sensitive values, or null (logged) when it cannot be scrubbed. */
  #scrubTrace(body: Buffer, logger?: RunnerLogger): Buffer | null {
    try {
      const scrubbed = scrubTraceZip(body, this.#sensitiveValues);
      if (scrubbed.droppedEntries > 0 || scrubbed.droppedLines > 0) {
        logger?.warn(
          { droppedEntries: scrubbed.droppedEntries, droppedLines: scrubbed.droppedLines },
          "left parts of the trace out that could not be scrubbed of sensitive values",
        );
      }
      return Buffer.from(scrubbed.zip.buffer, scrubbed.zip.byteOffset, scrubbed.zip.byteLength);
    } catch (error) {
      // The message is scrubbed too: a parser's message can quote the text it choked on.
      const message = error instanceof Error ? error.message : String(error);
      const scrubber = createSecretScrubber(this.#sensitiveValues);
      logger?.warn(
        { reason: scrubber === null ? message : scrubber.scrub(message) },
        "could not scrub sensitive values from the trace; it is not stored",
      );
      return null;
    }
  }
}

async function storeFile(
  file: string,
  key: string,
  contentType: string,
  artifacts: ArtifactStore,
  logger?: RunnerLogger,
  prepare?: (body: Buffer) => Buffer | null,
): Promise<boolean> {
  try {
    const recorded = await readFile(file);
    if (recorded.length === 0) {
      logger?.warn({ key }, "recorded file is empty; not stored");
      return false;
    }
    const body = prepare === undefined ? recorded : prepare(recorded);
    if (body === null) return false;
    await artifacts.put(key, body, contentType);
    return true;
  } catch (error) {
    logger?.warn({ err: error, key }, "could not store a recorded file");
    return false;
  }
}
