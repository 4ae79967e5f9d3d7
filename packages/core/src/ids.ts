import { randomString } from "./random.ts";

/**
 * The one registry of id prefixes. An id names its kind (`run_…`, `prj_…`) so a pasted id is
 * recognisable in logs and support requests, and a run id can never be mistaken for a project id.
 */
export const ID_PREFIXES = {
  project: "prj",
  apiKey: "key",
  recording: "rec",
  run: "run",
  event: "evt",
  suite: "ste",
  suiteRun: "srn",
  schedule: "sch",
  channel: "chn",
  notification: "ntf",
  delivery: "dlv",
  alertRule: "alr",
  maintenanceWindow: "mnt",
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

// Crockford base32, lower case: no i/l/o/u, so ids survive being read aloud or retyped.
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

function encodeTime(ms: number): string {
  let out = "";
  let value = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[value % 32] + out;
    value = Math.floor(value / 32);
  }
  return out;
}

/**
 * A new id of the given kind: prefix, then 10 characters of millisecond time and 16 random
 * characters (80 bits). Ids of one kind sort by creation time, which keeps B-tree inserts local.
 */
export function newId(kind: IdKind, now: number = Date.now()): string {
  return `${ID_PREFIXES[kind]}_${encodeTime(now)}${randomString(16, ALPHABET)}`;
}

const ID_BODY = /^[0-9a-hjkmnp-tv-z]{26}$/;

/** True when `value` is a well-formed id of the given kind. */
export function isId(kind: IdKind, value: string): boolean {
  const prefix = `${ID_PREFIXES[kind]}_`;
  return value.startsWith(prefix) && ID_BODY.test(value.slice(prefix.length));
}
