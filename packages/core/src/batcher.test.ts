import { describe, expect, it } from "vitest";
import { Batcher } from "./batcher.ts";

/** A flush whose batches the test releases by hand, recording what each batch held. */
function gatedFlush() {
  const batches: number[][] = [];
  const gates: Array<() => void> = [];
  const flush = async (items: number[]) => {
    batches.push(items);
    await new Promise<void>((release) => gates.push(release));
    return items.map((n) => n * 10);
  };
  const releaseNext = async () => {
    gates.shift()?.();
    // Let the settled batch's callbacks and the next drain run.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { batches, flush, releaseNext };
}

describe("Batcher", () => {
  it("flushes an item alone at once when a slot is free (no added delay when idle)", async () => {
    const { batches, flush, releaseNext } = gatedFlush();
    const batcher = new Batcher({ flush, maxBatch: 10, maxInFlight: 1 });
    const result = batcher.submit(1);
    expect(batches).toEqual([[1]]);
    await releaseNext();
    await expect(result).resolves.toBe(10);
  });

  it("groups what arrives while every slot is busy into the next batch, up to maxBatch", async () => {
    const { batches, flush, releaseNext } = gatedFlush();
    const sizes: number[] = [];
    const batcher = new Batcher({ flush, maxBatch: 3, maxInFlight: 2, onBatch: (n) => sizes.push(n) });
    const results = Array.from({ length: 7 }, (_, i) => batcher.submit(i));
    // Two slots: items 0 and 1 went out alone; 2..6 wait.
    expect(batches).toEqual([[0], [1]]);
    expect(batcher.waiting).toBe(5);
    await releaseNext();
    expect(batches).toEqual([[0], [1], [2, 3, 4]]);
    await releaseNext();
    expect(batches).toEqual([[0], [1], [2, 3, 4], [5, 6]]);
    await releaseNext();
    await releaseNext();
    expect(await Promise.all(results)).toEqual([0, 10, 20, 30, 40, 50, 60]);
    expect(sizes).toEqual([1, 1, 3, 2]);
    expect(batcher.waiting).toBe(0);
  });

  it("rejects only the items whose result is an Error", async () => {
    const batcher = new Batcher<number, number>({
      flush: async (items) => items.map((n) => (n % 2 ? new Error(`odd ${n}`) : n)),
      maxBatch: 10,
      maxInFlight: 1,
    });
    const settled = await Promise.allSettled([0, 1, 2, 3].map((n) => batcher.submit(n)));
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled", "rejected"]);
    expect((settled[1] as PromiseRejectedResult).reason.message).toBe("odd 1");
  });

  it("rejects every item of a batch whose flush throws, and keeps serving later items", async () => {
    let fail = true;
    const batcher = new Batcher<number, number>({
      flush: async (items) => {
        if (fail) throw new Error("connection lost");
        return items;
      },
      maxBatch: 10,
      maxInFlight: 1,
    });
    const first = await Promise.allSettled([batcher.submit(1), batcher.submit(2)]);
    expect(first.every((s) => s.status === "rejected" && s.reason.message === "connection lost")).toBe(true);
    fail = false;
    await expect(batcher.submit(3)).resolves.toBe(3);
  });

  it("refuses a flush that returns the wrong number of results", async () => {
    const batcher = new Batcher<number, number>({ flush: async () => [], maxBatch: 10, maxInFlight: 1 });
    await expect(batcher.submit(1)).rejects.toThrow("returned 0 results for 1 items");
  });
});
