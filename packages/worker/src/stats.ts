import { type ErrorKind, HEALTH_RULES, type RunStatus } from "@conveyor/core";

/** How one attempt ended on this worker. `retried`: an infrastructure error sent it back to the queue. */
export interface AttemptEnd {
  status: RunStatus | "retried";
  /** The error's kind, when it ended in one. */
  kind?: ErrorKind | undefined;
  /** The error's message, when it ended in one. */
  message?: string | undefined;
  durationMs: number;
}

/** One action's result, as the worker saw it. */
export interface ActionEnd {
  type: string;
  status: string;
  durationMs: number;
}

/**
 * What the processor tells the outside about the runs it executes: the heartbeat's counters and
 * the worker's Prometheus histograms listen here, so the processor knows neither.
 */
export interface RunObserver {
  attemptEnded(end: AttemptEnd): void;
  actionEnded(action: ActionEnd): void;
  /** A run was handed back because its project was at its concurrency limit. Default: ignored. */
  capacityWait?(): void;
}

/** Tells every observer in turn. */
export function combineObservers(observers: RunObserver[]): RunObserver {
  return {
    attemptEnded: (end) => {
      for (const observer of observers) observer.attemptEnded(end);
    },
    actionEnded: (action) => {
      for (const observer of observers) observer.actionEnded(action);
    },
    capacityWait: () => {
      for (const observer of observers) observer.capacityWait?.();
    },
  };
}

/** Kinds that say the infrastructure failed (not the site, not the recording): they count against health. */
const INFRASTRUCTURE_KINDS: ReadonlySet<ErrorKind> = new Set<ErrorKind>(["transient", "recoverable"]);

/** Counters of this worker since it started, reported in its heartbeat. */
export class WorkerStats implements RunObserver {
  processed = 0;
  succeeded = 0;
  failed = 0;
  lastError: string | undefined;
  lastErrorAt: Date | undefined;
  /** The last attempts, newest last: true when one ended in an infrastructure error. */
  private readonly recent: boolean[] = [];

  private readonly clock: () => Date;
  constructor(clock: () => Date = () => new Date()) {
    this.clock = clock;
  }

  attemptEnded(end: AttemptEnd): void {
    this.processed += 1;
    const errored = end.status === "errored" || end.status === "retried";
    if (errored) {
      this.failed += 1;
      this.lastError = end.message ?? end.kind ?? "error";
      this.lastErrorAt = this.clock();
    } else {
      this.succeeded += 1;
    }
    this.recent.push(errored && end.kind !== undefined && INFRASTRUCTURE_KINDS.has(end.kind));
    if (this.recent.length > HEALTH_RULES.recentWindow) this.recent.shift();
  }

  actionEnded(): void {}

  get recentFinished(): number {
    return this.recent.length;
  }

  get recentErrored(): number {
    return this.recent.filter(Boolean).length;
  }
}
