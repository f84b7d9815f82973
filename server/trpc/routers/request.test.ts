import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ValidationError } from "@/server/errors";
import { type Context, createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import type { User } from "@/server/users/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";

let world: TestWorld;
const createCaller = createCallerFactory(appRouter);
const caller = (user: User | null) =>
  createCaller({
    db: world.db,
    env: world.env,
    user,
    crossOrigin: false,
    via: "session",
  } as Context);

beforeAll(async () => {
  world = await makeWorld();
  const input = Array.from({ length: 60 }, (_, i) => ({
    title: `Paged ${i}`,
    description: "",
    repo: "demo",
  }));
  await caller(world.admin).request.create(input);
});
afterAll(() => world.cleanup());

async function refusal(call: Promise<unknown>) {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCError);
  return err as TRPCError;
}

describe("request.list", () => {
  it("pages 50 at a time by default, with cursors both ways and the live event id", async () => {
    const list = caller(world.admin).request.list;
    const first = await list({ q: "paged" });
    expect(first.rows).toHaveLength(50);
    expect(first.prev).toBeNull();
    expect(first.afterId).toBeGreaterThan(0);
    const second = await list({ q: "paged", cursor: first.next ?? "" });
    expect(second.rows.map((r) => r.title)).toEqual(
      Array.from({ length: 10 }, (_, i) => `Paged ${9 - i}`),
    );
    expect(second.next).toBeNull();
    const back = await list({ q: "paged", cursor: second.prev ?? "" });
    expect(back.rows.map((r) => r.id)).toEqual(first.rows.map((r) => r.id));
    expect((await list({ limit: 100 })).rows).toHaveLength(60);
  });

  it("is BAD_REQUEST naming limit, cursor, status or sort when one is invalid", async () => {
    const list = caller(world.admin).request.list;
    const cases: [unknown, string][] = [
      [{ limit: 101 }, "limit"],
      [{ limit: 0 }, "limit"],
      [{ cursor: "not-a-cursor" }, "cursor"],
      [{ status: "<script>alert(1)</script>" }, "status"],
      [{ sort: "random" }, "sort"],
      [{ q: "q".repeat(201) }, "q"],
    ];
    for (const [input, path] of cases) {
      const err = await refusal(list(input as never));
      expect(err.code, path).toBe("BAD_REQUEST");
      expect(err.message).toContain(path);
    }
  });

  it("is UNAUTHORIZED without a session", async () => {
    expect((await refusal(caller(null).request.list())).code).toBe("UNAUTHORIZED");
  });
});

describe("request.create", () => {
  it('files a batch whose later items name earlier ones by position ("#0")', async () => {
    const item = { title: "Batch", description: "", repo: "demo" };
    const created = await caller(world.admin).request.create([
      item,
      { ...item, dependsOn: ["#0"] },
    ]);
    const second = await caller(world.admin).request.get({ id: created[1]?.id ?? 0 });
    expect(second?.dependsOn).toEqual([created[0]?.id]);
  });

  it("is BAD_REQUEST naming each bad position, and writes nothing", async () => {
    const before = (await caller(world.admin).request.list({ q: "positions" })).rows.length;
    const item = { title: "Positions", description: "", repo: "demo" };
    const err = await refusal(
      caller(world.admin).request.create([item, { ...item, dependsOn: ["#3"] }]),
    );
    expect(err.code).toBe("BAD_REQUEST");
    expect((err.cause as ValidationError).issues).toEqual([
      {
        path: "[1].dependsOn[0]",
        message: '"#3" is not an earlier item of this call: this call has 2 requests, #0 to #1',
      },
    ]);
    expect((await caller(world.admin).request.list({ q: "positions" })).rows).toHaveLength(before);
  });

  it("is BAD_REQUEST naming files[i] for a file main lacks, unless allowNewFiles", async () => {
    const item = { title: "New file", description: "", repo: "demo", files: ["src/cart/kart.js"] };
    const err = await refusal(caller(world.admin).request.create(item));
    expect(err.code).toBe("BAD_REQUEST");
    expect((err.cause as ValidationError).issues).toEqual([
      expect.objectContaining({ path: "files[0]", code: "new_file" }),
    ]);
    const [created] = await caller(world.admin).request.create({ ...item, allowNewFiles: true });
    expect((await caller(world.admin).request.get({ id: created?.id ?? 0 }))?.files).toEqual([
      "src/cart/kart.js",
    ]);
  });
});
