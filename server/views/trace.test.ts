import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { queueEntries } from "@/server/db/schema";
import { NotFoundError, ValidationError } from "@/server/errors";
import { git } from "@/server/git/run";
import { rollbackEntry } from "@/server/queue/rollback";
import { patchStats, requestSummary } from "@/server/views/request-summary";
import { entryTimeline } from "@/server/views/timeline";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { drainQueue, fileAndQueue } from "@/test-support/queue-world";
import { parseTraceRef, resolveTrace, traceLines, traceOf } from "./trace";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

const drain = () => drainQueue(world);

async function landed() {
  const { requestId, task, entry } = await fileAndQueue(world, {
    file: "docs/guide.md",
    title: "Explain caps",
  });
  if (!entry?.mergedCommit || !task) throw new Error("it did not land");
  return { requestId, task, entry };
}

describe("hyperion trace", () => {
  it("reads every kind of id, and refuses what names nothing", () => {
    expect(parseTraceRef("R12")).toEqual({ kind: "request", id: 12 });
    expect(parseTraceRef("12")).toEqual({ kind: "request", id: 12 });
    expect(parseTraceRef("R12.3")).toEqual({ kind: "task", id: "12.3" });
    expect(parseTraceRef("q7")).toEqual({ kind: "entry", id: 7 });
    expect(parseTraceRef("C5")).toEqual({ kind: "change", id: 5 });
    expect(parseTraceRef("run 3")).toEqual({ kind: "run", id: 3 });
    expect(parseTraceRef("ABCDEF1")).toEqual({ kind: "commit", sha: "abcdef1" });
    expect(() => parseTraceRef("../etc/passwd")).toThrow(ValidationError);
    expect(() => parseTraceRef("<script>")).toThrow(/names nothing Hyperion knows/);
  });

  it("from a commit sha on the target branch back to its request, and through its rollback", async () => {
    const { requestId, task, entry } = await landed();
    const sha = entry.mergedCommit ?? "";
    for (const ref of [
      `R${requestId}`,
      `R${task.id}`,
      `Q${entry.id}`,
      `C${entry.changeRequestId}`,
      sha,
      sha.slice(0, 8),
    ]) {
      expect(await resolveTrace(world.db, world.config, ref), ref).toMatchObject({ requestId });
    }
    const trace = await traceOf(
      world.db,
      await resolveTrace(world.db, world.config, sha.slice(0, 10)),
    );
    expect(trace.request).toMatchObject({ id: requestId, status: "done" });
    expect(trace.spec?.files).toEqual(["docs/guide.md"]);
    const change = trace.tasks[0]?.changes[0];
    expect(change?.entry).toMatchObject({ id: entry.id, state: "merged", mergedCommit: sha });
    expect(change?.patchHash).toMatch(/^[0-9a-f]{64}$/);

    // Roll it back: the revert's commit leads to the same request, whose chain shows both.
    const revert = await rollbackEntry(world.db, world.config, entry.id);
    if (!revert) throw new Error("no revert");
    // Asked again while its revert is on its way: refused, nothing queued.
    await expect(rollbackEntry(world.db, world.config, entry.id)).rejects.toThrow(
      /being rolled back already: its revert is Q\d+/,
    );
    await drain();
    // And once it is rolled back: refused too.
    await expect(rollbackEntry(world.db, world.config, entry.id)).rejects.toThrow(
      /only a merged entry can be rolled back/,
    );
    const [revertEntry] = await world.db
      .select()
      .from(queueEntries)
      .where(eq(queueEntries.id, revert.entryId))
      .limit(1);
    const revertSha = revertEntry?.mergedCommit ?? "";
    expect(revertSha).toMatch(/^[0-9a-f]{40}$/);
    const again = await traceOf(world.db, await resolveTrace(world.db, world.config, revertSha));
    expect(again.request).toMatchObject({ id: requestId, status: "rolled_back" });
    expect(again.tasks[0]?.changes[0]?.revertedBy).toMatchObject({
      entryId: revert.entryId,
      mergedCommit: revertSha,
    });
    const text = traceLines(again).join("\n");
    expect(text).toContain(`Q${entry.id} [rolled_back] → commit ${sha.slice(0, 12)}`);
    expect(text).toContain(`rolled back by C`);
    // A commit's trailer leads there too, when no entry recorded it (a replayed database).
    const body = await git(["log", "-1", "--format=%B", sha], {
      cwd: world.config.repositories[0]?.path ?? "",
    });
    expect(body).toContain(`Hyperion-Change-Request: ${entry.changeRequestId}`);
  });

  it("an unknown id or sha is refused with what it looked for", async () => {
    await expect(resolveTrace(world.db, world.config, "R999")).rejects.toThrow(NotFoundError);
    await expect(resolveTrace(world.db, world.config, "deadbeef")).rejects.toThrow(
      /no commit deadbeef landed by Hyperion/,
    );
  });

  it("a finished request's summary: files with lines added and removed, checks, stages", async () => {
    const { requestId } = await landed();
    const summary = await requestSummary(world.db, requestId);
    expect(summary.files).toEqual([{ path: "docs/guide.md", added: 1, removed: 0 }]);
    expect(summary.markdown).toContain("| `docs/guide.md` | 1 | 0 |");
    expect(summary.markdown).toMatch(/- C\d+ \(low risk\): checks passed, landed as [0-9a-f]{12}/);
    expect(summary.markdown).toContain("## Time in each stage");
    expect(summary.markdown).toMatch(/- received: /);
    expect(patchStats("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n-a\n+b\n+c\n")).toEqual(
      [{ path: "x", added: 2, removed: 1 }],
    );
  });

  it("an entry's timeline says in words what happened and what to do next", async () => {
    const { entry } = await landed();
    const view = await entryTimeline(world.db, entry.id);
    const text = view.lines.map((l) => l.text);
    expect(text[0]).toBe("Queued to land");
    expect(text.at(-1)).toMatch(/^Landed as commit [0-9a-f]{12}$/);
    expect(view.next).toMatch(/It is on the branch/);
    await expect((async () => entryTimeline(world.db, 9999))()).rejects.toThrow(
      /no queue entry Q9999/,
    );
  });
});
