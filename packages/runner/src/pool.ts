import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EgressPolicy } from "@conveyor/core";
import type { EgressProxy, EgressSession } from "@conveyor/egress";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import {
  browserEnvironment,
  ChromiumSandboxError,
  type ChromiumSandboxMode,
  decideSandbox,
  type SandboxStatus,
} from "./sandbox.ts";

/**
 * Flags that keep headless Chromium quiet and container-friendly. The sandbox is not among them:
 * it is decided by `BrowserPoolOptions.sandbox`. WebRTC may use only proxied connections, so a
 * page cannot send UDP around the egress proxy.
 */
export const DEFAULT_CHROMIUM_ARGS: readonly string[] = [
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
  "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
  "--webrtc-ip-handling-policy=disable_non_proxied_udp",
];

/** Every proxied context also proxies loopback (Chromium bypasses a proxy for it unless told). */
const PROXY_BYPASS = "<-loopback>";

/** The subset of a pino-style logger the runner uses. */
export interface RunnerLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface BrowserPoolOptions {
  /** The Chromium executable, usually from `resolveChromium()`. Required. */
  executablePath: string;
  /** Command-line flags for Chromium. Replaces the defaults. Default: DEFAULT_CHROMIUM_ARGS. */
  launchArgs?: readonly string[];
  /** Run without a window. Default: true. */
  headless?: boolean;
  /** How long a launch may take before it fails, in milliseconds. Default: 30000. */
  launchTimeoutMs?: number;
  /** Told when the browser disconnects unexpectedly. Default: silent. */
  logger?: RunnerLogger;
  /**
   * Keep one fresh context with a blank page open ahead of time, so that `newPage()` with default
   * options hands it over at once and the next run does not wait for context and page creation
   * (~0.2 s here); a new spare is prepared while the run goes on. A spare is never reused: each run
   * still gets its own, unused context. Default: true.
   */
  prepareNextPage?: boolean;
  /**
   * The egress proxy every request of the browser goes through: the browser as a whole is pointed
   * at its refuse-everything listener, and each context at a session of its own, which the run
   * binds its policy to (`OpenedPage.egress`). Default: none — the browser reaches the network
   * directly (local replay with `pnpm replay`, runner tests).
   */
  egress?: EgressProxy;
  /**
   * Chromium's sandbox: `auto` uses it where it can run (not root, user namespaces available) and
   * runs without it otherwise, saying why in `sandbox`; `required` fails the launch instead;
   * `off` never uses it. Default "auto".
   */
  sandbox?: ChromiumSandboxMode;
}

/** A fresh context and its first page. */
export interface OpenedPage {
  context: BrowserContext;
  page: Page;
  /** The context's egress session, when the pool has a proxy: bind the run's policy to it. */
  egress?: EgressSession | undefined;
}

export interface NewContextOptions {
  /** Page size in CSS pixels. Default: Playwright's 1280×720. */
  viewport?: { width: number; height: number };
  /**
   * Record a WebM video of every page into `dir` (needs Playwright's ffmpeg:
   * `npx playwright install ffmpeg`). Default: no video.
   */
  recordVideo?: { dir: string };
}

/**
 * One Chromium per process, shared by every run; each run gets its own BrowserContext (cookies,
 * storage and cache are never shared). The browser is launched on first use, and replaced on the
 * next `newContext()` when it has crashed or disconnected.
 */
export class BrowserPool {
  readonly #options: BrowserPoolOptions;
  /** `prepareNextPage`, resolved: whether this pool keeps a spare. */
  readonly #keepsSpare: boolean;
  #browser: Browser | null = null;
  #launching: Promise<Browser> | null = null;
  #closed = false;
  #launches = 0;
  /** The spare context and page, once open. */
  #spareReady: OpenedPage | null = null;
  /** The spare being opened: resolves to it, or to null when it could not be opened. */
  #spareOpening: Promise<OpenedPage | null> | null = null;
  /** Bumped when spares in preparation must be dropped (browser gone, pool closed). */
  #spareGeneration = 0;
  /** Each context's egress session (closed with the context). */
  readonly #sessions = new WeakMap<BrowserContext, EgressSession>();
  /** Chromium's private HOME, TMPDIR, downloads and traces directory (0700), made at first launch. */
  #privateDir: string | null = null;
  #sandbox: SandboxStatus | null = null;

  constructor(options: BrowserPoolOptions) {
    this.#options = options;
    this.#keepsSpare = options.prepareNextPage !== false;
  }

  /** How many browsers this pool has launched (more than one means one was replaced). */
  get launches(): number {
    return this.#launches;
  }

  /** Whether Chromium runs in its sandbox, and if not why; null before the first launch. */
  get sandbox(): SandboxStatus | null {
    return this.#sandbox;
  }

  /** Where Chromium's downloads go (removed with the context that made them); null before the first launch. */
  get downloadsDir(): string | null {
    return this.#privateDir === null ? null : join(this.#privateDir, "downloads");
  }

