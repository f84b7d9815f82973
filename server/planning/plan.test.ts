import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ForbiddenError } from "@/server/errors";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { answerRequest } from "../requests/answer";
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

describe("clarification that ends", () => {
  it("a question that comes back after an answer goes to a reviewer, who re-scopes it", async () => {
    const requester = await world.userWith("requester");
    const reviewer = await world.userWith("reviewer");
    const [r] = createRequests(world.db, {
      input: {
        title: "Document the cart",
        description: "Explain how src/cart/cart.js merges lines.",
        repo: "demo",
        kind: "docs",
      },
      requester,
      config: world.config,
      source: "cli",
    });
    const id = r?.id ?? 0;
    const first = await planRequest(world.db, world.config, id);
    expect(first.status).toBe("needs_clarification");
    expect(first.questions[0]).toMatch(/kind is docs but it names code files/);

    await expect(answerRequest(world.db, world.config, id, requester, {})).rejects.toThrow(
      "an answer must give files, areas, a kind or a note",
    );
    const again = await answerRequest(world.db, world.config, id, requester, { kind: "docs" });
    expect(again.status).toBe("needs_attention");
    const reason = world.db.$client
      .prepare(
        "SELECT json_extract(payload, '$.reason') FROM events WHERE entity_id = ? AND type = 'request.status' ORDER BY id DESC LIMIT 1",
      )
      .pluck()
      .get(id);
    expect(reason).toMatch(/same question came back/);

    await expect(
      answerRequest(world.db, world.config, id, requester, { note: "please" }),
    ).rejects.toBeInstanceOf(ForbiddenError);
    const rescoped = await answerRequest(world.db, world.config, id, reviewer, {
      kind: "feature",
    });
    expect(rescoped.status).toBe("planned");
  });
});
