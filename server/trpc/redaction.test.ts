import path from "node:path";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changeQueueLogs } from "@/server/db/schema";
import type { User } from "@/server/users/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { callOverHttp, contextFor, seedFailedRequest } from "@/test-support/trpc-fixtures";
import { createCallerFactory } from "./init";
import { appRouter } from "./root";

let world: TestWorld;
let reviewer: User;
let seeded: Awaited<ReturnType<typeof seedFailedRequest>>;
beforeAll(async () => {
  world = await makeWorld();
  reviewer = await world.userWith("reviewer");
  seeded = await seedFailedRequest(world, reviewer);
});
afterAll(() => world.cleanup());

const caller = (user: User | null) => createCallerFactory(appRouter)(contextFor(world, user));

describe("server paths in failure texts", () => {
  it("are hidden from a non-admin in a request's detail, user text untouched", async () => {
    const detail = await caller(reviewer).request.detail({ id: seeded.requestId });
    const text = JSON.stringify(detail);
    expect(text).not.toContain(world.dir);
    expect(text).not.toContain(seeded.repoPath);
    expect(detail?.tasks[0]?.blockedReason).toContain("'<repo>/src/app.ts'");
    expect(detail?.changes[0]?.lastError?.message).toBe(
      "SQLITE_CANTOPEN: <server path> (worktree <server path>)",
    );
    expect(detail?.request.title).toBe("Fix /srv/app/notes in the title");
  });

  it("are hidden from a non-admin in the queue overview, entries and log alike", async () => {
    const overview = await caller(reviewer).queue.overview();
    const text = JSON.stringify(overview);
    expect(text).not.toContain(world.dir);
    expect(overview.quarantined[0]?.lastError?.outputTail).toBe(
      "npm ERR! at <repo>/src/app.ts:3:9",
    );
  });

  it("are hidden from a non-admin in a queue log event's warning, overview and live alike", async () => {
    const worktree = path.join(seeded.repoPath, "..", "worktrees", "demo");
    const warning = `landed, but the worktree ${worktree} could not be updated to abc123`;
    const [logRow] = await world.db
      .insert(changeQueueLogs)
      .values({
        entryId: seeded.entryId,
        event: {
          entryId: seeded.entryId,
          from: "ready",
          to: "merged",
          worker: null,
          attempt: 1,
          warning,
        },
        at: Date.now(),
      })
      .returning();
    if (!logRow) throw new Error("log row not written");
    const logId = logRow.id;
    const shown = async (user: User) =>
      caller(user)
        .queue.overview()
        .then((o) => o.recent.find((r) => r.id === logId)?.event.warning);
    expect(await shown(reviewer)).toBe(
      "landed, but the worktree <server path> could not be updated to abc123",
    );
    expect(await shown(world.admin)).toBe(warning);

    // A tracked event arrives as [id, row]; the first after lastEventId is this one.
    const live = (await caller(reviewer).queue.live({
      lastEventId: String(logId - 1),
    })) as AsyncIterable<[string, { id: number; event: { warning?: string } }]>;
    let seen = "";
    for await (const [id, row] of live) {
      seen = id;
      expect(JSON.stringify(row)).not.toContain(worktree);
      expect(row.event.warning).toContain("<server path>");
      break;
    }
    expect(seen).toBe(String(logId));
  });

  it("are shown to an admin", async () => {
    const detail = await caller(world.admin).request.detail({ id: seeded.requestId });
    expect(detail?.changes[0]?.lastError?.message).toContain(seeded.dbFile);
  });

  it("are hidden from a non-admin in error messages, and shown to an admin", async () => {
    // A config file that was never readable: its error names its path.
    const env = { ...world.env, configPath: path.join(world.dir, "gone", "hyperion.config.json") };
    const asRequester = await callOverHttp(world, reviewer, "system.status", undefined, { env });
    expect(asRequester.status).toBe(500);
    expect(asRequester.body?.error?.message).toContain("<server path>");
    expect(JSON.stringify(asRequester.body)).not.toContain(world.dir);
    const asAdmin = await callOverHttp(world, world.admin, "system.status", undefined, { env });
    expect(asAdmin.body?.error?.message).toContain(env.configPath);
  });
});

describe("live views", () => {
  it.each(["request", "queue"] as const)(
    "%s.live refuses a lastEventId that is not an event id with BAD_REQUEST naming it",
    async (topic) => {
      const err = await caller(reviewer)
        [topic].live({ lastEventId: "abc" })
        .then(() => null)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TRPCError);
      expect((err as TRPCError).code).toBe("BAD_REQUEST");
      expect((err as TRPCError).message).toContain("lastEventId");
    },
  );

  it("answers a bad Last-Event-ID header over SSE with a 400 error event, not a silent stream", async () => {
    const res = await callOverHttp(
      world,
      reviewer,
      "request.live",
      {},
      {
        headers: { "last-event-id": "1 OR 1=1" },
      },
    );
    expect(res.stream).toMatch(/event: serialized-error/);
    expect(res.stream).toMatch(/"httpStatus":400/);
    expect(res.stream).toMatch(/"path":"lastEventId"/);
  });
});
