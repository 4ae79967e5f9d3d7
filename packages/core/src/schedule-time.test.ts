import { describe, expect, it } from "vitest";
import {
  CronSyntaxError,
  fireTimesBetween,
  isValidTimeZone,
  jitterMs,
  nextFireTime,
  nextFireTimes,
  parseCron,
  type ScheduleTiming,
} from "./schedule-time.ts";

const d = (iso: string): Date => new Date(iso);
const isos = (dates: Date[]): string[] => dates.map((date) => date.toISOString());
const sortedValues = (set: ReadonlySet<number>): number[] => [...set].sort((a, b) => a - b);
const range = (low: number, high: number, step = 1): number[] => {
  const out: number[] = [];
  for (let v = low; v <= high; v += step) out.push(v);
  return out;
};

/** The CronSyntaxError message `parseCron(expression)` throws (fails the test if it does not throw one). */
function syntaxError(expression: string): string {
  try {
    parseCron(expression);
  } catch (error) {
    expect(error).toBeInstanceOf(CronSyntaxError);
    expect(error).toBeInstanceOf(Error);
    return (error as Error).message;
  }
  throw new Error(`parseCron(${JSON.stringify(expression)}) did not throw`);
}

describe("parseCron", () => {
  it("parses *, numbers, ranges, steps and lists into value sets", () => {
    const cron = parseCron("*/15 9-17 1,15,31 */3 1-5");
    expect(sortedValues(cron.minutes)).toEqual([0, 15, 30, 45]);
    expect(sortedValues(cron.hours)).toEqual(range(9, 17));
    expect(sortedValues(cron.daysOfMonth)).toEqual([1, 15, 31]);
    expect(sortedValues(cron.months)).toEqual([1, 4, 7, 10]);
    expect(sortedValues(cron.daysOfWeek)).toEqual([1, 2, 3, 4, 5]);
    expect(cron.domRestricted).toBe(true);
    expect(cron.dowRestricted).toBe(true);
  });

  it("fills unrestricted fields with their whole range", () => {
    const cron = parseCron("* * * * *");
    expect(sortedValues(cron.minutes)).toEqual(range(0, 59));
    expect(sortedValues(cron.hours)).toEqual(range(0, 23));
    expect(sortedValues(cron.daysOfMonth)).toEqual(range(1, 31));
    expect(sortedValues(cron.months)).toEqual(range(1, 12));
    expect(sortedValues(cron.daysOfWeek)).toEqual(range(0, 6));
    expect(cron.domRestricted).toBe(false);
    expect(cron.dowRestricted).toBe(false);
  });

  it("parses stepped ranges, mixed lists and surrounding whitespace", () => {
    const cron = parseCron("  0-30/10,45 0-23/6   1-10/3 * *\t");
    expect(sortedValues(cron.minutes)).toEqual([0, 10, 20, 30, 45]);
    expect(sortedValues(cron.hours)).toEqual([0, 6, 12, 18]);
    expect(sortedValues(cron.daysOfMonth)).toEqual([1, 4, 7, 10]);
    expect(cron.source).toBe("0-30/10,45 0-23/6   1-10/3 * *");
  });

  it("accepts month and day names in any case, alone, in lists and in ranges", () => {
    const cron = parseCron("0 0 * jan,Jul,DEC-dec mon-FRI,sun");
    expect(sortedValues(cron.months)).toEqual([1, 7, 12]);
    expect(sortedValues(cron.daysOfWeek)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sortedValues(parseCron("0 0 * FEB-APR/2 *").months)).toEqual([2, 4]);
  });

  it("treats 0 and 7 both as Sunday, and runs a range ending on Sunday to 7", () => {
    expect(sortedValues(parseCron("0 0 * * 0").daysOfWeek)).toEqual([0]);
    expect(sortedValues(parseCron("0 0 * * 7").daysOfWeek)).toEqual([0]);
    expect(sortedValues(parseCron("0 0 * * 5-7").daysOfWeek)).toEqual([0, 5, 6]);
    expect(sortedValues(parseCron("0 0 * * FRI-SUN").daysOfWeek)).toEqual([0, 5, 6]);
    expect(sortedValues(parseCron("0 0 * * 0-7").daysOfWeek)).toEqual(range(0, 6));
  });

  it("counts a day field starting with * (also */n) as unrestricted, as Vixie cron does", () => {
    expect(parseCron("0 0 */2 * 1").domRestricted).toBe(false);
    expect(parseCron("0 0 1-31 * 1").domRestricted).toBe(true);
    expect(parseCron("0 0 1 * */2").dowRestricted).toBe(false);
  });

  it("names the minute field for an out-of-range value, as in the documented message", () => {
    expect(syntaxError("61 * * * *")).toBe('cron: minute field "61" is out of range 0-59');
  });

  it.each([
    ["* 24 * * *", 'cron: hour field "24" is out of range 0-23'],
    ["* * 0 * *", 'cron: day-of-month field "0" is out of range 1-31'],
    ["* * 32 * *", 'cron: day-of-month field "32" is out of range 1-31'],
    ["* * * 13 *", 'cron: month field "13" is out of range 1-12'],
    ["* * * 0 *", 'cron: month field "0" is out of range 1-12'],
    ["* * * * 8", 'cron: day-of-week field "8" is out of range 0-7'],
    ["1,61 * * * *", 'cron: minute field "61" is out of range 0-59'],
    ["0-60 * * * *", 'cron: minute field "0-60" is out of range 0-59'],
  ])("refuses out-of-range %j", (expression, message) => {
    expect(syntaxError(expression)).toBe(message);
  });

  it.each([
    ["1,,2 * * * *", "minute", "empty list item"],
    ["* 1, * * *", "hour", "empty list item"],
    ["* * ,1 * *", "day-of-month", "empty list item"],
    ["*/0 * * * *", "minute", "step 0"],
    ["* 1-5/0 * * *", "hour", "step 0"],
    ["* * * */x *", "month", "step that is not a number"],
    ["* * * * 1/2", "day-of-week", "step without a range"],
    ["* * 5-1 * *", "day-of-month", "reversed range"],
    ["* * * * MON-TUE-WED", "day-of-week", "not a valid range"],
    ["* * * FOO *", "month", "not a valid value"],
    ["* * * * MON1", "day-of-week", "not a valid value"],
    ["JAN * * * *", "minute", "not a valid value"],
    ["* ? * * *", "hour", "not a valid value"],
    ["* * -1 * *", "day-of-month", "not a valid"],
    ["*/2/3 * * * *", "minute", "more than one step"],
  ])("refuses %j, naming the %s field (%s)", (expression, field, problem) => {
    const message = syntaxError(expression);
    expect(message).toContain(`cron: ${field} field`);
    expect(message).toContain(problem);
  });

  it.each(["", "* * * *", "* * * * * *", "0 0 1 1 1 2026"])("refuses a wrong field count: %j", (expression) => {
    expect(syntaxError(expression)).toMatch(/^cron: expected 5 fields \(minute hour day-of-month month day-of-week\)/);
  });

  it.each(["@daily", "@hourly", "@reboot", " @weekly "])("refuses the macro %j with a clear message", (expression) => {
    const message = syntaxError(expression);
    expect(message).toContain(`"${expression.trim()}" are not supported`);
    expect(message).toContain("write the 5 fields");
  });
});

