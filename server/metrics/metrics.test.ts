import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GET } from "@/app/api/metrics/route";
import { Policy } from "@/schemas/policy";
import type { LoadedConfig } from "@/server/config/load";
import { agentRuns, githubDeliveries, queueEntries, workerHeartbeats } from "@/server/db/schema";
import { defaultLoopOptions, runQueueLoop } from "@/server/queue/loop";
import { submitChanges } from "@/server/queue/submit";
import { getEntry } from "@/server/state/queue/store";
import { createToken } from "@/server/users/tokens";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { makeRepoPair, write } from "@/test-support/git-fixtures";
import { metricsReply } from "./endpoint";

// Outside a Next request there is no cookie to read: nobody is signed in (the session path is
// tested through metricsReply below).
vi.mock("@/server/auth/session", () => ({ sessionUser: async () => null }));

// /api/metrics through the real route handler: who may scrape (401/403/200), what it says after
// the test landed changes, met a conflict and quarantined one, and that promtool finds nothing.

let world: TestWorld;
let clashEntry = 0;
let repo: Awaited<ReturnType<typeof makeRepoPair>>;
let gated: Awaited<ReturnType<typeof makeRepoPair>>;
const tokens: Record<"operator" | "admin" | "requester" | "reviewer", string> = {
  operator: "",
  admin: "",
  requester: "",
  reviewer: "",
};
const runtimeSlot = () => globalThis as { __hyperionRuntime?: { env: unknown; db: unknown } };
const lines = (n: number, tag: string) =>
  `${Array.from({ length: n }, (_, i) => `${tag} ${i + 1}`).join("\n")}\n`;

beforeAll(async () => {
  world = await makeWorld();
  runtimeSlot().__hyperionRuntime = { env: world.env, db: world.db };
  for (const role of ["operator", "requester", "reviewer"] as const)
    tokens[role] = (await createToken(world.db, await world.userWith(role), "scrape")).token;
  tokens.admin = (await createToken(world.db, world.admin, "scrape")).token;

  repo = await makeRepoPair({ "a.txt": lines(20, "a"), "b.txt": lines(20, "b") });
  const policy = Policy.parse({ checks: { ok: "true" } });
  const config: LoadedConfig = {
    file: "test",
    repositories: [{ name: "t", path: repo.bare, targetBranch: "main", policy }],
  };
  const author = { name: "Agent", email: "agent@example.test" };
  const submit = (patch: string, baseCommit?: string) =>
    submitChanges(
      world.db,
      {
        repo: "t",
        patch,
        summary: "a change",
        author,
        checks: ["ok"],
        ...(baseCommit ? { baseCommit } : {}),
      },
      config,
    );
  // Two changes that land, and a third made on the old base that conflicts with the first.
  const base = await repo.head();
  const one = await repo.change((d) =>
    write(d, { "a.txt": lines(20, "a").replace("a 3\n", "x\n") }),
  );
  const two = await repo.change((d) =>
    write(d, { "b.txt": lines(20, "b").replace("b 3\n", "y\n") }),
  );
  await repo.run(["reset", "-q", "--hard", base]);
  const clash = await repo.change((d) =>
    write(d, { "a.txt": lines(20, "a").replace("a 3\n", "z\n") }),
  );
  await submit(one.patch);
  await submit(two.patch);
  clashEntry = (await submit(clash.patch, base))[0]?.entryId ?? 0;
  // In repository g every change waits for a reviewer once its checks pass.
  gated = await makeRepoPair({ "g.txt": "g\n" });
  config.repositories.push({
    name: "g",
    path: gated.bare,
    targetBranch: "main",
    policy: Policy.parse({ approvals: { low: { approvals: 1 } } }),
  });
  const waits = await gated.change((d) => write(d, { "g.txt": "g\nreviewed\n" }));
  await submitChanges(world.db, { repo: "g", patch: waits.patch, summary: "wait", author }, config);
  await runQueueLoop({
    db: world.db,
    config: () => config,
    owner: "metrics-test",
    opts: {
      ...defaultLoopOptions({}),
      drain: true,
      pollMs: 5,
      backoffBaseMs: 0,
      backoffMaxMs: 0,
    },
    shouldStop: () => false,
  });
}, 120_000);

afterAll(async () => {
  delete runtimeSlot().__hyperionRuntime;
  await world?.cleanup();
  repo?.cleanup();
  gated?.cleanup();
});

const scrape = (authorization?: string) =>
  GET(
    new Request("http://hyperion.test/api/metrics", {
      headers: authorization ? { authorization } : {},
    }),
  );

