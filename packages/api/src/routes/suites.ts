/**
 * Suites (named groups of recordings) and suite runs (one execution of a suite: a parent of one
 * run per recording). Defining suites needs `recordings:*` scopes; starting and reading suite runs
 * needs `runs:*`, as runs do.
 */
import {
  ApiError,
  cancelChannel,
  canonicalJson,
  type EgressPolicy,
  PRIORITY_DEFAULT,
  PRIORITY_MAX,
  PRIORITY_MIN,
  recordingSchema,
  runOptionsSchema,
  sha256Hex,
} from "@conveyor/core";
import {
  cancelSuiteRun,
  createSuiteRun,
  type DbHandle,
  deleteSuite,
  existingRecordingIds,
  getProjectEgressAllow,
  getSuite,
  getSuiteRun,
  insertSuite,
  listSuiteRuns,
  listSuites,
  MAX_TEST_RETRIES,
  QueueFullError,
  resolveSuiteMembers,
  type Suite,
  type SuiteChildInput,
  type SuiteDefaultsRow,
  SuiteNameTakenError,
  testRetries,
  updateSuite,
} from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Redis } from "ioredis";
import { z } from "zod";
import { assertRecordingReachable } from "../egress-check.ts";
import { assertPriorityAllowed } from "../limits-check.ts";
import type { ProjectLimitsCache } from "../project-limits.ts";
import type { RunQueue } from "../queue.ts";
import type { Secrets } from "../secrets.ts";
import {
  errorResponses,
  noContent,
  pageResponse,
  suiteResponse,
  suiteRunResponse,
  suiteRunSummaryResponse,
  suiteRunSummaryView,
  suiteRunView,
  suiteView,
} from "../views.ts";
import {
  ciFilter,
  ciMetadataInput,
  ciQuery,
  idParams,
  isWellFormed,
  notFound,
  paginationQuery,
  parseCursor,
  tagsInput,
  variablesInput,
} from "./common.ts";

/** Most recordings a suite may name explicitly. */
export const SUITE_MAX_RECORDING_IDS = 500;
/** Most runs one suite run may start. */
export const SUITE_RUN_MAX_RUNS = 500;

const tagQueryInput = z
  .strictObject({
    all: tagsInput.optional().describe("Recordings with every one of these tags"),
    any: tagsInput.optional().describe("Recordings with at least one of these tags"),
    none: tagsInput.optional().describe("Recordings with none of these tags"),
  })
  .refine((q) => Boolean(q.all?.length || q.any?.length), {
    message: "needs at least one tag in `all` or `any` (`none` alone would select nearly everything)",
  });

const runSettings = {
  /** 1 (most urgent) to 10. */
  priority: z.number().int().min(PRIORITY_MIN).max(PRIORITY_MAX).optional(),
  /** Whole-run timeout, ms. */
  timeoutMs: z.number().int().min(1000).max(3_600_000).optional(),
  /** How to replay (docs/api.md). */
  options: runOptionsSchema.optional(),
  /** Values for `${NAME}` placeholders; sensitive ones stored sealed, never returned. */
  variables: variablesInput.optional(),
  /** Test-level retries: a failed attempt (not an infrastructure error, which keeps MAX_RETRIES) runs again this many times at most. */
  retries: z.number().int().min(0).max(MAX_TEST_RETRIES).optional(),
};

const suiteFields = {
  name: z.string().trim().min(1).max(200),
  recordingIds: z.array(z.string().min(1).max(64)).max(SUITE_MAX_RECORDING_IDS).optional(),
  tagQuery: tagQueryInput.nullable().optional(),
  defaults: z.strictObject(runSettings).optional().describe("Given to each run unless the suite run overrides it"),
  maxParallel: z
    .number()
    .int()
    .min(1)
    .max(SUITE_RUN_MAX_RUNS)
    .nullable()
    .optional()
    .describe("At most this many of a suite run's runs queued or running at once; null: no limit"),
  failFast: z.boolean().optional().describe("A failed or errored run cancels the runs that have not started"),
};

export const createSuiteBody = z.strictObject(suiteFields).superRefine((body, ctx) => {
  if (!body.recordingIds?.length && !body.tagQuery) {
    ctx.addIssue({
      code: "custom",
      path: ["recordingIds"],
      message: "a suite needs recordingIds, a tagQuery, or both",
    });
  }
});

export const updateSuiteBody = z.strictObject({
  name: suiteFields.name.optional(),
  recordingIds: suiteFields.recordingIds,
  tagQuery: suiteFields.tagQuery,
  defaults: suiteFields.defaults,
  maxParallel: suiteFields.maxParallel,
  failFast: suiteFields.failFast,
});

export const startSuiteRunBody = z
  .strictObject({
    ...runSettings,
    ci: ciMetadataInput.optional(),
  })
  .default({});

