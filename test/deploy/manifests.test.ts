/**
 * Static checks of the deployment files (no Docker or cluster here): every YAML parses, the
 * expected objects exist, every variable they set is one Conveyor parses (and the sets parse as a
 * whole), probes and ports match what the API serves, grace periods exceed the drain, Redis
 * cannot evict jobs, the Dockerfile runs Node under tini, as a non-root user, with Chromium, and
 * workers are isolated: no ADMIN_TOKEN, a NetworkPolicy and a network of their own that keep them
 * from the API and private addresses, and an explicit Chromium sandbox mode.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { BlockList, isIP } from "node:net";
import path from "node:path";
import { commonEnvShape, createLogger, RUNS_QUEUE } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { type Document, parseAllDocuments } from "yaml";
import { apiEnvSchema, apiEnvShape } from "../../packages/api/src/env.ts";
import { createApiMetrics, type MetricsDeps } from "../../packages/api/src/plugins/metrics.ts";
import { registerHealth } from "../../packages/api/src/routes/health.ts";
import { startEnvSchema } from "../../packages/cli/src/env.ts";
import { workerEnvSchema, workerEnvShape } from "../../packages/worker/src/env.ts";
import { startMetricsServer, WorkerMetrics } from "../../packages/worker/src/metrics.ts";

/** Fastify's instance type, through the API's own dependency (the root has no fastify). */
type FastifyInstance = Parameters<typeof registerHealth>[0];

const ROOT = path.resolve(import.meta.dirname, "../..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

// ---- loading ----------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function obj(value: unknown, what: string): Obj {
  if (!isObj(value)) throw new Error(`${what}: expected a mapping, got ${JSON.stringify(value)}`);
  return value;
}
function list(value: unknown): Json[] {
  return Array.isArray(value) ? (value as Json[]) : [];
}
function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Every document of a YAML file (merge keys `<<` resolved), failing on any parse error. */
function loadYaml(file: string): Obj[] {
  const docs: Document.Parsed[] = parseAllDocuments(read(file), { merge: true }) as Document.Parsed[];
  return docs.map((doc, index) => {
    if (doc.errors.length > 0) throw new Error(`${file} document ${index}: ${doc.errors[0]?.message}`);
    return obj(doc.toJS(), `${file} document ${index}`);
  });
}

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((file) => /\.ya?ml$/.test(file))
    .map((file) => path.join(dir, file))
    .sort();
}

const K8S_FILES = yamlFilesUnder("k8s");
const k8sObjects = K8S_FILES.flatMap((file) => loadYaml(file).map((doc) => ({ file, doc })));
const compose = loadYaml("docker-compose.prod.yml")[0] ?? {};
const services = obj(compose.services, "services");

function k8s(kind: string, name?: string): Obj {
  const found = k8sObjects.find(
    ({ doc }) => doc.kind === kind && (name === undefined || obj(doc.metadata, kind).name === name),
  );
  if (!found) throw new Error(`k8s/ has no ${kind}${name ? ` named ${name}` : ""}`);
  return found.doc;
}

function podSpec(workload: Obj): Obj {
  return obj(obj(obj(workload.spec, "spec").template, "template").spec, "pod spec");
}
function firstContainer(workload: Obj): Obj {
  return obj(list(podSpec(workload).containers)[0], "container");
}

// ---- the variables Conveyor parses ------------------------------------------------------------

const PARSED = new Set([
  ...Object.keys(commonEnvShape),
  ...Object.keys(apiEnvShape),
  ...Object.keys(workerEnvShape),
  ...Object.keys(startEnvSchema.shape),
]);

/** Valid stand-ins for the values a deployment must supply itself (secrets, passwords). */
const SAMPLE_VALUES: Record<string, string> = {
  POSTGRES_PASSWORD: "pg-password",
  SECRETS_KEY: "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0",
  ADMIN_TOKEN: "admin-token-0123456789abcdef",
  MINIO_ROOT_USER: "conveyor",
  MINIO_ROOT_PASSWORD: "minio-password",
  S3_ACCESS_KEY_ID: "access-key",
  S3_SECRET_ACCESS_KEY: "secret-key",
  METRICS_TOKEN: "metrics-token-0123456789abcdef",
};

const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}/g;

/**
 * Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}`, `${VAR:+replacement}` and their forms
 * without the colon, which test only for unset, not empty (`$$` is a literal `$`).
 */
function interpolate(value: string, variables: Record<string, string>): string {
  return value
    .split("$$")
    .map((part) =>
      part.replace(INTERPOLATION, (_match, name: string, operator: string | undefined, rest: string | undefined) => {
        const given = variables[name];
        const isSet = operator?.startsWith(":") ? given !== undefined && given !== "" : given !== undefined;
        if (operator?.endsWith("-")) return isSet ? (given ?? "") : (rest ?? "");
        if (operator?.endsWith("+")) return isSet ? (rest ?? "") : "";
        if (given === undefined) throw new Error(`\${${name}} has no value and no default`);
        return given;
      }),
    )
    .join("$");
}

/** Variables `${…}` in `text` without a default, i.e. that .env must define. */
function requiredInterpolations(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(INTERPOLATION)) {
    if (match[1] && (match[2] === undefined || match[2].endsWith("?"))) names.add(match[1]);
  }
  return names;
}

function envFile(file: string): Map<string, string> {
  const variables = new Map<string, string>();
  for (const line of read(file).split("\n")) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1]) variables.set(match[1], match[2] ?? "");
  }
  return variables;
}

/** Compose services that run the Conveyor image (not Postgres, Redis, MinIO, mc). */
function conveyorServices(): [string, Obj][] {
  return Object.entries(services)
    .map(([name, service]) => [name, obj(service, name)] as [string, Obj])
    .filter(([, service]) => str(service.image)?.includes("CONVEYOR_IMAGE") === true);
}

function composeEnv(service: Obj): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(obj(service.environment ?? {}, "environment"))) {
    env[name] = String(value);
  }
  return env;
}

/** `30s`, `1m30s`, `500ms` → ms (compose durations). */
function durationMs(value: string): number {
  let total = 0;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  const parts = value.match(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g);
  if (!parts || parts.join("") !== value) throw new Error(`not a compose duration: ${value}`);
  for (const part of parts) {
    const match = /(\d+(?:\.\d+)?)(ms|us|h|m|s)/.exec(part);
    if (match?.[1] && match[2]) total += Number(match[1]) * (units[match[2]] ?? Number.NaN);
  }
  return total;
}

