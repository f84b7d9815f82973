import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld } from "@/server/testing/fixtures";
import { planRequest } from "./plan";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

describe("planning the same request twice at once", () => {
  it("plans it once; the other planner moves on quietly, writing nothing", async () => {
    const [r] = createRequests(world.db, {
      input: { title: "Explain caps", description: "", repo: "demo", files: ["docs/guide.md"] },
      requester: world.admin,
      config: world.config,
      source: "cli",
    });
    const id = r?.id ?? 0;
    // Both read 'received' and do their slow work before either commits.
    const [a, b] = await Promise.all([
      planRequest(world.db, world.config, id),
      planRequest(world.db, world.config, id),
    ]);
    expect([a.status, b.status]).toEqual(["planned", "planned"]);
    expect([a.tasks.length, b.tasks.length].sort()).toEqual([0, 1]);
    const count = (sql: string) => world.db.$client.prepare(sql).pluck().get(id);
    expect(count("SELECT count(*) FROM tasks WHERE request_id = ?")).toBe(1);
    expect(
      count(
        "SELECT count(*) FROM events WHERE entity_id = ? AND type = 'request.status' AND json_extract(payload, '$.status') = 'planned'",
      ),
    ).toBe(1);
  });
});
