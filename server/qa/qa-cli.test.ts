import fs from "node:fs";
import path from "node:path";
import { count, eq } from "drizzle-orm";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { qaDecisions, queueEntries, tasks } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld, tempDir, worldEnv } from "@/test-support/fixtures";
import { drainQueue } from "@/test-support/queue-world";

// `hyperion qa`: the QA queue, a candidate written to a folder, bad input refused with the
// field named and a non-zero exit, and a pass.

const BIN = path.resolve("bin/hyperion.mjs");
let world: TestWorld;
let requestId = 0;
let entryId = 0;

beforeAll(async () => {
  world = await makeWorld({ qa: true });
  const [r] = await createRequests(world.db, {
    input: {
      title: "Count the cart's items",
      description: "",
      repo: "demo",
      files: ["src/cart/cart.js"],
      kind: "feature",
    },
    requester: world.admin,
    config: world.config,
    source: "cli",
  });
  requestId = r?.id ?? 0;
  await advance(world.db, world.config, "d");
  await drainQueue(world);
  const [task] = await world.db.select().from(tasks).where(eq(tasks.requestId, requestId));
  const [entry] = await world.db
    .select()
    .from(queueEntries)
    .where(eq(queueEntries.changeRequestId, task?.changeRequestId ?? 0));
  entryId = entry?.id ?? 0;
  expect(entry?.state).toBe("qa_required");
});
afterAll(() => world.cleanup());

const hyperion = (args: string[]) =>
  execa("node", [BIN, ...args], { env: worldEnv(world), reject: false });
const decisions = async () =>
  (await world.db.select({ n: count() }).from(qaDecisions).limit(1))[0]?.n ?? 0;

describe("hyperion qa", () => {
  it("lists the QA queue, writes the candidate, refuses bad input, and passes", async () => {
    const list = await hyperion(["qa", "list", "--json"]);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).next).toMatchObject({
      requestId,
      repo: "demo",
      entries: [{ id: entryId }],
    });

    const dir = path.join(tempDir(), "candidate");
    const out = await hyperion(["qa", "checkout", `R${requestId}`, dir]);
    expect(out.exitCode, out.stderr).toBe(0);
    expect(out.stdout).toContain(`R${requestId}\t${dir}\tcandidate `);
    expect(fs.existsSync(path.join(dir, "src/cart/cart.js"))).toBe(true);

    const bell = await hyperion(["qa", "fail", `R${requestId}`, "--notes", "rings\u0007here"]);
    expect(bell.exitCode).toBe(1);
    expect(bell.stderr).toContain("notes");
    expect(bell.stderr).toContain("position 6");
    const level = await hyperion(["qa", "prioritize", `R${requestId}`, "--priority", "urgent"]);
    expect(level.exitCode).toBe(2);
    expect(level.stderr).toContain("--priority must be one of low, normal, high");
    const id = await hyperion(["qa", "pass", "Q12"]);
    expect(id.exitCode).toBe(2);
    expect(id.stderr).toContain("request id must be a number such as 12 or R12");
    expect(await decisions()).toBe(0);

    const pass = await hyperion(["qa", "pass", `R${requestId}`]);
    expect(pass.exitCode, pass.stderr).toBe(0);
    expect(pass.stdout).toContain(`R${requestId}\tQA passed\tQ${entryId} queued to land`);
    expect(await decisions()).toBe(1);
    const again = await hyperion(["qa", "pass", `R${requestId}`]);
    expect(again.exitCode).not.toBe(0);
    expect(again.stderr).toContain("no change waiting for QA");
    // Eight runs of the CLI from its sources: seconds each on a busy machine.
  }, 300_000);
});
