/**
 * The orchestrator of the service's own background tasks (retention, reconciliation, the
 * schedules' clock, …). Every worker runs one with the same definitions; Postgres holds each
 * task's state and lease (db/queries/tasks.ts), so across the whole fleet:
 *
 * - one instance of a task runs at a time: a worker must take its lease, renews it every third of
 *   `leaseMs` while the task runs, and every write of the run is fenced by the lease's token (a
 *   worker that lost its lease — frozen, cut off — is told through the task's signal and writes
 *   nothing);
 * - `blocks` never run beside each other (both ways); a task waits while a task it `dependsOn`
 *   is running; takes are serialized in Postgres so this holds between workers;
 * - `scheduled` tasks run every `intervalMs` (from their last start), `continuous` ones again
 *   `intervalMs` after each run ends, `triggered` ones only when asked ({@link Orchestrator.trigger},
 *   `POST /api/admin/tasks/:name/run`); any task can be asked to run now;
 * - a run gets `timeoutMs` and up to `maxRetries` further tries before it counts as failed; after
 *   `maxConsecutiveFailures` failed runs in a row the task is disabled (logged at error level, shown
 *   in health) until an operator enables it again;
 * - due tasks are taken in `priority` order (1 first), at most `maxConcurrent` at a time per worker;
 * - {@link Orchestrator.stop} (SIGTERM) takes nothing new, waits for the running tasks up to its
 *   deadline, then aborts them and releases their leases, so another worker can take them at once.
 */
import type { Logger } from "@conveyor/core";
import {
  type DbHandle,
  finishServiceTask,
  listServiceTasks,
  registerServiceTasks,
  releaseServiceTask,
  renewServiceTaskLease,
  requestServiceTaskRun,
  type ServiceTaskLease,
  type ServiceTaskMode,
  type ServiceTaskResult,
  type ServiceTaskState,
  takeServiceTask,
} from "@conveyor/db";

/** What a task's function is given. */
export interface ServiceTaskContext {
  /** Aborted on timeout, on a lost lease and when the worker stops: stop soon after. */
  signal: AbortSignal;
  logger: Logger;
  /** Why this run: its interval came (`due`), someone asked (`requested`), or `continuous`. */
  cause: ServiceTaskLease["cause"];
  /** 0 for the first try of a run, then 1… up to maxRetries. */
  retry: number;
}

/** One of the service's own background tasks. */
export interface ServiceTaskDefinition {
  /** Unique, `[a-z0-9-]`; the name in the admin API, logs and health. */
  name: string;
  /** One line saying what it does (shown by GET /api/admin/tasks). */
  description: string;
  /** `scheduled` (every intervalMs), `triggered` (only when asked) or `continuous` (again intervalMs after each run). */
  mode: ServiceTaskMode;
  /** Scheduled: time between two starts; continuous: the pause after a run, ms. */
  intervalMs: number;
  /** A run (all its tries) is aborted and counts as failed after this long, ms. */
  timeoutMs: number;
  /** Further tries within one run after an error, before the run counts as failed. Default 0. */
  maxRetries?: number;
  /** Pause before the first retry, doubled for each next one, ms. Default 1000. */
  retryDelayMs?: number;
  /** 1 (first) to 10: the order in which due tasks are taken. Default 5. */
  priority?: number;
  /** Failed runs in a row that disable the task; 0: never disabled. Default 5. */
  maxConsecutiveFailures?: number;
  /** Tasks whose current run this one waits for before it starts. */
  dependsOn?: string[];
  /** Tasks that never run beside this one (either way round). */
  blocks?: string[];
  /** How long a lease lasts without renewal, ms: how soon another worker takes over after this one died. Default 30000. */
  leaseMs?: number;
  /** The work. Whatever it returns is stored as the run's result (counts, not data). */
  run(context: ServiceTaskContext): Promise<Record<string, unknown> | undefined>;
}

