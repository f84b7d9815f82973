import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type EventFilter, matchesEvent } from "@/components/queue-guidance";
import type { EntryError } from "@/schemas/queue";
import type { LoadedConfig } from "@/server/config/load";
import { ValidationError } from "@/server/errors";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { makeRepoPair } from "@/test-support/git-fixtures";
import { dropEntry, retryEntry } from "../queue/retry";
import { submitChanges } from "../queue/submit";
import { claimNext } from "../state/queue/claim";
import { defaultQueueOptions, failEntry, getEntry } from "../state/queue/store";
import { queueBoard, withRequestIds } from "./board";
import { recentLogs } from "./insights";

let world: TestWorld;
let repo: Awaited<ReturnType<typeof makeRepoPair>>;
let config: LoadedConfig;

beforeEach(async () => {
  world = await makeWorld();
  repo = await makeRepoPair({ "a.txt": "a\n", "b.txt": "b\n" });
  config = { file: "test", repositories: [{ name: "t", path: repo.bare, targetBranch: "main" }] };
});
afterEach(async () => {
  await world.cleanup();
  repo.cleanup();
});

const conflict: EntryError = { kind: "conflict", message: "clash", paths: ["a.txt"] };

async function submit(file: string, summary: string, maxAttempts = 5) {
  const { patch } = await repo.change((d) => fs.writeFileSync(path.join(d, file), `${summary}\n`));
  const [sub] = await submitChanges(
    world.db,
    { repo: "t", patch, summary, author: { name: "A", email: "a@example.test" } },
    config,
    { maxAttempts },
  );
  if (!sub) throw new Error("nothing submitted");
  return sub.entryId;
}

/** Submits a change on its own file and fails its one attempt: it is quarantined. */
async function quarantined(summary: string) {
  const id = await submit("a.txt", summary, 1);
  const e = await claimNext(world.db, "w1", defaultQueueOptions);
  if (e?.id !== id) throw new Error(`claimed ${e?.id}, not ${id}`);
  expect(await failEntry(world.db, e, "applying", "w1", conflict, defaultQueueOptions)).toBe(
    "quarantined",
  );
  return id;
}

describe("the queue board", () => {
  it("puts quarantined, moving and finished entries apart, and names what a queued one waits behind", async () => {
    const stuck = await quarantined("stuck");
    const first = await submit("a.txt", "first on a");
    const second = await submit("a.txt", "second on a");
    const other = await submit("b.txt", "on b");

    const board = await queueBoard(world.db);
    expect(board.quarantined.map((e) => [e.id, e.summary, e.lastError?.kind])).toEqual([
      [stuck, "stuck", "conflict"],
    ]);
    expect(board.moving.map((e) => [e.id, e.state, e.blockedBy])).toEqual([
      [first, "queued", []],
      [second, "queued", [{ id: first, state: "queued" }]],
      [other, "queued", []],
    ]);
    expect(board.finished).toEqual([]);
  });

  it("an operator's drop rejects a quarantined entry, which then reads as finished", async () => {
    const id = await quarantined("dropped");
    await dropEntry(world.db, id, "user:ops@example.test");
    expect((await getEntry(world.db, id))?.state).toBe("rejected");
    const board = await queueBoard(world.db);
    expect(board.quarantined).toEqual([]);
    expect(board.finished.map((e) => [e.id, e.state])).toEqual([[id, "rejected"]]);
    const last = (await recentLogs(world.db, 1))[0];
    expect(last?.event).toMatchObject({ from: "quarantined", to: "rejected" });
    expect(last?.event.note).toBe("dropped from quarantine by ops@example.test");
  });

  it("dropping an entry that is not quarantined names the entry and its state, and moves nothing", async () => {
    const id = await submit("b.txt", "still queued");
    let err: unknown;
    try {
      await dropEntry(world.db, id, "user:ops@example.test");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues).toEqual([
      { path: "id", message: `entry ${id} is queued; only a quarantined entry can be dropped` },
    ]);
    expect((await getEntry(world.db, id))?.state).toBe("queued");
  });
});

describe("the event log's filter", () => {
  it("narrows by entry, by kind of move and by text; a change submitted without a request matches no R-id", async () => {
    const stuck = await quarantined("stuck");
    await retryEntry(world.db, stuck, "user:ops@example.test");
    const other = await submit("b.txt", "other");
    const rows = await withRequestIds(world.db, await recentLogs(world.db, 50));
    const pick = (f: Partial<EventFilter>) =>
      rows
        .filter((r) => matchesEvent(r, { event: "", q: "", ...f }))
        .map((r) => `${r.entryId}:${r.event.from ?? ""}→${r.event.to}`);

    expect(rows.every((r) => r.requestId === null)).toBe(true);
    expect(pick({ q: `Q${other}` })).toEqual([`${other}:→queued`]);
    expect(pick({ q: String(stuck) })).toEqual([
      `${stuck}:quarantined→queued`,
      `${stuck}:applying→quarantined`,
      `${stuck}:queued→applying`,
      `${stuck}:→queued`,
    ]);
    expect(pick({ event: "failures" })).toEqual([`${stuck}:applying→quarantined`]);
    expect(pick({ event: "queued", q: `q${stuck}` })).toEqual([
      `${stuck}:quarantined→queued`,
      `${stuck}:→queued`,
    ]);
    expect(pick({ q: "conflict" })).toEqual([`${stuck}:applying→quarantined`]);
    expect(pick({ q: "R1" })).toEqual([]);
  });
});