describe("isValidTimeZone", () => {
  it.each(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Etc/GMT+5"])("accepts %s", (zone) => {
    expect(isValidTimeZone(zone)).toBe(true);
  });

  it.each(["", "Mars/Olympus_Mons", "Europe/Berlinn", "+01:00", "-05:00", "CEST+2", " UTC"])("refuses %j", (zone) => {
    expect(isValidTimeZone(zone)).toBe(false);
  });

  it("makes a schedule with an unknown zone throw rather than fire", () => {
    expect(() => nextFireTime({ cron: "0 0 * * *", timezone: "Mars/Olympus_Mons" }, d("2026-01-01T00:00:00Z"))).toThrow(
      /unknown time zone "Mars\/Olympus_Mons"/,
    );
  });
});

describe("cron in Europe/Berlin across 2026's DST transitions (CET = UTC+1, CEST = UTC+2)", () => {
  const daily: ScheduleTiming = { cron: "30 2 * * *", timezone: "Europe/Berlin" };

  it("spring forward (2026-03-29, 02:00 CET → 03:00 CEST): 02:30 does not exist that day and does not fire", () => {
    const fires = fireTimesBetween(daily, d("2026-03-27T00:00:00Z"), d("2026-03-31T23:59:59Z"));
    expect(isos(fires)).toEqual([
      "2026-03-27T01:30:00.000Z", // 03-27 02:30 CET  = 01:30Z
      "2026-03-28T01:30:00.000Z", // 03-28 02:30 CET  = 01:30Z
      // 03-29: 02:30 is skipped by the jump 02:00 → 03:00; no fire, and none shifted to 03:30
      "2026-03-30T00:30:00.000Z", // 03-30 02:30 CEST = 00:30Z
      "2026-03-31T00:30:00.000Z", // 03-31 02:30 CEST = 00:30Z
    ]);
  });

  it("fall back (2026-10-25, 03:00 CEST → 02:00 CET): 02:30 happens twice and fires once, at its first occurrence", () => {
    const fires = fireTimesBetween(daily, d("2026-10-23T00:00:00Z"), d("2026-10-27T23:59:59Z"));
    expect(isos(fires)).toEqual([
      "2026-10-23T00:30:00.000Z", // 10-23 02:30 CEST = 00:30Z
      "2026-10-24T00:30:00.000Z", // 10-24 02:30 CEST = 00:30Z
      "2026-10-25T00:30:00.000Z", // 10-25 02:30 CEST = 00:30Z (first); 02:30 CET = 01:30Z (second) does not fire
      "2026-10-26T01:30:00.000Z", // 10-26 02:30 CET  = 01:30Z
      "2026-10-27T01:30:00.000Z", // 10-27 02:30 CET  = 01:30Z
    ]);
  });

  it("does not fire the second occurrence even when asked for the next fire between the two", () => {
    // 00:45Z is 02:45 CEST, after the first 02:30; the second 02:30 (01:30Z) is skipped.
    expect(nextFireTime(daily, d("2026-10-25T00:45:00Z"))?.toISOString()).toBe("2026-10-26T01:30:00.000Z");
    // Asked just before the first occurrence, it is that one.
    expect(nextFireTime(daily, d("2026-10-25T00:29:59Z"))?.toISOString()).toBe("2026-10-25T00:30:00.000Z");
  });

  it("hourly across the fall-back night: one fire per wall hour, the repeated 02:00 only at its first occurrence", () => {
    const hourly: ScheduleTiming = { cron: "0 * * * *", timezone: "Europe/Berlin" };
    const fires = fireTimesBetween(hourly, d("2026-10-24T21:30:00Z"), d("2026-10-25T04:30:00Z"));
    expect(isos(fires)).toEqual([
      "2026-10-24T22:00:00.000Z", // 00:00 CEST
      "2026-10-24T23:00:00.000Z", // 01:00 CEST
      "2026-10-25T00:00:00.000Z", // 02:00 CEST, first 02:00
      // 01:00Z is 02:00 CET, the second 02:00: the same wall time again, so no fire (a 2 h UTC gap)
      "2026-10-25T02:00:00.000Z", // 03:00 CET
      "2026-10-25T03:00:00.000Z", // 04:00 CET
      "2026-10-25T04:00:00.000Z", // 05:00 CET
    ]);
  });

  it("hourly across the spring-forward night: wall 02:00 does not exist, so UTC stays hourly with no hole", () => {
    const hourly: ScheduleTiming = { cron: "0 * * * *", timezone: "Europe/Berlin" };
    const fires = fireTimesBetween(hourly, d("2026-03-28T22:30:00Z"), d("2026-03-29T02:30:00Z"));
    expect(isos(fires)).toEqual([
      "2026-03-28T23:00:00.000Z", // 00:00 CET
      "2026-03-29T00:00:00.000Z", // 01:00 CET; 02:00 does not exist
      "2026-03-29T01:00:00.000Z", // 03:00 CEST
      "2026-03-29T02:00:00.000Z", // 04:00 CEST
    ]);
  });
});

