import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GET } from "@/app/api/metrics/route";
import { Policy } from "@/schemas/policy";
import type { LoadedConfig } from "@/server/config/load";
import { defaultLoopOptions, runQueueLoop } from "@/server/queue/loop";
import { submitChanges } from "@/server/queue/submit";
import { createToken } from "@/server/users/tokens";
import { makeWorld, type TestWorld, tempDir, worldEnv } from "@/test-support/fixtures";
import { makeRepoPair, write } from "@/test-support/git-fixtures";
import { freePort } from "@/test-support/postgres";

// A real Prometheus (Debian's /usr/bin/prometheus) scrapes a running Hyperion with an operator's
// bearer token, and PromQL through its HTTP API answers how many changes the test landed.
//
// The Hyperion it scrapes: when a production build exists (`npm run build`, .next/BUILD_ID), the
// real web server, `hyperion start --no-build --no-worker` on the test's data folder; otherwise
// (building takes minutes on the shared machine) a plain node:http server that hands every
// request to the route's own GET (app/api/metrics/route.ts), on the test's database. Either
// way the test lands the changes itself, with the queue loop, on the same database.

vi.mock("@/server/auth/session", () => ({ sessionUser: async () => null }));

const PROMETHEUS = "/usr/bin/prometheus";
const have = fs.existsSync(PROMETHEUS);
const ROOT = path.resolve(import.meta.dirname, "../..");
// A build made before the route existed would answer 404 for ever: only a build that has it.
const built =
  fs.existsSync(path.join(ROOT, ".next", "BUILD_ID")) &&
  fs.existsSync(path.join(ROOT, ".next", "server", "app", "api", "metrics", "route.js"));

let world: TestWorld;
let repo: Awaited<ReturnType<typeof makeRepoPair>>;
let config: LoadedConfig;
let hyperion: http.Server | null = null;
let web: ChildProcess | null = null;
let webLog = "";
let target = "";
let prometheus: ChildProcess | null = null;
let promLog = "";
let promExit: string | null = null;
let promUrl = "";
let storage = "";
let edits = 0;

const runtimeSlot = () => globalThis as { __hyperionRuntime?: { env: unknown; db: unknown } };

beforeAll(async () => {
  if (!have) return;
  world = await makeWorld();
  runtimeSlot().__hyperionRuntime = { env: world.env, db: world.db };
  repo = await makeRepoPair({ "notes.txt": "start\n" });
  config = {
    file: "test",
    repositories: [{ name: "t", path: repo.bare, targetBranch: "main", policy: Policy.parse({}) }],
  };
  if (built) {
    const port = await freePort();
    target = `127.0.0.1:${port}`;
    web = spawn(process.execPath, ["bin/hyperion.mjs", "start", "--no-build", "--no-worker"], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...worldEnv(world),
        PORT: String(port),
        HOST: "127.0.0.1",
        NEXTAUTH_URL: `http://${target}`,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    web.stdout?.on("data", (d) => {
      webLog += d;
    });
    web.stderr?.on("data", (d) => {
      webLog += d;
    });
    // Up once the route answers (401: no token yet).
    for (;;) {
      if (web.exitCode !== null) throw new Error(`the web server exited:\n${webLog}`);
      const status = await fetch(`http://${target}/api/metrics`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 401) break;
      if (status === 404)
        throw new Error("the build in .next has no /api/metrics: run `npm run build` again");
      await new Promise((r) => setTimeout(r, 200));
    }
    return;
  }
  const server = http.createServer((req, res) => {
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
    GET(new Request(`http://127.0.0.1${req.url}`, { headers })).then(
      async (reply) => {
        res.writeHead(reply.status, Object.fromEntries(reply.headers));
        res.end(await reply.text());
      },
      (err) => {
        res.writeHead(500);
        res.end(String(err));
      },
    );
  });
  hyperion = server;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 180_000);

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const gone = new Promise((resolve) => prometheus?.once("exit", resolve));
    prometheus.kill("SIGTERM");
    await gone;
  }
  if (web && web.exitCode === null) {
    const gone = new Promise((resolve) => web?.once("exit", resolve));
    web.kill("SIGTERM");
    await gone;
  }
  if (storage) fs.rmSync(storage, { recursive: true, force: true });
  await new Promise((resolve) => (hyperion ? hyperion.close(resolve) : resolve(null)));
  delete runtimeSlot().__hyperionRuntime;
  await world?.cleanup();
  repo?.cleanup();
});

