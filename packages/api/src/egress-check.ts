import {
  ApiError,
  checkUrl,
  type EgressPolicy,
  parseEgressEntry,
  projectEntryProblem,
  type Recording,
  withProjectAllow,
} from "@conveyor/core";
import { uploadField } from "./recording-input.ts";

interface LiteralUrl {
  field: string;
  url: string;
  /** The action the URL belongs to (absent for `startUrl`). */
  action?: { index: number; id?: string | undefined; source?: string | undefined };
}

/**
 * The absolute URLs written literally in a recording (no `${…}` placeholder): startUrl and
 * navigate targets. With `actionSources` (an imported export), fields name the step they came
 * from (`body.steps[1].url`) rather than the canonical action.
 */
function literalUrls(recording: Recording, field: string, actionSources?: readonly string[]): LiteralUrl[] {
  const urls: LiteralUrl[] = [];
  const literal = (url: string) => !url.includes("${") && URL.canParse(url);
  if (recording.startUrl !== undefined && literal(recording.startUrl)) {
    urls.push({ field: `${field}.startUrl`, url: recording.startUrl });
  }
  for (const [index, action] of recording.actions.entries()) {
    if (action.type === "navigate" && literal(action.url)) {
      const source = actionSources?.[index];
      urls.push({
        field: source === undefined ? `${field}.actions[${index}].url` : uploadField(field, source),
        url: action.url,
        action: { index, id: action.id, source },
      });
    }
  }
  return urls;
}

/**
 * Refuses, with `422 blocked_by_policy` naming the action, a recording that literally names a URL
 * its project may never open: a scheme other than http(s), data: and about:blank, or an address
 * literal (in any spelling) the policy denies. Names are left to the worker's proxy, which sees
 * what they resolve to when the run happens; URLs with placeholders are checked then too. The
 * project's own allowlist is read only when the operator's policy alone refuses something. With
 * `actionSources` (an imported export's, from the importer), fields name the upload's own step or
 * action (`body.steps[1]`) rather than the canonical action it became.
 */
export async function assertRecordingReachable(
  recording: Recording,
  field: string,
  policy: EgressPolicy,
  projectAllow: () => Promise<string[]>,
  actionSources?: readonly string[],
): Promise<void> {
  let refused = literalUrls(recording, field, actionSources)
    .map((literal) => ({ literal, check: checkUrl(policy, literal.url) }))
    .filter(({ check }) => !check.allowed);
  if (refused.length === 0) return;
  const projectPolicy = withProjectAllow(policy, await projectAllow());
  refused = refused
    .map(({ literal }) => ({ literal, check: checkUrl(projectPolicy, literal.url) }))
    .filter(({ check }) => !check.allowed);
  const first = refused[0];
  if (first === undefined) return;
  const fields = refused.map(({ literal, check }) => ({
    field: literal.field,
    message: `${check.url} is refused by the egress policy: ${check.rule}`,
    ...(literal.action
      ? { action: literal.action.index, ...(literal.action.id ? { actionId: literal.action.id } : {}) }
      : {}),
    rule: check.rule,
  }));
  const action = first.literal.action;
  // A field naming the upload's own step needs nothing more; a canonical one, which action.
  const where = action
    ? action.source !== undefined
      ? ""
      : `action ${action.index}${action.id ? ` (${action.id})` : ""} `
    : "startUrl ";
  throw new ApiError(
    "blocked_by_policy",
    `${first.literal.field}: ${where}opens ${first.check.url}, which the egress policy refuses (${first.check.rule})${refused.length > 1 ? ` (and ${refused.length - 1} more)` : ""}`,
    { fields },
  );
}

/**
 * Parses and checks a project allowlist as an operator sends it: each entry valid and inside
 * EGRESS_PROJECT_MAX, else a 400 naming the entry. Returns the entries in normalized form.
 */
export function validateProjectAllow(allow: readonly string[], policy: EgressPolicy, field: string): string[] {
  const problems: { field: string; message: string }[] = [];
  const normalized: string[] = [];
  for (const [index, text] of allow.entries()) {
    const entryField = `${field}[${index}]`;
    try {
      const entry = parseEgressEntry(text);
      const problem = projectEntryProblem(entry, policy.projectMax);
      if (problem === null) normalized.push(entry.text);
      else problems.push({ field: entryField, message: `"${entry.text}" ${problem}` });
    } catch (error) {
      problems.push({ field: entryField, message: (error as Error).message });
    }
  }
  const first = problems[0];
  if (first !== undefined) {
    throw new ApiError(
      "validation_failed",
      `${first.field}: ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ""}`,
      { fields: problems },
    );
  }
  return [...new Set(normalized)];
}