describe("cron in America/New_York across 2026's DST transitions (EST = UTC-5, EDT = UTC-4)", () => {
  it("spring forward (2026-03-08, 02:00 EST → 03:00 EDT): 02:30 does not fire that day", () => {
    const fires = fireTimesBetween(
      { cron: "30 2 * * *", timezone: "America/New_York" },
      d("2026-03-07T00:00:00Z"),
      d("2026-03-10T00:00:00Z"),
    );
    expect(isos(fires)).toEqual([
      "2026-03-07T07:30:00.000Z", // 03-07 02:30 EST = 07:30Z
      // 03-08: 02:30 does not exist
      "2026-03-09T06:30:00.000Z", // 03-09 02:30 EDT = 06:30Z
    ]);
  });

  it("fall back (2026-11-01, 02:00 EDT → 01:00 EST): 02:30 happens once, in EST", () => {
    const fires = fireTimesBetween(
      { cron: "30 2 * * *", timezone: "America/New_York" },
      d("2026-10-31T00:00:00Z"),
      d("2026-11-03T00:00:00Z"),
    );
    expect(isos(fires)).toEqual([
      "2026-10-31T06:30:00.000Z", // 10-31 02:30 EDT = 06:30Z
      "2026-11-01T07:30:00.000Z", // 11-01 02:30 EST = 07:30Z (the clocks reach 02:00 only after the repeat)
      "2026-11-02T07:30:00.000Z", // 11-02 02:30 EST = 07:30Z
    ]);
  });

  it("fall back: 01:30 repeats and fires once, at 05:30Z (EDT, the first occurrence)", () => {
    const fires = fireTimesBetween(
      { cron: "30 1 * * *", timezone: "America/New_York" },
      d("2026-10-31T00:00:00Z"),
      d("2026-11-03T00:00:00Z"),
    );
    expect(isos(fires)).toEqual([
      "2026-10-31T05:30:00.000Z", // 10-31 01:30 EDT = 05:30Z
      "2026-11-01T05:30:00.000Z", // 11-01 01:30 EDT = 05:30Z; 01:30 EST = 06:30Z does not fire
      "2026-11-02T06:30:00.000Z", // 11-02 01:30 EST = 06:30Z
    ]);
  });
});