export interface SuiteRouteDeps {
  db: DbHandle;
  /** Seals sensitive variable values before they are stored. */
  secrets: Secrets;
  queue: RunQueue;
  redis: Redis;
  queuePrefix: string;
  egressPolicy: EgressPolicy;
  projectLimits: ProjectLimitsCache;
  defaults: { runTimeoutMs: number; actionTimeoutMs: number; maxAttempts: number };
}

/** 422 naming each explicit recording id that is not a recording of this project. */
async function assertRecordingsExist(deps: SuiteRouteDeps, projectId: string, ids: readonly string[]): Promise<void> {
  const existing = await existingRecordingIds(
    deps.db.db,
    projectId,
    ids.filter((id) => isWellFormed("recording", id)),
  );
  const missing = ids.flatMap((id, i) => (existing.has(id) ? [] : [{ id, i }]));
  if (missing.length === 0) return;
  const fields = missing.map(({ id, i }) => ({
    field: `body.recordingIds[${i}]`,
    message: `no recording ${id} in this project`,
  }));
  throw new ApiError("validation_failed", `${fields[0]?.field}: ${fields[0]?.message}`, { fields });
}

/**
 * A suite's `defaults` as stored: variable values sealed (see Secrets.sealStoredVariables: without
 * SECRETS_KEY, those a recording the suite selects now declares sensitive are refused).
 */
async function storedDefaults(
  deps: SuiteRouteDeps,
  projectId: string,
  defaults: SuiteDefaultsRow,
  membership: Pick<Suite, "recordingIds" | "tagQuery">,
): Promise<SuiteDefaultsRow> {
  if (defaults.variables === undefined) return defaults;
  const members = Object.keys(defaults.variables).length
    ? await resolveSuiteMembers(deps.db.db, projectId, membership)
    : [];
  const variables = deps.secrets.sealStoredVariables(
    defaults.variables,
    members.map((member) => recordingSchema.parse(member.recording)),
    (name) => `body.defaults.variables.${name}`,
  );
  return { ...defaults, variables };
}

function suiteNameTaken(error: unknown): never {
  if (error instanceof SuiteNameTakenError) throw new ApiError("conflict", error.message);
  throw error;
}

