import {
  ApiError,
  canonicalJson,
  type EgressPolicy,
  PRIORITY_DEFAULT,
  PRIORITY_MAX,
  PRIORITY_MIN,
  type Recording,
  recordingSchema,
  runOptionsSchema,
  sha256Hex,
} from "@conveyor/core";
import {
  type CreatedRun,
  type CreateRunInput,
  type DbHandle,
  getProjectAllowExpressions,
  getProjectEgressAllow,
  getRecording,
  MAX_TEST_RETRIES,
  QueueFullError,
} from "@conveyor/db";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { serializerCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { assertRecordingReachable } from "../egress-check.ts";
import { assertExpressionsAllowed } from "../expression-check.ts";
import { assertPriorityAllowed, assertRecordingSize } from "../limits-check.ts";
import type { ProjectLimitsCache } from "../project-limits.ts";
import type { RunQueue } from "../queue.ts";
import { importRecordingInput, recordingInputSchema } from "../recording-input.ts";
import type { Secrets } from "../secrets.ts";
import { errorResponses, runResponse, runView, serializeRunReply } from "../views.ts";
import { ciMetadataInput, isWellFormed, variablesInput } from "./common.ts";

export const createRunBody = z
  .strictObject({
    /** A stored recording to run. Exactly one of recordingId and recording. */
    recordingId: z.string().min(1).max(64).optional(),
    /** An inline recording to run: canonical, a SaveAction export or a Chrome DevTools Recorder export. */
    recording: recordingInputSchema.optional(),
    /** 1 (most urgent) to 10; default 5. */
    priority: z.number().int().min(PRIORITY_MIN).max(PRIORITY_MAX).default(PRIORITY_DEFAULT),
    /** Whole-run timeout, ms; default DEFAULT_RUN_TIMEOUT_MS. */
    timeoutMs: z.number().int().min(1000).max(3_600_000).optional(),
    /** How to replay: timing, screenshots, video, trace (docs/api.md). */
    options: runOptionsSchema.optional(),
    /** Values for `${NAME}` placeholders in the recording. Stored, used by the worker, never returned. */
    variables: variablesInput.default({}),
    /** Where the run comes from in CI; runs can be filtered by it. */
    ci: ciMetadataInput.optional(),
    /** Test-level retries: a failed attempt (not an infrastructure error) runs again this many times at most; default 0. */
    retries: z.number().int().min(0).max(MAX_TEST_RETRIES).optional(),
  })
  .superRefine((body, ctx) => {
    if ((body.recordingId === undefined) === (body.recording === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [body.recordingId === undefined ? "recordingId" : "recording"],
        message: "send exactly one of recordingId (a stored recording) or recording (inline)",
      });
    }
  });

/** What `Retry-After` says when a project's queue is full, seconds: about how long a queued run waits for a slot. */
const QUEUE_FULL_RETRY_AFTER_S = 10;

export const createRunHeaders = z.object({
  "idempotency-key": z.string().min(1).max(255).optional(),
});

export interface CreateRunDeps {
  db: DbHandle;
  /** Writes a run and its `queued` event; batched across concurrent requests (`createRunWriter`). */
  writeRun: (projectId: string, input: CreateRunInput) => Promise<CreatedRun>;
  queue: RunQueue;
  secrets: Secrets;
  /** The operator's egress policy: literal URLs it refuses are answered 422 before a run exists. */
  egressPolicy: EgressPolicy;
  /** Each project's admission limits (queued runs, priority, recording size). */
  projectLimits: ProjectLimitsCache;
  /** Test-only crash points (FAILPOINTS). */
  failpoint?: (name: string) => Promise<void>;
  defaults: { runTimeoutMs: number; actionTimeoutMs: number; maxAttempts: number };
}

type ResponseSchemaDef = Parameters<typeof serializerCompiler>[0];

/** The 202 is `runView` written as is (serializeRunReply); every other reply goes through its zod schema. */
function createRunSerializer(route: ResponseSchemaDef): (data: unknown) => string {
  return route.httpStatus === "202" ? (serializeRunReply as (data: unknown) => string) : serializerCompiler(route);
}

