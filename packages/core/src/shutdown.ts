import type { Logger } from "./logger.ts";

/**
 * Tiered shutdown, one manager with named handlers.
 * First SIGTERM/SIGINT: handlers run in registration order (stop intake and drain first, close
 * connections last), then the process exits 0. A second signal exits at once with 130.
 */
export class ShutdownManager {
  private readonly handlers: { name: string; run: () => Promise<void> }[] = [];
  private started = false;
  private readonly listeners: { signal: NodeJS.Signals; listener: () => void }[] = [];

  private readonly logger: Logger;
  private readonly exit: (code: number) => void;
  constructor(logger: Logger, exit: (code: number) => void = (code) => process.exit(code)) {
    this.logger = logger;
    this.exit = exit;
  }

  get shuttingDown(): boolean {
    return this.started;
  }

  register(name: string, run: () => Promise<void>): void {
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

  async shutdown(reason: string): Promise<void> {
    if (this.started) {
      this.logger.warn({ reason }, "second shutdown signal: exiting now");
      this.exit(130);
      return;
    }
    this.started = true;
    this.logger.info({ reason }, "shutting down");
    let failed = false;
    for (const handler of this.handlers) {
      try {
        await handler.run();
        this.logger.debug({ handler: handler.name }, "shutdown step done");
      } catch (error) {
        failed = true;
        this.logger.error({ err: error, handler: handler.name }, "shutdown step failed");
      }
    }
    for (const { signal, listener } of this.listeners) process.off(signal, listener);
    this.logger.info("shutdown complete");
    this.exit(failed ? 1 : 0);
  }
}