  /** The operator's policy of the pool's egress proxy; undefined without one. */
  get egressPolicy(): EgressPolicy | undefined {
    return this.#options.egress?.policy;
  }

  /** The egress session of a context this pool opened, when the pool has a proxy. */
  egressSession(context: BrowserContext): EgressSession | undefined {
    return this.#sessions.get(context);
  }

  /** A fresh, isolated context. Close it when the run ends. */
  async newContext(opts: NewContextOptions = {}): Promise<BrowserContext> {
    const browser = await this.#connectedBrowser();
    const session = await this.#options.egress?.openSession();
    const options = {
      ...contextOptions(opts),
      ...(session ? { proxy: { server: session.server, bypass: PROXY_BYPASS } } : {}),
    };
    let context: BrowserContext;
    try {
      context = await unlessDisconnected(browser, () => browser.newContext(options));
    } catch (error) {
      // It may have died between the check and the call: one fresh browser, one more try.
      if (browser.isConnected() || this.#closed) {
        await session?.close();
        throw error;
      }
      try {
        const replacement = await this.#connectedBrowser();
        context = await unlessDisconnected(replacement, () => replacement.newContext(options));
      } catch (retryError) {
        await session?.close();
        throw retryError;
      }
    }
    if (session) {
      this.#sessions.set(context, session);
      context.once("close", () => void session.close());
    }
    return context;
  }

  /**
   * A fresh context with one page: the spare prepared ahead of time when the options are the
   * defaults (no viewport, no video), else a new one. A spare still being opened is claimed and
   * waited for: it started earlier, so it is ready sooner than a new one would be, and two
   * contexts opening at once on a busy machine would each take longer (a run that found none
   * ready used to open its own: ~0.3–0.7 s instead of ~0.2 s, in about a third of the runs at
   * concurrency 2; docs/benchmarks.md). Then the next spare is prepared in the background (see
   * `prepareNextPage`). Close the context when the run ends.
   */
  async newPage(opts: NewContextOptions = {}): Promise<OpenedPage> {
    if (this.#keepsSpare && opts.viewport === undefined && opts.recordVideo === undefined) {
      let spare = this.#spareReady;
      this.#spareReady = null;
      if (spare === null && this.#spareOpening !== null) {
        const opening = this.#spareOpening;
        // Claimed: once open it is this run's, not the pool's next spare.
        this.#spareOpening = null;
        spare = await opening;
      }
      this.#prepareSpare();
      if (spare !== null) {
        if (!spare.page.isClosed() && spare.context.browser()?.isConnected()) return spare;
        void spare.context.close().catch(() => undefined);
      }
    }
    return this.#openFresh(opts);
  }

  /** A new context and its first page; the context is closed again if the page cannot be opened. */
  async #openFresh(opts: NewContextOptions): Promise<OpenedPage> {
    const context = await this.newContext(opts);
    try {
      const browser = context.browser();
      const page = browser ? await unlessDisconnected(browser, () => context.newPage()) : await context.newPage();
      return { context, page, egress: this.#sessions.get(context) };
    } catch (error) {
      await context.close().catch(() => undefined);
      throw error;
    }
  }

  /** Launches the browser now rather than on the first run, so the first run doesn't pay for it. */
  async warm(): Promise<void> {
    await this.#connectedBrowser();
    if (this.#keepsSpare) this.#prepareSpare();
  }

  /**
   * Opens the next spare context and page in the background. A failure just leaves no spare; a
   * spare that opens after its browser died or the pool closed is closed at once. Opening settles
   * either way, even if the browser dies meanwhile (`unlessDisconnected`), so a run that claimed
   * it never hangs on it.
   */
  #prepareSpare(): void {
    if (this.#closed || this.#spareReady !== null || this.#spareOpening !== null) return;
    const generation = this.#spareGeneration;
    const opening = this.#openFresh({}).then(
      async (opened): Promise<OpenedPage | null> => {
        if (generation === this.#spareGeneration && !this.#closed) return opened;
        await opened.context.close().catch(() => undefined);
        return null;
      },
      () => null, // No spare this time; the next run opens its own.
    );
    this.#spareOpening = opening;
    void opening.then((opened) => {
      // Claimed by a run, or dropped, meanwhile: not the pool's to keep.
      if (this.#spareOpening !== opening) return;
      this.#spareOpening = null;
      this.#spareReady = opened;
    });
  }

  /** Forgets the spare (and any in preparation, which closes itself once open); closes it without waiting. */
  #dropSpare(): void {
    this.#spareGeneration += 1;
    this.#spareOpening = null;
    const spare = this.#spareReady;
    this.#spareReady = null;
    if (spare !== null) void spare.context.close().catch(() => undefined);
  }

  /** Closes the browser. The pool cannot be used afterwards. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#dropSpare();
    const launching = this.#launching;
    if (launching !== null) await launching.catch(() => undefined);
    const browser = this.#browser;
    this.#browser = null;
    if (browser !== null) await browser.close().catch(() => undefined);
    if (this.#privateDir !== null) rmSync(this.#privateDir, { recursive: true, force: true });
  }

  async #connectedBrowser(): Promise<Browser> {
    if (this.#closed) throw new Error("BrowserPool is closed");
    if (this.#browser?.isConnected()) return this.#browser;
    this.#launching ??= this.#launch().finally(() => {
      this.#launching = null;
    });
    return await this.#launching;
  }

  /** Chromium's private directory: HOME, TMPDIR and downloads, readable by this user only. */
  #browserDir(): string {
    if (this.#privateDir === null) {
      const dir = mkdtempSync(join(tmpdir(), "conveyor-browser-"));
      for (const sub of ["home", "tmp", "downloads", "traces"]) mkdirSync(join(dir, sub), { mode: 0o700 });
      this.#privateDir = dir;
    }
    return this.#privateDir;
  }