export function registerSuiteRoutes(app: FastifyInstance, deps: SuiteRouteDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    "/api/suites",
    {
      config: { scope: "recordings:write" },
      schema: {
        summary: "Create a suite: a named group of recordings run together",
        tags: ["suites"],
        body: createSuiteBody,
        response: { 201: suiteResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { body, projectId } = request;
      const recordingIds = [...new Set(body.recordingIds ?? [])];
      await assertRecordingsExist(deps, projectId, recordingIds);
      if (body.defaults?.priority !== undefined) {
        assertPriorityAllowed(
          body.defaults.priority,
          await deps.projectLimits.get(projectId),
          "body.defaults.priority",
        );
      }
      const tagQuery = body.tagQuery ?? null;
      const suite = await insertSuite(deps.db.db, projectId, {
        name: body.name,
        recordingIds,
        tagQuery,
        defaults: await storedDefaults(deps, projectId, body.defaults ?? {}, { recordingIds, tagQuery }),
        maxParallel: body.maxParallel ?? null,
        failFast: body.failFast ?? false,
      }).catch(suiteNameTaken);
      return reply.code(201).header("location", `/api/suites/${suite.id}`).send(suiteView(suite));
    },
  );

  api.get(
    "/api/suites",
    {
      config: { scope: "recordings:read" },
      schema: {
        summary: "List suites, newest first",
        tags: ["suites"],
        querystring: z.object(paginationQuery),
        response: { 200: pageResponse(suiteResponse), ...errorResponses },
      },
    },
    async (request) => {
      const page = await listSuites(deps.db.db, request.projectId, {
        limit: request.query.limit,
        cursor: parseCursor(request.query.cursor),
      });
      return { items: page.items.map(suiteView), nextCursor: page.nextCursor };
    },
  );

  api.get(
    "/api/suites/:id",
    {
      config: { scope: "recordings:read" },
      schema: {
        summary: "A suite",
        tags: ["suites"],
        params: idParams("suite"),
        response: { 200: suiteResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const suite = isWellFormed("suite", id) ? await getSuite(deps.db.db, request.projectId, id) : null;
      if (!suite) throw notFound("suite", id);
      return suiteView(suite);
    },
  );

  api.patch(
    "/api/suites/:id",
    {
      config: { scope: "recordings:write" },
      schema: {
        summary: "Change a suite (fields not sent stay); later suite runs use the new definition",
        tags: ["suites"],
        params: idParams("suite"),
        body: updateSuiteBody,
        response: { 200: suiteResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { body, projectId } = request;
      const current = isWellFormed("suite", id) ? await getSuite(deps.db.db, projectId, id) : null;
      if (!current) throw notFound("suite", id);
      const recordingIds = body.recordingIds === undefined ? undefined : [...new Set(body.recordingIds)];
      if (recordingIds) await assertRecordingsExist(deps, projectId, recordingIds);
      const tagQuery = body.tagQuery === undefined ? current.tagQuery : body.tagQuery;
      if (!(recordingIds ?? current.recordingIds).length && !tagQuery) {
        throw new ApiError("validation_failed", "body.recordingIds: a suite needs recordingIds, a tagQuery, or both", {
          fields: [{ field: "body.recordingIds", message: "a suite needs recordingIds, a tagQuery, or both" }],
        });
      }
      if (body.defaults?.priority !== undefined) {
        assertPriorityAllowed(
          body.defaults.priority,
          await deps.projectLimits.get(projectId),
          "body.defaults.priority",
        );
      }
      // `defaults` is replaced as a whole, except its variables: their values cannot be read back
      // to be sent again, so `defaults` without `variables` keeps the stored ones.
      const defaults =
        body.defaults === undefined
          ? undefined
          : body.defaults.variables === undefined
            ? {
                ...body.defaults,
                ...(current.defaults.variables ? { variables: current.defaults.variables } : {}),
              }
            : await storedDefaults(deps, projectId, body.defaults, {
                recordingIds: recordingIds ?? current.recordingIds,
                tagQuery,
              });
      const updated = await updateSuite(deps.db.db, projectId, id, {
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(recordingIds === undefined ? {} : { recordingIds }),
        ...(body.tagQuery === undefined ? {} : { tagQuery: body.tagQuery }),
        ...(defaults === undefined ? {} : { defaults }),
        ...(body.maxParallel === undefined ? {} : { maxParallel: body.maxParallel }),
        ...(body.failFast === undefined ? {} : { failFast: body.failFast }),
      }).catch(suiteNameTaken);
      if (!updated) throw notFound("suite", id);
      return suiteView(updated);
    },
  );

  api.delete(
    "/api/suites/:id",
    {
      config: { scope: "recordings:write" },
      schema: {
        summary: "Delete a suite; its suite runs and their runs stay",
        tags: ["suites"],
        params: idParams("suite"),
        response: { 204: noContent("Deleted"), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const deleted = isWellFormed("suite", id) ? await deleteSuite(deps.db.db, request.projectId, id) : false;
      if (!deleted) throw notFound("suite", id);
      return reply.code(204).send();
    },
  );

  api.post(
    "/api/suites/:id/runs",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Start a suite run: one queued run per recording of the suite, now",
        description:
          "The membership is resolved now and kept (later changes to the suite or its recordings' tags do not change it). All runs are created together or none (429 `queue_full` when the project's queue limit cannot take them all; held runs count). With the suite's `maxParallel` = N, the runs after the first N are `held` (queued, no job) until a slot frees. An empty suite answers 422 `suite_empty`. Honours `Idempotency-Key`.",
        tags: ["suites"],
        params: idParams("suite"),
        headers: z.object({ "idempotency-key": z.string().min(1).max(255).optional() }),
        body: startSuiteRunBody,
        response: { 202: suiteRunResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { projectId } = request;
      const body = request.body ?? {};
      const idempotencyKey = request.headers["idempotency-key"];
      const suite = isWellFormed("suite", id) ? await getSuite(deps.db.db, projectId, id) : null;
      if (!suite) throw notFound("suite", id);
      const limits = await deps.projectLimits.get(projectId);
      const priority = body.priority ?? suite.defaults.priority ?? PRIORITY_DEFAULT;
      assertPriorityAllowed(
        priority,
        limits,
        body.priority === undefined ? "suite.defaults.priority" : "body.priority",
      );
      const requestHash = idempotencyKey ? sha256Hex(canonicalJson({ suiteId: id, body })) : undefined;

      const members = await resolveSuiteMembers(deps.db.db, projectId, suite);
      if (members.length === 0) {
        throw new ApiError(
          "suite_empty",
          `Suite ${suite.name} has no recordings now: its recordingIds no longer exist and its tagQuery matches none`,
        );
      }
      if (members.length > SUITE_RUN_MAX_RUNS) {
        throw new ApiError(
          "validation_failed",
          `Suite ${suite.name} selects ${members.length} recordings; a suite run starts at most ${SUITE_RUN_MAX_RUNS}`,
        );
      }
      const egressAllow = () => getProjectEgressAllow(deps.db.db, projectId);
      const retries = testRetries(body.retries ?? suite.defaults.retries);
      const variables = { ...suite.defaults.variables, ...body.variables };
      const variableField = (name: string) =>
        body.variables && name in body.variables ? `body.variables.${name}` : `suite.defaults.variables.${name}`;
      const children: SuiteChildInput[] = [];
      for (const member of members) {
        const recording = recordingSchema.parse(member.recording);
        // Checked again at run time: the policy or the allowlist may have changed since it was stored.
        await assertRecordingReachable(recording, `recording ${member.id}`, deps.egressPolicy, egressAllow);
        children.push({
          recordingId: member.id,
          recording,
          actionsTotal: recording.actions.length,
          priority,
          timeoutMs: body.timeoutMs ?? suite.defaults.timeoutMs ?? deps.defaults.runTimeoutMs,
          actionTimeoutMs: deps.defaults.actionTimeoutMs,
          maxAttempts: deps.defaults.maxAttempts,
          retries,
          options: body.options ?? suite.defaults.options ?? {},
          // Sealed as this recording requires (a suite's stored values are sealed already).
          variables: deps.secrets.sealVariables(variables, recording, variableField),
        });
      }
      const result = await createSuiteRun(deps.db.db, projectId, {
        suite,
        children,
        ...(body.ci ? { ci: body.ci } : {}),
        ...(idempotencyKey ? { idempotencyKey, requestHash } : {}),
        ...(limits.maxQueuedRuns > 0 ? { maxQueuedRuns: limits.maxQueuedRuns } : {}),
      }).catch((error: unknown) => {
        if (!(error instanceof QueueFullError)) throw error;
        throw new ApiError(
          "queue_full",
          `This project's queue cannot take the ${children.length} runs of this suite run (its maxQueuedRuns is ${error.maxQueuedRuns}); retry once some have started`,
          { maxQueuedRuns: error.maxQueuedRuns },
        );
      });
      if (!result.created && result.suiteRun.requestHash !== requestHash) {
        throw new ApiError(
          "idempotency_key_reused",
          "This Idempotency-Key was already used with a different request; use a new key for a new suite run",
        );
      }
      for (const run of result.runs) {
        // A held run's job is added when a sibling's end releases it.
        if (run.status !== "queued" || run.held) continue;
        await deps.queue.deliver(run, (error) =>
          request.log.warn({ err: error, runId: run.id }, "enqueue failed; a worker's reconciler will enqueue the run"),
        );
      }
      reply.code(202).header("location", `/api/suite-runs/${result.suiteRun.id}`);
      if (!result.created) reply.header("idempotent-replayed", "true");
      return reply.send(suiteRunView(result.suiteRun, result.runs));
    },
  );

  api.get(
    "/api/suite-runs",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "List suite runs, newest first (filter by suite and CI metadata)",
        tags: ["suites"],
        querystring: z.object({ ...paginationQuery, suiteId: z.string().min(1).max(64).optional(), ...ciQuery }),
        response: { 200: pageResponse(suiteRunSummaryResponse), ...errorResponses },
      },
    },
    async (request) => {
      const { query } = request;
      const ci = ciFilter(query);
      const page = await listSuiteRuns(deps.db.db, request.projectId, {
        limit: query.limit,
        ...(query.suiteId === undefined ? {} : { suiteId: query.suiteId }),
        ...(ci ? { ci } : {}),
        cursor: parseCursor(query.cursor),
      });
      return {
        items: page.items.map(({ suiteRun, counts }) => suiteRunSummaryView(suiteRun, counts)),
        nextCursor: page.nextCursor,
      };
    },
  );

  api.get(
    "/api/suite-runs/:id",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A suite run with its runs and aggregate status",
        tags: ["suites"],
        params: idParams("suiteRun"),
        response: { 200: suiteRunResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const found = isWellFormed("suiteRun", id) ? await getSuiteRun(deps.db.db, request.projectId, id) : null;
      if (!found) throw notFound("suite run", id);
      return suiteRunView(found.suiteRun, found.runs);
    },
  );

  api.post(
    "/api/suite-runs/:id/cancel",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Cancel a suite run: its queued runs end cancelled, its running ones are stopped",
        tags: ["suites"],
        params: idParams("suiteRun"),
        response: { 200: suiteRunResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { projectId } = request;
      const cancelled = isWellFormed("suiteRun", id) ? await cancelSuiteRun(deps.db.db, projectId, id) : null;
      if (!cancelled) throw notFound("suite run", id);
      for (const runId of cancelled.cancelledQueued) {
        await deps.queue.withdraw(runId).catch((error: unknown) => {
          request.log.warn({ err: error, runId }, "could not remove the cancelled run's job; the worker will skip it");
        });
      }
      // Every worker hears it; the one holding the run aborts it (as POST /api/runs/:id/cancel).
      for (const runId of cancelled.running) await deps.redis.publish(cancelChannel(deps.queuePrefix), runId);
      const found = await getSuiteRun(deps.db.db, projectId, id);
      if (!found) throw notFound("suite run", id);
      return suiteRunView(found.suiteRun, found.runs);
    },
  );
}