describe("cron fields and day rules (UTC)", () => {
  it("defaults to UTC and fires on whole minutes", () => {
    const next = nextFireTime({ cron: "* * * * *" }, d("2026-05-05T10:20:30.456Z"));
    expect(next?.toISOString()).toBe("2026-05-05T10:21:00.000Z");
    expect(next?.getUTCSeconds()).toBe(0);
    expect(next?.getUTCMilliseconds()).toBe(0);
  });

  it("is strictly after `after`: a fire exactly at `after` is not returned", () => {
    expect(nextFireTime({ cron: "0 * * * *" }, d("2026-05-05T10:00:00Z"))?.toISOString()).toBe(
      "2026-05-05T11:00:00.000Z",
    );
  });

  it("*/15 9-17 * * MON-FRI: every quarter hour in office hours, skipping the weekend", () => {
    // 2026-01-02 is a Friday, 2026-01-05 the Monday after.
    const fires = nextFireTimes({ cron: "*/15 9-17 * * MON-FRI" }, d("2026-01-02T17:40:00Z"), 4);
    expect(isos(fires)).toEqual([
      "2026-01-02T17:45:00.000Z",
      "2026-01-05T09:00:00.000Z",
      "2026-01-05T09:15:00.000Z",
      "2026-01-05T09:30:00.000Z",
    ]);
    // A whole weekday: hours 9..17 × 4 quarters = 36 fires.
    expect(
      fireTimesBetween({ cron: "*/15 9-17 * * MON-FRI" }, d("2026-01-05T00:00:00Z"), d("2026-01-06T00:00:00Z")),
    ).toHaveLength(36);
  });

  it("0 12 1 * MON: both day fields restricted, so a day matches EITHER (the 1st or a Monday)", () => {
    // 2026-09-01 is a Tuesday; Mondays in September: 7, 14, 21, 28; 2026-10-01 is a Thursday.
    const fires = nextFireTimes({ cron: "0 12 1 * MON" }, d("2026-08-31T12:00:00Z"), 7);
    expect(isos(fires)).toEqual([
      "2026-09-01T12:00:00.000Z",
      "2026-09-07T12:00:00.000Z",
      "2026-09-14T12:00:00.000Z",
      "2026-09-21T12:00:00.000Z",
      "2026-09-28T12:00:00.000Z",
      "2026-10-01T12:00:00.000Z",
      "2026-10-05T12:00:00.000Z",
    ]);
  });

  it("with only one day field restricted, a day must match both (the other being *)", () => {
    expect(isos(nextFireTimes({ cron: "0 12 * * MON" }, d("2026-08-31T12:00:00Z"), 2))).toEqual([
      "2026-09-07T12:00:00.000Z",
      "2026-09-14T12:00:00.000Z",
    ]);
    expect(isos(nextFireTimes({ cron: "0 12 1 * *" }, d("2026-08-31T12:00:00Z"), 2))).toEqual([
      "2026-09-01T12:00:00.000Z",
      "2026-10-01T12:00:00.000Z",
    ]);
    // "*/2" starts with *, so it does not count as restricted (Vixie): odd days that are Mondays.
    // 2026-09-07 (odd, Monday), 09-21 (odd, Monday); 09-14 and 09-28 are even.
    expect(isos(nextFireTimes({ cron: "0 12 */2 * MON" }, d("2026-08-31T12:00:00Z"), 2))).toEqual([
      "2026-09-07T12:00:00.000Z",
      "2026-09-21T12:00:00.000Z",
    ]);
  });

  it("month and day names select the same times as numbers", () => {
    const after = d("2026-01-01T00:00:00Z");
    expect(isos(nextFireTimes({ cron: "0 0 1 jan,JUL *" }, after, 3))).toEqual([
      "2026-07-01T00:00:00.000Z",
      "2027-01-01T00:00:00.000Z",
      "2027-07-01T00:00:00.000Z",
    ]);
    expect(nextFireTimes({ cron: "0 0 1 jan,JUL *" }, after, 3)).toEqual(
      nextFireTimes({ cron: "0 0 1 1,7 *" }, after, 3),
    );
    expect(nextFireTimes({ cron: "30 8 * * tue-thu" }, after, 9)).toEqual(
      nextFireTimes({ cron: "30 8 * * 2-4" }, after, 9),
    );
  });

  it("Sunday as 0, 7 and SUN gives the same fires, all on Sundays", () => {
    // 2026-01-04 is a Sunday.
    const after = d("2026-01-01T00:00:00Z");
    const zero = nextFireTimes({ cron: "0 9 * * 0" }, after, 3);
    expect(isos(zero)).toEqual(["2026-01-04T09:00:00.000Z", "2026-01-11T09:00:00.000Z", "2026-01-18T09:00:00.000Z"]);
    expect(nextFireTimes({ cron: "0 9 * * 7" }, after, 3)).toEqual(zero);
    expect(nextFireTimes({ cron: "0 9 * * SUN" }, after, 3)).toEqual(zero);
  });

  it("a day-of-month that only some months have fires only in those", () => {
    expect(isos(nextFireTimes({ cron: "0 0 31 * *" }, d("2026-01-31T00:00:00Z"), 3))).toEqual([
      "2026-03-31T00:00:00.000Z",
      "2026-05-31T00:00:00.000Z",
      "2026-07-31T00:00:00.000Z",
    ]);
  });

  it("evaluates other zones in their wall time (Asia/Kolkata, UTC+5:30, no DST)", () => {
    expect(
      nextFireTime({ cron: "0 9 * * *", timezone: "Asia/Kolkata" }, d("2026-06-01T00:00:00Z"))?.toISOString(),
    ).toBe("2026-06-01T03:30:00.000Z");
  });
});

