/**
 * postgres.js 3.4.9 has two defects that turn a dropped database connection into a crashed
 * process, both patched in `patches/postgres@3.4.9.patch` (see docs/operations.md):
 * - a query issued on a connection that has already closed (a transaction's next statement after
 *   its backend was terminated) schedules a write on a null socket: an uncaught TypeError from a
 *   timer (porsager/postgres#1154, #1208);
 * - the driver's own array-types query, the first statement on every new connection, is never
 *   awaited: when that connection drops, its rejection is unhandled (#1192, #1205).
 * Each test drives the failure through real Postgres (directly, or through a loopback TCP proxy
 * that resets the connection) and fails on the unpatched driver: Vitest reports the uncaught
 * error or unhandled rejection, and the listeners below name it.
 */
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPostgresDb, type DbHandle } from "../src/client.ts";
import { createEmptyTestDatabase } from "../src/testing.ts";

let database: { url: string; name: string; drop(): Promise<void> };
let admin: DbHandle;
const escaped: unknown[] = [];
const onEscape = (error: unknown) => escaped.push(error);

beforeAll(async () => {
  database = await createEmptyTestDatabase("driver");
  admin = await createPostgresDb({ url: database.url, maxConnections: 1, applicationName: "driver-test-admin" });
  process.on("uncaughtException", onEscape);
  process.on("unhandledRejection", onEscape);
});

afterAll(async () => {
  process.off("uncaughtException", onEscape);
  process.off("unhandledRejection", onEscape);
  await admin?.close();
  await database?.drop();
});

afterEach(() => {
  escaped.length = 0;
});

/** The driver's error code, under drizzle's wrapper if there is one. */
const driverCode = (error: { code?: string; cause?: { code?: string } }) => error.cause?.code ?? error.code;

/** Lets timers and immediates scheduled by the driver run, so what escapes has escaped. */
const settle = () => sleep(300);

/** A TCP proxy to the test server that resets (RST) the first connection whose client sends `trigger`. */
async function resettingProxy(trigger: string): Promise<{ url: string; resets: number; close(): Promise<void> }> {
  const target = new URL(database.url);
  const state = { resets: 0 };
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    open.add(client);
    open.add(upstream);
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    upstream.pipe(client);
    client.on("data", (chunk: Buffer) => {
      if (state.resets === 0 && chunk.includes(trigger)) {
        state.resets += 1;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(database.url);
  url.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    url: url.toString(),
    get resets() {
      return state.resets;
    },
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("postgres.js on a connection that drops", () => {
  it("a transaction's statement after its backend was terminated rejects; nothing escapes", async () => {
    const db = await createPostgresDb({ url: database.url, maxConnections: 2, applicationName: "driver-test-tx" });
    try {
      let second: unknown = "not reached";
      const outcome = await db.db
        .transaction(async (tx) => {
          await tx.execute(sql`select 1`);
          await admin.query(
            "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'driver-test-tx'",
          );
          // Let the client see the connection close before the transaction goes on.
          await sleep(200);
          second = await tx.execute(sql`select 2`).then(() => "resolved", driverCode);
        })
        .then(() => "committed", driverCode);
      await settle();
      expect(escaped, "nothing may escape as an uncaught error or unhandled rejection").toEqual([]);
      expect(outcome).not.toBe("committed");
      expect(second).toBe("CONNECTION_CLOSED");
      // The pool recovers: the next statement runs on a new connection.
      expect(await db.query<{ n: number }>("select 3 as n")).toEqual([{ n: 3 }]);
    } finally {
      await db.close();
    }
  });

  it("a connection reset during the driver's array-types query fails the waiting query only", async () => {
    const proxy = await resettingProxy("pg_catalog.pg_type");
    const db = await createPostgresDb({ url: proxy.url, maxConnections: 1, applicationName: "driver-test-types" });
    try {
      const first = await db.query("select 1 as n").then(() => "resolved", driverCode);
      await settle();
      expect(proxy.resets).toBe(1);
      expect(escaped, "nothing may escape as an uncaught error or unhandled rejection").toEqual([]);
      expect(first).toBe("ECONNRESET");
      expect(await db.query<{ n: number }>("select 2 as n")).toEqual([{ n: 2 }]);
    } finally {
      await db.close();
      await proxy.close();
    }
  });
});
