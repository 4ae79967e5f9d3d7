/**
 * A clock a test moves by hand, so that "time passes" without sleeping. Code under test takes a
 * clock as an argument (`now: () => number`, or a `Date` for "as of"), never reads `Date.now()`
 * itself where a test needs to move time; the test passes `clock.now` (or `clock.date()`,
 * `clock.later(ms)`) and calls `clock.advance(ms)`.
 *
 * ```ts
 * import { createTestClock } from "@conveyor/testing/clock";
 * const clock = createTestClock(1_000);         // frozen at 1 000 ms until advanced
 * const cache = new ApiKeyCache(5_000, 30_000, 100, clock.now);
 * clock.advance(5_000);                         // the entry is now 5 s old
 *
 * const wall = createTestClock();               // the wall clock, plus whatever was advanced
 * await reconciler.pass(wall.later(5_000));     // a pass as if 5 s had passed: rows count as old
 * ```
 */

export interface TestClock {
  /** The clock's time, in milliseconds since the epoch. A plain function: pass it as `() => number`. */
  now: () => number;
  /** The clock's time as a `Date`. */
  date(): Date;
  /** The time `ms` milliseconds after the clock's time, as a `Date`; the clock does not move. */
  later(ms: number): Date;
  /** Moves the clock forward by `ms` milliseconds (never back: `ms` must not be negative); returns the new time. */
  advance(ms: number): number;
}

/**
 * A test clock. Given `start` (milliseconds since the epoch, or a `Date`), it stands still at
 * `start` and moves only by `advance()`: what a test of a TTL or a timeout wants. Without it, it
 * follows the wall clock (`Date.now()`) plus everything `advance()` added: what a test wants when
 * the code compares the clock with times another clock wrote (rows stamped by Postgres's `now()`).
 */
export function createTestClock(start?: number | Date): TestClock {
  const frozenAt = start === undefined ? undefined : typeof start === "number" ? start : start.getTime();
  let advanced = 0;
  const now = () => (frozenAt ?? Date.now()) + advanced;
  return {
    now,
    date: () => new Date(now()),
    later: (ms) => new Date(now() + ms),
    advance(ms) {
      if (!Number.isFinite(ms) || ms < 0)
        throw new RangeError(`advance(ms): ms must be a finite number ≥ 0, got ${ms}`);
      advanced += ms;
      return now();
    },
  };
}