describe("Feb 29 and impossible expressions", () => {
  it("0 0 29 2 *: ten leap days, found quickly", () => {
    const started = performance.now();
    const fires = nextFireTimes({ cron: "0 0 29 2 *" }, d("2026-01-01T00:00:00Z"), 10);
    const elapsed = performance.now() - started;
    expect(isos(fires)).toEqual(range(2028, 2064, 4).map((year) => `${year}-02-29T00:00:00.000Z`));
    expect(elapsed).toBeLessThan(50);
  });

  it("0 0 29 2 * in Europe/Berlin: midnight CET is 23:00Z the day before", () => {
    expect(
      nextFireTime({ cron: "0 0 29 2 *", timezone: "Europe/Berlin" }, d("2026-01-01T00:00:00Z"))?.toISOString(),
    ).toBe("2028-02-28T23:00:00.000Z");
  });

  it.each(["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"])(
    "%s never fires: null, without looping forever",
    (cron) => {
      const started = performance.now();
      expect(nextFireTime({ cron, timezone: "Europe/Berlin" }, d("2026-01-01T00:00:00Z"))).toBeNull();
      expect(nextFireTimes({ cron }, d("2026-01-01T00:00:00Z"), 5)).toEqual([]);
      expect(performance.now() - started).toBeLessThan(200);
    },
  );

  it("gives up after 5 years without a fire (2100 is not a leap year: 2096 → 2104 is 8 years)", () => {
    expect(nextFireTime({ cron: "0 0 29 2 *" }, d("2096-03-01T00:00:00Z"))).toBeNull();
  });
});

