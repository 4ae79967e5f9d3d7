import { sha256Hex } from "./digest.ts";

/**
 * Fire times of recurring schedules: 5-field cron expressions evaluated in the wall-clock time of
 * an IANA time zone, or fixed intervals. Pure and dependency-free: a zone's UTC offset comes from
 * `Intl.DateTimeFormat` alone.
 *
 * Daylight-saving time, for cron:
 * - a wall time that does not exist on a day (spring forward: 02:30 when clocks jump 02:00→03:00)
 *   does not fire that day, and is not shifted to a later time either;
 * - a wall time that occurs twice (fall back) fires once, at its first occurrence (the earlier
 *   UTC instant).
 *
 * The search walks local calendar days (skipping months and days the expression excludes), then
 * the expression's hours, then its minutes: never minute by minute over the years. It gives up
 * when no fire exists within 5 years (so `0 0 31 2 *` yields nothing instead of looping).
 */

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** How far ahead of the last fire (or of the search start) the search looks: 5 years of 366 days. */
const HORIZON_DAYS = 5 * 366;
const HORIZON_MS = HORIZON_DAYS * DAY_MS;

/** A parsed 5-field cron expression (minute hour day-of-month month day-of-week). */
export interface CronExpression {
  /** The expression as given. */
  readonly source: string;
  /** Allowed minutes, 0-59. */
  readonly minutes: ReadonlySet<number>;
  /** Allowed hours, 0-23. */
  readonly hours: ReadonlySet<number>;
  /** Allowed days of the month, 1-31. */
  readonly daysOfMonth: ReadonlySet<number>;
  /** Allowed months, 1-12. */
  readonly months: ReadonlySet<number>;
  /** Allowed days of the week, 0-6 with Sunday 0 (a `7` in the source is stored as 0). */
  readonly daysOfWeek: ReadonlySet<number>;
  /** Whether the day-of-month field is restricted (does not start with `*`, as in Vixie cron). */
  readonly domRestricted: boolean;
  /** Whether the day-of-week field is restricted (does not start with `*`, as in Vixie cron). */
  readonly dowRestricted: boolean;
}

/** A cron expression that cannot be parsed; the message names the offending field. */
export class CronSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CronSyntaxError";
  }
}

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Upper-case names accepted for values, mapped to their numbers. */
  readonly names?: Readonly<Record<string, number>>;
}

const MONTH_NAMES: Record<string, number> = {
  JAN: 1,
  FEB: 2,
  MAR: 3,
  APR: 4,
  MAY: 5,
  JUN: 6,
  JUL: 7,
  AUG: 8,
  SEP: 9,
  OCT: 10,
  NOV: 11,
  DEC: 12,
};
const DAY_NAMES: Record<string, number> = { SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6 };

const FIELDS: readonly FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTH_NAMES },
  { name: "day-of-week", min: 0, max: 7, names: DAY_NAMES },
];
const DOW_INDEX = 4;

/**
 * Parses "m h dom mon dow". Supports `*`, numbers, ranges `a-b`, steps `*\/n` and `a-b/n`, lists
 * `a,b,c`, month names JAN-DEC and day names SUN-SAT (case-insensitive), 0 and 7 both Sunday (and
 * a day-of-week range ending on Sunday, `FRI-SUN`, runs to 7). Throws CronSyntaxError on anything
 * else: wrong field count, out-of-range values, reversed ranges, empty list items, step 0, `a/n`
 * without a range, and macros such as `@daily`.
 */
export function parseCron(expression: string): CronExpression {
  const text = expression.trim();
  if (text.startsWith("@")) {
    throw new CronSyntaxError(
      `cron: macros such as "${text.split(/\s+/)[0]}" are not supported; write the 5 fields, e.g. "0 0 * * *"`,
    );
  }
  const parts = text === "" ? [] : text.split(/\s+/);
  if (parts.length !== FIELDS.length) {
    throw new CronSyntaxError(
      `cron: expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length} in "${text}"`,
    );
  }
  const sets = FIELDS.map((spec, i) => parseField(parts[i] as string, spec, i === DOW_INDEX));
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = sets as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  return {
    source: text,
    minutes,
    hours,
    daysOfMonth,
    months,
    daysOfWeek,
    domRestricted: !(parts[2] as string).startsWith("*"),
    dowRestricted: !(parts[4] as string).startsWith("*"),
  };
}

