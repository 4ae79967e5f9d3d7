import { ApiError, expressionActions, type Recording } from "@conveyor/core";
import { uploadField } from "./recording-input.ts";

/**
 * Refuses, with `403 forbidden` naming the first one, a recording that runs its own JavaScript in
 * the page (waitForExpression) when its project does not allow it (`allowExpressions`, set by an
 * operator). Such code runs in the tested page's own sandbox, not in Conveyor, but it is tenant
 * code all the same: running it must be a conscious choice. `actionSources` names the actions as
 * the upload did (`steps[3]` of a Chrome DevTools Recorder export); the project's setting is read
 * only when there is something to refuse.
 */
export async function assertExpressionsAllowed(
  imported: { recording: Recording; actionSources?: string[] | undefined },
  fieldPrefix: string,
  allowExpressions: () => Promise<boolean>,
): Promise<void> {
  const found = expressionActions(imported);
  const first = found[0];
  if (first === undefined || (await allowExpressions())) return;
  const message =
    "waitForExpression runs the recording's own JavaScript in the page, and this project does not allow it: an operator must enable allowExpressions (PATCH /api/projects/:id with the admin token), or remove the step";
  const fields = found.map(({ path }) => ({ field: uploadField(fieldPrefix, path), message }));
  throw new ApiError(
    "forbidden",
    `${fields[0]?.field}: ${message}${found.length > 1 ? ` (and ${found.length - 1} more)` : ""}`,
    { fields, setting: "allowExpressions" },
  );
}