export interface OrchestratorOptions {
  db: DbHandle;
  logger: Logger;
  /** This worker's name: the lease holder. */
  name: string;
  tasks: readonly ServiceTaskDefinition[];
  /** How often this worker looks for due tasks, ms (TASKS_POLL_MS). Default 1000. */
  pollMs?: number;
  /** Most tasks this worker runs at once. Default 2. */
  maxConcurrent?: number;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

interface Running {
  lease: ServiceTaskLease;
  controller: AbortController;
  done: Promise<void>;
  /** Set when stop() abandons the run: its lease is released instead of a run recorded. */
  abandoned: boolean;
}

export class Orchestrator {
  private readonly options: OrchestratorOptions;
  private readonly definitions: Map<string, ServiceTaskDefinition>;
  private readonly running = new Map<string, Running>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(options: OrchestratorOptions) {
    this.options = options;
    this.definitions = new Map();
    for (const task of options.tasks) {
      if (!NAME.test(task.name)) throw new Error(`service task name ${JSON.stringify(task.name)} must match ${NAME}`);
      if (this.definitions.has(task.name)) throw new Error(`two service tasks are named ${task.name}`);
      this.definitions.set(task.name, task);
    }
    for (const task of options.tasks) {
      for (const other of [...(task.dependsOn ?? []), ...(task.blocks ?? [])]) {
        if (!this.definitions.has(other)) throw new Error(`service task ${task.name} names an unknown task ${other}`);
      }
    }
  }

  /** The names of the tasks running in this worker now. */
  get active(): string[] {
    return [...this.running.keys()];
  }

  /** Writes the definitions to Postgres and starts looking for due tasks. */
  async start(): Promise<void> {
    await registerServiceTasks(
      this.options.db.db,
      [...this.definitions.values()].map((task) => ({
        name: task.name,
        mode: task.mode,
        intervalMs: task.intervalMs,
        description: task.description,
        timeoutMs: task.timeoutMs,
        maxRetries: task.maxRetries ?? 0,
        priority: task.priority ?? 5,
        maxConsecutiveFailures: task.maxConsecutiveFailures ?? 5,
        dependsOn: task.dependsOn ?? [],
        blocks: task.blocks ?? [],
      })),
    );
    this.schedulePoll(0);
  }

  /** Asks for a run of `name` now (any worker free to run it takes it); the refusal's reason otherwise. */
  async trigger(name: string): Promise<{ ok: true } | { ok: false; reason: string }> {
    const outcome = await requestServiceTaskRun(this.options.db.db, name, this.options.name);
    return outcome.requested ? { ok: true } : { ok: false, reason: outcome.detail };
  }

