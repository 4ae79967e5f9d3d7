/**
 * Which project an API key belongs to, remembered for a few seconds, so that an authenticated
 * request does not pay a database round trip before doing its work (`POST /api/runs` at 50
 * concurrent connections spent one of its few round trips on it; docs/benchmarks.md).
 *
 * - Entries are keyed by the key's SHA-256 (`hashApiKey`), never by the key itself.
 * - Only hits are remembered: an unknown or revoked key asks the database every time, so a key
 *   created a moment ago works at once.
 * - Concurrent lookups of one key share one query (a burst of requests with a new key is one query).
 * - A revoked key keeps working on an API replica for at most `ttlMs` after the revocation (the
 *   trade-off; `0` turns caching off). `forget` drops an entry at once.
 * - At most `maxEntries` keys are kept; the oldest entry goes first.
 */
export interface ApiKeyIdentity {
  projectId: string;
  keyId: string;
}

export class ApiKeyCache {
  readonly #entries = new Map<string, { identity: ApiKeyIdentity; expiresAt: number }>();
  readonly #inFlight = new Map<string, Promise<ApiKeyIdentity | null>>();

  constructor(
    /** How long a successful lookup is trusted, ms; 0 disables the cache. */
    private readonly ttlMs: number,
    /** Bound on remembered keys. Default 10000. */
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The identity of the key whose hash is `keyHash`: from memory while fresh, else from `lookup`. */
  async get(keyHash: string, lookup: () => Promise<ApiKeyIdentity | null>): Promise<ApiKeyIdentity | null> {
    if (this.ttlMs <= 0) return lookup();
    const entry = this.#entries.get(keyHash);
    if (entry) {
      if (entry.expiresAt > this.now()) return entry.identity;
      this.#entries.delete(keyHash);
    }
    const pending = this.#inFlight.get(keyHash);
    if (pending) return pending;
    const started = lookup().then(
      (identity) => {
        this.#inFlight.delete(keyHash);
        if (identity) this.#remember(keyHash, identity);
        return identity;
      },
      (error: unknown) => {
        this.#inFlight.delete(keyHash);
        throw error;
      },
    );
    this.#inFlight.set(keyHash, started);
    return started;
  }

  /** Drops what is remembered of a key (after revoking it). */
  forget(keyHash: string): void {
    this.#entries.delete(keyHash);
  }

  /** Number of remembered keys (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  #remember(keyHash: string, identity: ApiKeyIdentity): void {
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(keyHash, { identity, expiresAt: this.now() + this.ttlMs });
  }
}
