/**
 * A notification as people read it (Slack, email): a title, the recording, the failing action
 * and its error, and links to the run and its screenshot. Payloads are built by the alert code
 * (docs/notifications.md, Events); this reads the fields it knows and skips what is absent, so a
 * new event type still renders as its type and a JSON excerpt.
 */
import type { Notification } from "@conveyor/db";

export interface Rendered {
  title: string;
  /** Lines after the title, plain text. */
  lines: string[];
  /** Absolute when PUBLIC_URL is set, else paths on the API. */
  links: { label: string; url: string }[];
}

const TITLES: Record<string, string> = {
  "run.failed": "Run failed",
  "run.recovered": "Run recovered",
  "run.flaky": "Run passed on a retry (flaky)",
  "suite_run.finished": "Suite run finished",
  "schedule.paused": "Schedule paused",
  "run.dead_lettered": "Run dead-lettered",
  "channel.disabled": "Notification channel disabled",
  test: "Test notification",
};

type Json = Record<string, unknown>;
const object = (value: unknown): Json | undefined =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined;
const text = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : typeof value === "number" ? String(value) : undefined;

/** `path` on the public URL, or the path alone without one. */
export function link(publicUrl: string | undefined, path: string): string {
  if (/^https?:\/\//.test(path) || publicUrl === undefined) return path;
  return `${publicUrl.replace(/\/+$/, "")}${path.startsWith("/") ? "" : "/"}${path}`;
}

export function render(notification: Pick<Notification, "type" | "payload" | "runId">, publicUrl?: string): Rendered {
  const payload = notification.payload;
  const run = object(payload.run);
  const recording = object(payload.recording) ?? object(run?.recording);
  const schedule = object(payload.schedule);
  const suite = object(payload.suite);
  const suiteRun = object(payload.suiteRun);
  const channel = object(payload.channel);
  const failure = object(payload.failure) ?? object(payload.failedAction) ?? object(run?.error);
  const action = object(failure?.action) ?? failure;
  const runName = text(recording?.name) ?? text(run?.name);
  const title = `${TITLES[notification.type] ?? notification.type}${runName ? `: ${runName}` : ""}`;

  const lines: string[] = [];
  const message = text(payload.message);
  if (message) lines.push(message);
  if (runName) lines.push(`Recording: ${runName}`);
  const status = text(run?.status) ?? text(suiteRun?.status);
  if (status) lines.push(`Status: ${status}`);
  if (schedule) lines.push(`Schedule: ${text(schedule.name) ?? text(schedule.id)}`);
  if (suite) lines.push(`Suite: ${text(suite.name) ?? text(suite.id)}`);
  if (action) {
    const index = text(action.index) ?? text(action.actionIndex);
    const what = [text(action.type), text(action.selector) ?? text(action.selectorUsed)].filter(Boolean).join(" ");
    if (index !== undefined || what)
      lines.push(`Failing action: ${index === undefined ? "" : `#${index} `}${what}`.trim());
  }
  const error = text(failure?.error) ?? text(failure?.message) ?? text(object(failure?.error)?.message);
  if (error) lines.push(`Error: ${error}`);
  const reason = text(payload.reason);
  if (reason) lines.push(`Reason: ${reason}`);
  if (channel && notification.type === "channel.disabled")
    lines.push(`Channel: ${text(channel.name) ?? ""} (${text(channel.id) ?? ""})`);
  if (lines.length === 0) lines.push(JSON.stringify(payload).slice(0, 500));

  const links: Rendered["links"] = [];
  const runId = notification.runId ?? text(run?.id);
  if (runId) links.push({ label: "Run", url: link(publicUrl, text(run?.url) ?? `/api/runs/${runId}`) });
  const screenshot = text(payload.screenshotUrl) ?? text(failure?.screenshotUrl) ?? text(action?.screenshotUrl);
  if (screenshot) links.push({ label: "Screenshot", url: link(publicUrl, screenshot) });
  const suiteRunId = text(suiteRun?.id);
  if (suiteRunId) links.push({ label: "Suite run", url: link(publicUrl, `/api/suite-runs/${suiteRunId}`) });
  return { title, lines, links };
}

/** Plain text: the title, the lines, then `Label: url` for each link. */
export function renderText(rendered: Rendered): string {
  return [rendered.title, "", ...rendered.lines, "", ...rendered.links.map((l) => `${l.label}: ${l.url}`)]
    .join("\n")
    .trim();
}

/** Slack's escaping for text in mrkdwn. */
function slackEscape(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A Slack incoming-webhook message: Block Kit, with `text` as the notification fallback. */
export function slackMessage(rendered: Rendered): Record<string, unknown> {
  const links = rendered.links.map((l) =>
    /^https?:\/\//.test(l.url) ? `<${l.url}|${l.label}>` : `${l.label}: ${l.url}`,
  );
  return {
    text: rendered.title,
    blocks: [
      { type: "header", text: { type: "plain_text", text: rendered.title.slice(0, 150) } },
      { type: "section", text: { type: "mrkdwn", text: slackEscape(rendered.lines.join("\n")).slice(0, 3000) } },
      ...(links.length > 0 ? [{ type: "context", elements: [{ type: "mrkdwn", text: links.join("  ·  ") }] }] : []),
    ],
  };
}