/** What a container's environment resolves to: envFrom ConfigMap/Secret, then env values. */
function containerEnv(container: Obj): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of list(container.envFrom)) {
    const from = obj(source, "envFrom");
    if (isObj(from.configMapRef)) {
      const data = obj(k8s("ConfigMap", str(from.configMapRef.name)).data, "data");
      for (const [key, value] of Object.entries(data)) env[key] = String(value);
    }
    if (isObj(from.secretRef)) {
      const data = obj(k8s("Secret", str(from.secretRef.name)).stringData, "stringData");
      for (const key of Object.keys(data)) env[key] = SAMPLE_VALUES[key] ?? "postgres://u:p@db:5432/conveyor";
    }
  }
  for (const entry of list(container.env)) {
    const variable = obj(entry, "env");
    const name = str(variable.name) ?? "";
    const secretKey =
      isObj(variable.valueFrom) && isObj(variable.valueFrom.secretKeyRef) ? variable.valueFrom.secretKeyRef : null;
    env[name] =
      str(variable.value) ??
      (secretKey ? (SAMPLE_VALUES[str(secretKey.key) ?? ""] ?? `from-${name.toLowerCase()}`) : undefined) ??
      (isObj(variable.valueFrom) ? `from-${name.toLowerCase()}` : "");
  }
  return env;
}

/** The labels of an object (a pod template's: those its pods get). */
function labelsOf(object: Obj): Record<string, string> {
  const labels = obj(obj(object.metadata ?? {}, "metadata").labels ?? {}, "labels");
  return Object.fromEntries(Object.entries(labels).map(([key, value]) => [key, String(value)]));
}

/** A Kubernetes label selector (matchLabels and matchExpressions) against a set of labels. */
function selects(selector: Obj, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(obj(selector.matchLabels ?? {}, "matchLabels"))) {
    if (labels[key] !== String(value)) return false;
  }
  for (const expression of list(selector.matchExpressions)) {
    const { key, operator, values } = obj(expression, "matchExpression");
    const value = labels[String(key)];
    const among = list(values).map(String);
    if (operator === "In" && (value === undefined || !among.includes(value))) return false;
    if (operator === "NotIn" && value !== undefined && among.includes(value)) return false;
    if (operator === "Exists" && value === undefined) return false;
    if (operator === "DoesNotExist" && value !== undefined) return false;
  }
  return true;
}

// ---- the tests --------------------------------------------------------------------------------

describe("YAML", () => {
  it("every file parses, document by document, into objects", () => {
    expect(K8S_FILES.length).toBeGreaterThan(5);
    for (const { file, doc } of k8sObjects) {
      expect(str(doc.apiVersion), `${file}: apiVersion`).toBeTruthy();
      expect(str(doc.kind), `${file}: kind`).toBeTruthy();
    }
    expect(Object.keys(services).length).toBeGreaterThan(0);
  });

  it("k8s/ has every object a deployment needs", () => {
    const kinds = k8sObjects.map(({ doc }) => `${doc.kind}/${obj(doc.metadata ?? {}, "metadata").name ?? ""}`);
    for (const expected of [
      "Namespace/conveyor",
      "ConfigMap/conveyor-config",
      "Secret/conveyor-secrets",
      "Secret/conveyor-admin",
      "Deployment/conveyor-api",
      "Service/conveyor-api",
      "PodDisruptionBudget/conveyor-api",
      "Deployment/conveyor-worker",
      "NetworkPolicy/conveyor-worker",
      "Job/conveyor-migrate",
      "HorizontalPodAutoscaler/conveyor-worker",
      "ScaledObject/conveyor-worker",
      "ConfigMap/prometheus-adapter",
      "Secret/conveyor-metrics",
      "PodMonitor/conveyor",
    ]) {
      expect(kinds).toContain(expected);
    }
  });

  it("the kustomization lists files that exist, and not the migration Job, the KEDA alternative or the Secrets", () => {
    const kustomization = k8s("Kustomization");
    const resources = list(kustomization.resources).map(String);
    for (const resource of resources) expect(existsSync(path.join(ROOT, "k8s", resource)), resource).toBe(true);
    expect(resources).not.toContain("migrate-job.yaml");
    expect(resources.some((resource) => resource.includes("keda"))).toBe(false);
    // The placeholders would overwrite the real Secrets on every `kubectl apply -k`.
    const secretFiles = k8sObjects
      .filter(({ doc }) => doc.kind === "Secret")
      .map(({ file }) => path.relative("k8s", file));
    expect(secretFiles.length).toBeGreaterThan(0);
    for (const file of secretFiles) expect(resources, file).not.toContain(file);
    // Every Deployment, Service and NetworkPolicy is applied.
    for (const { file, doc } of k8sObjects) {
      if (["Deployment", "Service", "NetworkPolicy"].includes(String(doc.kind))) {
        expect(resources, `${doc.kind} in ${file}`).toContain(path.relative("k8s", file));
      }
    }
  });
});

