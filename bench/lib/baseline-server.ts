/**
 * The enqueue baseline: a bare Fastify route that does what POST /api/runs must do at minimum —
 * store the request body as jsonb (one INSERT) and one BullMQ `add` with `removeOnComplete` —
 * with no logger, auth, validation, event row or idempotency. Its own process, like the API, so
 * autocannon does not share its event loop.
 *
 * Env: DATABASE_URL, REDIS_URL, QUEUE_PREFIX, PORT. Prints "baseline listening" when ready.
 */
import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import Fastify from "fastify";
import { Redis } from "ioredis";
import postgres from "postgres";

const env = {
  databaseUrl: process.env.DATABASE_URL ?? "",
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  prefix: process.env.QUEUE_PREFIX ?? "bench-baseline",
  port: Number(process.env.PORT ?? 0),
};

// Same pool size as the API's default DB_POOL_SIZE.
const sql = postgres(env.databaseUrl, { max: 10, onnotice: () => {} });
await sql`create table if not exists bench_baseline_runs (
  id text primary key,
  payload jsonb not null,
  created_at timestamptz not null default now()
)`;
const connection = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
const queue = new Queue("runs", { connection, prefix: env.prefix });

const app = Fastify();
app.post("/baseline/runs", async (request, reply) => {
  const id = randomUUID();
  await sql`insert into bench_baseline_runs (id, payload) values (${id}, ${sql.json(request.body as never)})`;
  await queue.add("run", { runId: id, projectId: "bench" }, { jobId: id, removeOnComplete: true });
  return reply.code(202).send({ id });
});
await app.listen({ port: env.port, host: "127.0.0.1" });
console.log("baseline listening");

const stop = async () => {
  await app.close();
  await queue.close();
  connection.disconnect();
  await sql.end({ timeout: 1 });
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
