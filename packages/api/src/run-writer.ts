import { Batcher } from "@conveyor/core";
import { type CreatedRun, type CreateRunInput, createRuns, type Db } from "@conveyor/db";

/**
 * How concurrent `POST /api/runs` writes are grouped: up to `maxInFlight` batch statements at
 * once (well under the default pool of 10 connections, leaving room for reads), each of up to
 * `maxBatch` runs. A request that finds a slot free is written alone at once, so a quiet API adds
 * no latency; under a burst, one statement and one commit carry tens of runs (docs/benchmarks.md).
 */
export const RUN_WRITE_BATCHING = { maxBatch: 64, maxInFlight: 2 } as const;

/** Returns the API's run writer: `createRun` semantics, batched with `createRuns`. */
export function createRunWriter(db: Db): (projectId: string, input: CreateRunInput) => Promise<CreatedRun> {
  const batcher = new Batcher<{ projectId: string; input: CreateRunInput }, CreatedRun>({
    ...RUN_WRITE_BATCHING,
    flush: (requests) => createRuns(db, requests),
  });
  return (projectId, input) => batcher.submit({ projectId, input });
}