/** Lands `n` changes through the queue, one edit of notes.txt each. */
async function land(n: number) {
  for (let i = 0; i < n; i++) {
    edits++;
    const { patch } = await repo.change((d) =>
      write(d, { "notes.txt": `start\n${"line\n".repeat(edits)}` }),
    );
    await submitChanges(
      world.db,
      { repo: "t", patch, summary: `edit ${edits}`, author: { name: "A", email: "a@x.test" } },
      config,
    );
  }
  await runQueueLoop({
    db: world.db,
    config: () => config,
    owner: "prometheus-test",
    opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5, backoffBaseMs: 0 },
    shouldStop: () => false,
  });
}

/** Polls `probe` until it returns a value; fails at once should Prometheus exit meanwhile. */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    if (promExit !== null) throw new Error(`prometheus exited (${promExit}) ${what}:\n${promLog}`);
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Until Prometheus holds a sample of a scrape that began after this call: a sample's timestamp is
 * the moment its scrape started, and a query sees it only once it is stored.
 */
async function scrapedSinceNow() {
  const since = Date.now() / 1000;
  await until("while waiting for a scrape that began after the landings", async () => {
    const [up] = await query('timestamp(up{job="hyperion"})');
    return up && up.value > since ? true : undefined;
  });
}

async function query(q: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  expect(body.status).toBe("success");
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

describe("a real Prometheus scraping Hyperion", () => {
  it("answers PromQL with the number of landings the test made", async (ctx) => {
    if (!have)
      ctx.skip("/usr/bin/prometheus is missing: bin/system-deps.sh installs Debian's prometheus");
    await land(2);
    const operator = await world.userWith("operator");
    const { token } = await createToken(world.db, operator, "prometheus");
    storage = tempDir("hyperion-prometheus-");
    const configFile = path.join(storage, "prometheus.yml");
    // The scrape config docs/operations.md gives, with a 1 s interval for the test.
    fs.writeFileSync(
      configFile,
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "scrape_configs:",
        "  - job_name: hyperion",
        "    metrics_path: /api/metrics",
        "    authorization:",
        "      type: Bearer",
        `      credentials: ${token}`,
        "    static_configs:",
        `      - targets: ["${target}"]`,
        "",
      ].join("\n"),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(storage, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    prometheus.stdout?.on("data", (d) => {
      promLog += d;
    });
    prometheus.stderr?.on("data", (d) => {
      promLog += d;
    });
    prometheus.once("exit", (code, signal) => {
      promExit = `code ${code}, signal ${signal}`;
    });
    await until("before it was ready", async () =>
      (await fetch(`${promUrl}/-/ready`)).ok ? true : undefined,
    );

    await scrapedSinceNow();
    const up = await query('up{job="hyperion"}');
    expect(up.map((r) => r.value)).toEqual([1]);
    const landings = await query("hyperion_landings_total");
    expect(landings).toEqual([
      { metric: expect.objectContaining({ repo: "t", job: "hyperion" }), value: 2 },
    ]);
    expect((await query('hyperion_queue_entries{state="merged"}')).map((r) => r.value)).toEqual([
      2,
    ]);

    // One more lands while Prometheus keeps scraping: the next scrape after it counts 3.
    await land(1);
    await scrapedSinceNow();
    expect((await query("hyperion_landings_total")).map((r) => r.value)).toEqual([3]);
    expect((await query("hyperion_queue_time_seconds_count")).map((r) => r.value)).toEqual([3]);
  }, 180_000);
});