/** The values one field allows (day-of-week 7 folded onto 0). */
function parseField(field: string, spec: FieldSpec, isDow: boolean): Set<number> {
  const values = new Set<number>();
  for (const item of field.split(",")) {
    if (item === "") throw new CronSyntaxError(`cron: ${spec.name} field "${field}" has an empty list item`);
    for (const value of parseItem(item, spec, isDow)) values.add(isDow && value === 7 ? 0 : value);
  }
  return values;
}

/** The values of one list item: `*`, `n`, `a-b`, `*\/s` or `a-b/s`. */
function parseItem(item: string, spec: FieldSpec, isDow: boolean): number[] {
  const slash = item.split("/");
  if (slash.length > 2) throw fieldError(spec, item, "has more than one step");
  const [base = "", stepText] = slash;
  const step = stepText === undefined ? 1 : parseStep(stepText, spec, item);
  let low: number;
  let high: number;
  if (base === "*") {
    low = spec.min;
    high = isDow ? 6 : spec.max;
  } else if (base.includes("-")) {
    [low, high] = parseRange(base, spec, item, isDow);
  } else {
    if (stepText !== undefined) throw fieldError(spec, item, 'has a step without a range (write "*/n" or "a-b/n")');
    low = parseValue(base, spec, item);
    high = low;
  }
  const out: number[] = [];
  for (let v = low; v <= high; v += step) out.push(v);
  return out;
}

function parseStep(text: string, spec: FieldSpec, item: string): number {
  if (!/^\d+$/.test(text)) throw fieldError(spec, item, "has a step that is not a number");
  const step = Number(text);
  if (step === 0) throw fieldError(spec, item, "has step 0");
  return step;
}

/** `a-b` as [a, b]; a day-of-week range ending on Sunday (`FRI-SUN`, `5-0`) ends at 7. */
function parseRange(text: string, spec: FieldSpec, item: string, isDow: boolean): [number, number] {
  const bounds = text.split("-");
  if (bounds.length !== 2) throw fieldError(spec, item, "is not a valid range");
  const low = parseValue(bounds[0] as string, spec, item);
  let high = parseValue(bounds[1] as string, spec, item);
  if (isDow && high === 0 && low > 0) high = 7;
  if (low > high) throw fieldError(spec, item, "is a reversed range");
  return [low, high];
}

/** A number or (for month and day-of-week) a name, within the field's range. */
function parseValue(text: string, spec: FieldSpec, item: string): number {
  const named = spec.names?.[text.toUpperCase()];
  if (named !== undefined) return named;
  if (!/^\d+$/.test(text)) throw fieldError(spec, item, "is not a valid value");
  const value = Number(text);
  if (value < spec.min || value > spec.max) throw fieldError(spec, item, `is out of range ${spec.min}-${spec.max}`);
  return value;
}

function fieldError(spec: FieldSpec, item: string, problem: string): CronSyntaxError {
  return new CronSyntaxError(`cron: ${spec.name} field "${item}" ${problem}`);
}

