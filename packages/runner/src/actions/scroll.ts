import type { ActionExecutor } from "./types.ts";

/**
 * Scrolls the window (of the action's frame), or the given element, to a position. `instant`
 * overrides CSS `scroll-behavior: smooth`, so the position is reached before the next action;
 * waiting one animation frame then lets the page's scroll listeners run (scroll events are
 * dispatched with the next rendering update, not synchronously).
 */
export const scroll: ActionExecutor<"scroll"> = async ({ action, scope, resolve, remainingMs }) => {
  const target = action.selector === undefined ? null : (await resolve(action.selector)).locator;
  const position = { x: action.x, y: action.y };
  if (target === null) {
    await scope
      .locator(":root")
      .evaluate(
        (root, { x, y }) => root.ownerDocument.defaultView?.scrollTo({ left: x, top: y, behavior: "instant" }),
        position,
        { timeout: remainingMs() },
      );
  } else {
    await target.evaluate((element, { x, y }) => element.scrollTo({ left: x, top: y, behavior: "instant" }), position, {
      timeout: remainingMs(),
    });
  }
  await (target ?? scope.locator(":root")).evaluate(
    (element) =>
      new Promise<void>((done) => {
        const view = element.ownerDocument.defaultView;
        if (view === null) done();
        else view.requestAnimationFrame(() => done());
      }),
    undefined,
    { timeout: remainingMs() },
  );
};
