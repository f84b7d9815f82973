import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AlertRules } from "@/schemas/alerts";
import { alerts, queueEntries } from "@/server/db/schema";
import { submitChanges } from "@/server/queue/submit";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { drainQueue } from "@/test-support/queue-world";
import { evaluateAlerts } from "./evaluate";
import { openAlertCount } from "./list";

// The queue's conditions, made by the real queue on the demo repository: an entry that cannot
// apply is quarantined; an entry not yet run is the oldest one waiting.

let world: TestWorld;
beforeAll(async () => {
  world = await makeWorld();
});
afterAll(() => world.cleanup());

const author = { name: "A", email: "a@example.test" };
const newFile = (file: string, line: string) =>
  [
    `diff --git a/${file} b/${file}`,
    "new file mode 100644",
    "--- /dev/null",
    `+++ b/${file}`,
    "@@ -0,0 +1 @@",
    `+${line}`,
    "",
  ].join("\n");

async function submit(file: string, line: string) {
  const [sub] = await submitChanges(
    world.db,
    { repo: "demo", patch: newFile(file, line), summary: line, checks: [], author },
    world.config,
  );
  return sub?.entryId ?? 0;
}

describe("the queue's alert conditions", () => {
  it("an old waiting entry stalls the queue; a quarantined one fires; both clear", async () => {
    const rules = AlertRules.parse([
      { kind: "queue_stalled", minutes: 5 },
      { kind: "entry_quarantined", repositories: ["demo"] },
      { kind: "approval_waiting", hours: 1 },
    ]);
    const first = await submit("docs/alert-a.md", "one");
    const [row] = await world.db.select().from(queueEntries).where(eq(queueEntries.id, first));
    const created = row?.createdAt ?? 0;
    // Not old enough yet: nothing.
    expect(await evaluateAlerts(world.db, rules, { now: created + 60_000 })).toHaveLength(0);
    const stalled = await evaluateAlerts(world.db, rules, { now: created + 6 * 60_000 });
    expect(stalled.map((a) => [a.kind, a.subjectId])).toEqual([["queue_stalled", String(first)]]);
    expect(stalled[0]?.summary).toContain(`Q${first}`);

    // It lands; the same new file again cannot apply and is quarantined.
    await drainQueue(world);
    const second = await submit("docs/alert-a.md", "again");
    await drainQueue(world);
    const [q] = await world.db.select().from(queueEntries).where(eq(queueEntries.id, second));
    expect(q?.state).toBe("quarantined");
    const now = (q?.updatedAt ?? 0) + 1000;
    const fired = await evaluateAlerts(world.db, rules, { now });
    expect(fired.map((a) => [a.kind, a.subjectId])).toEqual([
      ["entry_quarantined", String(second)],
    ]);
    expect(fired[0]?.summary).toMatch(/quarantined/);
    // The stalled alert cleared when its entry landed.
    const [stalledRow] = await world.db
      .select()
      .from(alerts)
      .where(eq(alerts.id, stalled[0]?.id ?? 0));
    expect(stalledRow?.resolvedAt).toBe(now);
    expect(await openAlertCount(world.db)).toBe(1);
    // A rule for another repository's entries would not have fired.
    const other = AlertRules.parse([{ kind: "entry_quarantined", repositories: ["nope"] }]);
    expect(await evaluateAlerts(world.db, other, { now: now + 1 })).toHaveLength(0);
  });
});
