import fs from "node:fs";
import { and, asc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { agentRuns, checkRuns, queueEntries, tasks } from "@/server/db/schema";
import { defaultLoopOptions, runQueueLoop } from "@/server/queue/loop";
import { agentWorld } from "@/test-support/agent-world";

// Two agents' changes that each pass their checks alone and break the branch together: the
// checks run again at landing on exactly what lands, catch the second, and send its task back to
// its agent with the output in the next prompt.

// The command agent: appends a line to each file its task may change.
const EDIT = `const fs = require("fs"); const p = fs.readFileSync(process.argv[1], "utf8");
const files = [...p.split("## Files you may change")[1].split("##")[0].matchAll(/^- (.+)$/gm)].map((m) => m[1]);
for (const f of files) { fs.mkdirSync(require("path").dirname(f), { recursive: true }); fs.appendFileSync(f, "agent line\\n"); }
console.log(JSON.stringify({ kind: "message", text: "edited " + files.join(", ") }));`;

// The policy's check: docs/a.md and docs/b.md may not both exist.
const PAIR = `node -e 'const fs = require("fs"); if (fs.existsSync("docs/a.md") && fs.existsSync("docs/b.md")) { console.error("docs/a.md and docs/b.md together"); process.exit(1); }'`;

const aw = agentWorld();

function useThePairCheck() {
  const policy = aw.world.config.repositories[0]?.policy;
  if (!policy) throw new Error("the demo has a policy");
  policy.checks = { ...policy.checks, pair: PAIR };
  policy.validation.byArea = { ...policy.validation.byArea, docs: { lint: [], test: ["pair"] } };
}

async function drain() {
  await runQueueLoop({
    db: aw.world.db,
    config: () => aw.world.config,
    owner: "q",
    opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5, backoffBaseMs: 0 },
    shouldStop: () => false,
  });
}

const taskOf = async (requestId: number) =>
  (await aw.world.db.select().from(tasks).where(eq(tasks.requestId, requestId)).limit(1))[0];

describe("an agent's change at landing", () => {
  it("is checked on what lands: passing alone in its workspace, broken with another landed change, it goes back to its agent with the output", async () => {
    useThePairCheck();
    aw.setCommand(EDIT);
    const first = await aw.fileRequest(["docs/a.md"], { title: "Add a" });
    const second = await aw.fileRequest(["docs/b.md"], { title: "Add b" });
    await aw.pool.probeAll(aw.world.config);
    await aw.dispatch();
    await aw.pool.idle();
    const { db } = aw.world;
    // Each passed the check in its own workspace, where the other file did not exist.
    const inWorkspaces = await db.select().from(checkRuns).where(eq(checkRuns.place, "workspace"));
    expect(inWorkspaces.map((c) => [c.check, c.outcome])).toEqual([
      ["pair", "passed"],
      ["pair", "passed"],
    ]);
    expect((await taskOf(first))?.state).toBe("submitted");
    expect((await taskOf(second))?.state).toBe("submitted");

    await drain();

    // The first landed, checked on the candidate that became the branch's tip.
    const entries = await db.select().from(queueEntries).orderBy(asc(queueEntries.id));
    expect(entries.map((e) => e.state)).toEqual(["merged", "quarantined"]);
    const [landed, caught] = entries;
    const atLanding = await db.select().from(checkRuns).where(eq(checkRuns.place, "landing"));
    expect(atLanding).toContainEqual(
      expect.objectContaining({
        entryId: landed?.id,
        commit: landed?.mergedCommit,
        check: "pair",
        outcome: "passed",
      }),
    );
    // The second was caught there, with the check's output.
    expect(caught?.lastError).toMatchObject({ kind: "check_failed" });
    expect(caught?.lastError?.outputTail).toContain("docs/a.md and docs/b.md together");
    expect(atLanding).toContainEqual(
      expect.objectContaining({ entryId: caught?.id, check: "pair", outcome: "failed" }),
    );
    // Its task went back to its agent, not to failed, and its request is still under way.
    // (Which of the two lands first is the queue's order, not the test's.)
    const both = [await taskOf(first), await taskOf(second)];
    const done = both.find((t) => t?.changeRequestId === landed?.changeRequestId);
    const reopened = both.find((t) => t !== done);
    expect(done?.state).toBe("done");
    expect(reopened).toMatchObject({ state: "pending", blockedReason: null });

    // Its next run's prompt carries the failure and the output.
    await aw.pass();
    await aw.pool.idle();
    const runs = await db
      .select()
      .from(agentRuns)
      .where(and(eq(agentRuns.taskId, reopened?.id ?? "")))
      .orderBy(asc(agentRuns.id));
    expect(runs).toHaveLength(2);
    const prompt = fs.readFileSync(runs[1]?.promptPath ?? "", "utf8");
    expect(prompt).toContain("failed its checks when it was to land");
    expect(prompt).toContain("docs/a.md and docs/b.md together");
  });
});