/** The value of one series in the text format, by its name and labels as written. */
function sample(body: string, series: string): number | undefined {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("GET /api/metrics", () => {
  it("refuses a scrape without a token, with a malformed or unknown one: 401 saying what to send", async () => {
    const none = await scrape();
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect(await none.text()).toMatch(/operator's or admin's API token.*Authorization: Bearer/);
    const malformed = await scrape("Basic abc");
    expect(malformed.status).toBe(401);
    expect(await malformed.text()).toContain("expected `Bearer <token>`");
    const unknown = await scrape("Bearer hyp_not-a-real-token");
    expect(unknown.status).toBe(401);
    expect(await unknown.text()).toContain("unknown, revoked");
  });

  it("refuses a requester's and a reviewer's token: 403 naming who may", async () => {
    for (const role of ["requester", "reviewer"] as const) {
      const res = await scrape(`Bearer ${tokens[role]}`);
      expect(res.status).toBe(403);
      const body = await res.text();
      expect(body).toContain("for operators and admins");
      expect(body).toContain(`is a ${role}`);
      expect(body).not.toContain("hyperion_");
    }
  });

  it("serves an operator's and an admin's token the text format", async () => {
    for (const role of ["operator", "admin"] as const) {
      const res = await scrape(`Bearer ${tokens[role]}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      expect(await res.text()).toContain("# TYPE hyperion_landings_total counter");
    }
  });

  it("serves a signed-in operator's session too, and refuses a requester's", async () => {
    const operator = await world.userWith("operator");
    const requester = await world.userWith("requester");
    expect((await metricsReply(world.db, null, async () => operator)).status).toBe(200);
    expect((await metricsReply(world.db, null, async () => requester)).status).toBe(403);
    expect((await metricsReply(world.db, null, async () => null)).status).toBe(401);
  });

  it("counts what the queue did, from the database", async () => {
    const body = await (await scrape(`Bearer ${tokens.operator}`)).text();
    expect(sample(body, 'hyperion_landings_total{repo="t"}')).toBe(2);
    expect(sample(body, 'hyperion_queue_entries{repo="t",state="merged"}')).toBe(2);
    expect(sample(body, 'hyperion_queue_entries{repo="t",state="quarantined"}')).toBe(1);
    expect(sample(body, 'hyperion_queue_entries{repo="t",state="rolled_back"}')).toBe(0);
    expect(sample(body, 'hyperion_quarantines_total{repo="t"}')).toBe(1);
    // Every attempt of the clashing change met the conflict: each but the last sent it to retry.
    const attempts = (await getEntry(world.db, clashEntry))?.maxAttempts ?? 0;
    expect(attempts).toBeGreaterThan(1);
    expect(sample(body, 'hyperion_conflicts_total{repo="t"}')).toBe(attempts);
    expect(sample(body, 'hyperion_retries_total{repo="t"}')).toBe(attempts - 1);
    expect(sample(body, 'hyperion_queue_errors_total{repo="t",kind="conflict"}')).toBe(attempts);
    expect(sample(body, 'hyperion_lease_takeovers_total{repo="t"}')).toBe(0);
    expect(sample(body, 'hyperion_queue_time_seconds_count{repo="t"}')).toBe(2);
    expect(sample(body, 'hyperion_queue_time_seconds_bucket{repo="t",le="+Inf"}')).toBe(2);
    expect(sample(body, 'hyperion_landing_duration_seconds_count{repo="t"}')).toBe(2);
    // The landing's check, once per landing.
    expect(
      sample(
        body,
        'hyperion_check_runs_total{repo="t",place="landing",check="ok",outcome="passed"}',
      ),
    ).toBe(2);
    expect(
      sample(body, 'hyperion_check_run_duration_seconds_count{repo="t",place="landing"}'),
    ).toBe(2);
    expect(sample(body, 'hyperion_approvals_waiting{repo="t"}')).toBe(0);
    expect(sample(body, 'hyperion_approval_oldest_wait_seconds{repo="t"}')).toBe(0);
    expect(sample(body, 'hyperion_queue_entries{repo="g",state="awaiting_approval"}')).toBe(1);
    expect(sample(body, "hyperion_github_deliveries_waiting")).toBe(0);
    // No label carries an id: the few label values are repositories, states, kinds, agents.
    expect(body).not.toMatch(/(entry|request|run|change)_?id=/i);
  });

  it("reads agent runs, worker heartbeats and GitHub deliveries as stored, labelled by agent and host", async () => {
    // Rows as the run store, the worker's heartbeat and the webhook receiver leave them.
    const now = Date.now();
    const run = (state: "submitted" | "failed" | "running", ms: number, cost: number | null) => ({
      taskId: "T1",
      repo: "t",
      agent: "claude" as const,
      state,
      owner: "w1",
      taskAttempt: 1,
      inputTokens: 1000,
      outputTokens: 200,
      costUsd: cost,
      createdAt: now - ms - 5_000,
      startedAt: now - ms,
      endedAt: state === "running" ? null : now,
    });
    await world.db
      .insert(agentRuns)
      .values([
        run("submitted", 90_000, 0.25),
        run("failed", 20_000, null),
        run("running", 1, 0.5),
      ]);
    await world.db.insert(workerHeartbeats).values([
      { id: "w1", pid: 1, host: "alpha", startedAt: now - 60_000, beatAt: now - 4_000 },
      { id: "w2", pid: 2, host: "alpha", startedAt: now - 60_000, beatAt: now - 2_000 },
      // One that crashed a minute ago and never said it stopped: not alive.
      { id: "w4", pid: 4, host: "alpha", startedAt: now - 90_000, beatAt: now - 60_000 },
      // A thread of w1, and a worker that stopped: neither is a host's live supervisor.
      {
        id: "w1.t",
        pid: 1,
        host: "alpha",
        startedAt: now,
        beatAt: now - 99_000,
        role: "thread",
        parentId: "w1",
      },
      {
        id: "w3",
        pid: 3,
        host: "beta",
        startedAt: now - 60_000,
        beatAt: now - 50_000,
        stoppedAt: now,
      },
    ]);
    const delivery = (id: string, state: "queued" | "handled" | "ignored") => ({
      id,
      event: "issues",
      payload: "{}",
      state,
      receivedAt: now,
    });
    await world.db
      .insert(githubDeliveries)
      .values([delivery("d1", "handled"), delivery("d2", "handled"), delivery("d3", "queued")]);

    const reply = await metricsReply(world.db, `Bearer ${tokens.operator}`, async () => null, now);
    const body = reply.body;
    expect(
      sample(body, 'hyperion_agent_runs_total{repo="t",agent="claude",outcome="submitted"}'),
    ).toBe(1);
    expect(
      sample(body, 'hyperion_agent_runs_total{repo="t",agent="claude",outcome="failed"}'),
    ).toBe(1);
    expect(
      sample(body, 'hyperion_agent_runs_active{repo="t",agent="claude",state="running"}'),
    ).toBe(1);
    expect(
      sample(body, 'hyperion_agent_tokens_total{repo="t",agent="claude",direction="input"}'),
    ).toBe(3000);
    expect(
      sample(body, 'hyperion_agent_tokens_total{repo="t",agent="claude",direction="output"}'),
    ).toBe(600);
    expect(sample(body, 'hyperion_agent_cost_usd_total{repo="t",agent="claude"}')).toBe(0.75);
    // The two ended runs: 90 s and 20 s, from their start.
    expect(sample(body, 'hyperion_agent_run_duration_seconds_count{repo="t",agent="claude"}')).toBe(
      2,
    );
    expect(sample(body, 'hyperion_agent_run_duration_seconds_sum{repo="t",agent="claude"}')).toBe(
      110,
    );
    expect(
      sample(body, 'hyperion_agent_run_duration_seconds_bucket{repo="t",agent="claude",le="30"}'),
    ).toBe(1);
    expect(
      sample(body, 'hyperion_agent_run_duration_seconds_bucket{repo="t",agent="claude",le="60"}'),
    ).toBe(1);
    expect(
      sample(body, 'hyperion_agent_run_duration_seconds_bucket{repo="t",agent="claude",le="120"}'),
    ).toBe(2);
    // The freshest live supervisor of each host; a host whose workers all stopped is not shown.
    expect(sample(body, 'hyperion_worker_heartbeat_age_seconds{host="alpha"}')).toBe(2);
    expect(sample(body, 'hyperion_workers{host="alpha"}')).toBe(2);
    expect(body).not.toContain('host="beta"');
    expect(sample(body, 'hyperion_github_deliveries_total{event="issues",outcome="handled"}')).toBe(
      2,
    );
    expect(sample(body, "hyperion_github_deliveries_waiting")).toBe(1);
  });

  it("tells how many changes wait for a reviewer, and how long the oldest has waited", async () => {
    const [waiting] = await world.db
      .select()
      .from(queueEntries)
      .where(eq(queueEntries.state, "awaiting_approval"));
    if (!waiting) throw new Error("no change waits for approval");
    const at = waiting.updatedAt + 90_000;
    const { body } = await metricsReply(world.db, `Bearer ${tokens.admin}`, async () => null, at);
    expect(sample(body, 'hyperion_approvals_waiting{repo="g"}')).toBe(1);
    expect(sample(body, 'hyperion_approval_oldest_wait_seconds{repo="g"}')).toBe(90);
  });

  it("is a text exposition promtool finds nothing to fix in", async (ctx) => {
    if (!fs.existsSync("/usr/bin/promtool"))
      ctx.skip("promtool is missing: bin/system-deps.sh installs Debian's prometheus package");
    const body = await (await scrape(`Bearer ${tokens.admin}`)).text();
    const res = spawnSync("/usr/bin/promtool", ["check", "metrics"], { input: body });
    expect({ status: res.status, out: `${res.stdout}${res.stderr}` }).toEqual({
      status: 0,
      out: "",
    });
  });
});