describe("variables", () => {
  it("compose sets only variables Conveyor parses, on every service running its image", () => {
    const unknown: string[] = [];
    for (const [name, service] of conveyorServices()) {
      for (const variable of Object.keys(composeEnv(service))) {
        if (!PARSED.has(variable)) unknown.push(`${name}: ${variable}`);
      }
    }
    expect(conveyorServices().map(([name]) => name)).toEqual(expect.arrayContaining(["api", "worker", "migrate"]));
    expect(unknown, `set in docker-compose.prod.yml, parsed by nothing: ${unknown.join(", ")}`).toEqual([]);
  });

  it("k8s sets only variables Conveyor parses (ConfigMap, Secret, container env)", () => {
    const unknown: string[] = [];
    const check = (where: string, names: string[]) => {
      for (const name of names) if (!PARSED.has(name)) unknown.push(`${where}: ${name}`);
    };
    check("ConfigMap conveyor-config", Object.keys(obj(k8s("ConfigMap", "conveyor-config").data, "data")));
    for (const { doc } of k8sObjects) {
      if (doc.kind !== "Secret") continue;
      check(`Secret ${obj(doc.metadata, "metadata").name}`, Object.keys(obj(doc.stringData, "stringData")));
    }
    for (const { doc } of k8sObjects) {
      if (doc.kind !== "Deployment" && doc.kind !== "Job") continue;
      for (const container of list(podSpec(doc).containers)) {
        check(
          `${doc.kind} ${obj(doc.metadata, "metadata").name}`,
          list(obj(container, "c").env).map((e) => String(obj(e, "env").name)),
        );
      }
    }
    expect(unknown, `set in k8s/, parsed by nothing: ${unknown.join(", ")}`).toEqual([]);
  });

  it("compose's environments parse, cross-field rules included, with S3 on MinIO", () => {
    const variables = { ...Object.fromEntries(envFile(".env.example")), ...SAMPLE_VALUES };
    const env = (name: string) =>
      Object.fromEntries(
        Object.entries(composeEnv(obj(services[name], name))).map(([key, value]) => [
          key,
          interpolate(value, variables),
        ]),
      );
    const api = apiEnvSchema.parse(env("api"));
    const worker = workerEnvSchema.parse(env("worker"));
    for (const parsed of [api, worker]) {
      expect(parsed.ARTIFACT_STORE).toBe("s3");
      expect(parsed.S3_ENDPOINT).toBe("http://minio:9000");
      expect(parsed.S3_BUCKET).toBeTruthy();
      expect(parsed.DATABASE_URL).toMatch(/@postgres:5432\//);
      expect(parsed.REDIS_URL).toBe("redis://redis:6379");
    }
    expect(api.SHUTDOWN_READINESS_DELAY_MS).toBeGreaterThan(0);
    expect(Object.keys(services)).toEqual(expect.arrayContaining(["postgres", "redis", "minio"]));
  });

  it("k8s containers' environments parse, cross-field rules included", () => {
    const api = apiEnvSchema.parse(containerEnv(firstContainer(k8s("Deployment", "conveyor-api"))));
    const worker = workerEnvSchema.parse(containerEnv(firstContainer(k8s("Deployment", "conveyor-worker"))));
    expect(api.ARTIFACT_STORE).toBe("s3");
    expect(worker.ARTIFACT_STORE).toBe("s3");
    expect(api.SHUTDOWN_READINESS_DELAY_MS).toBeGreaterThan(0);
  });

  it(".env.example defines every variable compose needs without a default", () => {
    const defined = envFile(".env.example");
    const missing = [...requiredInterpolations(read("docker-compose.prod.yml"))].filter((name) => !defined.has(name));
    expect(missing, `add to .env.example: ${missing.join(", ")}`).toEqual([]);
  });
});

describe("probes, ports and commands", () => {
  const PORT = apiEnvShape.PORT.parse(undefined);

  it("the probed paths are routes the API registers", async () => {
    const require = createRequire(path.join(ROOT, "packages/api/package.json"));
    const { fastify } = (await import(require.resolve("fastify"))) as { fastify: () => FastifyInstance };
    const zod = (await import(require.resolve("fastify-type-provider-zod"))) as {
      serializerCompiler: Parameters<FastifyInstance["setSerializerCompiler"]>[0];
      validatorCompiler: Parameters<FastifyInstance["setValidatorCompiler"]>[0];
    };
    const app = fastify();
    // As app.ts sets them up, so that routes with zod schemas compile.
    app.setValidatorCompiler(zod.validatorCompiler);
    app.setSerializerCompiler(zod.serializerCompiler);
    // Only the registration is inspected: no request is made, so the dependencies are never used.
    registerHealth(app, { isShuttingDown: () => false } as unknown as Parameters<typeof registerHealth>[1]);
    await app.ready();
    for (const url of ["/api/health", "/api/health/ready"])
      expect(app.hasRoute({ method: "GET", url }), url).toBe(true);
    await app.close();
  });

  it("the API Deployment probes readiness and liveness on the port it listens on", () => {
    const deployment = k8s("Deployment", "conveyor-api");
    const container = firstContainer(deployment);
    const env = containerEnv(container);
    const port = Number(env.PORT ?? PORT);
    expect(port).toBe(PORT);
    const ports = list(container.ports).map((p) => obj(p, "port"));
    expect(ports).toContainEqual({ name: "http", containerPort: port });
    const probe = (name: string) => obj(obj(container[name], name).httpGet, `${name}.httpGet`);
    expect(probe("readinessProbe")).toMatchObject({ path: "/api/health/ready" });
    expect(probe("livenessProbe")).toMatchObject({ path: "/api/health" });
    for (const name of ["readinessProbe", "livenessProbe"]) expect([port, "http"]).toContain(probe(name).port);
    const service = obj(k8s("Service", "conveyor-api").spec, "spec");
    expect(list(service.ports).map((p) => obj(p, "port").targetPort)).toContain("http");
    expect(obj(k8s("PodDisruptionBudget", "conveyor-api").spec, "spec").minAvailable).toBeGreaterThanOrEqual(1);
  });

  it("the worker's liveness probe and healthcheck ask its metrics server, on WORKER_METRICS_PORT", async () => {
    const container = firstContainer(k8s("Deployment", "conveyor-worker"));
    const port = Number(containerEnv(container).WORKER_METRICS_PORT);
    expect(port).toBeGreaterThan(0);
    expect(list(container.ports).map((p) => obj(p, "port"))).toContainEqual({ name: "metrics", containerPort: port });
    const probe = list(obj(obj(container.livenessProbe, "livenessProbe").exec, "exec").command).join(" ");
    expect(probe).toContain(`http://127.0.0.1:${port}/metrics`);
    const worker = obj(services.worker, "worker");
    const composePort = Number(composeEnv(worker).WORKER_METRICS_PORT);
    expect(list(obj(worker.healthcheck, "healthcheck").test).join(" ")).toContain(
      `http://127.0.0.1:${composePort}/metrics`,
    );
    // Both send METRICS_TOKEN, without which the metrics server refuses them.
    expect(probe).toContain("process.env.METRICS_TOKEN");
    expect(list(obj(worker.healthcheck, "healthcheck").test).join(" ")).toContain("process.env.METRICS_TOKEN");
    // The path is what the worker's metrics server serves, to the probe's bearer token.
    const token = SAMPLE_VALUES.METRICS_TOKEN;
    const server = await startMetricsServer({
      registry: new WorkerMetrics().registry,
      port: 0,
      token,
      logger: createLogger({ level: "silent" }),
    });
    try {
      expect(new URL(server.url).pathname).toBe("/metrics");
      expect((await fetch(server.url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect((await fetch(server.url)).status).toBe(401);
    } finally {
      await server.close();
    }
  });

  it("compose's API healthcheck asks readiness on the API's port", () => {
    const api = obj(services.api, "api");
    const test = list(obj(api.healthcheck, "healthcheck").test).join(" ");
    expect(test).toContain(`http://127.0.0.1:${Number(composeEnv(api).PORT ?? PORT)}/api/health/ready`);
    expect(obj(obj(api.deploy, "deploy"), "deploy").replicas).toBe(2);
    expect(obj(obj(services.worker, "worker").deploy, "deploy").replicas).toBe(4);
  });

  it("postgres and redis have healthchecks; API and worker wait for migrate to complete", () => {
    expect(list(obj(obj(services.postgres, "postgres").healthcheck, "hc").test)).toContain("pg_isready");
    expect(list(obj(obj(services.redis, "redis").healthcheck, "hc").test).join(" ")).toContain("ping");
    for (const name of ["api", "worker"]) {
      const dependsOn = obj(obj(services[name], name).depends_on, `${name}.depends_on`);
      expect(obj(dependsOn.migrate, "migrate").condition, name).toBe("service_completed_successfully");
    }
  });

  it("every command runs a file that exists", () => {
    const commands: string[][] = [
      ...conveyorServices().flatMap(([, service]) => (service.command ? [list(service.command).map(String)] : [])),
      ...k8sObjects
        .filter(({ doc }) => doc.kind === "Deployment" || doc.kind === "Job")
        .flatMap(({ doc }) => list(podSpec(doc).containers))
        .flatMap((container) => (obj(container, "c").command ? [list(obj(container, "c").command).map(String)] : [])),
    ];
    const dockerCmd = /^CMD (\[.*\])$/m.exec(read("Dockerfile"))?.[1];
    expect(dockerCmd).toBeDefined();
    commands.push(JSON.parse(dockerCmd ?? "[]") as string[]);
    expect(commands.length).toBeGreaterThanOrEqual(5);
    for (const command of commands) {
      // Node 24 runs the sources itself (type stripping): no loader, no transpiler in the image.
      expect(command[0], command.join(" ")).toBe("node");
      expect(command[1], command.join(" ")).toMatch(/^packages\/.*\.ts$/);
      expect(existsSync(path.join(ROOT, command[1] ?? "")), command.join(" ")).toBe(true);
    }
    expect(commands.map((c) => c[1])).toEqual(
      expect.arrayContaining([
        "packages/api/src/bin/server.ts",
        "packages/worker/src/bin/worker.ts",
        "packages/db/src/bin/migrate.ts",
      ]),
    );
  });
});

describe("shutdown and grace periods", () => {
  const DEFAULT_SHUTDOWN_TIMEOUT_MS = workerEnvShape.SHUTDOWN_TIMEOUT_MS.parse(undefined);

  it("the worker's terminationGracePeriodSeconds exceeds SHUTDOWN_TIMEOUT_MS plus a margin", () => {
    const deployment = k8s("Deployment", "conveyor-worker");
    const timeoutMs = Number(
      containerEnv(firstContainer(deployment)).SHUTDOWN_TIMEOUT_MS ?? DEFAULT_SHUTDOWN_TIMEOUT_MS,
    );
    const grace = Number(podSpec(deployment).terminationGracePeriodSeconds);
    expect(grace).toBeGreaterThan(timeoutMs / 1000);
    expect(grace - timeoutMs / 1000, "docs/operations.md asks for ~10 s of margin").toBeGreaterThanOrEqual(10);
  });

  it("the API's terminationGracePeriodSeconds exceeds SHUTDOWN_READINESS_DELAY_MS", () => {
    const deployment = k8s("Deployment", "conveyor-api");
    const delayMs = Number(containerEnv(firstContainer(deployment)).SHUTDOWN_READINESS_DELAY_MS ?? 0);
    expect(Number(podSpec(deployment).terminationGracePeriodSeconds)).toBeGreaterThan(delayMs / 1000 + 5);
  });

  it("compose's stop_grace_period exceeds the worker drain and the API's readiness delay", () => {
    const worker = obj(services.worker, "worker");
    const timeoutMs = Number(composeEnv(worker).SHUTDOWN_TIMEOUT_MS ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
    expect(durationMs(String(worker.stop_grace_period))).toBeGreaterThanOrEqual(timeoutMs + 10_000);
    const api = obj(services.api, "api");
    const delayMs = Number(composeEnv(api).SHUTDOWN_READINESS_DELAY_MS ?? 0);
    expect(durationMs(String(api.stop_grace_period))).toBeGreaterThan(delayMs + 5000);
  });
});

describe("metrics", () => {
  const METRICS_SERVERS = ["conveyor-api", "conveyor-worker"] as const;

  /** Whether a parsed environment lets a scraper in at all: GET /metrics is refused without either. */
  function scrapeable(env: { METRICS_TOKEN?: string | undefined; METRICS_PUBLIC: boolean }): boolean {
    return env.METRICS_TOKEN !== undefined || env.METRICS_PUBLIC;
  }

  /** The Secret and key a container's METRICS_TOKEN comes from (envFrom or secretKeyRef), if any. */
  function metricsTokenSource(container: Obj): { name: string; key: string } | undefined {
    for (const entry of list(container.env)) {
      const variable = obj(entry, "env");
      const ref = isObj(variable.valueFrom) ? variable.valueFrom.secretKeyRef : undefined;
      if (variable.name === "METRICS_TOKEN" && isObj(ref)) return { name: String(ref.name), key: String(ref.key) };
    }
    for (const source of list(container.envFrom)) {
      const ref = obj(source, "envFrom").secretRef;
      if (!isObj(ref)) continue;
      const secret = k8s("Secret", String(ref.name));
      if (
        "METRICS_TOKEN" in obj(secret.stringData ?? {}, "stringData") ||
        "METRICS_TOKEN" in obj(secret.data ?? {}, "data")
      )
        return { name: String(ref.name), key: "METRICS_TOKEN" };
    }
    return undefined;
  }

  it("compose gives the API and every worker METRICS_TOKEN, from .env and required there", () => {
    const variables = { ...Object.fromEntries(envFile(".env.example")), ...SAMPLE_VALUES };
    const schemas = { api: apiEnvSchema, worker: workerEnvSchema };
    for (const [name, schema] of Object.entries(schemas)) {
      const raw = composeEnv(obj(services[name], name));
      const env = schema.parse(
        Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, interpolate(value, variables)])),
      );
      expect(scrapeable(env), `${name}: GET /metrics would refuse every scrape`).toBe(true);
      // The API's port is published on the host: a token, never METRICS_PUBLIC.
      expect(env.METRICS_PUBLIC, name).toBe(false);
      // A secret: substituted from .env, which compose refuses to start without, never a literal here.
      expect(raw.METRICS_TOKEN, name).toMatch(/^\$\{METRICS_TOKEN:\?/);
      expect(env.METRICS_TOKEN, name).toBe(SAMPLE_VALUES.METRICS_TOKEN);
    }
    expect(requiredInterpolations(read("docker-compose.prod.yml"))).toContain("METRICS_TOKEN");
  });

  it("k8s gives the API and the worker pods METRICS_TOKEN from a Secret", () => {
    const schemas = { "conveyor-api": apiEnvSchema, "conveyor-worker": workerEnvSchema };
    for (const name of METRICS_SERVERS) {
      const container = firstContainer(k8s("Deployment", name));
      const env = schemas[name].parse(containerEnv(container));
      expect(scrapeable(env), `${name}: GET /metrics would refuse every scrape`).toBe(true);
      expect(metricsTokenSource(container), `${name}: METRICS_TOKEN from a Secret`).toBeDefined();
      expect(list(container.env).map((e) => obj(e, "env").name)).not.toContain("METRICS_PUBLIC");
    }
    // The worker's Secret holding it is not one holding ADMIN_TOKEN (checked under worker isolation).
    const source = metricsTokenSource(firstContainer(k8s("Deployment", "conveyor-api")));
    expect(source).toEqual(metricsTokenSource(firstContainer(k8s("Deployment", "conveyor-worker"))));
  });

  it("Prometheus gets the same token: a PodMonitor scrapes each metrics port with it as a bearer token", () => {
    const spec = obj(k8s("PodMonitor", "conveyor").spec, "spec");
    const endpoints = list(spec.podMetricsEndpoints).map((e) => obj(e, "podMetricsEndpoint"));
    const ports: Record<(typeof METRICS_SERVERS)[number], string> = {
      "conveyor-api": "http",
      "conveyor-worker": "metrics",
    };
    for (const name of METRICS_SERVERS) {
      const deployment = k8s("Deployment", name);
      const container = firstContainer(deployment);
      const labels = labelsOf(obj(obj(deployment.spec, "spec").template, "template"));
      expect(selects(obj(spec.selector, "selector"), labels), `the PodMonitor selects ${name}'s pods`).toBe(true);
      const portName = ports[name];
      expect(
        list(container.ports).map((p) => obj(p, "port").name),
        name,
      ).toContain(portName);
      const endpoint = endpoints.find((e) => e.port === portName);
      expect(endpoint, `an endpoint on ${name}'s port ${portName}`).toBeDefined();
      expect(endpoint?.path ?? "/metrics").toBe("/metrics");
      const authorization = obj(endpoint?.authorization, `${portName}.authorization`);
      expect(authorization.type ?? "Bearer").toBe("Bearer");
      expect(obj(authorization.credentials, "credentials")).toEqual(metricsTokenSource(container));
    }
  });
});

describe("Redis", () => {
  it("compose's Redis never evicts and persists (AOF)", () => {
    const command = list(obj(services.redis, "redis").command).map(String).join(" ");
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(command).toMatch(/--appendonly yes/);
    expect(str(obj(services.redis, "redis").image)).toMatch(/^redis:7/);
    expect(str(obj(services.postgres, "postgres").image)).toMatch(/^postgres:16/);
  });
});

describe("autoscaling", () => {
  /** What the worker Deployment runs per pod: the slots one pod adds. */
  const workerConcurrency = () =>
    workerEnvSchema.parse(containerEnv(firstContainer(k8s("Deployment", "conveyor-worker")))).WORKER_CONCURRENCY;
  /** The series the API publishes (names only: nothing is collected, no connection is used). */
  const apiSeries = createApiMetrics({} as MetricsDeps).registry;

  it("the HPA scales the worker Deployment on the demand (queued + running) per worker slot", () => {
    const spec = obj(k8s("HorizontalPodAutoscaler", "conveyor-worker").spec, "spec");
    expect(k8s("HorizontalPodAutoscaler").apiVersion).toBe("autoscaling/v2");
    expect(obj(spec.scaleTargetRef, "scaleTargetRef")).toMatchObject({ kind: "Deployment", name: "conveyor-worker" });
    expect(spec.minReplicas).toBe(2);
    expect(spec.maxReplicas).toBe(20);
    const metrics = list(spec.metrics).map((m) => obj(m, "metric"));
    // One metric: with a second (the backlog, say) the HPA takes the larger, and that is not the point.
    expect(metrics.length).toBe(1);
    const metric = obj(metrics[0], "metric");
    expect(metric.type).toBe("External");
    const external = obj(metric.external, "external");
    expect(obj(external.metric, "metric")).toEqual({
      name: "conveyor_run_demand",
      selector: { matchLabels: { queue: RUNS_QUEUE } },
    });
    expect(apiSeries.getSingleMetric("conveyor_run_demand"), "the API publishes conveyor_run_demand").toBeDefined();
    // desired pods = ceil(demand / target): the target is one pod's slots, so the demand per slot
    // is held at 1. Above WORKER_CONCURRENCY, pods full of running runs would be removed when the
    // queue empties; below it, slots would idle.
    const target = obj(external.target, "target");
    expect(target.type).toBe("AverageValue");
    expect(Number(target.averageValue)).toBe(workerConcurrency());
    const scaleDown = obj(obj(spec.behavior, "behavior").scaleDown, "scaleDown");
    expect(Number(scaleDown.stabilizationWindowSeconds)).toBeGreaterThan(0);
  });

  it("a fleet busy with running runs and an empty queue is not scaled down (HPA arithmetic)", () => {
    const spec = obj(k8s("HorizontalPodAutoscaler", "conveyor-worker").spec, "spec");
    const target = Number(
      obj(obj(obj(list(spec.metrics)[0], "metric").external, "external").target, "target").averageValue,
    );
    const desired = (demand: number) =>
      Math.min(Number(spec.maxReplicas), Math.max(Number(spec.minReplicas), Math.ceil(demand / target)));
    const slots = workerConcurrency();
    for (const pods of [2, 5, 20]) {
      // Every slot running, nothing queued: the autoscaler keeps every pod.
      expect(desired(pods * slots), `${pods} full pods, empty queue`).toBe(pods);
      // One more run queued: one more pod (up to the maximum).
      expect(desired(pods * slots + 1), `${pods} full pods, 1 queued`).toBe(
        Math.min(pods + 1, Number(spec.maxReplicas)),
      );
    }
    expect(desired(0)).toBe(spec.minReplicas);
  });

  it("the KEDA alternative and the prometheus-adapter rule follow the same series, with the same target", () => {
    const hpaMetric = obj(
      obj(obj(list(obj(k8s("HorizontalPodAutoscaler", "conveyor-worker").spec, "spec").metrics)[0], "m").external, "e")
        .metric,
      "metric",
    );
    const keda = obj(k8s("ScaledObject", "conveyor-worker").spec, "spec");
    expect(obj(keda.scaleTargetRef, "scaleTargetRef").name).toBe("conveyor-worker");
    const triggers = list(keda.triggers).map((t) => obj(t, "trigger"));
    expect(triggers.length).toBe(1);
    const trigger = obj(triggers[0], "trigger");
    expect(trigger.type).toBe("prometheus");
    expect(trigger.metricType ?? "AverageValue").toBe("AverageValue");
    const kedaMetadata = obj(trigger.metadata, "metadata");
    // max across API replicas: each reports the same queue-wide value.
    expect(String(kedaMetadata.query).replace(/\s+/g, "")).toBe(`max(conveyor_run_demand{queue="${RUNS_QUEUE}"})`);
    expect(Number(kedaMetadata.threshold)).toBe(workerConcurrency());
    expect(keda.minReplicaCount).toBe(2);
    expect(keda.maxReplicaCount).toBe(20);

    // The adapter's config is YAML inside the ConfigMap: parse it too.
    const adapterText = String(obj(k8s("ConfigMap", "prometheus-adapter").data, "data")["config.yaml"]);
    const adapter = obj(parseAllDocuments(adapterText)[0]?.toJS(), "adapter config.yaml");
    const rules = list(adapter.externalRules).map((r) => obj(r, "externalRule"));
    const rule = rules.find((r) => obj(r.name, "name").as === hpaMetric.name);
    expect(rule, `an external rule serving ${hpaMetric.name}`).toBeDefined();
    expect(String(rule?.seriesQuery)).toMatch(/^conveyor_run_demand\{/);
    expect(String(rule?.metricsQuery)).toMatch(/^max\(<<\.Series>>\{<<\.LabelMatchers>>\}\) by \(queue\)$/);
    expect(obj(obj(rule?.resources, "resources").overrides, "overrides")).toEqual({
      namespace: { resource: "namespace" },
    });
  });

  it("the worker's pods are sized for Chromium: memory requested and limited, a /tmp of their own", () => {
    const deployment = k8s("Deployment", "conveyor-worker");
    const resources = obj(firstContainer(deployment).resources, "resources");
    expect(obj(resources.requests, "requests").memory).toBeDefined();
    expect(obj(resources.limits, "limits").memory).toBeDefined();
    const mounts = list(firstContainer(deployment).volumeMounts).map((m) => obj(m, "mount").mountPath);
    expect(mounts).toContain("/tmp");
    const limits = obj(
      obj(obj(obj(services.worker, "worker").deploy, "deploy").resources, "resources").limits,
      "limits",
    );
    expect(limits.memory).toBeDefined();
  });
});

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile");
  const instructions = dockerfile
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((line) => /^[A-Z]+\s/.test(line));
  const last = (instruction: string) => instructions.filter((line) => line.startsWith(`${instruction} `)).at(-1) ?? "";

  it("is multi-stage on Debian bookworm slim Node 24", () => {
    expect(instructions.filter((line) => line.startsWith("FROM ")).length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/node:24-bookworm-slim/);
  });

  it("installs dependencies from the lockfile, and no transpiler is a production dependency", () => {
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile --prod/);
    const rootPackage = JSON.parse(read("package.json")) as { dependencies?: Record<string, string> };
    expect(rootPackage.dependencies?.tsx, "Node 24 runs the TypeScript itself").toBeUndefined();
    // Every workspace package's manifest is copied before the install.
    for (const pkg of readdirSync(path.join(ROOT, "packages"))) {
      if (existsSync(path.join(ROOT, "packages", pkg, "package.json"))) {
        expect(dockerfile).toContain(`COPY packages/${pkg}/package.json`);
      }
    }
    // The lockfile names the patched dependencies: without their patches the install fails.
    const workspace = read("pnpm-workspace.yaml");
    const patches = [...workspace.matchAll(/^\s+\S+:\s*(patches\/\S+)$/gm)].map((m) => m[1]);
    expect(patches.length, "pnpm-workspace.yaml patchedDependencies").toBeGreaterThan(0);
    const install = instructions.findIndex((line) => line.includes("pnpm install --frozen-lockfile --prod"));
    const copyPatches = instructions.findIndex((line) => /^COPY patches\/? patches\/?$/.test(line.trim()));
    expect(copyPatches, "COPY patches/ before the install").toBeGreaterThan(-1);
    expect(copyPatches).toBeLessThan(install);
  });

  it("builds the dashboard in its own stage and copies only its static files into the runtime", () => {
    expect(dockerfile).toMatch(/FROM \$\{NODE_IMAGE\} AS web/);
    expect(dockerfile).toMatch(/pnpm --filter @conveyor\/web build/);
    // Where the API serves /ui from (packages/api/src/routes/ui.ts: DEFAULT_UI_DIR).
    expect(dockerfile).toMatch(/COPY --from=web \/app\/packages\/web\/dist packages\/web\/dist/);
    const runtime = instructions.findIndex((line) => /^FROM .* AS runtime/.test(line));
    const copyDist = instructions.findIndex((line) => line.startsWith("COPY --from=web"));
    expect(copyDist).toBeGreaterThan(runtime);
    expect(read("packages/api/src/routes/ui.ts")).toContain('"../../../web/dist"');
  });

  it("installs chromium and ffmpeg from apt and points CHROMIUM_PATH at it", () => {
    const install = instructions.find((line) => line.includes("apt-get install")) ?? "";
    expect(install).toMatch(/\bchromium\b/);
    expect(install).toMatch(/\bffmpeg\b/);
    expect(install).toMatch(/\btini\b/);
    expect(dockerfile).toMatch(/CHROMIUM_PATH=\/usr\/bin\/chromium/);
  });

  it("runs as a non-root user, under tini, with the API as the default command", () => {
    const user = last("USER")
      .replace(/^USER\s+/, "")
      .trim();
    expect(user).not.toBe("");
    expect(["root", "0", "0:0"]).not.toContain(user);
    expect(last("ENTRYPOINT")).toMatch(/tini/);
    expect(last("CMD")).toContain("packages/api/src/bin/server.ts");
    expect(last("EXPOSE")).toContain(String(apiEnvShape.PORT.parse(undefined)));
  });

  it("has a .dockerignore keeping node_modules and .git out of the context", () => {
    const ignore = read(".dockerignore");
    expect(ignore).toMatch(/node_modules/);
    expect(ignore).toMatch(/^\.git$/m);
  });
});

describe("worker isolation", () => {
  const worker = k8s("Deployment", "conveyor-worker");
  const workerSpec = podSpec(worker);
  const workerLabels = labelsOf(obj(obj(worker.spec, "spec").template, "template"));
  const api = k8s("Deployment", "conveyor-api");
  const apiLabels = labelsOf(obj(obj(api.spec, "spec").template, "template"));
  const NAMESPACE = "conveyor";
  const namespaceLabels = {
    ...labelsOf(k8s("Namespace", NAMESPACE)),
    "kubernetes.io/metadata.name": NAMESPACE,
  };

  /** The keys of a Secret in k8s/; a Secret the manifests do not hold cannot be checked. */
  function secretKeys(name: string): string[] {
    const secret = k8s("Secret", name);
    return [...Object.keys(obj(secret.stringData ?? {}, "stringData")), ...Object.keys(obj(secret.data ?? {}, "data"))];
  }

  /** Every Secret a pod spec reads: envFrom, env secretKeyRef, secret and projected volumes. */
  function secretsReadBy(spec: Obj): string[] {
    const names: string[] = [];
    for (const container of [...list(spec.containers), ...list(spec.initContainers)].map((c) => obj(c, "container"))) {
      for (const source of list(container.envFrom)) {
        const ref = obj(source, "envFrom").secretRef;
        if (isObj(ref)) names.push(String(ref.name));
      }
      for (const entry of list(container.env)) {
        const from = obj(entry, "env").valueFrom;
        if (isObj(from) && isObj(from.secretKeyRef)) names.push(String(from.secretKeyRef.name));
      }
    }
    for (const volume of list(spec.volumes).map((v) => obj(v, "volume"))) {
      if (isObj(volume.secret)) names.push(String(volume.secret.secretName));
      if (isObj(volume.projected)) {
        for (const source of list(volume.projected.sources)) {
          const secret = obj(source, "source").secret;
          if (isObj(secret)) names.push(String(secret.name));
        }
      }
    }
    return names;
  }

  const workerPolicies = k8sObjects
    .map(({ doc }) => doc)
    .filter(
      (doc) =>
        doc.kind === "NetworkPolicy" &&
        (obj(doc.metadata, "metadata").namespace ?? NAMESPACE) === NAMESPACE &&
        selects(obj(obj(doc.spec, "spec").podSelector, "podSelector"), workerLabels),
    );
  const policyTypes = workerPolicies.flatMap((policy) => list(obj(policy.spec, "spec").policyTypes).map(String));
  const egressRules = workerPolicies.flatMap((policy) =>
    list(obj(policy.spec, "spec").egress).map((r) => obj(r, "rule")),
  );
  const ingressRules = workerPolicies.flatMap((policy) =>
    list(obj(policy.spec, "spec").ingress).map((r) => obj(r, "rule")),
  );
  const peers = (rule: Obj) => list(rule.to).map((peer) => obj(peer, "peer"));
  const ipBlocks = egressRules.flatMap(peers).flatMap((peer) => (isObj(peer.ipBlock) ? [peer.ipBlock] : []));

  /** Whether some ipBlock of the worker's egress rules lets `address` through (its `except` considered). */
  function ipBlocksAllow(address: string): boolean {
    const family = isIP(address) === 6 ? "ipv6" : "ipv4";
    const blockList = (cidrs: string[]) => {
      const blocks = new BlockList();
      for (const cidr of cidrs) {
        const [network = "", prefix = ""] = cidr.split("/");
        const cidrFamily = isIP(network) === 6 ? "ipv6" : "ipv4";
        if (cidrFamily === family) blocks.addSubnet(network, Number(prefix), cidrFamily);
      }
      return blocks;
    };
    return ipBlocks.some(
      (block) =>
        blockList([String(block.cidr)]).check(address, family) &&
        !blockList(list(block.except).map(String)).check(address, family),
    );
  }

  it("the worker's pods read no Secret holding ADMIN_TOKEN; the API's do", () => {
    const read = secretsReadBy(workerSpec);
    expect(read.length, "the worker reads DATABASE_URL and SECRETS_KEY from a Secret").toBeGreaterThan(0);
    for (const name of read)
      expect(secretKeys(name), `Secret ${name}, read by the worker`).not.toContain("ADMIN_TOKEN");
    expect(Object.keys(containerEnv(firstContainer(worker)))).not.toContain("ADMIN_TOKEN");
    expect(secretsReadBy(podSpec(api)).flatMap(secretKeys)).toContain("ADMIN_TOKEN");
    expect(Object.keys(containerEnv(firstContainer(api)))).toContain("ADMIN_TOKEN");
    // The migration Job needs only the database.
    for (const name of secretsReadBy(podSpec(k8s("Job", "conveyor-migrate")))) {
      expect(secretKeys(name), `Secret ${name}, read by the migration Job`).not.toContain("ADMIN_TOKEN");
    }
  });

  it("the worker's pods run non-root, without capabilities or a service account token", () => {
    expect(obj(workerSpec.securityContext, "securityContext").runAsNonRoot).toBe(true);
    expect(workerSpec.automountServiceAccountToken).toBe(false);
    const securityContext = obj(firstContainer(worker).securityContext, "container securityContext");
    expect(securityContext.allowPrivilegeEscalation).toBe(false);
    expect(list(obj(securityContext.capabilities, "capabilities").drop)).toContain("ALL");
    expect(list(obj(securityContext.capabilities, "capabilities").add)).toEqual([]);
    expect(securityContext.privileged ?? false).toBe(false);
  });

  it("the worker sets CHROMIUM_SANDBOX explicitly; every process gets the egress policy", () => {
    expect(["auto", "required", "off"]).toContain(containerEnv(firstContainer(worker)).CHROMIUM_SANDBOX);
    for (const deployment of [worker, api])
      expect(containerEnv(firstContainer(deployment)).EGRESS_POLICY).toBe("public");
    // EGRESS_DENY names the API's Service, under its cluster-wide name.
    const service = obj(k8s("Service", "conveyor-api").metadata, "metadata");
    const deny = String(containerEnv(firstContainer(worker)).EGRESS_DENY ?? "")
      .split(",")
      .map((entry) => entry.trim().replace(/:\d+$/, ""));
    expect(deny).toContain(`${service.name}.${service.namespace}.svc.cluster.local`);
    expect(deny).toContain(String(service.name));
  });

  it("a NetworkPolicy limits the worker's egress, allowing DNS", () => {
    expect(workerPolicies.length).toBeGreaterThan(0);
    expect(policyTypes).toContain("Egress");
    // A rule without `to` allows every destination (on its ports).
    for (const rule of egressRules) expect(peers(rule).length, JSON.stringify(rule)).toBeGreaterThan(0);
    const dns = egressRules.filter((rule) =>
      peers(rule).some(
        (peer) =>
          isObj(peer.namespaceSelector) &&
          selects(peer.namespaceSelector, { "kubernetes.io/metadata.name": "kube-system" }) &&
          isObj(peer.podSelector) &&
          selects(peer.podSelector, { "k8s-app": "kube-dns" }),
      ),
    );
    const dnsPorts = dns.flatMap((rule) => list(rule.ports).map((p) => obj(p, "port")));
    for (const protocol of ["UDP", "TCP"]) expect(dnsPorts).toContainEqual({ protocol, port: 53 });
  });

  it("the worker's egress reaches public addresses, never metadata, private or loopback ones", () => {
    for (const address of ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111"]) {
      expect(ipBlocksAllow(address), address).toBe(true);
    }
    for (const address of [
      "169.254.169.254", // cloud metadata
      "169.254.170.2", // ECS task metadata
      "fd00:ec2::254", // AWS metadata over IPv6
      "10.0.0.1",
      "10.96.0.1", // a typical Service CIDR
      "172.16.0.1",
      "172.31.255.254",
      "192.168.1.1",
      "100.64.0.1", // CGNAT, some clusters' pod CIDR
      "127.0.0.1",
      "0.0.0.1",
      "::1",
      "fc00::1",
      "fe80::1",
    ]) {
      expect(ipBlocksAllow(address), address).toBe(false);
    }
  });

  it("no egress rule of the worker reaches the API pods", () => {
    // A rule may name the port by number or by the container port's name.
    const apiPorts = new Set(
      list(firstContainer(api).ports).flatMap((p) => [
        String(obj(p, "port").containerPort),
        String(obj(p, "port").name),
      ]),
    );
    for (const rule of egressRules) {
      const selectsApi = peers(rule).some((peer) => {
        if (isObj(peer.ipBlock)) return false; // checked above: private ranges are excepted
        const inNamespace = isObj(peer.namespaceSelector) ? selects(peer.namespaceSelector, namespaceLabels) : true;
        const pods = isObj(peer.podSelector) ? selects(peer.podSelector, apiLabels) : true;
        return inNamespace && pods;
      });
      if (!selectsApi) continue;
      const ports = list(rule.ports).map((p) => String(obj(p, "port").port));
      expect(ports.length, `a rule open to the API pods on every port: ${JSON.stringify(rule)}`).toBeGreaterThan(0);
      for (const port of ports) expect(apiPorts.has(port), `a rule open to the API pods on ${port}`).toBe(false);
    }
  });

  it("the worker's ingress is its metrics port alone", () => {
    expect(policyTypes).toContain("Ingress");
    const metricsPort = Number(containerEnv(firstContainer(worker)).WORKER_METRICS_PORT);
    for (const rule of ingressRules) {
      expect(list(rule.ports).map((p) => obj(p, "port").port)).toEqual([metricsPort]);
    }
  });

  it("compose: workers get no ADMIN_TOKEN, set CHROMIUM_SANDBOX, and share no network with the API", () => {
    const composeWorker = obj(services.worker, "worker");
    const composeApi = obj(services.api, "api");
    const variables = { ...Object.fromEntries(envFile(".env.example")), ...SAMPLE_VALUES };
    const env = Object.fromEntries(
      Object.entries(composeEnv(composeWorker)).map(([key, value]) => [key, interpolate(value, variables)]),
    );
    expect(Object.keys(env)).not.toContain("ADMIN_TOKEN");
    // .env is for compose's substitutions; an env_file would hand all of it to the container.
    expect(composeWorker.env_file).toBeUndefined();
    expect(Object.keys(composeEnv(composeApi))).toContain("ADMIN_TOKEN");
    expect(["auto", "required", "off"]).toContain(env.CHROMIUM_SANDBOX);
    expect(env.EGRESS_POLICY).toBe("public");
    expect(String(env.EGRESS_DENY).split(",")).toContain("api");
    // Operators' own entries are added to `api`, not put in its place.
    const withMore = interpolate(String(composeEnv(composeWorker).EGRESS_DENY), {
      ...variables,
      EGRESS_DENY: "10.9.0.0/16",
    });
    expect(withMore.split(",")).toEqual(["api", "10.9.0.0/16"]);

    const networks = (service: Obj) =>
      Array.isArray(service.networks)
        ? list(service.networks).map(String)
        : Object.keys(obj(service.networks ?? { default: null }, "networks"));
    const workerNetworks = networks(composeWorker);
    expect(workerNetworks.filter((network) => networks(composeApi).includes(network))).toEqual([]);
    for (const name of ["postgres", "redis", "minio"]) {
      const shared = networks(obj(services[name], name)).filter((network) => workerNetworks.includes(network));
      expect(shared.length, `the worker reaches ${name}`).toBeGreaterThan(0);
    }
    expect(list(composeWorker.cap_drop)).toContain("ALL");
    expect(list(composeWorker.security_opt)).toContain("no-new-privileges:true");
  });
});
