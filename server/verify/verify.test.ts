import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { and, count, eq, like } from "drizzle-orm";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Policy } from "@/schemas/policy";
import { type LoadedConfig, loadConfig } from "@/server/config/load";
import {
  changeRequests,
  events,
  queueEntries,
  requests,
  tasks,
  verifications,
  workerHeartbeats,
} from "@/server/db/schema";
import { demoPolicy } from "@/server/demo/policy";
import { advance } from "@/server/dispatch/advance";
import { dispatchOnce } from "@/server/dispatch/dispatch";
import { git } from "@/server/git/run";
import { log } from "@/server/log";
import { defaultLoopOptions, runQueueLoop } from "@/server/queue/loop";
import { createRequests } from "@/server/requests/service";
import { buildPrompt } from "@/server/runs/prompt";
import { getEntry } from "@/server/state/queue/store";
import { createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import { beat } from "@/server/workers/heartbeat";
import { makeWorld, NO_APPROVALS, type TestWorld, worldEnv } from "@/test-support/fixtures";
import { write } from "@/test-support/git-fixtures";
import { createVerification, verificationOwner } from "../state/verify/store";
import { bisect } from "./bisect";
import type { VerifyOutcome } from "./carrying";
import { postMergeFailuresOf } from "./failures";
import { startVerifier } from "./scheduler";
import { dueReason, verifyDue, verifyTarget } from "./verify";

// The demo repository, with a "full suite" that only post-merge verification runs: check.mjs
// fails while docs/fragile.md carries a note. Each request touches one docs file (no checks of
// its own), so every change lands; the one touching docs/fragile.md breaks the suite.

const GIT_ENV = {
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.test",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.test",
};

const SUITE = `import fs from "node:fs";
const text = fs.readFileSync("docs/fragile.md", "utf8");
if (text.includes("Hyperion note")) {
  console.error("FAIL: docs/fragile.md must stay as it is: 1 of 12 tests failed");
  process.exit(1);
}
console.log("12 tests passed");
`;

// Asks the test's verdict server (loopback; the check's policy allows network) and exits with it.
const VERDICT = `const res = await fetch(\`http://127.0.0.1:\${process.argv[2]}/verdict\`);
const verdict = (await res.text()).trim();
console.log(\`the verdict is \${verdict}\`);
process.exit(verdict === "pass" ? 0 : 1);
`;

const PAGES = Array.from({ length: 10 }, (_, i) => `docs/page-${i + 1}.md`);
const CULPRIT_AT = 5; // the sixth landing
const FILES = PAGES.map((p, i) => (i === CULPRIT_AT ? "docs/fragile.md" : p));

let world: TestWorld;
let config: LoadedConfig;
const repoPath = () => world.config.repositories[0]?.path ?? "";
const opts = { owner: "test-verifier", timeoutMs: 60_000 };
const target = { repo: "demo", branch: "main" };

function withPolicy(extra: Record<string, unknown>): LoadedConfig {
  const [repo] = world.config.repositories;
  if (!repo) throw new Error("no demo repository");
  const policy = Policy.parse({
    ...demoPolicy,
    approvals: NO_APPROVALS,
    qa: { kinds: [] },
    ...extra,
  });
  return { ...world.config, repositories: [{ ...repo, policy }] };
}

async function commitFiles(files: Record<string, string>) {
  write(repoPath(), files);
  await git(["add", "-A"], { cwd: repoPath() });
  await git(["commit", "-q", "-m", "the full suite"], { cwd: repoPath(), env: GIT_ENV });
  return (await git(["rev-parse", "HEAD"], { cwd: repoPath() })).trim();
}

async function drain() {
  await runQueueLoop({
    db: world.db,
    config: () => config,
    owner: "q",
    opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5, backoffBaseMs: 0 },
    shouldStop: () => false,
  });
}

/** Files a request for one file; it is planned, developed, landed and recorded as done. */
async function land(file: string) {
  const [r] = await createRequests(world.db, {
    input: { title: `Touch ${file}`, description: "", repo: "demo", files: [file] },
    requester: world.admin,
    config,
    source: "cli",
  });
  await advance(world.db, config, "d");
  await drain();
  await advance(world.db, config, "d");
  const [task] = await world.db
    .select()
    .from(tasks)
    .where(eq(tasks.requestId, r?.id ?? 0))
    .limit(1);
  const [entry] = await world.db
    .select()
    .from(queueEntries)
    .where(eq(queueEntries.changeRequestId, task?.changeRequestId ?? 0))
    .limit(1);
  if (!task || !entry?.mergedCommit) throw new Error(`${file} did not land`);
  expect(task.state).toBe("done");
  return { requestId: r?.id ?? 0, task, entry };
}

