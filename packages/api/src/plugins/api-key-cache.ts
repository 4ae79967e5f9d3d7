import type { ApiKeyRecord } from "@conveyor/db";

/**
 * What the API remembers of API keys, so that an authenticated request does not pay a database
 * round trip before doing its work (`POST /api/runs` at 50 concurrent connections spent one of its
 * few round trips on it; docs/benchmarks.md), and a flood of invented keys does not become a flood
 * of queries.
 *
 * - Entries are keyed by the key's SHA-256 (`hashApiKey`), never by the key itself.
 * - A usable key (not revoked, not expired) is remembered for `ttlMs`. Revoking a key drops it on
 *   every replica at once (`forget`, driven by Redis pub/sub); the TTL bounds what a lost message
 *   could leave behind. Its expiry is checked on every use.
 * - A hash that matches no key is remembered for `unknownTtlMs`; revoked and expired keys are not
 *   remembered (they are refused, and counted as failed attempts, each time).
 * - Concurrent lookups of one key share one query (a burst of requests with a new key is one query).
 * - At most `maxEntries` keys of each kind are kept; the oldest entry goes first.
 */
export class ApiKeyCache {
  readonly #known = new Map<string, { record: ApiKeyRecord; expiresAt: number }>();
  readonly #unknown = new Map<string, number>();
  readonly #inFlight = new Map<string, Promise<ApiKeyRecord | null>>();

  private readonly ttlMs: number;
  private readonly unknownTtlMs;
  private readonly maxEntries;
  private readonly now: () => number;
  constructor(
    /** How long a usable key is trusted, ms; 0 disables remembering keys. */
    ttlMs: number,
    /** How long a hash that matches no key is remembered, ms. Default 30000. */
    unknownTtlMs = 30_000,
    /** Bound on remembered keys of each kind. Default 10000. */
    maxEntries = 10_000,
    now: () => number = Date.now,
  ) {
    this.ttlMs = ttlMs;
    this.unknownTtlMs = unknownTtlMs;
    this.maxEntries = maxEntries;
    this.now = now;
  }

  /** The remembered usable key of `keyHash`, while fresh; undefined otherwise (no lookup). */
  peek(keyHash: string): ApiKeyRecord | undefined {
    const entry = this.#known.get(keyHash);
    if (!entry) return undefined;
    if (entry.expiresAt > this.now()) return entry.record;
    this.#known.delete(keyHash);
    return undefined;
  }

  /** Whether `keyHash` was recently found to match no key at all. */
  isUnknown(keyHash: string): boolean {
    const until = this.#unknown.get(keyHash);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.#unknown.delete(keyHash);
    return false;
  }

  /** The key whose hash is `keyHash`: from memory while fresh, else from `lookup` (revoked and expired keys included). */
  async get(keyHash: string, lookup: () => Promise<ApiKeyRecord | null>): Promise<ApiKeyRecord | null> {
    const remembered = this.peek(keyHash);
    if (remembered) return remembered;
    if (this.isUnknown(keyHash)) return null;
    const pending = this.#inFlight.get(keyHash);
    if (pending) return pending;
    const started = lookup().then(
      (record) => {
        this.#inFlight.delete(keyHash);
        if (record === null) this.#rememberUnknown(keyHash);
        else if (record.revokedAt === null && this.ttlMs > 0) this.#remember(keyHash, record);
        return record;
      },
      (error: unknown) => {
        this.#inFlight.delete(keyHash);
        throw error;
      },
    );
    this.#inFlight.set(keyHash, started);
    return started;
  }

  /** Drops what is remembered of a key (it was revoked or rotated). */
  forget(keyHash: string): void {
    this.#known.delete(keyHash);
  }

  /** Drops every remembered key of a project. */
  forgetProject(projectId: string): void {
    for (const [hash, entry] of this.#known) if (entry.record.projectId === projectId) this.#known.delete(hash);
  }

  /** Number of remembered usable keys (for tests and metrics). */
  get size(): number {
    return this.#known.size;
  }

  #remember(keyHash: string, record: ApiKeyRecord): void {
    evictOldest(this.#known, this.maxEntries);
    this.#known.set(keyHash, { record, expiresAt: this.now() + this.ttlMs });
  }

  #rememberUnknown(keyHash: string): void {
    if (this.unknownTtlMs <= 0) return;
    evictOldest(this.#unknown, this.maxEntries);
    this.#unknown.set(keyHash, this.now() + this.unknownTtlMs);
  }
}

function evictOldest(map: Map<string, unknown>, maxEntries: number): void {
  if (map.size < maxEntries) return;
  const oldest = map.keys().next();
  if (!oldest.done) map.delete(oldest.value);
}