describe("everySeconds", () => {
  it("fires at startAt + k·everySeconds, never before startAt (inclusive)", () => {
    const timing: ScheduleTiming = { everySeconds: 60, startAt: d("2026-01-01T00:00:10Z") };
    expect(nextFireTime(timing, d("2026-01-01T00:05:00Z"))?.toISOString()).toBe("2026-01-01T00:05:10.000Z");
    expect(nextFireTime(timing, d("2026-01-01T00:05:10Z"))?.toISOString()).toBe("2026-01-01T00:06:10.000Z");
    // Asked long before the start: the start itself is the first fire.
    expect(isos(nextFireTimes(timing, d("2025-06-01T00:00:00Z"), 3))).toEqual([
      "2026-01-01T00:00:10.000Z",
      "2026-01-01T00:01:10.000Z",
      "2026-01-01T00:02:10.000Z",
    ]);
  });

  it("anchors at the epoch without startAt, and ignores the time zone", () => {
    const after = d("2026-03-29T00:20:00Z");
    const expected = ["2026-03-29T01:00:00.000Z", "2026-03-29T02:00:00.000Z", "2026-03-29T03:00:00.000Z"];
    expect(isos(nextFireTimes({ everySeconds: 3600 }, after, 3))).toEqual(expected);
    // Across Berlin's spring-forward night: still plain UTC hours.
    expect(isos(nextFireTimes({ everySeconds: 3600, timezone: "Europe/Berlin" }, after, 3))).toEqual(expected);
    expect(nextFireTime({ everySeconds: 7 }, new Date(0))?.getTime()).toBe(7000);
  });

  it("stops at endAt (inclusive)", () => {
    const timing: ScheduleTiming = {
      everySeconds: 600,
      startAt: d("2026-01-01T00:00:00Z"),
      endAt: d("2026-01-01T00:30:00Z"),
    };
    expect(isos(nextFireTimes(timing, d("2025-12-31T00:00:00Z"), 10))).toEqual([
      "2026-01-01T00:00:00.000Z",
      "2026-01-01T00:10:00.000Z",
      "2026-01-01T00:20:00.000Z",
      "2026-01-01T00:30:00.000Z",
    ]);
    expect(nextFireTime(timing, d("2026-01-01T00:30:00Z"))).toBeNull();
  });

  it("refuses a timing without exactly one of cron and everySeconds, or a bad interval", () => {
    const after = d("2026-01-01T00:00:00Z");
    expect(() => nextFireTime({}, after)).toThrow(RangeError);
    expect(() => nextFireTime({ cron: "* * * * *", everySeconds: 60 }, after)).toThrow(/exactly one of/);
    expect(() => nextFireTime({ everySeconds: 0 }, after)).toThrow(/positive integer/);
    expect(() => nextFireTime({ everySeconds: -5 }, after)).toThrow(/positive integer/);
    expect(() => nextFireTime({ everySeconds: 1.5 }, after)).toThrow(/positive integer/);
    expect(() => nextFireTime({ cron: "@daily" }, after)).toThrow(CronSyntaxError);
    expect(() => nextFireTime({ everySeconds: 60 }, d("nonsense"))).toThrow(/after is not a valid Date/);
  });
});

describe("startAt / endAt with cron", () => {
  const timing: ScheduleTiming = {
    cron: "0 * * * *",
    startAt: d("2026-01-01T05:00:00Z"),
    endAt: d("2026-01-01T07:00:00Z"),
  };

  it("fires from startAt to endAt, both inclusive", () => {
    expect(isos(fireTimesBetween(timing, d("2026-01-01T00:00:00Z"), d("2026-01-02T00:00:00Z")))).toEqual([
      "2026-01-01T05:00:00.000Z",
      "2026-01-01T06:00:00.000Z",
      "2026-01-01T07:00:00.000Z",
    ]);
  });

  it("returns null once the schedule has ended", () => {
    expect(nextFireTime(timing, d("2026-01-01T07:00:00Z"))).toBeNull();
    expect(nextFireTime(timing, d("2030-01-01T00:00:00Z"))).toBeNull();
    expect(nextFireTimes(timing, d("2026-01-01T06:30:00Z"), 5)).toHaveLength(1);
  });

  it("does not fire before a startAt between two cron times", () => {
    const next = nextFireTime({ cron: "0 * * * *", startAt: d("2026-01-01T05:00:01Z") }, d("2026-01-01T00:00:00Z"));
    expect(next?.toISOString()).toBe("2026-01-01T06:00:00.000Z");
  });

  it("looks 5 years past a far-future startAt, not past `after`", () => {
    const next = nextFireTime({ cron: "0 0 1 1 *", startAt: d("2040-06-01T00:00:00Z") }, d("2026-01-01T00:00:00Z"));
    expect(next?.toISOString()).toBe("2041-01-01T00:00:00.000Z");
  });
});