const tip = async () => (await git(["rev-parse", "main"], { cwd: repoPath() })).trim();
const show = (rev: string, file: string) => git(["show", `${rev}:${file}`], { cwd: repoPath() });
const done = (o: VerifyOutcome | undefined) => {
  if (o?.kind !== "done") throw new Error(`not done: ${JSON.stringify(o)}`);
  return o.verification;
};
const verificationEvents = async (type: string) =>
  await world.db
    .select()
    .from(events)
    .where(and(eq(events.topic, "queue"), like(events.type, type)));

beforeEach(async () => {
  world = await makeWorld();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await world.cleanup();
});

describe("bisect", () => {
  it("finds the first bad of n commits in at most ⌈log2 n⌉ probes, wherever it is", async () => {
    for (const n of [1, 2, 3, 10, 100]) {
      for (let firstBad = 0; firstBad < n; firstBad++) {
        let probes = 0;
        const found = await bisect(n, async (i) => {
          probes++;
          return i < firstBad;
        });
        expect(found).toBe(firstBad);
        expect(probes).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
      }
    }
  });
});

describe("post-merge verification", () => {
  it("bisects ten landings to the one that broke the suite, reverts it and reopens its task", async () => {
    const setup = await commitFiles({
      "check.mjs": SUITE,
      ...Object.fromEntries(PAGES.map((p) => [p, `# ${p}\n`])),
      "docs/fragile.md": "# Fragile\n",
    });
    config = withPolicy({
      checks: { test: "npm test", suite: "node check.mjs" },
      postMerge: { checks: ["suite"], reruns: 1 },
    });
    const landed = [];
    for (const file of FILES) landed.push(await land(file));
    const culprit = landed[CULPRIT_AT];
    if (!culprit) throw new Error("no culprit");
    const head = await tip();
    expect(head).toBe(landed[9]?.entry.mergedCommit);
    expect(await show(head, "docs/fragile.md")).toContain("Hyperion note");

    expect(await dueReason(world.db, config, target, opts.owner)).toMatch(/main moved to/);
    const warn = vi.spyOn(log, "warn");
    const [outcome, ...more] = await verifyDue(world.db, config, opts);
    expect(more).toEqual([]);
    const v = done(outcome);

    // The tip failed, and again on its re-run; then bisection over the ten landings.
    expect(v).toMatchObject({
      state: "culprit",
      goodCommit: setup,
      headCommit: head,
      culpritCommit: culprit.entry.mergedCommit,
      culpritEntryId: culprit.entry.id,
    });
    expect(v.steps.slice(0, 2)).toEqual([
      { commit: head, ok: false, note: "the tip" },
      { commit: head, ok: false, note: "re-run 1 of the tip" },
    ]);
    const bisection = v.steps.slice(2);
    expect(bisection.length).toBeGreaterThan(0);
    expect(bisection.length).toBeLessThanOrEqual(Math.ceil(Math.log2(10)));
    for (const step of bisection) {
      expect(step.note).toMatch(/^bisect: \d+ commits? left$/);
      const at = landed.findIndex((l) => l.entry.mergedCommit === step.commit);
      expect(step.ok).toBe(at < CULPRIT_AT);
    }
    expect(v.output).toContain("check 'suite' exited with 1");
    expect(v.output).toContain("FAIL: docs/fragile.md must stay as it is");

    // Its revert is queued through the merge queue, linked to the change it undoes…
    const revert = await getEntry(world.db, v.revertEntryId ?? 0);
    expect(revert?.state).toBe("queued");
    const [revertChange] = await world.db
      .select()
      .from(changeRequests)
      .where(eq(changeRequests.id, revert?.changeRequestId ?? 0))
      .limit(1);
    expect(revertChange?.revertOf).toBe(culprit.entry.changeRequestId);

    // …its task is reopened, its request in progress again, and operators are told.
    const [task] = await world.db
      .select()
      .from(tasks)
      .where(eq(tasks.id, culprit.task.id))
      .limit(1);
    expect(task?.state).toBe("pending");
    const [request] = await world.db
      .select()
      .from(requests)
      .where(eq(requests.id, culprit.requestId))
      .limit(1);
    expect(request?.status).toBe("in_progress");
    const reopened = (
      await world.db
        .select()
        .from(events)
        .where(and(eq(events.type, "task.pending"), eq(events.entityId, culprit.requestId)))
    ).map((e) => e.payload as { from: string; reason: string });
    expect(reopened).toEqual([
      expect.objectContaining({ from: "done", reason: expect.stringContaining("post-merge") }),
    ]);
    const [told] = await verificationEvents("verification.culprit");
    expect(told?.payload).toMatchObject({
      id: v.id,
      culpritEntryId: culprit.entry.id,
      revertEntryId: revert?.id,
      reason: expect.stringContaining(`is reverted by Q${revert?.id}`),
    });
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ state: "culprit", culpritEntry: culprit.entry.id }),
      expect.stringContaining("reverted"),
    );
    // The queue page shows it, with the reason and both entries.
    const caller = createCallerFactory(appRouter)({
      db: world.db,
      env: world.env,
      user: world.admin,
      crossOrigin: false,
      via: "session",
    } as never);
    expect((await caller.queue.overview()).verifications).toEqual([
      expect.objectContaining({
        id: v.id,
        state: "culprit",
        culpritEntryId: culprit.entry.id,
        revertEntryId: revert?.id,
        reason: expect.stringContaining(`is reverted by Q${revert?.id}`),
      }),
    ]);
    // Every other task stays done.
    for (const l of landed.filter((x) => x !== culprit))
      expect(
        (await world.db.select().from(tasks).where(eq(tasks.id, l.task.id)).limit(1))[0]?.state,
      ).toBe("done");

    // Nothing more to verify until the revert lands.
    expect(await dueReason(world.db, config, target, opts.owner)).toBeNull();
    await drain();
    expect((await getEntry(world.db, revert?.id ?? 0))?.state).toBe("merged");
    expect((await getEntry(world.db, culprit.entry.id))?.state).toBe("rolled_back");
    expect(await show("main", "docs/fragile.md")).toBe("# Fragile\n");
    expect(await show("main", "docs/page-10.md")).toContain("Hyperion note");

    // The task is dispatched again, and its agent's prompt carries the failure.
    expect(await postMergeFailuresOf(world.db, culprit.task.id)).toEqual([
      expect.objectContaining({ verificationId: v.id, changeId: culprit.entry.changeRequestId }),
    ]);
    const [claimed] = await dispatchOnce(world.db, config, "d2");
    expect(claimed?.id).toBe(culprit.task.id);
    const prompt = await buildPrompt(world.db, claimed ?? (task as never), {
      base: "abc",
      checks: [],
      context: [],
    });
    expect(prompt.text).toContain("## An earlier change for this task broke the target branch");
    expect(prompt.text).toContain(`Change #${culprit.entry.changeRequestId} (commit`);
    expect(prompt.text).toContain("FAIL: docs/fragile.md must stay as it is");

    // Once the revert has landed, the tip is verified green from the culprit's parent.
    const [next] = await verifyDue(world.db, config, opts);
    expect(done(next)).toMatchObject({
      state: "passed",
      goodCommit: landed[CULPRIT_AT - 1]?.entry.mergedCommit,
      headCommit: await tip(),
      culpritEntryId: null,
    });
    expect(await verifyDue(world.db, config, opts)).toEqual([]);
  }, 180_000);

  describe("a check that asks the test for its verdict", () => {
    let server: http.Server;
    let asked = 0;
    // By default it fails the first time it is asked and passes after: a flake no commit is
    // to blame for.
    let answer: (n: number) => string;
    beforeEach(async () => {
      asked = 0;
      answer = (n) => (n === 1 ? "fail" : "pass");
      server = http.createServer((_req, res) => {
        asked++;
        res.end(answer(asked));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    });
    afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

    async function verdictPolicy(reruns: number) {
      const { port } = server.address() as AddressInfo;
      await commitFiles({ "verdict.mjs": VERDICT });
      config = withPolicy({
        checks: { test: "npm test", flaky: { run: `node verdict.mjs ${port}`, network: true } },
        postMerge: { checks: ["flaky"], reruns },
      });
    }

    it("that passes on a re-run of the same commit is recorded as flaky and blames nobody", async () => {
      await verdictPolicy(2);
      const one = await land("docs/page-1.md");
      const two = await land("docs/page-2.md");
      const entriesBefore = (await world.db.select({ n: count() }).from(queueEntries).limit(1))[0]
        ?.n;
      const warn = vi.spyOn(log, "warn");

      const [outcome] = await verifyDue(world.db, config, opts);
      const v = done(outcome);
      const head = await tip();
      expect(v).toMatchObject({
        state: "flaky",
        headCommit: head,
        goodCommit: await git(["rev-parse", `${one.entry.mergedCommit}^`], {
          cwd: repoPath(),
        }).then((s) => s.trim()),
        culpritCommit: null,
        culpritEntryId: null,
        revertEntryId: null,
      });
      expect(v.steps).toEqual([
        { commit: head, ok: false, note: "the tip" },
        { commit: head, ok: true, note: "re-run 1 of the tip" },
      ]);
      expect(asked).toBe(2);
      expect(v.output).toContain("the verdict is fail");
      // Nobody blamed: nothing queued, no task reopened.
      expect((await world.db.select({ n: count() }).from(queueEntries).limit(1))[0]?.n).toBe(
        entriesBefore,
      );
      for (const l of [one, two])
        expect(
          (await world.db.select().from(tasks).where(eq(tasks.id, l.task.id)).limit(1))[0]?.state,
        ).toBe("done");
      expect(await verificationEvents("verification.flaky")).toHaveLength(1);
      expect(warn).toHaveBeenCalledWith(
        expect.objectContaining({ state: "flaky" }),
        expect.stringContaining("flaky, nobody is blamed"),
      );
      // The flaky tip counts as green: nothing is due until something else lands.
      expect(await dueReason(world.db, config, target, opts.owner)).toBeNull();
    }, 120_000);

    it("the worker's verifier, stopped mid-run, leaves its verification to the next one", async () => {
      await verdictPolicy(1);
      await land("docs/page-1.md");
      const first = startVerifier({
        db: world.db,
        config: () => config,
        owner: "worker-gone/verify",
        intervalMs: 3_600_000,
        timeoutMs: 60_000,
      });
      // The worker is told to stop while the tip's check runs: that run ends, no other starts.
      let stopped: Promise<void> | undefined;
      answer = () => {
        stopped = first.stop();
        return "fail";
      };
      await first.pass();
      await stopped;
      const [left] = await world.db.select().from(verifications).limit(1);
      expect(left).toMatchObject({
        state: "running",
        steps: [expect.objectContaining({ ok: false })],
      });
      expect(asked).toBe(1);

      // Its worker is gone (no heartbeat): the next worker's verifier restarts it from the top.
      answer = () => "pass";
      const next = startVerifier({
        db: world.db,
        config: () => config,
        owner: "worker-next/verify",
        intervalMs: 3_600_000,
        timeoutMs: 60_000,
      });
      await beat(world.db, "worker-next", Date.now());
      await next.pass();
      await next.stop();
      const [again] = await world.db.select().from(verifications).limit(1);
      expect(again).toMatchObject({
        id: left?.id,
        state: "passed",
        steps: [{ commit: left?.headCommit, ok: true, note: "the tip" }],
      });
      expect(await verificationOwner(world.db, left?.id ?? 0)).toBe("worker-next/verify");
      expect(await verificationEvents("verification.running")).toEqual([
        expect.objectContaining({ payload: expect.objectContaining({ from: null }) }),
        expect.objectContaining({
          payload: expect.objectContaining({
            from: "running",
            restartedFrom: "worker-gone/verify",
          }),
        }),
      ]);
    }, 120_000);
  });

  it("restarts a verification whose verifier died, and leaves a live one alone", async () => {
    await commitFiles({ "check.mjs": SUITE, "docs/fragile.md": "# Fragile\n" });
    config = withPolicy({
      checks: { test: "npm test", suite: "node check.mjs" },
      postMerge: { checks: ["suite"] },
    });
    await land("docs/guide.md");
    const head = await tip();
    const left = await world.db.transaction(async (tx) =>
      createVerification(tx, {
        repo: "demo",
        targetBranch: "main",
        goodCommit: null,
        headCommit: head,
        owner: "worker-alive/verify",
      }),
    );
    await beat(world.db, "worker-alive", Date.now());
    expect(await dueReason(world.db, config, target, opts.owner)).toBeNull();
    const busy = await verifyTarget(world.db, config, target, opts);
    expect(busy).toMatchObject({ kind: "busy", owner: "worker-alive/verify" });

    // Its worker stops without finishing it: the next verifier takes it over from the top.
    await world.db.update(workerHeartbeats).set({ stoppedAt: 1 });
    expect(await dueReason(world.db, config, target, opts.owner)).toMatch(
      /left running by worker-alive\/verify/,
    );
    const [outcome] = await verifyDue(world.db, config, opts);
    expect(done(outcome)).toMatchObject({ id: left.id, state: "passed", headCommit: head });
    expect(await verificationOwner(world.db, left.id)).toBe(opts.owner);
    expect(
      (await verificationEvents("verification.running")).map(
        (e) => (e.payload as { owner: string }).owner,
      ),
    ).toEqual(["worker-alive/verify", opts.owner]);
    expect((await world.db.select({ n: count() }).from(verifications).limit(1))[0]?.n).toBe(1);
  }, 120_000);

  it("leaves alone a repository whose policy names no postMerge checks", async () => {
    config = withPolicy({});
    await land("docs/guide.md");
    expect(await verifyDue(world.db, config, opts)).toEqual([]);
    expect(await verifyTarget(world.db, config, target, opts)).toMatchObject({
      kind: "skipped",
      reason: expect.stringContaining("no postMerge checks"),
    });
  }, 60_000);

  describe("from the command line", () => {
    const BIN = path.resolve("bin/hyperion.mjs");
    const hyperion = (args: string[]) =>
      execa("node", [BIN, ...args], { env: { ...worldEnv(world) }, reject: false });

    /** The suite committed, and the config file on disk given postMerge, for the CLI to read. */
    async function suiteOnDisk() {
      await commitFiles({ "check.mjs": SUITE, "docs/fragile.md": "# Fragile\n" });
      const raw = JSON.parse(fs.readFileSync(world.env.configPath, "utf8"));
      const policy = raw.repositories[0].policy;
      raw.repositories[0].policy = {
        ...policy,
        checks: { ...policy.checks, suite: "node check.mjs" },
        postMerge: { checks: ["suite"] },
      };
      fs.writeFileSync(world.env.configPath, JSON.stringify(raw, null, 2));
      config = loadConfig(world.env.configPath);
    }

    it("the worker process verifies the branch after a landing", async () => {
      await suiteOnDisk();
      await land("docs/guide.md");
      const head = await tip();
      // No SIGKILL 5 s after the SIGTERM (execa's default): run from the sources (a checkout
      // without a fresh dist/cli), the worker's queue thread is still compiling through tsx
      // when the wait ends, and it stops once the thread has started.
      const worker = execa("node", [BIN, "worker", "--threads", "1"], {
        env: { ...worldEnv(world) },
        reject: false,
        forceKillAfterDelay: false,
      });
      try {
        let exited: string | null = null;
        void worker.then((r) => {
          exited = `exit ${r.exitCode}\n${r.stderr}`;
        });
        // Polls the database while the worker runs; a worker that exits first fails the wait.
        for (;;) {
          const [v] = await world.db.select().from(verifications).limit(1);
          if (v && v.state !== "running") break;
          if (exited !== null) throw new Error(`the worker stopped: ${exited}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        const [v] = await world.db.select().from(verifications).limit(1);
        expect(v).toMatchObject({ state: "passed", headCommit: head });
        expect(await verificationOwner(world.db, v?.id ?? 0)).toMatch(
          /^worker-[0-9a-f]{8}\/verify$/,
        );
      } finally {
        worker.kill("SIGTERM");
        const run = await worker;
        expect([run.exitCode, run.signal], run.stderr).toEqual([0, undefined]);
      }
    }, 120_000);

    it("hyperion verify runs one verification now and prints it; hyperion verifications lists them", async () => {
      await suiteOnDisk();
      await land("docs/guide.md");
      const head = await tip();

      const run = await hyperion(["verify", "--repo", "demo"]);
      expect(run.stderr).toBe("");
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toMatch(
        new RegExp(
          `^V1\\tdemo/main\\tpassed\\ttip ${head.slice(0, 12)}, good [0-9a-f]{12}, 1 check run$`,
          "m",
        ),
      );
      expect(run.stdout).toContain("post-merge checks (suite) passed");
      expect((await world.db.select().from(verifications).limit(1))[0]).toMatchObject({
        state: "passed",
        headCommit: head,
      });

      const list = await hyperion(["verifications"]);
      expect(list.exitCode).toBe(0);
      expect(list.stdout).toMatch(/^ID\s+TARGET\s+STATE/m);
      expect(list.stdout).toMatch(
        new RegExp(`^V1\\s+demo/main\\s+passed\\s+${head.slice(0, 12)}`, "m"),
      );

      const unknown = await hyperion(["verify", "--repo", "nope"]);
      expect(unknown.exitCode).toBe(2);
      expect(unknown.stderr).toContain("unknown repository 'nope'; configured: demo");
      const requester = await world.userWith("requester");
      const refused = await hyperion(["verify", "--as", requester.email]);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain("needs an operator or admin");
      expect((await world.db.select({ n: count() }).from(verifications).limit(1))[0]?.n).toBe(1);
    }, 120_000);
  });
});
