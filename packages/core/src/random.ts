import { randomFillSync } from "node:crypto";

/**
 * Cryptographically random bytes for the per-request hot path (run and event ids, AES-GCM IVs).
 *
 * `crypto.randomBytes(12)` costs ~5 µs per call (one trip into OpenSSL for a few bytes), and a
 * `POST /api/runs` needs three; this fills a 4 KiB buffer at once and hands out slices of it, the
 * way Node's own `crypto.randomUUID` caches its entropy (docs/benchmarks.md). The bytes are the
 * same CSPRNG output, each handed out once.
 */
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** Index in `pool` of `length` fresh random bytes (refills the pool when it runs short). */
function take(length: number): number {
  if (offset + length > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += length;
  return start;
}

/** `length` fresh random bytes in a buffer of their own (up to 4096; larger asks fill directly). */
export function randomBytesFast(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  if (length > POOL_SIZE) return randomFillSync(out);
  const start = take(length);
  pool.copy(out, 0, start, start + length);
  return out;
}

/** Maps `length` fresh random bytes through `alphabet` (whose length must divide 256). */
export function randomString(length: number, alphabet: string): string {
  if (length > POOL_SIZE || 256 % alphabet.length !== 0) {
    throw new RangeError("randomString: length up to 4096 and an alphabet whose length divides 256");
  }
  const start = take(length);
  let out = "";
  for (let i = start; i < start + length; i++) out += alphabet[(pool[i] as number) % alphabet.length];
  return out;
}