/** True when `timeZone` is a valid IANA zone name for Intl (e.g. "Europe/Berlin", "UTC"); offsets such as "+01:00" are not. */
export function isValidTimeZone(timeZone: string): boolean {
  if (typeof timeZone !== "string" || !/^[A-Za-z]/.test(timeZone)) return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The schedule's timing part. */
export interface ScheduleTiming {
  /** A 5-field cron expression; exactly one of cron / everySeconds. */
  cron?: string;
  /** IANA time zone the cron expression is read in; default "UTC". Ignored with everySeconds. */
  timezone?: string;
  /** A fixed interval in whole seconds, anchored at startAt (or at the epoch when no startAt). */
  everySeconds?: number;
  /** No fire before it (inclusive). */
  startAt?: Date | null;
  /** No fire after it (inclusive). */
  endAt?: Date | null;
}

/**
 * The first scheduled time strictly after `after`, or null when the schedule has ended (endAt) or
 * none exists within 5 years. Throws CronSyntaxError for a bad cron expression and RangeError for
 * any other invalid timing (unknown zone, both or neither of cron/everySeconds, bad interval).
 */
export function nextFireTime(timing: ScheduleTiming, after: Date): Date | null {
  const [first] = nextFireTimes(timing, after, 1);
  return first ?? null;
}

/** Up to `count` consecutive scheduled times strictly after `after` (fewer when the schedule ends). */
export function nextFireTimes(timing: ScheduleTiming, after: Date, count: number): Date[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError("nextFireTimes: count must be an integer ≥ 0");
  const out: Date[] = [];
  if (count === 0) return out;
  for (const t of fireInstants(timing, after)) {
    out.push(new Date(t));
    if (out.length >= count) break;
  }
  return out;
}

/**
 * Every scheduled time t with from < t <= to, oldest first, at most `limit` (default 1000) of
 * them. Used to find the fires missed while the service was down.
 */
export function fireTimesBetween(timing: ScheduleTiming, from: Date, to: Date, limit = 1000): Date[] {
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError("fireTimesBetween: limit must be an integer ≥ 0");
  const end = instantOf(to, "to");
  const out: Date[] = [];
  if (limit === 0) return out;
  for (const t of fireInstants(timing, from)) {
    if (t > end) break;
    out.push(new Date(t));
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * A deterministic jitter offset in ms in [0, jitterSeconds*1000), from a SHA-256 of
 * (scheduleId, scheduledAt): every replica computes the same delay for one fire. 0 when
 * jitterSeconds is 0 (or less than a millisecond).
 */
export function jitterMs(scheduleId: string, scheduledAt: Date, jitterSeconds: number): number {
  if (!Number.isFinite(jitterSeconds) || jitterSeconds < 0) {
    throw new RangeError("jitterMs: jitterSeconds must be a finite number ≥ 0");
  }
  const spanMs = Math.floor(jitterSeconds * 1000);
  if (spanMs === 0) return 0;
  const digest = sha256Hex(`${scheduleId}\n${instantOf(scheduledAt, "scheduledAt")}`);
  // 48 bits of the digest as a fraction in [0, 1): exact in a double, and uniform enough for any span.
  const fraction = Number.parseInt(digest.slice(0, 12), 16) / 2 ** 48;
  return Math.floor(fraction * spanMs);
}

/** Fire instants (epoch ms) strictly after `after`, ascending, within startAt/endAt and the horizon. */
function* fireInstants(timing: ScheduleTiming, after: Date): Generator<number> {
  const plan = planOf(timing);
  const startAt = optionalInstant(timing.startAt, "startAt");
  const endAt = optionalInstant(timing.endAt, "endAt");
  // Strictly after `after`, and at or after startAt.
  const from = startAt === null ? instantOf(after, "after") : Math.max(instantOf(after, "after"), startAt - 1);
  if (endAt !== null && from >= endAt) return;
  const instants =
    plan.kind === "cron"
      ? cronInstants(plan.expression, plan.timeZone, from)
      : intervalInstants(plan.everyMs, startAt ?? 0, from);
  for (const t of instants) {
    if (endAt !== null && t > endAt) return;
    yield t;
  }
}

type Plan = { kind: "cron"; expression: CronExpression; timeZone: string } | { kind: "interval"; everyMs: number };

/** Validates a timing into what the search needs. */
function planOf(timing: ScheduleTiming): Plan {
  const hasCron = timing.cron !== undefined && timing.cron !== null;
  const hasEvery = timing.everySeconds !== undefined && timing.everySeconds !== null;
  if (hasCron === hasEvery) throw new RangeError("schedule timing: give exactly one of cron and everySeconds");
  if (hasEvery) {
    const every = timing.everySeconds as number;
    if (!Number.isSafeInteger(every) || every <= 0) {
      throw new RangeError(`schedule timing: everySeconds must be a positive integer, got ${every}`);
    }
    return { kind: "interval", everyMs: every * 1000 };
  }
  const timeZone = timing.timezone ?? "UTC";
  if (!isValidTimeZone(timeZone)) throw new RangeError(`schedule timing: unknown time zone "${timeZone}"`);
  return { kind: "cron", expression: parseCron(timing.cron as string), timeZone };
}

function instantOf(date: Date, name: string): number {
  const t = date instanceof Date ? date.getTime() : Number.NaN;
  if (Number.isNaN(t)) throw new RangeError(`schedule time: ${name} is not a valid Date`);
  return t;
}

function optionalInstant(date: Date | null | undefined, name: string): number | null {
  return date === undefined || date === null ? null : instantOf(date, name);
}

/** anchor + k*everyMs for every integer k with a result strictly after `after`. */
function* intervalInstants(everyMs: number, anchor: number, after: number): Generator<number> {
  if (everyMs > HORIZON_MS) return;
  let t = anchor + (Math.floor((after - anchor) / everyMs) + 1) * everyMs;
  for (;;) {
    yield t;
    t += everyMs;
  }
}

/**
 * Cron fire instants strictly after `after`, ascending: walks local days from the local date of
 * `after`, skipping excluded months at once, until HORIZON_DAYS pass without a fire.
 */
function* cronInstants(cron: CronExpression, timeZone: string, after: number): Generator<number> {
  const hours = sorted(cron.hours);
  const minutes = sorted(cron.minutes);
  const start = wallClock(timeZone, after);
  let day = Math.floor(start / DAY_MS);
  let horizon = day + HORIZON_DAYS;
  while (day <= horizon) {
    const date = new Date(day * DAY_MS);
    if (!cron.months.has(date.getUTCMonth() + 1)) {
      day = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) / DAY_MS;
      continue;
    }
    if (dayMatches(cron, date.getUTCDate(), date.getUTCDay())) {
      for (const t of dayInstants(timeZone, day, hours, minutes, after)) {
        yield t;
        horizon = day + HORIZON_DAYS;
      }
    }
    day += 1;
  }
}

/** Vixie cron: when both day fields are restricted a day matches either; otherwise it must match both. */
function dayMatches(cron: CronExpression, dayOfMonth: number, dayOfWeek: number): boolean {
  const domOk = cron.daysOfMonth.has(dayOfMonth);
  const dowOk = cron.daysOfWeek.has(dayOfWeek);
  return cron.domRestricted && cron.dowRestricted ? domOk || dowOk : domOk && dowOk;
}

/**
 * The instants of one local day (`day`: days since 1970-01-01 on the wall calendar) at the given
 * hours and minutes, strictly after `after`, ascending. Wall times map to instants monotonically
 * (first occurrences; nonexistent ones dropped), so an hour whose last minute is not after `after`
 * is skipped whole.
 */
function* dayInstants(
  timeZone: string,
  day: number,
  hours: readonly number[],
  minutes: readonly number[],
  after: number,
): Generator<number> {
  const midnight = day * DAY_MS;
  // The same offset a day before and two days after: no transition can touch this day's wall times.
  const offset = offsetAt(timeZone, midnight - DAY_MS);
  const steady = offset === offsetAt(timeZone, midnight + 2 * DAY_MS);
  const toInstant = (wall: number): number | null => (steady ? wall - offset : firstInstantOf(timeZone, wall));
  const lastMinute = minutes[minutes.length - 1] ?? 0;
  for (const hour of hours) {
    const hourWall = midnight + hour * HOUR_MS;
    const last = toInstant(hourWall + lastMinute * MINUTE_MS);
    if (last !== null && last <= after) continue;
    for (const minute of minutes) {
      const t = toInstant(hourWall + minute * MINUTE_MS);
      if (t !== null && t > after) yield t;
    }
  }
}

/**
 * The first instant at which the zone's clocks show `wall` (a wall time written as if UTC), or
 * null when that wall time does not exist (skipped by a spring-forward transition). Tries the
 * offsets in force a day before and a day after, keeping those that hold at their own instant.
 */
function firstInstantOf(timeZone: string, wall: number): number | null {
  const before = offsetAt(timeZone, wall - DAY_MS);
  const afterwards = offsetAt(timeZone, wall + DAY_MS);
  let first: number | null = null;
  for (const offset of before === afterwards ? [before] : [before, afterwards]) {
    const t = wall - offset;
    if (offsetAt(timeZone, t) === offset && (first === null || t < first)) first = t;
  }
  return first;
}

/** The zone's offset from UTC at `instant`, ms (wall clock minus UTC). */
function offsetAt(timeZone: string, instant: number): number {
  const second = Math.floor(instant / 1000) * 1000;
  return wallClock(timeZone, second) - second;
}

/** The zone's wall clock at `instant`, as epoch ms of the same Y-M-D h:m:s in UTC (ms dropped). */
function wallClock(timeZone: string, instant: number): number {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(instant)) {
    if (part.type !== "literal") fields[part.type] = Number(part.value);
  }
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = fields;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** One cached formatter per zone name; throws RangeError for an unknown zone. */
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    if (formatters.size >= 1000) formatters.clear();
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

function sorted(values: ReadonlySet<number>): number[] {
  return [...values].sort((a, b) => a - b);
}
