/**
 * Smart batching ("group commit") for writes that many requests make at once: an item submitted
 * while fewer than `maxInFlight` flushes are running is flushed at once, alone, so an idle
 * service adds no delay; items submitted while every flush slot is busy wait, and the next free
 * slot flushes all of them together (up to `maxBatch`). Batch size follows load: one at a time
 * when quiet, tens under a burst, with no timer anywhere.
 *
 * `flush` settles every item of its batch: it returns one result per item, in order, each a value
 * or an `Error` (that item's promise rejects with it). If `flush` itself throws, every item of the
 * batch rejects with that error.
 */
export interface BatcherOptions<I, O> {
  /** Writes a batch; returns one result per item, in the same order: a value, or an Error for that item. */
  flush: (items: I[]) => Promise<Array<O | Error>>;
  /** Largest batch. */
  maxBatch: number;
  /** Flushes that may run at once; 1 serializes them. */
  maxInFlight: number;
  /** Called with the size of each batch as it starts (for metrics). Default: nothing. */
  onBatch?: (size: number) => void;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export class Batcher<I, O> {
  readonly #options: BatcherOptions<I, O>;
  #queue: Pending<I, O>[] = [];
  #inFlight = 0;

  constructor(options: BatcherOptions<I, O>) {
    if (options.maxBatch < 1 || options.maxInFlight < 1) throw new RangeError("maxBatch and maxInFlight must be ≥ 1");
    this.#options = options;
  }

  /** Queues one item; resolves with its result once the batch it went out in is written. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#drain();
    });
  }

  /** Items waiting for a free flush slot. */
  get waiting(): number {
    return this.#queue.length;
  }

  #drain(): void {
    while (this.#inFlight < this.#options.maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#options.maxBatch);
      this.#inFlight += 1;
      this.#options.onBatch?.(batch.length);
      void this.#flush(batch).finally(() => {
        this.#inFlight -= 1;
        this.#drain();
      });
    }
  }

  async #flush(batch: Pending<I, O>[]): Promise<void> {
    let results: Array<O | Error>;
    try {
      results = await this.#options.flush(batch.map((p) => p.item));
      if (results.length !== batch.length) {
        throw new Error(`Batcher: flush returned ${results.length} results for ${batch.length} items`);
      }
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => {
      const result = results[i] as O | Error;
      if (result instanceof Error) p.reject(result);
      else p.resolve(result);
    });
  }
}
