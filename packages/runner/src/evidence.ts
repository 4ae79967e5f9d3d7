import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import type { ArtifactStore } from "./artifacts.ts";
import type { RunnerLogger } from "./pool.ts";

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
 */
export class RunEvidence {
  readonly #dir: string | null;
  #video: boolean;
  readonly #trace: boolean;
  #tracedContext: BrowserContext | null = null;
  #traceStopped: Promise<boolean> | null = null;

  private constructor(dir: string | null, video: boolean, trace: boolean) {
    this.#dir = dir;
    this.#video = video;
    this.#trace = trace;
  }

  /** @param tempRoot Where the private temporary directory is made. Default: the OS temp directory. */
  static async create(options: { video: boolean; trace: boolean }, tempRoot?: string): Promise<RunEvidence> {
    const wanted = options.video || options.trace;
    const dir = wanted ? await mkdtemp(path.join(tempRoot ?? tmpdir(), "conveyor-evidence-")) : null;
    return new RunEvidence(dir, options.video, options.trace);
  }

  /** The context's `recordVideo` option, when video is wanted. */
  get recordVideo(): { dir: string } | undefined {
    return this.#video && this.#dir !== null ? { dir: path.join(this.#dir, "video") } : undefined;
  }

  /** Gives up on video for this run (e.g. ffmpeg is missing); the run goes on without it. */
  disableVideo(): void {
    this.#video = false;
  }

  /** Starts the trace, with screenshots and DOM snapshots, when one is wanted. */
  async startTrace(context: BrowserContext, logger?: RunnerLogger): Promise<void> {
    if (!this.#trace) return;
    try {
      await context.tracing.start({ screenshots: true, snapshots: true });
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
      if (await storeFile(this.#traceFile(this.#dir), key, "application/zip", artifacts, logger)) stored.trace = key;
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
}

async function storeFile(
  file: string,
  key: string,
  contentType: string,
  artifacts: ArtifactStore,
  logger?: RunnerLogger,
): Promise<boolean> {
  try {
    const body = await readFile(file);
    if (body.length === 0) {
      logger?.warn({ key }, "recorded file is empty; not stored");
      return false;
    }
    await artifacts.put(key, body, contentType);
    return true;
  } catch (error) {
    logger?.warn({ err: error, key }, "could not store a recorded file");
    return false;
  }
}