  private schedulePoll(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.polling = this.poll()
        .then(() => undefined)
        .catch((error: unknown) => this.options.logger.warn({ err: error }, "service task poll failed"))
        .finally(() => {
          this.polling = undefined;
          this.schedulePoll(this.options.pollMs ?? 1000);
        });
    }, delayMs);
  }

  /** One look: takes the due tasks this worker may run, by priority. */
  async poll(): Promise<string[]> {
    const max = this.options.maxConcurrent ?? 2;
    if (this.stopped || this.running.size >= max) return [];
    const states = await listServiceTasks(this.options.db.db);
    const candidates = states
      .filter((state) => this.definitions.has(state.name) && !this.running.has(state.name) && isCandidate(state))
      .sort((a, b) => a.definition.priority - b.definition.priority || a.name.localeCompare(b.name));
    const started: string[] = [];
    for (const state of candidates) {
      if (this.stopped || this.running.size >= max) break;
      const definition = this.definitions.get(state.name);
      if (!definition) continue;
      const outcome = await takeServiceTask(this.options.db.db, {
        name: state.name,
        holder: this.options.name,
        leaseMs: leaseMsOf(definition),
      });
      if (!outcome.taken) continue;
      this.launch(definition, outcome.taken);
      started.push(state.name);
    }
    return started;
  }

  private launch(definition: ServiceTaskDefinition, lease: ServiceTaskLease): void {
    const controller = new AbortController();
    const entry: Running = { lease, controller, abandoned: false, done: Promise.resolve() };
    entry.done = this.execute(definition, entry).finally(() => {
      this.running.delete(definition.name);
      // A slot is free: look again sooner than a whole poll period, at a random point of it, so
      // the worker that just finished a task does not always take the next one before the others.
      if (!this.stopped) this.schedulePoll(Math.floor(Math.random() * (this.options.pollMs ?? 1000)));
    });
    this.running.set(definition.name, entry);
  }

  private async execute(definition: ServiceTaskDefinition, entry: Running): Promise<void> {
    const { db } = this.options;
    const { lease, controller } = entry;
    const logger = this.options.logger.child({ task: definition.name, leaseToken: lease.token });
    const leaseMs = leaseMsOf(definition);
    let leaseLost = false;
    const renew = setInterval(
      () => {
        renewServiceTaskLease(db.db, lease, leaseMs)
          .then((held) => {
            if (held || leaseLost) return;
            leaseLost = true;
            controller.abort(new Error("its lease was lost (another worker may run it now)"));
          })
          .catch((error: unknown) => logger.warn({ err: error }, "could not renew the task's lease"));
      },
      Math.max(100, Math.floor(leaseMs / 3)),
    );
    const timeout = setTimeout(
      () => controller.abort(new Error(`timed out after ${definition.timeoutMs} ms`)),
      definition.timeoutMs,
    );
    const started = performance.now();
    logger.info({ cause: lease.cause, requestedBy: lease.requestedBy ?? undefined }, "service task started");
    let result: ServiceTaskResult;
    try {
      const value = await this.tries(definition, lease, controller.signal, logger);
      result = { ok: true, durationMs: Math.round(performance.now() - started), ...(value ? { result: value } : {}) };
    } catch (error) {
      result = { ok: false, durationMs: Math.round(performance.now() - started), error: messageOf(error) };
    } finally {
      clearInterval(renew);
      clearTimeout(timeout);
    }
    if (leaseLost) {
      logger.warn({ durationMs: result.durationMs }, "service task's lease was lost: its run is not recorded");
      return;
    }
    if (entry.abandoned) {
      const released = await releaseServiceTask(db.db, lease).catch(() => false);
      logger.warn({ released, durationMs: result.durationMs }, "service task abandoned at shutdown: lease released");
      return;
    }
    const finished = await finishServiceTask(db.db, lease, result);
    if (!finished.recorded) {
      logger.warn({ durationMs: result.durationMs }, "service task's lease was taken over: its run is not recorded");
    } else if (result.ok) {
      logger.info({ durationMs: result.durationMs, result: result.result }, "service task done");
    } else if (finished.disabled) {
      logger.error(
        { error: result.error, consecutiveFailures: finished.consecutiveFailures, reason: finished.disabledReason },
        `service task ${definition.name} disabled after ${finished.consecutiveFailures} failed runs in a row; enable it with POST /api/admin/tasks/${definition.name}/enable`,
      );
    } else {
      logger.warn(
        { error: result.error, consecutiveFailures: finished.consecutiveFailures, durationMs: result.durationMs },
        "service task failed",
      );
    }
  }

  /** The run's tries: the first, then up to maxRetries more after errors, backing off; stops when aborted. */
  private async tries(
    definition: ServiceTaskDefinition,
    lease: ServiceTaskLease,
    signal: AbortSignal,
    logger: Logger,
  ): Promise<Record<string, unknown> | undefined> {
    const maxRetries = definition.maxRetries ?? 0;
    for (let retry = 0; ; retry++) {
      try {
        return await untilAborted(definition.run({ signal, logger, cause: lease.cause, retry }), signal);
      } catch (error) {
        if (signal.aborted || retry >= maxRetries) throw signal.aborted ? signal.reason : error;
        const delayMs = (definition.retryDelayMs ?? 1000) * 2 ** retry;
        logger.warn({ err: error, retry: retry + 1, maxRetries, delayMs }, "service task try failed; retrying");
        await sleep(delayMs, signal);
      }
    }
  }

  /**
   * Takes nothing new, waits up to `deadlineMs` for the running tasks to end, then aborts the rest
   * and releases their leases (their run is not recorded; the task stays due).
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    const all = () => Promise.all([...this.running.values()].map((entry) => entry.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), deadlineMs);
      }),
    ]);
    clearTimeout(timer);
    if (!timedOut) return;
    for (const [name, entry] of this.running) {
      this.options.logger.warn({ task: name }, "service task still running at the shutdown deadline: aborting it");
      entry.abandoned = true;
      entry.controller.abort(new Error("the worker is shutting down"));
    }
    await all();
  }
}

function leaseMsOf(definition: ServiceTaskDefinition): number {
  return definition.leaseMs ?? 30_000;
}

/** Whether a task looks due from its state (the take decides, atomically). */
function isCandidate(state: ServiceTaskState): boolean {
  if (!state.enabled || state.running) return false;
  if (state.runRequestedAt !== null) return true;
  return state.mode !== "triggered" && state.intervalDue;
}

/** Settles with `work`, or rejects with the signal's reason as soon as it is aborted (a task that ignores its signal is not waited for). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
