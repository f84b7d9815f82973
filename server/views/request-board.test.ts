import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { boardColumns } from "@/schemas/board";
import { HistoryQuery } from "@/schemas/history";
import { requestStatuses } from "@/schemas/request-status";
import { ValidationError } from "@/server/errors";
import { planRequest } from "@/server/planning/plan";
import { createRequests } from "@/server/requests/service";
import { createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import { latestIds, markSeen } from "@/server/users/notification-marks";
import type { User } from "@/server/users/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { fileAndQueue } from "@/test-support/queue-world";
import { listHistory } from "./history";
import { notificationsFor, unreadCount } from "./notifications";
import { readBoardParams, requestBoard } from "./request-board";

// The board, "Mine" (board and history) and the notifications derived from the events.

let world: TestWorld;
let ana: User;
let rita: User;
beforeEach(async () => {
  world = await makeWorld({ gates: true });
  ana = await world.userWith("requester");
  rita = await world.userWith("reviewer");
});
afterEach(() => world.cleanup());

async function file(by: User, title: string, extra: Record<string, unknown> = {}) {
  const [r] = await createRequests(world.db, {
    input: { title, description: "", repo: "demo", ...extra },
    requester: by,
    config: world.config,
    source: "cli",
  });
  return r?.id ?? 0;
}
const column = (board: Awaited<ReturnType<typeof requestBoard>>, key: string) =>
  board.columns.find((c) => c.key === key);
const ids = (board: Awaited<ReturnType<typeof requestBoard>>) =>
  board.columns.flatMap((c) => c.cards.map((card) => card.id)).sort((a, b) => a - b);

describe("the board", () => {
  it("puts requests in columns by status, filtered by repository, kind and mine", async () => {
    const vague = await file(ana, "Make it better");
    expect((await planRequest(world.db, world.config, vague)).status).toBe("needs_clarification");
    const landed = await fileAndQueue(world, {
      file: "docs/guide.md",
      title: "Explain caps",
      requester: ana,
    });
    const received = await file(rita, "Fix the docs", { kind: "docs" });

    const all = await requestBoard(world.db, {}, ana);
    expect(all.columns.map((c) => c.key)).toEqual([
      "received",
      "person",
      "planned",
      "in_progress",
      "awaiting_approval",
      "done",
      "failed",
      "ended",
    ]);
    expect(column(all, "person")?.cards.map((c) => c.id)).toEqual([vague]);
    expect(column(all, "received")?.cards.map((c) => c.id)).toEqual([received]);
    expect(column(all, "done")).toMatchObject({ total: 1, cards: [{ id: landed.requestId }] });

    expect(ids(await requestBoard(world.db, { kind: "docs" }, ana))).toContain(received);
    expect(ids(await requestBoard(world.db, { repo: "nowhere" }, ana))).toEqual([]);
    expect(ids(await requestBoard(world.db, { mine: "filed" }, ana))).toEqual(
      [vague, landed.requestId].sort((a, b) => a - b),
    );
    // What waits for ana: her request's question.
    expect(ids(await requestBoard(world.db, { mine: "waiting" }, ana))).toEqual([vague]);
    expect(ids(await requestBoard(world.db, { mine: "waiting" }, rita))).toEqual([]);
  });

  it("a change waiting for approval waits for the reviewer, not for its own requester", async () => {
    const medium = await fileAndQueue(world, {
      file: "src/cart/cart.js",
      title: "Round totals",
      requester: ana,
    });
    expect(medium.entry?.state).toBe("awaiting_approval");
    expect(ids(await requestBoard(world.db, { mine: "waiting" }, rita))).toEqual([
      medium.requestId,
    ]);
    expect(ids(await requestBoard(world.db, { mine: "waiting" }, ana))).toEqual([]);
    // The same "Mine" on the history.
    const history = async (user: User, mine: "filed" | "waiting") =>
      (await listHistory(world.db, HistoryQuery.parse({ mine }), user)).rows.map((r) => r.id);
    expect(await history(rita, "waiting")).toEqual([medium.requestId]);
    expect(await history(ana, "filed")).toEqual([medium.requestId]);
    expect(await history(rita, "filed")).toEqual([]);
    await expect(
      (async () => listHistory(world.db, HistoryQuery.parse({ mine: "filed" })))(),
    ).rejects.toThrow(/mine/);
  });

  it("refuses hostile filters with a 400 naming the field, and the page reads them without breaking", async () => {
    const caller = createCallerFactory(appRouter)({
      db: world.db,
      env: world.env,
      user: ana,
      crossOrigin: false,
      via: "session",
    });
    const hostile: [unknown, RegExp][] = [
      [{ kind: "<script>alert(1)</script>" }, /kind/],
      [{ mine: "everyone" }, /mine/],
      [{ repo: "r".repeat(5000) }, /repo: at most 200 characters/],
      [{ repo: "" }, /repo/],
      [{ status: "done" }, /status/],
      [{ repo: ["a", "b"] }, /repo/],
      ["drop table", /.+/],
    ];
    for (const [input, message] of hostile) {
      await expect((async () => requestBoard(world.db, input, ana))()).rejects.toThrow(
        ValidationError,
      );
      const err = await caller.request.board(input).catch((e) => e);
      expect(err?.code, JSON.stringify(input)).toBe("BAD_REQUEST");
      const issues = (err.cause as ValidationError).issues
        .map((i) => `${i.path}: ${i.message}`)
        .join("; ");
      expect(issues, JSON.stringify(input)).toMatch(message);
    }

    const read = readBoardParams(
      {
        repo: "<script>alert(1)</script>",
        kind: "x".repeat(300),
        mine: ["filed", "waiting"],
      },
      ["demo"],
    );
    expect(read.query).toBeNull();
    expect(read.problems).toEqual([
      "Choose one 'mine' filter, not 2.",
      "No repository called '<script>alert(1)</script>'.",
      `No kind called '${"x".repeat(60)}…' (kinds: feature, bugfix, refactor, docs, test, chore).`,
    ]);
    expect(readBoardParams({ repo: "r".repeat(201) }, ["demo"]).problems).toEqual([
      "A repository name is at most 200 characters.",
    ]);
    expect(readBoardParams({ repo: "demo", mine: "waiting" }, ["demo"]).query).toEqual({
      repo: "demo",
      mine: "waiting",
    });
  });
});

describe("notifications", () => {
  it("a requester hears of her question and her request done; a reviewer of a change waiting for her", async () => {
    const vague = await file(ana, "Make it better");
    await planRequest(world.db, world.config, vague);
    const landed = await fileAndQueue(world, {
      file: "docs/guide.md",
      title: "Explain caps",
      requester: ana,
    });
    const medium = await fileAndQueue(world, {
      file: "src/cart/cart.js",
      title: "Round totals",
      requester: ana,
    });

    const anas = await notificationsFor(world.db, ana);
    expect(anas.items.map((n) => [n.kind, n.requestId])).toEqual(
      expect.arrayContaining([
        ["question", vague],
        ["done", landed.requestId],
      ]),
    );
    // Her own change waiting for a reviewer is no news for her; it is for the reviewer.
    expect(anas.items.some((n) => n.kind === "approval")).toBe(false);
    expect(anas.items.every((n) => n.unread)).toBe(true);
    expect(await unreadCount(world.db, ana)).toBe(anas.items.length);

    const ritas = await notificationsFor(world.db, rita);
    expect(ritas.items).toMatchObject([
      { kind: "approval", requestId: medium.requestId, entryId: medium.entry?.id, unread: true },
    ]);
    expect(await unreadCount(world.db, rita)).toBe(1);

    // Read: the count drops to 0 and the list keeps them, no longer new.
    await markSeen(world.db, ana.id, anas.latest);
    expect(await unreadCount(world.db, ana)).toBe(0);
    expect((await notificationsFor(world.db, ana)).items.every((n) => !n.unread)).toBe(true);
    // Marks never move back, nor past what exists.
    await markSeen(world.db, ana.id, { events: 0, queueLogs: 0 });
    expect(await unreadCount(world.db, ana)).toBe(0);
    const latest = await latestIds(world.db);
    expect(await markSeen(world.db, rita.id, { events: 1e12, queueLogs: 1e12 })).toEqual(latest);
    expect(await unreadCount(world.db, rita)).toBe(0);
    const later = await file(ana, "Another vague one");
    await planRequest(world.db, world.config, later);
    expect(await unreadCount(world.db, ana)).toBe(1);
  });

  it("markSeen refuses ids that are not ids, with a 400", async () => {
    const caller = createCallerFactory(appRouter)({
      db: world.db,
      env: world.env,
      user: ana,
      crossOrigin: false,
      via: "session",
    });
    for (const input of [{ events: -1 }, { events: "1" }, { other: 1 }, { events: 1.5 }])
      await expect(caller.notification.markSeen(input as never)).rejects.toMatchObject({
        code: "BAD_REQUEST",
      });
    expect(await caller.notification.count()).toEqual({ unread: 0 });
  });
});

describe("the board's columns", () => {
  it("place every request status in exactly one column", () => {
    const placed = boardColumns.flatMap((c) => [...c.statuses]);
    expect([...placed].sort()).toEqual([...requestStatuses].sort());
  });
});
