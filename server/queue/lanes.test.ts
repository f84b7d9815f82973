import http from "node:http";
import type net from "node:net";
import { asc } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Policy } from "@/schemas/policy";
import type { LoadedConfig } from "@/server/config/load";
import { checkRuns, queueEntries } from "@/server/db/schema";
import { git } from "@/server/git/run";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { makeRepoPair } from "@/test-support/git-fixtures";
import { claimNext } from "../state/queue/claim";
import { defaultLoopOptions } from "./loop";
import { runPipeline } from "./pipeline";
import type { ProcessContext } from "./process";
import { submitChanges } from "./submit";

// Lanes by area (queue.pipeline.lanes "area"): changes to area a and to area b go in lanes of
// their own. Lane b's check waits at a gate while lane a lands; lane b's passing result is then
// carried over a's landing (it touched only a's files) and b lands without checking again. With
// one lane a branch, a's changes wait until b's lane ends.

let world: TestWorld;
let repo: Awaited<ReturnType<typeof makeRepoPair>>;
let gate: {
  port: number;
  arrived: () => Promise<void>;
  release: () => void;
  stop: () => Promise<void>;
};

/** A gate for check b: it holds each request until released. Check a passes at once. */
async function startGate() {
  const held: http.ServerResponse[] = [];
  const waiters: (() => void)[] = [];
  let open = false;
  const server = http.createServer((req, res) => {
    if (req.url === "/a" || open) return res.end("pass");
    held.push(res);
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    arrived: () => (held.length ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    release: () => {
      open = true;
      for (const res of held.splice(0)) res.end("pass");
    },
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const GATE = (port: number) =>
  `const which = process.argv[2]; const res = await fetch("http://127.0.0.1:${port}/" + which); process.exit((await res.text()) === "pass" ? 0 : 1);\n`;

beforeEach(async () => {
  world = await makeWorld();
  gate = await startGate();
  repo = await makeRepoPair({
    "gate.mjs": GATE(gate.port),
    "a/one.txt": "a1\n",
    "a/two.txt": "a2\n",
    "b/one.txt": "b1\n",
    "b/two.txt": "b2\n",
  });
});
afterEach(async () => {
  gate.release();
  await gate.stop();
  await world.cleanup();
  repo.cleanup();
});

const configWith = (lanes: "area" | "branch"): LoadedConfig => ({
  file: "test",
  repositories: [
    {
      name: "t",
      path: repo.bare,
      targetBranch: "main",
      policy: Policy.parse({
        areas: [
          { name: "a", paths: ["a/**"], risk: "low", lockScope: "files" },
          { name: "b", paths: ["b/**"], risk: "low", lockScope: "files" },
        ],
        checks: {
          a: { run: "node gate.mjs a", network: true },
          b: { run: "node gate.mjs b", network: true },
        },
        queue: { pipeline: { window: 8, batch: { max: 4 }, lanes } },
      }),
    },
  ],
});

const patch = (file: string, old: string, line: string) =>
  [
    `diff --git a/${file} b/${file}`,
    `--- a/${file}`,
    `+++ b/${file}`,
    "@@ -1 +1,2 @@",
    ` ${old}`,
    `+${line}`,
    "",
  ].join("\n");

async function submitAll(config: LoadedConfig) {
  // b's first, so the first claim leads b's lane.
  const changes = [
    ["b/one.txt", "b1", "b"],
    ["b/two.txt", "b2", "b"],
    ["a/one.txt", "a1", "a"],
    ["a/two.txt", "a2", "a"],
  ] as const;
  await submitChanges(
    world.db,
    changes.map(([file, old, area]) => ({
      repo: "t",
      patch: patch(file, old, `changed in ${area}`),
      summary: `change ${file}`,
      author: { name: "A", email: "a@example.test" },
      checks: [area],
    })),
    config,
  );
}

async function lane(config: LoadedConfig, owner: string) {
  const opts = { ...defaultLoopOptions({}), backoffBaseMs: 0, backoffMaxMs: 0, drain: true };
  const ctx: ProcessContext = { db: world.db, config, owner, opts, stores: new Map() };
  const first = await claimNext(world.db, owner, opts);
  const settings = config.repositories[0]?.policy?.queue?.pipeline;
  return {
    first,
    run: async () => {
      if (!first || !settings) throw new Error("nothing to run");
      try {
        return await runPipeline(ctx, first, settings);
      } finally {
        for (const s of ctx.stores.values()) s.close();
      }
    },
  };
}

const entries = async () =>
  await world.db.select().from(queueEntries).orderBy(asc(queueEntries.id));

describe("lanes by area", () => {
  it("a lane of another area lands while one waits on its check; the waiting lane's result is carried over and it lands without checking again", async () => {
    const config = configWith("area");
    await submitAll(config);
    expect((await entries()).map((e) => e.lane)).toEqual(["b", "b", "a", "a"]);
    const b = await lane(config, "lane-b");
    expect(b.first?.lane).toBe("b");
    const bDone = b.run();
    await gate.arrived(); // b's check waits at the gate
    const a = await lane(config, "lane-a");
    expect(a.first?.lane).toBe("a"); // not held back by b's lane
    await a.run();
    expect((await entries()).map((e) => e.state)).toEqual([
      "checking",
      "checking",
      "merged",
      "merged",
    ]);
    gate.release();
    const report = await bDone;
    expect((await entries()).map((e) => e.state)).toEqual(["merged", "merged", "merged", "merged"]);
    // b's check ran once, on a commit without a's changes; it was not run again.
    expect(report.checkRuns).toBe(1);
    const bRuns = (await world.db.select().from(checkRuns)).filter((r) => r.check === "b");
    expect(new Set(bRuns.map((r) => r.commit)).size).toBe(1);
    // The branch has everything, a's first, and b's commits on top of them.
    const log = (await git(["log", "--format=%s", "main"], { cwd: repo.bare })).trim().split("\n");
    expect(log).toEqual([
      "change b/two.txt",
      "change b/one.txt",
      "change a/two.txt",
      "change a/one.txt",
      "initial",
    ]);
    expect(await git(["show", "main:a/one.txt"], { cwd: repo.bare })).toBe("a1\nchanged in a\n");
    expect(await git(["show", "main:b/one.txt"], { cwd: repo.bare })).toBe("b1\nchanged in b\n");
  });

  it("with one lane a branch (the default), another area's changes wait for the lane that holds the branch", async () => {
    const config = configWith("branch");
    await submitAll(config);
    expect((await entries()).map((e) => e.lane)).toEqual(["", "", "", ""]);
    const b = await lane(config, "lane-b");
    const bDone = b.run();
    await gate.arrived();
    // Every entry of the branch is b's lane's: the other thread finds nothing to claim.
    expect((await lane(config, "lane-a")).first).toBeUndefined();
    gate.release();
    await bDone;
    expect((await entries()).map((e) => e.state)).toEqual(["merged", "merged", "merged", "merged"]);
  });

  it("refuses an unknown lane mode, naming the key", () => {
    const parsed = Policy.safeParse({ queue: { pipeline: { lanes: "paths" } } });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain("lanes");
    expect(JSON.stringify(parsed.error?.issues)).toContain("a lane per area");
  });
});
