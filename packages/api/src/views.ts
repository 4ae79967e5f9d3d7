import type { ApiKey, Project, RecordingRow, Run, RunAction } from "@conveyor/db";

/** How runs, actions and recordings look on the wire. Secrets (variable values) never leave. */

export function artifactUrl(runId: string, key: string): string {
  return `/api/runs/${runId}/artifacts/${key.startsWith(`${runId}/`) ? key.slice(runId.length + 1) : key}`;
}

export function runView(run: Run) {
  return {
    id: run.id,
    projectId: run.projectId,
    recordingId: run.recordingId,
    name: run.recording.name,
    status: run.status,
    priority: run.priority,
    attempt: run.attempt,
    maxAttempts: run.maxAttempts,
    timeoutMs: run.timeoutMs,
    actionTimeoutMs: run.actionTimeoutMs,
    variables: Object.keys(run.variables),
    options: run.options,
    cancelRequestedAt: run.cancelRequestedAt?.toISOString() ?? null,
    deadLetteredAt: run.deadLetteredAt?.toISOString() ?? null,
    retryOf: run.retryOf,
    worker: run.worker,
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
    durationMs: run.durationMs,
    counts: {
      total: run.actionsTotal,
      passed: run.actionsPassed,
      failed: run.actionsFailed,
      skipped: run.actionsSkipped,
    },
    error: run.errorMessage
      ? { kind: run.errorKind, code: run.errorCode, message: run.errorMessage, actionIndex: run.failedActionIndex }
      : null,
    artifacts: {
      video: run.artifacts.video ? artifactUrl(run.id, run.artifacts.video) : null,
      trace: run.artifacts.trace ? artifactUrl(run.id, run.artifacts.trace) : null,
    },
    links: { self: `/api/runs/${run.id}`, events: `/api/runs/${run.id}/events` },
  };
}

export function actionView(runId: string, action: RunAction) {
  return {
    index: action.index,
    actionId: action.actionId,
    type: action.type,
    status: action.status,
    startedAt: action.startedAt.toISOString(),
    durationMs: action.durationMs,
    selectorUsed: action.selectorUsed,
    selectorsTried: action.selectorsTried,
    pageUrl: action.pageUrl,
    error: action.errorMessage
      ? { kind: action.errorKind, code: action.errorCode, message: action.errorMessage }
      : null,
    screenshotUrl: action.screenshotKey ? artifactUrl(runId, action.screenshotKey) : null,
    blockedRequests: action.blockedRequests,
  };
}

export function recordingView(row: RecordingRow) {
  return {
    id: row.id,
    name: row.name,
    sourceFormat: row.sourceFormat,
    actionCount: row.actionCount,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function projectView(project: Project) {
  return {
    id: project.id,
    name: project.name,
    createdAt: project.createdAt.toISOString(),
    updatedAt: project.updatedAt.toISOString(),
    egress: { allow: project.egressAllow },
    limits: project.limits,
  };
}

/** An API key as listed: never its secret (shown once, at creation), never its hash. */
export function apiKeyView(key: ApiKey, now: Date = new Date()) {
  const status: "active" | "expired" | "revoked" = key.revokedAt
    ? "revoked"
    : key.expiresAt && key.expiresAt <= now
      ? "expired"
      : "active";
  return {
    id: key.id,
    name: key.name,
    prefix: key.keyPrefix,
    scopes: key.scopes,
    status,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    expiresAt: key.expiresAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
    replacedBy: key.replacedBy,
  };
}