describe("fireTimesBetween", () => {
  const everyMinute: ScheduleTiming = { cron: "* * * * *" };

  it("returns from < t <= to, oldest first", () => {
    const fires = fireTimesBetween(everyMinute, d("2026-01-01T00:00:00Z"), d("2026-01-01T01:00:00Z"));
    expect(fires).toHaveLength(60);
    expect(fires[0]?.toISOString()).toBe("2026-01-01T00:01:00.000Z");
    expect(fires[59]?.toISOString()).toBe("2026-01-01T01:00:00.000Z");
  });

  it("keeps the oldest `limit` fires, and 1000 by default", () => {
    const from = d("2026-01-01T00:00:00Z");
    expect(isos(fireTimesBetween(everyMinute, from, d("2026-01-01T01:00:00Z"), 3))).toEqual([
      "2026-01-01T00:01:00.000Z",
      "2026-01-01T00:02:00.000Z",
      "2026-01-01T00:03:00.000Z",
    ]);
    const all = fireTimesBetween(everyMinute, from, d("2026-01-03T00:00:00Z"));
    expect(all).toHaveLength(1000);
    expect(all[999]?.toISOString()).toBe("2026-01-01T16:40:00.000Z"); // 1000 minutes = 16 h 40 min
    expect(fireTimesBetween(everyMinute, from, d("2026-01-03T00:00:00Z"), 0)).toEqual([]);
  });

  it("is empty when nothing falls in the window, or the window is empty", () => {
    expect(fireTimesBetween({ cron: "0 0 * * *" }, d("2026-01-01T00:00:00Z"), d("2026-01-01T23:59:59Z"))).toEqual([]);
    expect(fireTimesBetween(everyMinute, d("2026-01-01T01:00:00Z"), d("2026-01-01T00:00:00Z"))).toEqual([]);
  });

  it("lists missed interval fires too", () => {
    const timing: ScheduleTiming = { everySeconds: 900, startAt: d("2026-01-01T00:05:00Z") };
    expect(isos(fireTimesBetween(timing, d("2026-01-01T00:00:00Z"), d("2026-01-01T00:50:00Z")))).toEqual([
      "2026-01-01T00:05:00.000Z",
      "2026-01-01T00:20:00.000Z",
      "2026-01-01T00:35:00.000Z",
      "2026-01-01T00:50:00.000Z",
    ]);
  });
});

describe("jitterMs", () => {
  const at = d("2026-01-01T00:00:00Z");

  it("is deterministic for one (scheduleId, scheduledAt)", () => {
    expect(jitterMs("sch_1", at, 30)).toBe(jitterMs("sch_1", new Date(at.getTime()), 30));
  });

  it("stays within [0, jitterSeconds*1000) and is an integer", () => {
    for (let i = 0; i < 500; i++) {
      const value = jitterMs(`sch_${i}`, new Date(at.getTime() + i * 60_000), 10);
      expect(Number.isInteger(value)).toBe(true);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(10_000);
    }
  });

  it("differs between fires of one schedule, and between schedules", () => {
    const values = new Set<number>();
    for (let i = 0; i < 100; i++) values.add(jitterMs("sch_1", new Date(at.getTime() + i * 60_000), 60));
    // 100 draws from 60 000 values: a handful of collisions at most.
    expect(values.size).toBeGreaterThan(95);
    expect(jitterMs("sch_1", at, 60)).not.toBe(jitterMs("sch_2", at, 60));
  });

  it("is 0 without jitter and refuses a negative one", () => {
    expect(jitterMs("sch_1", at, 0)).toBe(0);
    expect(() => jitterMs("sch_1", at, -1)).toThrow(RangeError);
  });
});
