import { type Db, getProjectLimits, type ProjectLimitsRow } from "@conveyor/db";

/** The admission limits the API applies to a project: its own, else the defaults (PROJECT_MAX_*). */
export interface ProjectLimits {
  /** Runs the project may have queued at once; more are refused with 429 queue_full. 0: no limit. */
  maxQueuedRuns: number;
  /** The most urgent priority its runs may ask for (1 is the most urgent of all). */
  maxPriority: number;
  /** Largest recording it may submit, bytes of JSON. */
  maxRecordingBytes: number;
}

export function effectiveLimits(own: ProjectLimitsRow, defaults: ProjectLimits): ProjectLimits {
  return {
    maxQueuedRuns: own.maxQueuedRuns ?? defaults.maxQueuedRuns,
    maxPriority: own.maxPriority ?? defaults.maxPriority,
    maxRecordingBytes: own.maxRecordingBytes ?? defaults.maxRecordingBytes,
  };
}

/**
 * Each project's limits, remembered for `ttlMs` so that `POST /api/runs` does not read them on
 * every request; a change (PATCH /api/projects/:id) makes every replica forget them at once.
 */
export class ProjectLimitsCache {
  readonly #entries = new Map<string, { limits: ProjectLimits; expiresAt: number }>();

  private readonly db: Db;
  private readonly defaults: ProjectLimits;
  private readonly ttlMs: number;
  private readonly now: () => number;
  constructor(db: Db, defaults: ProjectLimits, ttlMs: number, now: () => number = Date.now) {
    this.db = db;
    this.defaults = defaults;
    this.ttlMs = ttlMs;
    this.now = now;
  }

  async get(projectId: string): Promise<ProjectLimits> {
    const entry = this.#entries.get(projectId);
    if (entry && entry.expiresAt > this.now()) return entry.limits;
    const limits = effectiveLimits(await getProjectLimits(this.db, projectId), this.defaults);
    if (this.ttlMs > 0) {
      if (this.#entries.size >= 10_000) this.#entries.clear();
      this.#entries.set(projectId, { limits, expiresAt: this.now() + this.ttlMs });
    }
    return limits;
  }

  forget(projectId: string): void {
    this.#entries.delete(projectId);
  }
}