export function registerCreateRun(app: FastifyInstance, deps: CreateRunDeps): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/runs",
    {
      config: { scope: "runs:write" },
      // Fastify hands each status's response schema to the compiler (its types say the route's).
      serializerCompiler: (route) => createRunSerializer(route as unknown as ResponseSchemaDef),
      schema: {
        summary: "Submit a run; answers 202 at once, a worker executes it",
        tags: ["runs"],
        body: createRunBody,
        headers: createRunHeaders,
        response: {
          202: runResponse.describe("The queued run (or, for a reused Idempotency-Key, the run that holds it)"),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { body, projectId } = request;
      const idempotencyKey = request.headers["idempotency-key"];
      const limits = await deps.projectLimits.get(projectId);
      assertPriorityAllowed(body.priority, limits, "body.priority");
      if (body.recording !== undefined) assertRecordingSize(body.recording, limits, "body.recording");

      let recording: Recording;
      let recordingId: string | null = null;
      if (body.recordingId !== undefined) {
        const row = isWellFormed("recording", body.recordingId)
          ? await getRecording(deps.db.db, projectId, body.recordingId)
          : null;
        if (!row) {
          throw new ApiError("not_found", `body.recordingId: no recording ${body.recordingId} in this project`);
        }
        recording = recordingSchema.parse(row.recording);
        recordingId = row.id;
        // Checked again: the policy or the project's allowlist may have changed since it was stored.
        await assertRecordingReachable(recording, "recording", deps.egressPolicy, () =>
          getProjectEgressAllow(deps.db.db, projectId),
        );
        await assertExpressionsAllowed({ recording }, "recording", () =>
          getProjectAllowExpressions(deps.db.db, projectId),
        );
      } else {
        const imported = importRecordingInput(body.recording, "body.recording");
        await assertExpressionsAllowed(imported, "body.recording", () =>
          getProjectAllowExpressions(deps.db.db, projectId),
        );
        await assertRecordingReachable(
          imported.recording,
          "body.recording",
          deps.egressPolicy,
          () => getProjectEgressAllow(deps.db.db, projectId),
          imported.actionSources,
        );
        recording = deps.secrets.sealRecording(imported.recording, "body.recording");
      }
      const variables = deps.secrets.sealVariables(body.variables, recording);

      const requestHash = idempotencyKey ? sha256Hex(canonicalJson(body)) : undefined;
      const { run, created } = await deps
        .writeRun(projectId, {
          recordingId,
          recording,
          actionsTotal: recording.actions.length,
          priority: body.priority,
          timeoutMs: body.timeoutMs ?? deps.defaults.runTimeoutMs,
          actionTimeoutMs: deps.defaults.actionTimeoutMs,
          maxAttempts: deps.defaults.maxAttempts,
          retries: body.retries ?? 0,
          variables,
          options: body.options ?? {},
          ...(body.ci ? { ci: body.ci } : {}),
          ...(idempotencyKey ? { idempotencyKey, requestHash } : {}),
          ...(limits.maxQueuedRuns > 0 ? { maxQueuedRuns: limits.maxQueuedRuns } : {}),
        })
        .catch((error: unknown) => {
          if (!(error instanceof QueueFullError)) throw error;
          reply.header("retry-after", QUEUE_FULL_RETRY_AFTER_S);
          throw new ApiError(
            "queue_full",
            `This project already has ${error.maxQueuedRuns} runs queued (its maxQueuedRuns); retry once some have started`,
            { maxQueuedRuns: error.maxQueuedRuns },
          );
        });

      if (!created) {
        if (run.requestHash !== requestHash) {
          throw new ApiError(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request body; use a new key for a new run",
          );
        }
        // The original request may have died between its commit and its enqueue; adding again is
        // a no-op when the job exists (its id is the run id).
        if (run.status === "queued") await enqueueOrLeaveToReconciler(deps.queue, run, request.log);
        return reply
          .code(202)
          .header("location", `/api/runs/${run.id}`)
          .header("idempotent-replayed", "true")
          .send(runView(run));
      }

      // The committed `queued` row is the promise; the job is how it gets delivered. If this
      // process dies here or Redis refuses the job, a worker's reconciler enqueues it later. So
      // the reply does not wait for Redis: nothing Redis answers would change it (a refused job
      // is answered 202 all the same), and the add starts now, batched with concurrent ones.
      await deps.failpoint?.("api.after-commit-before-enqueue");
      await deps.queue.deliver(run, (error) =>
        request.log.warn({ err: error, runId: run.id }, "enqueue failed; a worker's reconciler will enqueue the run"),
      );
      return reply.code(202).header("location", `/api/runs/${run.id}`).send(runView(run));
    },
  );
}

async function enqueueOrLeaveToReconciler(
  queue: RunQueue,
  run: { id: string; projectId: string; priority: number },
  log: FastifyBaseLogger,
): Promise<void> {
  try {
    await queue.enqueue(run);
  } catch (error) {
    log.warn({ err: error, runId: run.id }, "enqueue failed; a worker's reconciler will enqueue the run");
  }
}
