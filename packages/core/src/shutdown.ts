import type { Logger } from "./logger.ts";

/** Options of a {@link ShutdownManager}. */
export interface ShutdownOptions {
  /**
   * The whole shutdown's budget, ms: when the handlers have not all finished by then, the
   * manager logs the one still running and exits 1, so a hung close (a connection that never
   * answers) cannot keep the process until the orchestrator's SIGKILL. Give it more than the
   * steps it must allow (a worker's SHUTDOWN_TIMEOUT_MS drain, the API's readiness delay) and
   * less than the grace period of the platform. Default 120 000.
   */
  deadlineMs?: number;
}

/**
 * Tiered shutdown, one manager with named handlers.
 * First SIGTERM/SIGINT: handlers run in registration order (stop intake and drain first, close
 * connections last), then the process exits 0 (1 when a handler failed or the overall deadline
 * passed). A second signal exits at once with 130.
 */
export class ShutdownManager {
  private readonly handlers: { name: string; run: () => Promise<void> }[] = [];
  private started = false;
  private exited = false;
  private readonly listeners: { signal: NodeJS.Signals; listener: () => void }[] = [];
  private readonly logger: Logger;
  private readonly exitProcess: (code: number) => void;
  private readonly deadlineMs: number;

  constructor(
    logger: Logger,
    exit: (code: number) => void = (code) => process.exit(code),
    options: ShutdownOptions = {},
  ) {
    this.logger = logger;
    this.exitProcess = exit;
    this.deadlineMs = options.deadlineMs ?? 120_000;
  }

  get shuttingDown(): boolean {
    return this.started;
  }

  /** Adds a step; names are unique (they are what the logs say was slow or failed). */
  register(name: string, run: () => Promise<void>): void {
    if (this.handlers.some((h) => h.name === name)) {
      throw new Error(`shutdown handler "${name}" is already registered`);
    }
    this.handlers.push({ name, run });
  }

  listen(signals: NodeJS.Signals[] = ["SIGTERM", "SIGINT"]): void {
    for (const signal of signals) {
      const listener = () => {
        void this.shutdown(signal);
      };
      process.on(signal, listener);
      this.listeners.push({ signal, listener });
    }
  }

  private exit(code: number): void {
    if (this.exited) return;
    this.exited = true;
    this.exitProcess(code);
  }

  async shutdown(reason: string): Promise<void> {
    if (this.started) {
      this.logger.warn({ reason }, "second shutdown signal: exiting now");
      this.exit(130);
      return;
    }
    this.started = true;
    this.logger.info({ reason, deadlineMs: this.deadlineMs }, "shutting down");
    let current: string | undefined;
    const deadline = setTimeout(() => {
      this.logger.error(
        { handler: current, deadlineMs: this.deadlineMs },
        "shutdown deadline passed: exiting with this step unfinished",
      );
      this.exit(1);
    }, this.deadlineMs);
    let failed = false;
    try {
      for (const handler of this.handlers) {
        if (this.exited) return;
        current = handler.name;
        try {
          await handler.run();
          this.logger.debug({ handler: handler.name }, "shutdown step done");
        } catch (error) {
          failed = true;
          this.logger.error({ err: error, handler: handler.name }, "shutdown step failed");
        }
      }
    } finally {
      clearTimeout(deadline);
    }
    if (this.exited) return;
    for (const { signal, listener } of this.listeners) process.off(signal, listener);
    this.logger.info("shutdown complete");
    this.exit(failed ? 1 : 0);
  }
}