  async #launch(): Promise<Browser> {
    const mode = this.#options.sandbox ?? "auto";
    // Decided once per pool: a sandbox that failed to start will not start on a relaunch either.
    this.#sandbox ??= decideSandbox(mode);
    const dir = this.#browserDir();
    const launch = (sandboxed: boolean) =>
      chromium.launch({
        executablePath: this.#options.executablePath,
        args: [...(this.#options.launchArgs ?? DEFAULT_CHROMIUM_ARGS)],
        headless: this.#options.headless ?? true,
        timeout: this.#options.launchTimeoutMs ?? 30_000,
        chromiumSandbox: sandboxed,
        // Only what Chromium needs: none of the worker's secrets (DATABASE_URL, SECRETS_KEY, S3 keys, …).
        env: browserEnvironment(dir),
        downloadsPath: join(dir, "downloads"),
        // Playwright's working trace files (unscrubbed until a run's trace is stored) stay private too.
        tracesDir: join(dir, "traces"),
        ...(this.#options.egress
          ? { proxy: { server: this.#options.egress.browserProxyUrl, bypass: PROXY_BYPASS } }
          : {}),
        // The worker owns signal handling: its drain needs the browser alive after SIGTERM.
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
      });
    let browser: Browser;
    try {
      browser = await launch(this.#sandbox.enabled);
    } catch (error) {
      if (!this.#sandbox.enabled || !isSandboxFailure(error)) throw error;
      const reason = `Chromium could not start its sandbox (${sandboxFailureLine(error)})`;
      if (mode === "required") throw new ChromiumSandboxError(`CHROMIUM_SANDBOX=required, but ${reason}`);
      this.#sandbox = { enabled: false, mode, reason };
      browser = await launch(false);
    }
    this.#launches += 1;
    if (this.#closed) {
      // close() ran while we were launching: don't leave a browser behind.
      await browser.close().catch(() => undefined);
      throw new Error("BrowserPool is closed");
    }
    browser.on("disconnected", () => {
      if (this.#browser === browser) {
        this.#browser = null;
        this.#dropSpare();
      }
      if (!this.#closed) {
        this.#options.logger?.warn(
          { executablePath: this.#options.executablePath },
          "browser disconnected; a new one will be launched on next use",
        );
      }
    });
    this.#browser = browser;
    return browser;
  }
}

/**
 * `call`'s result, or a "Browser closed" error as soon as `browser` disconnects. Playwright can
 * leave a context or page being created when the browser dies unsettled; a run must not wait on
 * it forever (the error is classified as the browser going away: transient, retried).
 */
async function unlessDisconnected<T>(browser: Browser, call: () => Promise<T>): Promise<T> {
  if (!browser.isConnected()) throw new Error("Browser closed before the call");
  let onDisconnect = (): void => undefined;
  const disconnected = new Promise<never>((_resolve, reject) => {
    onDisconnect = () => reject(new Error("Browser closed while opening a context or page"));
    browser.once("disconnected", onDisconnect);
  });
  const pending = call();
  try {
    return await Promise.race([pending, disconnected]);
  } catch (error) {
    // Whatever the call still does later must not surface as an unhandled rejection.
    pending.catch(() => undefined);
    throw error;
  } finally {
    browser.off("disconnected", onDisconnect);
  }
}

const SANDBOX_FAILURE = /sandbox|namespace|setuid|zygote/i;

function isSandboxFailure(error: unknown): boolean {
  return SANDBOX_FAILURE.test(error instanceof Error ? error.message : String(error));
}

function sandboxFailureLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split("\n").find((candidate) => SANDBOX_FAILURE.test(candidate)) ?? text.split("\n")[0] ?? "";
  return line.trim().slice(0, 300);
}

function contextOptions(opts: NewContextOptions): NewContextOptions {
  return {
    ...(opts.viewport === undefined ? {} : { viewport: opts.viewport }),
    ...(opts.recordVideo === undefined ? {} : { recordVideo: { dir: opts.recordVideo.dir } }),
  };
}
