import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metaItems } from "@/server/db/schema";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld, worldEnv } from "@/test-support/fixtures";

// `hyperion meta`: items submitted from a terminal under a source event id (the same id twice
// does nothing again), the queue listed, and bad input refused naming the field, exit 1.

const BIN = path.resolve("bin/hyperion.mjs");
let world: TestWorld;
let requestId = 0;

beforeAll(async () => {
  world = await makeWorld();
  const [r] = await createRequests(world.db, {
    input: { title: "Cancel me", description: "", repo: "demo", files: ["src/cart/cart.js"] },
    requester: world.admin,
    config: world.config,
    source: "cli",
  });
  requestId = r?.id ?? 0;
});
afterAll(() => world.cleanup());

const hyperion = (args: string[]) =>
  execa("node", [BIN, ...args], { env: worldEnv(world), reject: false });

describe("hyperion meta", () => {
  it("pauses a repository once for two deliveries, cancels a request, and lists both", async () => {
    const pause = ["meta", "pause", "demo", "--id", "ops-1", "--note", "freeze"];
    const first = await hyperion(pause);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain("#1\tapplied\tpause\tops-1");
    expect(first.stdout).toContain("demo paused: none of its tasks is dispatched");
    const again = await hyperion(pause);
    expect(again.stdout).toContain("(a repeat of this source event id: nothing done again)");
    const cancel = await hyperion(["meta", "cancel", `R${requestId}`, "--id", "ops-2"]);
    expect(cancel.exitCode, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`R${requestId} cancelled`);

    const list = await hyperion(["meta", "list", "--json"]);
    expect(list.exitCode, list.stderr).toBe(0);
    const queue = JSON.parse(list.stdout);
    expect(queue.items.map((i: { sourceEventId: string }) => i.sourceEventId)).toEqual([
      "ops-2",
      "ops-1",
    ]);
    expect(queue.paused).toEqual([expect.objectContaining({ repo: "demo", note: "freeze" })]);
  });

  it("refuses an unknown repository naming the field, exit 1, and writes nothing", async () => {
    const before = (await world.db.select().from(metaItems)).length;
    const res = await hyperion(["meta", "pause", "nope", "--id", "ops-9"]);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain("repo: unknown repository 'nope'; repositories: demo");
    expect((await world.db.select().from(metaItems)).length).toBe(before);
  });
});
